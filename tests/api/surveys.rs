//! Satisfaction surveys: a resolved case asks the person how it went, on
//! its channel, once; the answer (and a comment) is stored with the case,
//! channel, unit, agent and outcome and does not reopen the case; channel
//! settings and opt-outs are respected.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::webchat::Visitor;
use ventanilla_tests::{TestApp, eventually, on_both, spawn_app};

const WAIT: Duration = Duration::from_secs(20);

async fn create_unit(app: &TestApp, slug: &str, survey: Value) -> anyhow::Result<String> {
    let unit = app
        .post_ok("/api/v1/units", &app.admin_token, json!({"slug": slug, "name": slug, "survey": survey}), 201)
        .await?;
    Ok(unit["id"].as_str().unwrap_or_default().to_owned())
}

async fn surveys(app: &TestApp, query: &str) -> anyhow::Result<Vec<Value>> {
    let reply = app.get(&format!("/api/v1/surveys{query}"), &app.admin_token).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
}

fn option_ids(message: &Value) -> Vec<String> {
    message["options"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_str().map(str::to_owned)).collect()
}

/// The survey question among a case's messages, once it is there.
async fn question(app: &TestApp, case: &str) -> anyhow::Result<Value> {
    let found = eventually(WAIT, || async {
        app.messages(case).await.ok()?.into_iter().find(|m| option_ids(m).iter().any(|o| o.starts_with("survey:")))
    })
    .await;
    match found {
        Some(m) => Ok(m),
        None => anyhow::bail!("no survey question: {:?}", app.messages(case).await?),
    }
}

async fn resolve(app: &TestApp, case: &str) -> anyhow::Result<()> {
    let reply = app.patch(&format!("/api/v1/cases/{case}"), &app.admin_token, json!({"status": "resolved"})).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(())
}

async fn whatsapp_case(app: &TestApp, unit: &str, phone: &str, channel: &str) -> anyhow::Result<(String, String)> {
    let identity = if channel == "email" { format!("{}@correo.test", &phone[1..]) } else { phone.to_owned() };
    let created = app
        .post_ok(
            "/api/v1/cases",
            &app.admin_token,
            json!({
                "subject": "Consulta", "channel": channel, "unit_id": unit,
                "contact": {"identities": [{"channel": channel, "value": identity}]},
                "first_message": {"body": "Hola, una consulta", "author_kind": "contact"},
            }),
            201,
        )
        .await?;
    Ok((
        created["id"].as_str().unwrap_or_default().to_owned(),
        created["contact_id"].as_str().unwrap_or_default().to_owned(),
    ))
}

on_both! {
    async fn a_resolved_conversation_asks_how_it_went_once(backend) {
        let app = spawn_app(backend).await?;
        let unit = create_unit(&app, "admisiones", json!({"enabled": true, "comment": true})).await?;
        let (agent_id, agent) = app.create_member("laura@uni.test", &unit, "agent").await?;
        let ana = Visitor::start(&app, "admisiones").await?;
        ana.send("¿Cuándo abren las inscripciones?", None).await?;
        let case = eventually(WAIT, || async {
            let cases = app.get(&format!("/api/v1/cases?unit_id={unit}"), &app.admin_token).await.ok()?;
            cases.body["items"].as_array()?.first()?["id"].as_str().map(str::to_owned)
        }).await.unwrap_or_default();
        app.patch(&format!("/api/v1/cases/{case}"), &agent, json!({"assignee_id": agent_id})).await?;
        let replied = app.post(&format!("/api/v1/cases/{case}/messages"), &agent, json!({"body": "Abren en enero."})).await?;
        anyhow::ensure!(replied.status == 201, "{}", replied.text);
        resolve(&app, &case).await?;

        // The widget shows the question with the five scores.
        let asked = question(&app, &case).await?;
        anyhow::ensure!(option_ids(&asked) == ["survey:1", "survey:2", "survey:3", "survey:4", "survey:5"], "{asked}");
        anyhow::ensure!(asked["body"].as_str().is_some_and(|b| b.contains("¿Cómo calificarías")), "{asked}");
        let answers = ana.say("4 - Buena", Some("survey:4")).await?;
        anyhow::ensure!(answers.iter().any(|m| m["body"].as_str().is_some_and(|b| b.contains("qué podemos mejorar"))), "{answers:?}");
        let thanks = ana.say("Muy amables, gracias", None).await?;
        anyhow::ensure!(thanks.iter().any(|m| m["body"].as_str().is_some_and(|b| b.contains("Gracias por tu comentario"))), "{thanks:?}");

        // Stored with what it is about; the case stays resolved, no new case.
        let stored = surveys(&app, "").await?;
        anyhow::ensure!(stored.len() == 1, "{stored:?}");
        let s = &stored[0];
        anyhow::ensure!(s["score"] == 4 && s["comment"] == "Muy amables, gracias" && s["status"] == "commented", "{s}");
        anyhow::ensure!(s["case_id"] == case.as_str() && s["unit_id"] == unit.as_str() && s["agent_id"] == agent_id.as_str(), "{s}");
        anyhow::ensure!(s["channel"] == "webchat" && s["outcome"] == "human" && s["scale"] == "five", "{s}");
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        let items = cases.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.len() == 1 && items[0]["status"] == "resolved", "{}", cases.text);
        let summary = app.get("/api/v1/surveys/summary", &app.admin_token).await?;
        let b = &summary.body;
        anyhow::ensure!(b["sent"] == 1 && b["response_rate"] == 1.0 && b["all"]["average"] == 4.0, "{}", summary.text);
        anyhow::ensure!(b["human"]["scores"] == json!([0, 0, 0, 1, 0]) && b["bot"]["answered"] == 0, "{}", summary.text);

        // Reopened and resolved again: still one survey.
        app.patch(&format!("/api/v1/cases/{case}"), &agent, json!({"status": "assigned"})).await?;
        resolve(&app, &case).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        anyhow::ensure!(surveys(&app, "").await?.len() == 1);
        let questions = app.messages(&case).await?.iter().filter(|m| option_ids(m).iter().any(|o| o.starts_with("survey:"))).count();
        anyhow::ensure!(questions == 1, "asked once");
        // Writing something else now starts a new conversation.
        ana.send("Otra pregunta: ¿hay becas?", None).await?;
        let two = eventually(WAIT, || async {
            let cases = app.get("/api/v1/cases", &app.admin_token).await.ok()?;
            (cases.body["items"].as_array()?.len() == 2).then_some(())
        }).await;
        anyhow::ensure!(two.is_some(), "a new case for a new question");
        Ok(())
    }

    async fn surveys_follow_channel_settings_and_opt_outs(backend) {
        let app = spawn_app(backend).await?;
        let unit = create_unit(&app, "registro", json!({"enabled": true, "comment": true,
            "channels": {"whatsapp": {"scale": "faces", "comment": false}, "email": {"enabled": false}}})).await?;

        // WhatsApp: three faces, no comment; a typed "3" is the third face.
        let (case, _) = whatsapp_case(&app, &unit, "+573001110001", "whatsapp").await?;
        resolve(&app, &case).await?;
        let asked = question(&app, &case).await?;
        anyhow::ensure!(option_ids(&asked) == ["survey:1", "survey:3", "survey:5"], "{asked}");
        app.contact_says(&case, "3").await?;
        let stored = surveys(&app, "?channel=whatsapp&answered=true").await?;
        anyhow::ensure!(stored.len() == 1 && stored[0]["score"] == 5 && stored[0]["status"] == "commented", "{stored:?}");
        anyhow::ensure!(stored[0]["outcome"] == "human", "no bot wrote: {stored:?}");
        let after = app.get(&format!("/api/v1/cases/{case}"), &app.admin_token).await?;
        anyhow::ensure!(after.body["status"] == "resolved", "an answer does not reopen: {}", after.text);
        anyhow::ensure!(app.messages(&case).await?.iter().any(|m| m["body"] == "¡Gracias por tu respuesta!"));

        // E-mail surveys are off for this unit.
        let (email_case, _) = whatsapp_case(&app, &unit, "+573001110002", "email").await?;
        resolve(&app, &email_case).await?;
        // A person who opted out is not asked.
        let (opted, contact) = whatsapp_case(&app, &unit, "+573001110003", "whatsapp").await?;
        let revoked = app.post(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token,
            json!({"purpose": "surveys", "action": "revoke", "text_version": "v1", "channel": "whatsapp"})).await?;
        anyhow::ensure!(revoked.status == 201, "{}", revoked.text);
        resolve(&app, &opted).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        anyhow::ensure!(surveys(&app, "").await?.len() == 1, "{:?}", surveys(&app, "").await?);
        for id in [&email_case, &opted] {
            anyhow::ensure!(!app.messages(id).await?.iter().any(|m| option_ids(m).iter().any(|o| o.starts_with("survey:"))));
        }
        // A reply that is not an answer reopens the case as always.
        app.contact_says(&opted, "Tengo otra duda").await?;
        let reopened = app.get(&format!("/api/v1/cases/{opted}"), &app.admin_token).await?;
        anyhow::ensure!(reopened.body["status"] == "queued", "{}", reopened.text);

        // Settings are checked.
        let bad = app.patch(&format!("/api/v1/units/{unit}"), &app.admin_token, json!({"survey": {"enabled": true, "channels": {"fax": {}}}})).await?;
        anyhow::ensure!(bad.status == 422 && bad.text.contains("survey.channels"), "{}", bad.text);
        let bad = app.patch(&format!("/api/v1/units/{unit}"), &app.admin_token, json!({"survey": {"scale": "ten"}})).await?;
        anyhow::ensure!(bad.status == 422 || bad.status == 400, "{}", bad.text);
        Ok(())
    }
}
