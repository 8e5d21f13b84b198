//! The Telegram connector, loaded by the real host: updates in the shapes
//! the Bot API documents, checked by the secret-token header, and sends
//! checked against a local stand-in of the Bot API, the bot token put in
//! the URL by the host (WIT 1.1 `fetch-with-secret-in-url`).

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{
    FakeProvider, Reply, TestApp, eventually, install_plugin, install_plugin_with, on_both, set_secret, spawn_app_with,
};

const WAIT: Duration = Duration::from_secs(30);
const BOT_TOKEN: &str = "7123456789:AAH-token_de/prueba";
/// The server\'s public address: links to files sent start with it.
const PUBLIC: &str = "https://ayuda.uni.edu.co";
const WEBHOOK_SECRET: &str = "secreto-del-webhook-123";
const CHAT: i64 = 5_123_456_789;

struct Telegram {
    app: TestApp,
    provider: FakeProvider,
    install: String,
    unit: String,
}

async fn telegram(backend: ventanilla_tests::Backend) -> anyhow::Result<Telegram> {
    let provider = FakeProvider::start().await?;
    provider.succeed_with(
        r#"{"ok":true,"result":{"message_id":{n},"chat":{"id":5123456789,"type":"private"},"date":1732300000}}"#,
    );
    let port = provider.port;
    let app = spawn_app_with(backend, |c| {
        c.plugins.private_hosts = vec![format!("localhost:{port}")];
        c.public_url = Some(PUBLIC.into());
    })
    .await?;
    let unit = app.create_unit("bienestar").await?;
    let settings = json!({"bot_username": "UniAyudaBot", "api_base_url": format!("http://localhost:{port}")});
    let grants = json!({"kv": true, "http_hosts": ["api.telegram.org", "localhost"], "secrets": ["bot_token", "webhook_secret"]});
    let install = install_plugin_with(&app, "telegram", settings, grants, &[unit.as_str()], |manifest| {
        manifest.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
    })
    .await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    set_secret(&app, &install, "bot_token", BOT_TOKEN).await?;
    set_secret(&app, &install, "webhook_secret", WEBHOOK_SECRET).await?;
    Ok(Telegram { app, provider, install, unit })
}

/// An update with one message in the private chat, `fields` merged in.
fn message(update_id: i64, message_id: i64, fields: Value) -> String {
    let mut message = json!({
        "message_id": message_id,
        "from": {"id": CHAT, "is_bot": false, "first_name": "Camila", "last_name": "Rojas", "username": "camir", "language_code": "es"},
        "chat": {"id": CHAT, "first_name": "Camila", "last_name": "Rojas", "username": "camir", "type": "private"},
        "date": 1_732_300_000,
    });
    if let (Some(target), Some(extra)) = (message.as_object_mut(), fields.as_object()) {
        target.extend(extra.clone());
    }
    json!({"update_id": update_id, "message": message}).to_string()
}

fn text(update_id: i64, message_id: i64, text: &str) -> String {
    message(update_id, message_id, json!({"text": text}))
}

impl Telegram {
    async fn post(&self, body: &str, secret: Option<&str>) -> anyhow::Result<Reply> {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(secret.map(|s| ("x-telegram-bot-api-secret-token", s)));
        self.app.webhook(&self.install, body, &headers).await
    }

    async fn deliver(&self, body: &str) -> anyhow::Result<()> {
        let reply = self.post(body, Some(WEBHOOK_SECRET)).await?;
        anyhow::ensure!(reply.status == 200, "{}: {}", reply.status, reply.text);
        Ok(())
    }

    async fn cases(&self) -> anyhow::Result<Vec<Value>> {
        let cases = self.app.get("/api/v1/cases", &self.app.admin_token).await?;
        Ok(cases.body["items"].as_array().cloned().unwrap_or_default())
    }

    /// The JSON bodies the stand-in received for `sendMessage`.
    fn sends(&self) -> Vec<Value> {
        self.provider
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/sendMessage"))
            .map(|r| serde_json::from_str(&r.body).unwrap_or_default())
            .collect()
    }
}

on_both! {
    async fn photos_people_send_are_fetched_with_the_token_in_the_url(backend) {
        let tg = telegram(backend).await?;
        let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 a student card".to_vec();
        tg.provider.on_get("/getFile?file_id=AgAD-large", json!({"ok": true, "result": {
            "file_id": "AgAD-large", "file_unique_id": "a2", "file_size": jpeg.len(), "file_path": "photos/file_3.jpg"}}));
        // Telegram's file server answers a generic type: the webhook's stands.
        tg.provider.serve_file("/photos/file_3.jpg", "application/octet-stream", &jpeg);
        tg.deliver(&message(2, 11, json!({"caption": "Mi carné", "photo": [
            {"file_id": "AgAD-small", "file_unique_id": "a1", "file_size": 1200, "width": 90, "height": 90},
            {"file_id": "AgAD-large", "file_unique_id": "a2", "file_size": 81200, "width": 1280, "height": 960}]}))).await?;
        let files = tg.app.settled_files().await?;
        anyhow::ensure!(files[0]["status"] == "kept" && files[0]["content_type"] == "image/jpeg", "{files:?}");
        anyhow::ensure!(files[0]["size_bytes"] == jpeg.len(), "the size is what was downloaded: {files:?}");
        anyhow::ensure!(tg.app.download(&files[0]).await? == jpeg);
        let token = "7123456789:AAH-token_de%2Fprueba";
        let paths: Vec<String> = tg.provider.requests().into_iter().map(|r| r.path).collect();
        anyhow::ensure!(paths.iter().any(|p| p == &format!("/bot{token}/getFile?file_id=AgAD-large")), "{paths:?}");
        anyhow::ensure!(paths.iter().any(|p| p == &format!("/file/bot{token}/photos/file_3.jpg")), "{paths:?}");
        Ok(())
    }

    async fn updates_are_checked_parsed_and_deduplicated(backend) {
        let tg = telegram(backend).await?;
        let hello = text(1, 10, "Hola, necesito una cita con psicología");
        // Without the secret token, or with another, nothing is stored.
        anyhow::ensure!(tg.post(&hello, None).await?.status == 401);
        anyhow::ensure!(tg.post(&hello, Some("otro-secreto")).await?.status == 401);
        anyhow::ensure!(tg.cases().await?.is_empty());
        let malformed = tg.post(r#"{"message": {"text": "sin update_id"}}"#, Some(WEBHOOK_SECRET)).await?;
        anyhow::ensure!(malformed.status == 400 && malformed.text.contains("update_id"), "{}", malformed.text);
        anyhow::ensure!(tg.post("no es json", Some(WEBHOOK_SECRET)).await?.status == 400);

        tg.deliver(&hello).await?;
        // Telegram retries an update until it gets 200: stored once.
        tg.deliver(&hello).await?;
        let cases = tg.cases().await?;
        anyhow::ensure!(cases.len() == 1, "{cases:?}");
        let case = &cases[0];
        anyhow::ensure!(case["channel"] == "telegram" && case["unit_id"] == tg.unit.as_str(), "{case}");
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let contact = tg.app.get(&format!("/api/v1/contacts/{}", case["contact_id"].as_str().unwrap_or_default()), &tg.app.admin_token).await?;
        anyhow::ensure!(contact.body["name"] == "Camila Rojas", "{}", contact.text);
        anyhow::ensure!(contact.text.contains(&CHAT.to_string()), "{}", contact.text);

        let kinds = [
            message(2, 11, json!({"photo": [
                {"file_id": "AgAD-small", "file_unique_id": "a1", "file_size": 1200, "width": 90, "height": 90},
                {"file_id": "AgAD-large", "file_unique_id": "a2", "file_size": 81200, "width": 1280, "height": 960}],
                "caption": "Mi carné"})),
            message(3, 12, json!({"document": {"file_id": "BQAD-doc", "file_unique_id": "d1", "file_name": "certificado.pdf", "mime_type": "application/pdf", "file_size": 48213}})),
            message(4, 13, json!({"voice": {"file_id": "AwAD-voice", "file_unique_id": "v1", "duration": 4, "mime_type": "audio/ogg", "file_size": 9100}})),
            message(5, 14, json!({"location": {"latitude": 4.6371, "longitude": -74.0836},
                "venue": {"location": {"latitude": 4.6371, "longitude": -74.0836}, "title": "Edificio de Bienestar", "address": "Calle 45 # 30-20"}})),
            message(6, 15, json!({"contact": {"phone_number": "+573005550100", "first_name": "Luis", "last_name": "Mora"}})),
            message(7, 16, json!({"sticker": {"file_id": "CAAD-sticker", "file_unique_id": "s1", "emoji": "🙏", "width": 512, "height": 512, "is_animated": false, "is_video": false, "type": "regular"}})),
            message(8, 17, json!({"poll": {"id": "1", "question": "?", "options": []}})),
            // A reply to an earlier message names it.
            message(9, 18, json!({"text": "Sobre lo anterior", "reply_to_message": {"message_id": 10, "chat": {"id": CHAT, "type": "private"}, "date": 1}})),
            // Not for a case: an edit, a group message, a bot.
            json!({"update_id": 10, "edited_message": {"message_id": 10, "chat": {"id": CHAT, "type": "private"}, "date": 1, "edit_date": 2, "text": "editado"}}).to_string(),
            json!({"update_id": 11, "message": {"message_id": 1, "from": {"id": 7, "is_bot": false, "first_name": "G"}, "chat": {"id": -100_123, "title": "Grupo", "type": "supergroup"}, "date": 1, "text": "en grupo"}}).to_string(),
            json!({"update_id": 12, "my_chat_member": {"chat": {"id": CHAT, "type": "private"}, "from": {"id": CHAT}, "date": 1,
                "old_chat_member": {"status": "member"}, "new_chat_member": {"status": "kicked"}}}).to_string(),
        ];
        for body in &kinds {
            tg.deliver(body).await?;
        }
        let messages = tg.app.messages(&case_id).await?;
        anyhow::ensure!(messages.len() == 9, "{messages:#?}");
        let by_id = |id: &str| messages.iter().find(|m| m["provider_message_id"] == format!("{CHAT}:{id}")).cloned().unwrap_or_default();
        let photo = by_id("11");
        anyhow::ensure!(photo["body"] == "Mi carné" && photo["attachments"].as_array().map_or(0, Vec::len) == 1, "{photo}");
        anyhow::ensure!(photo["attachments"][0]["size_bytes"] == 81200 && photo["attachments"][0]["content_type"] == "image/jpeg", "{photo}");
        let document = &by_id("12")["attachments"][0];
        anyhow::ensure!(document["file_name"] == "certificado.pdf" && document["content_type"] == "application/pdf", "{document}");
        anyhow::ensure!(by_id("13")["attachments"][0]["content_type"] == "audio/ogg");
        let place = by_id("14")["body"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(place.contains("Edificio de Bienestar, Calle 45 # 30-20") && place.contains("mlat=4.6371"), "{place}");
        anyhow::ensure!(by_id("15")["body"] == "👤 Luis Mora +573005550100");
        anyhow::ensure!(by_id("16")["body"] == "🙏");
        anyhow::ensure!(by_id("17")["body"] == "[poll]");
        anyhow::ensure!(by_id("18")["body"] == "Sobre lo anterior");
        anyhow::ensure!(tg.cases().await?.len() == 1, "the group message made no case");
        Ok(())
    }

    async fn replies_carry_keyboards_and_failures_are_classified(backend) {
        let tg = telegram(backend).await?;
        install_plugin(&tg.app, "hostile-bot", json!({"mode": "options"}), json!({}), &[tg.unit.as_str()]).await?;
        // The bot offers three options: a one-time reply keyboard.
        tg.deliver(&text(1, 10, "3")).await?;
        let sent = eventually(WAIT, || async { tg.sends().first().cloned() }).await.ok_or_else(|| anyhow::anyhow!("no reply"))?;
        anyhow::ensure!(sent == json!({"chat_id": CHAT.to_string(), "text": "Elige una opción",
            "reply_markup": {"keyboard": [[{"text": "Opción 1"}], [{"text": "Opción 2"}], [{"text": "Opción 3"}]],
            "one_time_keyboard": true, "resize_keyboard": true}}), "{sent}");
        // The host put the token in the URL; the plugin never saw it.
        let request = tg.provider.requests().into_iter().find(|r| r.path.ends_with("/sendMessage")).ok_or_else(|| anyhow::anyhow!("no send"))?;
        anyhow::ensure!(request.path == "/bot7123456789:AAH-token_de%2Fprueba/sendMessage", "{}", request.path);

        // A tap on the keyboard arrives as the label: it comes back as the option's id.
        tg.deliver(&text(2, 11, "Opción 2")).await?;
        let case_id = tg.cases().await?[0]["id"].as_str().unwrap_or_default().to_owned();
        let chosen = eventually(WAIT, || async {
            let messages = tg.app.messages(&case_id).await.ok()?;
            messages.into_iter().find(|m| m["body"] == "Opción 2")
        }).await.ok_or_else(|| anyhow::anyhow!("the tap was not stored"))?;
        anyhow::ensure!(chosen["selected_option"] == "opt-2", "{chosen}");
        // The bot answers the tap with options again; wait for it to go out.
        eventually(WAIT, || async { (tg.sends().len() == 2).then_some(()) }).await.ok_or_else(|| anyhow::anyhow!("no second reply"))?;

        // An agent's reply without options takes the keyboard away; a long
        // text goes in pieces of 4096 characters.
        let path = format!("/api/v1/cases/{case_id}/messages");
        let long = format!("{}\n{}", "a".repeat(4000), "b".repeat(500));
        let reply = tg.app.post_ok(&path, &tg.app.admin_token, json!({"body": long}), 201).await?;
        let reply_id = reply["id"].as_str().unwrap_or_default().to_owned();
        let stored = tg.app.message_in(&case_id, &reply_id, "sent", &tg.provider).await?;
        let sends = tg.sends();
        let pieces: Vec<&Value> = sends.iter().filter(|s| s["text"].as_str().is_some_and(|t| t.starts_with('a') || t.starts_with('b'))).collect();
        anyhow::ensure!(pieces.len() == 2 && pieces[1]["text"] == "b".repeat(500), "{sends:?}");
        anyhow::ensure!(pieces[0].get("reply_markup").is_none() && pieces[1]["reply_markup"] == json!({"remove_keyboard": true}), "{sends:?}");
        let last_id = stored["provider_message_id"].as_str().unwrap_or_default();
        anyhow::ensure!(last_id.starts_with(&format!("{CHAT}:")), "{stored}");

        // Flood control (429) is retried; a blocked bot (403) is final, with
        // Telegram's reason and never the token.
        tg.provider.answer_json([(429, json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}))]);
        let retried = tg.app.post_ok(&path, &tg.app.admin_token, json!({"body": "¿Le sirvió la información?"}), 201).await?;
        tg.app.message_in(&case_id, retried["id"].as_str().unwrap_or_default(), "sent", &tg.provider).await?;
        anyhow::ensure!(tg.sends().iter().filter(|s| s["text"] == "¿Le sirvió la información?").count() == 2);
        tg.provider.answer_json([(403, json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}))]);
        let blocked = tg.app.post_ok(&path, &tg.app.admin_token, json!({"body": "Hasta pronto"}), 201).await?;
        let failed = tg.app.message_in(&case_id, blocked["id"].as_str().unwrap_or_default(), "failed", &tg.provider).await?;
        let reason = failed["delivery_error"].as_str().unwrap_or_default();
        anyhow::ensure!(reason.contains("403") && reason.contains("blocked by the user"), "{reason}");
        anyhow::ensure!(tg.sends().iter().filter(|s| s["text"] == "Hasta pronto").count() == 1, "not retried");
        anyhow::ensure!(!reason.contains("AAH"), "{reason}");
        Ok(())
    }

    async fn files_go_out_by_link_with_the_text_as_caption(backend) {
        let tg = telegram(backend).await?;
        tg.deliver(&text(1, 10, "¿Me mandan el horario?")).await?;
        let case_id = tg.cases().await?[0]["id"].as_str().unwrap_or_default().to_owned();
        let png = b"\x89PNG\r\n\x1a\nresto".to_vec();
        let sent = tg.app.send_file(&case_id, "Horario del semestre", "image/png", "horario.png", png).await?;
        tg.app.message_in(&case_id, sent["id"].as_str().unwrap_or_default(), "sent", &tg.provider).await?;
        let photo = tg.provider.requests().into_iter().find(|r| r.path.ends_with("/sendPhoto")).ok_or_else(|| anyhow::anyhow!("no sendPhoto"))?;
        let body: Value = serde_json::from_str(&photo.body)?;
        anyhow::ensure!(body["caption"] == "Horario del semestre" && body["chat_id"] == json!(CHAT.to_string()), "{body}");
        anyhow::ensure!(body["photo"].as_str().is_some_and(|u| u.starts_with(&format!("{PUBLIC}/api/v1/attachments/"))), "{body}");
        anyhow::ensure!(tg.sends().is_empty(), "the text went as the caption");
        Ok(())
    }
}

on_both! {
    async fn staff_write_first_on_telegram_only_to_people_who_wrote_to_the_bot(backend) {
        let tg = telegram(backend).await?;
        let app = &tg.app;
        let start = |contact: Value| json!({"subject": "Seguimiento", "channel": "telegram", "unit_id": tg.unit,
            "channel_install_id": tg.install, "contact": contact,
            "first_message": {"body": "Hola Camila, ¿cómo sigues?", "author_kind": "agent"}});
        // A chat id typed in by staff is not enough: the person never wrote to this bot.
        let typed = json!({"name": "Camila Rojas", "identities": [{"channel": "telegram", "value": CHAT.to_string()}]});
        let refused = app.post("/api/v1/cases", &app.admin_token, start(typed)).await?;
        anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "channel_install_id", "{}", refused.text);
        anyhow::ensure!(refused.text.contains("written to this account"), "{}", refused.text);
        anyhow::ensure!(tg.sends().is_empty(), "{:?}", tg.sends());

        // Once she has written (and that case ended), staff can start a new conversation with her.
        tg.deliver(&text(40, 70, "Hola, necesito una cita")).await?;
        let first = tg.cases().await?;
        let contact = first[0]["contact_id"].as_str().unwrap_or_default().to_owned();
        let case = first[0]["id"].as_str().unwrap_or_default().to_owned();
        let closed = app.patch(&format!("/api/v1/cases/{case}"), &app.admin_token, json!({"status": "closed"})).await?;
        anyhow::ensure!(closed.status == 200, "{}", closed.text);
        let body = json!({"subject": "Seguimiento", "channel": "telegram", "unit_id": tg.unit,
            "channel_install_id": tg.install, "contact_id": contact,
            "first_message": {"body": "Hola Camila, ¿cómo sigues?", "author_kind": "agent"}});
        let started = app.post_ok("/api/v1/cases", &app.admin_token, body, 201).await?;
        anyhow::ensure!(started["id"] != case.as_str() && started["channel_install_id"] == tg.install.as_str(), "{started}");
        let sent = eventually(WAIT, || async {
            tg.sends().into_iter().find(|s| s["text"] == "Hola Camila, ¿cómo sigues?")
        }).await;
        let sent = sent.ok_or_else(|| anyhow::anyhow!("never sent: {:?}", tg.sends()))?;
        anyhow::ensure!(sent["chat_id"].to_string().trim_matches('"') == CHAT.to_string(), "{sent}");
        Ok(())
    }
}
