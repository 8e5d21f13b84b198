//! Audiences: people brought in from the institution's own systems by
//! external id, one by one or a file at a time, each with the consent they
//! gave and where it came from; a person's later "no" is never undone by
//! an older file.

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla_tests::{TestApp, on_both, spawn_app};

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> anyhow::Result<ventanilla_tests::Reply> {
    app.call(Method::PUT, path, Some(token), Some(&body)).await
}

async fn import(app: &TestApp, query: &str, csv: &str) -> anyhow::Result<ventanilla_tests::Reply> {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/contacts/import?{query}")))
        .bearer_auth(&app.admin_token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_owned())
        .send()
        .await?;
    TestApp::reply(response).await
}

async fn consents(app: &TestApp, contact: &str) -> anyhow::Result<Vec<Value>> {
    let reply = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
    Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
}

fn outcomes(reply: &Value) -> Vec<String> {
    reply["consents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["outcome"].as_str().map(str::to_owned))
        .collect()
}

on_both! {
    async fn an_institution_keeps_its_people_up_to_date_by_external_id(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, agent) = app.create_member("agente@uni.edu.co", &unit, "agent").await?;
        // She wrote in on WhatsApp before the admissions file arrived.
        let known = app.post_ok("/api/v1/contacts", &app.admin_token,
            json!({"identities": [{"channel": "whatsapp", "value": "+57 300 111 2233"}]}), 201).await?;
        let known_id = known["id"].as_str().unwrap_or_default().to_owned();

        let march = "2026-03-01T15:00:00Z";
        let ana = json!({
            "name": "Ana Ruiz",
            "identities": [{"channel": "sms", "value": "+573001112233"}],
            "custom_attributes": {"program": "Medicina", "cohort": "2027-1"},
            "consents": [{"purpose": "broadcasts", "action": "grant", "text_version": "v1", "channel": "webform",
                          "source": "web_form", "reference": "https://uni.edu.co/inscripcion", "given_at": march}],
        });
        let first = put(&app, "/api/v1/contacts/external/2027-0042", &app.admin_token, ana.clone()).await?;
        assert_eq!(first.status, 200, "the person who wrote in is found by her number: {}", first.text);
        assert_eq!(first.body["created"], false);
        assert_eq!(first.body["contact"]["id"], known_id.as_str());
        assert_eq!(first.body["contact"]["external_id"], "2027-0042");
        assert_eq!(first.body["contact"]["custom_attributes"]["program"], "Medicina");
        assert_eq!(outcomes(&first.body), ["recorded"]);
        let channels: Vec<&str> = first.body["contact"]["identities"].as_array().into_iter().flatten()
            .filter_map(|i| i["channel"].as_str()).collect();
        assert_eq!(channels, ["whatsapp", "sms"], "the SMS identity joins the WhatsApp one: same number");

        // The same call again changes nothing and records nothing.
        let again = put(&app, "/api/v1/contacts/external/2027-0042", &app.admin_token, ana.clone()).await?;
        assert_eq!((again.status.as_u16(), outcomes(&again.body)), (200, vec!["already_so".to_owned()]), "{}", again.text);
        assert_eq!(consents(&app, &known_id).await?.len(), 1);
        let found = app.get("/api/v1/contacts/external/2027-0042", &app.admin_token).await?;
        assert_eq!(found.body["id"], known_id.as_str());
        let records = consents(&app, &known_id).await?;
        assert_eq!((records[0]["reference"].as_str(), records[0]["source"].as_str()),
            (Some("https://uni.edu.co/inscripcion"), Some("web_form")));

        // A number is never moved from one person to another.
        let taken = put(&app, "/api/v1/contacts/external/2027-0099", &app.admin_token,
            json!({"identities": [{"channel": "whatsapp", "value": "+57 300 111 2233"}]})).await?;
        assert_eq!(taken.status, 409, "{}", taken.text);
        assert!(taken.text.contains("2027-0042"), "names who holds it by external id: {}", taken.text);
        let created = put(&app, "/api/v1/contacts/external/2027-0100", &app.admin_token,
            json!({"name": "Luis Mora", "identities": [{"channel": "email", "value": "Luis@Uni.edu.co"}]})).await?;
        assert_eq!((created.status.as_u16(), created.body["created"].as_bool()), (201, Some(true)), "{}", created.text);

        // She says no in April; the March form sent again does not undo it.
        app.post_ok(&format!("/api/v1/contacts/{known_id}/consents"), &app.admin_token,
            json!({"purpose": "broadcasts", "action": "revoke", "text_version": "v1", "channel": "whatsapp", "source": "phone"}), 201).await?;
        let stale = put(&app, "/api/v1/contacts/external/2027-0042", &app.admin_token, ana).await?;
        assert_eq!(outcomes(&stale.body), ["later_answer_stands"], "{}", stale.text);
        let records = consents(&app, &known_id).await?;
        assert_eq!(records.last().and_then(|r| r["action"].as_str()), Some("revoke"), "{records:?}");

        // Who may: admins and tokens that write contacts; every field is checked.
        let bad = put(&app, "/api/v1/contacts/external/2027-0042", &agent, json!({})).await?;
        assert_eq!(bad.status, 403);
        let reader = app.create_token(&["contacts:read"]).await?;
        assert_eq!(put(&app, "/api/v1/contacts/external/2027-0042", &reader, json!({})).await?.status, 403);
        assert_eq!(app.get("/api/v1/contacts/external/2027-0042", &reader).await?.status, 200);
        let writer = app.create_token(&["contacts:write"]).await?;
        assert_eq!(put(&app, "/api/v1/contacts/external/2027-0042", &writer, json!({})).await?.status, 200);
        let invalid = put(&app, &format!("/api/v1/contacts/external/{}", "9".repeat(129)), &writer,
            json!({"consents": [{"purpose": "Bad Purpose", "action": "grant", "text_version": "v1", "channel": "api",
                                 "given_at": "2099-01-01T00:00:00Z"}]})).await?;
        assert_eq!(invalid.status, 422, "{}", invalid.text);
        for field in ["external_id", "consents[0].purpose", "consents[0].given_at"] {
            assert!(invalid.text.contains(&format!("\"{field}\"")), "{field} is named: {}", invalid.text);
        }

        // A merge takes the institution's id to the person kept.
        let other = app.post_ok("/api/v1/contacts", &app.admin_token, json!({"name": "Ana R."}), 201).await?;
        let other_id = other["id"].as_str().unwrap_or_default();
        app.post_ok(&format!("/api/v1/contacts/{other_id}/merge"), &app.admin_token,
            json!({"source_contact_id": known_id}), 200).await?;
        let found = app.get("/api/v1/contacts/external/2027-0042", &app.admin_token).await?;
        assert_eq!((found.body["id"].as_str(), found.body["external_id"].as_str()), (Some(other_id), Some("2027-0042")));
        Ok(())
    }

    async fn a_file_of_people_is_imported_row_by_row_with_their_consent(backend) {
        let app = spawn_app(backend).await?;
        // A spreadsheet saved in a Spanish locale: a byte-order mark, `;`,
        // headers with accents and capitals, a number kept as text with `'`.
        let csv = "\u{feff}External_ID;Nombre;WhatsApp;Email;Programa Académico;Consent.Broadcasts;Consent_Date\n\
            2027-0001;Ana Ruiz;+57 300 111 2233;;Medicina;sí;2026-03-01\n\
            2027-0002;Luis Mora;;luis@uni.edu.co;Derecho;no;2026-03-02\n\
            2027-0003;Sin Número;no-es-un-número;;Derecho;;\n\
            2027-0004;Copia de Ana;+573001112233;;Medicina;sí;2026-03-01\n\
            ;Sin id;;x@uni.edu.co;;;\n\
            2027-0006;Eva Paz;'+57 301 000 0006;;Enfermería;1;2026-03-05\n";
        let bad_headers = import(&app, "text_version=v1", "nombre;telefono\nAna;1\n").await?;
        assert_eq!(bad_headers.status, 422, "{}", bad_headers.text);
        assert!(bad_headers.text.contains("external_id"), "{}", bad_headers.text);
        let no_version = import(&app, "file_name=admisiones.csv", csv).await?;
        assert_eq!(no_version.status, 422, "{}", no_version.text);
        assert!(no_version.text.contains("\"text_version\""), "{}", no_version.text);

        // A dry run says what would happen and keeps nothing.
        let query = "file_name=admisiones-2027.csv&text_version=v3";
        let dry = import(&app, &format!("{query}&dry_run=true"), csv).await?;
        assert_eq!(dry.status, 200, "{}", dry.text);
        assert_eq!((dry.body["rows"].as_u64(), dry.body["created"].as_u64()), (Some(6), Some(3)), "{}", dry.text);
        assert_eq!(app.get("/api/v1/contacts/external/2027-0001", &app.admin_token).await?.status, 404);

        let done = import(&app, query, csv).await?;
        assert_eq!(done.status, 200, "{}", done.text);
        let body = &done.body;
        assert_eq!((body["created"].as_u64(), body["consents_recorded"].as_u64()), (Some(3), Some(3)), "{}", done.text);
        assert_eq!(body["attributes"], json!(["programa_academico"]));
        let errors: Vec<(u64, String)> = body["errors"].as_array().into_iter().flatten()
            .map(|e| (e["line"].as_u64().unwrap_or(0), e["field"].as_str().unwrap_or_default().to_owned())).collect();
        assert_eq!(errors, [(4, "whatsapp".to_owned()), (5, "whatsapp".to_owned()), (6, "external_id".to_owned())], "{}", done.text);

        let ana = app.get("/api/v1/contacts/external/2027-0001", &app.admin_token).await?.body;
        assert_eq!((ana["name"].as_str(), ana["custom_attributes"]["programa_academico"].as_str()), (Some("Ana Ruiz"), Some("Medicina")));
        let eva = app.get("/api/v1/contacts/external/2027-0006", &app.admin_token).await?.body;
        assert_eq!(eva["identities"][0]["value"], "+573010000006", "the exported-cell quote is not part of the number");
        let records = consents(&app, ana["id"].as_str().unwrap_or_default()).await?;
        assert_eq!(records.len(), 1, "{records:?}");
        let record = &records[0];
        assert_eq!((record["action"].as_str(), record["source"].as_str(), record["reference"].as_str(), record["text_version"].as_str()),
            (Some("grant"), Some("import"), Some("admisiones-2027.csv"), Some("v3")));
        assert!(record["given_at"].as_str().unwrap_or_default().starts_with("2026-03-01"), "{record}");
        let luis = app.get("/api/v1/contacts/external/2027-0002", &app.admin_token).await?.body;
        let records = consents(&app, luis["id"].as_str().unwrap_or_default()).await?;
        assert_eq!(records.first().and_then(|r| r["action"].as_str()), Some("revoke"), "a 'no' in the file is recorded too");

        // The same file again: nothing new.
        let again = import(&app, query, csv).await?.body;
        assert_eq!((again["created"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(0), Some(3)), "{again}");
        assert_eq!((again["consents_recorded"].as_u64(), again["consents_kept"].as_u64()), (Some(0), Some(3)));

        // The same columns as JSON objects, for systems that speak JSON.
        let rows = json!([{"external_id": "2027-0100", "whatsapp": "+57 302 000 0100", "cohorte": 2027},
                          {"external_id": "2027-0101", "cohorte": {"año": 2027}}]);
        let from_json = app.post("/api/v1/contacts/import?text_version=v3", &app.admin_token, rows).await?;
        assert_eq!((from_json.status.as_u16(), from_json.body["created"].as_u64()), (200, Some(1)), "{}", from_json.text);
        assert_eq!(from_json.body["errors"][0]["line"], 2, "{}", from_json.text);
        assert_eq!(from_json.body["errors"][0]["field"], "cohorte");
        let cohort = app.get("/api/v1/contacts/external/2027-0100", &app.admin_token).await?.body;
        assert_eq!(cohort["custom_attributes"]["cohorte"], "2027");
        let plain = app.client.post(app.url("/api/v1/contacts/import")).bearer_auth(&app.admin_token)
            .header("content-type", "text/plain").body("external_id\n1\n").send().await?;
        assert_eq!(plain.status(), 400);
        Ok(())
    }
}
