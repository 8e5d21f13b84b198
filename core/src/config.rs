//! One typed configuration: defaults, then a TOML file, then `VENTANILLA_*`
//! environment variables, then command-line flags. A bad value stops start-up
//! with a message that names the key.
//!
//! Environment names map to keys by lowercasing and turning `__` into a dot:
//! `VENTANILLA_DATABASE_URL` is `database_url`, `VENTANILLA_AUTH__ACCESS_TOKEN_TTL_SECS`
//! is `auth.access_token_ttl_secs`.

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Where the SQLite database, caches and files live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    /// Per-call limits of plugins.
    pub plugins: PluginLimits,
    /// Base64 of 32 random bytes that encrypts plugin secrets at rest. When
    /// unset, a key is created in `data_dir/secrets.key`; several instances
    /// sharing one database must all be given the same key.
    pub secrets_key: Option<Secret>,
    /// Default language of text people see when nothing else says (`es`, `en`, `pt`).
    pub locale: String,
    /// Where bundled plugins are installed from at start-up: each
    /// subdirectory holds a `plugin.toml` and a `plugin.wasm`.
    pub bundled_plugins: Option<PathBuf>,
    /// The address people reach this server at, e.g.
    /// `https://ayuda.universidad.edu.co`: links sent on other channels
    /// (a bot's link to a help-center article) start with it.
    pub public_url: Option<String>,
    pub search: SearchConfig,
    /// Files agents send and providers' media: where, how big, which types.
    pub attachments: AttachmentsConfig,
    pub channels: ChannelsConfig,
    pub presence: PresenceConfig,
    /// Limits on live event streams and anonymous web-chat sessions.
    pub streams: StreamsConfig,
    /// Data-subject requests: who answers them and in how long.
    pub privacy: PrivacyConfig,
    /// Reports: the timezone their periods are cut in, how fresh they are.
    pub reports: ReportsConfig,
    /// Event subscriptions: how their webhooks are sent.
    pub webhooks: WebhooksConfig,
    /// The bulk export to a data warehouse.
    pub export: ExportConfig,
    /// Mail the server sends itself (scheduled reports).
    pub mail: MailConfig,
}

/// The institution's outgoing mail server, for mail the server sends itself.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// e.g. `smtps://informes%40uni.edu.co:clave@smtp.uni.edu.co:465` or
    /// `smtp://smtp.uni.edu.co:587?tls=required`.
    pub smtp_url: Option<Secret>,
    /// The sender, e.g. `Ventanilla <informes@uni.edu.co>`.
    pub from: Option<String>,
}

/// How the bulk export writes its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per line.
    Ndjson,
    /// A header row, then one row per line; nested values as JSON text.
    Csv,
}

/// The scheduled bulk export to a data warehouse (docs/export.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// How often, in seconds, the rows changed since the last export are
    /// written out; 0 (the default) never.
    pub every_secs: u64,
    /// `ndjson` (the default) or `csv`.
    pub format: ExportFormat,
    /// A directory to write into.
    pub dir: Option<PathBuf>,
    /// Or a bucket (S3-compatible); used instead of `dir` when set.
    pub s3: Option<S3Config>,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig { every_secs: 0, format: ExportFormat::Ndjson, dir: None, s3: None }
    }
}

/// Outbound webhooks of event subscriptions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Tries per event before it is a dead letter (2 s, 4 s, 8 s... apart,
    /// capped at an hour: 10 tries span about 17 minutes).
    pub attempts: i32,
    /// How long a receiver has to answer, in seconds.
    pub timeout_secs: u64,
    /// Allows `http://` receivers and private, loopback and link-local
    /// addresses (a receiver on the same machine or network). Off: only
    /// `https://` to public addresses, so a subscription cannot be used
    /// to reach inside the institution's network.
    pub allow_private_addresses: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig { attempts: 10, timeout_secs: 10, allow_private_addresses: false }
    }
}

/// Reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// IANA timezone of the institution: a report's days, weeks and months
    /// begin at midnight there unless the request names another.
    pub timezone: String,
    /// How often, in milliseconds, the figures of changed cases are looked
    /// for when none were waiting (the most a report lags behind when idle).
    pub refresh_every_ms: u64,
    /// How often, in seconds, due scheduled reports are looked for and sent.
    pub send_every_secs: u64,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig { timezone: "America/Bogota".into(), refresh_every_ms: 1000, send_every_secs: 60 }
    }
}

/// Data-subject requests (habeas data) and retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// How often the units' retention policies are applied, in seconds; 0 never.
    pub retention_every_secs: u64,
    /// Slug of the unit that answers requests when the one filing a
    /// request names none (the data protection office); its business
    /// hours and holidays are the calendar deadlines are counted in.
    pub requests_unit: Option<String>,
    /// Business days per kind of request (Colombia's by default).
    pub deadlines: crate::domain::data_request::Deadlines,
    /// Audit entries older than this many months are removed by the daily
    /// retention job (none: kept for ever), except the steps of cases'
    /// timelines, which go with the case. At least
    /// [`MIN_AUDIT_RETENTION_MONTHS`]; set what the institution's rules ask.
    pub audit_retention_months: Option<u32>,
}

/// The shortest audit retention accepted: a year, what PCI DSS and most
/// public-sector rules ask at the least.
pub const MIN_AUDIT_RETENTION_MONTHS: u32 = 12;

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            retention_every_secs: 86_400,
            requests_unit: None,
            deadlines: Default::default(),
            audit_retention_months: None,
        }
    }
}

/// When inactivity in the console changes an agent's presence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    /// An online agent with no console open for this long is away, in
    /// minutes (they are online again when the console reconnects).
    pub away_after_mins: u32,
    /// Any agent with no console open for this long is offline, in minutes
    /// (units that say so then send their cases back to the queue).
    pub offline_after_mins: u32,
    /// How often instances look for inactive agents, in seconds; 0 never.
    pub sweep_secs: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig { away_after_mins: 5, offline_after_mins: 30, sweep_secs: 30 }
    }
}

/// How conversations on channel accounts become cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// For how long after a case is resolved a new message from the same
    /// person on the same account reopens it instead of opening a new
    /// case, in hours; 0 always opens a new one. (A reply that names its
    /// case, such as an e-mail answer, reopens it whenever it comes.)
    pub reopen_window_hours: u32,
    /// How often the mailboxes of e-mail channel accounts are read (IMAP),
    /// in seconds; 0 never reads them.
    pub mail_poll_secs: u64,
    /// How often the message templates of accounts whose provider reviews
    /// them (WhatsApp) are read again, in seconds; 0 only when an admin
    /// asks.
    pub template_sync_secs: u64,
    /// How an outbound message that could not be sent is tried again.
    pub delivery: RetrySchedule,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig {
            reopen_window_hours: 24,
            mail_poll_secs: 60,
            template_sync_secs: 3600,
            delivery: RetrySchedule::default(),
        }
    }
}

/// Tries and waits between them: the first wait, doubled after each try up
/// to a ceiling, with up to a quarter more at random so that retries of
/// many messages do not arrive together. The defaults (10 tries, 2 s, 4 s,
/// 8 s ... 512 s) give up about 17 minutes after the first try.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySchedule {
    /// Tries in all, the first included, before the message is marked failed.
    pub attempts: i32,
    /// The wait after the first failed try, in seconds.
    pub first_wait_secs: f64,
    /// No wait is longer than this, in seconds.
    pub max_wait_secs: f64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule { attempts: 10, first_wait_secs: 2.0, max_wait_secs: 3600.0 }
    }
}

impl RetrySchedule {
    /// The wait after the `attempts`-th failed try (1 for the first),
    /// before its jitter.
    pub fn base_wait(&self, attempts: i32) -> std::time::Duration {
        let doublings = attempts.clamp(1, 30) - 1;
        let secs = (self.first_wait_secs.max(0.0) * 2f64.powi(doublings)).min(self.max_wait_secs.max(0.0));
        std::time::Duration::from_secs_f64(secs)
    }

    /// The wait after the `attempts`-th failed try, with its jitter.
    pub fn wait(&self, attempts: i32) -> std::time::Duration {
        let base = self.base_wait(attempts);
        base + base.mul_f64(rand::random::<f64>() * 0.25)
    }

    /// How long after the first try the last one comes, at least.
    pub fn span(&self) -> std::time::Duration {
        (1..self.attempts.max(1)).map(|n| self.base_wait(n)).sum()
    }
}

/// What anonymous web-chat visitors and open event streams may cost.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamsConfig {
    /// Live streams one web-chat visitor token may hold open at once (tabs).
    pub per_visitor: usize,
    /// Live streams (web chat and consoles) one client address may hold open.
    pub per_address: usize,
    /// Live streams one signed-in user or API token may hold open.
    pub per_principal: usize,
    /// Live streams this instance holds open at most, all kinds together.
    pub total: usize,
    /// A quiet stream sends a comment this often (seconds), so proxies keep
    /// it open; a client that left is noticed, and its slot freed, then.
    pub heartbeat_secs: u64,
    /// Web-chat sessions one address may start per hour.
    pub webchat_sessions_per_address_per_hour: u32,
    /// Web-chat sessions this instance starts per second from all addresses
    /// together: a flood from many addresses meets this before it slows
    /// the staff's work.
    pub webchat_sessions_per_second: u32,
    /// Web-chat conversations (each a case, and a bot run) one address may
    /// open per hour.
    pub webchat_conversations_per_address_per_hour: u32,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            per_visitor: 4,
            per_address: 64,
            per_principal: 16,
            total: 10_000,
            heartbeat_secs: 30,
            webchat_sessions_per_address_per_hour: 120,
            webchat_sessions_per_second: 100,
            webchat_conversations_per_address_per_hour: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    pub backend: SearchBackend,
    /// Where the embedded index lives; defaults to `data_dir/search`.
    pub path: Option<PathBuf>,
    /// Meilisearch address, e.g. `http://127.0.0.1:7700`.
    pub meilisearch_url: Option<String>,
    pub meilisearch_key: Option<Secret>,
    /// Name of the Meilisearch index (one per Ventanilla installation).
    pub meilisearch_index: String,
    /// Memory the embedded index may use while writing.
    pub writer_memory_bytes: usize,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SearchBackend {
    /// Embedded: nothing else to run.
    Tantivy,
    Meilisearch,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            backend: SearchBackend::Tantivy,
            path: None,
            meilisearch_url: None,
            meilisearch_key: None,
            meilisearch_index: "ventanilla_articles".into(),
            writer_memory_bytes: 32 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info,ventanilla=debug`.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    /// Failed and successful sign-ins allowed per client IP per minute.
    pub login_attempts_per_ip_per_minute: u32,
    /// Sign-in attempts per account from one address per 15 minutes.
    pub login_attempts_per_account: u32,
    /// Sign-in attempts per account per 15 minutes from all the addresses
    /// it never signed in from; its familiar addresses are not held back.
    pub login_attempts_per_account_unfamiliar: u32,
    /// HMAC key for access tokens; generated and kept in the database when unset.
    pub jwt_secret: Option<Secret>,
    /// Administrators must turn on two-factor sign-in (TOTP): until they
    /// do, they may only enrol, see who they are and sign out.
    pub require_two_factor_for_admins: bool,
    /// The name authenticator apps show beside the account (e.g. the
    /// institution's: "Universidad del Valle").
    pub two_factor_issuer: String,
    /// A local list of breached passwords that new passwords must not be
    /// on: Have I Been Pwned's `pwned-passwords-sha1-ordered-by-hash` file
    /// (`SHA1HEX:COUNT` lines sorted by hash), or one of the same form.
    pub breached_passwords_file: Option<PathBuf>,
    /// Identity providers people sign in with (OpenID Connect), each a
    /// button on the sign-in page: `[[auth.oidc]]` (see docs/identity.md).
    pub oidc: Vec<OidcProvider>,
    /// Directories (LDAP, Active Directory) whose people and groups are
    /// imported on a schedule: `[[auth.ldap]]` (see docs/identity.md).
    pub ldap: Vec<LdapDirectory>,
    /// Only single sign-on: passwords are refused but for `break_glass`.
    pub require_sso: bool,
    /// Local accounts (e-mails) that may still sign in with a password when
    /// `require_sso` is on: the administrators who fix a broken provider.
    pub break_glass: Vec<String>,
}

/// An OpenID Connect provider (Entra ID, Google, Keycloak...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// Names the provider in addresses (`/api/v1/auth/sso/{id}/callback`):
    /// 1 to 30 lowercase letters, digits and hyphens.
    pub id: String,
    /// The button's words: "Cuenta institucional".
    pub name: String,
    /// The issuer exactly as the provider's discovery document says it
    /// (`https://login.microsoftonline.com/{tenant}/v2.0`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The claim holding the person's groups (or roles).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Creates an account at a first sign-in (with the mapped roles).
    #[serde(default = "yes")]
    pub create_accounts: bool,
    /// Joins a first sign-in to the existing account with the same e-mail
    /// when the provider says it verified it. Off by default: turn it on
    /// only for a provider whose e-mails people cannot set themselves.
    #[serde(default)]
    pub link_by_email: bool,
    /// Groups to roles, applied at every sign-in: the account's roles are
    /// what its groups map to now (a group removed takes its role away).
    #[serde(default)]
    pub mappings: Vec<GroupMapping>,
}

/// An LDAP directory (OpenLDAP, Active Directory, 389 DS...): its people
/// become accounts with the roles their groups map to, kept in step on a
/// schedule; those who leave (or whose groups no longer grant anything)
/// are deactivated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapDirectory {
    /// Names the directory (`POST /api/v1/directories/{id}/sync`): 1 to 30
    /// lowercase letters, digits and hyphens, not an `[[auth.oidc]]` id.
    pub id: String,
    /// `ldaps://dc1.uni.local` (or `ldap://` with `starttls`, or to this machine).
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// The account Ventanilla reads the directory as (read-only is enough).
    pub bind_dn: String,
    pub bind_password: Option<Secret>,
    /// Where people are: `ou=personas,dc=uni,dc=edu`.
    pub base_dn: String,
    /// Who is staff: people matched here and in a mapped group get an account.
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    #[serde(default = "default_mail")]
    pub email_attribute: String,
    #[serde(default = "default_cn")]
    pub name_attribute: String,
    /// A stable id that survives renames: `entryUUID` (OpenLDAP), `objectGUID` (AD).
    #[serde(default = "default_entry_uuid")]
    pub id_attribute: String,
    /// Where groups are (default `base_dn`).
    pub group_base_dn: Option<String>,
    #[serde(default = "default_group_filter")]
    pub group_filter: String,
    /// The group attribute listing its members' DNs.
    #[serde(default = "default_member")]
    pub member_attribute: String,
    /// The group attribute mappings name (`cn`).
    #[serde(default = "default_cn")]
    pub group_name_attribute: String,
    /// How often to read it again; 0: only when an admin asks.
    #[serde(default = "default_sync_minutes")]
    pub sync_every_minutes: u64,
    /// Its people sign in with their directory password (a bind as
    /// themselves); off when they sign in only through a provider.
    #[serde(default = "yes")]
    pub password_sign_in: bool,
    #[serde(default)]
    pub mappings: Vec<GroupMapping>,
}

fn default_user_filter() -> String {
    "(&(objectClass=inetOrgPerson)(mail=*))".into()
}

fn default_group_filter() -> String {
    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))".into()
}

fn default_mail() -> String {
    "mail".into()
}

fn default_cn() -> String {
    "cn".into()
}

fn default_entry_uuid() -> String {
    "entryUUID".into()
}

fn default_member() -> String {
    "member".into()
}

fn default_sync_minutes() -> u64 {
    60
}

/// `group "psicologia-staff" -> supervisor of bienestar`; `role = "admin"`
/// (no unit) makes administrators.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    pub group: String,
    /// The unit's slug; none for `admin`.
    pub unit: Option<String>,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
}

fn check_mappings(mappings: &[GroupMapping], at: &str) -> Result<(), (String, String)> {
    for (j, m) in mappings.iter().enumerate() {
        let field = format!("{at}.mappings[{j}]");
        match (m.role.as_str(), &m.unit) {
            ("admin", None) | ("agent" | "supervisor", Some(_)) => {}
            ("admin", Some(_)) => return Err((field, "`admin` is for the whole institution: no unit".into())),
            ("agent" | "supervisor", None) => return Err((field, "an agent or supervisor needs a unit".into())),
            _ => return Err((field, "role must be `agent`, `supervisor` or `admin`".into())),
        }
    }
    Ok(())
}

/// An `https://` address, or `http://` to this machine (a provider run
/// beside the server, as in tests).
pub fn secure_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

fn default_oidc_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest JSON body accepted.
    pub max_body_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Trust `X-Forwarded-For` from a proxy on this machine (loopback);
    /// `trusted_proxies` says more precisely which proxies to believe.
    pub trust_forwarded_for: bool,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` entries are
    /// believed (`["10.0.0.0/8", "192.0.2.7"]`). The client is the
    /// right-most address that is not one of them.
    #[serde(deserialize_with = "proxies")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Provider webhook requests accepted per minute from one address.
    pub webhooks_per_ip_per_minute: u32,
    /// Largest webhook body accepted from a provider.
    pub max_webhook_bytes: usize,
    /// Job workers per instance (deliveries, plugin events, timers).
    pub job_workers: usize,
    /// How long a worker owns a claimed job; a job whose instance died is
    /// taken over once this runs out. Longer than any job takes.
    pub job_lease_secs: u64,
    /// Requests per minute from one address to what the public may call
    /// without signing in (help center, public search). A campus behind one
    /// NAT address shares it.
    pub public_requests_per_ip_per_minute: u32,
    /// Article feedback accepted per hour from one address.
    pub feedback_per_ip_per_hour: u32,
    /// A bearer token that lets a scraper elsewhere read `/metrics`;
    /// without it only this machine (loopback) may.
    pub metrics_token: Option<Secret>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            plugins: PluginLimits::default(),
            secrets_key: None,
            locale: "es".into(),
            bundled_plugins: None,
            public_url: None,
            search: SearchConfig::default(),
            attachments: Default::default(),
            channels: ChannelsConfig::default(),
            presence: PresenceConfig::default(),
            streams: StreamsConfig::default(),
            privacy: PrivacyConfig::default(),
            reports: ReportsConfig::default(),
            webhooks: WebhooksConfig::default(),
            export: ExportConfig::default(),
            mail: MailConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { max_connections: 16 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Text, filter: "info,sqlx=warn,sea_orm=warn".into() }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            login_attempts_per_ip_per_minute: 20,
            login_attempts_per_account: 10,
            login_attempts_per_account_unfamiliar: 30,
            jwt_secret: None,
            require_two_factor_for_admins: false,
            two_factor_issuer: "Ventanilla".into(),
            breached_passwords_file: None,
            oidc: Vec::new(),
            ldap: Vec::new(),
            require_sso: false,
            break_glass: Vec::new(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 256 * 1024,
            workers: 0,
            trust_forwarded_for: false,
            trusted_proxies: vec![],
            webhooks_per_ip_per_minute: 600,
            max_webhook_bytes: 1024 * 1024,
            job_workers: 2,
            job_lease_secs: 120,
            public_requests_per_ip_per_minute: 1200,
            feedback_per_ip_per_hour: 60,
            metrics_token: None,
        }
    }
}

fn proxies<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    // A list in the file; one comma-separated string from the environment.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Text(String),
    }
    let values = match Given::deserialize(deserializer)? {
        Given::List(list) => list,
        Given::Text(text) => text.split(',').filter(|v| !v.trim().is_empty()).map(str::to_owned).collect(),
    };
    values.iter().map(|v| parse_proxy(v).map_err(serde::de::Error::custom)).collect()
}

/// A `trusted_proxies` entry: a network (`10.0.0.0/8`) or one address.
pub fn parse_proxy(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{value}` is not an address or a network such as 10.0.0.0/8"))
}

/// Settings of `[attachments]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    /// Where files are kept; defaults to `data_dir/attachments`.
    pub path: Option<PathBuf>,
    /// Largest file accepted.
    pub max_bytes: usize,
    /// How long a link handed to an agent or a visitor works.
    pub link_ttl_secs: u64,
    /// How long a link handed to a provider (to fetch what is sent) works.
    pub provider_link_ttl_secs: u64,
    /// Types accepted: exact (`application/pdf`) or a family (`image/*`).
    pub allowed_types: Vec<String>,
    /// Longest the download of one file people send may take.
    pub download_timeout_secs: u64,
    /// How often kept files no message refers to are removed, in seconds;
    /// 0 never (then `ventanilla admin gc-files` does it by hand).
    pub gc_every_secs: u64,
    /// How long an upload may wait to be sent before it is removed, in hours.
    pub gc_after_hours: u64,
    /// Keep files in an S3-compatible bucket instead of `path`.
    pub s3: Option<S3Config>,
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, Cloudflare R2, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// The service's address when it is not AWS, e.g. `https://minio.uni.edu.co:9000`.
    pub endpoint: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Put before every key, e.g. `ventanilla/`.
    #[serde(default)]
    pub prefix: String,
    /// Allow an `http://` endpoint (a bucket inside the institution's network).
    #[serde(default)]
    pub allow_http: bool,
    /// `bucket.endpoint/key` addresses instead of `endpoint/bucket/key`.
    #[serde(default)]
    pub virtual_hosted_style: bool,
}

impl S3Config {
    /// What can be checked of the settings alone (the client is built at start).
    pub fn check(&self) -> Result<(), String> {
        if self.bucket.trim().is_empty() {
            return Err("bucket: must name the bucket".into());
        }
        if let Some(endpoint) = &self.endpoint
            && endpoint.starts_with("http://")
            && !self.allow_http
        {
            return Err("endpoint: an http:// endpoint needs allow_http = true".into());
        }
        Ok(())
    }
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        AttachmentsConfig {
            path: None,
            max_bytes: 16 * 1024 * 1024,
            link_ttl_secs: 15 * 60,
            provider_link_ttl_secs: 24 * 60 * 60,
            download_timeout_secs: 120,
            gc_every_secs: 6 * 3600,
            gc_after_hours: 24,
            s3: None,
            allowed_types: [
                "image/jpeg",
                "image/png",
                "image/gif",
                "image/webp",
                "audio/*",
                "video/mp4",
                "video/3gpp",
                "application/pdf",
                "text/plain",
                "text/csv",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.oasis.opendocument.spreadsheet",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Settings of `[plugins]`: per-call limits; every field has a safe default.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// Time a call may run before it is interrupted.
    pub cpu_ms: u64,
    /// Time a call may take including host calls (HTTP, search).
    pub wall_ms: u64,
    /// Linear memory a plugin may grow to.
    pub memory_bytes: usize,
    pub max_input_bytes: usize,
    pub max_output_bytes: usize,
    /// Log bytes a call may write; more is dropped.
    pub max_log_bytes: usize,
    /// Consecutive failed calls after which an install is suspended.
    pub suspend_after: u32,
    /// Longest a plugin's outbound HTTP request may take.
    pub http_timeout_ms: u64,
    /// Largest HTTP response body a plugin may receive.
    pub max_http_response_bytes: usize,
    /// `host:port` pairs inside the institution's network that granted
    /// plugins may reach anyway (an intranet system); empty by default.
    pub private_hosts: Vec<String>,
    /// A PEM file of certificate authorities trusted for mail servers
    /// besides the public ones: a mail server whose certificate the
    /// institution's own CA signed.
    pub trusted_ca_file: Option<std::path::PathBuf>,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            cpu_ms: 200,
            wall_ms: 5_000,
            memory_bytes: 32 * 1024 * 1024,
            max_input_bytes: 256 * 1024,
            max_output_bytes: 256 * 1024,
            max_log_bytes: 16 * 1024,
            suspend_after: 5,
            http_timeout_ms: 10_000,
            max_http_response_bytes: 1024 * 1024,
            private_hosts: vec![],
            trusted_ca_file: None,
        }
    }
}

/// A value that must never be printed: `Debug` shows `[redacted]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why the configuration was refused; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// Environment variables read by the command line itself, not config keys.
const CLI_ONLY_VARS: [&str; 2] = ["VENTANILLA_CONFIG", "VENTANILLA_LOG"];

impl Config {
    /// Loads defaults, then `file` if given, then `VENTANILLA_*` from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut table = toml::Table::new();
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Syntax { path: path.into(), message: e.message().to_owned() })?;
        }
        for (var, value) in env {
            let Some(rest) = var.strip_prefix("VENTANILLA_") else { continue };
            if CLI_ONLY_VARS.contains(&var.as_str()) || rest.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            set_path(&mut table, &path, env_value(&value))
                .map_err(|message| ConfigError::Env { var: var.clone(), message })?;
        }
        let deserializer = toml::Value::Table(table);
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let message = e.into_inner().to_string();
            ConfigError::Invalid { key, message: message.lines().next().unwrap_or_default().to_owned() }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| Err(ConfigError::Invalid { key: key.into(), message });
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid("listen", format!("`{}` is not an address such as 127.0.0.1:8080", self.listen));
        }
        if let Some(url) = &self.database_url {
            let url = url.expose();
            if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return invalid("database_url", "must start with sqlite:, postgres:// or postgresql://".into());
            }
        }
        if !crate::i18n::LOCALES.contains(&self.locale.as_str()) {
            return invalid("locale", format!("`{}` is not one of {}", self.locale, crate::i18n::LOCALES.join(", ")));
        }
        if let Some(key) = &self.secrets_key
            && let Err(message) = crate::secrets::SecretBox::from_base64(key.expose())
        {
            return invalid("secrets_key", message);
        }
        if self.reports.timezone.parse::<chrono_tz::Tz>().is_err() {
            return invalid("reports.timezone", format!("`{}` is not an IANA timezone", self.reports.timezone));
        }
        if !(50..=60_000).contains(&self.reports.refresh_every_ms) {
            return invalid("reports.refresh_every_ms", "must be between 50 and 60000".into());
        }
        if self.export.every_secs > 0 && self.export.dir.is_none() && self.export.s3.is_none() {
            return invalid("export.every_secs", "a scheduled export needs export.dir or [export.s3]".into());
        }
        if !(1..=50).contains(&self.webhooks.attempts) {
            return invalid("webhooks.attempts", "must be between 1 and 50".into());
        }
        if !(1..=60).contains(&self.webhooks.timeout_secs) {
            return invalid("webhooks.timeout_secs", "must be between 1 and 60".into());
        }
        if !(1..=300).contains(&self.streams.heartbeat_secs) {
            return invalid("streams.heartbeat_secs", "must be between 1 and 300".into());
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1".into());
        }
        if !(60..=24 * 3600).contains(&self.auth.access_token_ttl_secs) {
            return invalid("auth.access_token_ttl_secs", "must be between 60 and 86400".into());
        }
        if self.privacy.audit_retention_months.is_some_and(|m| !(MIN_AUDIT_RETENTION_MONTHS..=1200).contains(&m)) {
            return invalid(
                "privacy.audit_retention_months",
                format!(
                    "must be {MIN_AUDIT_RETENTION_MONTHS} to 1200 months (the law and audits ask for at least a year)"
                ),
            );
        }
        if let Some(file) = &self.auth.breached_passwords_file
            && let Err(e) = crate::breached::BreachedList::open(file)
        {
            return invalid("auth.breached_passwords_file", format!("{}: {e}", file.display()));
        }
        if self.auth.two_factor_issuer.trim().is_empty() || self.auth.two_factor_issuer.chars().count() > 60 {
            return invalid("auth.two_factor_issuer", "must be 1 to 60 characters".into());
        }
        if !(1..=365).contains(&self.auth.refresh_token_ttl_days) {
            return invalid("auth.refresh_token_ttl_days", "must be between 1 and 365".into());
        }
        if self.auth.login_attempts_per_ip_per_minute == 0
            || self.auth.login_attempts_per_account == 0
            || self.auth.login_attempts_per_account_unfamiliar == 0
        {
            return invalid("auth.login_attempts_per_ip_per_minute", "limits must be at least 1".into());
        }
        if self.auth.jwt_secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
            return invalid("auth.jwt_secret", "must be at least 32 characters".into());
        }
        if let Err((key, message)) = self.check_sso() {
            return invalid(&key, message);
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.http.max_body_bytes) {
            return invalid("http.max_body_bytes", "must be between 1024 and 67108864".into());
        }
        let limits = &self.plugins;
        if limits.cpu_ms == 0 || limits.wall_ms < limits.cpu_ms {
            return invalid("plugins.wall_ms", "cpu_ms must be at least 1 and wall_ms at least cpu_ms".into());
        }
        if !(1 << 20..=1 << 30).contains(&limits.memory_bytes) {
            return invalid("plugins.memory_bytes", "must be between 1 MiB and 1 GiB".into());
        }
        if let Some(s3) = &self.attachments.s3
            && let Err(message) = s3.check()
        {
            return invalid("attachments.s3", message);
        }
        if let Some(file) = &limits.trusted_ca_file
            && let Err(message) = crate::tls::trusted_roots(Some(file))
        {
            return invalid("plugins.trusted_ca_file", message);
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return invalid("public_url", "must start with https:// or http://".into());
        }
        if self.search.backend == SearchBackend::Meilisearch && self.search.meilisearch_url.is_none() {
            return invalid("search.meilisearch_url", "is required when search.backend is meilisearch".into());
        }
        if !(15 << 20..=1 << 30).contains(&self.search.writer_memory_bytes) {
            return invalid("search.writer_memory_bytes", "must be between 15 MiB and 1 GiB".into());
        }
        let files = &self.attachments;
        if !(1024..=1 << 30).contains(&files.max_bytes) {
            return invalid("attachments.max_bytes", "must be between 1024 and 1073741824".into());
        }
        if files.link_ttl_secs == 0 || files.provider_link_ttl_secs == 0 {
            return invalid("attachments.link_ttl_secs", "links must work for at least a second".into());
        }
        if let Some(bad) = files.allowed_types.iter().find(|t| t.split('/').count() != 2 || t.contains(' ')) {
            return invalid("attachments.allowed_types", format!("`{bad}` is not a type such as image/png or audio/*"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_err() {
            return invalid("log.filter", format!("`{}` is not a tracing filter", self.log.filter));
        }
        Ok(())
    }

    fn check_sso(&self) -> Result<(), (String, String)> {
        let auth = &self.auth;
        let mut seen = std::collections::HashSet::new();
        for (i, p) in auth.oidc.iter().enumerate() {
            let key = |field: &str| format!("auth.oidc[{i}].{field}");
            let slug = |s: &str| {
                !s.is_empty()
                    && s.len() <= 30
                    && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            };
            if !slug(&p.id) {
                return Err((key("id"), "must be 1 to 30 lowercase letters, digits or hyphens".into()));
            }
            if !seen.insert(p.id.as_str()) {
                return Err((key("id"), format!("`{}` names two providers", p.id)));
            }
            if p.name.trim().is_empty() || p.name.chars().count() > 60 {
                return Err((key("name"), "must be 1 to 60 characters".into()));
            }
            if !secure_url(&p.issuer) {
                return Err((key("issuer"), "must be an https:// address (http:// only on this machine)".into()));
            }
            if p.client_id.trim().is_empty() {
                return Err((key("client_id"), "is required".into()));
            }
            if p.groups_claim.trim().is_empty() {
                return Err((key("groups_claim"), "is required".into()));
            }
            check_mappings(&p.mappings, &format!("auth.oidc[{i}]"))?;
        }
        for (i, d) in auth.ldap.iter().enumerate() {
            let key = |field: &str| format!("auth.ldap[{i}].{field}");
            let slug = !d.id.is_empty()
                && d.id.len() <= 30
                && d.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !slug {
                return Err((key("id"), "must be 1 to 30 lowercase letters, digits or hyphens".into()));
            }
            if !seen.insert(d.id.as_str()) {
                return Err((key("id"), format!("`{}` names two providers or directories", d.id)));
            }
            let local = d.url.starts_with("ldap://127.0.0.1") || d.url.starts_with("ldap://localhost");
            if !(d.url.starts_with("ldaps://") || (d.url.starts_with("ldap://") && (d.starttls || local))) {
                return Err((
                    key("url"),
                    "must be ldaps://, or ldap:// with starttls (plain only on this machine)".into(),
                ));
            }
            for (field, value) in [("bind_dn", &d.bind_dn), ("base_dn", &d.base_dn), ("user_filter", &d.user_filter)] {
                if value.trim().is_empty() {
                    return Err((key(field), "is required".into()));
                }
            }
            if !d.user_filter.starts_with('(') || !d.group_filter.starts_with('(') {
                return Err((key("user_filter"), "filters are written in parentheses: (objectClass=person)".into()));
            }
            check_mappings(&d.mappings, &format!("auth.ldap[{i}]"))?;
        }
        if !auth.oidc.is_empty() && self.public_url.is_none() {
            return Err(("public_url".into(), "single sign-on needs it (the providers send people back there)".into()));
        }
        if auth.require_sso && auth.oidc.is_empty() {
            return Err(("auth.require_sso".into(), "needs at least one provider in [[auth.oidc]]".into()));
        }
        if let Some(bad) = auth.break_glass.iter().find(|e| crate::domain::Email::parse("break_glass", e).is_err()) {
            return Err(("auth.break_glass".into(), format!("`{bad}` is not an e-mail address")));
        }
        Ok(())
    }

    /// What links sent to people start with: `public_url` without a trailing
    /// slash, or nothing (relative links).
    pub fn link_prefix(&self) -> &str {
        self.public_url.as_deref().unwrap_or_default().trim_end_matches('/')
    }

    /// The database URL to use: the configured one or SQLite in the data directory.
    pub fn database_url(&self) -> Secret {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Secret(format!("sqlite://{}?mode=rwc", self.data_dir.join("ventanilla.db").display())),
        }
    }
}

/// Where a command finds its configuration: the flags every command that
/// opens the store takes (the server, the admin tools, the benchmarks).
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, env = "VENTANILLA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and files.
    #[arg(long, env = "VENTANILLA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    /// The configuration file and the environment, with `--data-dir` last.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = Config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    }
}

/// An environment value as TOML: `900` is a number, `true` a boolean, anything else a string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(format!("`{first}` is not a section")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_are_valid() {
        let config = Config::load(None, vec![]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert!(config.database_url().expose().starts_with("sqlite://"));
    }

    #[test]
    fn env_overrides_file_and_nests() {
        let dir = std::env::temp_dir().join(format!("vnt-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ventanilla.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\n[auth]\naccess_token_ttl_secs = 600\n").unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("VENTANILLA_LISTEN", "127.0.0.1:9999"),
                ("VENTANILLA_AUTH__REFRESH_TOKEN_TTL_DAYS", "7"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9999");
        assert_eq!(config.auth.access_token_ttl_secs, 600);
        assert_eq!(config.auth.refresh_token_ttl_days, 7);
    }

    #[test]
    fn single_sign_on_settings_are_checked() {
        let dir = std::env::temp_dir().join(format!("vnt-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ventanilla.toml");
        let provider = "[[auth.oidc]]\nid = \"entra\"\nname = \"Cuenta\"\nissuer = \"https://login.example/t/v2.0\"\nclient_id = \"c\"\n";
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::load(Some(&file), vec![])
        };
        let good = load(&format!("public_url = \"https://v.example\"\n{provider}[[auth.oidc.mappings]]\ngroup = \"g\"\nunit = \"bienestar\"\nrole = \"supervisor\"\n")).unwrap();
        assert_eq!(good.auth.oidc[0].scopes, vec!["email", "profile"]);
        assert!(good.auth.oidc[0].create_accounts && !good.auth.oidc[0].link_by_email);
        let refused = |text: String, key: &str| {
            let err = load(&text).expect_err("must be refused").to_string();
            assert!(err.contains(key), "{err} should name {key}");
        };
        refused(provider.to_owned(), "public_url");
        refused(
            format!("public_url = \"https://v.example\"\n{}", provider.replace("https://login", "http://login")),
            "issuer",
        );
        refused(
            format!("public_url = \"https://v.example\"\n{}", provider.replace("entra", "Entra ID")),
            "auth.oidc[0].id",
        );
        refused(
            format!(
                "public_url = \"https://v.example\"\n{provider}[[auth.oidc.mappings]]\ngroup = \"g\"\nunit = \"x\"\nrole = \"admin\"\n"
            ),
            "mappings[0]",
        );
        refused(format!("public_url = \"https://v.example\"\n{provider}{provider}"), "two providers");
        refused("[auth]\nrequire_sso = true\n".into(), "auth.require_sso");
        assert!(
            secure_url("http://127.0.0.1:8080/realms/x")
                && secure_url("http://localhost")
                && !secure_url("http://idp.example")
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("VENTANILLA_LISTEN", "not-an-address")], "listen"),
            (&[("VENTANILLA_AUTH__ACCESS_TOKEN_TTL_SECS", "soon")], "auth.access_token_ttl_secs"),
            (&[("VENTANILLA_DATABASE_URL", "mysql://x")], "database_url"),
            (&[("VENTANILLA_NO_SUCH_KEY", "1")], "no_such_key"),
            (&[("VENTANILLA_LOG__FORMAT", "xml")], "log.format"),
        ];
        for (vars, key) in cases {
            let err = Config::load(None, env(vars)).expect_err("must be refused").to_string();
            assert!(err.contains(key), "{err} should name {key}");
        }
    }

    #[test]
    fn the_example_config_is_valid() {
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/ventanilla.example.toml");
        Config::load(Some(&example), vec![]).unwrap();
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config::load(None, env(&[("VENTANILLA_DATABASE_URL", "postgres://u:hunter2@db/v")])).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
