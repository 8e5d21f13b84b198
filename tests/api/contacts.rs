//! Contacts: identities, consent history and merges.

use serde_json::json;
use ventanilla_tests::{on_both, spawn_app};

on_both! {
    async fn identities_are_unique_and_normalised(backend) {
        let app = spawn_app(backend).await?;
        let first = app.post_ok("/api/v1/contacts", &app.admin_token,
            json!({"name": "Ana", "identities": [{"channel": "email", "value": "Ana@Correo.TEST"}, {"channel": "sms", "value": "+57 (300) 555-0101"}]}), 201).await?;
        anyhow::ensure!(first["identities"][0]["value"] == "ana@correo.test" && first["identities"][1]["value"] == "+573005550101", "{first}");
        let clash = app.post("/api/v1/contacts", &app.admin_token, json!({"identities": [{"channel": "email", "value": "ana@correo.test"}]})).await?;
        anyhow::ensure!(clash.status == 409 && clash.body["errors"][0]["field"] == "identities[0].value", "{}", clash.text);
        let found = app.get("/api/v1/contacts?q=555-0101", &app.admin_token).await?;
        anyhow::ensure!(found.body["items"].as_array().map_or(0, Vec::len) == 0, "search is on stored text");
        let found = app.get("/api/v1/contacts?q=3005550101", &app.admin_token).await?;
        anyhow::ensure!(found.body["items"][0]["id"] == first["id"], "{}", found.text);
        Ok(())
    }

    async fn consent_is_a_history(backend) {
        let app = spawn_app(backend).await?;
        let contact = app.post_ok("/api/v1/contacts", &app.admin_token, json!({"name": "Ana"}), 201).await?;
        let path = format!("/api/v1/contacts/{}/consents", contact["id"].as_str().unwrap_or_default());
        for action in ["grant", "revoke"] {
            app.post_ok(&path, &app.admin_token,
                json!({"purpose": "data_processing", "action": action, "text_version": "2026-01", "channel": "webchat", "source": "bot"}), 201).await?;
        }
        let history = app.get(&path, &app.admin_token).await?;
        let actions: Vec<_> = history.body["items"].as_array().into_iter().flatten().map(|r| r["action"].clone()).collect();
        anyhow::ensure!(actions == [json!("grant"), json!("revoke")], "{}", history.text);
        anyhow::ensure!(history.body["items"][1]["source"] == "bot" && history.body["items"][0]["text_version"] == "2026-01");

        // Staff write down one given by phone earlier: who, when, which text, how.
        let unit = app.create_unit("u").await?;
        let (agent_id, agent) = app.create_member("agente@uni.edu.co", &unit, "agent").await?;
        let case = app.post_ok("/api/v1/cases", &app.admin_token,
            json!({"subject": "Llamada", "channel": "phone", "unit_id": unit, "contact_id": contact["id"]}), 201).await?;
        anyhow::ensure!(case["contact_id"] == contact["id"]);
        let called = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
        let phoned = app.post_ok(&path, &agent, json!({"purpose": "data_processing", "action": "grant", "text_version": "v1",
            "channel": "phone", "source": "phone", "given_at": called}), 201).await?;
        anyhow::ensure!(phoned["recorded_by"] == json!(agent_id) && phoned["source"] == "phone" && phoned["given_at"].is_string(), "{phoned}");
        let future = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
        let bad = app.post(&path, &agent, json!({"purpose": "data_processing", "action": "grant", "text_version": "v1",
            "channel": "phone", "source": "phone", "given_at": future})).await?;
        anyhow::ensure!(bad.status == 422 && bad.body["errors"][0]["field"] == "given_at", "{}", bad.text);
        let audit = app.get("/api/v1/audit-events?action=consent.granted", &app.admin_token).await?;
        anyhow::ensure!(audit.text.contains("\"phone\""), "{}", audit.text);
        Ok(())
    }

    async fn merge_moves_everything_and_keeps_history(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("u").await?;
        let a = app.create_case(&app.admin_token, &unit, "Por WhatsApp").await?;
        let b = app.post_ok("/api/v1/cases", &app.admin_token, json!({"subject": "Por correo", "channel": "email", "unit_id": unit,
            "contact": {"name": "Ana Correo", "identities": [{"channel": "email", "value": "ana@correo.test"}]}}), 201).await?;
        let target = a["contact_id"].as_str().unwrap_or_default().to_owned();
        let source = b["contact_id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/contacts/{source}/consents"), &app.admin_token,
            json!({"purpose": "broadcasts", "action": "grant", "text_version": "v1", "channel": "email"}), 201).await?;
        let merged = app.post_ok(&format!("/api/v1/contacts/{target}/merge"), &app.admin_token, json!({"source_contact_id": source}), 200).await?;
        anyhow::ensure!(merged["identities"].as_array().map_or(0, Vec::len) == 2, "identities moved: {merged}");
        let cases = app.get(&format!("/api/v1/cases?contact_id={target}"), &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().map_or(0, Vec::len) == 2, "cases moved");
        let consents = app.get(&format!("/api/v1/contacts/{target}/consents"), &app.admin_token).await?;
        anyhow::ensure!(consents.body["items"][0]["purpose"] == "broadcasts", "consents moved");
        let old = app.get(&format!("/api/v1/contacts/{source}"), &app.admin_token).await?;
        anyhow::ensure!(old.body["merged_into"] == json!(target), "the source remains as history");
        let again = app.post(&format!("/api/v1/contacts/{target}/merge"), &app.admin_token, json!({"source_contact_id": source})).await?;
        anyhow::ensure!(again.status == 409, "{}", again.text);
        let onto_merged = app.post("/api/v1/cases", &app.admin_token,
            json!({"subject": "x", "channel": "email", "unit_id": unit, "contact_id": source})).await?;
        anyhow::ensure!(onto_merged.status == 409 && onto_merged.body["errors"][0]["field"] == "contact_id", "{}", onto_merged.text);
        let events = app.get("/api/v1/audit-events?action=contact.merged", &app.admin_token).await?;
        anyhow::ensure!(events.body["items"][0]["details"]["source_contact_id"] == json!(source), "{}", events.text);
        Ok(())
    }
}
