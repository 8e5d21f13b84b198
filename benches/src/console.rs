//! `ventanilla-bench console`: how fast consoles hear of new messages with
//! many of them connected to one instance, and what a console's first load
//! transfers.
//!
//! The server runs in-process on SQLite (and on a fresh PostgreSQL database
//! with `--postgres`); `--consoles` live streams are opened as the console
//! opens them (`GET /api/v1/stream`), then messages from the person are
//! written one at a time through the API. A message's latency, per console,
//! is from the moment its request was sent to the moment that console read
//! the event.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{ms, pct};
use ventanilla::config::{Config, Secret};

pub struct Options {
    pub consoles: usize,
    pub messages: usize,
    pub postgres: Option<String>,
    pub work_dir: PathBuf,
}

const PASSWORD: &str = "bench-password-123";

pub async fn run(options: &Options) -> anyhow::Result<String> {
    let mut out = String::new();
    std::fs::create_dir_all(&options.work_dir)?;
    let sqlite = options.work_dir.join(format!("console-{}.db", uuid::Uuid::now_v7().simple()));
    writeln!(out, "SQLite:")?;
    let url = format!("sqlite://{}?mode=rwc", sqlite.display());
    backend(options, &url, &options.work_dir.join("sqlite"), &mut out, true).await?;
    let _ = std::fs::remove_file(&sqlite);
    if let Some(admin) = &options.postgres {
        let db = super::ScratchDb::create(admin).await?;
        writeln!(out, "\nPostgreSQL:")?;
        let result = backend(options, &db.url, &options.work_dir.join("postgres"), &mut out, false).await;
        db.drop().await;
        result?;
    }
    Ok(out)
}

async fn backend(
    options: &Options,
    url: &str,
    data_dir: &Path,
    out: &mut String,
    first_load: bool,
) -> anyhow::Result<()> {
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
    let agent = ventanilla::domain::user::NewUser {
        email: ventanilla::domain::Email::parse("email", "agente@bench.test")?,
        display_name: "Agente".into(),
        password_hash: ventanilla::auth::hash_password(PASSWORD)?,
        is_admin: false,
        locale: "es".into(),
        memberships: vec![ventanilla::domain::Membership { unit_id: unit, role: ventanilla::domain::Role::Agent }],
    };
    ventanilla::store::user::create(&state.store, &ventanilla::domain::Actor::System, agent).await?;
    let running = ventanilla::app::serve(state)?;
    let base = format!("http://{}", running.addr);
    let server = tokio::spawn(running.server);
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "agente@bench.test", "password": PASSWORD}))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let token = login["access_token"].as_str().context("no access token")?.to_owned();
    let case = client
        .post(format!("{base}/api/v1/cases"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "subject": "Consulta", "channel": "whatsapp", "unit_id": unit.0,
            "contact": {"identities": [{"channel": "whatsapp", "value": "+573001112233"}]},
        }))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let case = case["id"].as_str().context("no case")?.to_owned();

    if first_load {
        let (raw, sent, requests) = first_load_bytes(&client, &base, &token).await?;
        writeln!(
            out,
            "  console first load: {requests} requests, {:.1} KB transferred with gzip ({:.1} KB uncompressed), page + script + styles + texts + the first API reads",
            sent as f64 / 1024.0,
            raw as f64 / 1024.0
        )?;
    }

    // The consoles: each records when it read each message's event.
    let heard: Arc<Mutex<Vec<HashMap<usize, Instant>>>> = Arc::new(Mutex::new(vec![HashMap::new(); options.consoles]));
    let mut readers = vec![];
    for n in 0..options.consoles {
        let mut response = client.get(format!("{base}/api/v1/stream")).bearer_auth(&token).send().await?;
        anyhow::ensure!(response.status() == 200, "stream {n}: {}", response.status());
        let heard = heard.clone();
        readers.push(tokio::spawn(async move {
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                let at = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if !frame.starts_with("event: message.created") {
                        continue;
                    }
                    if let Some(k) = frame.split("bench-").nth(1).and_then(|rest| {
                        rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<usize>().ok()
                    }) && let Ok(mut heard) = heard.lock()
                    {
                        heard[n].insert(k, at);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut sent_at = Vec::with_capacity(options.messages);
    let started = Instant::now();
    for k in 0..options.messages {
        let at = Instant::now();
        let reply = client
            .post(format!("{base}/api/v1/cases/{case}/messages"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"body": format!("bench-{k} ¿sigue abierto?"), "author_kind": "contact"}))
            .send()
            .await?;
        anyhow::ensure!(reply.status() == 201, "message {k}: {}", reply.status());
        sent_at.push(at);
        // Spaced like people writing, not a flood: this is about latency.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expected = options.consoles * options.messages;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let got: usize = heard.lock().map(|h| h.iter().map(HashMap::len).sum()).unwrap_or(0);
        if got >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let mut latencies = vec![];
    let heard = heard.lock().map(|h| h.clone()).unwrap_or_default();
    for console in &heard {
        for (k, at) in console {
            latencies.push(at.duration_since(sent_at[*k]));
        }
    }
    latencies.sort();
    writeln!(
        out,
        "  {} consoles on one instance, {} messages in {:.1} s: message → console p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} of {} deliveries seen",
        options.consoles,
        options.messages,
        elapsed.as_secs_f64(),
        ms(pct(&latencies, 0.50)),
        ms(pct(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        latencies.len(),
        expected
    )?;
    for reader in readers {
        reader.abort();
    }
    server.abort();
    Ok(())
}

/// What a browser fetches to show the inbox: the page, its script, styles
/// and texts (gzip accepted, as browsers do), and the API reads the
/// console makes before the inbox is drawn. Returns (uncompressed bytes,
/// bytes transferred, requests).
async fn first_load_bytes(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<(usize, usize, usize)> {
    let page = client.get(format!("{base}/console/")).send().await?.text().await?;
    let version = page.split("app.js?v=").nth(1).map(|v| v.chars().take_while(|c| *c != '"').collect::<String>());
    let version = version.unwrap_or_default();
    let mut assets =
        vec!["/console/".to_owned(), format!("/console/app.css?v={version}"), "/console/i18n/es.json".to_owned()];
    // The entry module and every module it imports, as the browser fetches them.
    for module in ["app", "lib", "live", "inbox", "case", "contact", "unit", "admin"] {
        assets.push(format!("/console/{module}.js?v={version}"));
    }
    let reads = [
        "/api/v1/auth/me",
        "/api/v1/units",
        "/api/v1/agents",
        "/api/v1/agents/me",
        "/api/v1/cases?assignee_id=me&status=assigned,waiting_on_contact&limit=100",
    ];
    let (mut raw, mut sent) = (0, 0);
    for path in &assets {
        let gzipped =
            client.get(format!("{base}{path}")).header("accept-encoding", "gzip").send().await?.bytes().await?;
        let plain = client.get(format!("{base}{path}")).send().await?.bytes().await?;
        sent += gzipped.len();
        raw += plain.len();
    }
    for path in reads {
        let body = client.get(format!("{base}{path}")).bearer_auth(token).send().await?.bytes().await?;
        sent += body.len();
        raw += body.len();
    }
    Ok((raw, sent, assets.len() + reads.len()))
}
