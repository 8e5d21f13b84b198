//! Channels across SIGKILL, with the real binary and the real WhatsApp
//! connector: every acknowledged webhook message exists exactly once after
//! restarts, providers' retries of unacknowledged ones are taken once, and
//! a send whose provider answer arrived but was not recorded before a crash
//! is not sent again.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ventanilla_tests::{Backend, FakeProvider, Server, TestDb, create_admin_with_binary, login_at, upload_plugin_at};

const EMAIL: &str = "admin@canales.test";
const PASSWORD: &str = "clave de canales segura";
const APP_SECRET: &str = "wa-app-secret-0123";
const PHONE_ID: &str = "106540352242922";

/// Installs the WhatsApp connector on a new unit; returns the install id.
async fn whatsapp(client: &reqwest::Client, base: &str, token: &str, api: &str) -> anyhow::Result<String> {
    let unit: Value = client
        .post(format!("{base}/api/v1/units"))
        .bearer_auth(token)
        .json(&json!({"slug": "admisiones", "name": "Admisiones"}))
        .send()
        .await?
        .json()
        .await?;
    let uploaded = upload_plugin_at(client, base, token, "whatsapp-cloud", "1.0.0", |m| {
        m.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
    })
    .await?;
    anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
    let install: Value = client
        .post(format!("{base}/api/v1/plugin-installs"))
        .bearer_auth(token)
        .json(&json!({"plugin_id": "whatsapp-cloud", "version": "1.0.0", "name": "WhatsApp",
            "settings": {"phone_number_id": PHONE_ID, "api_base_url": api},
            "grants": {"http_hosts": ["localhost"], "secrets": ["app_secret", "access_token"]},
            "units": [unit["id"]]}))
        .send()
        .await?
        .json()
        .await?;
    let id = install["id"].as_str().unwrap_or_default().to_owned();
    for (name, value) in [("app_secret", APP_SECRET), ("access_token", "EAAG-token")] {
        let reply = client
            .put(format!("{base}/api/v1/plugin-installs/{id}/secrets/{name}"))
            .bearer_auth(token)
            .json(&json!({"value": value}))
            .send()
            .await?;
        anyhow::ensure!(reply.status() == 204, "secret {name}: {}", reply.status());
    }
    Ok(id)
}

fn webhook(message_id: &str, from: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1555", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Persona"}, "wa_id": from}],
        "messages": [{"id": message_id, "from": from, "timestamp": "1732300000", "type": "text", "text": {"body": message_id}}],
    }}]}]})
    .to_string()
}

fn sign(body: &str) -> String {
    format!("sha256={}", ventanilla::secrets::hmac_sha256_hex(APP_SECRET.as_bytes(), body.as_bytes()))
}

/// Provider message ids stored for the install, with how often each appears.
async fn stored_ids(url: &str, install: &str) -> anyhow::Result<Vec<String>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    use ventanilla::store::message::entity;
    let store = ventanilla::store::Store::connect(url, 2).await?;
    let ids: Vec<Option<String>> = entity::Entity::find()
        .select_only()
        .column(entity::Column::ProviderMessageId)
        .filter(entity::Column::ChannelInstallId.eq(uuid::Uuid::parse_str(install)?))
        .filter(entity::Column::Direction.eq("inbound"))
        .into_tuple()
        .all(&store.db)
        .await?;
    Ok(ids.into_iter().flatten().collect())
}

async fn webhooks_survive_sigkill(backend: Backend) -> anyhow::Result<()> {
    let db = TestDb::new(backend).await?;
    let dir = db.dir.display().to_string();
    let envs = [("VENTANILLA_DATA_DIR", dir.as_str()), ("VENTANILLA_DATABASE_URL", db.url.as_str())];
    create_admin_with_binary(&envs, EMAIL, PASSWORD)?;
    let mut server = Server::start(&[], &envs).await?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let install = whatsapp(&client, &server.base, &token, "http://localhost:9").await?;

    // Providers retry whatever was not acknowledged with a 200 until it is.
    let base = Arc::new(Mutex::new(server.base.clone()));
    let acknowledged = Arc::new(Mutex::new(HashSet::<String>::new()));
    let (senders, per_sender) = (8, 60);
    let mut providers = vec![];
    for sender in 0..senders {
        let (client, base, acknowledged, install) =
            (client.clone(), base.clone(), acknowledged.clone(), install.clone());
        providers.push(tokio::spawn(async move {
            let from = format!("57300{sender:07}");
            for n in 0..per_sender {
                let id = format!("wamid.S{sender}N{n}");
                let body = webhook(&id, &from);
                let deadline = std::time::Instant::now() + Duration::from_secs(120);
                while std::time::Instant::now() < deadline {
                    let url =
                        format!("{}/api/v1/webhooks/{install}", base.lock().map(|b| b.clone()).unwrap_or_default());
                    let sent =
                        client.post(url).header("x-hub-signature-256", sign(&body)).body(body.clone()).send().await;
                    if sent.is_ok_and(|r| r.status() == 200) {
                        if let Ok(mut ids) = acknowledged.lock() {
                            ids.insert(id.clone());
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // Kill the server three times while webhooks are in flight.
    let total = senders * per_sender;
    for round in 1..=3 {
        let n_seen = || acknowledged.lock().map_or(0, |ids| ids.len());
        let target = total * round / 4;
        ventanilla_tests::eventually(Duration::from_secs(120), || {
            let n = n_seen();
            async move { (n >= target).then_some(()) }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rand_ms(round))).await;
        server.kill();
        server = Server::start(&[], &envs).await?;
        if let Ok(mut b) = base.lock() {
            *b = server.base.clone();
        }
    }
    for provider in providers {
        provider.await?;
    }
    let acknowledged = acknowledged.lock().map(|ids| ids.clone()).unwrap_or_default();
    anyhow::ensure!(acknowledged.len() == total, "only {} of {total} were ever acknowledged", acknowledged.len());
    let stored = stored_ids(&db.url, &install).await?;
    let unique: HashSet<&String> = stored.iter().collect();
    anyhow::ensure!(unique.len() == stored.len(), "{} duplicates stored", stored.len() - unique.len());
    let missing: Vec<_> = acknowledged.iter().filter(|id| !unique.contains(id)).collect();
    anyhow::ensure!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    anyhow::ensure!(stored.len() == total, "{} stored, {total} sent", stored.len());
    Ok(())
}

/// A pseudo-random pause from the clock, so each run kills at another moment.
fn rand_ms(round: usize) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    u64::from(nanos % 150) + round as u64 * 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_survive_sigkill_sqlite() -> anyhow::Result<()> {
    webhooks_survive_sigkill(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_survive_sigkill_postgres() -> anyhow::Result<()> {
    webhooks_survive_sigkill(Backend::Postgres).await
}

/// The provider accepted a send and its answer is journaled, but the
/// process dies before the message is marked sent: after the restart the
/// job runs again and is answered from the journal, so the person gets the
/// message once. PostgreSQL only: the test holds the message's row lock to
/// stop the server between the two moments, which SQLite's single writer
/// cannot do without also stopping the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_send_and_commit_sends_once() -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let provider = FakeProvider::start().await?;
    provider.succeed_with(r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.OUT{n}"}]}"#);
    let db = TestDb::new(Backend::Postgres).await?;
    let dir = db.dir.display().to_string();
    let private = format!("[\"localhost:{}\"]", provider.port);
    let envs = [
        ("VENTANILLA_DATA_DIR", dir.as_str()),
        ("VENTANILLA_DATABASE_URL", db.url.as_str()),
        ("VENTANILLA_PLUGINS__PRIVATE_HOSTS", private.as_str()),
        ("VENTANILLA_HTTP__JOB_LEASE_SECS", "2"),
    ];
    create_admin_with_binary(&envs, EMAIL, PASSWORD)?;
    let mut server = Server::start(&[], &envs).await?;
    let client = reqwest::Client::new();
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let install = whatsapp(&client, &server.base, &token, &format!("http://localhost:{}", provider.port)).await?;
    let hook = format!("{}/api/v1/webhooks/{install}", server.base);
    let body = webhook("wamid.IN1", "573001112233");
    anyhow::ensure!(
        client.post(&hook).header("x-hub-signature-256", sign(&body)).body(body).send().await?.status() == 200
    );
    let cases: Value =
        client.get(format!("{}/api/v1/cases", server.base)).bearer_auth(&token).send().await?.json().await?;
    let case_id = cases["items"][0]["id"].as_str().unwrap_or_default().to_owned();

    // The provider answers after a pause; meanwhile the test locks the
    // message's row, so recording the send blocks after the answer is journaled.
    provider.delay(Duration::from_millis(1500));
    let sent: Value = client
        .post(format!("{}/api/v1/cases/{case_id}/messages", server.base))
        .bearer_auth(&token)
        .json(&json!({"body": "Respuesta única"}))
        .send()
        .await?
        .json()
        .await?;
    let message_id = sent["id"].as_str().unwrap_or_default().to_owned();
    let seen = ventanilla_tests::eventually(Duration::from_secs(20), || async {
        (!provider.requests().is_empty()).then_some(())
    })
    .await;
    anyhow::ensure!(seen.is_some(), "the send never reached the provider");
    let store = ventanilla::store::Store::connect(&db.url, 2).await?;
    let lock = store.db.begin().await?;
    lock.execute_unprepared(&format!("SELECT id FROM messages WHERE id = '{message_id}' FOR UPDATE")).await?;
    let journaled = ventanilla_tests::eventually(Duration::from_secs(20), || async {
        let row = store.db.query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT 1 AS one FROM send_journal WHERE idempotency_key = '{message_id}'"),
        ));
        row.await.ok().flatten().map(|_| ())
    })
    .await;
    anyhow::ensure!(journaled.is_some(), "the provider's answer was never journaled");
    server.kill();
    lock.rollback().await?;

    provider.delay(Duration::ZERO);
    let server = Server::start(&[], &envs).await?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let delivered = ventanilla_tests::eventually(Duration::from_secs(30), || async {
        let messages: Value = client
            .get(format!("{}/api/v1/cases/{case_id}/messages", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        messages["items"]
            .as_array()?
            .iter()
            .find(|m| m["id"] == message_id.as_str() && m["delivery_status"] == "sent")
            .cloned()
    })
    .await;
    let delivered = delivered.ok_or_else(|| anyhow::anyhow!("never marked sent after the restart"))?;
    anyhow::ensure!(delivered["provider_message_id"] == "wamid.OUT1", "{delivered}");
    anyhow::ensure!(
        provider.requests().len() == 1,
        "sent {} times: {:?}",
        provider.requests().len(),
        provider.requests()
    );
    let left = store.db.query_one_raw(sea_orm::Statement::from_string(
        sea_orm::DatabaseBackend::Postgres,
        format!("SELECT 1 AS one FROM send_journal WHERE idempotency_key = '{message_id}'"),
    ));
    anyhow::ensure!(left.await?.is_none(), "the journal is cleared once the send is recorded");
    Ok(())
}

/// A campaign of the WhatsApp account to everyone (a template with their
/// name), launched through the API of the server at `base`; returns its id.
async fn campaign_to_everyone(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    install: &str,
) -> anyhow::Result<String> {
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).bearer_auth(token).json(&body).send();
    let units: Value = client.get(format!("{base}/api/v1/units")).bearer_auth(token).send().await?.json().await?;
    let unit = units["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let days: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
        .collect();
    let hours = client
        .put(format!("{base}/api/v1/units/{unit}/outreach"))
        .bearer_auth(token)
        .json(&json!({"sending_hours": {"weekly": days}}))
        .send()
        .await?;
    anyhow::ensure!(hours.status() == 200, "{}", hours.text().await?);
    let segment: Value = post("/api/v1/segments", json!({"name": "Todos"})).await?.json().await?;
    let template = json!({"name": "recordatorio", "language": "es", "parameters": ["{{name}}"]});
    let campaign: Value = post(
        "/api/v1/campaigns",
        json!({"unit_id": unit, "name": "Recordatorio",
        "segment_id": segment["id"], "channel_install_id": install, "message": {"template": template}}),
    )
    .await?
    .json()
    .await?;
    let id = campaign["id"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!id.is_empty(), "{campaign}");
    let launched = post(&format!("/api/v1/campaigns/{id}/launch"), json!({})).await?;
    anyhow::ensure!(launched.status() == 200, "{}", launched.text().await?);
    Ok(id)
}

/// A campaign killed with SIGKILL three times while it sends: after the
/// restarts it finishes, and nobody is sent it twice. The people whose
/// sends were under way at a kill (at most eight), without the provider's
/// answer journaled, are marked failed rather than risked twice.
async fn a_campaign_killed_midway_sends_nobody_twice(backend: Backend) -> anyhow::Result<()> {
    let provider = FakeProvider::start().await?;
    provider.succeed_with(r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.C{n}"}]}"#);
    provider.delay(Duration::from_millis(15));
    let db = TestDb::new(backend).await?;
    let dir = db.dir.display().to_string();
    let private = format!("[\"localhost:{}\"]", provider.port);
    let envs = [
        ("VENTANILLA_DATA_DIR", dir.as_str()),
        ("VENTANILLA_DATABASE_URL", db.url.as_str()),
        ("VENTANILLA_PLUGINS__PRIVATE_HOSTS", private.as_str()),
        ("VENTANILLA_HTTP__JOB_LEASE_SECS", "2"),
    ];
    create_admin_with_binary(&envs, EMAIL, PASSWORD)?;
    let mut server = Server::start(&[], &envs).await?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build()?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let install = whatsapp(&client, &server.base, &token, &format!("http://localhost:{}", provider.port)).await?;
    let people = 120;
    let rows: Vec<Value> = (0..people)
        .map(|i| {
            json!({"external_id": format!("P{i:04}"), "name": format!("Persona {i}"),
            "whatsapp": format!("57301{i:07}"), "consent.broadcasts": "sí"})
        })
        .collect();
    let imported = client
        .post(format!("{}/api/v1/contacts/import?text_version=v1&given_at=2026-01-01", server.base))
        .bearer_auth(&token)
        .json(&rows)
        .send()
        .await?;
    anyhow::ensure!(imported.status() == 200, "{}", imported.text().await?);
    let id = campaign_to_everyone(&client, &server.base, &token, &install).await?;

    let sent = || provider.requests().into_iter().filter(|r| r.path.ends_with("/messages")).count();
    for round in 1..=3 {
        let target = people * round / 4;
        ventanilla_tests::eventually(Duration::from_secs(60), || {
            let n = sent();
            async move { (n >= target).then_some(()) }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rand_ms(round))).await;
        server.kill();
        server = Server::start(&[], &envs).await?;
    }
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let url = format!("{}/api/v1/campaigns/{id}", server.base);
    let finished = ventanilla_tests::eventually(Duration::from_secs(90), || async {
        let campaign: Value = client.get(&url).bearer_auth(&token).send().await.ok()?.json().await.ok()?;
        (campaign["status"] == "finished").then_some(campaign)
    })
    .await;
    let finished = finished.ok_or_else(|| anyhow::anyhow!("never finished after the restarts"))?;
    let counts = &finished["recipients"];
    let to: Vec<String> = provider
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/messages"))
        .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok()?["to"].as_str().map(str::to_owned))
        .collect();
    let unique: HashSet<&String> = to.iter().collect();
    anyhow::ensure!(unique.len() == to.len(), "{} sent twice: {counts}", to.len() - unique.len());
    let (sent, failed) = (counts["sent"].as_u64().unwrap_or(0), counts["failed"].as_u64().unwrap_or(0));
    anyhow::ensure!(counts["total"] == people && sent + failed == people as u64, "{counts}");
    anyhow::ensure!(failed <= 3 * 8, "at most the eight sends under way are cut short per kill: {counts}");
    anyhow::ensure!(unique.len() as u64 >= sent, "every send recorded reached the provider: {counts}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_killed_midway_sends_nobody_twice_sqlite() -> anyhow::Result<()> {
    a_campaign_killed_midway_sends_nobody_twice(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_killed_midway_sends_nobody_twice_postgres() -> anyhow::Result<()> {
    a_campaign_killed_midway_sends_nobody_twice(Backend::Postgres).await
}
