//! Outbound deliveries that fail for a while (issue 27): a case's messages
//! still reach the person in the order they were written, and while one is
//! retried it says why and when, in the API and in the install's health.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{
    FakeProvider, TestApp, eventually, install_plugin, on_both, set_secret, spawn_app, spawn_app_with,
    upload_plugin_with,
};

const WAIT: Duration = Duration::from_secs(30);

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// A server whose deliveries are retried quickly, with the test connector
/// (`hostile-connector`) sending to `provider`, and a case of its account.
struct Conversation {
    app: TestApp,
    provider: FakeProvider,
    install: String,
    case: String,
}

impl Conversation {
    async fn start(backend: ventanilla_tests::Backend, attempts: i32, first_wait_secs: f64) -> anyhow::Result<Self> {
        let provider = FakeProvider::start().await?;
        let port = provider.port;
        let app = spawn_app_with(backend, |c| {
            c.plugins.private_hosts = vec![format!("localhost:{port}")];
            c.channels.delivery.attempts = attempts;
            c.channels.delivery.first_wait_secs = first_wait_secs;
            c.channels.delivery.max_wait_secs = first_wait_secs * 4.0;
        })
        .await?;
        let unit = app.create_unit("admisiones").await?;
        let settings = json!({"send_url": format!("http://localhost:{port}/messages")});
        let grants = json!({"http_hosts": ["localhost"], "secrets": ["app_secret", "api_token"]});
        let install = id(&install_plugin(&app, "hostile-connector", settings, grants, &[unit.as_str()]).await?);
        set_secret(&app, &install, "app_secret", "app-secret-123").await?;
        set_secret(&app, &install, "api_token", "tok").await?;
        let hello = json!({"messages": [{"id": "m1", "from": "+573005550199", "text": "Hola"}]}).to_string();
        let signature = ventanilla::secrets::hmac_sha256_hex(b"app-secret-123", hello.as_bytes());
        let reply = app
            .client
            .post(app.url(&format!("/api/v1/webhooks/{install}")))
            .header("x-fake-signature", signature)
            .body(hello)
            .send()
            .await?;
        anyhow::ensure!(reply.status() == 200, "{}", reply.text().await?);
        let case = id(&app.only_case().await?);
        Ok(Conversation { app, provider, install, case })
    }

    async fn reply(&self, body: &str) -> anyhow::Result<String> {
        let path = format!("/api/v1/cases/{}/messages", self.case);
        Ok(id(&self.app.post_ok(&path, &self.app.admin_token, json!({"body": body}), 201).await?))
    }

    async fn message(&self, message: &str) -> Option<Value> {
        let all = self.app.messages(&self.case).await.ok()?;
        all.into_iter().find(|m| m["id"] == message)
    }

    /// The texts the provider was asked to send, in the order it was asked.
    fn sent_texts(&self) -> Vec<String> {
        let texts = self.provider.requests().into_iter().filter(|r| r.path == "/messages");
        texts.filter_map(|r| serde_json::from_str::<Value>(&r.body).ok()?["text"].as_str().map(str::to_owned)).collect()
    }

    async fn until(&self, message: &str, what: &str, check: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let found = eventually(WAIT, || async { self.message(message).await.filter(|m| check(m)) }).await;
        match found {
            Some(m) => Ok(m),
            None => anyhow::bail!("{what}: {:?}, sent {:?}", self.message(message).await, self.sent_texts()),
        }
    }
}

on_both! {
    async fn a_later_message_waits_for_an_earlier_one_being_retried(backend) {
        let talk = Conversation::start(backend, 10, 1.0).await?;
        // The provider is down for the first three tries.
        talk.provider.answer(&[503, 503, 503]);
        let first = talk.reply("Primero: su solicitud fue recibida").await?;
        // While the first is retried, it says why and when.
        let retrying = talk.until(&first, "the first says why it waits", |m| m["delivery_attempts"].as_i64() >= Some(1)).await?;
        anyhow::ensure!(retrying["delivery_status"] == "pending", "{retrying}");
        anyhow::ensure!(retrying["delivery_error"].as_str().is_some_and(|e| e.contains("503")), "{retrying}");
        anyhow::ensure!(retrying["next_attempt_at"].is_string(), "{retrying}");
        let second = talk.reply("Segundo: le escribiremos con la fecha").await?;
        let waiting = talk.until(&second, "the second waits behind the first", |m| m["waiting_for"] == first.as_str()).await?;
        anyhow::ensure!(waiting["delivery_status"] == "pending" && waiting["next_attempt_at"].is_string(), "{waiting}");
        // The install's health counts the provider's refusals.
        let health = talk.app.get(&format!("/api/v1/plugin-installs/{}/health", talk.install), &talk.app.admin_token).await?;
        anyhow::ensure!(health.body["send_failures"].as_u64() >= Some(1), "{}", health.text);
        anyhow::ensure!(health.body["last_error"].as_str().is_some_and(|e| e.contains("503")), "{}", health.text);
        anyhow::ensure!(health.body["consecutive_failures"] == 0 && health.body["status"] == "active", "{}", health.text);
        // Both go out, the first first, and neither still says it waits.
        let sent = talk.until(&second, "the second is sent", |m| m["delivery_status"] == "sent").await?;
        anyhow::ensure!(sent["waiting_for"].is_null() && sent["next_attempt_at"].is_null(), "{sent}");
        let first = talk.until(&first, "the first is sent", |m| m["delivery_status"] == "sent").await?;
        anyhow::ensure!(first["delivery_attempts"] == 4 && first["delivery_error"].is_null(), "{first}");
        let texts = talk.sent_texts();
        let order: Vec<&str> = texts.iter().map(|t| t.split(':').next().unwrap_or_default()).collect();
        anyhow::ensure!(order == ["Primero", "Primero", "Primero", "Primero", "Segundo"], "{texts:?}");
        Ok(())
    }

    async fn a_message_given_up_on_lets_the_next_one_go(backend) {
        let talk = Conversation::start(backend, 3, 0.3).await?;
        talk.provider.answer(&[503, 503, 503]);
        let first = talk.reply("Primero").await?;
        let second = talk.reply("Segundo").await?;
        let failed = talk.until(&first, "the first is given up on", |m| m["delivery_status"] == "failed").await?;
        anyhow::ensure!(failed["delivery_attempts"] == 3, "{failed}");
        anyhow::ensure!(failed["delivery_error"].as_str().is_some_and(|e| e.contains("503")), "{failed}");
        talk.until(&second, "the second is sent after it", |m| m["delivery_status"] == "sent").await?;
        anyhow::ensure!(talk.sent_texts() == ["Primero", "Primero", "Primero", "Segundo"], "{:?}", talk.sent_texts());
        // Sent again by an agent, the failed one goes out now.
        let path = format!("/api/v1/cases/{}/messages/{first}/retry", talk.case);
        talk.app.post_ok(&path, &talk.app.admin_token, json!({}), 202).await?;
        talk.until(&first, "sent again", |m| m["delivery_status"] == "sent").await?;
        Ok(())
    }

    async fn an_agent_can_try_a_retried_message_now(backend) {
        // Waits long enough that only the agent's request can explain a send.
        let talk = Conversation::start(backend, 10, 600.0).await?;
        talk.provider.answer(&[503]);
        let first = talk.reply("Primero").await?;
        let second = talk.reply("Segundo").await?;
        talk.until(&second, "the second waits", |m| m["waiting_for"] == first.as_str()).await?;
        // The one that waits cannot jump the queue...
        let path = |m: &str| format!("/api/v1/cases/{}/messages/{m}/retry", talk.case);
        let jump = talk.app.post(&path(&second), &talk.app.admin_token, json!({})).await?;
        anyhow::ensure!(jump.status == 409 && jump.body["errors"][0]["field"] == "waiting_for", "{}", jump.text);
        // ...but the one retried is tried now, and the other follows it.
        talk.app.post_ok(&path(&first), &talk.app.admin_token, json!({}), 202).await?;
        talk.until(&second, "both sent", |m| m["delivery_status"] == "sent").await?;
        anyhow::ensure!(talk.sent_texts() == ["Primero", "Primero", "Segundo"], "{:?}", talk.sent_texts());
        Ok(())
    }

    async fn a_provider_ventanilla_has_no_name_for_is_its_own_channel(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        // The same connector, once as WhatsApp and once as a channel of its own.
        let mut installs = vec![];
        for (plugin, channel) in [("fake-whatsapp", "whatsapp"), ("fake-voice", "other")] {
            let uploaded = upload_plugin_with(&app, "hostile-connector", "1.0.0", |m| {
                m.replace("id = \"hostile-connector\"", &format!("id = \"{plugin}\""))
                    .replace("channel = \"whatsapp\"", &format!("channel = \"{channel}\""))
            })
            .await?;
            anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
            let body = json!({"plugin_id": plugin, "name": plugin, "settings": {}, "grants": {"secrets": ["app_secret"]}, "units": [unit]});
            let install = id(&app.post_ok("/api/v1/plugin-installs", &app.admin_token, body, 201).await?);
            set_secret(&app, &install, "app_secret", "app-secret-123").await?;
            installs.push(install);
        }
        // One phone number writes through both.
        for (n, install) in installs.iter().enumerate() {
            let hello = json!({"messages": [{"id": format!("m{n}"), "from": "+573005550199", "text": "Hola"}]}).to_string();
            let signature = ventanilla::secrets::hmac_sha256_hex(b"app-secret-123", hello.as_bytes());
            let reply = app.client.post(app.url(&format!("/api/v1/webhooks/{install}")))
                .header("x-fake-signature", signature).body(hello).send().await?;
            anyhow::ensure!(reply.status() == 200, "{}", reply.text().await?);
        }
        let cases = app.get("/api/v1/cases?limit=10", &app.admin_token).await?;
        let items = cases.body["items"].as_array().cloned().unwrap_or_default();
        let mut channels: Vec<&str> = items.iter().filter_map(|c| c["channel"].as_str()).collect();
        channels.sort();
        anyhow::ensure!(channels == ["other", "whatsapp"], "{}", cases.text);
        // Two people as far as Ventanilla knows: an `other` identity is never
        // merged with a phone number on WhatsApp or SMS.
        let contacts: std::collections::HashSet<&str> = items.iter().filter_map(|c| c["contact_id"].as_str()).collect();
        anyhow::ensure!(contacts.len() == 2, "{}", cases.text);
        Ok(())
    }
}
