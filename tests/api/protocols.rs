//! The bundled unit protocols: escalation-sla (service-level targets by
//! priority, in business hours, with warnings and escalation, shown on the
//! case) and the spike mode of crisis-protocol. The crisis conversations
//! themselves are in faq_bot.rs, where a bot is answering.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{TestApp, eventually, install_plugin, on_both, spawn_app};

const WAIT: Duration = Duration::from_secs(25);

fn target<'a>(case: &'a Value, name: &str) -> &'a Value {
    case["sla"].as_array().and_then(|s| s.iter().find(|t| t["name"] == name)).unwrap_or(&Value::Null)
}

fn millis(at: &Value) -> i64 {
    at.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map_or(0, |t| t.timestamp_millis())
}

async fn notifications(app: &TestApp, token: &str) -> anyhow::Result<Vec<String>> {
    let reply = app.get("/api/v1/notifications", token).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    let items = reply.body["items"].as_array().cloned().unwrap_or_default();
    Ok(items.iter().filter_map(|n| n["text"].as_str().map(str::to_owned)).collect())
}

/// Plain time (not business hours), short targets for normal cases.
fn quick(first_response_minutes: f64, resolution_minutes: f64, escalation: Value) -> Value {
    json!({
        "business_hours": false,
        "warn_percent": 50,
        "policies": {"normal": {"first_response_minutes": first_response_minutes, "resolution_minutes": resolution_minutes}},
        "escalation": escalation,
    })
}

on_both! {
    async fn supervisors_tune_the_protocols_of_their_unit(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let other = app.create_unit("biblioteca").await?;
        let (supervisor_id, supervisor) = app.create_member("sup@uni.test", &unit, "supervisor").await?;
        let (_, agent) = app.create_member("agente@uni.test", &unit, "agent").await?;
        let (_, stranger) = app.create_member("sup2@uni.test", &other, "supervisor").await?;
        // Slow targets at first; crisis handling shared by both units.
        let sla = install_plugin(&app, "escalation-sla", quick(30.0, 60.0, json!({})), json!({"kv": true}), &[unit.as_str()]).await?;
        let sla_id = sla["id"].as_str().unwrap_or_default().to_owned();
        let crisis = install_plugin(&app, "crisis-protocol", json!({}), json!({"kv": true}), &[unit.as_str(), other.as_str()]).await?;
        let crisis_id = crisis["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/api/v1/units/{unit}/protocols");
        for token in [&agent, &stranger] {
            let refused = app.get(&path, token).await?;
            anyhow::ensure!(refused.status == 403, "{}", refused.text);
        }
        let listed = app.get(&path, &supervisor).await?;
        anyhow::ensure!(listed.status == 200, "{}", listed.text);
        let items = listed.body["items"].as_array().cloned().unwrap_or_default();
        let of = |id: &str| items.iter().find(|p| p["id"] == id).cloned().unwrap_or_default();
        anyhow::ensure!(of(&sla_id)["editable"] == true && of(&sla_id)["settings_schema"]["properties"]["warn_percent"]["maximum"] == 99, "{}", listed.text);
        anyhow::ensure!(of(&crisis_id)["editable"] == false, "{}", listed.text);
        anyhow::ensure!(of(&sla_id).get("grants").is_none(), "supervisors see settings, not grants: {}", listed.text);

        // The schema checks what the supervisor sends, field by field.
        let mut bad = quick(0.05, 30.0, json!({}));
        bad["warn_percent"] = json!(150);
        let refused = app.patch(&format!("{path}/{sla_id}"), &supervisor, json!({"settings": bad})).await?;
        anyhow::ensure!(refused.status == 422, "{}", refused.text);
        anyhow::ensure!(refused.body["errors"][0]["field"].as_str().unwrap_or("").contains("warn_percent"), "{}", refused.text);
        // A protocol other units share is the admins' to change.
        let shared = app.patch(&format!("{path}/{crisis_id}"), &supervisor, json!({"settings": {}})).await?;
        anyhow::ensure!(shared.status == 403, "{}", shared.text);
        let foreign = app.patch(&format!("/api/v1/units/{other}/protocols/{sla_id}"), &stranger, json!({"settings": {}})).await?;
        anyhow::ensure!(foreign.status == 404, "{}", foreign.text);

        // Tighter targets take effect on the next case.
        let tuned = app.patch(&format!("{path}/{sla_id}"), &supervisor, json!({"settings": quick(0.05, 30.0, json!({}))})).await?;
        anyhow::ensure!(tuned.status == 200, "{}", tuned.text);
        let created = app.create_case(&app.admin_token, &unit, "Homologación").await?;
        let id = created["id"].as_str().unwrap_or_default();
        let shown = app.case_until(id, "targets shown", |c| target(c, "first_response")["state"] == "running").await?;
        let due = millis(&target(&shown, "first_response")["due_at"]) - millis(&shown["created_at"]);
        anyhow::ensure!((due - 3_000).abs() < 2_000, "first response due 3 s after creation: {shown}");
        // The change is audited under the supervisor's name.
        let audit = app.get(&format!("/api/v1/audit-events?target_id={sla_id}&limit=100"), &app.admin_token).await?;
        let events = audit.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(events.iter().any(|e| e["actor_id"] == supervisor_id.as_str()), "{}", audit.text);
        Ok(())
    }

    async fn a_missed_first_response_warns_then_escalates(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let supervision = app.create_unit("supervision").await?;
        let (_, supervisor) = app.create_member("sup@uni.test", &unit, "supervisor").await?;
        let (agent, agent_token) = app.create_member("agente@uni.test", &unit, "agent").await?;
        install_plugin(&app, "escalation-sla", quick(0.05, 30.0, json!({"reassign_to_unit": "supervision"})),
            json!({"kv": true}), &[unit.as_str()]).await?;

        let created = app.create_case(&app.admin_token, &unit, "Homologación").await?;
        let id = created["id"].as_str().unwrap_or_default();
        app.patch(&format!("/api/v1/cases/{id}"), &app.admin_token, json!({"assignee_id": agent})).await?;
        // The targets show on the case as soon as the protocol saw it.
        let shown = app.case_until(id, "targets shown", |c| target(c, "resolution")["state"] == "running").await?;
        let start = millis(&shown["created_at"]);
        let first = target(&shown, "first_response");
        let due = millis(&first["due_at"]);
        anyhow::ensure!((due - start - 3_000).abs() < 2_000, "first response due 3 s after creation: {shown}");
        let resolution_due = millis(&target(&shown, "resolution")["due_at"]);
        anyhow::ensure!((resolution_due - start - 1_800_000).abs() < 2_000, "{shown}");

        // No reply: breached, priority up one step, moved to supervision's queue.
        let breached = app.case_until(id, "breach", |c| target(c, "first_response")["state"] == "breached").await?;
        let escalated = app.case_until(id, "escalation", |c| c["unit_id"] == supervision.as_str()).await?;
        anyhow::ensure!(escalated["priority"] == "high", "{escalated}");
        anyhow::ensure!(escalated["status"] == "queued" && escalated["assignee_id"].is_null(), "{escalated}");
        anyhow::ensure!(millis(&target(&breached, "first_response")["settled_at"]) == due, "{breached}");

        // The agent was warned before the deadline; the supervisors, of the
        // breach (each notification lands with its own commit, maybe after
        // the case moved).
        let is_warning = |t: &String| t.contains("está por vencer") && t.contains("primera respuesta");
        let warned = eventually(WAIT, || async {
            notifications(&app, &agent_token).await.ok().filter(|w| w.iter().any(is_warning))
        }).await;
        anyhow::ensure!(warned.is_some(), "{:?}", notifications(&app, &agent_token).await?);
        let is_breach = |t: &&String| t.contains("incumplió su objetivo de primera respuesta");
        let told = eventually(WAIT, || async {
            notifications(&app, &supervisor).await.ok().filter(|w| w.iter().any(|t| is_breach(&t)))
        }).await.unwrap_or_default();
        anyhow::ensure!(told.iter().filter(is_breach).count() == 1, "{told:?}");

        // The at-risk view finds it; a case on track is not in it.
        let calm = app.create_case(&app.admin_token, &supervision, "Otro").await?;
        let at_risk = app.get("/api/v1/cases?sla=warning,breached", &app.admin_token).await?;
        let ids: Vec<&str> = at_risk.body["items"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect();
        anyhow::ensure!(ids == [id], "{}", at_risk.text);
        anyhow::ensure!(!ids.contains(&calm["id"].as_str().unwrap_or_default()));
        let bad = app.get("/api/v1/cases?sla=late", &app.admin_token).await?;
        anyhow::ensure!(bad.status == 422 && bad.text.contains("sla"), "{}", bad.text);
        Ok(())
    }

    async fn replies_meet_targets_and_waiting_stops_the_clock(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("registro").await?;
        let (supervisor_id, supervisor) = app.create_member("sup@uni.test", &unit, "supervisor").await?;
        install_plugin(&app, "escalation-sla", quick(0.2, 0.15, json!({})), json!({"kv": true}), &[unit.as_str()]).await?;
        let created = app.create_case(&app.admin_token, &unit, "Certificado").await?;
        let id = created["id"].as_str().unwrap_or_default();
        app.case_until(id, "targets shown", |c| target(c, "first_response")["state"] == "running").await?;

        let reply = app.post(&format!("/api/v1/cases/{id}/messages"), &supervisor, json!({"body": "Hola, ya lo revisamos."})).await?;
        anyhow::ensure!(reply.status == 201, "{}", reply.text);
        let met = app.case_until(id, "first response met", |c| target(c, "first_response")["state"] == "met").await?;
        anyhow::ensure!(target(&met, "resolution")["state"] == "running", "{met}");

        // Waiting on the person: the resolution clock stops (no deadline)...
        let waiting = app.patch(&format!("/api/v1/cases/{id}"), &supervisor,
            json!({"assignee_id": supervisor_id, "status": "waiting_on_contact"})).await?;
        anyhow::ensure!(waiting.status == 200, "{}", waiting.text);
        let paused = app.case_until(id, "paused", |c| target(c, "resolution")["state"] == "paused").await?;
        anyhow::ensure!(target(&paused, "resolution")["due_at"].is_null(), "{paused}");
        // ...and stays stopped past the original deadline (9 s).
        tokio::time::sleep(Duration::from_secs(11)).await;
        let still = app.case(id).await?;
        anyhow::ensure!(target(&still, "resolution")["state"] == "paused", "{still}");

        // The person answers: the clock runs again, the deadline moved by the wait.
        app.contact_says(id, "Ya envié el documento").await?;
        let resumed = app.case_until(id, "resumed", |c| target(c, "resolution")["state"] == "running").await?;
        let due = millis(&target(&resumed, "resolution")["due_at"]);
        anyhow::ensure!(due > chrono::Utc::now().timestamp_millis(), "moved past now: {resumed}");
        let done = app.patch(&format!("/api/v1/cases/{id}"), &supervisor, json!({"status": "resolved"})).await?;
        anyhow::ensure!(done.status == 200, "{}", done.text);
        let resolved = app.case_until(id, "resolution met", |c| target(c, "resolution")["state"] == "met").await?;
        anyhow::ensure!(target(&resolved, "first_response")["state"] == "met", "{resolved}");
        let told = notifications(&app, &supervisor).await?;
        anyhow::ensure!(!told.iter().any(|t| t.contains("incumplió")), "no breach: {told:?}");
        Ok(())
    }

    async fn deadlines_count_only_business_hours(backend) {
        let app = spawn_app(backend).await?;
        // Open every day around the clock, except today (a holiday) in Bogotá.
        let tz = chrono_tz::America::Bogota;
        let today = chrono::Utc::now().with_timezone(&tz).date_naive();
        let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
            .collect();
        let unit = app.post_ok("/api/v1/units", &app.admin_token, json!({"slug": "tesoreria", "name": "Tesorería",
            "timezone": "America/Bogota", "business_hours": {"weekly": every_day, "holidays": [today.to_string()]}}), 201).await?;
        let unit = unit["id"].as_str().unwrap_or_default();
        install_plugin(&app, "escalation-sla",
            json!({"policies": {"normal": {"first_response_minutes": 30, "resolution_minutes": 120}}}),
            json!({"kv": true}), &[unit]).await?;
        let created = app.create_case(&app.admin_token, unit, "Devolución").await?;
        let id = created["id"].as_str().unwrap_or_default();
        let shown = app.case_until(id, "targets shown", |c| target(c, "resolution")["state"] == "running").await?;
        // Nothing counts today: the clocks start at tomorrow's opening.
        use chrono::TimeZone;
        let tomorrow = today.succ_opt().unwrap_or(today).and_hms_opt(0, 0, 0).unwrap_or_default();
        let opening = tz.from_local_datetime(&tomorrow).earliest().map_or(0, |t| t.timestamp_millis());
        anyhow::ensure!(millis(&target(&shown, "first_response")["due_at"]) == opening + 30 * 60_000, "{shown}");
        anyhow::ensure!(millis(&target(&shown, "resolution")["due_at"]) == opening + 120 * 60_000, "{shown}");
        Ok(())
    }

    async fn a_spike_of_one_topic_alerts_supervisors_once(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("sistemas").await?;
        let (_, supervisor) = app.create_member("sup@uni.test", &unit, "supervisor").await?;
        install_plugin(&app, "crisis-protocol", json!({"spike": {"enabled": true, "threshold": 3, "window_minutes": 30,
            "topics": [{"name": "plataforma", "phrases": ["campus virtual", "plataforma"]}]}}),
            json!({"kv": true}), &[unit.as_str()]).await?;
        for text in ["El campus virtual no carga", "¿Se cayó la plataforma?", "no puedo entrar al campus virtual", "campus virtual caído"] {
            let created = app.create_case(&app.admin_token, &unit, "Acceso").await?;
            app.contact_says(created["id"].as_str().unwrap_or_default(), text).await?;
        }
        let told = eventually(WAIT, || async {
            let told = notifications(&app, &supervisor).await.ok()?;
            told.iter().any(|t| t.contains("«plataforma»")).then_some(told)
        })
        .await;
        let told = told.unwrap_or_default();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let told_later = notifications(&app, &supervisor).await?;
        anyhow::ensure!(told_later.iter().filter(|t| t.contains("«plataforma»")).count() == 1, "{told:?} {told_later:?}");
        anyhow::ensure!(told.iter().any(|t| t.contains("3 casos mencionan «plataforma»")), "{told:?}");
        Ok(())
    }
}
