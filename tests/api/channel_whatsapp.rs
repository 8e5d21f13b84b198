//! The WhatsApp Cloud API connector, loaded by the real host: webhooks in
//! the shapes Meta documents (signed in the test), the subscription
//! handshake, and sends checked request by request against a local
//! stand-in of the Graph API. Also the 24-hour window, templates, retries,
//! dead letters and an agent's retry.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{
    FakeProvider, Reply, TestApp, eventually, install_plugin, install_plugin_with, on_both, set_secret, spawn_app_with,
};

const WAIT: Duration = Duration::from_secs(30);
const PHONE_ID: &str = "106540352242922";
const APP_SECRET: &str = "wa-app-secret-0123";
const VERIFY_TOKEN: &str = "verifica-esto-por-favor";
const ACCESS_TOKEN: &str = "EAAG-access-token-xyz";
const SENDER: &str = "573001234567";

/// A running app with a WhatsApp channel account whose Graph API is `provider`.
struct WhatsApp {
    app: TestApp,
    provider: FakeProvider,
    install: String,
    unit: String,
}

async fn whatsapp(backend: ventanilla_tests::Backend) -> anyhow::Result<WhatsApp> {
    whatsapp_with(backend, |_| {}).await
}

async fn whatsapp_with(
    backend: ventanilla_tests::Backend,
    adjust: impl FnOnce(&mut ventanilla::config::Config),
) -> anyhow::Result<WhatsApp> {
    let provider = FakeProvider::start().await?;
    provider.succeed_with(
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.OUT{n}"}]}"#,
    );
    let port = provider.port;
    let app = spawn_app_with(backend, |c| {
        c.plugins.private_hosts = vec![format!("localhost:{port}")];
        adjust(c);
    })
    .await?;
    let unit = app.create_unit("admisiones").await?;
    let settings = json!({"phone_number_id": PHONE_ID, "api_base_url": format!("http://localhost:{port}")});
    let grants = json!({"http_hosts": ["graph.facebook.com", "localhost"], "secrets": ["app_secret", "verify_token", "access_token"]});
    // The stand-in lives on localhost: grant it next to graph.facebook.com.
    let install = install_plugin_with(&app, "whatsapp-cloud", settings, grants, &[unit.as_str()], |manifest| {
        manifest.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
    })
    .await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    set_secret(&app, &install, "app_secret", APP_SECRET).await?;
    set_secret(&app, &install, "verify_token", VERIFY_TOKEN).await?;
    set_secret(&app, &install, "access_token", ACCESS_TOKEN).await?;
    Ok(WhatsApp { app, provider, install, unit })
}

fn envelope(value: Value) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
        .to_string()
}

fn metadata(phone_id: &str) -> Value {
    json!({"display_phone_number": "15550783881", "phone_number_id": phone_id})
}

/// A notification carrying one message from `SENDER`.
fn inbound(id: &str, mut message: Value) -> String {
    message["id"] = json!(id);
    message["from"] = json!(SENDER);
    message["timestamp"] = json!("1732300000");
    envelope(json!({
        "messaging_product": "whatsapp", "metadata": metadata(PHONE_ID),
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": SENDER}],
        "messages": [message],
    }))
}

fn status(id: &str, state: &str, errors: Value) -> String {
    let mut report = json!({"id": id, "status": state, "timestamp": "1732300100", "recipient_id": SENDER});
    if !errors.is_null() {
        report["errors"] = errors;
    }
    envelope(json!({"messaging_product": "whatsapp", "metadata": metadata(PHONE_ID), "statuses": [report]}))
}

fn sign(body: &str) -> String {
    format!("sha256={}", ventanilla::secrets::hmac_sha256_hex(APP_SECRET.as_bytes(), body.as_bytes()))
}

impl WhatsApp {
    async fn post(&self, body: &str, signature: Option<&str>) -> anyhow::Result<Reply> {
        let headers: Vec<(&str, &str)> = signature.map(|s| ("x-hub-signature-256", s)).into_iter().collect();
        self.app.webhook(&self.install, body, &headers).await
    }

    async fn deliver(&self, body: &str) -> anyhow::Result<()> {
        let reply = self.post(body, Some(&sign(body))).await?;
        anyhow::ensure!(reply.status == 200 && reply.text == "EVENT_RECEIVED", "{}: {}", reply.status, reply.text);
        Ok(())
    }

    /// Posts a signed webhook from a task of its own; its status.
    fn post_soon(&self, body: String) -> tokio::task::JoinHandle<anyhow::Result<u16>> {
        let (client, url) = (self.app.client.clone(), self.app.url(&format!("/api/v1/webhooks/{}", self.install)));
        tokio::spawn(async move {
            let reply = client.post(url).header("x-hub-signature-256", sign(&body)).body(body).send().await?;
            Ok(reply.status().as_u16())
        })
    }

    /// Waits until `n` webhooks wait for (or are in) their commit.
    async fn waiting(&self, n: u32) -> anyhow::Result<()> {
        let reached = eventually(WAIT, || async {
            let now = self.app.metric("ventanilla_webhooks_waiting").await.ok()??;
            (now == f64::from(n)).then_some(())
        })
        .await;
        let now = self.app.metric("ventanilla_webhooks_waiting").await?;
        anyhow::ensure!(reached.is_some(), "{now:?} webhooks waiting, not {n}");
        Ok(())
    }

    async fn only_case(&self) -> anyhow::Result<Value> {
        self.app.only_case().await
    }

    async fn messages(&self, case: &str) -> anyhow::Result<Vec<Value>> {
        self.app.messages(case).await
    }

    async fn message_in(&self, case: &str, id: &str, state: &str) -> anyhow::Result<Value> {
        self.app.message_in(case, id, state, &self.provider).await
    }

    /// The JSON bodies the Graph API stand-in received for sends.
    fn sends(&self) -> Vec<Value> {
        self.provider
            .requests()
            .into_iter()
            .filter(|r| r.path == format!("/v21.0/{PHONE_ID}/messages"))
            .map(|r| serde_json::from_str(&r.body).unwrap_or_default())
            .collect()
    }
}

on_both! {
    async fn the_faq_bot_answers_on_whatsapp_with_buttons(backend) {
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        let kb = app.post_ok("/api/v1/knowledge-bases", &app.admin_token,
            json!({"name": "Preguntas frecuentes", "slug": "faq", "locale": "es"}), 201).await?;
        let kb = kb["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token,
            json!({"title": "Pago de la matrícula", "short_answer": "Paga la matrícula por PSE o en el banco con el recibo del portal.",
                   "body": "El recibo se descarga del portal estudiantil.", "keywords": ["pagar", "matricula", "recibo"],
                   "status": "published", "locale": "es"}), 201).await?;
        let indexed = eventually(WAIT, || async {
            let reply = app.client.get(app.url(&format!("/api/v1/knowledge-bases/{kb}/search")))
                .query(&[("q", "Pago de la matrícula")]).send().await.ok()?;
            let body: Value = reply.json().await.ok()?;
            (!body["hits"].as_array()?.is_empty()).then_some(())
        }).await;
        anyhow::ensure!(indexed.is_some(), "the article never became searchable");
        install_plugin(app, "faq-bot", json!({"bot_name": "Vale"}), json!({"kv": true, "kb_search": true}), &[]).await?;
        let surveyed = app.patch(&format!("/api/v1/units/{}", wa.unit), &app.admin_token,
            json!({"survey": {"enabled": true, "scale": "faces"}})).await?;
        anyhow::ensure!(surveyed.status == 200, "{}", surveyed.text);

        wa.deliver(&inbound("wamid.FAQ1", json!({"type": "text", "text": {"body": "¿cómo pago la matrícula?"}}))).await?;
        let sends = eventually(WAIT, || async {
            let sends = wa.sends();
            (sends.len() >= 3).then_some(sends)
        }).await.unwrap_or_default();
        anyhow::ensure!(sends.len() == 3, "{sends:?}");
        anyhow::ensure!(sends[0]["text"]["body"].as_str().is_some_and(|t| t.contains("Vale") && t.contains("bot")), "{sends:?}");
        anyhow::ensure!(sends[1]["text"]["body"].as_str().is_some_and(|t| t.contains("PSE") && t.contains("/help/faq/es/articles/")), "{sends:?}");
        let ids: Vec<&str> = sends[2]["interactive"]["action"]["buttons"].as_array().into_iter().flatten()
            .filter_map(|b| b["reply"]["id"].as_str()).collect();
        anyhow::ensure!(ids == ["faq:yes", "faq:no", "faq:human"], "{}", sends[2]);
        // "Sí": the bot closes the conversation with its closing text.
        wa.deliver(&inbound("wamid.FAQ2", json!({"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "faq:yes", "title": "Sí"}}}))).await?;
        let closed = eventually(WAIT, || async {
            let case = wa.only_case().await.ok()?;
            (case["status"] == "closed").then_some(case)
        }).await;
        anyhow::ensure!(closed.is_some(), "{}", wa.only_case().await?);
        // The closing text is written with the close and delivered just after.
        let closing = eventually(WAIT, || async {
            wa.sends().into_iter().find(|s| s["text"]["body"].as_str().is_some_and(|t| t.contains("Con gusto")))
        }).await;
        anyhow::ensure!(closing.is_some(), "{:?}", wa.sends());
        let report = app.get("/api/v1/bot-conversations", &app.admin_token).await?;
        anyhow::ensure!(report.body["items"][0]["outcome"] == "confirmed" && report.body["items"][0]["channel"] == "whatsapp", "{}", report.text);
        // The conversation the bot closed asks how it went; a tap answers it.
        let asked = eventually(WAIT, || async {
            wa.sends().into_iter().find(|s| s["interactive"]["body"]["text"].as_str().is_some_and(|t| t.contains("¿Cómo calificarías")))
        }).await;
        anyhow::ensure!(asked.is_some(), "no survey: {:?}", wa.sends());
        wa.deliver(&inbound("wamid.FAQ3", json!({"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "survey:5", "title": "😊 Bien"}}}))).await?;
        let stored = eventually(WAIT, || async {
            let reply = app.get("/api/v1/surveys?answered=true", &app.admin_token).await.ok()?;
            reply.body["items"].as_array()?.first().cloned()
        }).await.unwrap_or_default();
        anyhow::ensure!(stored["score"] == 5 && stored["outcome"] == "bot", "{stored}");
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().map(Vec::len) == Some(1) && cases.body["items"][0]["status"] == "closed", "{}", cases.text);
        Ok(())
    }

    async fn a_crisis_on_whatsapp_gets_the_emergency_lines_first_and_a_survey_after(backend) {
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
            .collect();
        let bienestar = app.post_ok("/api/v1/units", &app.admin_token, json!({"slug": "bienestar", "name": "Bienestar",
            "business_hours": {"weekly": every_day}, "survey": {"enabled": true, "scale": "faces"}}), 201).await?;
        let bienestar = bienestar["id"].as_str().unwrap_or_default().to_owned();
        install_plugin(app, "faq-bot", json!({"bot_name": "Vale"}), json!({"kv": true, "kb_search": true}), &[]).await?;
        install_plugin(app, "crisis-protocol", json!({"crisis_unit": "bienestar"}), json!({"kv": true}), &[]).await?;

        wa.deliver(&inbound("wamid.CRISIS1", json!({"type": "text", "text": {"body": "ya no quiero vivir, no aguanto más"}}))).await?;
        let sends = eventually(WAIT, || async {
            let sends = wa.sends();
            (sends.len() >= 2).then_some(sends)
        }).await.unwrap_or_default();
        let texts: Vec<String> = sends.iter().map(|s| s["text"]["body"].as_str().unwrap_or_default().to_owned()).collect();
        anyhow::ensure!(texts.first().is_some_and(|t| t.contains("Línea 106")), "the emergency lines first: {texts:?}");
        anyhow::ensure!(!texts.iter().any(|t| t.contains("Vale")), "the bot stayed out: {texts:?}");
        let case = wa.only_case().await?;
        anyhow::ensure!(case["unit_id"] == bienestar.as_str() && case["priority"] == "urgent", "{case}");
        let id = case["id"].as_str().unwrap_or_default().to_owned();

        // Resolved: the person gets the faces as buttons and taps one.
        let resolved = app.patch(&format!("/api/v1/cases/{id}"), &app.admin_token, json!({"status": "resolved"})).await?;
        anyhow::ensure!(resolved.status == 200, "{}", resolved.text);
        let survey = eventually(WAIT, || async {
            wa.sends().into_iter().find(|s| s["type"] == "interactive")
        }).await.unwrap_or_default();
        let buttons = &survey["interactive"]["action"]["buttons"];
        let ids: Vec<&str> = buttons.as_array().into_iter().flatten().filter_map(|b| b["reply"]["id"].as_str()).collect();
        anyhow::ensure!(ids == ["survey:1", "survey:3", "survey:5"], "{survey}");
        wa.deliver(&inbound("wamid.SURVEY1", json!({"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "survey:5", "title": "😊 Bien"}}}))).await?;
        let stored = eventually(WAIT, || async {
            let reply = app.get("/api/v1/surveys?answered=true", &app.admin_token).await.ok()?;
            reply.body["items"].as_array()?.first().cloned()
        }).await.unwrap_or_default();
        anyhow::ensure!(stored["score"] == 5 && stored["channel"] == "whatsapp" && stored["unit_id"] == bienestar.as_str(), "{stored}");
        let after = app.get(&format!("/api/v1/cases/{id}"), &app.admin_token).await?;
        anyhow::ensure!(after.body["status"] == "resolved", "{}", after.text);
        Ok(())
    }

    async fn webhooks_are_verified_parsed_and_deduplicated(backend) {
        let wa = whatsapp(backend).await?;
        let hook = format!("/api/v1/webhooks/{}", wa.install);

        // Meta's subscription handshake.
        let good = format!("{hook}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444");
        let answer = wa.app.client.get(wa.app.url(&good)).send().await?;
        anyhow::ensure!(answer.status() == 200, "{}", answer.status());
        anyhow::ensure!(answer.text().await? == "1158201444");
        let bad = format!("{hook}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444");
        anyhow::ensure!(wa.app.client.get(wa.app.url(&bad)).send().await?.status() == 401);

        // A text message opens a case for a new contact with their profile name.
        let text = inbound("wamid.IN1", json!({"type": "text", "text": {"body": "Hola, quiero información de la matrícula"}}));
        wa.deliver(&text).await?;
        let case = wa.only_case().await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(case["channel"] == "whatsapp" && case["unit_id"] == wa.unit.as_str(), "{case}");
        let contact = wa.app.get(&format!("/api/v1/contacts/{}", case["contact_id"].as_str().unwrap_or_default()), &wa.app.admin_token).await?;
        anyhow::ensure!(contact.body["name"] == "Kerry Fisher", "{}", contact.text);
        anyhow::ensure!(contact.text.contains(&format!("+{SENDER}")), "{}", contact.text);

        // Meta retries: the same message is stored once.
        wa.deliver(&text).await?;
        anyhow::ensure!(wa.messages(&case_id).await?.len() == 1);

        // Bad signatures, no signature, and payloads that are not WhatsApp's store nothing.
        let reply = wa.post(&text.replace("IN1", "IN1b"), Some(&sign(&text))).await?;
        anyhow::ensure!(reply.status == 401, "{}", reply.text);
        anyhow::ensure!(wa.post(&text.replace("IN1", "IN1c"), None).await?.status == 401);
        let malformed = "{\"object\": \"whatsapp_business_account\", \"entry\": ";
        anyhow::ensure!(wa.post(malformed, Some(&sign(malformed))).await?.status == 400);
        let foreign = json!({"object": "page", "entry": []}).to_string();
        let reply = wa.post(&foreign, Some(&sign(&foreign))).await?;
        anyhow::ensure!(reply.status == 400 && reply.text.contains("whatsapp_business_account"), "{}", reply.text);
        anyhow::ensure!(wa.messages(&case_id).await?.len() == 1);

        // Every kind of message joins the open case.
        let kinds = [
            inbound("wamid.IN2", json!({"type": "image", "image": {"caption": "Mi recibo", "mime_type": "image/jpeg", "sha256": "abc", "id": "1479537139650973"}})),
            inbound("wamid.IN3", json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "opt-yes", "title": "Sí"}}})),
            inbound("wamid.IN4", json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "row-2", "title": "Becas", "description": "Apoyos"}}})),
            inbound("wamid.IN5", json!({"type": "location", "location": {"latitude": 4.6097, "longitude": -74.0817, "name": "Sede Centro", "address": "Cra 7 # 40-62"}})),
            inbound("wamid.IN6", json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Ana Ruiz", "first_name": "Ana"}, "phones": [{"phone": "+57 300 555 0100", "type": "CELL"}]}]})),
            inbound("wamid.IN7", json!({"type": "document", "document": {"filename": "certificado.pdf", "mime_type": "application/pdf", "sha256": "def", "id": "2479537139650974"}})),
            inbound("wamid.IN8", json!({"type": "button", "button": {"payload": "confirmar-cita", "text": "Confirmar"}})),
            inbound("wamid.IN9", json!({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]})),
            // Reactions are not messages to keep.
            inbound("wamid.IN10", json!({"type": "reaction", "reaction": {"message_id": "wamid.IN1", "emoji": "👍"}})),
        ];
        for body in &kinds {
            wa.deliver(body).await?;
        }
        // A number of the same business account that this install does not serve.
        let other = envelope(json!({"messaging_product": "whatsapp", "metadata": metadata("999"),
            "messages": [{"id": "wamid.X", "from": SENDER, "timestamp": "1", "type": "text", "text": {"body": "otro"}}]}));
        wa.deliver(&other).await?;

        let messages = wa.messages(&case_id).await?;
        let by_id = |id: &str| messages.iter().find(|m| m["provider_message_id"] == id).cloned().unwrap_or_default();
        anyhow::ensure!(messages.len() == 9, "{messages:?}");
        let image = by_id("wamid.IN2");
        anyhow::ensure!(image["body"] == "Mi recibo" && image["attachments"][0]["content_type"] == "image/jpeg", "{image}");
        anyhow::ensure!(image["attachments"][0]["file_name"] == "image.jpg", "{image}");
        let button = by_id("wamid.IN3");
        anyhow::ensure!(button["body"] == "Sí" && button["selected_option"] == "opt-yes", "{button}");
        anyhow::ensure!(by_id("wamid.IN4")["selected_option"] == "row-2");
        let location = by_id("wamid.IN5")["body"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(location.contains("Sede Centro, Cra 7 # 40-62") && location.contains("mlat=4.6097&mlon=-74.0817"), "{location}");
        anyhow::ensure!(by_id("wamid.IN6")["body"] == "👤 Ana Ruiz +57 300 555 0100");
        anyhow::ensure!(by_id("wamid.IN7")["attachments"][0]["file_name"] == "certificado.pdf");
        anyhow::ensure!(by_id("wamid.IN8")["selected_option"] == "confirmar-cita");
        anyhow::ensure!(by_id("wamid.IN9")["body"] == "[unsupported] Message type unknown");
        anyhow::ensure!(messages.iter().all(|m| m["provider_message_id"] != "wamid.X" && m["provider_message_id"] != "wamid.IN10"));
        Ok(())
    }

    async fn replies_follow_the_window_and_failures_are_retried(backend) {
        let wa = whatsapp(backend).await?;
        wa.deliver(&inbound("wamid.IN1", json!({"type": "text", "text": {"body": "Buenas tardes"}}))).await?;
        let case_id = wa.only_case().await?["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/api/v1/cases/{case_id}/messages");

        // A reply goes out as WhatsApp text, with the access token the host adds.
        let sent = wa.app.post_ok(&path, &wa.app.admin_token, json!({"body": "Con gusto le ayudamos"}), 201).await?;
        let first = sent["id"].as_str().unwrap_or_default().to_owned();
        let message = wa.message_in(&case_id, &first, "sent").await?;
        anyhow::ensure!(message["provider_message_id"] == "wamid.OUT1", "{message}");
        let request = wa.provider.requests().into_iter().find(|r| r.path.ends_with("/messages")).ok_or_else(|| anyhow::anyhow!("no send"))?;
        anyhow::ensure!(request.method == "POST");
        anyhow::ensure!(request.headers.iter().any(|(k, v)| k == "authorization" && v == &format!("Bearer {ACCESS_TOKEN}")), "{request:?}");
        let body: Value = serde_json::from_str(&request.body)?;
        anyhow::ensure!(body == json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": SENDER,
            "type": "text", "text": {"preview_url": false, "body": "Con gusto le ayudamos"}}), "{body}");

        // Delivery and read reports move it on; a report never moves it back.
        for state in ["delivered", "read", "delivered"] {
            wa.deliver(&status("wamid.OUT1", state, Value::Null)).await?;
        }
        wa.message_in(&case_id, &first, "read").await?;

        // A passing failure (500) is retried; the second attempt succeeds.
        wa.provider.answer_json([(500, json!({"error": {"message": "Service temporarily unavailable", "code": 131016}}))]);
        let retried = wa.app.post_ok(&path, &wa.app.admin_token, json!({"body": "Seguimos atentos"}), 201).await?;
        let retried = retried["id"].as_str().unwrap_or_default().to_owned();
        wa.message_in(&case_id, &retried, "sent").await?;
        let attempts = wa.sends().iter().filter(|b| b["text"]["body"] == "Seguimos atentos").count();
        anyhow::ensure!(attempts == 2, "{:?}", wa.sends());

        // After 24 hours without a word from the person, free text is refused
        // with the reason, and an approved template goes out.
        let options = format!("/api/v1/cases/{case_id}/reply-options");
        let open = wa.app.get(&options, &wa.app.admin_token).await?;
        anyhow::ensure!(open.body["free_text"] == true && open.body["templates"] == json!([]), "{}", open.text);
        // The admin lists the approved templates the console may offer.
        let approved = json!([{"name": "seguimiento_caso", "language": "es_CO", "text": "Hola {{1}}, ¿seguimos con tu caso {{2}}?", "parameters": 2}]);
        let port = wa.provider.port;
        let settings = json!({"phone_number_id": PHONE_ID, "api_base_url": format!("http://localhost:{port}"), "templates": approved});
        let saved = wa.app.patch(&format!("/api/v1/plugin-installs/{}", wa.install), &wa.app.admin_token, json!({"settings": settings})).await?;
        anyhow::ensure!(saved.status == 200, "{}", saved.text);
        let bad = json!({"phone_number_id": PHONE_ID, "templates": [{"name": "Con Espacios", "language": "es", "text": "x"}]});
        let refused_settings = wa.app.patch(&format!("/api/v1/plugin-installs/{}", wa.install), &wa.app.admin_token, json!({"settings": bad})).await?;
        anyhow::ensure!(refused_settings.status == 422, "{}", refused_settings.text);
        wa.app.age_inbound(&case_id, chrono::Duration::hours(25)).await?;
        let closed = wa.app.get(&options, &wa.app.admin_token).await?;
        anyhow::ensure!(closed.body["free_text"] == false, "{}", closed.text);
        anyhow::ensure!(closed.body["reason"].as_str().unwrap_or("").contains("24 hours"), "{}", closed.text);
        anyhow::ensure!(closed.body["templates"] == approved, "{}", closed.text);
        let refused = wa.app.post(&path, &wa.app.admin_token, json!({"body": "¿Sigue ahí?"})).await?;
        anyhow::ensure!(refused.status == 422, "{}", refused.text);
        anyhow::ensure!(refused.body["errors"][0]["field"] == "body", "{}", refused.text);
        anyhow::ensure!(refused.text.contains("24 hours") && refused.text.contains("template"), "{}", refused.text);
        let template = json!({"name": "seguimiento_caso", "language": "es_CO", "parameters": ["Kerry", "1042"]});
        let sent = wa.app.post_ok(&path, &wa.app.admin_token, json!({"template": template}), 201).await?;
        anyhow::ensure!(sent["body"] == "[seguimiento_caso] Kerry · 1042" && sent["template"] == template, "{sent}");
        let templated = sent["id"].as_str().unwrap_or_default().to_owned();
        wa.message_in(&case_id, &templated, "sent").await?;
        let last = wa.sends().last().cloned().unwrap_or_default();
        anyhow::ensure!(last["type"] == "template" && last["template"] == json!({"name": "seguimiento_caso", "language": {"code": "es_CO"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Kerry"}, {"type": "text", "text": "1042"}]}]}), "{last}");

        // A final error (4xx) is not retried: the message is a dead letter
        // with WhatsApp's reason, listed for agents, and an agent can retry it.
        wa.provider.answer_json([(400, json!({"error": {"message": "(#132001) Template name does not exist in the translation", "type": "OAuthException", "code": 132001, "error_data": {"details": "template name (seguimiento) does not exist in es_CO"}}}))]);
        let doomed = wa.app.post_ok(&path, &wa.app.admin_token, json!({"template": {"name": "seguimiento", "language": "es_CO"}}), 201).await?;
        let doomed = doomed["id"].as_str().unwrap_or_default().to_owned();
        let failed = wa.message_in(&case_id, &doomed, "failed").await?;
        let reason = failed["delivery_error"].as_str().unwrap_or_default();
        anyhow::ensure!(reason.contains("132001") && reason.contains("does not exist in es_CO"), "{reason}");
        anyhow::ensure!(wa.sends().iter().filter(|b| b["template"]["name"] == "seguimiento").count() == 1, "not retried");
        let dead = wa.app.get("/api/v1/failed-deliveries", &wa.app.admin_token).await?;
        anyhow::ensure!(dead.body["items"][0]["id"] == doomed.as_str() && dead.body["items"].as_array().map_or(0, Vec::len) == 1, "{}", dead.text);
        let not_failed = wa.app.post(&format!("{path}/{templated}/retry"), &wa.app.admin_token, json!({})).await?;
        anyhow::ensure!(not_failed.status == 409, "{}", not_failed.text);
        let again = wa.app.post(&format!("{path}/{doomed}/retry"), &wa.app.admin_token, json!({})).await?;
        anyhow::ensure!(again.status == 202 && again.body["delivery_status"] == "pending", "{}", again.text);
        wa.message_in(&case_id, &doomed, "sent").await?;
        let empty = wa.app.get("/api/v1/failed-deliveries", &wa.app.admin_token).await?;
        anyhow::ensure!(empty.body["items"].as_array().is_some_and(Vec::is_empty), "{}", empty.text);

        // The provider reports a later failure of a sent message...
        let errors = json!([{"code": 131026, "title": "Message undeliverable", "error_data": {"details": "receiver is incapable of receiving this message"}}]);
        wa.deliver(&status("wamid.OUT2", "failed", errors.clone())).await?;
        let failed = wa.message_in(&case_id, &retried, "failed").await?;
        anyhow::ensure!(failed["delivery_error"].as_str().is_some_and(|e| e.contains("131026") && e.contains("incapable")), "{failed}");
        // ...but a failure of one the person already read is a replay, and changes nothing.
        wa.deliver(&status("wamid.OUT1", "failed", errors)).await?;
        wa.message_in(&case_id, &first, "read").await?;

        // Once the person writes again, free text is allowed again.
        wa.deliver(&inbound("wamid.IN2", json!({"type": "text", "text": {"body": "Sí, aquí estoy"}}))).await?;
        wa.app.post_ok(&path, &wa.app.admin_token, json!({"body": "Perfecto"}), 201).await?;
        Ok(())
    }

    async fn quick_replies_become_buttons_lists_or_numbered_text(backend) {
        let wa = whatsapp(backend).await?;
        install_plugin(&wa.app, "hostile-bot", json!({"mode": "options"}), json!({}), &[wa.unit.as_str()]).await?;
        // Three short options, seven, and four too long for a list.
        for (n, (count, ask)) in [(3usize, "3"), (7, "7"), (4, "4 largas")].into_iter().enumerate() {
            wa.deliver(&inbound(&format!("wamid.Q{n}"), json!({"type": "text", "text": {"body": ask}}))).await?;
            let sent = eventually(WAIT, || async { (wa.sends().len() > n).then(|| wa.sends()[n].clone()) }).await;
            let sent = sent.ok_or_else(|| anyhow::anyhow!("no reply for {count}"))?;
            match count {
                3 => {
                    anyhow::ensure!(sent["type"] == "interactive" && sent["interactive"]["type"] == "button", "{sent}");
                    let buttons = &sent["interactive"]["action"]["buttons"];
                    anyhow::ensure!(buttons[2] == json!({"type": "reply", "reply": {"id": "opt-3", "title": "Opción 3"}}), "{sent}");
                    anyhow::ensure!(sent["interactive"]["body"]["text"] == "Elige una opción");
                }
                7 => {
                    anyhow::ensure!(sent["interactive"]["type"] == "list", "{sent}");
                    let action = &sent["interactive"]["action"];
                    anyhow::ensure!(action["button"] == "Ver opciones", "{sent}");
                    anyhow::ensure!(action["sections"][0]["rows"].as_array().map_or(0, Vec::len) == 7, "{sent}");
                }
                _ => {
                    anyhow::ensure!(sent["type"] == "text", "{sent}");
                    let text = sent["text"]["body"].as_str().unwrap_or_default();
                    anyhow::ensure!(text.starts_with("Elige una opción\n1. Opción 1 con una descripción larga") && text.ends_with("4. Opción 4 con una descripción larga"), "{text}");
                }
            }
        }
        Ok(())
    }
}

on_both! {
    async fn webhooks_arriving_together_are_committed_together(backend) {
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        let text = |n: usize| json!({"type": "text", "text": {"body": format!("mensaje {n}")}});
        // Staff knew the number but not the name: the profile fills it in.
        let known = app.post_ok("/api/v1/contacts", &app.admin_token,
            json!({"identities": [{"channel": "whatsapp", "value": format!("+{SENDER}")}]}), 201).await?;
        anyhow::ensure!(known["name"].is_null(), "{known}");
        wa.deliver(&inbound("wamid.G0", text(0))).await?;
        let named = app.get(&format!("/api/v1/contacts/{}", known["id"].as_str().unwrap_or_default()), &app.admin_token).await?;
        anyhow::ensure!(named.body["name"] == "Kerry Fisher", "{}", named.text);

        // While the database's writer is busy, webhooks queue; on SQLite the
        // next group takes them all, one of which the connector got wrong
        // (a sender that is no phone number).
        let grouped = app.store.single_writer();
        let held = app.store.begin().await?;
        let first = wa.post_soon(inbound("wamid.G1", text(1)));
        if grouped {
            wa.waiting(1).await?;
        }
        let mut later: Vec<String> = (2..=10).map(|n| inbound(&format!("wamid.G{n}"), text(n))).collect();
        let bad = inbound("wamid.BAD", text(99)).replace(&format!("\"from\":\"{SENDER}\""), "\"from\":\"nadie\"");
        anyhow::ensure!(bad.contains("nadie"), "the bad sender was not put in");
        later.push(bad);
        let later: Vec<_> = later.into_iter().map(|body| wa.post_soon(body)).collect();
        if grouped {
            wa.waiting(11).await?;
        }
        drop(held);
        anyhow::ensure!(first.await?? == 200, "the first webhook was refused");
        let mut statuses = vec![];
        for request in later {
            statuses.push(request.await??);
        }
        // Only the bad one is refused (400: a sender that is no phone number
        // will not become one on a retry); the others were committed, each
        // once, on the one conversation.
        anyhow::ensure!(statuses[..9].iter().all(|s| *s == 200) && statuses[9] == 400, "{statuses:?}");
        let case = wa.only_case().await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let messages = wa.messages(&case_id).await?;
        let mut bodies: Vec<&str> = messages.iter().filter_map(|m| m["body"].as_str()).collect();
        bodies.sort_unstable();
        let expected: Vec<String> = (0..=10).map(|n| format!("mensaje {n}")).collect();
        let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        expected.sort_unstable();
        anyhow::ensure!(bodies == expected, "{bodies:?}");
        let figures = || async {
            let together = app.metric("ventanilla_webhooks_grouped_total").await?;
            let split = app.metric("ventanilla_webhook_groups_split_total").await?;
            anyhow::Ok((together, split))
        };
        if !grouped {
            anyhow::ensure!(figures().await? == (Some(0.0), Some(0.0)), "{:?}", figures().await?);
            return Ok(());
        }
        // The group of ten failed on the bad one and was written one by one.
        anyhow::ensure!(figures().await? == (Some(0.0), Some(1.0)), "{:?}", figures().await?);

        // Without it, a group commits as one. (A success first, so that the
        // webhooks need not write down that the failures stopped.)
        wa.deliver(&inbound("wamid.H", text(19))).await?;
        let held = app.store.begin().await?;
        let first = wa.post_soon(inbound("wamid.H0", text(20)));
        wa.waiting(1).await?;
        let later: Vec<_> = (21..=25).map(|n| wa.post_soon(inbound(&format!("wamid.H{n}"), text(n)))).collect();
        wa.waiting(6).await?;
        drop(held);
        anyhow::ensure!(first.await?? == 200, "the first webhook was refused");
        for request in later {
            anyhow::ensure!(request.await?? == 200, "a grouped webhook was refused");
        }
        anyhow::ensure!(figures().await? == (Some(5.0), Some(1.0)), "{:?}", figures().await?);
        let messages = wa.messages(&case_id).await?;
        anyhow::ensure!(messages.len() == 18, "{} messages", messages.len());
        Ok(())
    }
}

on_both! {
    async fn files_people_send_are_looked_up_and_downloaded_with_the_token(backend) {
        let wa = whatsapp(backend).await?;
        let base = format!("http://localhost:{}", wa.provider.port);
        let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 a receipt".to_vec();
        // Graph API: the media id answers a short-lived URL, which needs the token too.
        wa.provider.on_get("/v21.0/1479537139650973", json!({
            "messaging_product": "whatsapp", "url": format!("{base}/whatsapp_business/attachments/?mid=1479537139650973&ext=1"),
            "mime_type": "image/jpeg", "sha256": "abc", "file_size": jpeg.len(), "id": "1479537139650973",
        }));
        wa.provider.serve_file("/whatsapp_business/attachments/", "image/jpeg", &jpeg);
        wa.deliver(&inbound("wamid.IN2", json!({"type": "image", "image": {"caption": "Mi recibo", "mime_type": "image/jpeg", "sha256": "abc", "id": "1479537139650973"}}))).await?;
        let files = wa.app.settled_files().await?;
        anyhow::ensure!(files[0]["status"] == "kept" && files[0]["size_bytes"] == jpeg.len(), "{files:?}");
        anyhow::ensure!(wa.app.download(&files[0]).await? == jpeg);
        let requests = wa.provider.requests();
        let lookup = requests.iter().find(|r| r.path.starts_with("/v21.0/1479537139650973")).cloned();
        anyhow::ensure!(lookup.as_ref().is_some_and(|r| r.path.contains(&format!("phone_number_id={PHONE_ID}"))), "{requests:?}");
        for request in requests.iter().filter(|r| r.method == "GET") {
            anyhow::ensure!(request.headers.iter().any(|(k, v)| k == "authorization" && v == &format!("Bearer {ACCESS_TOKEN}")), "{request:?}");
        }
        // A media id Meta no longer has (30 days) is marked, the message kept.
        wa.provider.fail_get("/v21.0/2479537139650974", 404);
        wa.deliver(&inbound("wamid.IN7", json!({"type": "document", "document": {"filename": "certificado.pdf", "mime_type": "application/pdf", "sha256": "def", "id": "2479537139650974"}}))).await?;
        let case = wa.only_case().await?;
        let settled = ventanilla_tests::eventually(WAIT, || async {
            let messages = wa.messages(case["id"].as_str()?).await.ok()?;
            let document = messages.into_iter().find(|m| m["provider_message_id"] == "wamid.IN7")?;
            (document["attachments"][0]["status"] == "failed").then_some(document)
        })
        .await;
        anyhow::ensure!(settled.is_some_and(|d| d["attachments"][0]["error"].as_str().unwrap_or_default().contains("404")));
        Ok(())
    }

    async fn files_go_out_by_a_link_whatsapp_can_fetch(backend) {
        const PUBLIC: &str = "https://ayuda.uni.edu.co";
        let wa = whatsapp_with(backend, |c| c.public_url = Some(PUBLIC.into())).await?;
        wa.deliver(&inbound("wamid.IN1", json!({"type": "text", "text": {"body": "¿Me envían el formulario?"}}))).await?;
        let case_id = wa.only_case().await?["id"].as_str().unwrap_or_default().to_owned();
        let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF".to_vec();
        let sent = wa.app.send_file(&case_id, "Aquí está el formulario", "application/pdf", "formulario.pdf", pdf.clone()).await?;
        wa.message_in(&case_id, sent["id"].as_str().unwrap_or_default(), "sent").await?;
        let body = wa.sends().last().cloned().unwrap_or_default();
        anyhow::ensure!(body["type"] == "document" && body["document"]["filename"] == "formulario.pdf"
            && body["document"]["caption"] == "Aquí está el formulario", "{body}");
        // The link is on the public address, and opens (here, on the test server).
        let link = body["document"]["link"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(link.starts_with(&format!("{PUBLIC}/api/v1/attachments/")), "{link}");
        let fetched = wa.app.client.get(wa.app.url(link.trim_start_matches(PUBLIC))).send().await?;
        anyhow::ensure!(fetched.status() == 200 && fetched.bytes().await?.as_ref() == pdf.as_slice());

        // Without a public address the provider could not fetch it: refused up front.
        let wa = whatsapp(backend).await?;
        wa.deliver(&inbound("wamid.IN1", json!({"type": "text", "text": {"body": "Hola"}}))).await?;
        let case_id = wa.only_case().await?["id"].as_str().unwrap_or_default().to_owned();
        let uploaded = wa.app.upload_file(&case_id, &wa.app.admin_token, "application/pdf", "formulario.pdf", pdf).await?;
        let message = json!({"attachments": [{"reference": uploaded.body["reference"], "file_name": "formulario.pdf"}]});
        let refused = wa.app.post(&format!("/api/v1/cases/{case_id}/messages"), &wa.app.admin_token, message).await?;
        anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "attachments", "{}", refused.text);
        anyhow::ensure!(refused.text.contains("public_url"), "{}", refused.text);
        anyhow::ensure!(wa.messages(&case_id).await?.len() == 1, "nothing was queued");
        Ok(())
    }

    async fn the_same_number_on_another_channel_is_the_same_person(backend) {
        let wa = whatsapp(backend).await?;
        let contact = |identities: Value| json!({"name": "Kerry", "identities": identities});
        // Known by SMS: a WhatsApp message from that number is the same contact.
        let known = wa.app.post_ok("/api/v1/contacts", &wa.app.admin_token,
            contact(json!([{"channel": "sms", "value": "+57 300 123 4567"}])), 201).await?;
        wa.deliver(&inbound("wamid.L1", json!({"type": "text", "text": {"body": "Hola"}}))).await?;
        let case = wa.only_case().await?;
        anyhow::ensure!(case["contact_id"] == known["id"], "{case}");
        let linked = wa.app.get(&format!("/api/v1/contacts/{}", known["id"].as_str().unwrap_or_default()), &wa.app.admin_token).await?;
        let channels: Vec<&str> = linked.body["identities"].as_array().into_iter().flatten().filter_map(|i| i["channel"].as_str()).collect();
        anyhow::ensure!(channels.contains(&"sms") && channels.contains(&"whatsapp"), "{}", linked.text);

        // Two contacts could be the sender: a new one, never a silent merge,
        // with both offered as possible duplicates.
        let number = "+57 301 765 4321";
        let a = wa.app.post_ok("/api/v1/contacts", &wa.app.admin_token, contact(json!([{"channel": "sms", "value": number}])), 201).await?;
        let b = wa.app.post_ok("/api/v1/contacts", &wa.app.admin_token, contact(json!([{"channel": "phone", "value": number}])), 201).await?;
        let mut message = inbound("wamid.L2", json!({"type": "text", "text": {"body": "Buenas"}}));
        message = message.replace(SENDER, "573017654321");
        wa.deliver(&message).await?;
        let cases = wa.app.get("/api/v1/cases", &wa.app.admin_token).await?;
        let new_case = cases.body["items"].as_array().into_iter().flatten()
            .find(|c| c["contact_id"] != known["id"]).cloned().unwrap_or_default();
        let new_contact = new_case["contact_id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(!new_contact.is_empty() && new_contact != a["id"] && new_contact != b["id"], "{}", cases.text);
        let duplicates = wa.app.get(&format!("/api/v1/contacts/{new_contact}/possible-duplicates"), &wa.app.admin_token).await?;
        anyhow::ensure!(duplicates.status == 200, "{}", duplicates.text);
        let mut ids: Vec<&str> = duplicates.body.as_array().into_iter().flatten().filter_map(|d| d["contact"]["id"].as_str()).collect();
        ids.sort();
        let mut expected = vec![a["id"].as_str().unwrap_or_default(), b["id"].as_str().unwrap_or_default()];
        expected.sort();
        anyhow::ensure!(ids == expected, "{}", duplicates.text);
        anyhow::ensure!(duplicates.text.contains("+573017654321"), "{}", duplicates.text);
        // Seen from one of the candidates too.
        let from_a = wa.app.get(&format!("/api/v1/contacts/{}/possible-duplicates", a["id"].as_str().unwrap_or_default()), &wa.app.admin_token).await?;
        anyhow::ensure!(from_a.body[0]["contact"]["id"] == new_contact.as_str(), "{}", from_a.text);
        Ok(())
    }

    async fn the_host_asks_for_consent_before_the_first_human_reply(backend) {
        // An agent-only unit (no bot) whose WhatsApp asks for the
        // authorisation to process data: the host asks itself.
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        app.post_ok("/api/v1/consent-texts", &app.admin_token,
            json!({"purpose": "data_processing", "text": "Autorizo el tratamiento de mis datos según la Ley 1581.",
                   "policy_url": "https://uni.edu.co/datos"}), 201).await?;
        let set = app.patch(&format!("/api/v1/units/{}", wa.unit), &app.admin_token,
            json!({"privacy": {"ask_consent": false, "channels": {"whatsapp": true}}})).await?;
        anyhow::ensure!(set.status == 200 && set.body["privacy"]["channels"]["whatsapp"] == true, "{}", set.text);
        let bad = app.patch(&format!("/api/v1/units/{}", wa.unit), &app.admin_token,
            json!({"privacy": {"channels": {"fax": true}}})).await?;
        anyhow::ensure!(bad.status == 422 && bad.text.contains("privacy.channels"), "{}", bad.text);

        wa.deliver(&inbound("wamid.ASK1", json!({"type": "text", "text": {"body": "Hola, necesito un certificado"}}))).await?;
        let case = wa.only_case().await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(wa.sends().is_empty(), "nothing is sent before a person replies: {:?}", wa.sends());
        let path = format!("/api/v1/cases/{case_id}/messages");
        let reply = |body: &str| app.post(&path, &app.admin_token, json!({"body": body}));
        anyhow::ensure!(reply("Buenos días, con gusto le ayudo.").await?.status == 201);
        let sends = eventually(WAIT, || async { let s = wa.sends(); (s.len() >= 2).then_some(s) }).await.unwrap_or_default();
        anyhow::ensure!(sends.len() == 2, "{sends:?}");
        let question = &sends[0]["interactive"];
        anyhow::ensure!(question["body"]["text"].as_str().is_some_and(|t| t.contains("Ley 1581") && t.contains("https://uni.edu.co/datos")), "{sends:?}");
        let ids: Vec<&str> = question["action"]["buttons"].as_array().into_iter().flatten()
            .filter_map(|b| b["reply"]["id"].as_str()).collect();
        anyhow::ensure!(ids == ["consent:grant:data_processing:v1", "consent:revoke:data_processing:v1"], "{sends:?}");
        anyhow::ensure!(sends[1]["text"]["body"] == "Buenos días, con gusto le ayudo.", "the question goes first: {sends:?}");

        // Asked once: the next reply goes alone.
        anyhow::ensure!(reply("¿Me indica su número de documento?").await?.status == 201);
        let sends = eventually(WAIT, || async { let s = wa.sends(); (s.len() >= 3).then_some(s) }).await.unwrap_or_default();
        anyhow::ensure!(sends.len() == 3 && sends[2]["text"]["body"].is_string(), "{sends:?}");

        // The person's tap is recorded against the version asked.
        wa.deliver(&inbound("wamid.ASK2", json!({"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "consent:grant:data_processing:v1", "title": "Sí, autorizo"}}}))).await?;
        let contact = case["contact_id"].as_str().unwrap_or_default();
        let records = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        let items = records.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.len() == 1, "{}", records.text);
        anyhow::ensure!(items[0]["action"] == "grant" && items[0]["text_version"] == "v1" && items[0]["channel"] == "whatsapp"
            && items[0]["source"] == "channel" && items[0]["recorded_by"].is_null(), "{}", records.text);

        // Someone who answered is not asked on their next case.
        let resolved = app.patch(&format!("/api/v1/cases/{case_id}"), &app.admin_token, json!({"status": "resolved"})).await?;
        anyhow::ensure!(resolved.status == 200, "{}", resolved.text);
        let closed = app.patch(&format!("/api/v1/cases/{case_id}"), &app.admin_token, json!({"status": "closed"})).await?;
        anyhow::ensure!(closed.status == 200, "{}", closed.text);
        wa.deliver(&inbound("wamid.ASK3", json!({"type": "text", "text": {"body": "Otra consulta"}}))).await?;
        let cases = app.get("/api/v1/cases?status=queued", &app.admin_token).await?;
        let second = cases.body["items"].as_array().into_iter().flatten()
            .find(|c| c["id"] != case_id.as_str()).and_then(|c| c["id"].as_str()).unwrap_or_default().to_owned();
        anyhow::ensure!(!second.is_empty(), "{}", cases.text);
        let before = wa.sends().len();
        anyhow::ensure!(app.post(&format!("/api/v1/cases/{second}/messages"), &app.admin_token, json!({"body": "Hola de nuevo"})).await?.status == 201);
        let sends = eventually(WAIT, || async { let s = wa.sends(); (s.len() > before).then_some(s) }).await.unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(500)).await;
        anyhow::ensure!(wa.sends().len() == before + 1 && sends[before]["text"]["body"] == "Hola de nuevo", "{:?}", wa.sends());
        Ok(())
    }
}

on_both! {
    async fn staff_start_a_whatsapp_conversation_with_a_template(backend) {
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        // The person is known by their SMS number: it reaches them on WhatsApp too.
        let start = |channel: &str, contact: Value, first: Value| json!({"subject": "Recordatorio de matrícula",
            "channel": channel, "unit_id": wa.unit, "channel_install_id": wa.install, "contact": contact, "first_message": first});
        let kerry = json!({"name": "Kerry Fisher", "identities": [{"channel": "sms", "value": format!("+{SENDER}")}]});

        // Free text to someone who has not written in 24 hours: refused, nothing kept, nothing sent.
        let refused = app.post("/api/v1/cases", &app.admin_token,
            start("whatsapp", kerry.clone(), json!({"body": "Hola Kerry", "author_kind": "agent"}))).await?;
        anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "first_message.body", "{}", refused.text);
        anyhow::ensure!(refused.text.contains("template"), "{}", refused.text);
        // The account is on WhatsApp, not SMS; a person with no number cannot be reached.
        let wrong = app.post("/api/v1/cases", &app.admin_token,
            start("sms", kerry.clone(), json!({"body": "Hola", "author_kind": "agent"}))).await?;
        anyhow::ensure!(wrong.status == 422 && wrong.body["errors"][0]["field"] == "channel_install_id", "{}", wrong.text);
        let by_mail = json!({"name": "Ana", "identities": [{"channel": "email", "value": "ana@correo.co"}]});
        let template = json!({"name": "recordatorio_matricula", "language": "es_CO", "parameters": ["Kerry"]});
        let unreachable = app.post("/api/v1/cases", &app.admin_token,
            start("whatsapp", by_mail, json!({"author_kind": "agent", "template": template}))).await?;
        anyhow::ensure!(unreachable.status == 422 && unreachable.body["errors"][0]["field"] == "contact", "{}", unreachable.text);
        let listed = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(listed.body["items"].as_array().is_some_and(Vec::is_empty), "{}", listed.text);
        anyhow::ensure!(wa.sends().is_empty(), "{:?}", wa.sends());

        // An approved template opens the conversation on the account.
        let case = app.post_ok("/api/v1/cases", &app.admin_token,
            start("whatsapp", kerry.clone(), json!({"author_kind": "agent", "template": template})), 201).await?;
        anyhow::ensure!(case["channel_install_id"] == wa.install.as_str(), "{case}");
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let sent = eventually(WAIT, || async { wa.sends().into_iter().next() }).await;
        let sent = sent.ok_or_else(|| anyhow::anyhow!("the template was never sent"))?;
        anyhow::ensure!(sent["to"].as_str().is_some_and(|to| to.ends_with(SENDER)) && sent["type"] == "template"
            && sent["template"]["name"] == "recordatorio_matricula", "{sent}");

        // The person's answer continues that case, and opens the window for free text.
        wa.deliver(&inbound("wamid.START1", json!({"type": "text", "text": {"body": "Gracias, ¿hasta cuándo es?"}}))).await?;
        let only = app.only_case().await?;
        anyhow::ensure!(only["id"] == case_id.as_str(), "{only}");
        let path = format!("/api/v1/cases/{case_id}/messages");
        app.post_ok(&path, &app.admin_token, json!({"body": "Hasta el viernes 20"}), 201).await?;
        let answered = eventually(WAIT, || async {
            wa.sends().into_iter().find(|s| s["text"]["body"] == "Hasta el viernes 20")
        }).await;
        anyhow::ensure!(answered.is_some(), "{:?}", wa.sends());

        // Within that window a second conversation may start with free text.
        let again = app.post_ok("/api/v1/cases", &app.admin_token,
            start("whatsapp", kerry, json!({"body": "Otro tema: tu certificado está listo", "author_kind": "agent"})), 201).await?;
        anyhow::ensure!(again["channel_install_id"] == wa.install.as_str(), "{again}");
        Ok(())
    }
}

const WABA: &str = "102290129340398";

/// One template as the Graph API's template management endpoint lists it.
fn listed_template(name: &str, status: &str, components: Value) -> Value {
    json!({"name": name, "language": "es_CO", "category": "UTILITY", "status": status, "id": format!("id-{name}"),
        "components": components})
}

/// The account's templates on two pages, the second reached by its cursor.
fn serve_templates(provider: &FakeProvider, first: Vec<Value>, second: Vec<Value>) {
    provider.on_get(
        "after=CURSOR-2",
        json!({"data": second, "paging": {"cursors": {"before": "B2", "after": "CURSOR-3"}}}),
    );
    provider.on_get(
        "/message_templates",
        json!({"data": first,
        "paging": {"cursors": {"before": "B1", "after": "CURSOR-2"}, "next": "https://graph.facebook.com/next-page"}}),
    );
}

fn reminder(status: &str) -> Value {
    listed_template(
        "recordatorio_cita",
        status,
        json!([
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x"]}},
            {"type": "BODY", "text": "Hola {{1}}, tu cita es el {{2}}."},
            {"type": "FOOTER", "text": "Universidad de Ejemplo"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Confirmo"},
                {"type": "URL", "text": "Ver cita", "url": "https://uni.example/citas/{{1}}"}]},
        ]),
    )
}

on_both! {
    async fn whatsapp_templates_are_read_from_meta_and_only_approved_ones_go(backend) {
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        let port = wa.provider.port;
        let settings = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA, "api_base_url": format!("http://localhost:{port}")});
        let saved = app.patch(&format!("/api/v1/plugin-installs/{}", wa.install), &app.admin_token, json!({"settings": settings})).await?;
        anyhow::ensure!(saved.status == 200, "{}", saved.text);
        let templates = format!("/api/v1/channel-accounts/{}/templates", wa.install);
        let never = app.get(&templates, &app.admin_token).await?;
        anyhow::ensure!(never.status == 200 && never.body["sync"]["attempted_at"].is_null() && never.body["items"] == json!([]), "{}", never.text);

        let closing = listed_template("aviso_cierre", "PAUSED", json!([{"type": "BODY", "text": "El campus cierra hoy."}]));
        let rejected = listed_template("promo_matricula", "REJECTED", json!([{"type": "BODY", "text": "¡Descuento!"}]));
        let mut rejected = rejected;
        rejected["rejected_reason"] = json!("INVALID_FORMAT");
        serve_templates(&wa.provider, vec![reminder("APPROVED"), closing.clone()], vec![rejected.clone()]);

        // Only an administrator reads them again; an agent may look.
        let (_, agent) = app.create_member("agente@uni.example", &wa.unit, "agent").await?;
        let forbidden = app.post(&format!("{templates}/sync"), &agent, json!({})).await?;
        anyhow::ensure!(forbidden.status == 403, "{}", forbidden.text);
        let synced = app.post_ok(&format!("{templates}/sync"), &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(synced["changes"] == json!({"added": 3, "removed": 0, "status_changed": 0}), "{synced}");
        let items = synced["items"].as_array().cloned().unwrap_or_default();
        let by_name = |name: &str| items.iter().find(|t| t["name"] == name).cloned().unwrap_or_default();
        let read = by_name("recordatorio_cita");
        anyhow::ensure!(read["status"] == "approved" && read["parameters"] == 2 && read["category"] == "UTILITY"
            && read["header"] == json!({"kind": "image", "text": null, "takes_value": true})
            && read["buttons"][1] == json!({"kind": "url", "text": "Ver cita", "takes_value": true})
            && read["footer"] == "Universidad de Ejemplo", "{read}");
        anyhow::ensure!(by_name("aviso_cierre")["status"] == "paused", "{synced}");
        anyhow::ensure!(by_name("promo_matricula")["status"] == "rejected" && by_name("promo_matricula")["reason"] == "INVALID_FORMAT", "{synced}");
        // Both pages were read, with the account's token added by the host.
        let gets: Vec<_> = wa.provider.requests().into_iter().filter(|r| r.path.contains("/message_templates")).collect();
        anyhow::ensure!(gets.len() == 2 && gets.iter().all(|r| r.path.starts_with(&format!("/v21.0/{WABA}/message_templates?fields="))
            && r.headers.iter().any(|(k, v)| k == "authorization" && v == &format!("Bearer {ACCESS_TOKEN}"))), "{gets:?}");
        anyhow::ensure!(gets[1].path.contains("after=CURSOR-2"), "{gets:?}");
        let looked = app.get(&templates, &agent).await?;
        anyhow::ensure!(looked.status == 200 && looked.body["items"].as_array().map(Vec::len) == Some(3), "{}", looked.text);

        // The composer offers only the approved one.
        wa.deliver(&inbound("wamid.T1", json!({"type": "text", "text": {"body": "Hola"}}))).await?;
        let case_id = wa.only_case().await?["id"].as_str().unwrap_or_default().to_owned();
        let options = app.get(&format!("/api/v1/cases/{case_id}/reply-options"), &app.admin_token).await?;
        let offered = options.body["templates"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(offered.len() == 1 && offered[0]["name"] == "recordatorio_cita", "{}", options.text);

        // A paused template, or one without the values it takes, is refused before anything is kept.
        let path = format!("/api/v1/cases/{case_id}/messages");
        let paused = app.post(&path, &app.admin_token, json!({"template": {"name": "aviso_cierre", "language": "es_CO"}})).await?;
        anyhow::ensure!(paused.status == 422 && paused.text.contains("paused"), "{}", paused.text);
        let unknown = app.post(&path, &app.admin_token, json!({"template": {"name": "no_existe", "language": "es_CO"}})).await?;
        anyhow::ensure!(unknown.status == 422 && unknown.body["errors"][0]["field"] == "template.name", "{}", unknown.text);
        let bare = json!({"name": "recordatorio_cita", "language": "es_CO", "parameters": ["Kerry", "lunes"]});
        let no_header = app.post(&path, &app.admin_token, json!({"template": bare})).await?;
        anyhow::ensure!(no_header.status == 422 && no_header.body["errors"][0]["field"] == "template.header", "{}", no_header.text);
        let http_link = json!({"name": "recordatorio_cita", "language": "es_CO", "parameters": ["Kerry", "lunes"],
            "header": {"kind": "image", "value": "http://uni.example/a.png"}, "buttons": [{"index": 1, "value": "C-1"}]});
        let insecure = app.post(&path, &app.admin_token, json!({"template": http_link})).await?;
        anyhow::ensure!(insecure.status == 422 && insecure.body["errors"][0]["field"] == "template.header.value", "{}", insecure.text);
        anyhow::ensure!(app.messages(&case_id).await?.len() == 1, "nothing was kept");

        // A complete one goes out with its header, body and button values.
        let full = json!({"name": "recordatorio_cita", "language": "es_CO", "parameters": ["Kerry", "lunes"],
            "header": {"kind": "image", "value": "https://uni.example/cita.png"}, "buttons": [{"index": 1, "value": "C-1042"}]});
        let sent = app.post_ok(&path, &app.admin_token, json!({"template": full}), 201).await?;
        anyhow::ensure!(sent["template"] == full, "{sent}");
        wa.message_in(&case_id, sent["id"].as_str().unwrap_or_default(), "sent").await?;
        let last = wa.sends().last().cloned().unwrap_or_default();
        anyhow::ensure!(last["template"]["components"] == json!([
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://uni.example/cita.png"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Kerry"}, {"type": "text", "text": "lunes"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "C-1042"}]},
        ]), "{last}");

        // Meta pauses it while a send waits for its retry: the retry refuses it.
        wa.provider.answer(&[503]);
        let waiting = app.post_ok(&path, &app.admin_token, json!({"template": full}), 201).await?;
        let waiting = waiting["id"].as_str().unwrap_or_default().to_owned();
        let retrying = eventually(WAIT, || async {
            let messages = app.messages(&case_id).await.ok()?;
            messages.into_iter().find(|m| m["id"] == waiting.as_str() && m["delivery_attempts"].as_i64() == Some(1))
        }).await;
        anyhow::ensure!(retrying.is_some(), "the first try did not fail");
        serve_templates(&wa.provider, vec![reminder("PAUSED"), closing], vec![]);
        let resynced = app.post_ok(&format!("{templates}/sync"), &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(resynced["changes"] == json!({"added": 0, "removed": 1, "status_changed": 1}), "{resynced}");
        // The admins hear of it.
        let told = app.get("/api/v1/notifications", &app.admin_token).await?;
        anyhow::ensure!(told.text.contains("recordatorio_cita (es_CO)") && told.text.contains("pausada"), "{}", told.text);
        let agent_told = app.get("/api/v1/notifications", &agent).await?;
        anyhow::ensure!(!agent_told.text.contains("recordatorio_cita"), "an agent was told: {}", agent_told.text);
        let failed = wa.message_in(&case_id, &waiting, "failed").await?;
        anyhow::ensure!(failed["delivery_error"].as_str().is_some_and(|e| e.contains("paused")), "{failed}");
        let tries = wa.sends().iter().filter(|b| b["template"]["name"] == "recordatorio_cita").count();
        anyhow::ensure!(tries == 2, "the paused template went out again: {tries} sends");

        // Meta refusing the account's token: said on the account, the templates kept as they were.
        wa.provider.fail_get("/message_templates", 401);
        let refused = app.post(&format!("{templates}/sync"), &app.admin_token, json!({})).await?;
        anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "settings", "{}", refused.text);
        let after = app.get(&templates, &app.admin_token).await?;
        anyhow::ensure!(after.body["sync"]["error"].as_str().is_some_and(|e| e.contains("401"))
            && after.body["items"].as_array().map(Vec::len) == Some(2), "{}", after.text);
        Ok(())
    }
}

on_both! {
    async fn a_campaign_waits_while_meta_pauses_its_template(backend) {
        use crate::campaigns::{campaign, grant, person, sending_hours};
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        let port = wa.provider.port;
        let settings = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA, "api_base_url": format!("http://localhost:{port}")});
        app.patch(&format!("/api/v1/plugin-installs/{}", wa.install), &app.admin_token, json!({"settings": settings})).await?;
        let payment = |status: &str| listed_template("aviso_pago", status, json!([{"type": "BODY", "text": "Hola {{1}}, tu cuota vence el viernes."}]));
        let closing = listed_template("aviso_cierre", "PAUSED", json!([{"type": "BODY", "text": "El campus cierra hoy."}]));
        serve_templates(&wa.provider, vec![payment("APPROVED"), closing], vec![]);
        let sync = format!("/api/v1/channel-accounts/{}/templates/sync", wa.install);
        app.post_ok(&sync, &app.admin_token, json!({}), 200).await?;
        person(app, "A1", "Ana", json!([{"channel": "whatsapp", "value": format!("+{SENDER}")}]), json!([grant("broadcasts")])).await?;
        sending_hours(app, &wa.unit, true).await?;
        let segment = app.post_ok("/api/v1/segments", &app.admin_token, json!({"name": "Medicina",
            "filter": {"attributes": [{"key": "program", "in": ["Medicina"]}]}}), 201).await?;
        let draft = |template: &str, starts_at: Option<String>| json!({"unit_id": wa.unit, "name": "Cuotas", "segment_id": segment["id"],
            "channel_install_id": wa.install, "starts_at": starts_at,
            "message": {"template": {"name": template, "language": "es_CO", "parameters": ["{{name}}"]}}});

        // A paused template cannot be written into a campaign.
        let refused = app.post("/api/v1/campaigns", &app.admin_token, draft("aviso_cierre", None)).await?;
        anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "message.template" && refused.text.contains("paused"), "{}", refused.text);

        // Meta pauses it after the launch, before its start: the host holds the campaign, sending nobody.
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
        let created = app.post_ok("/api/v1/campaigns", &app.admin_token, draft("aviso_pago", Some(soon)), 201).await?;
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let launched = app.post_ok(&format!("/api/v1/campaigns/{id}/launch"), &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(launched["status"] == "scheduled", "{launched}");
        serve_templates(&wa.provider, vec![payment("PAUSED")], vec![]);
        app.post_ok(&sync, &app.admin_token, json!({}), 200).await?;
        let held = eventually(WAIT, || async { campaign(app, &id).await.ok().filter(|c| c["status"] == "paused") }).await;
        anyhow::ensure!(held.is_some(), "the campaign was not held: {}", campaign(app, &id).await?);
        anyhow::ensure!(wa.sends().is_empty(), "{:?}", wa.sends());
        let audit = app.get(&format!("/api/v1/audit-events?target_kind=campaign&target_id={id}"), &app.admin_token).await?;
        anyhow::ensure!(audit.text.contains("campaign.held") && audit.text.contains("paused"), "{}", audit.text);
        let resume = format!("/api/v1/campaigns/{id}/resume");
        let still = app.post(&resume, &app.admin_token, json!({})).await?;
        anyhow::ensure!(still.status == 422 && still.text.contains("paused"), "{}", still.text);

        // Approved again: resumed, Ana gets it with her name filled in.
        serve_templates(&wa.provider, vec![payment("APPROVED")], vec![]);
        app.post_ok(&sync, &app.admin_token, json!({}), 200).await?;
        app.post_ok(&resume, &app.admin_token, json!({}), 200).await?;
        let sent = eventually(WAIT, || async { wa.sends().into_iter().next() }).await;
        let sent = sent.ok_or_else(|| anyhow::anyhow!("the campaign never sent"))?;
        anyhow::ensure!(sent["template"]["name"] == "aviso_pago"
            && sent["template"]["components"][0]["parameters"][0]["text"] == "Ana", "{sent}");
        let done = eventually(WAIT, || async { campaign(app, &id).await.ok().filter(|c| c["status"] == "finished") }).await;
        anyhow::ensure!(done.is_some(), "{}", campaign(app, &id).await?);
        Ok(())
    }
}

on_both! {
    async fn whatsapp_templates_are_read_again_on_a_schedule(backend) {
        let wa = whatsapp_with(backend, |c| c.channels.template_sync_secs = 1).await?;
        let app = &wa.app;
        let port = wa.provider.port;
        serve_templates(&wa.provider, vec![reminder("APPROVED")], vec![]);
        let settings = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA, "api_base_url": format!("http://localhost:{port}")});
        app.patch(&format!("/api/v1/plugin-installs/{}", wa.install), &app.admin_token, json!({"settings": settings})).await?;
        let templates = format!("/api/v1/channel-accounts/{}/templates", wa.install);
        let read = eventually(WAIT, || async {
            let shown = app.get(&templates, &app.admin_token).await.ok()?;
            (shown.body["items"][0]["status"] == "approved").then_some(shown.body)
        }).await;
        anyhow::ensure!(read.is_some(), "never read: {}", app.get(&templates, &app.admin_token).await?.text);
        // Meta pauses it; the next reading shows it without anyone asking.
        serve_templates(&wa.provider, vec![reminder("PAUSED")], vec![]);
        let paused = eventually(WAIT, || async {
            let shown = app.get(&templates, &app.admin_token).await.ok()?;
            (shown.body["items"][0]["status"] == "paused").then_some(())
        }).await;
        anyhow::ensure!(paused.is_some(), "the pause was never seen");
        Ok(())
    }
}

/// The number's quality rating and messaging limit tier, as the Graph API gives them.
fn serve_standing(provider: &FakeProvider, quality: &str, tier: &str) {
    provider.on_get(
        &format!("/{PHONE_ID}?fields="),
        json!({"quality_rating": quality, "messaging_limit_tier": tier, "id": PHONE_ID}),
    );
}

on_both! {
    async fn campaigns_keep_to_the_accounts_messaging_limit_and_quality(backend) {
        use crate::campaigns::{campaign, grant, person, sending_hours};
        let wa = whatsapp(backend).await?;
        let app = &wa.app;
        let port = wa.provider.port;
        let settings = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA, "api_base_url": format!("http://localhost:{port}")});
        app.patch(&format!("/api/v1/plugin-installs/{}", wa.install), &app.admin_token, json!({"settings": settings})).await?;
        let payment = listed_template("aviso_pago", "APPROVED", json!([{"type": "BODY", "text": "Hola {{1}}, tu cuota vence el viernes."}]));
        serve_templates(&wa.provider, vec![payment], vec![]);
        serve_standing(&wa.provider, "GREEN", "TIER_50");
        let sync = format!("/api/v1/channel-accounts/{}/templates/sync", wa.install);
        let read = app.post_ok(&sync, &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(read["sync"]["quality"] == "green" && read["sync"]["daily_recipients"] == 50, "{read}");
        for n in 0..52 {
            let phone = json!([{"channel": "whatsapp", "value": format!("+5730055{n:05}")}]);
            person(app, &format!("P{n}"), &format!("Persona {n}"), phone, json!([grant("broadcasts")])).await?;
        }
        sending_hours(app, &wa.unit, true).await?;
        let segment = app.post_ok("/api/v1/segments", &app.admin_token, json!({"name": "Medicina",
            "filter": {"attributes": [{"key": "program", "in": ["Medicina"]}]}}), 201).await?;
        let draft = json!({"unit_id": wa.unit, "name": "Cuotas", "segment_id": segment["id"], "channel_install_id": wa.install,
            "message": {"template": {"name": "aviso_pago", "language": "es_CO", "parameters": ["{{name}}"]}}});
        let id = app.post_ok("/api/v1/campaigns", &app.admin_token, draft.clone(), 201).await?["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/campaigns/{id}/launch"), &app.admin_token, json!({}), 200).await?;

        // Fifty people in 24 hours is the tier's limit: two wait, the campaign still running.
        let capped = eventually(WAIT, || async {
            campaign(app, &id).await.ok().filter(|c| c["recipients"]["sent"] == 50 && c["recipients"]["queued"] == 2)
        }).await;
        anyhow::ensure!(capped.is_some(), "{}", campaign(app, &id).await?);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let still = campaign(app, &id).await?;
        anyhow::ensure!(wa.sends().len() == 50 && still["status"] == "running" && still["recipients"]["queued"] == 2, "{still}");

        // Meta raises the tier: the reading wakes the campaign, which finishes.
        serve_standing(&wa.provider, "GREEN", "TIER_250");
        app.post_ok(&sync, &app.admin_token, json!({}), 200).await?;
        let done = eventually(WAIT, || async { campaign(app, &id).await.ok().filter(|c| c["status"] == "finished") }).await;
        anyhow::ensure!(done.is_some() && wa.sends().len() == 52, "{} after {} sends", campaign(app, &id).await?, wa.sends().len());

        // A red quality rating holds the next campaign before anyone gets it.
        serve_standing(&wa.provider, "RED", "TIER_250");
        let read = app.post_ok(&sync, &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(read["sync"]["quality"] == "red", "{read}");
        let next = app.post_ok("/api/v1/campaigns", &app.admin_token, draft, 201).await?["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/campaigns/{next}/launch"), &app.admin_token, json!({}), 200).await?;
        let held = eventually(WAIT, || async { campaign(app, &next).await.ok().filter(|c| c["status"] == "paused") }).await;
        anyhow::ensure!(held.is_some(), "{}", campaign(app, &next).await?);
        let audit = app.get(&format!("/api/v1/audit-events?target_kind=campaign&target_id={next}"), &app.admin_token).await?;
        anyhow::ensure!(audit.text.contains("campaign.held") && audit.text.contains("red"), "{}", audit.text);
        anyhow::ensure!(wa.sends().len() == 52, "{} sends", wa.sends().len());
        Ok(())
    }
}
