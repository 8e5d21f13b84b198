//! `ventanilla-bench campaign`: a campaign to 100,000 people with the real
//! WhatsApp connector (or, with `--channel sms`, the Twilio SMS one; with
//! `--channel email`, the e-mail one and its unsubscribe link), through the
//! job queue, to a local stand-in of the provider's API or SMTP server (no
//! provider pacing, so the figure is the host's): people
//! imported per second (the CSV import API), sends per second, the
//! process's resident memory while it runs, and agents' reply latency —
//! from the API call to the reply reaching the stand-in — while it runs
//! against idle. SQLite, and PostgreSQL with `--postgres`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use super::{ms, pct};
use ventanilla::config::{Config, Secret};
use ventanilla::domain::Actor;

const APP_SECRET: &str = "bench-app-secret";
const PHONE_ID: &str = "100200300";
const PASSWORD: &str = "clave de la prueba de campañas";
/// The campaign's own limit: the most a campaign may ask for, so the
/// figure is the host's (a campaign without one goes at 50 a second when
/// the provider sets no limit).
const MAX_PER_SECOND: u32 = ventanilla::domain::campaign::MAX_PER_SECOND;

/// The channel the campaign goes out on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Whatsapp,
    Sms,
    Email,
}

impl Channel {
    pub fn parse(text: &str) -> anyhow::Result<Channel> {
        match text {
            "whatsapp" => Ok(Channel::Whatsapp),
            "sms" => Ok(Channel::Sms),
            "email" => Ok(Channel::Email),
            other => anyhow::bail!("`{other}`: the campaign bench runs on whatsapp, sms or email"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

const TWILIO_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "bench-auth-token";
const TWILIO_WEBHOOK: &str = "https://bench.example/api/v1/webhooks/sms";
const MAIL_TOKEN: &str = "bench-mail-token";

pub struct Options {
    pub channel: Channel,
    pub wasm: PathBuf,
    pub manifest: PathBuf,
    pub recipients: usize,
    /// Agent replies timed while idle and again during the campaign.
    pub replies: usize,
    pub postgres: Option<String>,
    pub work_dir: PathBuf,
}

/// Prints each backend's figures as soon as they are in.
pub async fn run(options: &Options) -> anyhow::Result<()> {
    use std::io::Write as _;
    let print = |text: &str| {
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    };
    std::fs::create_dir_all(&options.work_dir)?;
    let sqlite = options.work_dir.join(format!("campaign-{}.db", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite://{}?mode=rwc", sqlite.display());
    let mut out = format!("{} campaign, SQLite ({}):\n", options.channel.name(), sqlite.display());
    backend(options, &url, &options.work_dir.join("sqlite"), &mut out).await?;
    print(&out);
    let _ = std::fs::remove_file(&sqlite);
    if let Some(admin) = &options.postgres {
        let db = super::ScratchDb::create(admin).await?;
        let mut out = format!("\nPostgreSQL ({}):\n", db.name());
        let result = backend(options, &db.url, &options.work_dir.join("postgres"), &mut out).await;
        db.drop().await;
        result?;
        print(&out);
    }
    Ok(())
}

async fn backend(options: &Options, url: &str, data_dir: &Path, out: &mut String) -> anyhow::Result<()> {
    let provider = StandIn::start().await?;
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_owned(),
        database_url: Some(Secret::new(url.to_owned())),
        ..Default::default()
    };
    config.database.max_connections = 16;
    config.auth.login_attempts_per_ip_per_minute = u32::MAX;
    config.http.webhooks_per_ip_per_minute = u32::MAX;
    config.plugins.private_hosts =
        vec![format!("localhost:{}", provider.port), format!("localhost:{}", provider.smtp_port)];
    // E-mail campaigns carry an unsubscribe link to the public address.
    config.public_url = Some("https://bench.example".into());
    let store = ventanilla::app::open_store(&config).await?;
    let state = ventanilla::app::state(config, store.clone()).await?;
    let unit = super::unit(&state, super::always_open()).await?;
    let text = std::fs::read_to_string(&options.manifest)
        .with_context(|| format!("cannot read {}", options.manifest.display()))?
        .replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
        .replace(r#"mail_hosts = ["*"]"#, r#"mail_hosts = ["localhost"]"#)
        .lines()
        .filter(|l| !l.starts_with("max_sends_per_second"))
        .collect::<Vec<_>>()
        .join("\n");
    let api_base_url = format!("http://localhost:{}", provider.port);
    let (settings, secrets) = match options.channel {
        Channel::Whatsapp => (
            json!({"phone_number_id": PHONE_ID, "api_base_url": api_base_url}),
            vec![("app_secret", APP_SECRET), ("access_token", "bench-token")],
        ),
        Channel::Sms => (
            json!({"account_sid": TWILIO_ACCOUNT, "from": "+15005550006", "webhook_url": TWILIO_WEBHOOK,
                "api_base_url": api_base_url}),
            vec![("auth_token", TWILIO_TOKEN)],
        ),
        Channel::Email => (
            json!({"address": "admisiones@bench.test", "display_name": "Admisiones",
                "smtp": {"host": "localhost", "port": provider.smtp_port, "security": "none",
                    "user": "admisiones@bench.test"}}),
            vec![("smtp_password", "bench-smtp"), ("webhook_token", MAIL_TOKEN)],
        ),
    };
    let install = super::install_plugin(&state, &options.wasm, text, settings, unit).await?;
    for (name, value) in secrets {
        ventanilla::store::plugin_secret::put(&state.store, &state.secrets, &Actor::System, install, name, value)
            .await?;
    }
    let admin = ventanilla::domain::user::NewUser {
        email: ventanilla::domain::Email::parse("email", "admin@bench.test")?,
        display_name: "Admin".into(),
        password_hash: ventanilla::auth::hash_password(PASSWORD)?,
        is_admin: true,
        locale: "es".into(),
        memberships: vec![],
    };
    ventanilla::store::user::create(&state.store, &Actor::System, admin).await?;
    let running = ventanilla::app::serve(state)?;
    let base = format!("http://{}", running.addr);
    let server = tokio::spawn(running.server);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3600)).build()?;
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@bench.test", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"].as_str().context("no access token")?.to_owned();
    let api = Api { client: client.clone(), base: base.clone(), token };

    // People, by the import API: a file like an admissions office's.
    let mut csv = format!("external_id,nombre,{},programa,consent.broadcasts\n", options.channel.name());
    for i in 0..options.recipients {
        match options.channel {
            Channel::Email => writeln!(csv, "A{i:07},Persona {i},persona{i}@correo.test,Medicina,sí")?,
            _ => writeln!(csv, "A{i:07},Persona {i},+57310{i:07},Medicina,sí")?,
        }
    }
    let started = Instant::now();
    let imported = client
        .post(format!("{base}/api/v1/contacts/import?text_version=v1&given_at=2026-01-01&file_name=bench.csv"))
        .bearer_auth(&api.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await?;
    let import_secs = started.elapsed().as_secs_f64();
    let report: Value = imported.json().await?;
    anyhow::ensure!(report["errors"].as_array().is_none_or(Vec::is_empty), "import errors: {report}");
    writeln!(
        out,
        "  import: {} people (CSV, with consent) in {:.1} s: {:.0} rows/s",
        options.recipients,
        import_secs,
        options.recipients as f64 / import_secs
    )?;

    // A conversation an agent answers (on WhatsApp, within the 24 hours).
    let hook = client.post(format!("{base}/api/v1/webhooks/{install}"));
    let hook = match options.channel {
        Channel::Whatsapp => {
            let body = webhook();
            let signature =
                format!("sha256={}", ventanilla::secrets::hmac_sha256_hex(APP_SECRET.as_bytes(), body.as_bytes()));
            hook.header("x-hub-signature-256", signature).body(body)
        }
        Channel::Sms => {
            let (body, signature) = sms_webhook();
            hook.header("x-twilio-signature", signature)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
        }
        Channel::Email => hook.bearer_auth(MAIL_TOKEN).header("content-type", "message/rfc822").body(mail_webhook()),
    };
    let hook = hook.send().await?;
    anyhow::ensure!(hook.status().is_success(), "webhook: {}", hook.status());
    let cases = api.get(&format!("/api/v1/cases?channel={}", options.channel.name())).await?;
    let case = cases["items"][0]["id"].as_str().context("no case to answer")?.to_owned();

    let idle = replies(&api, &provider, &case, 0, options.replies, Duration::from_millis(50)).await?;

    let segment = api
        .post(
            "/api/v1/segments",
            json!({"name": "Medicina",
        "filter": {"attributes": [{"key": "programa", "in": ["Medicina"]}]}}),
        )
        .await?;
    let message = match options.channel {
        Channel::Whatsapp => {
            json!({"template": {"name": "recordatorio", "language": "es", "parameters": ["{{name}}"]}})
        }
        Channel::Sms => json!({"body": "Aviso: Hola {{name}}, tu matrícula vence el viernes."}),
        Channel::Email => json!({"subject": "Aviso de matricula",
            "body": "Hola {{name}}, tu matrícula vence el viernes."}),
    };
    let campaign = api
        .post(
            "/api/v1/campaigns",
            json!({"unit_id": unit.0, "name": "Inscripciones", "segment_id": segment["id"],
            "channel_install_id": install, "message": message, "max_per_second": MAX_PER_SECOND}),
        )
        .await?;
    let id = campaign["id"].as_str().context("no campaign")?.to_owned();
    let rss_before = rss_kib();
    let peak = Arc::new(AtomicU64::new(rss_before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let sends_before = provider.campaign.load(Ordering::Relaxed);
    let launched = Instant::now();
    api.post(&format!("/api/v1/campaigns/{id}/launch"), json!({})).await?;
    // Replies while it sends: once the first people have been reached.
    while provider.campaign.load(Ordering::Relaxed) < sends_before + 1000.min(options.recipients as u64 / 10) {
        anyhow::ensure!(launched.elapsed() < Duration::from_secs(600), "the campaign never started sending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let during = replies(&api, &provider, &case, options.replies, options.replies, Duration::from_millis(100)).await?;
    let sent_during_replies = provider.campaign.load(Ordering::Relaxed) - sends_before;
    let finished = loop {
        let c = api.get(&format!("/api/v1/campaigns/{id}")).await?;
        if c["status"] == "finished" {
            break c;
        }
        anyhow::ensure!(launched.elapsed() < Duration::from_secs(7200), "not finished after two hours: {c}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let elapsed = launched.elapsed().as_secs_f64();
    sampling.abort();
    let sent = provider.campaign.load(Ordering::Relaxed) - sends_before;
    let counts = &finished["recipients"];
    anyhow::ensure!(
        counts["sent"].as_u64() == Some(options.recipients as u64) && sent == options.recipients as u64,
        "{sent} requests at the stand-in; counts {counts}"
    );
    writeln!(
        out,
        "  campaign: {} people sent in {:.1} s: {:.0} sends/s (launch to finished, segment expansion included)",
        options.recipients,
        elapsed,
        options.recipients as f64 / elapsed
    )?;
    writeln!(
        out,
        "  memory: resident {:.0} MiB before the launch, peak {:.0} MiB while it ran (this process: server, client and stand-in)",
        rss_before as f64 / 1024.0,
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    )?;
    writeln!(
        out,
        "  agents' replies, API call to the provider: idle p50 {:.1} ms, p99 {:.1} ms; during the campaign p50 {:.1} ms, p99 {:.1} ms ({} replies each; {} campaign sends went out meanwhile)",
        ms(pct(&idle, 0.5)),
        ms(pct(&idle, 0.99)),
        ms(pct(&during, 0.5)),
        ms(pct(&during, 0.99)),
        options.replies,
        sent_during_replies
    )?;
    server.abort();
    Ok(())
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        // A kept-alive connection the server closed meanwhile: ask again.
        let mut tries = 0;
        let reply = loop {
            match self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await {
                Ok(reply) => break reply,
                Err(e) if tries < 3 && !e.is_timeout() => tries += 1,
                Err(e) => return Err(e.into()),
            }
        };
        anyhow::ensure!(reply.status().is_success(), "GET {path}: {}", reply.status());
        Ok(reply.json().await?)
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let reply =
            self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body).send().await?;
        let status = reply.status();
        let text = reply.text().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// `n` agent replies numbered from `first`, one every `gap`: the time from
/// the API call to the reply reaching the stand-in, each.
async fn replies(
    api: &Api,
    provider: &StandIn,
    case: &str,
    first: usize,
    n: usize,
    gap: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for k in first..first + n {
        let started = Instant::now();
        api.post(
            &format!("/api/v1/cases/{case}/messages"),
            json!({"body": format!("Respuesta {k}: las inscripciones cierran el viernes.")}),
        )
        .await?;
        loop {
            if let Some(at) = provider.reply_at(k as u64) {
                samples.push(at.saturating_duration_since(started));
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "reply {k} never reached the provider");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(gap).await;
    }
    samples.sort();
    Ok(samples)
}

fn webhook() -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Estudiante"}, "wa_id": "573209998877"}],
        "messages": [{"id": "wamid.BENCH-IN", "from": "573209998877", "timestamp": "1732300000", "type": "text",
            "text": {"body": "Buenas tardes, ¿hasta cuándo hay inscripciones?"}}],
    }}]}]})
    .to_string()
}

/// A text as Twilio posts it (a form) and its `X-Twilio-Signature`.
fn sms_webhook() -> (String, String) {
    let mut fields = [
        ("AccountSid", TWILIO_ACCOUNT),
        ("Body", "Buenas tardes, hasta cuando hay inscripciones?"),
        ("From", "+573209998877"),
        ("MessageSid", "SMBENCHIN"),
        ("NumMedia", "0"),
        ("To", "+15005550006"),
    ];
    fields.sort();
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let signed: String =
        std::iter::once(TWILIO_WEBHOOK.to_owned()).chain(fields.iter().map(|(k, v)| format!("{k}{v}"))).collect();
    (body.join("&"), ventanilla::secrets::hmac_sha1_base64(TWILIO_TOKEN.as_bytes(), signed.as_bytes()))
}

/// A message as a mail gateway posts it (RFC 822).
fn mail_webhook() -> String {
    [
        "From: Estudiante <estudiante@correo.test>",
        "To: admisiones@bench.test",
        "Subject: Inscripciones",
        "Message-ID: <bench-in@correo.test>",
        "Date: Mon, 23 Nov 2026 10:00:00 -0500",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Buenas tardes, hasta cuando hay inscripciones?",
        "",
    ]
    .join("\r\n")
}

/// This process's resident memory, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The provider's send endpoint (Graph API or Twilio; the answer carries
/// both one's message id and the other's sid) and an SMTP server taking
/// any login: counts campaign sends (a template, a text starting "Aviso",
/// or a mail whose subject does) and notes when each agent reply
/// ("Respuesta {k}") arrives.
struct StandIn {
    port: u16,
    smtp_port: u16,
    campaign: Arc<AtomicU64>,
    replies: Arc<Mutex<HashMap<u64, Instant>>>,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
    _smtp: tokio::task::JoinHandle<()>,
}

impl StandIn {
    async fn start() -> anyhow::Result<Self> {
        use actix_web::{App, HttpResponse, HttpServer, web};
        let campaign = Arc::new(AtomicU64::new(0));
        let replies = Arc::new(Mutex::new(HashMap::new()));
        let ids = Arc::new(AtomicU64::new(0));
        let (c, r) = (campaign.clone(), replies.clone());
        let server = HttpServer::new(move || {
            let (campaign, replies, ids) = (c.clone(), r.clone(), ids.clone());
            App::new().app_data(web::PayloadConfig::new(1 << 20)).default_service(web::to(move |body: web::Bytes| {
                let (campaign, replies, ids) = (campaign.clone(), replies.clone(), ids.clone());
                async move {
                    let text = String::from_utf8_lossy(&body);
                    if text.contains("\"template\"") || text.contains("Body=Aviso") {
                        campaign.fetch_add(1, Ordering::Relaxed);
                    } else if let Some(k) = reply_number(&text)
                        && let Ok(mut seen) = replies.lock()
                    {
                        seen.entry(k).or_insert_with(Instant::now);
                    }
                    let n = ids.fetch_add(1, Ordering::Relaxed);
                    HttpResponse::Ok().json(json!({"messaging_product": "whatsapp",
                        "messages": [{"id": format!("wamid.OUT{n}")}], "sid": format!("SM{n:032}"), "status": "queued"}))
                }
            }))
        })
        .workers(2)
        .bind("127.0.0.1:0")?;
        let port = server.addrs().first().map(|a| a.port()).context("no address")?;
        let server = tokio::spawn(server.run());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let smtp_port = listener.local_addr()?.port();
        let (c, r) = (campaign.clone(), replies.clone());
        let smtp = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (campaign, replies) = (c.clone(), r.clone());
                tokio::spawn(async move {
                    let _ = smtp_session(socket, &campaign, &replies).await;
                });
            }
        });
        Ok(StandIn { port, smtp_port, campaign, replies, _server: server, _smtp: smtp })
    }

    fn reply_at(&self, k: u64) -> Option<Instant> {
        self.replies.lock().ok()?.get(&k).copied()
    }
}

/// One SMTP connection: every login is taken and every message queued.
async fn smtp_session(
    socket: tokio::net::TcpStream,
    campaign: &AtomicU64,
    replies: &Mutex<HashMap<u64, Instant>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 bench.smtp ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-bench.smtp\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
        } else if upper.starts_with("AUTH") {
            b"235 2.7.0 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            if data.contains("\nSubject: Aviso") {
                campaign.fetch_add(1, Ordering::Relaxed);
            } else if let Some(k) = reply_number(&data)
                && let Ok(mut seen) = replies.lock()
            {
                seen.entry(k).or_insert_with(Instant::now);
            }
            b"250 2.0.0 queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        write.write_all(reply).await?;
    }
}

fn reply_number(text: &str) -> Option<u64> {
    // JSON (WhatsApp) or a form (Twilio: a space is `+` or `%20`).
    let (at, marker) =
        ["Respuesta ", "Respuesta+", "Respuesta%20"].iter().find_map(|m| text.find(m).map(|at| (at, m.len())))?;
    let rest = &text[at + marker..];
    rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// Where `--wasm` and `--manifest` default to, from the workspace root.
pub fn default_paths(channel: Channel) -> (PathBuf, PathBuf) {
    match channel {
        Channel::Whatsapp => super::ingest::default_paths(),
        Channel::Sms => release_plugin("sms_twilio", "sms-twilio"),
        Channel::Email => release_plugin("email", "email"),
    }
}

/// A plugin's release component under the target dir, and its manifest.
fn release_plugin(file: &str, dir: &str) -> (PathBuf, PathBuf) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    (
        Path::new(&target).join(format!("wasm32-wasip2/release/{file}.wasm")),
        PathBuf::from(format!("plugins/{dir}/plugin.toml")),
    )
}
