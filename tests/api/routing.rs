//! Queues and assignment: automatic routing (least loaded, round robin)
//! within presence and capacity, claims that never give one case to two
//! agents, requeueing when an agent goes offline, transfers with a note,
//! @mentions, the live stream consoles read, snoozing, and finding cases
//! by what their messages say.

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use ventanilla_tests::console::Console;
use ventanilla_tests::{TestApp, eventually, on_both, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(15);

async fn routed_unit(app: &TestApp, slug: &str, routing: Value) -> anyhow::Result<String> {
    let body = json!({"slug": slug, "name": slug, "routing": routing});
    let unit = app.post_ok("/api/v1/units", &app.admin_token, body, 201).await?;
    Ok(unit["id"].as_str().unwrap_or_default().to_owned())
}

async fn presence(app: &TestApp, token: &str, presence: &str) -> anyhow::Result<Value> {
    let reply =
        app.call(Method::PUT, "/api/v1/agents/me/presence", Some(token), Some(&json!({"presence": presence}))).await?;
    anyhow::ensure!(reply.status == 200, "presence: {}", reply.text);
    Ok(reply.body)
}

fn ids(reply: &Value) -> Vec<String> {
    reply["items"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// Waits until `case` has `assignee` (a user id, or "" for nobody).
async fn assigned_to(app: &TestApp, case: &str, assignee: &str) -> anyhow::Result<Value> {
    app.case_until(case, &format!("assignee {assignee:?}"), |c| c["assignee_id"].as_str().unwrap_or("") == assignee)
        .await
}

/// Lets pending routing jobs run, then reads the cases' assignees.
async fn assignees(app: &TestApp, cases: &[String]) -> anyhow::Result<Vec<String>> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut out = vec![];
    for case in cases {
        out.push(app.case(case).await?["assignee_id"].as_str().unwrap_or("").to_owned());
    }
    Ok(out)
}

on_both! {
    async fn least_loaded_routing_skips_the_absent_and_the_full(backend) {
        let app = spawn_app(backend).await?;
        let unit = routed_unit(&app, "admisiones", json!({"mode": "least_loaded", "capacity": {"default": 2}})).await?;
        let (ana_id, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        let (beto_id, beto) = app.create_member("beto@uni.test", &unit, "agent").await?;
        presence(&app, &ana, "online").await?;
        let mut cases = vec![];
        for n in 0..3 {
            cases.push(id(&app.create_case(&app.admin_token, &unit, &format!("Consulta {n}")).await?));
        }
        // Beto is offline: Ana gets two (her capacity), the third waits.
        assigned_to(&app, &cases[0], &ana_id).await?;
        assigned_to(&app, &cases[1], &ana_id).await?;
        let waiting = assignees(&app, &cases[2..]).await?;
        assert_eq!(waiting, vec![String::new()], "a full agent got a third case");
        assert_eq!(app.case(&cases[2]).await?["status"], "queued");
        // Beto comes online and the queue reaches him.
        presence(&app, &beto, "online").await?;
        assigned_to(&app, &cases[2], &beto_id).await?;
        // Away agents take nothing; Ana frees a place and is the least loaded.
        presence(&app, &beto, "away").await?;
        let resolved = app.patch(&format!("/api/v1/cases/{}", cases[0]), &ana, json!({"status": "resolved"})).await?;
        assert_eq!(resolved.status, 200, "{}", resolved.text);
        let next = id(&app.create_case(&app.admin_token, &unit, "Otra consulta").await?);
        assigned_to(&app, &next, &ana_id).await?;
        // The supervisor's view: presence and load per agent.
        let agents = app.get(&format!("/api/v1/agents?unit_id={unit}"), &app.admin_token).await?;
        let by_id: HashMap<String, Value> = agents.body["items"].as_array().into_iter().flatten()
            .map(|a| (a["user_id"].as_str().unwrap_or_default().to_owned(), a.clone())).collect();
        assert_eq!(by_id[&ana_id]["presence"], "online");
        assert_eq!(by_id[&ana_id]["load"], 2);
        assert_eq!(by_id[&ana_id]["load_by_channel"]["whatsapp"], 2);
        assert_eq!(by_id[&beto_id]["presence"], "away");
        assert_eq!(by_id[&beto_id]["load"], 1);
        Ok(())
    }

    async fn round_robin_shares_the_queue_evenly(backend) {
        let app = spawn_app(backend).await?;
        let unit = routed_unit(&app, "biblioteca", json!({"mode": "round_robin", "capacity": {"default": 10}})).await?;
        let mut agents = vec![];
        for name in ["a", "b", "c"] {
            let (user, token) = app.create_member(&format!("{name}@uni.test"), &unit, "agent").await?;
            presence(&app, &token, "online").await?;
            agents.push(user);
        }
        let mut cases = vec![];
        for n in 0..9 {
            cases.push(id(&app.create_case(&app.admin_token, &unit, &format!("Libro {n}")).await?));
        }
        let done = eventually(WAIT, || async {
            let got = assignees(&app, &cases).await.ok()?;
            got.iter().all(|a| !a.is_empty()).then_some(got)
        }).await;
        let Some(got) = done else { anyhow::bail!("not every case was routed") };
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for a in &got {
            *counts.entry(a.as_str()).or_default() += 1;
        }
        for agent in &agents {
            assert_eq!(counts.get(agent.as_str()), Some(&3), "uneven shares: {counts:?}");
        }
        // Turn by turn: no one gets a second case before everyone has one.
        let first_three: std::collections::HashSet<_> = got[..3].iter().collect();
        assert_eq!(first_three.len(), 3, "round robin repeated someone early: {got:?}");
        Ok(())
    }

    async fn concurrent_claims_give_each_case_one_owner(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("tesoreria").await?;
        let mut agents = vec![];
        for n in 0..8 {
            agents.push(app.create_member(&format!("agente{n}@uni.test"), &unit, "agent").await?);
        }
        let mut cases = vec![];
        for n in 0..4 {
            cases.push(id(&app.create_case(&app.admin_token, &unit, &format!("Pago {n}")).await?));
        }
        // Every agent claims every case at once.
        let client = reqwest::Client::new();
        let mut claims = tokio::task::JoinSet::new();
        for case in &cases {
            for (user, token) in &agents {
                let request = client.post(app.url(&format!("/api/v1/cases/{case}/claim"))).bearer_auth(token);
                let (case, user) = (case.clone(), user.clone());
                claims.spawn(async move {
                    let reply = match request.send().await {
                        Ok(response) => TestApp::reply(response).await,
                        Err(e) => Err(e.into()),
                    };
                    (case, user, reply)
                });
            }
        }
        let results: Vec<_> = claims.join_all().await;
        let mut winners: HashMap<String, Vec<String>> = HashMap::new();
        for (case, user, reply) in results {
            let reply = reply?;
            match reply.status.as_u16() {
                200 => winners.entry(case).or_default().push(user),
                409 => assert!(reply.body["detail"].as_str().unwrap_or("").contains("already took"), "{}", reply.text),
                other => anyhow::bail!("claim answered {other}: {}", reply.text),
            }
        }
        for case in &cases {
            let won = winners.get(case).cloned().unwrap_or_default();
            assert_eq!(won.len(), 1, "case {case} claimed by {won:?}");
            let stored = app.case(case).await?;
            assert_eq!(stored["assignee_id"], won[0].as_str());
            assert_eq!(stored["status"], "assigned");
            let audit = app.get(&format!("/api/v1/audit-events?target_id={case}"), &app.admin_token).await?;
            let assigned = audit.body["items"].as_array().into_iter().flatten()
                .filter(|e| e["action"] == "case.assigned").count();
            assert_eq!(assigned, 1, "{}", audit.text);
        }
        Ok(())
    }

    async fn an_offline_agents_cases_go_back_to_the_queue(backend) {
        let app = spawn_app(backend).await?;
        let unit = routed_unit(&app, "bienestar", json!({"mode": "round_robin", "requeue_when_offline": true})).await?;
        let (ana_id, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        let (beto_id, beto) = app.create_member("beto@uni.test", &unit, "agent").await?;
        presence(&app, &ana, "online").await?;
        let case = id(&app.create_case(&app.admin_token, &unit, "Cita").await?);
        assigned_to(&app, &case, &ana_id).await?;
        presence(&app, &ana, "offline").await?;
        let back = app.case(&case).await?;
        assert_eq!(back["status"], "queued");
        assert_eq!(back["assignee_id"], Value::Null);
        presence(&app, &beto, "online").await?;
        assigned_to(&app, &case, &beto_id).await?;
        // A unit that does not say so keeps the cases with their agent.
        let other = routed_unit(&app, "credito", json!({"mode": "round_robin"})).await?;
        let (carla_id, carla) = app.create_member("carla@uni.test", &other, "agent").await?;
        presence(&app, &carla, "online").await?;
        let kept = id(&app.create_case(&app.admin_token, &other, "Crédito").await?);
        assigned_to(&app, &kept, &carla_id).await?;
        presence(&app, &carla, "offline").await?;
        assert_eq!(app.case(&kept).await?["assignee_id"], carla_id.as_str());
        Ok(())
    }

    async fn inactive_agents_are_marked_offline_by_the_sweep(backend) {
        let app = spawn_app_with(backend, |c| {
            c.presence.sweep_secs = 1;
            c.presence.away_after_mins = 0;
            c.presence.offline_after_mins = 0;
        }).await?;
        let unit = routed_unit(&app, "admisiones", json!({"mode": "least_loaded", "requeue_when_offline": true})).await?;
        let (ana_id, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        presence(&app, &ana, "online").await?;
        let case = id(&app.create_case(&app.admin_token, &unit, "Cupos").await?);
        // Assigned, then swept offline with no console open, then requeued.
        let requeued = eventually(WAIT, || async {
            let me = app.get("/api/v1/agents/me", &ana).await.ok()?;
            let c = app.case(&case).await.ok()?;
            (me.body["presence"] == "offline" && c["status"] == "queued").then_some((me.body, c))
        }).await;
        let Some((me, _)) = requeued else { anyhow::bail!("the sweep did not take Ana offline and requeue her case") };
        assert_eq!(me["presence_auto"], true);
        let audit = app.get(&format!("/api/v1/audit-events?target_id={case}"), &app.admin_token).await?;
        assert!(audit.text.contains(&ana_id), "the case was never Ana's: {}", audit.text);
        Ok(())
    }

    async fn a_transfer_moves_the_case_with_a_note_and_mentions_notify(backend) {
        let app = spawn_app(backend).await?;
        let admisiones = app.create_unit("admisiones").await?;
        let bienestar = app.create_unit("bienestar").await?;
        let (ana_id, ana) = app.create_member("ana@uni.test", &admisiones, "agent").await?;
        let (_, laura) = app.create_member("laura.gomez@uni.test", &bienestar, "agent").await?;
        let (_, pedro) = app.create_member("pedro@uni.test", &admisiones, "agent").await?;
        let case = id(&app.create_case(&app.admin_token, &admisiones, "Ansiedad por los exámenes").await?);
        let claimed = app.call(Method::POST, &format!("/api/v1/cases/{case}/claim"), Some(&ana), None).await?;
        assert_eq!(claimed.status, 200, "{}", claimed.text);
        assert_eq!(claimed.body["assignee_id"], ana_id.as_str());
        // Someone else claiming it is told who has it.
        let late = app.call(Method::POST, &format!("/api/v1/cases/{case}/claim"), Some(&pedro), None).await?;
        assert_eq!(late.status, 409, "{}", late.text);
        assert!(late.body["detail"].as_str().unwrap_or("").contains("ana@uni.test"), "{}", late.text);
        // A note mentioning a colleague of the other unit: not theirs to see yet.
        let note = app.post(&format!("/api/v1/cases/{case}/notes"), &ana, json!({"body": "@pedro ¿lo viste? ana@uni.test"})).await?;
        assert_eq!(note.status, 201, "{}", note.text);
        let mut console = Console::connect(&app.base, &laura).await?;
        let bad = app.post(&format!("/api/v1/cases/{case}/transfer"), &ana, json!({"note": "sin destino"})).await?;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(bad.body["errors"][0]["field"], "unit_id");
        let moved = app.post(
            &format!("/api/v1/cases/{case}/transfer"),
            &ana,
            json!({"unit_id": bienestar, "note": "Pide apoyo psicológico. @laura.gomez ¿la puedes atender hoy?"}),
        ).await?;
        assert_eq!(moved.status, 200, "{}", moved.text);
        assert_eq!(moved.body["unit_id"], bienestar.as_str());
        assert_eq!(moved.body["status"], "queued");
        assert_eq!(moved.body["assignee_id"], Value::Null);
        // Laura's console hears of it, and of the mention.
        let arrived = console.next_about(&case, "case.updated", WAIT).await?;
        assert_eq!(arrived.body["data"]["unit_id"], bienestar.as_str());
        let told = console.next_of("notification", WAIT).await?;
        assert_eq!(told.body["data"]["kind"], "mention");
        let notes = app.get(&format!("/api/v1/cases/{case}/notes"), &laura).await?;
        assert_eq!(notes.status, 200, "{}", notes.text);
        assert!(notes.text.contains("Pide apoyo psicológico"), "{}", notes.text);
        let mine = app.get("/api/v1/notifications", &laura).await?;
        assert!(mine.text.contains("te mencionó en el caso"), "{}", mine.text);
        let pedros = app.get("/api/v1/notifications", &pedro).await?;
        assert!(pedros.text.contains("mencionó"), "{}", pedros.text);
        // Ana no longer sees the case; the history stays with it.
        assert_eq!(app.get(&format!("/api/v1/cases/{case}"), &ana).await?.status, 404);
        let audit = app.get(&format!("/api/v1/audit-events?target_id={case}"), &app.admin_token).await?;
        assert!(audit.text.contains("case.transferred"), "{}", audit.text);
        Ok(())
    }

    async fn consoles_hear_of_their_units_cases_only(backend) {
        let app = spawn_app(backend).await?;
        let mine = app.create_unit("admisiones").await?;
        let other = app.create_unit("biblioteca").await?;
        let (_, agent) = app.create_member("ana@uni.test", &mine, "agent").await?;
        let mut console = Console::connect(&app.base, &agent).await?;
        let elsewhere = id(&app.create_case(&app.admin_token, &other, "Préstamo").await?);
        let here = id(&app.create_case(&app.admin_token, &mine, "Inscripción").await?);
        let created = console.next_of("case.created", WAIT).await?;
        assert_eq!(created.body["case_id"], here.as_str(), "the first case event was not this unit's");
        let message = console.next_about(&here, "message.created", WAIT).await?;
        assert_eq!(message.body["data"]["direction"], "inbound");
        let seen = console.drain(Duration::from_millis(800)).await;
        assert!(seen.iter().all(|e| e.body["case_id"] != elsewhere.as_str()), "{seen:?}");
        // What the person writes next reaches the console too.
        app.contact_says(&here, "¿Sigue abierto?").await?;
        let again = console.next_about(&here, "message.created", WAIT).await?;
        assert!(again.body["data"]["preview"].as_str().unwrap_or("").contains("abierto"), "{again:?}");
        // Tokens without cases:read get no stream.
        let token = app.create_token(&["contacts:read"]).await?;
        let refused = app.get("/api/v1/stream", &token).await?;
        assert_eq!(refused.status, 403, "{}", refused.text);
        Ok(())
    }

    async fn snoozed_cases_come_back_on_time_or_when_the_person_writes(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        let case = id(&app.create_case(&app.admin_token, &unit, "Certificado").await?);
        let claimed = app.call(Method::POST, &format!("/api/v1/cases/{case}/claim"), Some(&ana), None).await?;
        assert_eq!(claimed.status, 200, "{}", claimed.text);
        let past = app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"snoozed_until": "2020-01-01T00:00:00Z"})).await?;
        assert_eq!(past.status, 422, "{}", past.text);
        assert_eq!(past.body["errors"][0]["field"], "snoozed_until");
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
        let snoozed = app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"snoozed_until": soon})).await?;
        assert_eq!(snoozed.status, 200, "{}", snoozed.text);
        assert!(snoozed.body["snoozed_until"].is_string(), "{}", snoozed.text);
        let listed = |snoozed: bool| {
            let app = &app;
            let ana = &ana;
            async move {
                let reply = app.get(&format!("/api/v1/cases?assignee_id=me&snoozed={snoozed}"), ana).await?;
                anyhow::Ok(reply.body["items"].as_array().map_or(0, Vec::len))
            }
        };
        assert_eq!(listed(true).await?, 1);
        assert_eq!(listed(false).await?, 0);
        // At its time it comes back, and Ana is told.
        app.case_until(&case, "back from snooze", |c| c["snoozed_until"].is_null()).await?;
        let told = eventually(WAIT, || async {
            let mine = app.get("/api/v1/notifications", &ana).await.ok()?;
            mine.text.contains("vuelve de la pausa").then_some(())
        }).await;
        assert!(told.is_some(), "Ana was not told the case is back");
        assert_eq!(listed(false).await?, 1);
        // Snoozed for a day, it comes back as soon as the person writes.
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"snoozed_until": tomorrow})).await?;
        app.contact_says(&case, "¿Me pueden enviar el certificado de notas?").await?;
        assert!(app.case(&case).await?["snoozed_until"].is_null());
        // Finding it by what was written in it, in any case of letters.
        let found = app.get("/api/v1/cases?text=CERTIFICADO%20DE%20NOTAS", &ana).await?;
        assert_eq!(ids(&found.body), vec![case.clone()], "{}", found.text);
        let none = app.get("/api/v1/cases?text=biblioteca", &ana).await?;
        assert!(ids(&none.body).is_empty(), "{}", none.text);
        // Neither accents nor capitals matter, on both databases.
        app.contact_says(&case, "Y la Matrícula de honor, ¿cuándo sale? Mi cedula es 123").await?;
        for needle in ["matricula", "MATR%C3%8DCULA%20DE%20HONOR", "c%C3%A9dula", "cuando"] {
            let found = app.get(&format!("/api/v1/cases?text={needle}"), &ana).await?;
            assert_eq!(ids(&found.body), vec![case.clone()], "{needle}: {}", found.text);
        }
        // Rows written before the folded text existed are matched on their
        // raw text until the background pass folds them.
        use sea_orm::ConnectionTrait;
        app.store.db.execute_unprepared("UPDATE messages SET search_text = NULL").await?;
        app.store.db.execute_unprepared("UPDATE cases SET search_text = NULL").await?;
        let raw = app.get("/api/v1/cases?text=certificado", &ana).await?;
        assert_eq!(ids(&raw.body), vec![case.clone()], "{}", raw.text);
        let unfolded = app.get("/api/v1/cases?text=matricula", &ana).await?;
        assert!(ids(&unfolded.body).is_empty(), "{}", unfolded.text);
        assert!(ventanilla::store::search_text::backfill(&app.store).await? >= 3);
        let folded = app.get("/api/v1/cases?text=matricula", &ana).await?;
        assert_eq!(ids(&folded.body), vec![case.clone()], "{}", folded.text);
        // A resolved case cannot be snoozed.
        app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"status": "resolved"})).await?;
        let ended = app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"snoozed_until": tomorrow})).await?;
        assert_eq!(ended.status, 422, "{}", ended.text);
        Ok(())
    }

    async fn unit_custom_fields_are_checked_and_required_before_resolving(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, sofia) = app.create_member("sofia@uni.test", &unit, "supervisor").await?;
        let (_, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        let defs = json!([
            {"key": "motivo", "label": "Motivo", "kind": "select", "options": ["Matrícula", "Certificados"], "required": true},
            {"key": "semestre", "label": "Semestre", "kind": "number", "required": false},
        ]);
        let twice = app.patch(&format!("/api/v1/units/{unit}"), &sofia, json!({"custom_fields": [defs[0], defs[0]]})).await?;
        assert_eq!(twice.status, 422, "{}", twice.text);
        assert_eq!(twice.body["errors"][0]["field"], "custom_fields[1].key");
        let refused = app.patch(&format!("/api/v1/units/{unit}"), &ana, json!({"custom_fields": defs})).await?;
        assert_eq!(refused.status, 403, "{}", refused.text);
        let saved = app.patch(&format!("/api/v1/units/{unit}"), &sofia, json!({"custom_fields": defs})).await?;
        assert_eq!(saved.status, 200, "{}", saved.text);
        assert_eq!(saved.body["custom_fields"], defs);
        let case = id(&app.create_case(&ana, &unit, "Inscripción").await?);
        let wrong = app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"custom_fields": {"motivo": "Becas", "origen": "feria"}})).await?;
        assert_eq!(wrong.status, 422, "{}", wrong.text);
        assert_eq!(wrong.body["errors"][0]["field"], "custom_fields.motivo");
        let claimed = app.call(Method::POST, &format!("/api/v1/cases/{case}/claim"), Some(&ana), None).await?;
        assert_eq!(claimed.status, 200, "{}", claimed.text);
        let early = app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"status": "resolved"})).await?;
        assert_eq!(early.status, 422, "{}", early.text);
        assert_eq!(early.body["errors"][0]["field"], "custom_fields.motivo");
        assert_eq!(app.case(&case).await?["status"], "assigned");
        // Keys the unit does not define are kept as given.
        let done = app.patch(&format!("/api/v1/cases/{case}"), &ana,
            json!({"status": "resolved", "custom_fields": {"motivo": "Certificados", "semestre": 4, "origen": "feria"}})).await?;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.body["custom_fields"], json!({"motivo": "Certificados", "semestre": 4, "origen": "feria"}));
        Ok(())
    }

    async fn a_plugins_close_keeps_the_units_rules(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        let defs = json!([{"key": "motivo", "label": "Motivo", "kind": "text", "required": true}]);
        let saved = app.patch(&format!("/api/v1/units/{unit}"), &app.admin_token, json!({"custom_fields": defs})).await?;
        assert_eq!(saved.status, 200, "{}", saved.text);
        ventanilla_tests::install_plugin(&app, "hostile-protocol", json!({"mode": "close"}), json!({}), &[unit.as_str()]).await?;
        let case = id(&app.create_case(&ana, &unit, "Inscripción").await?);
        let claimed = app.call(Method::POST, &format!("/api/v1/cases/{case}/claim"), Some(&ana), None).await?;
        assert_eq!(claimed.status, 200, "{}", claimed.text);
        // The protocol closes on "listo": refused while the field is empty...
        app.contact_says(&case, "listo, gracias").await?;
        let audit = ventanilla_tests::eventually(std::time::Duration::from_secs(20), || async {
            let events = app.get("/api/v1/audit-events?action=plugin.failed", &app.admin_token).await.ok()?;
            events.body["items"].as_array().and_then(|i| i.first()).cloned()
        }).await;
        let refusal = audit.map(|a| a["details"]["error"].to_string()).unwrap_or_default();
        assert!(refusal.contains("Motivo must be filled"), "the refusal is recorded: {refusal}");
        assert_eq!(app.case(&case).await?["status"], "assigned");
        // ...and applied once it is filled.
        let filled = app.patch(&format!("/api/v1/cases/{case}"), &ana, json!({"custom_fields": {"motivo": "Matrícula"}})).await?;
        assert_eq!(filled.status, 200, "{}", filled.text);
        app.contact_says(&case, "listo").await?;
        let closed = app.case_until(&case, "closed by the protocol", |c| c["status"] == "closed").await?;
        assert_eq!(closed["custom_fields"]["motivo"], "Matrícula");
        Ok(())
    }
}
