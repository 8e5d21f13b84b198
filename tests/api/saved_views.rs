//! Saved views: a person's own and a unit's shared ones, their filters
//! checked as the case list checks its query, and applied by whoever opens
//! them (`assignee_id=me` is the viewer).

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla_tests::{on_both, spawn_app};

fn items(reply: &Value) -> Vec<Value> {
    reply["items"].as_array().cloned().unwrap_or_default()
}

fn names(reply: &Value) -> Vec<String> {
    items(reply).iter().filter_map(|v| v["name"].as_str().map(str::to_owned)).collect()
}

/// The `GET /cases` query a view's filters stand for.
fn query(filters: &Value) -> String {
    let pairs: Vec<String> = filters
        .as_object()
        .map(|m| {
            m.iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
        })
        .unwrap_or_default();
    pairs.join("&")
}

on_both! {
    async fn people_and_units_keep_views_that_find_the_same_cases(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let other = app.create_unit("biblioteca").await?;
        let (_, sofia) = app.create_member("sofia@uni.test", &unit, "supervisor").await?;
        let (ana_id, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        let (beto_id, beto) = app.create_member("beto@uni.test", &unit, "agent").await?;
        let (_, carla) = app.create_member("carla@uni.test", &other, "agent").await?;
        for (who, subject, priority) in [(&ana_id, "Beca", "urgent"), (&beto_id, "Matrícula", "urgent"), (&ana_id, "Horario", "low")] {
            let case = app.post_ok("/api/v1/cases", &sofia, json!({
                "subject": subject, "channel": "email", "unit_id": unit, "priority": priority,
                "contact": {"name": subject, "identities": [{"channel": "email", "value": format!("{subject}@mail.test")}]},
            }), 201).await?;
            let id = case["id"].as_str().unwrap_or_default();
            app.call(Method::PATCH, &format!("/api/v1/cases/{id}"), Some(&sofia), Some(&json!({"assignee_id": who}))).await?;
        }

        // The supervisor shares "my urgent ones" with the unit; agents may not.
        let shared = json!({"unit_id": unit, "name": "Mis urgentes", "filters": {"assignee_id": "me", "priority": "urgent"}});
        let refused = app.post("/api/v1/saved-views", &ana, shared.clone()).await?;
        assert_eq!(refused.status, 403, "{}", refused.text);
        let view = app.post_ok("/api/v1/saved-views", &sofia, shared.clone(), 201).await?;
        let again = app.post("/api/v1/saved-views", &sofia, shared).await?;
        assert_eq!(again.status, 409, "{}", again.text);
        assert_eq!(again.body["errors"][0]["field"], "name");
        // Filters are checked like the case list's query, field by field.
        let bad = app.post("/api/v1/saved-views", &ana,
            json!({"name": "Rara", "filters": {"status": "perdido", "page": 2}})).await?;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(bad.body["errors"][0]["field"], "filters.page");
        let bad = app.post("/api/v1/saved-views", &ana, json!({"name": "Rara", "filters": {"status": "perdido"}})).await?;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(bad.body["errors"][0]["field"], "filters.status");
        let blank = app.post("/api/v1/saved-views", &ana, json!({"name": "  ", "filters": {}})).await?;
        assert_eq!(blank.body["errors"][0]["field"], "name", "{}", blank.text);

        // Ana keeps two of her own, in her order; nobody else sees them.
        app.post_ok("/api/v1/saved-views", &ana, json!({"name": "Baja prioridad", "filters": {"priority": "low"}, "position": 2}), 201).await?;
        let first = app.post_ok("/api/v1/saved-views", &ana, json!({"name": "Abiertos", "filters": {"status": "assigned"}, "position": 1}), 201).await?;
        let listed = app.get("/api/v1/saved-views", &ana).await?;
        assert_eq!(names(&listed.body), ["Abiertos", "Baja prioridad", "Mis urgentes"]);
        assert_eq!(names(&app.get("/api/v1/saved-views", &beto).await?.body), ["Mis urgentes"]);
        assert!(names(&app.get("/api/v1/saved-views", &carla).await?.body).is_empty());
        let own_id = first["id"].as_str().unwrap_or_default();
        let hidden = app.call(Method::PATCH, &format!("/api/v1/saved-views/{own_id}"), Some(&beto), Some(&json!({"name": "Mía"}))).await?;
        assert_eq!(hidden.status, 404, "{}", hidden.text);

        // The shared view, opened by each agent, finds their own urgent case.
        let filters = &view["filters"];
        for (token, subject) in [(&ana, "Beca"), (&beto, "Matrícula")] {
            let found = app.get(&format!("/api/v1/cases?{}", query(filters)), token).await?;
            assert_eq!(items(&found.body).len(), 1, "{}", found.text);
            assert_eq!(found.body["items"][0]["subject"], subject, "{}", found.text);
        }

        // Ana reorders, renames and removes her own; the unit's is the supervisor's to change.
        let moved = app.call(Method::PATCH, &format!("/api/v1/saved-views/{own_id}"), Some(&ana),
            Some(&json!({"position": 3, "name": "Asignados"}))).await?;
        assert_eq!(moved.status, 200, "{}", moved.text);
        assert_eq!(names(&app.get("/api/v1/saved-views", &ana).await?.body), ["Baja prioridad", "Asignados", "Mis urgentes"]);
        let view_id = view["id"].as_str().unwrap_or_default();
        let not_hers = app.call(Method::DELETE, &format!("/api/v1/saved-views/{view_id}"), Some(&ana), None).await?;
        assert_eq!(not_hers.status, 403, "{}", not_hers.text);
        let removed = app.call(Method::DELETE, &format!("/api/v1/saved-views/{own_id}"), Some(&ana), None).await?;
        assert_eq!(removed.status, 204, "{}", removed.text);
        assert_eq!(names(&app.get("/api/v1/saved-views", &ana).await?.body), ["Baja prioridad", "Mis urgentes"]);
        Ok(())
    }
}
