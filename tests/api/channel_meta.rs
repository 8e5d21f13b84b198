//! The Messenger and Instagram connectors (one shared crate), loaded by the
//! real host: webhooks in the shapes Meta documents, signed in the test;
//! sends checked against a local stand-in of the Graph API; the standard
//! 24-hour window and the `HUMAN_AGENT` tag after it (WIT 1.1 `outbound`).

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{
    Backend, FakeProvider, Reply, TestApp, eventually, install_plugin, install_plugin_with, on_both, set_secret,
    spawn_app_with,
};

const WAIT: Duration = Duration::from_secs(30);
const PAGE_ID: &str = "104812345678901";
/// The server\'s public address: links to files sent start with it.
const PUBLIC: &str = "https://ayuda.uni.edu.co";
const IG_ID: &str = "17841400000000001";
const APP_SECRET: &str = "meta-app-secret-456";
const VERIFY_TOKEN: &str = "verifica-messenger";
const ACCESS_TOKEN: &str = "EAAP-page-token-abc";
const PSID: &str = "6543210987654321";

struct Meta {
    app: TestApp,
    provider: FakeProvider,
    install: String,
    unit: String,
    object: &'static str,
    account: &'static str,
}

async fn meta(backend: Backend, plugin: &'static str) -> anyhow::Result<Meta> {
    let provider = FakeProvider::start().await?;
    provider.succeed_with(&format!(r#"{{"recipient_id":"{PSID}","message_id":"m_OUT{{n}}"}}"#));
    // Messenger answers the first and last name; Instagram the name and username.
    provider
        .on_get(&format!("/{PSID}?fields=first_name"), json!({"first_name": "Ana", "last_name": "Gómez", "id": PSID}));
    provider.on_get(&format!("/{PSID}?fields=name"), json!({"name": "Ana Gómez", "username": "ana.gomez", "id": PSID}));
    let port = provider.port;
    let app = spawn_app_with(backend, |c| {
        c.plugins.private_hosts = vec![format!("localhost:{port}")];
        c.public_url = Some(PUBLIC.into());
    })
    .await?;
    let unit = app.create_unit("registro").await?;
    let (object, account, setting) =
        if plugin == "messenger" { ("page", PAGE_ID, "page_id") } else { ("instagram", IG_ID, "instagram_account_id") };
    let settings = json!({setting: account, "api_base_url": format!("http://localhost:{port}")});
    let grants = json!({"kv": true, "http_hosts": ["graph.facebook.com", "localhost"], "secrets": ["app_secret", "verify_token", "access_token"]});
    let install = install_plugin_with(&app, plugin, settings, grants, &[unit.as_str()], |manifest| {
        manifest.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
    })
    .await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    for (name, value) in [("app_secret", APP_SECRET), ("verify_token", VERIFY_TOKEN), ("access_token", ACCESS_TOKEN)] {
        set_secret(&app, &install, name, value).await?;
    }
    Ok(Meta { app, provider, install, unit, object, account })
}

fn sign(body: &str) -> String {
    format!("sha256={}", ventanilla::secrets::hmac_sha256_hex(APP_SECRET.as_bytes(), body.as_bytes()))
}

impl Meta {
    /// A webhook with these `messaging` events for our account.
    fn events(&self, events: Value) -> String {
        json!({"object": self.object, "entry": [{"id": self.account, "time": 1_732_300_000_000_i64, "messaging": events}]})
            .to_string()
    }

    /// One event from the person to our account.
    fn person_says(&self, fields: Value) -> String {
        let mut event =
            json!({"sender": {"id": PSID}, "recipient": {"id": self.account}, "timestamp": 1_732_300_000_000_i64});
        if let (Some(target), Some(extra)) = (event.as_object_mut(), fields.as_object()) {
            target.extend(extra.clone());
        }
        self.events(json!([event]))
    }

    async fn post(&self, body: &str, signature: Option<&str>) -> anyhow::Result<Reply> {
        let headers: Vec<(&str, &str)> = signature.map(|s| ("x-hub-signature-256", s)).into_iter().collect();
        self.app.webhook(&self.install, body, &headers).await
    }

    async fn deliver(&self, body: &str) -> anyhow::Result<()> {
        let reply = self.post(body, Some(&sign(body))).await?;
        anyhow::ensure!(reply.status == 200 && reply.text == "EVENT_RECEIVED", "{}: {}", reply.status, reply.text);
        Ok(())
    }

    async fn only_case(&self) -> anyhow::Result<Value> {
        self.app.only_case().await
    }

    fn sends(&self) -> Vec<Value> {
        self.provider
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v21.0/me/messages")
            .map(|r| serde_json::from_str(&r.body).unwrap_or_default())
            .collect()
    }

    fn profile_lookups(&self) -> usize {
        self.provider.requests().iter().filter(|r| r.method == "GET").count()
    }
}

on_both! {
    async fn messenger_webhooks_are_verified_and_parsed(backend) {
        let fb = meta(backend, "messenger").await?;
        let hook = format!("/api/v1/webhooks/{}", fb.install);
        let good = format!("{hook}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=8172635");
        let answer = fb.app.client.get(fb.app.url(&good)).send().await?;
        anyhow::ensure!(answer.status() == 200 && answer.text().await? == "8172635");
        let bad = format!("{hook}?hub.mode=subscribe&hub.verify_token=otro&hub.challenge=1");
        anyhow::ensure!(fb.app.client.get(fb.app.url(&bad)).send().await?.status() == 401);

        let hello = fb.person_says(json!({"message": {"mid": "m_IN1", "text": "Buenos días, ¿cómo pido un certificado?"}}));
        anyhow::ensure!(fb.post(&hello, None).await?.status == 401);
        anyhow::ensure!(fb.post(&hello.replace("IN1", "IN0"), Some(&sign(&hello))).await?.status == 401);
        let instagram = json!({"object": "instagram", "entry": []}).to_string();
        let reply = fb.post(&instagram, Some(&sign(&instagram))).await?;
        anyhow::ensure!(reply.status == 400 && reply.text.contains("page"), "{}", reply.text);
        fb.deliver(&hello).await?;
        fb.deliver(&hello).await?;
        let case = fb.only_case().await?;
        anyhow::ensure!(case["channel"] == "messenger" && case["unit_id"] == fb.unit.as_str(), "{case}");
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        // The name comes from the Graph API, asked once for this person.
        let contact = fb.app.get(&format!("/api/v1/contacts/{}", case["contact_id"].as_str().unwrap_or_default()), &fb.app.admin_token).await?;
        anyhow::ensure!(contact.body["name"] == "Ana Gómez", "{}", contact.text);
        let lookup = fb.provider.requests().into_iter().find(|r| r.method == "GET").ok_or_else(|| anyhow::anyhow!("no lookup"))?;
        anyhow::ensure!(lookup.path == format!("/v21.0/{PSID}?fields=first_name,last_name"), "{}", lookup.path);
        anyhow::ensure!(lookup.headers.iter().any(|(k, v)| k == "authorization" && v == &format!("Bearer {ACCESS_TOKEN}")));

        let events = [
            fb.person_says(json!({"message": {"mid": "m_IN2", "text": "Sí", "quick_reply": {"payload": "opt-si"}}})),
            fb.person_says(json!({"postback": {"mid": "m_IN3", "title": "Hablar con una persona", "payload": "HUMANO"}})),
            fb.person_says(json!({"message": {"mid": "m_IN4", "attachments": [
                {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/foto.jpg?_nc_cat=1"}},
                {"type": "file", "payload": {"url": "https://cdn.fbsbx.com/v/t59.2708-21/recibo.pdf"}}]}})),
            fb.person_says(json!({"message": {"mid": "m_IN5", "text": "Aquí estoy", "attachments": [
                {"type": "location", "title": "Sede Norte", "payload": {"coordinates": {"lat": 6.2442, "long": -75.5812}}}]}})),
            fb.person_says(json!({"message": {"mid": "m_IN6", "text": "Respondo", "reply_to": {"mid": "m_IN1"}}})),
            // The page's own messages come back as echoes: not the person's.
            fb.events(json!([{"sender": {"id": PAGE_ID}, "recipient": {"id": PSID}, "timestamp": 1, "message": {"mid": "m_ECHO", "is_echo": true, "text": "eco"}}])),
            // Another page of the same app: another install's.
            json!({"object": "page", "entry": [{"id": "999", "time": 1, "messaging": [{"sender": {"id": PSID}, "recipient": {"id": "999"}, "timestamp": 1, "message": {"mid": "m_OTHER", "text": "otra página"}}]}]}).to_string(),
            fb.person_says(json!({"reaction": {"mid": "m_IN1", "action": "react", "emoji": "❤"}})),
        ];
        for body in &events {
            fb.deliver(body).await?;
        }
        let messages = fb.app.messages(&case_id).await?;
        anyhow::ensure!(messages.len() == 6, "{messages:#?}");
        let by_id = |id: &str| messages.iter().find(|m| m["provider_message_id"] == id).cloned().unwrap_or_default();
        anyhow::ensure!(by_id("m_IN2")["selected_option"] == "opt-si");
        let postback = by_id("m_IN3");
        anyhow::ensure!(postback["body"] == "Hablar con una persona" && postback["selected_option"] == "HUMANO", "{postback}");
        let files = by_id("m_IN4");
        anyhow::ensure!(files["attachments"][0]["content_type"] == "image/jpeg" && files["attachments"][1]["file_name"] == "2-archivo", "{files}");
        let place = by_id("m_IN5")["body"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(place.starts_with("Aquí estoy\n📍 Sede Norte") && place.contains("mlat=6.2442"), "{place}");
        anyhow::ensure!(by_id("m_IN6")["body"] == "Respondo");
        anyhow::ensure!(fb.profile_lookups() == 1, "the name is asked once: {:?}", fb.provider.requests());
        Ok(())
    }

    async fn messenger_replies_follow_the_window_and_the_human_agent_tag(backend) {
        let fb = meta(backend, "messenger").await?;
        install_plugin(&fb.app, "hostile-bot", json!({"mode": "options"}), json!({}), &[fb.unit.as_str()]).await?;
        // Three options from the bot: quick replies.
        fb.deliver(&fb.person_says(json!({"message": {"mid": "m_IN1", "text": "3"}}))).await?;
        let sent = eventually(WAIT, || async { fb.sends().first().cloned() }).await.ok_or_else(|| anyhow::anyhow!("no reply"))?;
        anyhow::ensure!(sent == json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "Elige una opción",
            "quick_replies": [
                {"content_type": "text", "title": "Opción 1", "payload": "opt-1"},
                {"content_type": "text", "title": "Opción 2", "payload": "opt-2"},
                {"content_type": "text", "title": "Opción 3", "payload": "opt-3"}]}}), "{sent}");
        let request = fb.provider.requests().into_iter().find(|r| r.method == "POST").ok_or_else(|| anyhow::anyhow!("no send"))?;
        anyhow::ensure!(request.headers.iter().any(|(k, v)| k == "authorization" && v == &format!("Bearer {ACCESS_TOKEN}")));
        // Labels longer than 20 characters: a numbered list instead.
        fb.deliver(&fb.person_says(json!({"message": {"mid": "m_IN2", "text": "2 largas"}}))).await?;
        let numbered = eventually(WAIT, || async { fb.sends().get(1).cloned() }).await.ok_or_else(|| anyhow::anyhow!("no reply"))?;
        anyhow::ensure!(numbered["message"] == json!({"text": "Elige una opción\n1. Opción 1 con una descripción larga\n2. Opción 2 con una descripción larga"}), "{numbered}");

        let case_id = fb.only_case().await?["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/api/v1/cases/{case_id}/messages");
        // Two days after the person wrote: an agent may still answer, tagged.
        fb.app.age_inbound(&case_id, chrono::Duration::hours(48)).await?;
        let late = fb.app.post_ok(&path, &fb.app.admin_token, json!({"body": "Su certificado está listo"}), 201).await?;
        fb.app.message_in(&case_id, late["id"].as_str().unwrap_or_default(), "sent", &fb.provider).await?;
        let tagged = fb.sends().last().cloned().unwrap_or_default();
        anyhow::ensure!(tagged["messaging_type"] == "MESSAGE_TAG" && tagged["tag"] == "HUMAN_AGENT", "{tagged}");
        // ...but not a bot or an integration.
        let integration = fb.app.create_token(&["cases:read", "cases:write"]).await?;
        let refused = fb.app.post(&path, &integration, json!({"body": "Recordatorio automático", "author_kind": "bot"})).await?;
        anyhow::ensure!(refused.status == 422 && refused.text.contains("only a person on staff"), "{}", refused.text);
        // After seven days nobody may.
        fb.app.age_inbound(&case_id, chrono::Duration::hours(170)).await?;
        let closed = fb.app.post(&path, &fb.app.admin_token, json!({"body": "¿Sigue ahí?"})).await?;
        anyhow::ensure!(closed.status == 422 && closed.text.contains("168 hours"), "{}", closed.text);

        // Meta's rate limit (613) is retried; "outside the window" is final, with a hint.
        fb.deliver(&fb.person_says(json!({"message": {"mid": "m_IN3", "text": "Hola de nuevo"}}))).await?;
        eventually(WAIT, || async { (fb.sends().len() == 4).then_some(()) }).await.ok_or_else(|| anyhow::anyhow!("no bot reply"))?;
        fb.provider.answer_json([(400, json!({"error": {"message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException", "code": 613}}))]);
        let retried = fb.app.post_ok(&path, &fb.app.admin_token, json!({"body": "Con gusto"}), 201).await?;
        fb.app.message_in(&case_id, retried["id"].as_str().unwrap_or_default(), "sent", &fb.provider).await?;
        anyhow::ensure!(fb.sends().iter().filter(|s| s["message"]["text"] == "Con gusto").count() == 2);
        fb.provider.answer_json([(400, json!({"error": {"message": "(#10) This message is sent outside of allowed window.", "type": "OAuthException", "code": 10, "error_subcode": 2018278}}))]);
        let doomed = fb.app.post_ok(&path, &fb.app.admin_token, json!({"body": "Adiós"}), 201).await?;
        let failed = fb.app.message_in(&case_id, doomed["id"].as_str().unwrap_or_default(), "failed", &fb.provider).await?;
        let reason = failed["delivery_error"].as_str().unwrap_or_default();
        anyhow::ensure!(reason.contains("10/2018278") && reason.contains("outside the messaging window"), "{reason}");

        // Delivery receipts name our messages.
        let delivered = fb.person_says(json!({"delivery": {"mids": ["m_OUT1"], "watermark": 1_732_300_100_000_i64}}));
        fb.deliver(&delivered).await?;
        let first = fb.app.messages(&case_id).await?.into_iter().find(|m| m["provider_message_id"] == "m_OUT1").unwrap_or_default();
        anyhow::ensure!(first["delivery_status"] == "delivered", "{first}");
        Ok(())
    }

    async fn files_people_send_are_downloaded_from_the_cdn_without_the_token(backend) {
        let fb = meta(backend, "messenger").await?;
        let cdn = format!("http://localhost:{}/v/t1.15752-9", fb.provider.port);
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR a screenshot".to_vec();
        fb.provider.serve_file("/v/t1.15752-9/captura.png", "image/png", &png);
        fb.provider.serve_file("/v/t1.15752-9/constancia", "application/pdf", b"%PDF-1.5 constancia");
        fb.deliver(&fb.person_says(json!({"message": {"mid": "m_IN4", "attachments": [
            {"type": "image", "payload": {"url": format!("{cdn}/captura.png?_nc_cat=1")}},
            {"type": "file", "payload": {"url": format!("{cdn}/constancia?_nc_cat=2")}}]}}))).await?;
        let files = fb.app.settled_files().await?;
        // The CDN's own type wins over the webhook's guess (Meta says only "image").
        anyhow::ensure!(files[0]["status"] == "kept" && files[0]["content_type"] == "image/png", "{files:?}");
        anyhow::ensure!(files[1]["status"] == "kept" && files[1]["content_type"] == "application/pdf", "{files:?}");
        anyhow::ensure!(fb.app.download(&files[0]).await? == png);
        let downloads: Vec<_> = fb.provider.requests().into_iter().filter(|r| r.path.starts_with("/v/t1.15752-9/")).collect();
        anyhow::ensure!(downloads.len() == 2, "{downloads:?}");
        anyhow::ensure!(downloads.iter().all(|r| !r.headers.iter().any(|(k, _)| k == "authorization")), "the page token stays home: {downloads:?}");
        Ok(())
    }

    async fn instagram_shares_the_platform(backend) {
        let ig = meta(backend, "instagram").await?;
        let page = json!({"object": "page", "entry": []}).to_string();
        anyhow::ensure!(ig.post(&page, Some(&sign(&page))).await?.status == 400);
        ig.deliver(&ig.person_says(json!({"message": {"mid": "aWdfZAG1IN1", "text": "Hola, vi su publicación"}}))).await?;
        ig.deliver(&ig.person_says(json!({"message": {"mid": "aWdfZAG1IN2", "attachments": [
            {"type": "share", "payload": {"url": "https://www.instagram.com/p/Cx1234/"}}]}}))).await?;
        let case = ig.only_case().await?;
        anyhow::ensure!(case["channel"] == "instagram", "{case}");
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let lookup = ig.provider.requests().into_iter().find(|r| r.method == "GET").ok_or_else(|| anyhow::anyhow!("no lookup"))?;
        anyhow::ensure!(lookup.path == format!("/v21.0/{PSID}?fields=name,username"), "{}", lookup.path);
        let contact = ig.app.get(&format!("/api/v1/contacts/{}", case["contact_id"].as_str().unwrap_or_default()), &ig.app.admin_token).await?;
        anyhow::ensure!(contact.body["name"] == "Ana Gómez", "{}", contact.text);
        let messages = ig.app.messages(&case_id).await?;
        anyhow::ensure!(messages.iter().any(|m| m["body"] == "[share] https://www.instagram.com/p/Cx1234/"), "{messages:#?}");

        let path = format!("/api/v1/cases/{case_id}/messages");
        let sent = ig.app.post_ok(&path, &ig.app.admin_token, json!({"body": "¡Gracias por escribirnos!"}), 201).await?;
        let sent_id = sent["id"].as_str().unwrap_or_default().to_owned();
        ig.app.message_in(&case_id, &sent_id, "sent", &ig.provider).await?;
        let body = ig.sends().last().cloned().unwrap_or_default();
        anyhow::ensure!(body == json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "¡Gracias por escribirnos!"}}), "{body}");
        // A file goes by link, before the text.
        let pdf = b"%PDF-1.4 horario".to_vec();
        let with_file = ig.app.send_file(&case_id, "El horario", "application/pdf", "horario.pdf", pdf).await?;
        ig.app.message_in(&case_id, with_file["id"].as_str().unwrap_or_default(), "sent", &ig.provider).await?;
        let sends = ig.sends();
        let file = &sends[sends.len() - 2]["message"]["attachment"];
        anyhow::ensure!(file["type"] == "file" && file["payload"]["url"].as_str().is_some_and(|u| u.starts_with(PUBLIC)), "{sends:?}");
        anyhow::ensure!(sends[sends.len() - 1]["message"] == json!({"text": "El horario"}), "{sends:?}");
        // Instagram's read receipts name the message.
        ig.deliver(&ig.person_says(json!({"read": {"mid": "m_OUT1"}}))).await?;
        ig.app.message_in(&case_id, &sent_id, "read", &ig.provider).await?;
        Ok(())
    }
}
