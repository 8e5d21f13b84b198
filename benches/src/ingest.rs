//! `ventanilla-bench ingest`: channel figures with the real WhatsApp
//! connector. Inbound: signed webhooks posted over loopback by concurrent
//! clients, each acknowledged only once committed; messages per second and
//! the acknowledgement latency, next to the ceiling of the same database
//! for single-row insert transactions (pgbench on PostgreSQL, the same
//! transaction through the pool on SQLite). Outbound: replies through the
//! outbox and the connector to a local stand-in of the Graph API.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{ms, pct};

use anyhow::Context;
use sea_orm::{ConnectionTrait, Statement};

use ventanilla::config::{Config, Secret};
use ventanilla::domain::{Actor, AuthorKind, CaseId, message::NewMessage};
use ventanilla::store::{self, Store};

const APP_SECRET: &str = "bench-app-secret";
const PHONE_ID: &str = "100200300";

/// What to measure.
pub struct Options {
    /// whatsapp_cloud.wasm, built for wasm32-wasip2 in release mode.
    pub wasm: PathBuf,
    /// Its plugin.toml.
    pub manifest: PathBuf,
    pub messages: usize,
    pub concurrency: usize,
    pub sends: usize,
    /// PostgreSQL server to create a scratch database on; `None` skips it.
    pub postgres: Option<String>,
    pub work_dir: PathBuf,
}

pub async fn run(options: &Options) -> anyhow::Result<String> {
    let mut out = String::new();
    std::fs::create_dir_all(&options.work_dir)?;
    let sqlite = options.work_dir.join(format!("ingest-{}.db", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite://{}?mode=rwc", sqlite.display());
    writeln!(out, "SQLite ({}):", sqlite.display())?;
    backend(options, &url, None, &options.work_dir.join("sqlite"), &mut out).await?;
    let _ = std::fs::remove_file(&sqlite);
    if let Some(admin) = &options.postgres {
        let db = super::ScratchDb::create(admin).await?;
        writeln!(out, "\nPostgreSQL ({}):", db.name())?;
        let result = backend(options, &db.url, Some(&db.url), &options.work_dir.join("postgres"), &mut out).await;
        db.drop().await;
        result?;
    }
    Ok(out)
}

/// The whole run on one database.
async fn backend(
    options: &Options,
    url: &str,
    postgres: Option<&str>,
    data_dir: &Path,
    out: &mut String,
) -> anyhow::Result<()> {
    let provider = GraphStandIn::start().await?;
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_owned(),
        database_url: Some(Secret::new(url.to_owned())),
        ..Default::default()
    };
    config.database.max_connections = 16;
    config.http.webhooks_per_ip_per_minute = u32::MAX;
    config.plugins.private_hosts = vec![format!("localhost:{}", provider.port)];
    let store = ventanilla::app::open_store(&config).await?;
    let state = ventanilla::app::state(config, store.clone()).await?;
    let install = install_whatsapp(&state, options, provider.port).await?;
    let running = ventanilla::app::serve(state)?;
    let base = format!("http://{}", running.addr);
    let server = tokio::spawn(running.server);

    let inbound = inbound(&base, install, options.messages, options.concurrency).await.context("inbound webhooks")?;
    let ceiling = match postgres {
        Some(url) => pgbench(&store, url, options.concurrency).context("pgbench ceiling")?,
        None => insert_ceiling(&store, options.concurrency).await.context("insert ceiling")?,
    };
    writeln!(
        out,
        "  inbound: {} webhooks by {} clients in {:.2} s: {:.0} messages/s; acknowledged p50 {:.2} ms, p99 {:.2} ms",
        options.messages,
        options.concurrency,
        inbound.elapsed.as_secs_f64(),
        inbound.per_second,
        ms(inbound.p50),
        ms(inbound.p99)
    )?;
    writeln!(
        out,
        "  ceiling: {:.0} single-row insert transactions/s ({}); ingest is {:.0}% of it",
        ceiling.0,
        ceiling.1,
        100.0 * inbound.per_second / ceiling.0
    )?;
    let stored = count(&store, "SELECT COUNT(*) AS n FROM messages WHERE direction = 'inbound'").await?;
    anyhow::ensure!(stored == options.messages as i64, "{stored} messages stored of {}", options.messages);

    let (elapsed, sent) = outbound(&store, install, options.sends, &provider).await.context("outbound sends")?;
    writeln!(
        out,
        "  outbound: {} replies through the outbox in {:.2} s: {:.0} sends/s ({} requests at the stand-in)",
        options.sends,
        elapsed.as_secs_f64(),
        options.sends as f64 / elapsed.as_secs_f64(),
        sent
    )?;
    server.abort();
    Ok(())
}

/// Installs the connector with its secrets, on a new unit.
async fn install_whatsapp(
    state: &ventanilla::api::AppState,
    options: &Options,
    port: u16,
) -> anyhow::Result<uuid::Uuid> {
    // The stand-in is on localhost; pacing is taken out so the figure is
    // the host's, not the provider's allowance.
    let text = std::fs::read_to_string(&options.manifest)
        .with_context(|| format!("cannot read {}", options.manifest.display()))?
        .replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
        .lines()
        .filter(|l| !l.starts_with("max_sends_per_second"))
        .collect::<Vec<_>>()
        .join("\n");
    let unit = super::unit(state, ventanilla::domain::BusinessHours::office_default()).await?;
    let settings = serde_json::json!({"phone_number_id": PHONE_ID, "api_base_url": format!("http://localhost:{port}")});
    let install = super::install_plugin(state, &options.wasm, text, settings, unit).await?;
    for (name, value) in [("app_secret", APP_SECRET), ("access_token", "bench-token")] {
        store::plugin_secret::put(&state.store, &state.secrets, &Actor::System, install, name, value).await?;
    }
    Ok(install)
}

struct Inbound {
    elapsed: Duration,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Posts `n` signed webhooks from `concurrency` clients, from 1000 senders.
async fn inbound(base: &str, install: uuid::Uuid, n: usize, concurrency: usize) -> anyhow::Result<Inbound> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let url = format!("{base}/api/v1/webhooks/{install}");
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = vec![];
    for _ in 0..concurrency.max(1) {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            let mut samples = vec![];
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                if k >= n {
                    break;
                }
                let body = webhook(k);
                let signature =
                    format!("sha256={}", ventanilla::secrets::hmac_sha256_hex(APP_SECRET.as_bytes(), body.as_bytes()));
                let sent = Instant::now();
                let reply = client.post(&url).header("x-hub-signature-256", signature).body(body).send().await?;
                anyhow::ensure!(reply.status() == 200, "webhook {k}: {}", reply.status());
                samples.push(sent.elapsed());
            }
            anyhow::Ok(samples)
        }));
    }
    let mut samples = vec![];
    for client in clients {
        samples.extend(client.await??);
    }
    let elapsed = started.elapsed();
    samples.sort();
    Ok(Inbound {
        elapsed,
        per_second: n as f64 / elapsed.as_secs_f64(),
        p50: pct(&samples, 0.5),
        p99: pct(&samples, 0.99),
    })
}

fn webhook(k: usize) -> String {
    let from = format!("57300{:07}", k % 1000);
    serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": format!("Persona {}", k % 1000)}, "wa_id": from}],
        "messages": [{"id": format!("wamid.BENCH{k}"), "from": from, "timestamp": "1732300000", "type": "text",
            "text": {"body": "Buenas tardes, ¿cuándo abren las inscripciones para el próximo semestre?"}}],
    }}]}]})
    .to_string()
}

async fn count(store: &Store, sql: &str) -> anyhow::Result<i64> {
    let row = store.db.query_one_raw(Statement::from_string(store.backend(), sql)).await?.context("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

const CEILING_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_ceiling (id VARCHAR(36) PRIMARY KEY, body TEXT NOT NULL, created_at VARCHAR(40) NOT NULL)";

/// pgbench with `concurrency` clients, each transaction one single-row insert.
fn pgbench(store: &Store, url: &str, concurrency: usize) -> anyhow::Result<(f64, String)> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(store.db.execute_unprepared(CEILING_TABLE)))?;
    let script = std::env::temp_dir().join(format!("ventanilla-pgbench-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "INSERT INTO bench_ceiling (id, body, created_at) VALUES (gen_random_uuid()::text, 'Buenas tardes, ¿cuándo abren las inscripciones para el próximo semestre?', now()::text);\n",
    )?;
    let output = std::process::Command::new("pgbench")
        .args(["-n", "-c", &concurrency.to_string(), "-j", "2", "-T", "10", "-f"])
        .arg(&script)
        .arg(url)
        .output()
        .context("cannot run pgbench (Debian package postgresql-client or postgresql)")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "pgbench failed: {}", String::from_utf8_lossy(&output.stderr));
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse::<f64>().ok())
        .context("no tps line in pgbench's output")?;
    Ok((tps, format!("pgbench, {concurrency} clients, 10 s")))
}

/// On SQLite: `concurrency` tasks each committing single-row insert
/// transactions through the same pool for five seconds.
async fn insert_ceiling(store: &Store, concurrency: usize) -> anyhow::Result<(f64, String)> {
    store.db.execute_unprepared(CEILING_TABLE).await?;
    let until = Instant::now() + Duration::from_secs(5);
    let mut tasks = vec![];
    for _ in 0..concurrency.max(1) {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                let tx = store.begin().await?;
                let sql = format!(
                    "INSERT INTO bench_ceiling (id, body, created_at) VALUES ('{}', 'Buenas tardes, ¿cuándo abren las inscripciones para el próximo semestre?', '{}')",
                    uuid::Uuid::now_v7(),
                    store::now().to_rfc3339()
                );
                tx.execute_unprepared(&sql).await?;
                tx.commit().await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok((total as f64 / 5.0, format!("single-row insert transactions through the pool, {concurrency} tasks, 5 s")))
}

/// Adds `n` agent replies on the bench's cases and times until the outbox
/// has sent them all.
async fn outbound(
    store: &Store,
    install: uuid::Uuid,
    n: usize,
    provider: &GraphStandIn,
) -> anyhow::Result<(Duration, u64)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let cases: Vec<uuid::Uuid> = store::case::entity::Entity::find()
        .select_only()
        .column(store::case::entity::Column::Id)
        .filter(store::case::entity::Column::ChannelInstallId.eq(install))
        .into_tuple()
        .all(&store.db)
        .await?;
    anyhow::ensure!(!cases.is_empty(), "no cases to reply on");
    let before = provider.requests.load(Ordering::Relaxed);
    let started = Instant::now();
    for k in 0..n {
        let reply =
            NewMessage::text(AuthorKind::Agent, format!("Respuesta {k}: las inscripciones abren el 1 de febrero."));
        store::message::add(store, &Actor::System, None, CaseId(cases[k % cases.len()]), reply).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let pending = count(store, "SELECT COUNT(*) AS n FROM messages WHERE delivery_status = 'pending'").await?;
        if pending == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{pending} replies still pending after 10 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let failed = count(store, "SELECT COUNT(*) AS n FROM messages WHERE delivery_status = 'failed'").await?;
    anyhow::ensure!(failed == 0, "{failed} replies failed");
    Ok((elapsed, provider.requests.load(Ordering::Relaxed) - before))
}

/// The Graph API's send endpoint, answering every request with a new id.
struct GraphStandIn {
    port: u16,
    requests: Arc<AtomicU64>,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl GraphStandIn {
    async fn start() -> anyhow::Result<Self> {
        use actix_web::{App, HttpResponse, HttpServer, web};
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let server = HttpServer::new(move || {
            let counter = counter.clone();
            App::new().default_service(web::to(move || {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                async move {
                    HttpResponse::Ok().json(serde_json::json!({"messaging_product": "whatsapp", "messages": [{"id": format!("wamid.OUT{n}")}]}))
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")?;
        let port = server.addrs().first().map(|a| a.port()).context("no address")?;
        let server = tokio::spawn(server.run());
        Ok(GraphStandIn { port, requests, _server: server })
    }
}

/// Where `--wasm` and `--manifest` default to, from the workspace root.
pub fn default_paths() -> (PathBuf, PathBuf) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    (
        Path::new(&target).join("wasm32-wasip2/release/whatsapp_cloud.wasm"),
        PathBuf::from("plugins/whatsapp-cloud/plugin.toml"),
    )
}
