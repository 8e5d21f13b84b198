//! Wiring: opens the store, migrates, builds the shared state and the HTTP server.

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, AppState, metrics::Metrics, ratelimit::RateLimiter};
use crate::auth::Jwt;
use crate::config::Config;
use crate::services::Services;
use crate::store::{self, Store};

/// A running server and where it listens.
pub struct Running {
    pub server: Server,
    pub addr: SocketAddr,
    pub state: web::Data<AppState>,
}

/// Opens the database (creating the data directory and applying migrations)
/// and returns the store.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    crate::private_fs::dir(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let url = config.database_url();
    let store = Store::connect(url.expose(), config.database.max_connections)
        .await
        .context("cannot connect to the database (check database_url)")?;
    if let Some(path) = sqlite_file(url.expose()) {
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            crate::private_fs::file(&file).with_context(|| format!("cannot restrict {}", file.display()))?;
        }
    }
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

/// The file a `sqlite:` URL names, if any.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Builds the state: the JWT key comes from config or, when unset, from the
/// database, so several instances share one key without configuration.
pub async fn state(config: Config, store: Store) -> anyhow::Result<AppState> {
    let secrets = match &config.secrets_key {
        Some(key) => {
            crate::secrets::SecretBox::from_base64(key.expose()).map_err(|m| anyhow::anyhow!("secrets_key: {m}"))?
        }
        None => crate::secrets::SecretBox::from_file(&config.data_dir.join("secrets.key"))?,
    };
    let secret = match &config.auth.jwt_secret {
        Some(secret) => secret.expose().to_owned(),
        None => token_key(&store, &secrets).await?,
    };
    let jwt = Jwt::new(secret.as_bytes(), config.auth.access_token_ttl_secs);
    // Links to files are signed with a key every instance derives alike.
    let attachments =
        crate::attachments::Attachments::new(&config.data_dir, config.attachments.clone(), secret.as_bytes())
            .map_err(|m| anyhow::anyhow!("attachments.s3: {m}"))?;
    let plugins = crate::plugins::PluginHost::new(Some(config.data_dir.join("plugin-cache")), config.plugins.clone())
        .context("cannot start the plugin engine")?;
    let search = open_search(&config).await?;
    search.check(&store).await.context("cannot check the search index against the database")?;
    search.start_log(store.clone());
    let ingest = crate::channels::ingest::Committer::new(store.clone(), config.channels.reopen_window_hours);
    let config = Arc::new(config);
    let services = Arc::new(Services {
        store,
        config: config.clone(),
        search,
        plugins,
        runtime: Default::default(),
        secrets,
        attachments,
        live: Default::default(),
        pacer: Default::default(),
    });
    let principals = Arc::new(api::principal_cache::PrincipalCache::default());
    api::principal_cache::follow(principals.clone(), &services.live);
    // The institution's own authority too, for a provider inside its network.
    let (_, own_roots) =
        crate::tls::trusted_roots(config.plugins.trusted_ca_file.as_deref()).map_err(anyhow::Error::msg)?;
    let oidc = crate::oidc::Oidc::new(&config.auth.oidc, &own_roots)?;
    Ok(AppState {
        services,
        principals,
        jwt,
        sign_in: crate::api::sign_in_guard::SignInGuard::new(&config.auth),
        metrics: Metrics::default(),
        webhooks_by_ip: RateLimiter::new(config.http.webhooks_per_ip_per_minute, Duration::from_secs(60)),
        posts_by_ip: RateLimiter::new(u32::MAX, Duration::from_secs(3600)),
        public_by_ip: RateLimiter::new(config.http.public_requests_per_ip_per_minute, Duration::from_secs(60)),
        feedback_by_ip: RateLimiter::new(config.http.feedback_per_ip_per_hour, Duration::from_secs(3600)),
        webchat_by_visitor: crate::api::webchat::visitor_limiter(),
        ingest,
        streams: crate::api::stream_slots::StreamSlots::new(config.streams.clone()),
        webchat_sessions_by_ip: RateLimiter::new(
            config.streams.webchat_sessions_per_address_per_hour,
            Duration::from_secs(3600),
        ),
        webchat_sessions: RateLimiter::new(config.streams.webchat_sessions_per_second, Duration::from_secs(1)),
        webchat_conversations_by_ip: RateLimiter::new(
            config.streams.webchat_conversations_per_address_per_hour,
            Duration::from_secs(3600),
        ),
        reads: Default::default(),
        oidc: Arc::new(oidc),
    })
}

/// The key that signs access tokens (and, derived, links to files), kept in
/// the database sealed with the secrets key: a copy of the database alone
/// cannot mint tokens. A key kept in the clear by an older version is sealed
/// and the clear copy removed, so signed-in sessions survive the upgrade.
async fn token_key(store: &Store, secrets: &crate::secrets::SecretBox) -> anyhow::Result<String> {
    const SEALED: &str = "jwt_secret_sealed";
    const CLEAR: &str = "jwt_secret";
    let open = |text: &str| {
        secrets.open_setting(CLEAR, text).context(
            "the token signing key in the database does not open with this secrets key \
             (every instance must share one secrets_key)",
        )
    };
    if let Some(sealed) = store::setting::get(&store.db, SEALED).await? {
        return open(&sealed);
    }
    let key = match store::setting::get(&store.db, CLEAR).await? {
        Some(clear) => clear,
        None => crate::auth::new_secret("").0,
    };
    let sealed = secrets.seal_setting(CLEAR, &key);
    // Two instances starting together both end up with the one that won.
    let stored = store::setting::get_or_insert(&store.db, SEALED, || sealed).await?;
    store::setting::delete(&store.db, CLEAR).await?;
    open(&stored)
}

/// Opens the configured search backend.
pub async fn open_search(config: &Config) -> anyhow::Result<Arc<crate::search::Search>> {
    use crate::config::SearchBackend;
    let backend: Arc<dyn crate::search::KbSearch> = match config.search.backend {
        SearchBackend::Tantivy => {
            let dir = config.search.path.clone().unwrap_or_else(|| config.data_dir.join("search"));
            let index = crate::search::tantivy::TantivyIndex::open(Some(&dir), config.search.writer_memory_bytes)
                .with_context(|| {
                    format!("cannot open the search index in {} (is another instance using it?)", dir.display())
                })?;
            Arc::new(index)
        }
        SearchBackend::Meilisearch => {
            let url = config.search.meilisearch_url.as_deref().unwrap_or_default();
            let key = config.search.meilisearch_key.as_ref().map(|k| k.expose());
            let index = crate::search::meilisearch::MeiliIndex::open(url, key, &config.search.meilisearch_index)
                .await
                .with_context(|| format!("cannot set up the Meilisearch index at {url}"))?;
            Arc::new(index)
        }
    };
    Ok(Arc::new(crate::search::Search::new(backend)))
}

/// Binds the listen address and starts serving; returns at once.
pub fn serve(state: AppState) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(&state.config.listen)
        .with_context(|| format!("cannot listen on {} (is it in use?)", state.config.listen))?;
    let addr = listener.local_addr()?;
    let workers = match state.config.http.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let state = web::Data::new(state);
    let services = state.services.clone();
    crate::jobs::spawn(services.clone(), services.config.http.job_workers);
    crate::channels::mailbox::spawn(services.clone());
    crate::channels::templates::spawn(services.clone());
    // Periodic work, once per period across instances.
    let config = &services.config;
    crate::jobs::every(services.clone(), config.attachments.gc_every_secs, crate::store::job::JobKind::FilesGc);
    crate::jobs::every(services.clone(), config.presence.sweep_secs, crate::store::job::JobKind::PresenceSweep);
    crate::jobs::every(services.clone(), config.privacy.retention_every_secs, crate::store::job::JobKind::Retention);
    crate::jobs::every(services.clone(), config.export.every_secs, crate::store::job::JobKind::WarehouseExport);
    crate::jobs::every(services.clone(), config.reports.send_every_secs, crate::store::job::JobKind::ReportsSend);
    // The directories together, as often as the most eager one asks.
    let directories = config.auth.ldap.iter().map(|d| d.sync_every_minutes).filter(|m| *m > 0).min();
    crate::jobs::every(services.clone(), directories.unwrap_or(0) * 60, crate::store::job::JobKind::DirectorySync);
    crate::live::spawn(services.store.clone(), services.live.clone());
    crate::store::search_text::spawn_backfill(services.store.clone());
    let every = std::time::Duration::from_millis(config.reports.refresh_every_ms);
    crate::store::report::spawn_refresher(services.store.clone(), every);
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(data.config.http.max_body_bytes))
            .app_data(api::query_config())
            .app_data(api::path_config())
            .wrap(from_fn(api::middleware::observe))
            .configure(api::configure)
            .configure(crate::help::configure)
            .configure(crate::console::configure)
            .configure(crate::api::widget::configure)
            .default_service(web::to(api::not_found))
    })
    .workers(workers)
    .shutdown_timeout(10)
    .listen(listener)?
    .run();
    Ok(Running { server, addr, state })
}
