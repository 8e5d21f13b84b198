//! Consent texts versioned by admins, the current one readable by anyone,
//! and a person's answer recorded against the version they were shown.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{eventually, install_plugin, on_both, spawn_app};

on_both! {
    async fn consent_texts_are_versioned_and_answers_name_their_version(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, agent) = app.create_member("agente@uni.edu.co", &unit, "agent").await?;
        let text = |purpose: &str, locale: &str, body: &str| {
            json!({"purpose": purpose, "locale": locale, "text": body, "policy_url": "https://uni.edu.co/datos"})
        };
        let first = text("data_processing", "es", "Autorizo el tratamiento de mis datos personales.");

        // Only admins write them; every field is checked.
        assert_eq!(app.post("/api/v1/consent-texts", &agent, first.clone()).await?.status, 403);
        let bad = app
            .post("/api/v1/consent-texts", &app.admin_token,
                json!({"purpose": "Datos", "locale": "fr", "text": " ", "policy_url": "ftp://x"}))
            .await?;
        assert_eq!(bad.status, 422, "{}", bad.text);
        for field in ["purpose", "locale", "text", "policy_url"] {
            assert!(bad.text.contains(&format!("\"{field}\"")), "{field} is named: {}", bad.text);
        }

        let v1 = app.post_ok("/api/v1/consent-texts", &app.admin_token, first, 201).await?;
        assert_eq!((v1["version"].as_i64(), v1["label"].as_str()), (Some(1), Some("v1")));
        let current = |locale: &str| {
            let url = app.url(&format!("/api/v1/consent-texts/current?purpose=data_processing&locale={locale}"));
            let request = app.client.get(url).send();
            async move { anyhow::Ok(request.await?.json::<Value>().await?) }
        };
        assert_eq!(current("es").await?["label"], "v1", "anyone may read the current text");
        let v2 = app
            .post_ok("/api/v1/consent-texts", &app.admin_token,
                text("data_processing", "es", "Autorizo el tratamiento de mis datos según la Ley 1581."), 201)
            .await?;
        assert_eq!(v2["label"], "v2");
        assert_eq!(current("es").await?["label"], "v2");
        assert_eq!(current("en").await?["label"], "v2", "no English text yet: the newest in any language");
        app.post_ok("/api/v1/consent-texts", &app.admin_token,
            text("data_processing", "en", "I authorise the processing of my personal data."), 201).await?;
        assert_eq!(current("en").await?["label"], "v3");
        assert_eq!(current("es").await?["label"], "v2", "Spanish readers still see the Spanish text");
        let missing = app.client.get(app.url("/api/v1/consent-texts/current?purpose=surveys")).send().await?;
        assert_eq!(missing.status(), 404);
        let listed = app.get("/api/v1/consent-texts?purpose=data_processing", &agent).await?;
        let versions: Vec<i64> =
            listed.body["items"].as_array().into_iter().flatten().filter_map(|t| t["version"].as_i64()).collect();
        assert_eq!(versions, [3, 2, 1], "staff read every version, newest first");

        // A bot asks with the text in the person's language and its version;
        // the answer is recorded against that version.
        install_plugin(&app, "hostile-bot", json!({"mode": "consent"}), json!({}), &[]).await?;
        let session: Value = app.client.post(app.url("/api/v1/webchat/sessions"))
            .json(&json!({"unit": "admisiones"})).send().await?.json().await?;
        let token = session["token"].as_str().unwrap_or_default().to_owned();
        let say = |body: Value| app.client.post(app.url("/api/v1/webchat/messages")).bearer_auth(&token).json(&body).send();
        assert_eq!(say(json!({"body": "Hola"})).await?.status(), 201);
        let asked = eventually(Duration::from_secs(20), || async {
            let seen: Value = app.client.get(app.url("/api/v1/webchat/conversation")).bearer_auth(&token)
                .send().await.ok()?.json().await.ok()?;
            seen["messages"].as_array()?.iter().find(|m| m["options"].as_array().is_some_and(|o| !o.is_empty())).cloned()
        })
        .await;
        let Some(asked) = asked else { anyhow::bail!("the bot never asked") };
        assert!(asked["body"].as_str().unwrap_or_default().contains("Ley 1581"), "the Spanish text, v2: {asked}");
        assert!(asked["body"].as_str().unwrap_or_default().contains("https://uni.edu.co/datos"), "{asked}");
        let grant = asked["options"][0]["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(grant, "consent:grant:data_processing:v2");
        assert_eq!(say(json!({"body": "Sí, autorizo", "selected_option": grant})).await?.status(), 201);
        let case = app.only_case().await?;
        let contact = case["contact_id"].as_str().unwrap_or_default();
        let consents = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        let records = consents.body["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(records.len(), 1, "{}", consents.text);
        assert_eq!(records[0]["purpose"], "data_processing");
        assert_eq!(records[0]["action"], "grant");
        assert_eq!(records[0]["text_version"], "v2", "the version the person was shown");
        assert_eq!(records[0]["channel"], "webchat");
        assert_eq!(say(json!({"body": "No autorizo", "selected_option": "consent:revoke:data_processing"})).await?.status(), 201);
        let consents = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        let last = consents.body["items"].as_array().and_then(|r| r.last()).cloned().unwrap_or_default();
        assert_eq!(last["action"], "revoke", "the latest answer stands: {}", consents.text);
        Ok(())
    }
}
