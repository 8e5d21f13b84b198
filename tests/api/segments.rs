//! Segments: saved filters over people (attributes, channels, cases,
//! consent), evaluated alike on both databases, kept by a unit's
//! supervisors for the unit's people and by admins for everyone.

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla_tests::{TestApp, on_both, spawn_app};

/// Brings a person in by external id; returns their contact id.
async fn person(app: &TestApp, external_id: &str, body: Value) -> anyhow::Result<String> {
    let reply = app
        .call(Method::PUT, &format!("/api/v1/contacts/external/{external_id}"), Some(&app.admin_token), Some(&body))
        .await?;
    assert!(reply.status.is_success(), "{}", reply.text);
    Ok(reply.body["contact"]["id"].as_str().unwrap_or_default().to_owned())
}

fn consent(purpose: &str, action: &str, given_at: &str) -> Value {
    json!({"purpose": purpose, "action": action, "text_version": "v1", "channel": "api", "source": "file",
           "given_at": given_at})
}

/// The external ids of the people `filter` chooses among `unit`'s (everyone's without).
async fn chosen(app: &TestApp, token: &str, unit: Option<&str>, filter: Value) -> anyhow::Result<Vec<String>> {
    let reply = app
        .call(Method::POST, "/api/v1/segments/preview", Some(token), Some(&json!({"unit_id": unit, "filter": filter})))
        .await?;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut ids: Vec<String> = reply.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["external_id"].as_str().unwrap_or("-").to_owned())
        .collect();
    ids.sort();
    assert_eq!(reply.body["total"].as_u64(), Some(ids.len() as u64), "the count agrees with the list");
    Ok(ids)
}

on_both! {
    async fn a_segment_chooses_people_by_attributes_channels_cases_and_consent(backend) {
        let app = spawn_app(backend).await?;
        let admissions = app.create_unit("admisiones").await?;
        let credit = app.create_unit("credito").await?;
        let ana = person(&app, "A1", json!({
            "identities": [{"channel": "whatsapp", "value": "+573001110001"}],
            "custom_attributes": {"program": "Medicina", "cohort": 2027, "scholarship": true},
            "consents": [consent("broadcasts", "grant", "2026-03-01T10:00:00Z")],
        })).await?;
        let beto = person(&app, "B2", json!({
            "identities": [{"channel": "email", "value": "beto@uni.edu.co"}],
            "custom_attributes": {"program": "Derecho", "cohort": 2026, "scholarship": false},
            "consents": [consent("broadcasts", "grant", "2026-03-01T10:00:00Z")],
        })).await?;
        let caro = person(&app, "C3", json!({
            "identities": [{"channel": "sms", "value": "+573001110003"}],
            "custom_attributes": {"program": "Enfermería"},
        })).await?;
        // Beto withdraws later; only his latest answer counts.
        app.post_ok(&format!("/api/v1/contacts/{beto}/consents"), &app.admin_token,
            json!({"purpose": "broadcasts", "action": "revoke", "text_version": "v1", "channel": "email", "source": "phone"}), 201).await?;
        // Ana asked Admissions about a scholarship; Caro has a case with Credit.
        app.post_ok("/api/v1/cases", &app.admin_token, json!({"subject": "Beca", "channel": "whatsapp",
            "unit_id": admissions, "contact_id": ana, "tags": ["becas"]}), 201).await?;
        app.post_ok("/api/v1/cases", &app.admin_token, json!({"subject": "Cuota", "channel": "sms",
            "unit_id": credit, "contact_id": caro}), 201).await?;
        // Someone with no external id, merged away into Caro: never chosen.
        let twin = app.post_ok("/api/v1/contacts", &app.admin_token, json!({"name": "Caro bis"}), 201).await?;
        app.post_ok(&format!("/api/v1/contacts/{caro}/merge"), &app.admin_token,
            json!({"source_contact_id": twin["id"]}), 200).await?;
        let admin = app.admin_token.clone();

        assert_eq!(chosen(&app, &admin, None, json!({})).await?, ["A1", "B2", "C3"]);
        let by = |filter: Value| chosen(&app, &admin, None, filter);
        assert_eq!(by(json!({"attributes": [{"key": "program", "in": ["Medicina", "Enfermería"]}]})).await?, ["A1", "C3"]);
        assert_eq!(by(json!({"attributes": [{"key": "program", "not_in": ["Medicina"]}]})).await?, ["B2", "C3"]);
        // Numbers and yes/no compare as their text, alike on both databases.
        assert_eq!(by(json!({"attributes": [{"key": "cohort", "in": ["2027"]}]})).await?, ["A1"]);
        assert_eq!(by(json!({"attributes": [{"key": "scholarship", "in": ["true"]}]})).await?, ["A1"]);
        assert_eq!(by(json!({"attributes": [{"key": "scholarship", "in": ["false"]}]})).await?, ["B2"]);
        assert_eq!(by(json!({"attributes": [{"key": "cohort", "present": false}]})).await?, ["C3"]);
        assert_eq!(by(json!({"channels": ["whatsapp", "sms"]})).await?, ["A1", "C3"]);
        assert_eq!(by(json!({"cases": {"tags": ["becas"], "opened_within_days": 30}})).await?, ["A1"]);
        assert_eq!(by(json!({"cases": {"unit_ids": [credit]}})).await?, ["C3"]);
        assert_eq!(by(json!({"cases": {"has": false}})).await?, ["B2"]);
        assert_eq!(by(json!({"cases": {"statuses": ["resolved"]}})).await?, Vec::<String>::new());
        assert_eq!(by(json!({"consent": [{"purpose": "broadcasts", "state": "granted"}]})).await?, ["A1"]);
        assert_eq!(by(json!({"consent": [{"purpose": "broadcasts", "state": "revoked"}]})).await?, ["B2"]);
        assert_eq!(by(json!({"consent": [{"purpose": "broadcasts", "state": "unanswered"}]})).await?, ["C3"]);
        assert_eq!(by(json!({"consent": [{"purpose": "broadcasts", "state": "not_granted"}]})).await?, ["B2", "C3"]);
        assert_eq!(by(json!({"external_id": false})).await?, Vec::<String>::new());
        // Conditions add up.
        assert_eq!(by(json!({"attributes": [{"key": "program", "present": true}], "channels": ["email", "whatsapp"],
            "consent": [{"purpose": "broadcasts", "state": "granted"}]})).await?, ["A1"]);

        // A saved segment reads the same, now.
        let saved = app.post_ok("/api/v1/segments", &admin, json!({"name": "Con autorización",
            "filter": {"consent": [{"purpose": "broadcasts", "state": "granted"}]}}), 201).await?;
        let id = saved["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(saved["filter"]["consent"][0]["state"], "granted");
        let members = app.get(&format!("/api/v1/segments/{id}/members"), &admin).await?;
        assert_eq!(members.body["total"], 1);
        app.post_ok(&format!("/api/v1/contacts/{ana}/consents"), &admin,
            json!({"purpose": "broadcasts", "action": "revoke", "text_version": "v1", "channel": "whatsapp", "source": "phone"}), 201).await?;
        let members = app.get(&format!("/api/v1/segments/{id}/members"), &admin).await?;
        assert_eq!(members.body["total"], 0, "a segment means who matches now: {}", members.text);
        let renamed = app.call(Method::PATCH, &format!("/api/v1/segments/{id}"), Some(&admin),
            Some(&json!({"name": "Sin autorización", "description": "Para pedirla",
                         "filter": {"consent": [{"purpose": "broadcasts", "state": "not_granted"}]}}))).await?;
        assert_eq!(renamed.status, 200, "{}", renamed.text);
        assert_eq!(app.get(&format!("/api/v1/segments/{id}/members"), &admin).await?.body["total"], 3);

        // Bad filters are named field by field.
        let bad = app.call(Method::POST, "/api/v1/segments", Some(&admin), Some(&json!({"name": " ",
            "filter": {"attributes": [{"key": "Program", "in": ["x"]}, {"key": "campus", "in": ["a"], "present": true}],
                       "channels": ["pigeon"], "cases": {"statuses": ["lost"], "opened_within_days": 0},
                       "consent": [{"purpose": "broadcasts", "state": "maybe"}]}}))).await?;
        assert_eq!(bad.status, 422, "{}", bad.text);
        for field in ["name", "filter.attributes[0].key", "filter.attributes[1]", "filter.channels[0]",
                      "filter.cases.statuses[0]", "filter.cases.opened_within_days", "filter.consent[0].state"] {
            assert!(bad.text.contains(&format!("\"{field}\"")), "{field} is named: {}", bad.text);
        }
        let deleted = app.call(Method::DELETE, &format!("/api/v1/segments/{id}"), Some(&admin), None).await?;
        assert_eq!(deleted.status, 204);
        assert_eq!(app.get(&format!("/api/v1/segments/{id}"), &admin).await?.status, 404);
        Ok(())
    }

    async fn a_units_segment_chooses_among_the_units_people_only(backend) {
        let app = spawn_app(backend).await?;
        let admissions = app.create_unit("admisiones").await?;
        let credit = app.create_unit("credito").await?;
        let (_, supervisor) = app.create_member("sup@uni.edu.co", &admissions, "supervisor").await?;
        let (_, agent) = app.create_member("agente@uni.edu.co", &admissions, "agent").await?;
        let ana = person(&app, "A1", json!({"custom_attributes": {"program": "Medicina"}})).await?;
        person(&app, "B2", json!({"custom_attributes": {"program": "Medicina"}})).await?;
        app.post_ok("/api/v1/cases", &app.admin_token, json!({"subject": "Inscripción", "channel": "webchat",
            "unit_id": admissions, "contact_id": ana}), 201).await?;

        let medicine = json!({"attributes": [{"key": "program", "in": ["Medicina"]}]});
        assert_eq!(chosen(&app, &supervisor, Some(&admissions), medicine.clone()).await?, ["A1"],
            "a supervisor reaches the people of their unit, not the institution's list");
        let everyone = app.call(Method::POST, "/api/v1/segments/preview", Some(&supervisor),
            Some(&json!({"filter": medicine}))).await?;
        assert_eq!(everyone.status, 403, "{}", everyone.text);
        let institution = app.call(Method::POST, "/api/v1/segments", Some(&supervisor),
            Some(&json!({"name": "Todos", "filter": {}}))).await?;
        assert_eq!(institution.status, 403, "institution-wide segments are admins': {}", institution.text);
        let other_unit = app.call(Method::POST, "/api/v1/segments", Some(&supervisor), Some(&json!({
            "unit_id": admissions, "name": "Con crédito", "filter": {"cases": {"unit_ids": [credit]}}}))).await?;
        assert_eq!(other_unit.status, 422, "another unit's cases are not the supervisor's to read: {}", other_unit.text);
        assert!(other_unit.text.contains("filter.cases.unit_ids[0]"), "{}", other_unit.text);

        let mine = app.post_ok("/api/v1/segments", &supervisor, json!({"unit_id": admissions, "name": "Medicina",
            "filter": {"attributes": [{"key": "program", "in": ["Medicina"]}]}}), 201).await?;
        let theirs = app.post_ok("/api/v1/segments", &app.admin_token, json!({"unit_id": credit, "name": "Crédito",
            "filter": {}}), 201).await?;
        let list = app.get("/api/v1/segments", &supervisor).await?;
        let names: Vec<&str> = list.body["items"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(names, ["Medicina"]);
        let theirs_id = theirs["id"].as_str().unwrap_or_default();
        assert_eq!(app.get(&format!("/api/v1/segments/{theirs_id}"), &supervisor).await?.status, 404);
        assert_eq!(app.get("/api/v1/segments", &agent).await?.status, 403);
        let mine_id = mine["id"].as_str().unwrap_or_default();
        assert_eq!(app.get(&format!("/api/v1/segments/{mine_id}/members"), &agent).await?.status, 404);
        let all = app.get("/api/v1/segments", &app.admin_token).await?;
        assert_eq!(all.body["items"].as_array().map(Vec::len), Some(2));
        Ok(())
    }
}
