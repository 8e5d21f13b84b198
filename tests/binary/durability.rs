//! Acknowledged writes survive SIGKILL: cases created while the server is
//! killed at a random moment are all there after a restart, with their
//! first message, and nothing half-written appears.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use ventanilla_tests::{Backend, Server, TestDb, create_admin_with_binary, login_at};

const EMAIL: &str = "admin@durable.test";
const PASSWORD: &str = "clave de durabilidad";

/// How many messages a case has (its first page is enough here).
async fn message_count(client: &reqwest::Client, base: &str, token: &str, id: &str) -> anyhow::Result<usize> {
    let messages: Value =
        client.get(format!("{base}/api/v1/cases/{id}/messages")).bearer_auth(token).send().await?.json().await?;
    Ok(messages["items"].as_array().map_or(0, Vec::len))
}

async fn survives_sigkill(backend: Backend) -> anyhow::Result<()> {
    let db = TestDb::new(backend).await?;
    let dir = db.dir.display().to_string();
    let envs = [("VENTANILLA_DATA_DIR", dir.as_str()), ("VENTANILLA_DATABASE_URL", db.url.as_str())];
    create_admin_with_binary(&envs, EMAIL, PASSWORD)?;
    let mut server = Server::start(&[], &envs).await?;
    let client = reqwest::Client::new();
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let unit: Value = client
        .post(format!("{}/api/v1/units", server.base))
        .bearer_auth(&token)
        .json(&json!({"slug": "admisiones", "name": "Admisiones"}))
        .send()
        .await?
        .json()
        .await?;
    let unit_id = unit["id"].as_str().unwrap_or_default().to_owned();

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = vec![];
    for worker in 0..8 {
        let (client, base, token, unit_id, acknowledged) =
            (client.clone(), server.base.clone(), token.clone(), unit_id.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..200 {
                let body = json!({"subject": format!("w{worker}-{i}"), "channel": "sms", "unit_id": unit_id,
                    "contact": {"identities": [{"channel": "sms", "value": format!("+5730{worker}{i:07}")}]},
                    "first_message": {"body": format!("mensaje {worker}-{i}")}});
                let Ok(reply) =
                    client.post(format!("{base}/api/v1/cases")).bearer_auth(&token).json(&body).send().await
                else {
                    break;
                };
                if reply.status() != 201 {
                    break;
                }
                let Ok(created) = reply.json::<Value>().await else { break };
                if let Ok(mut ids) = acknowledged.lock() {
                    ids.push(created["id"].as_str().unwrap_or_default().to_owned());
                }
            }
        }));
    }
    // Kill once some writes are acknowledged, while the others are in flight.
    let n_seen = || acknowledged.lock().map_or(0, |ids| ids.len());
    ventanilla_tests::eventually(std::time::Duration::from_secs(60), || {
        let n = n_seen();
        async move { (n >= 40).then_some(()) }
    })
    .await;
    server.kill();
    for writer in writers {
        let _ = writer.await;
    }
    let ids = acknowledged.lock().map(|ids| ids.clone()).unwrap_or_default();
    anyhow::ensure!(ids.len() >= 40, "writes were acknowledged before the kill");

    let server = Server::start(&[], &envs).await?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let mut missing = vec![];
    for id in &ids {
        let case = client.get(format!("{}/api/v1/cases/{id}", server.base)).bearer_auth(&token).send().await?;
        if case.status() != 200 || message_count(&client, &server.base, &token, id).await? != 1 {
            missing.push(id.clone());
        }
    }
    anyhow::ensure!(missing.is_empty(), "{} acknowledged cases lost after SIGKILL: {missing:?}", missing.len());
    // Every stored case is whole: exactly one first message each.
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!("{}/api/v1/cases?limit=100&cursor={cursor}", server.base))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        for case in page["items"].as_array().into_iter().flatten() {
            let id = case["id"].as_str().unwrap_or_default();
            anyhow::ensure!(message_count(&client, &server.base, &token, id).await? == 1, "case {id} is whole");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survives_sigkill_sqlite() -> anyhow::Result<()> {
    survives_sigkill(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survives_sigkill_postgres() -> anyhow::Result<()> {
    survives_sigkill(Backend::Postgres).await
}

/// A protocol's timers are jobs in the database: scheduled before a
/// SIGKILL, they fire after the restart, once each.
async fn sla_timers_survive_a_restart(backend: Backend) -> anyhow::Result<()> {
    use ventanilla_tests::upload_plugin_at;
    let db = TestDb::new(backend).await?;
    let dir = db.dir.display().to_string();
    let envs = [("VENTANILLA_DATA_DIR", dir.as_str()), ("VENTANILLA_DATABASE_URL", db.url.as_str())];
    create_admin_with_binary(&envs, EMAIL, PASSWORD)?;
    let mut server = Server::start(&[], &envs).await?;
    let client = reqwest::Client::new();
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let post =
        |path: &str, body: Value| client.post(format!("{}{path}", server.base)).bearer_auth(&token).json(&body).send();
    let unit: Value = post("/api/v1/units", json!({"slug": "registro", "name": "Registro"})).await?.json().await?;
    let unit = unit["id"].as_str().unwrap_or_default().to_owned();
    post(
        "/api/v1/users",
        json!({"email": "sup@durable.test", "display_name": "Supervisora",
        "password": PASSWORD, "memberships": [{"unit_id": unit, "role": "supervisor"}]}),
    )
    .await?;
    let uploaded = upload_plugin_at(&client, &server.base, &token, "escalation-sla", "1.0.0", |m| m).await?;
    anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
    let settings = json!({"business_hours": false, "warn_percent": 50,
        "policies": {"normal": {"first_response_minutes": 0.1, "resolution_minutes": 60}}});
    let install = post(
        "/api/v1/plugin-installs",
        json!({"plugin_id": "escalation-sla", "version": "1.0.0",
        "name": "SLA", "settings": settings, "grants": {"kv": true}, "units": [unit]}),
    )
    .await?;
    anyhow::ensure!(install.status() == 201, "{}", install.text().await?);
    let case: Value = post(
        "/api/v1/cases",
        json!({"subject": "Certificado", "channel": "sms", "unit_id": unit,
        "contact": {"identities": [{"channel": "sms", "value": "+573001234567"}]},
        "first_message": {"body": "Necesito un certificado"}}),
    )
    .await?
    .json()
    .await?;
    let id = case["id"].as_str().unwrap_or_default().to_owned();
    let sla_of = |base: String, token: String| {
        let (client, id) = (client.clone(), id.clone());
        async move {
            let case: Value = client
                .get(format!("{base}/api/v1/cases/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let first = case["sla"].as_array()?.iter().find(|t| t["name"] == "first_response")?.clone();
            Some((first["state"].as_str()?.to_owned(), case["priority"].as_str()?.to_owned()))
        }
    };
    // The warning fires at 3 s and the deadline is set for 6 s; then the server dies.
    let warned = ventanilla_tests::eventually(std::time::Duration::from_secs(15), || {
        let check = sla_of(server.base.clone(), token.clone());
        async move { check.await.filter(|(state, _)| state == "warning") }
    })
    .await;
    anyhow::ensure!(warned.is_some(), "no warning before the kill");
    // The warning's job is done once its notification is committed; a kill
    // before that would leave the job to its lease, not to this test.
    let supervisor = login_at(&client, &server.base, "sup@durable.test", PASSWORD).await?;
    let notified = ventanilla_tests::eventually(std::time::Duration::from_secs(10), || {
        let (client, base, supervisor) = (client.clone(), server.base.clone(), supervisor.clone());
        async move {
            let told: Value = client
                .get(format!("{base}/api/v1/notifications"))
                .bearer_auth(&supervisor)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            told.to_string().contains("está por vencer").then_some(())
        }
    })
    .await;
    anyhow::ensure!(notified.is_some(), "the warning was never committed");
    server.kill();
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;

    let server = Server::start(&[], &envs).await?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    // The plugin's `sla.set` is stored while it runs and its actions (the
    // priority raise) commit right after: wait for both.
    let breached = ventanilla_tests::eventually(std::time::Duration::from_secs(30), || {
        let check = sla_of(server.base.clone(), token.clone());
        async move { check.await.filter(|(state, priority)| state == "breached" && priority == "high") }
    })
    .await;
    let last = sla_of(server.base.clone(), token.clone()).await;
    anyhow::ensure!(breached.is_some(), "not breached and escalated after the restart: {last:?}");
    // Each timer fired once: one warning, one breach, one priority raise.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let supervisor = login_at(&client, &server.base, "sup@durable.test", PASSWORD).await?;
    let told: Value = client
        .get(format!("{}/api/v1/notifications", server.base))
        .bearer_auth(&supervisor)
        .send()
        .await?
        .json()
        .await?;
    let texts: Vec<&str> = told["items"].as_array().into_iter().flatten().filter_map(|n| n["text"].as_str()).collect();
    anyhow::ensure!(texts.iter().filter(|t| t.contains("incumplió")).count() == 1, "{texts:?}");
    anyhow::ensure!(texts.iter().filter(|t| t.contains("está por vencer")).count() == 1, "{texts:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sla_timers_survive_a_restart_sqlite() -> anyhow::Result<()> {
    sla_timers_survive_a_restart(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sla_timers_survive_a_restart_postgres() -> anyhow::Result<()> {
    sla_timers_survive_a_restart(Backend::Postgres).await
}

/// An erasure killed at any moment is finished by the restarted server:
/// no half-erased person is left.
async fn erasure_survives_sigkill(backend: Backend) -> anyhow::Result<()> {
    let db = TestDb::new(backend).await?;
    let dir = db.dir.display().to_string();
    let envs = [
        ("VENTANILLA_DATA_DIR", dir.as_str()),
        ("VENTANILLA_DATABASE_URL", db.url.as_str()),
        ("VENTANILLA_PRIVACY__REQUESTS_UNIT", "admisiones"),
        // A job of a killed server is taken again soon.
        ("VENTANILLA_HTTP__JOB_LEASE_SECS", "2"),
    ];
    create_admin_with_binary(&envs, EMAIL, PASSWORD)?;
    let mut server = Server::start(&[], &envs).await?;
    let client = reqwest::Client::new();
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let base = server.base.clone();
    let post = |path: String, body: Value| {
        let request = client.post(format!("{base}/api/v1{path}")).bearer_auth(&token).json(&body).send();
        async move { anyhow::Ok(request.await?.json::<Value>().await?) }
    };
    let unit = post("/units".into(), json!({"slug": "admisiones", "name": "Admisiones"})).await?;
    let unit = unit["id"].as_str().unwrap_or_default().to_owned();
    let mut cases = vec![];
    let mut contact = String::new();
    for i in 0..8 {
        let mut body = json!({"subject": format!("Trámite {i} de Ana Gómez"), "channel": "sms", "unit_id": unit,
            "first_message": {"body": format!("Soy Ana Gómez, documento 10203040{i:02}")}});
        if contact.is_empty() {
            body["contact"] =
                json!({"name": "Ana Gómez", "identities": [{"channel": "sms", "value": "+573001110001"}]});
        } else {
            body["contact_id"] = json!(contact);
        }
        let case = post("/cases".into(), body).await?;
        contact = case["contact_id"].as_str().unwrap_or_default().to_owned();
        let id = case["id"].as_str().unwrap_or_default().to_owned();
        for j in 0..15 {
            post(
                format!("/cases/{id}/messages"),
                json!({"body": format!("Ana escribe {j}: mi correo es ana{j}@correo.co"), "author_kind": "contact"}),
            )
            .await?;
        }
        cases.push(id);
    }
    let request = post(format!("/contacts/{contact}/requests"), json!({"kind": "erasure"})).await?;
    let started =
        post(format!("/data-requests/{}/erase", request["id"].as_str().unwrap_or_default()), json!({})).await?;
    anyhow::ensure!(started["status"] == "started", "{started}");
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    server.kill();

    let server = Server::start(&[], &envs).await?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let erased = ventanilla_tests::eventually(std::time::Duration::from_secs(60), || async {
        let person: Value = client
            .get(format!("{}/api/v1/contacts/{contact}", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        person["erased_at"].is_string().then_some(person)
    })
    .await;
    let Some(person) = erased else { anyhow::bail!("the erasure was never finished after the restart") };
    anyhow::ensure!(person["name"].is_null() && person["identities"].as_array().is_some_and(Vec::is_empty), "{person}");
    for id in &cases {
        let messages: Value = client
            .get(format!("{}/api/v1/cases/{id}/messages?limit=100", server.base))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let items = messages["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.len() == 16, "the messages stay, anonymous: {}", items.len());
        let text = serde_json::to_string(&items)?;
        anyhow::ensure!(
            !text.contains("Ana") && !text.contains("correo.co") && !text.contains("10203040"),
            "half-erased: {text}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_survives_sigkill_sqlite() -> anyhow::Result<()> {
    erasure_survives_sigkill(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_survives_sigkill_postgres() -> anyhow::Result<()> {
    erasure_survives_sigkill(Backend::Postgres).await
}
