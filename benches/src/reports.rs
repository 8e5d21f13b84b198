//! `ventanilla-bench reports`: how fast reports come back on a large
//! institution, how far the figures lag behind a burst of changes, and
//! what keeping them costs case creation.
//!
//! On SQLite (and a scratch PostgreSQL database with `--postgres`):
//! 1. `--cases` cases' facts (2 million by default, spread over three years,
//!    40 agents, 8 channels) are written straight into `case_facts`, the
//!    per-case rollup reports read. Reports never read messages, so their
//!    count (10 million in the institution) does not enter the
//!    figure; the burst below does go through real timelines.
//! 2. The first-response-by-channel-by-week report and the agent report for
//!    the last year are run `--runs` times each: p50 and p99.
//! 3. Case creation through the API (with a first message), alternately
//!    with the figures kept and not kept: requests per second each way.
//! 4. A burst of cases, each created, answered and resolved through the API
//!    (four timeline events each, 10,000 in all by default); the lag is the
//!    time from the burst's last answer until every case's figures are
//!    worked out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use sea_orm::{EntityTrait, Set};

use super::{ms, pct};
use ventanilla::config::{Config, Secret};
use ventanilla::domain::report::Period;
use ventanilla::reports::{Dim, Report, Request};
use ventanilla::store::{self, report::entity as facts};

/// Writes a line of the report, and prints it at once (a run is long).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let line = format!($($arg)*);
        println!("{line}");
        writeln!($out, "{line}")
    }};
}

pub struct Options {
    pub cases: usize,
    pub runs: usize,
    /// Cases created per side of the creation-cost comparison.
    pub creations: usize,
    /// Cases in the burst (four timeline events each).
    pub burst: usize,
    pub postgres: Option<String>,
    pub work_dir: PathBuf,
}

const PASSWORD: &str = "bench-password-123";
const CHANNELS: [&str; 8] = ["whatsapp", "email", "webchat", "sms", "telegram", "messenger", "instagram", "webform"];

pub async fn run(options: &Options) -> anyhow::Result<String> {
    let mut out = String::new();
    std::fs::create_dir_all(&options.work_dir)?;
    let sqlite = options.work_dir.join(format!("reports-{}.db", uuid::Uuid::now_v7().simple()));
    say!(out, "SQLite:")?;
    let url = format!("sqlite://{}?mode=rwc", sqlite.display());
    let result = backend(options, &url, &options.work_dir.join("sqlite"), &mut out).await;
    let _ = std::fs::remove_file(&sqlite);
    result?;
    if let Some(admin) = &options.postgres {
        let db = super::ScratchDb::create(admin).await?;
        say!(out, "\nPostgreSQL:")?;
        let result = backend(options, &db.url, &options.work_dir.join("postgres"), &mut out).await;
        db.drop().await;
        result?;
    }
    Ok(out)
}

async fn backend(options: &Options, url: &str, data_dir: &Path, out: &mut String) -> anyhow::Result<()> {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_owned(),
        database_url: Some(Secret::new(url.to_owned())),
        ..Default::default()
    };
    config.auth.login_attempts_per_ip_per_minute = u32::MAX;
    let store = ventanilla::app::open_store(&config).await?;
    let state = ventanilla::app::state(config, store).await?;
    let unit = super::unit(&state, ventanilla::domain::BusinessHours::office_default()).await?;
    let admin = ventanilla::domain::user::NewUser {
        email: ventanilla::domain::Email::parse("email", "admin@bench.test")?,
        display_name: "Admin".into(),
        password_hash: ventanilla::auth::hash_password(PASSWORD)?,
        is_admin: true,
        locale: "es".into(),
        memberships: vec![],
    };
    store::user::create(&state.store, &ventanilla::domain::Actor::System, admin).await?;
    let mut agents = vec![];
    for n in 0..40 {
        let agent = ventanilla::domain::user::NewUser {
            email: ventanilla::domain::Email::parse("email", &format!("agente{n}@bench.test"))?,
            display_name: format!("Agente {n}"),
            password_hash: "x".into(),
            is_admin: false,
            locale: "es".into(),
            memberships: vec![ventanilla::domain::Membership { unit_id: unit, role: ventanilla::domain::Role::Agent }],
        };
        agents.push(store::user::create(&state.store, &ventanilla::domain::Actor::System, agent).await?.id.0);
    }

    let started = Instant::now();
    seed_facts(&state.store, unit.0, &agents, options.cases).await?;
    say!(out, "  seeded {} cases' facts in {:.0} s", options.cases, started.elapsed().as_secs_f64())?;

    let now = chrono::Utc::now();
    let year = store::report::FactFilter {
        from: Some(now - chrono::Duration::days(365)),
        to: Some(now),
        ..Default::default()
    };
    let tz = chrono_tz::America::Bogota;
    for (label, report, group_by) in [
        (
            "first response by channel by week, one year",
            Report::Response,
            vec![Dim::Channel, Dim::Period(Period::Week)],
        ),
        ("agents, one year", Report::Agents, vec![Dim::Agent]),
    ] {
        let request = Request { report, group_by, tz, scope: Default::default(), filter: year.clone() };
        let mut samples = vec![];
        let mut rows = 0;
        for _ in 0..options.runs {
            let t = Instant::now();
            let table = ventanilla::reports::run(&state.store, &request).await?;
            samples.push(t.elapsed());
            rows = table.rows.len();
        }
        samples.sort();
        say!(
            out,
            "  {label}: p50 {:.0} ms, p99 {:.0} ms ({} runs, {rows} rows)",
            ms(pct(&samples, 0.5)),
            ms(pct(&samples, 0.99)),
            options.runs
        )?;
    }

    let store = state.store.clone();
    let running = ventanilla::app::serve(state)?;
    let base = format!("http://{}", running.addr);
    let server = tokio::spawn(running.server);
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "admin@bench.test", "password": PASSWORD}))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let token = login["access_token"].as_str().context("no access token")?.to_owned();
    let api = Api { client, base, token, unit: unit.0 };

    // Creation with and without the figures, alternately, twice each.
    let (mut kept, mut not_kept) = (vec![], vec![]);
    for round in 0..4 {
        let keep = round % 2 == 0;
        store::report::set_tracking(keep);
        let t = Instant::now();
        api.create_many(options.creations, 8, false).await?;
        let rate = options.creations as f64 / t.elapsed().as_secs_f64();
        if keep { kept.push(rate) } else { not_kept.push(rate) }
    }
    store::report::set_tracking(true);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    say!(
        out,
        "  case creation (POST /cases with a first message, 8 clients): {:.0} req/s keeping figures, {:.0} req/s not",
        mean(&kept),
        mean(&not_kept)
    )?;
    // Let the creations' figures be worked out before the burst.
    wait_for_backlog(&store, Duration::from_secs(600)).await?;

    let t = Instant::now();
    api.create_many(options.burst, 8, true).await?;
    let burst = t.elapsed();
    let t = Instant::now();
    wait_for_backlog(&store, Duration::from_secs(600)).await?;
    say!(
        out,
        "  burst of {} timeline events ({} cases created, answered, resolved) in {:.1} s; figures complete {:.0} ms after its end",
        options.burst * 4,
        options.burst,
        burst.as_secs_f64(),
        ms(t.elapsed())
    )?;
    server.abort();
    Ok(())
}

/// Waits until no case's figures are due.
async fn wait_for_backlog(store: &store::Store, limit: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + limit;
    loop {
        let (pending, _) = store::report::backlog(&store.db).await?;
        if pending == 0 {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < until, "figures still pending: {pending}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
    unit: uuid::Uuid,
}

impl Api {
    /// Creates `n` cases from `clients` concurrent clients; with `work`, each
    /// is also answered and resolved.
    async fn create_many(&self, n: usize, clients: usize, work: bool) -> anyhow::Result<()> {
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = vec![];
        for _ in 0..clients {
            let (client, base, token, unit, next) =
                (self.client.clone(), self.base.clone(), self.token.clone(), self.unit, next.clone());
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let phone = format!("+57300{:07}", uuid::Uuid::new_v4().as_u128() % 10_000_000);
                    let case = client
                        .post(format!("{base}/api/v1/cases"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({
                            "subject": "Consulta", "channel": "whatsapp", "unit_id": unit,
                            "contact": {"name": "Persona", "identities": [{"channel": "whatsapp", "value": phone}]},
                            "first_message": {"body": "Hola, necesito un certificado"},
                        }))
                        .send()
                        .await?
                        .error_for_status()?
                        .json::<serde_json::Value>()
                        .await?;
                    if !work {
                        continue;
                    }
                    let id = case["id"].as_str().unwrap_or_default().to_owned();
                    client
                        .post(format!("{base}/api/v1/cases/{id}/messages"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"body": "Con gusto, aquí está"}))
                        .send()
                        .await?
                        .error_for_status()?;
                    client
                        .patch(format!("{base}/api/v1/cases/{id}"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"status": "resolved"}))
                        .send()
                        .await?
                        .error_for_status()?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        Ok(())
    }
}

/// Writes `n` cases' facts over the last three years, in bulk.
async fn seed_facts(store: &store::Store, unit: uuid::Uuid, agents: &[uuid::Uuid], n: usize) -> anyhow::Result<()> {
    const BATCH: usize = 500;
    let now = chrono::Utc::now();
    let span = chrono::Duration::days(3 * 365).num_seconds();
    // A fixed pseudo-random sequence: the same data every run.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound.max(1)
    };
    let mut done = 0;
    while done < n {
        let size = BATCH.min(n - done);
        let mut rows = Vec::with_capacity(size);
        for i in 0..size {
            let k = done + i;
            let created = now - chrono::Duration::seconds(span * (n - k) as i64 / n as i64);
            let answered = next(10) < 9;
            let ended = next(10) < 8;
            let first = answered.then(|| 60 + next(6 * 3600) as i64);
            let resolution = ended.then(|| 600 + next(5 * 86_400) as i64);
            let bot = next(3) == 0;
            rows.push(facts::ActiveModel {
                case_id: Set(uuid::Uuid::now_v7()),
                unit_id: Set(unit),
                channel: Set(CHANNELS[k % CHANNELS.len()].to_owned()),
                channel_install_id: Set(None),
                agent_id: Set(answered.then(|| agents[next(agents.len() as u64) as usize])),
                priority: Set("normal".into()),
                status: Set(if ended { "resolved" } else { "assigned" }.into()),
                created_at: Set(created),
                started_in_bot: Set(bot),
                handoff_at: Set(None),
                first_assigned_at: Set(answered.then_some(created)),
                first_response_at: Set(first.map(|s| created + chrono::Duration::seconds(s))),
                resolved_at: Set(resolution.map(|s| created + chrono::Duration::seconds(s))),
                reopens: Set(i32::from(next(20) == 0)),
                transfers: Set(i32::from(next(15) == 0)),
                agent_replies: Set(next(6) as i32),
                notes: Set(next(3) as i32),
                bot_contained: Set(bot && !answered && ended),
                abandoned: Set(!answered && ended && !bot),
                first_response_s: Set(first),
                first_response_bs: Set(first.map(|s| s / 3)),
                handoff_wait_s: Set(None),
                handoff_wait_bs: Set(None),
                assignment_s: Set(first.map(|s| s / 2)),
                assignment_bs: Set(first.map(|s| s / 6)),
                resolution_s: Set(resolution),
                resolution_bs: Set(resolution.map(|s| s / 3)),
                handling_s: Set(next(3600) as i64),
                handling_bs: Set(next(3600) as i64),
                waiting_s: Set(next(7200) as i64),
                waiting_bs: Set(next(3600) as i64),
                computed_at: Set(now),
            });
        }
        let tx = store.begin().await?;
        facts::Entity::insert_many(rows).exec_without_returning(&*tx).await?;
        tx.commit().await?;
        done += size;
    }
    Ok(())
}
