//! The web chat API the widget uses: anonymous visitor tokens that reach
//! only their own conversation, CORS for other sites, and the script itself.
//! The widget in a browser is tested in tests/browser/webchat.rs.

use serde_json::{Value, json};
use ventanilla_tests::{TestApp, on_both, spawn_app};

// A visitor's token reaches only their own conversation.
on_both! {
    async fn visitors_see_only_their_own_conversation(backend) {
    let app = spawn_app(backend).await?;
    app.create_unit("admisiones").await?;
    let start = |app: &TestApp| {
        let request = app.client.post(app.url("/api/v1/webchat/sessions")).json(&json!({"unit": "admisiones"})).send();
        async move { anyhow::Ok(request.await?.json::<Value>().await?["token"].as_str().unwrap_or_default().to_owned()) }
    };
    let (ana, luis) = (start(&app).await?, start(&app).await?);
    let say = |token: &str, body: &str| {
        app.client.post(app.url("/api/v1/webchat/messages")).bearer_auth(token).json(&json!({"body": body})).send()
    };
    anyhow::ensure!(say(&ana, "Soy Ana").await?.status() == 201);
    anyhow::ensure!(say(&luis, "Soy Luis").await?.status() == 201);
    let read = |token: &str| app.client.get(app.url("/api/v1/webchat/conversation")).bearer_auth(token).send();
    let seen: Value = read(&luis).await?.json().await?;
    let bodies: Vec<&str> = seen["messages"].as_array().into_iter().flatten().filter_map(|m| m["body"].as_str()).collect();
    anyhow::ensure!(bodies == ["Soy Luis"], "{seen}");
    anyhow::ensure!(seen["answering"]["kind"] == "queue", "no bot: waiting for a person: {seen}");
    // No token, a forged one, or a staff token: refused.
    anyhow::ensure!(app.client.get(app.url("/api/v1/webchat/conversation")).send().await?.status() == 401);
        // Tokens in the address are taken only by the event stream.
        let in_url = app.client.get(app.url(&format!("/api/v1/webchat/conversation?token={ana}"))).send().await?;
        anyhow::ensure!(in_url.status() == 401, "{}", in_url.status());
    anyhow::ensure!(read(&format!("{ana}x")).await?.status() == 401);
    anyhow::ensure!(read(&app.admin_token).await?.status() == 401);
    // And a visitor's token is no staff token.
    let staff = app.client.get(app.url("/api/v1/cases")).bearer_auth(&ana).send().await?;
    anyhow::ensure!(staff.status() == 401, "{}", staff.status());
    // Preflight from another site.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/webchat/messages"))
        .header("origin", "https://www.universidad.edu.co")
        .header("access-control-request-method", "POST")
        .send()
        .await?;
    anyhow::ensure!(preflight.status() == 204, "{}", preflight.status());
    anyhow::ensure!(preflight.headers().get("access-control-allow-origin").is_some_and(|v| v == "*"));
    // Bad input names the field.
    let empty = say(&ana, "   ").await?;
    anyhow::ensure!(empty.status() == 422, "{}", empty.status());
    let unknown = app.client.post(app.url("/api/v1/webchat/sessions")).json(&json!({"unit": "no-existe"})).send().await?;
    anyhow::ensure!(unknown.status() == 404);
    // The widget script is served to any site.
    let script = app.client.get(app.url("/widget.js")).send().await?;
    anyhow::ensure!(script.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or_default().starts_with("text/javascript")));
    let text = script.text().await?;
    anyhow::ensure!(text.contains("Abrir el chat") && text.contains("Open the chat") && !text.contains("__STRINGS__"));
    Ok(())
}
}

// The visitor is told when a person takes over, by name and unit.
on_both! {
    async fn the_visitor_is_told_who_takes_over(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (agent, _) = app.create_member("laura@uni.edu.co", &unit, "agent").await?;
        let session: Value = app.client.post(app.url("/api/v1/webchat/sessions"))
            .json(&json!({"unit": "admisiones"})).send().await?.json().await?;
        let token = session["token"].as_str().unwrap_or_default().to_owned();
        let sent = app.client.post(app.url("/api/v1/webchat/messages")).bearer_auth(&token)
            .json(&json!({"body": "Hola, necesito ayuda"})).send().await?;
        anyhow::ensure!(sent.status() == 201);
        let case = app.only_case().await?;
        let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap_or_default());
        let notices = || async {
            let seen: Value = app.client.get(app.url("/api/v1/webchat/conversation")).bearer_auth(&token).send().await?.json().await?;
            let texts: Vec<String> = seen["messages"].as_array().into_iter().flatten()
                .filter(|m| m["from"] == "system")
                .filter_map(|m| m["body"].as_str().map(str::to_owned))
                .collect();
            anyhow::Ok(texts)
        };
        for _ in 0..2 {
            let assigned = app.patch(&path, &app.admin_token, json!({"assignee_id": agent})).await?;
            anyhow::ensure!(assigned.status == 200, "{}", assigned.text);
        }
        let told = notices().await?;
        anyhow::ensure!(told == ["Ahora te atiende laura@uni.edu.co, de admisiones."], "once, by name and unit: {told:?}");
        Ok(())
    }
}

// A unit that asks for the authorisation to process data: the widget is
// told to ask before the first message, which must carry the answer.
on_both! {
    async fn the_web_chat_asks_for_consent_before_the_first_message(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("bienestar").await?;
        app.post_ok("/api/v1/consent-texts", &app.admin_token,
            json!({"purpose": "data_processing", "text": "Autorizo el tratamiento de mis datos.", "policy_url": "https://uni.edu.co/datos"}), 201).await?;
        let set = app.patch(&format!("/api/v1/units/{unit}"), &app.admin_token, json!({"privacy": {"ask_consent": true}})).await?;
        anyhow::ensure!(set.status == 200, "{}", set.text);
        let session: Value = app.client.post(app.url("/api/v1/webchat/sessions")).json(&json!({"unit": "bienestar"})).send().await?.json().await?;
        let token = session["token"].as_str().unwrap_or_default().to_owned();
        let read = || async {
            anyhow::Ok(app.client.get(app.url("/api/v1/webchat/conversation")).bearer_auth(&token).send().await?.json::<Value>().await?)
        };
        let seen = read().await?;
        anyhow::ensure!(seen["consent"]["version"] == 1 && seen["consent"]["policy_url"] == "https://uni.edu.co/datos", "{seen}");
        let say = |body: Value| app.client.post(app.url("/api/v1/webchat/messages")).bearer_auth(&token).json(&body).send();

        // Without the answer: refused, naming the field, and nothing kept.
        let refused = say(json!({"body": "Hola, me siento mal"})).await?;
        anyhow::ensure!(refused.status() == 422, "{}", refused.status());
        anyhow::ensure!(refused.text().await?.contains("\"consent\""));
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().is_some_and(Vec::is_empty), "{}", cases.text);
        let unknown = say(json!({"body": "Hola", "consent": {"action": "grant", "version": 9}})).await?;
        anyhow::ensure!(unknown.status() == 422 && unknown.text().await?.contains("consent.version"));

        // A "no" is an answer too: recorded, and the conversation goes on.
        let sent = say(json!({"body": "Hola, me siento mal", "consent": {"action": "revoke", "version": 1}})).await?;
        anyhow::ensure!(sent.status() == 201, "{}", sent.status());
        let case = app.only_case().await?;
        let contact = case["contact_id"].as_str().unwrap_or_default();
        let records = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        let items = records.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.len() == 1 && items[0]["action"] == "revoke" && items[0]["text_version"] == "v1"
            && items[0]["source"] == "web_chat" && items[0]["channel"] == "webchat", "{}", records.text);
        anyhow::ensure!(read().await?["consent"].is_null(), "answered: not asked again");
        anyhow::ensure!(say(json!({"body": "¿Sigue ahí?"})).await?.status() == 201);
        Ok(())
    }
}
