//! Plugins at work: case events reach protocols and bots through durable
//! jobs, their actions are applied in one transaction and audited, failures
//! fail safe by kind, and connectors take provider webhooks in and send
//! messages out through the host's guarded HTTP.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{
    FakeProvider, TestApp, eventually, install_plugin, on_both, set_secret, spawn_app, spawn_app_with, upload_plugin,
};

const WAIT: Duration = Duration::from_secs(20);

async fn notifications(app: &TestApp, token: &str) -> anyhow::Result<Vec<Value>> {
    let reply = app.get("/api/v1/notifications", token).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
}

async fn audit(app: &TestApp, action: &str, target: &str) -> anyhow::Result<Vec<Value>> {
    let reply = app
        .get(&format!("/api/v1/audit-events?action={action}&target_id={target}&limit=100"), &app.admin_token)
        .await?;
    Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
}

fn has_tag(c: &Value, tag: &str) -> bool {
    c["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))
}

fn sign(body: &str) -> String {
    ventanilla::secrets::hmac_sha256_hex(b"app-secret-123", body.as_bytes())
}

async fn webhook(app: &TestApp, install: &str, body: &str, signature: &str) -> anyhow::Result<ventanilla_tests::Reply> {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/{install}")))
        .header("x-fake-signature", signature)
        .body(body.to_owned())
        .send()
        .await?;
    TestApp::reply(response).await
}

on_both! {
    async fn a_crisis_protocol_escalates_through_actions(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("bienestar").await?;
        let other = app.create_unit("admisiones").await?;
        let (_, supervisor) = app.create_member("sup@uni.test", &unit, "supervisor").await?;
        let install = install_plugin(&app, "hostile-protocol", json!({"mode": "crisis"}), json!({"kv": true}), &[unit.as_str()]).await?;
        anyhow::ensure!(install["world"] == "protocol" && install["units"][0] == unit.as_str(), "{install}");

        let calm = app.create_case(&app.admin_token, &unit, "Horario de atención").await?;
        let urgent = app.post_ok("/api/v1/cases", &app.admin_token, json!({
            "subject": "Ayuda", "channel": "whatsapp", "unit_id": unit,
            "contact": {"identities": [{"channel": "whatsapp", "value": "+573001112233"}]},
            "first_message": {"body": "Tengo pensamientos de hacerme daño", "author_kind": "contact"},
        }), 201).await?;
        let elsewhere = app.post_ok("/api/v1/cases", &app.admin_token, json!({
            "subject": "Ayuda", "channel": "whatsapp", "unit_id": other,
            "contact": {"identities": [{"channel": "whatsapp", "value": "+573001112244"}]},
            "first_message": {"body": "emergencia", "author_kind": "contact"},
        }), 201).await?;

        let escalated = app.case_until(urgent["id"].as_str().unwrap_or_default(), "crisis escalated", |c| c["priority"] == "urgent").await?;
        anyhow::ensure!(has_tag(&escalated, "crisis"), "{escalated}");
        let told = notifications(&app, &supervisor).await?;
        anyhow::ensure!(told.iter().any(|n| n["kind"] == "plugin" && n["case_id"] == escalated["id"] && n["text"].as_str().is_some_and(|t| t.contains("Posible crisis"))), "{told:?}");

        // The audit names the plugin, its version and the install.
        let actions = audit(&app, "plugin.action", escalated["id"].as_str().unwrap_or_default()).await?;
        anyhow::ensure!(actions.len() == 3, "{actions:?}");
        anyhow::ensure!(actions.iter().all(|a| a["actor_kind"] == "plugin" && a["details"]["plugin_id"] == "hostile-protocol" && a["details"]["version"] == "1.0.0"), "{actions:?}");

        // A calm case and a case of a unit the install does not follow are untouched.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for id in [&calm["id"], &elsewhere["id"]] {
            let c = app.case(id.as_str().unwrap_or_default()).await?;
            anyhow::ensure!(c["priority"] == "normal" && !has_tag(&c, "crisis"), "{c}");
        }
        Ok(())
    }

    async fn protocol_failures_escalate_and_suspend(backend) {
        let app = spawn_app_with(backend, |c| c.plugins.suspend_after = 2).await?;
        let unit = app.create_unit("bienestar").await?;
        let (_, supervisor) = app.create_member("sup@uni.test", &unit, "supervisor").await?;
        let install = install_plugin(&app, "hostile-protocol", json!({"mode": "panic"}), json!({}), &[]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        let first = app.create_case(&app.admin_token, &unit, "Uno").await?;
        let found = eventually(WAIT, || async {
            let n = notifications(&app, &supervisor).await.ok()?;
            n.iter().any(|n| n["kind"] == "protocol_failed" && n["case_id"] == first["id"]).then_some(())
        }).await;
        anyhow::ensure!(found.is_some(), "no escalation: {:?}", notifications(&app, &supervisor).await?);
        let failed = audit(&app, "plugin.failed", first["id"].as_str().unwrap_or_default()).await?;
        anyhow::ensure!(failed.iter().any(|a| a["details"]["fail_safe"] == "escalated" && a["details"]["error"].as_str().is_some_and(|e| e.contains("trapped"))), "{failed:?}");

        // Case created + first message: two failures in a row suspend it.
        let suspended = eventually(WAIT, || async {
            let i = app.get(&format!("/api/v1/plugin-installs/{id}"), &app.admin_token).await.ok()?;
            (i.body["status"] == "suspended").then_some(i.body)
        }).await;
        let Some(suspended) = suspended else { anyhow::bail!("not suspended") };
        anyhow::ensure!(suspended["suspended_reason"].as_str().is_some_and(|r| r.contains("2 consecutive failures")), "{suspended}");
        let admin_told = notifications(&app, &app.admin_token).await?;
        anyhow::ensure!(admin_told.iter().any(|n| n["kind"] == "plugin_suspended"), "{admin_told:?}");
        let health = app.get(&format!("/api/v1/plugin-installs/{id}/health"), &app.admin_token).await?;
        anyhow::ensure!(health.body["failures"].as_u64().unwrap_or(0) >= 2, "{}", health.text);

        // A suspended install gets no more events, and the server keeps serving.
        let later = app.create_case(&app.admin_token, &unit, "Dos").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        anyhow::ensure!(audit(&app, "plugin.failed", later["id"].as_str().unwrap_or_default()).await?.is_empty());
        Ok(())
    }

    async fn invalid_actions_apply_nothing(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("bienestar").await?;
        app.create_member("sup@uni.test", &unit, "supervisor").await?;
        install_plugin(&app, "hostile-protocol", json!({"mode": "invalid"}), json!({}), &[]).await?;
        let created = app.create_case(&app.admin_token, &unit, "Uno").await?;
        let id = created["id"].as_str().unwrap_or_default();
        let found = eventually(WAIT, || async {
            let failed = audit(&app, "plugin.failed", id).await.ok()?;
            failed.iter().find(|a| a["details"]["error"].as_str().is_some_and(|e| e.contains("assign"))).cloned()
        }).await;
        anyhow::ensure!(found.is_some(), "no failure recorded: {:?}", audit(&app, "plugin.failed", id).await?);
        // The valid tag in the same batch was not applied either.
        anyhow::ensure!(!has_tag(&app.case(id).await?, "aplicado"));
        Ok(())
    }

    async fn timers_fire_later_and_can_escalate(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("tramites").await?;
        install_plugin(&app, "hostile-protocol", json!({"mode": "timer"}), json!({}), &[]).await?;
        let created = app.create_case(&app.admin_token, &unit, "Certificado").await?;
        let id = created["id"].as_str().unwrap_or_default();
        let fired = app.case_until(id, "timer fired", |c| has_tag(c, "sla-primera-respuesta")).await?;
        anyhow::ensure!(fired["priority"] == "urgent", "{fired}");
        Ok(())
    }

    async fn protocols_read_only_their_own_case(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("tramites").await?;
        install_plugin(&app, "hostile-protocol", json!({"mode": "read"}), json!({"case_read": true}), &[]).await?;
        let created = app.create_case(&app.admin_token, &unit, "Certificado").await?;
        let id = created["id"].as_str().unwrap_or_default();
        let number = created["number"].as_i64().unwrap_or_default();
        let found = eventually(WAIT, || async {
            let messages = app.get(&format!("/api/v1/cases/{id}/messages"), &app.admin_token).await.ok()?;
            messages.body["items"].as_array()?.iter().find(|m| m["author_kind"] == "bot").cloned()
        }).await;
        let Some(reply) = found else { anyhow::bail!("no reply") };
        let body = reply["body"].as_str().unwrap_or_default();
        anyhow::ensure!(body.starts_with(&format!("own={number} other=CaseError::NotFound recent=")), "{body}");
        Ok(())
    }

    async fn a_failing_bot_hands_the_case_to_people(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        install_plugin(&app, "hostile-bot", json!({"mode": "echo-plain"}), json!({}), &[]).await?;
        let talk = |phone: &'static str, text: &'static str| {
            let app = &app;
            let unit = unit.clone();
            async move {
                app.post_ok("/api/v1/cases", &app.admin_token, json!({
                    "subject": "Consulta", "channel": "whatsapp", "unit_id": unit, "status": "bot",
                    "contact": {"identities": [{"channel": "whatsapp", "value": phone}]},
                    "first_message": {"body": text, "author_kind": "contact"},
                }), 201).await
            }
        };
        let answered = talk("+573001110001", "¿Cuándo abren inscripciones?").await?;
        let id = answered["id"].as_str().unwrap_or_default().to_owned();
        let reply = eventually(WAIT, || async {
            let m = app.get(&format!("/api/v1/cases/{id}/messages"), &app.admin_token).await.ok()?;
            m.body["items"].as_array()?.iter().find(|m| m["author_kind"] == "bot").cloned()
        }).await;
        anyhow::ensure!(reply.is_some_and(|r| r["body"] == "Recibí: ¿Cuándo abren inscripciones?"), "no bot reply");
        anyhow::ensure!(app.case(&id).await?["status"] == "bot");

        // The same bot, now panicking: the case goes to the human queue with a note.
        let installs = app.get("/api/v1/plugin-installs", &app.admin_token).await?;
        let install = installs.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();
        let patched = app.patch(&format!("/api/v1/plugin-installs/{install}"), &app.admin_token, json!({"settings": {"mode": "panic"}})).await?;
        anyhow::ensure!(patched.status == 200, "{}", patched.text);
        let failing = talk("+573001110002", "Hola").await?;
        let failing_id = failing["id"].as_str().unwrap_or_default().to_owned();
        app.case_until(&failing_id, "handed to the queue", |c| c["status"] == "queued").await?;
        let notes = app.get(&format!("/api/v1/cases/{failing_id}/notes"), &app.admin_token).await?;
        anyhow::ensure!(notes.text.contains("cola de atención humana"), "{}", notes.text);
        Ok(())
    }

    async fn bot_state_lives_in_the_database(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let install = install_plugin(&app, "hostile-bot", json!({}), json!({"kv": true}), &[]).await?;
        let mut replies = vec![];
        for (n, phone) in ["+573001110011", "+573001110012"].into_iter().enumerate() {
            let created = app.post_ok("/api/v1/cases", &app.admin_token, json!({
                "subject": "Consulta", "channel": "whatsapp", "unit_id": unit, "status": "bot",
                "contact": {"identities": [{"channel": "whatsapp", "value": phone}]},
                "first_message": {"body": format!("hola {n}"), "author_kind": "contact"},
            }), 201).await?;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            let reply = eventually(WAIT, || async {
                let m = app.get(&format!("/api/v1/cases/{id}/messages"), &app.admin_token).await.ok()?;
                m.body["items"].as_array()?.iter().find(|m| m["author_kind"] == "bot").map(|m| m["body"].clone())
            }).await;
            replies.push(reply.unwrap_or_default());
        }
        // Each call is a fresh instance; the count survives in the install's kv.
        anyhow::ensure!(replies == [json!("hola 0 #1"), json!("hola 1 #2")], "{replies:?}");
        let install_id = uuid::Uuid::parse_str(install["id"].as_str().unwrap_or_default())?;
        let stored = ventanilla::store::plugin_kv::get(&app.store.db, install_id, "count").await?;
        anyhow::ensure!(stored.as_deref() == Some(b"2".as_slice()), "{stored:?}");
        Ok(())
    }

    // Found by tests/api/fuzz.rs: a signed webhook whose sender is no phone
    // number was a 503 (retried for ever, and counted towards suspending the
    // account); a NUL in the text was a 503 on PostgreSQL.
    async fn odd_content_from_a_provider_is_refused_or_cleaned_never_retried(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let install = install_plugin(&app, "hostile-connector", json!({}), json!({"secrets": ["app_secret"]}), &[unit.as_str()]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        set_secret(&app, &id, "app_secret", "app-secret-123").await?;
        for n in 0..8 {
            let body = json!({"messages": [{"id": format!("short-{n}"), "from": "+573", "text": "Hola"}]}).to_string();
            let reply = webhook(&app, &id, &body, &sign(&body)).await?;
            anyhow::ensure!(reply.status == 400 && reply.text.contains("sender"), "{}", reply.text);
        }
        let shown = app.get(&format!("/api/v1/plugin-installs/{id}"), &app.admin_token).await?;
        anyhow::ensure!(shown.body["status"] == "active", "not suspended by the provider's data: {}", shown.text);
        let body = json!({"messages": [{"id": "nul-1", "from": "+573005550199", "name": "Ana\u{0}", "text": "Ho\u{0}la\u{7}"}]}).to_string();
        let reply = webhook(&app, &id, &body, &sign(&body)).await?;
        anyhow::ensure!(reply.status == 200, "{}", reply.text);
        let case = app.only_case().await?;
        let messages = app.messages(case["id"].as_str().unwrap_or_default()).await?;
        anyhow::ensure!(messages.first().is_some_and(|m| m["body"] == "Hola"), "{messages:?}");
        Ok(())
    }

    async fn connector_webhooks_are_verified_committed_and_deduplicated(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let install = install_plugin(&app, "hostile-connector", json!({}), json!({"secrets": ["app_secret"]}), &[unit.as_str()]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(install["webhook_path"] == format!("/api/v1/webhooks/{id}"), "{install}");
        set_secret(&app, &id, "app_secret", "app-secret-123").await?;
        let shown = app.get(&format!("/api/v1/plugin-installs/{id}"), &app.admin_token).await?;
        anyhow::ensure!(shown.body["secrets"][0]["name"] == "app_secret" && !shown.text.contains("app-secret-123"), "{}", shown.text);
        // At rest it is sealed: the stored bytes do not contain the value.
        use sea_orm::EntityTrait;
        let rows = ventanilla::store::plugin_secret::entity::Entity::find().all(&app.store.db).await?;
        anyhow::ensure!(rows.len() == 1 && !rows[0].ciphertext.windows(14).any(|w| w == b"app-secret-123"), "{rows:?}");

        let body = json!({"messages": [{"id": "wamid.1", "from": "+57 300 555 0101", "name": "Ana Ruiz", "text": "Hola, necesito mi certificado"}]}).to_string();
        let bad = webhook(&app, &id, &body, "00").await?;
        anyhow::ensure!(bad.status == 401 && bad.body["code"] == "invalid_signature", "{}", bad.text);
        let malformed = webhook(&app, &id, "not json", &sign("not json")).await?;
        anyhow::ensure!(malformed.status == 400, "{}", malformed.text);
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().is_some_and(Vec::is_empty), "nothing stored on refusal");

        let ok = webhook(&app, &id, &body, &sign(&body)).await?;
        anyhow::ensure!(ok.status == 200 && ok.body["ok"] == true, "{}", ok.text);
        let again = webhook(&app, &id, &body, &sign(&body)).await?;
        anyhow::ensure!(again.status == 200, "{}", again.text);
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        let items = cases.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.len() == 1 && items[0]["subject"] == "Hola, necesito mi certificado" && items[0]["unit_id"] == unit.as_str(), "{}", cases.text);
        let case_id = items[0]["id"].as_str().unwrap_or_default();
        let messages = app.get(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token).await?;
        anyhow::ensure!(messages.body["items"].as_array().map_or(0, Vec::len) == 1, "deduplicated: {}", messages.text);
        let contact = app.get(&format!("/api/v1/contacts/{}", items[0]["contact_id"].as_str().unwrap_or_default()), &app.admin_token).await?;
        anyhow::ensure!(contact.body["name"] == "Ana Ruiz", "{}", contact.text);

        // A second message from the same person joins the open case.
        let next = json!({"messages": [{"id": "wamid.2", "from": "+573005550101", "text": "¿Me ayudan?"}]}).to_string();
        anyhow::ensure!(webhook(&app, &id, &next, &sign(&next)).await?.status == 200);
        let messages = app.get(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token).await?;
        anyhow::ensure!(messages.body["items"].as_array().map_or(0, Vec::len) == 2, "{}", messages.text);

        // Verification handshake.
        let challenge = app.client.get(app.url(&format!("/api/v1/webhooks/{id}?challenge=abc123"))).send().await?.text().await?;
        anyhow::ensure!(challenge == "abc123", "{challenge}");
        let unknown = webhook(&app, &uuid::Uuid::now_v7().to_string(), &body, "x").await?;
        anyhow::ensure!(unknown.status == 404, "{}", unknown.text);
        Ok(())
    }

    async fn replies_go_out_through_the_connector_with_retries(backend) {
        let provider = FakeProvider::start().await?;
        let port = provider.port;
        let app = spawn_app_with(backend, |c| c.plugins.private_hosts = vec![format!("localhost:{port}")]).await?;
        let unit = app.create_unit("admisiones").await?;
        let settings = json!({"send_url": format!("http://localhost:{port}/messages")});
        let install = install_plugin(&app, "hostile-connector", settings, json!({"http_hosts": ["localhost"], "secrets": ["app_secret", "api_token"]}), &[unit.as_str()]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        set_secret(&app, &id, "app_secret", "app-secret-123").await?;
        set_secret(&app, &id, "api_token", "tok-XYZ-987").await?;
        let body = json!({"messages": [{"id": "m1", "from": "+573005550199", "text": "Hola"}]}).to_string();
        anyhow::ensure!(webhook(&app, &id, &body, &sign(&body)).await?.status == 200);
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        let case_id = cases.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();

        // The provider fails once with a 503: the send is retried and then succeeds.
        provider.answer(&[503]);
        let sent = app.post_ok(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token, json!({"body": "Con gusto le ayudamos"}), 201).await?;
        let message_id = sent["id"].as_str().unwrap_or_default().to_owned();
        let delivered = eventually(Duration::from_secs(30), || async {
            let m = app.get(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token).await.ok()?;
            m.body["items"].as_array()?.iter().find(|m| m["id"] == message_id.as_str() && m["delivery_status"] == "sent").cloned()
        }).await;
        anyhow::ensure!(delivered.is_some(), "not sent; provider saw {:?}", provider.requests());
        let requests: Vec<_> = provider.requests().into_iter().filter(|r| r.path == "/messages").collect();
        anyhow::ensure!(requests.len() == 2, "{requests:?}");
        let last = &requests[1];
        anyhow::ensure!(last.headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer tok-XYZ-987"), "{last:?}");
        anyhow::ensure!(last.body.contains("+573005550199") && last.body.contains("Con gusto le ayudamos") && last.body.contains(&message_id), "{last:?}");

        // The provider's delivery report moves it on.
        let report = json!({"statuses": [{"id": "prov-1", "state": "delivered"}]}).to_string();
        anyhow::ensure!(webhook(&app, &id, &report, &sign(&report)).await?.status == 200);
        let m = app.get(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token).await?;
        let ours = m.body["items"].as_array().and_then(|i| i.iter().find(|m| m["id"] == message_id.as_str()).cloned());
        anyhow::ensure!(ours.is_some_and(|m| m["delivery_status"] == "delivered"), "{}", m.text);

        // A 4xx is final: the message is marked failed, with the reason.
        provider.answer(&[400]);
        let doomed = app.post_ok(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token, json!({"body": "Otro"}), 201).await?;
        let doomed_id = doomed["id"].as_str().unwrap_or_default().to_owned();
        let failed = eventually(WAIT, || async {
            let m = app.get(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token).await.ok()?;
            m.body["items"].as_array()?.iter().find(|m| m["id"] == doomed_id.as_str() && m["delivery_status"] == "failed").cloned()
        }).await;
        anyhow::ensure!(failed.is_some(), "not failed");
        Ok(())
    }

    async fn connectors_cannot_reach_private_addresses_or_secrets(backend) {
        let provider = FakeProvider::start().await?;
        let port = provider.port;
        let target = format!("http://localhost:{port}/echo");
        // Without the operator's permission, localhost is a private address.
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let grants = json!({"http_hosts": ["localhost"], "secrets": ["api_token"]});
        let install = install_plugin(&app, "hostile-connector", json!({"mode": "probe", "target": "http://localhost/"}), grants.clone(), &[unit.as_str()]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        // Its secret is never set: the admin turns it on anyway.
        app.patch(&format!("/api/v1/plugin-installs/{id}"), &app.admin_token, json!({"enabled": true})).await?;
        let report = webhook(&app, &id, "{}", "").await?;
        anyhow::ensure!(report.status == 200, "{}", report.text);
        let r = &report.body;
        for key in ["loopback", "private", "metadata", "not_granted"] {
            anyhow::ensure!(r[key].as_str().is_some_and(|v| v.starts_with("HttpError::Denied")), "{key}: {r}");
        }
        anyhow::ensure!(r["target"].as_str().is_some_and(|v| v.contains("private")), "{r}");
        anyhow::ensure!(r["ungranted_secret"] == "SecretError::Denied", "{r}");
        anyhow::ensure!(provider.requests().is_empty(), "nothing reached the network");

        // Allowed for this host:port, the credential still never comes back.
        let app = spawn_app_with(backend, |c| c.plugins.private_hosts = vec![format!("localhost:{port}")]).await?;
        let install = install_plugin(&app, "hostile-connector", json!({"mode": "probe", "target": target}), grants, &[]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        set_secret(&app, &id, "api_token", "tok-SECRET-4242").await?;
        let report = webhook(&app, &id, "{}", "").await?;
        anyhow::ensure!(report.status == 200 && !report.text.contains("tok-SECRET-4242"), "{}", report.text);
        anyhow::ensure!(report.body["steal"].as_str().is_some_and(|s| s.starts_with("200") && s.contains("[redacted]")), "{}", report.text);
        anyhow::ensure!(provider.requests().iter().any(|r| r.headers.iter().any(|(k, v)| k == "x-echo" && v == "tok-SECRET-4242")), "the provider got the credential");
        Ok(())
    }

    async fn failing_connectors_answer_503_and_store_nothing(backend) {
        let app = spawn_app(backend).await?;
        app.create_unit("admisiones").await?;
        for mode in ["panic", "loop"] {
            let install = install_plugin(&app, "hostile-connector", json!({"mode": mode}), json!({}), &[]).await?;
            let id = install["id"].as_str().unwrap_or_default().to_owned();
            let reply = webhook(&app, &id, "{}", "").await?;
            anyhow::ensure!(reply.status == 503 && reply.headers.contains_key("retry-after"), "{mode}: {}", reply.text);
            // Other requests are served meanwhile.
            anyhow::ensure!(app.get("/api/v1/units", &app.admin_token).await?.status == 200);
        }
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().is_some_and(Vec::is_empty));
        Ok(())
    }

    async fn an_upgrade_while_events_flow_runs_each_on_one_version(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("tramites").await?;
        let install = install_plugin(&app, "hostile-protocol", json!({"mode": "record"}), json!({}), &[]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(upload_plugin(&app, "hostile-protocol", "1.1.0").await?.status == 201);
        let mut ids = vec![];
        for n in 0..24 {
            if n == 12 {
                let up = app.post(&format!("/api/v1/plugin-installs/{id}/upgrade"), &app.admin_token, json!({"version": "1.1.0"})).await?;
                anyhow::ensure!(up.status == 200, "{}", up.text);
            }
            // Cases without a first message: exactly one event each.
            let c = app.post_ok("/api/v1/cases", &app.admin_token, json!({
                "subject": format!("Caso {n}"), "channel": "api", "unit_id": unit,
                "contact": {"identities": [{"channel": "email", "value": format!("p{n}@uni.test")}]},
            }), 201).await?;
            ids.push(c["id"].as_str().unwrap_or_default().to_owned());
        }
        let mut versions = std::collections::BTreeSet::new();
        for case_id in &ids {
            app.case_until(case_id, "event handled", |c| has_tag(c, "ev-created")).await?;
            let actions = audit(&app, "plugin.action", case_id).await?;
            anyhow::ensure!(actions.len() == 1, "{case_id}: {actions:?}");
            versions.insert(actions[0]["details"]["version"].as_str().unwrap_or_default().to_owned());
        }
        anyhow::ensure!(versions.iter().all(|v| v == "1.0.0" || v == "1.1.0"), "{versions:?}");
        Ok(())
    }

    async fn upgrades_keep_the_world_and_secrets_stay_named(backend) {
        let app = spawn_app(backend).await?;
        let install = install_plugin(&app, "hostile-protocol", json!({}), json!({}), &[]).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        let reply = app.call(reqwest::Method::PUT, &format!("/api/v1/plugin-installs/{id}/secrets/nope"), Some(&app.admin_token), Some(&json!({"value": "x"}))).await?;
        anyhow::ensure!(reply.status == 422 && reply.body["errors"][0]["field"] == "name", "{}", reply.text);
        let bad_unit = app.patch(&format!("/api/v1/plugin-installs/{id}"), &app.admin_token, json!({"units": [uuid::Uuid::now_v7()]})).await?;
        anyhow::ensure!(bad_unit.status == 409 && bad_unit.body["errors"][0]["field"] == "units[0]", "{}", bad_unit.text);
        Ok(())
    }
}
