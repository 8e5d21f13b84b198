//! Canned responses: a unit's, written by its supervisors and used by its
//! staff, and each person's own; variables filled for the case at hand.

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla_tests::{on_both, spawn_app};

fn items(reply: &Value) -> Vec<Value> {
    reply["items"].as_array().cloned().unwrap_or_default()
}

on_both! {
    async fn units_and_people_keep_canned_responses_filled_for_the_case(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let other = app.create_unit("biblioteca").await?;
        let (_, sofia) = app.create_member("sofia@uni.test", &unit, "supervisor").await?;
        let (_, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
        let (_, beto) = app.create_member("beto@uni.test", &unit, "agent").await?;
        let (_, carla) = app.create_member("carla@uni.test", &other, "agent").await?;
        let body = "Hola {{contact.first_name}}, soy {{agent.name}} de {{unit.name}}. Tu caso es el #{{case.number}}.";
        let shared = json!({"unit_id": unit, "shortcut": "/Saludo", "title": "Saludo inicial", "body": body});
        // Agents use the unit's responses; its supervisors write them.
        let refused = app.post("/api/v1/canned-responses", &ana, shared.clone()).await?;
        assert_eq!(refused.status, 403, "{}", refused.text);
        let created = app.post_ok("/api/v1/canned-responses", &sofia, shared.clone(), 201).await?;
        assert_eq!(created["shortcut"], "saludo");
        let again = app.post("/api/v1/canned-responses", &sofia, shared).await?;
        assert_eq!(again.status, 409, "{}", again.text);
        assert_eq!(again.body["errors"][0]["field"], "shortcut");
        let typo = app.post("/api/v1/canned-responses", &sofia,
            json!({"unit_id": unit, "shortcut": "x", "title": "X", "body": "Hola {{contacto}}"})).await?;
        assert_eq!(typo.status, 422, "{}", typo.text);
        assert_eq!(typo.body["errors"][0]["field"], "body");
        assert!(typo.text.contains("{{contact.name}}"), "{}", typo.text);
        // Ana keeps one of her own, which nobody else sees.
        let own = app.post_ok("/api/v1/canned-responses", &ana,
            json!({"shortcut": "gracias", "title": "Cierre", "body": "Gracias por escribirnos, {{contact.name}}."}), 201).await?;
        let own_id = own["id"].as_str().unwrap_or_default().to_owned();

        let case = app.post_ok("/api/v1/cases", &ana, json!({
            "subject": "Inscripciones", "channel": "whatsapp", "unit_id": unit,
            "contact": {"name": "María José Pérez", "identities": [{"channel": "whatsapp", "value": "+573001234567"}]},
        }), 201).await?;
        let number = case["number"].as_i64().unwrap_or_default();
        let case_id = case["id"].as_str().unwrap_or_default();
        let for_case = app.get(&format!("/api/v1/canned-responses?case_id={case_id}"), &ana).await?;
        assert_eq!(for_case.status, 200, "{}", for_case.text);
        let list = items(&for_case.body);
        let shortcuts: Vec<&str> = list.iter().filter_map(|c| c["shortcut"].as_str()).collect();
        assert_eq!(shortcuts, vec!["gracias", "saludo"]);
        assert_eq!(
            list[1]["rendered"],
            format!("Hola María, soy ana@uni.test de admisiones. Tu caso es el #{number}.").as_str()
        );
        assert_eq!(list[0]["rendered"], "Gracias por escribirnos, María José Pérez.");
        let found = app.get("/api/v1/canned-responses?q=salu", &ana).await?;
        assert_eq!(items(&found.body).len(), 1, "{}", found.text);

        // Beto sees the unit's, not Ana's; Carla, of another unit, neither.
        let betos = app.get("/api/v1/canned-responses", &beto).await?;
        assert_eq!(items(&betos.body).iter().filter_map(|c| c["shortcut"].as_str()).collect::<Vec<_>>(), vec!["saludo"]);
        let hidden = app.call(Method::PATCH, &format!("/api/v1/canned-responses/{own_id}"), Some(&beto), Some(&json!({"title": "Mío"}))).await?;
        assert_eq!(hidden.status, 404, "{}", hidden.text);
        let carlas = app.get("/api/v1/canned-responses", &carla).await?;
        assert!(items(&carlas.body).is_empty(), "{}", carlas.text);
        let foreign = app.get(&format!("/api/v1/canned-responses?case_id={case_id}"), &carla).await?;
        assert_eq!(foreign.status, 404, "{}", foreign.text);

        // Ana changes and removes her own.
        let changed = app.call(Method::PATCH, &format!("/api/v1/canned-responses/{own_id}"), Some(&ana), Some(&json!({"title": "Despedida"}))).await?;
        assert_eq!(changed.status, 200, "{}", changed.text);
        assert_eq!(changed.body["title"], "Despedida");
        let removed = app.call(Method::DELETE, &format!("/api/v1/canned-responses/{own_id}"), Some(&ana), None).await?;
        assert_eq!(removed.status, 204, "{}", removed.text);
        assert_eq!(items(&app.get("/api/v1/canned-responses", &ana).await?.body).len(), 1);
        Ok(())
    }
}
