//! The web form connector, loaded by the real host: the form served
//! sandboxed, with the consent text admins wrote; form and JSON posts
//! checked field by field; the trap field; the per-address limit; the
//! consent answer recorded against the version shown; answers by e-mail.

use serde_json::{Value, json};
use ventanilla_tests::mail::FakeSmtp;
use ventanilla_tests::{Backend, Reply, TestApp, eventually, install_plugin, on_both, set_secret, spawn_app_with};

const SMTP_PASSWORD: &str = "smtp-app-password";

pub(crate) struct Form {
    pub(crate) app: TestApp,
    smtp: FakeSmtp,
    install: String,
    unit: String,
}

pub(crate) async fn form(backend: Backend) -> anyhow::Result<Form> {
    let smtp = FakeSmtp::start(SMTP_PASSWORD).await?;
    let port = smtp.port;
    let app = spawn_app_with(backend, |c| c.plugins.private_hosts = vec![format!("localhost:{port}")]).await?;
    let unit = app.create_unit("atencion").await?;
    app.post_ok(
        "/api/v1/consent-texts",
        &app.admin_token,
        json!({"purpose": "data_processing", "locale": "es", "policy_url": "https://uni.edu.co/datos",
               "text": "Autorizo a la Universidad a tratar mis datos según la Ley 1581 de 2012."}),
        201,
    )
    .await?;
    let settings = json!({"address": "atencion@uni.edu.co", "display_name": "Atención UNI", "title": "Contáctanos",
        "subjects": ["Pagos", "Certificados"],
        "smtp": {"host": "localhost", "port": port, "security": "none", "user": "atencion@uni.edu.co"}});
    let grants = json!({"mail_hosts": ["localhost"], "secrets": ["smtp_password"]});
    let install = install_plugin(&app, "web-form", settings, grants, &[unit.as_str()]).await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    set_secret(&app, &install, "smtp_password", SMTP_PASSWORD).await?;
    Ok(Form { app, smtp, install, unit })
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl Form {
    fn url(&self, query: &str) -> String {
        self.app.url(&format!("/api/v1/webhooks/{}{query}", self.install))
    }

    pub(crate) async fn post_form(&self, fields: &[(&str, &str)]) -> anyhow::Result<Reply> {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let request = self
            .app
            .client
            .post(self.url(""))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        TestApp::reply(request.send().await?).await
    }

    async fn post_json(&self, body: Value) -> anyhow::Result<Reply> {
        TestApp::reply(self.app.client.post(self.url("")).json(&body).send().await?).await
    }

    pub(crate) async fn cases(&self) -> anyhow::Result<Vec<Value>> {
        Ok(self.app.get("/api/v1/cases", &self.app.admin_token).await?.body["items"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

pub(crate) const MARIA: [(&str, &str); 8] = [
    ("name", "María Pérez"),
    ("email", "Maria@Example.com"),
    ("phone", "+57 300 123 4567"),
    ("subject", "Certificados"),
    ("message", "Necesito un certificado de notas."),
    ("consent", "yes"),
    ("consent_version", "1"),
    ("website", ""),
];

on_both! {
    async fn a_form_becomes_a_case_answered_by_email(backend) {
        let f = form(backend).await?;
        let page = f.app.client.get(f.url("")).send().await?;
        assert_eq!(page.status(), 200);
        let csp = page.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(csp.contains("sandbox allow-forms") && csp.contains("default-src 'none'"), "served sandboxed: {csp}");
        let html = page.text().await?;
        assert!(html.contains("<h1>Contáctanos</h1>"), "{html}");
        assert!(html.contains("Ley 1581 de 2012") && html.contains("https://uni.edu.co/datos"), "the admins' consent text");
        assert!(html.contains("name=\"consent_version\" value=\"1\"") && html.contains("name=\"website\""), "{html}");
        assert!(!html.contains("<script"), "no scripts");
        let english = f.app.client.get(f.url("?lang=en")).send().await?.text().await?;
        assert!(english.contains("Full name") && english.contains("lang=\"en\""), "{english}");

        // Without consent, nothing is kept and the form says why, keeping what was typed.
        let mut without: Vec<(&str, &str)> = MARIA.to_vec();
        without.retain(|(k, _)| *k != "consent");
        let refused = f.post_form(&without).await?;
        assert_eq!(refused.status, 422);
        assert!(refused.text.contains("necesitamos tu autorización") && refused.text.contains("Necesito un certificado"), "{}", refused.text);
        // A robot fills the trap field: thanked, nothing kept.
        let mut robot: Vec<(&str, &str)> = MARIA.to_vec();
        robot.retain(|(k, _)| *k != "website");
        robot.push(("website", "http://spam.example"));
        let trapped = f.post_form(&robot).await?;
        assert_eq!(trapped.status, 200);
        assert!(f.cases().await?.is_empty(), "nothing from refused or trapped posts");

        let taken = f.post_form(&MARIA).await?;
        assert_eq!(taken.status, 200);
        assert!(taken.text.contains("Recibimos tu mensaje") && taken.text.contains("Maria@Example.com"), "{}", taken.text);
        assert_eq!(f.post_form(&MARIA).await?.status, 200, "a double submission");
        let cases = f.cases().await?;
        assert_eq!(cases.len(), 1, "{cases:?}");
        let case = &cases[0];
        assert_eq!(case["channel"], "webform");
        assert_eq!(case["subject"], "Certificados");
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let messages = f.app.messages(&case_id).await?;
        assert_eq!(messages.len(), 1, "stored once: {messages:?}");
        let body = messages[0]["body"].as_str().unwrap_or_default();
        assert!(body.contains("Necesito un certificado") && body.contains("+57 300 123 4567"), "{body}");
        let contact_id = case["contact_id"].as_str().unwrap_or_default();
        let contact = f.app.get(&format!("/api/v1/contacts/{contact_id}"), &f.app.admin_token).await?;
        assert_eq!(contact.body["name"], "María Pérez");
        assert!(contact.text.contains("maria@example.com"), "known by her address: {}", contact.text);
        let consents = f.app.get(&format!("/api/v1/contacts/{contact_id}/consents"), &f.app.admin_token).await?;
        let record = consents.body["items"][0].clone();
        assert_eq!((record["action"].as_str(), record["text_version"].as_str()), (Some("grant"), Some("v1")), "{}", consents.text);
        assert_eq!((record["source"].as_str(), record["channel"].as_str()), (Some("web_form"), Some("webform")));

        // The JSON endpoint: a body past the webhook limit is refused unread,
        // field errors come as problem+json, then it is taken.
        let huge = f.post_json(json!({"message": "x".repeat(2 * 1024 * 1024)})).await?;
        assert_eq!(huge.status, 413, "only raw e-mail gets the larger limit");
        let bad = f.post_json(json!({"email": "no", "message": ""})).await?;
        assert_eq!(bad.status, 422);
        let fields: Vec<&str> = bad.body["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["name", "email", "message", "consent"], "{}", bad.text);
        let ok = f.post_json(json!({"name": "Pedro", "email": "pedro@example.com", "message": "¿Horarios?",
            "consent": true, "consent_version": 1})).await?;
        assert_eq!((ok.status.as_u16(), ok.body["status"].as_str()), (202, Some("received")), "{}", ok.text);
        assert_eq!(f.cases().await?.len(), 2);

        // The answer goes by e-mail, with the case token.
        f.app.post_ok(&format!("/api/v1/cases/{case_id}/messages"), &f.app.admin_token,
            json!({"body": "Hola María, ya está listo."}), 201).await?;
        let sent = eventually(std::time::Duration::from_secs(30), || async { f.smtp.submitted().first().cloned() }).await;
        let Some(sent) = sent else { anyhow::bail!("no e-mail was submitted") };
        assert_eq!(sent.recipients, ["maria@example.com"]);
        let number = case["number"].as_i64().unwrap_or_default();
        assert!(sent.data.contains(&format!("Subject: Certificados [#{number}]")), "{}", sent.data);
        assert!(sent.data.contains("ya est"), "{}", sent.data);

        // María answers that e-mail; the mailbox it reaches is read by an
        // `email` account, and her answer joins the form's case.
        let port = f.smtp.port;
        let settings = json!({"address": "atencion@uni.edu.co", "smtp": {"host": "localhost", "port": port, "security": "none", "user": "atencion@uni.edu.co"}});
        let grants = json!({"mail_hosts": ["localhost"], "secrets": ["smtp_password", "webhook_token"]});
        let mailbox = install_plugin(&f.app, "email", settings, grants, &[f.unit.as_str()]).await?;
        let mailbox = mailbox["id"].as_str().unwrap_or_default().to_owned();
        set_secret(&f.app, &mailbox, "webhook_token", "buzon-token").await?;
        // Its SMTP server asks for no password: the admin turns it on without one.
        let on = f.app.patch(&format!("/api/v1/plugin-installs/{mailbox}"), &f.app.admin_token, json!({"enabled": true})).await?;
        assert_eq!(on.status, 200, "{}", on.text);
        let mail = |from: &str, id: &str, text: &str| {
            format!("From: {from}\r\nTo: atencion@uni.edu.co\r\nSubject: Re: Certificados [#{number}]\r\nMessage-ID: <{id}>\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")
        };
        let headers = [("authorization", "Bearer buzon-token"), ("content-type", "message/rfc822")];
        let reply = f.app.webhook(&mailbox, &mail("María <maria@example.com>", "r1@example.com", "Gracias, ¿lo recojo el lunes?"), &headers).await?;
        assert_eq!(reply.status, 202, "{}", reply.text);
        let messages = f.app.get(&format!("/api/v1/cases/{case_id}/messages"), &f.app.admin_token).await?;
        assert!(messages.text.contains("lo recojo el lunes"), "{}", messages.text);
        assert_eq!(f.cases().await?.len(), 2);
        // Someone else quoting the token starts a case of their own.
        let other = f.app.webhook(&mailbox, &mail("pedro@example.com", "r2@example.com", "¿Y el mío?"), &headers).await?;
        assert_eq!(other.status, 202, "{}", other.text);
        assert_eq!(f.cases().await?.len(), 3);
        Ok(())
    }

    async fn one_address_may_post_only_so_often(backend) {
        let f = form(backend).await?;
        for n in 0..20 {
            let reply = f.post_json(json!({"name": "x"})).await?;
            assert_eq!(reply.status, 422, "post {n}: {}", reply.text);
        }
        let limited = f.post_json(json!({"name": "x"})).await?;
        assert_eq!(limited.status, 429, "{}", limited.text);
        assert_eq!(f.app.client.get(f.url("")).send().await?.status(), 200, "the form itself still shows");
        Ok(())
    }
}
