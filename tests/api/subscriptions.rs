//! Event subscriptions: signed webhooks a local receiver verifies, a 500
//! tried again, a dead endpoint dead-lettered and sent again, one case's
//! events in order, nothing about units a subscription does not cover, and
//! no way to aim a subscription inside the institution's network.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use ventanilla_tests::{FakeProvider, Received, TestApp, eventually, on_both, spawn_app, spawn_app_with};

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// Checks a request the way a receiver should: the signature over the
/// timestamp and the body, under the subscription's secret.
fn verified(r: &Received, secret: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(format!("{}.{}", header(r, "x-ventanilla-timestamp"), r.body).as_bytes());
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    header(r, "x-ventanilla-signature") == expected
}

async fn subscribe(app: &TestApp, body: Value) -> anyhow::Result<(String, String)> {
    let sub = app.post_ok("/api/v1/webhook-subscriptions", &app.admin_token, body, 201).await?;
    Ok((sub["id"].as_str().unwrap_or_default().to_owned(), sub["secret"].as_str().unwrap_or_default().to_owned()))
}

async fn deliveries(app: &TestApp, sub: &str, query: &str) -> anyhow::Result<Vec<Value>> {
    let reply = app.get(&format!("/api/v1/webhook-subscriptions/{sub}/deliveries{query}"), &app.admin_token).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
}

fn received(receiver: &FakeProvider) -> Vec<Received> {
    receiver.received.lock().map(|r| r.clone()).unwrap_or_default()
}

on_both! {
    async fn subscribers_get_signed_events_in_order_and_dead_letters_come_back(backend) {
        let app = spawn_app_with(backend, |c| {
            c.webhooks.allow_private_addresses = true;
            c.webhooks.attempts = 2;
        }).await?;
        let unit_a = app.create_unit("admisiones").await?;
        let unit_b = app.create_unit("tesoreria").await?;
        let receiver = FakeProvider::start().await?;
        // The receiver fails the first request.
        receiver.answer(&[500]);
        let url = format!("http://127.0.0.1:{}/ventanilla", receiver.port);

        // Bad input names each field.
        let bad = app.post("/api/v1/webhook-subscriptions", &app.admin_token,
            json!({"name": " ", "url": "ftp://crm", "events": ["case.deleted"], "unit_ids": [uuid::Uuid::new_v4()]})).await?;
        let fields: Vec<&str> = bad.body["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
        anyhow::ensure!(bad.status == 422 && fields == ["name", "url", "events[0]", "unit_ids[0]"], "{}", bad.text);

        let (sub, secret) = subscribe(&app, json!({"name": "CRM", "url": url,
            "events": ["case.created", "case.updated", "case.resolved", "message.created"], "unit_ids": [unit_a]})).await?;
        anyhow::ensure!(secret.starts_with("whsec_"), "{secret}");
        let listed = app.get(&format!("/api/v1/webhook-subscriptions/{sub}"), &app.admin_token).await?;
        anyhow::ensure!(listed.body.get("secret").is_none(), "the secret is shown once: {}", listed.text);

        let case = app.create_case(&app.admin_token, &unit_a, "Inscripción").await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        app.patch(&format!("/api/v1/cases/{case_id}"), &app.admin_token, json!({"priority": "high"})).await?;
        app.patch(&format!("/api/v1/cases/{case_id}"), &app.admin_token, json!({"status": "resolved"})).await?;
        // Another unit's case is none of this subscription's business.
        app.create_case(&app.admin_token, &unit_b, "Pago").await?;

        let done = eventually(std::time::Duration::from_secs(30), || async {
            let log = deliveries(&app, &sub, "").await.ok()?;
            (log.len() >= 4 && log.iter().all(|d| d["status"] == "delivered")).then_some(log)
        }).await;
        let Some(log) = done else {
            anyhow::bail!("not all delivered: {:?}", deliveries(&app, &sub, "").await?);
        };
        let requests = received(&receiver);
        // Every request is signed with the secret; every one is about unit A.
        for r in &requests {
            anyhow::ensure!(verified(r, &secret), "bad signature on {}", r.body);
            let body: Value = serde_json::from_str(&r.body)?;
            anyhow::ensure!(body["data"]["case"]["unit_id"] == unit_a.as_str(), "{}", r.body);
            anyhow::ensure!(header(r, "x-ventanilla-event") == body["type"], "{}", r.body);
        }
        // The failed first event came again before anything after it, and
        // the events went out in the order they happened.
        let ids: Vec<String> = requests.iter().filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .map(|b| b["id"].as_str().unwrap_or_default().to_owned()).collect();
        anyhow::ensure!(ids.len() >= 5 && ids[0] == ids[1], "the 500 was tried again first: {ids:?}");
        let mut distinct = ids.clone();
        distinct.dedup();
        let mut sorted = distinct.clone();
        sorted.sort();
        anyhow::ensure!(distinct == sorted && distinct.len() == ids.len() - 1, "out of order: {ids:?}");
        let types: Vec<String> = requests.iter().skip(1).filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .map(|b| b["type"].as_str().unwrap_or_default().to_owned()).collect();
        anyhow::ensure!(types.first().map(String::as_str) == Some("case.created")
            && types.contains(&"message.created".to_owned())
            && types.last().map(String::as_str) == Some("case.resolved"), "{types:?}");
        let first = log.iter().find(|d| d["event_type"] == "case.created").cloned().unwrap_or_default();
        anyhow::ensure!(first["attempts"] == 2 && first["response_status"] == 200, "{first}");

        // A dead endpoint: two tries, then a dead letter.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let (dead_sub, dead_secret) = subscribe(&app, json!({"name": "Bodega", "url": format!("http://127.0.0.1:{closed}/x"),
            "events": ["case.created"]})).await?;
        let second = app.create_case(&app.admin_token, &unit_b, "Certificado").await?;
        let dead = eventually(std::time::Duration::from_secs(30), || async {
            let log = deliveries(&app, &dead_sub, "?status=dead").await.ok()?;
            (!log.is_empty()).then_some(log)
        }).await;
        let Some(dead) = dead else { anyhow::bail!("{:?}", deliveries(&app, &dead_sub, "").await?) };
        anyhow::ensure!(dead[0]["attempts"] == 2 && dead[0]["last_error"].is_string(), "{}", dead[0]);
        // Fixed, and sent again.
        app.patch(&format!("/api/v1/webhook-subscriptions/{dead_sub}"), &app.admin_token, json!({"url": url})).await?;
        let delivery = dead[0]["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/webhook-deliveries/{delivery}/redeliver"), &app.admin_token, json!({}), 202).await?;
        let came = eventually(std::time::Duration::from_secs(20), || async {
            received(&receiver).into_iter().find(|r| r.body.contains(second["id"].as_str().unwrap_or("-")))
        }).await;
        let Some(came) = came else { anyhow::bail!("the dead letter never came back") };
        anyhow::ensure!(verified(&came, &dead_secret) && !verified(&came, &secret), "signed with its own secret");
        // A delivered one can be sent again too (the receiver lost it).
        let settled = eventually(std::time::Duration::from_secs(20), || async {
            let log = deliveries(&app, &dead_sub, "").await.ok()?;
            (log.first()?["status"] == "delivered").then_some(())
        }).await;
        anyhow::ensure!(settled.is_some(), "the redelivery was not recorded");
        app.post_ok(&format!("/api/v1/webhook-deliveries/{delivery}/redeliver"), &app.admin_token, json!({}), 202).await?;
        let twice = eventually(std::time::Duration::from_secs(20), || async {
            let n = received(&receiver).iter().filter(|r| r.body.contains(second["id"].as_str().unwrap_or("-"))).count();
            (n == 2).then_some(())
        }).await;
        anyhow::ensure!(twice.is_some(), "sent again once more");

        // Paused, it hears nothing; removed, it is gone.
        app.call(reqwest::Method::DELETE, &format!("/api/v1/webhook-subscriptions/{dead_sub}"), Some(&app.admin_token), None).await?;
        app.patch(&format!("/api/v1/webhook-subscriptions/{sub}"), &app.admin_token, json!({"active": false})).await?;
        let before = received(&receiver).len();
        app.create_case(&app.admin_token, &unit_a, "Silencio").await?;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        anyhow::ensure!(received(&receiver).len() == before, "a paused subscription was sent events");
        let gone = app.call(reqwest::Method::DELETE, &format!("/api/v1/webhook-subscriptions/{sub}"), Some(&app.admin_token), None).await?;
        anyhow::ensure!(gone.status == 204, "{}", gone.text);
        anyhow::ensure!(app.get(&format!("/api/v1/webhook-subscriptions/{sub}"), &app.admin_token).await?.status == 404);
        Ok(())
    }

    async fn a_subscription_cannot_reach_inside_the_network(backend) {
        let app = spawn_app_with(backend, |c| c.webhooks.attempts = 1).await?;
        let unit = app.create_unit("admisiones").await?;
        let receiver = FakeProvider::start().await?;
        // Plain http is refused outright.
        let plain = app.post("/api/v1/webhook-subscriptions", &app.admin_token,
            json!({"name": "x", "url": format!("http://127.0.0.1:{}/", receiver.port), "events": ["case.created"]})).await?;
        anyhow::ensure!(plain.status == 422 && plain.body["errors"][0]["field"] == "url", "{}", plain.text);
        // A name that resolves to this machine, and a literal address, are
        // never connected to: the deliveries die with the reason.
        for url in [format!("https://localhost:{}/", receiver.port), format!("https://127.0.0.1:{}/", receiver.port)] {
            let (sub, _) = subscribe(&app, json!({"name": "x", "url": url, "events": ["case.created"]})).await?;
            app.create_case(&app.admin_token, &unit, "Prueba").await?;
            let dead = eventually(std::time::Duration::from_secs(20), || async {
                let log = deliveries(&app, &sub, "?status=dead").await.ok()?;
                (!log.is_empty()).then_some(log)
            }).await;
            let Some(dead) = dead else { anyhow::bail!("{url}: {:?}", deliveries(&app, &sub, "").await?) };
            anyhow::ensure!(dead[0]["response_status"].is_null(), "{}", dead[0]);
            app.call(reqwest::Method::DELETE, &format!("/api/v1/webhook-subscriptions/{sub}"), Some(&app.admin_token), None).await?;
        }
        anyhow::ensure!(received(&receiver).is_empty(), "a request reached this machine");
        Ok(())
    }

    async fn only_admins_manage_subscriptions(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, supervisor) = app.create_member("sup@uni.edu.co", &unit, "supervisor").await?;
        let token = app.create_token(&["cases:write", "units:write", "users:write", "audit:read"]).await?;
        for who in [&supervisor, &token] {
            let reply = app.post("/api/v1/webhook-subscriptions", who,
                json!({"name": "x", "url": "https://crm.example.org/", "events": ["case.created"]})).await?;
            anyhow::ensure!(reply.status == 403, "{}", reply.text);
            anyhow::ensure!(app.get("/api/v1/webhook-subscriptions", who).await?.status == 403);
        }
        Ok(())
    }
}
