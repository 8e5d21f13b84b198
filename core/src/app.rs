//! Wiring: opens the store, migrates, builds the shared state and the HTTP server.

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, metrics::Metrics, ratelimit::RateLimiter};
use crate::auth::Jwt;
use crate::config::Config;
use crate::store::{self, Store};

/// What every request handler shares.
pub struct AppState {
    pub store: Store,
    pub jwt: Jwt,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub login_by_ip: RateLimiter,
    pub login_by_account: RateLimiter,
    pub plugins: crate::plugins::PluginHost,
    pub runtime: crate::plugins::runtime::Runtime,
    /// Seals and opens plugin install secrets.
    pub secrets: crate::plugins::secrets::SecretBox,
    /// Public webhook endpoints: requests per minute per client address.
    pub webhooks_by_ip: RateLimiter,
    /// Posts per hour per address to channel accounts whose connector caps
    /// them (`rules.max_posts_per_ip_per_hour`: web forms), keyed by both.
    pub posts_by_ip: RateLimiter,
    /// The help center and public search: requests per minute per address.
    pub public_by_ip: RateLimiter,
    /// Article feedback: answers per hour per address.
    pub feedback_by_ip: RateLimiter,
    /// Knowledge-base search, shared by every surface.
    pub search: Arc<crate::search::Search>,
    /// Spaces sends per channel account.
    pub pacer: crate::channels::pace::Pacer,
    /// Web chat visitors' writes per minute.
    pub webchat_by_visitor: RateLimiter,
    /// Kept files and the links to them.
    pub attachments: crate::attachments::Attachments,
    /// Live events for the consoles connected to this instance.
    pub live: Arc<crate::live::Hub>,
    /// Where webhooks wait for their commit.
    pub ingest: Arc<crate::channels::ingest::Committer>,
}

/// A running server and where it listens.
pub struct Running {
    pub server: Server,
    pub addr: SocketAddr,
    pub state: web::Data<AppState>,
}

/// Opens the database (creating the data directory and applying migrations)
/// and returns the store.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let url = config.database_url();
    let store = Store::connect(url.expose(), config.database.max_connections)
        .await
        .context("cannot connect to the database (check database_url)")?;
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

/// Builds the state: the JWT key comes from config or, when unset, from the
/// database, so several instances share one key without configuration.
pub async fn state(config: Config, store: Store) -> anyhow::Result<AppState> {
    let secret = match &config.auth.jwt_secret {
        Some(secret) => secret.expose().to_owned(),
        None => store::setting::get_or_insert(&store.db, "jwt_secret", || crate::auth::new_secret("").0)
            .await
            .context("cannot read or create the token signing key")?,
    };
    let jwt = Jwt::new(secret.as_bytes(), config.auth.access_token_ttl_secs);
    // Links to files are signed with a key every instance derives alike.
    let attachments =
        crate::attachments::Attachments::new(&config.data_dir, config.attachments.clone(), secret.as_bytes())
            .map_err(|m| anyhow::anyhow!("attachments.s3: {m}"))?;
    let secrets = match &config.secrets_key {
        Some(key) => crate::plugins::secrets::SecretBox::from_base64(key.expose())
            .map_err(|m| anyhow::anyhow!("secrets_key: {m}"))?,
        None => crate::plugins::secrets::SecretBox::from_file(&config.data_dir.join("secrets.key"))?,
    };
    let plugins = crate::plugins::PluginHost::new(Some(config.data_dir.join("plugin-cache")), config.plugins.clone())
        .context("cannot start the plugin engine")?;
    let search = open_search(&config).await?;
    search.check(&store).await.context("cannot check the search index against the database")?;
    search.start_log(store.clone());
    let ingest = crate::channels::ingest::Committer::new(store.clone(), config.channels.reopen_window_hours);
    Ok(AppState {
        search,
        store,
        jwt,
        login_by_ip: RateLimiter::new(config.auth.login_attempts_per_ip_per_minute, Duration::from_secs(60)),
        login_by_account: RateLimiter::new(config.auth.login_attempts_per_account, Duration::from_secs(15 * 60)),
        metrics: Metrics::default(),
        webhooks_by_ip: RateLimiter::new(config.http.webhooks_per_ip_per_minute, Duration::from_secs(60)),
        posts_by_ip: RateLimiter::new(u32::MAX, Duration::from_secs(3600)),
        public_by_ip: RateLimiter::new(config.http.public_requests_per_ip_per_minute, Duration::from_secs(60)),
        feedback_by_ip: RateLimiter::new(config.http.feedback_per_ip_per_hour, Duration::from_secs(3600)),
        plugins,
        pacer: Default::default(),
        webchat_by_visitor: crate::channels::webchat::visitor_limiter(),
        runtime: Default::default(),
        attachments,
        live: Default::default(),
        ingest,
        secrets,
        config: Arc::new(config),
    })
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
    crate::jobs::spawn(state.clone(), state.config.http.job_workers);
    crate::channels::mailbox::spawn(state.clone());
    crate::attachments::spawn_gc(state.clone());
    crate::live::spawn(state.clone());
    crate::routing::spawn_sweep(state.clone());
    crate::store::search_text::spawn_backfill(state.store.clone());
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
            .configure(crate::channels::widget::configure)
            .default_service(web::to(api::not_found))
    })
    .workers(workers)
    .shutdown_timeout(10)
    .listen(listener)?
    .run();
    Ok(Running { server, addr, state })
}
