//! Cases through the API: creation with contact and first message, the
//! state machine, assignment rules, transfer, filters, pagination, idempotency.

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla_tests::{on_both, spawn_app};

fn ids(reply: &Value) -> Vec<String> {
    reply["items"]
        .as_array()
        .map(|items| items.iter().map(|c| c["id"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

on_both! {
    async fn create_with_contact_and_first_message(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let body = json!({
            "subject": "Inscripción", "channel": "whatsapp", "unit_id": unit, "priority": "high", "tags": ["Matrícula", "matrícula"],
            "contact": {"name": "Ana", "identities": [{"channel": "whatsapp", "value": "+57 300 123 4567"}]},
            "first_message": {"body": "¿Cuándo abren inscripciones?"},
        });
        let first = app.post_ok("/api/v1/cases", &app.admin_token, body.clone(), 201).await?;
        anyhow::ensure!(first["status"] == "queued" && first["priority"] == "high" && first["tags"] == json!(["matrícula"]), "{first}");
        let second = app.post_ok("/api/v1/cases", &app.admin_token, body, 201).await?;
        anyhow::ensure!(second["contact_id"] == first["contact_id"], "the same phone finds the same contact");
        anyhow::ensure!(second["number"].as_i64() == first["number"].as_i64().map(|n| n + 1), "numbers increase");
        let id = first["id"].as_str().unwrap_or_default();
        let messages = app.get(&format!("/api/v1/cases/{id}/messages"), &app.admin_token).await?;
        let message = &messages.body["items"][0];
        anyhow::ensure!(message["body"] == "¿Cuándo abren inscripciones?" && message["direction"] == "inbound" && message["author_kind"] == "contact", "{}", messages.text);
        let contact = app.get(&format!("/api/v1/contacts/{}", first["contact_id"].as_str().unwrap_or_default()), &app.admin_token).await?;
        anyhow::ensure!(contact.body["identities"][0]["value"] == "+573001234567", "identities are normalised: {}", contact.text);
        Ok(())
    }

    async fn lifecycle_through_the_state_machine(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("biblioteca").await?;
        let other = app.create_unit("otra").await?;
        let (agent, token) = app.create_member("agente@test.example", &unit, "agent").await?;
        let (outsider, _) = app.create_member("fuera@test.example", &other, "agent").await?;
        let case = app.create_case(&token, &unit, "Préstamo").await?;
        let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap_or_default());

        let refused = app.patch(&path, &token, json!({"assignee_id": outsider})).await?;
        anyhow::ensure!(refused.status == 409 && refused.body["errors"][0]["field"] == "assignee_id", "{}", refused.text);
        let assigned = app.patch(&path, &token, json!({"assignee_id": agent})).await?;
        anyhow::ensure!(assigned.body["status"] == "assigned" && assigned.body["assignee_id"] == json!(agent), "{}", assigned.text);

        app.post_ok(&format!("{path}/messages"), &token, json!({"body": "Con gusto"}), 201).await?;
        let replied = app.get(&path, &token).await?;
        anyhow::ensure!(!replied.body["first_response_at"].is_null(), "an agent reply sets first_response_at");

        let waiting = app.patch(&path, &token, json!({"status": "waiting_on_contact"})).await?;
        anyhow::ensure!(waiting.body["status"] == "waiting_on_contact", "{}", waiting.text);
        app.post_ok(&format!("{path}/messages"), &token, json!({"body": "Aquí está", "author_kind": "contact"}), 201).await?;
        anyhow::ensure!(app.get(&path, &token).await?.body["status"] == "assigned", "a contact reply hands the case back");

        let resolved = app.patch(&path, &token, json!({"status": "resolved"})).await?;
        anyhow::ensure!(!resolved.body["resolved_at"].is_null());
        let reopened = app.patch(&path, &token, json!({"status": "queued"})).await?;
        anyhow::ensure!(reopened.body["resolved_at"].is_null() && reopened.body["assignee_id"].is_null(), "{}", reopened.text);
        app.patch(&path, &token, json!({"status": "resolved"})).await?;
        let closed = app.patch(&path, &token, json!({"status": "closed"})).await?;
        anyhow::ensure!(closed.body["status"] == "closed");
        let refused = app.patch(&path, &token, json!({"status": "assigned"})).await?;
        anyhow::ensure!(refused.status == 409 && refused.body["code"] == "invalid_transition", "{}", refused.text);

        let events = app.get(&format!("/api/v1/audit-events?target_id={}", case["id"].as_str().unwrap_or_default()), &app.admin_token).await?;
        let actions: Vec<_> = events.body["items"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
        for action in ["case.created", "case.assigned", "case.status_changed", "message.created"] {
            anyhow::ensure!(actions.contains(&action), "audit has {action}: {actions:?}");
        }
        Ok(())
    }

    async fn transfer_moves_the_case_out_of_reach(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let other = app.create_unit("bienestar").await?;
        let (agent, token) = app.create_member("a@test.example", &unit, "agent").await?;
        let (_, other_token) = app.create_member("b@test.example", &other, "agent").await?;
        let case = app.create_case(&token, &unit, "Es para bienestar").await?;
        let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap_or_default());
        app.patch(&path, &token, json!({"assignee_id": agent})).await?;
        let moved = app.patch(&path, &token, json!({"unit_id": other})).await?;
        anyhow::ensure!(moved.body["status"] == "queued" && moved.body["assignee_id"].is_null() && moved.body["unit_id"] == json!(other), "{}", moved.text);
        anyhow::ensure!(app.get(&path, &token).await?.status == 404, "the old unit no longer sees it");
        anyhow::ensure!(app.get(&path, &other_token).await?.status == 200, "the new unit does");
        Ok(())
    }

    async fn filters_sorting_and_pagination(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("mesa").await?;
        let (agent, token) = app.create_member("a@test.example", &unit, "agent").await?;
        let mut created = vec![];
        for i in 0..7 {
            let case = app.create_case(&token, &unit, &format!("Caso {i}")).await?;
            created.push(case["id"].as_str().unwrap_or_default().to_owned());
        }
        app.patch(&format!("/api/v1/cases/{}", created[0]), &token, json!({"assignee_id": agent, "priority": "urgent", "tags": ["beca"]})).await?;

        let mut seen = vec![];
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/cases?limit=3&cursor={c}"),
                None => "/api/v1/cases?limit=3".into(),
            };
            let page = app.get(&path, &token).await?;
            seen.extend(ids(&page.body));
            pages += 1;
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut newest_first = created.clone();
        newest_first.reverse();
        anyhow::ensure!(seen == newest_first && pages == 3, "pages walk every case once, newest first: {pages} pages");
        let oldest = app.get("/api/v1/cases?sort=created_at&limit=2", &token).await?;
        anyhow::ensure!(ids(&oldest.body) == created[..2], "oldest first");

        for (query, expected) in [
            ("assignee_id=me", vec![created[0].clone()]),
            ("priority=urgent", vec![created[0].clone()]),
            ("tag=beca", vec![created[0].clone()]),
            ("status=assigned", vec![created[0].clone()]),
            ("q=caso%203", vec![created[3].clone()]),
            ("channel=email", vec![]),
        ] {
            let reply = app.get(&format!("/api/v1/cases?{query}"), &token).await?;
            anyhow::ensure!(ids(&reply.body) == expected, "{query}: {}", reply.text);
        }
        let unassigned = app.get("/api/v1/cases?assignee_id=none&status=queued", &token).await?;
        anyhow::ensure!(ids(&unassigned.body).len() == 6);
        let future = app.get("/api/v1/cases?created_after=2999-01-01T00:00:00Z", &token).await?;
        anyhow::ensure!(ids(&future.body).is_empty());
        Ok(())
    }

    async fn concurrent_first_messages_from_one_person_make_one_contact(backend) {
        let app = std::sync::Arc::new(spawn_app(backend).await?);
        let unit = app.create_unit("u").await?;
        let mut requests = vec![];
        for i in 0..12 {
            let (app, unit) = (app.clone(), unit.clone());
            requests.push(tokio::spawn(async move {
                app.post("/api/v1/cases", &app.admin_token, json!({"subject": format!("Hola {i}"), "channel": "whatsapp",
                    "unit_id": unit, "contact": {"identities": [{"channel": "whatsapp", "value": "+573009998877"}]}})).await
            }));
        }
        let mut contacts = std::collections::BTreeSet::new();
        for request in requests {
            let reply = request.await??;
            anyhow::ensure!(reply.status == 201, "{}", reply.text);
            contacts.insert(reply.body["contact_id"].to_string());
        }
        anyhow::ensure!(contacts.len() == 1, "one person, one contact: {contacts:?}");
        Ok(())
    }

    async fn idempotency_key_creates_once(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("u").await?;
        let body = json!({"subject": "Una vez", "channel": "email", "unit_id": unit,
            "contact": {"identities": [{"channel": "email", "value": "ana@correo.test"}]}});
        let send = |body: Value| {
            app.client
                .post(app.url("/api/v1/cases"))
                .bearer_auth(&app.admin_token)
                .header("Idempotency-Key", "abc-123")
                .json(&body)
                .send()
        };
        let first = ventanilla_tests::TestApp::reply(send(body.clone()).await?).await?;
        let again = ventanilla_tests::TestApp::reply(send(body.clone()).await?).await?;
        anyhow::ensure!(first.status == 201 && again.status == 201 && first.body["id"] == again.body["id"], "{} / {}", first.text, again.text);
        anyhow::ensure!(again.headers.contains_key("idempotent-replayed"));
        let mut changed = body;
        changed["subject"] = json!("Otra cosa");
        let mismatch = ventanilla_tests::TestApp::reply(send(changed).await?).await?;
        anyhow::ensure!(mismatch.status == 422 && mismatch.body["code"] == "idempotency_key_reused", "{}", mismatch.text);
        let all = app.call(Method::GET, "/api/v1/cases", Some(&app.admin_token), None).await?;
        anyhow::ensure!(ids(&all.body).len() == 1, "created once");
        Ok(())
    }
}
