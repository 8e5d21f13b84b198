//! `ventanilla-bench ...`: helpers for the benchmarks in `benches/`. Seeding
//! writes rows in bulk so a 100k-case database takes seconds, not minutes.

pub mod bot;
pub mod campaign;
pub mod console;
pub mod ingest;
pub mod reports;
pub mod search;

use anyhow::Context;
use sea_orm::{ConnectionTrait, EntityTrait, Set, Statement};

use ventanilla::domain::{CaseStatus, Channel, Priority, UnitId};
use ventanilla::store::{self, Store};

/// A database made for one benchmark run on a PostgreSQL server, dropped
/// afterwards.
pub(crate) struct ScratchDb {
    pub url: String,
    name: String,
    server: sea_orm::DatabaseConnection,
}

impl ScratchDb {
    /// Creates it through `admin`, a URL naming any database on the server.
    pub async fn create(admin: &str) -> anyhow::Result<ScratchDb> {
        let name = format!("ventanilla_bench_{}", uuid::Uuid::now_v7().simple());
        let Some((prefix, _)) = admin.rsplit_once('/') else {
            anyhow::bail!("the PostgreSQL URL needs a database name, e.g. postgres://postgres@127.0.0.1/postgres");
        };
        let server = sea_orm::Database::connect(admin).await.context("connecting to PostgreSQL")?;
        server.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        Ok(ScratchDb { url: format!("{prefix}/{name}"), name, server })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn drop(self) {
        let _ = self.server.execute_unprepared(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
    }
}

/// Inserts `n` cases (each with a contact and a first message) into `unit`.
pub async fn seed_cases(store: &Store, unit: UnitId, n: usize) -> anyhow::Result<()> {
    const BATCH: usize = 500;
    let statuses = [CaseStatus::Queued, CaseStatus::Assigned, CaseStatus::Resolved, CaseStatus::Closed];
    let subjects = [
        "Certificado de notas",
        "Inscripción a pregrado",
        "Pago de matrícula",
        "Préstamo de libros",
        "Cita con psicología",
    ];
    let mut number = next_number(store).await?;
    let mut done = 0;
    while done < n {
        let size = BATCH.min(n - done);
        let tx = store.begin().await?;
        let mut contacts = Vec::with_capacity(size);
        let mut cases = Vec::with_capacity(size);
        let mut messages = Vec::with_capacity(size);
        for i in 0..size {
            let now = store::now();
            let contact_id = uuid::Uuid::now_v7();
            let case_id = uuid::Uuid::now_v7();
            let k = done + i;
            contacts.push(store::contact::entity::ActiveModel {
                id: Set(contact_id),
                name: Set(Some(format!("Contacto {k}"))),
                custom_attributes: Set(serde_json::json!({})),
                merged_into: Set(None),
                created_by: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                legal_hold: Set(None),
                erasure_started_at: Set(None),
                erased_at: Set(None),
                external_id: Set(None),
            });
            let status = statuses[k % statuses.len()];
            let subject = format!("{} #{k}", subjects[k % subjects.len()]);
            let body = format!("Hola, necesito ayuda con el trámite {k}");
            cases.push(store::case::entity::ActiveModel {
                id: Set(case_id),
                number: Set(number),
                subject: Set(subject.clone()),
                channel: Set(Channel::ALL[k % 8].as_str().to_owned()),
                contact_id: Set(contact_id),
                unit_id: Set(unit.0),
                assignee_id: Set(None),
                status: Set(if status == CaseStatus::Assigned { CaseStatus::Queued } else { status }
                    .as_str()
                    .to_owned()),
                priority: Set(Priority::Normal.as_str().to_owned()),
                custom_fields: Set(serde_json::json!({})),
                created_at: Set(now),
                updated_at: Set(now),
                first_response_at: Set(None),
                resolved_at: Set(None),
                closed_at: Set(None),
                channel_install_id: Set(None),
                snoozed_until: Set(None),
                search_text: Set(Some(store::search_text::fold(&subject))),
                webchat_visitor: Set(None),
                legal_hold: Set(None),
                anonymised_at: Set(None),
            });
            messages.push(store::message::entity::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                case_id: Set(case_id),
                direction: Set("inbound".into()),
                author_kind: Set("contact".into()),
                author_user_id: Set(None),
                search_text: Set(Some(store::search_text::fold(&body))),
                body: Set(body),
                attachments: Set(serde_json::json!([])),
                provider_message_id: Set(None),
                delivery_status: Set("received".into()),
                created_at: Set(now),
                channel_install_id: Set(None),
                options: Set(serde_json::json!([])),
                delivery_error: Set(None),
                delivery_attempts: Set(0),
                next_attempt_at: Set(None),
                waiting_for: Set(None),
                selected_option: Set(None),
                template: Set(None),
                context: Set(None),
            });
            number += 1;
        }
        store::contact::entity::Entity::insert_many(contacts).exec(&*tx).await?;
        store::case::entity::Entity::insert_many(cases).exec(&*tx).await?;
        store::message::entity::Entity::insert_many(messages).exec(&*tx).await?;
        tx.commit().await?;
        done += size;
    }
    if store::is_postgres(&store.db) {
        store
            .db
            .execute_raw(Statement::from_string(
                store.backend(),
                "SELECT setval('case_number_seq', (SELECT MAX(number) FROM cases))",
            ))
            .await
            .context("advancing the case number sequence")?;
    }
    Ok(())
}

async fn next_number(store: &Store) -> anyhow::Result<i64> {
    let row = store
        .db
        .query_one_raw(Statement::from_string(store.backend(), "SELECT COALESCE(MAX(number), 0) + 1 AS n FROM cases"))
        .await?
        .context("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

/// Figures of the plugin host with the `hostile-bot` fixture's benchmark modes.
pub async fn plugins(wasm: &std::path::Path, iterations: usize) -> anyhow::Result<String> {
    use std::fmt::Write;
    use std::time::{Duration, Instant};
    use ventanilla::plugins::{CallContext, Grants, Limits, PluginHost};

    let host = PluginHost::new(None, Limits::default())?;
    let compiled = host.compile(&std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?)?;
    let compiled = host.prepare_bot(&compiled)?;
    let event = |mode: &str| {
        ventanilla::plugins::bot::dry_run_event(
            "¿Cuándo abren las inscripciones?".into(),
            format!("{{\"mode\": \"{mode}\"}}"),
            "es".into(),
        )
    };
    let ctx = CallContext::new("bench", Grants::default());
    let timings = |mode: &str, in_place: bool| {
        let (host, compiled, ctx, event) = (host.clone(), compiled.clone(), ctx.clone(), event(mode));
        async move {
            let mut samples = Vec::with_capacity(iterations);
            for _ in 0..iterations {
                let started = Instant::now();
                if in_place {
                    host.run_bot_on_current_thread(&compiled, &ctx, &event).await?;
                } else {
                    host.run_bot(&compiled, ctx.clone(), &event).await?;
                }
                samples.push(started.elapsed());
            }
            samples.sort();
            anyhow::Ok(samples)
        }
    };
    let pct = |samples: &[Duration], p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    let noop = timings("noop", true).await?;
    let echo = timings("echo-plain", true).await?;
    let clock = timings("clock-1000", true).await?;
    let handed_off = timings("noop", false).await?;
    let import_ns = (pct(&clock, 0.5).as_nanos() as f64 - pct(&noop, 0.5).as_nanos() as f64) / 1000.0;

    // Throughput: as many concurrent callers as cores, for three seconds.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let until = Instant::now() + Duration::from_secs(3);
    let mut workers = vec![];
    for _ in 0..cores {
        let (host, compiled, ctx, event) = (host.clone(), compiled.clone(), ctx.clone(), event("echo-plain"));
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                if host.run_bot(&compiled, ctx.clone(), &event).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut events = 0;
    for worker in workers {
        events += worker.await?;
    }
    let per_second = events as f64 / 3.0;

    // The same echo logic compiled into the host.
    let body = event("echo-plain").message.body;
    let started = Instant::now();
    let rounds = 1_000_000;
    for _ in 0..rounds {
        std::hint::black_box(format!("Recibí: {}", std::hint::black_box(&body)));
    }
    let native = started.elapsed().as_nanos() as f64 / rounds as f64;

    let mut out = String::new();
    let us = |d: Duration| d.as_nanos() as f64 / 1000.0;
    writeln!(
        out,
        "instantiate + call, trivial bot (noop), {iterations} calls: p50 {:.1} µs, p99 {:.1} µs",
        us(pct(&noop, 0.5)),
        us(pct(&noop, 0.99))
    )?;
    writeln!(
        out,
        "instantiate + call, echo bot: p50 {:.1} µs, p99 {:.1} µs",
        us(pct(&echo, 0.5)),
        us(pct(&echo, 0.99))
    )?;
    writeln!(
        out,
        "trivial bot from a request thread via the plugin executor: p50 {:.1} µs, p99 {:.1} µs",
        us(pct(&handed_off, 0.5)),
        us(pct(&handed_off, 0.99))
    )?;
    writeln!(out, "host import call overhead (clock.now-ms): {import_ns:.0} ns per call")?;
    writeln!(out, "echo bot throughput through the executor, {cores} callers: {per_second:.0} events/s")?;
    writeln!(
        out,
        "same echo logic native: {native:.0} ns per event; wasm per event (p50) is {:.0}x that",
        pct(&echo, 0.5).as_nanos() as f64 / native
    )?;
    Ok(out)
}

/// Open every day, all day: runs that must not wait for business hours.
fn always_open() -> ventanilla::domain::BusinessHours {
    ventanilla::domain::BusinessHours {
        weekly: std::iter::successors(Some(chrono::Weekday::Mon), |d| Some(d.succ()))
            .take(7)
            .map(|day| ventanilla::domain::unit::DayHours {
                day,
                open: chrono::NaiveTime::MIN,
                close: chrono::NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default(),
            })
            .collect(),
        holidays: vec![],
    }
}

/// Creates the unit `admisiones` with these hours.
async fn unit(
    state: &ventanilla::api::AppState,
    business_hours: ventanilla::domain::BusinessHours,
) -> anyhow::Result<UnitId> {
    let unit = ventanilla::domain::unit::NewUnit {
        slug: ventanilla::domain::Slug::parse("slug", "admisiones")?,
        name: "Admisiones".into(),
        timezone: chrono_tz::America::Bogota,
        business_hours,
        survey: Default::default(),
        routing: Default::default(),
        custom_fields: vec![],
        privacy: Default::default(),
    };
    Ok(store::unit::create(&state.store, &ventanilla::domain::Actor::System, unit).await?.id)
}

/// Uploads a plugin (component file and manifest text) and installs it on
/// `unit` with everything it asks for granted.
async fn install_plugin(
    state: &ventanilla::api::AppState,
    wasm: &std::path::Path,
    manifest: String,
    settings: serde_json::Value,
    unit: UnitId,
) -> anyhow::Result<uuid::Uuid> {
    use ventanilla::plugins::manifest::Manifest;
    let parsed = Manifest::parse(&manifest).map_err(|e| anyhow::anyhow!("plugin.toml: {e}"))?;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let compiled = state.plugins.compile(&bytes)?;
    state.plugins.prepare(&compiled, parsed.world)?;
    let db = &state.store;
    let version = store::plugin::NewPluginVersion {
        plugin_id: parsed.id.clone(),
        version: parsed.version.clone(),
        name: parsed.name.clone(),
        world: parsed.world.as_str().into(),
        wit: parsed.wit.clone(),
        description: parsed.description.clone(),
        manifest,
        wasm_hash: compiled.hash,
        wasm: bytes,
    };
    store::plugin::create(db, &ventanilla::domain::Actor::System, version).await?;
    let install = store::plugin_install::NewInstall {
        name: parsed.name.clone(),
        plugin_id: parsed.id.clone(),
        version: parsed.version.clone(),
        settings,
        granted: parsed.capabilities.clone(),
        world: parsed.world,
        units: vec![unit],
        needs_secrets: vec![],
    };
    Ok(store::plugin_install::create(db, &ventanilla::domain::Actor::System, install).await?.id)
}

/// The sample at quantile `p` of sorted samples.
fn pct(samples: &[std::time::Duration], p: f64) -> std::time::Duration {
    samples.get(((samples.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default()
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
