//! The e-mail connector, loaded by the real host: raw RFC 822 messages
//! posted to its webhook (MIME decoded by the host, files kept at once),
//! threading by In-Reply-To and the case token, auto-replies dropped, and
//! answers submitted over SMTP to a local stand-in that checks the login
//! and records every message.

use serde_json::{Value, json};
use ventanilla_tests::mail::{FakeImap, FakeSmtp, Verdict};
use ventanilla_tests::{Backend, Reply, TestApp, eventually, install_plugin_with, on_both, set_secret, spawn_app_with};

const ADDRESS: &str = "ayuda@uni.edu.co";
const SMTP_PASSWORD: &str = "app-password-123";
pub(crate) const TOKEN: &str = "gateway-token-456";
const IMAP_PASSWORD: &str = "imap-app-password-789";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n";

pub(crate) struct Mail {
    pub(crate) app: TestApp,
    smtp: FakeSmtp,
    pub(crate) install: String,
    unit: String,
}

pub(crate) async fn mail(backend: Backend) -> anyhow::Result<Mail> {
    mail_reading(backend, None).await
}

/// An install that also reads `imap`'s mailbox, every second.
async fn mail_reading(backend: Backend, imap: Option<&FakeImap>) -> anyhow::Result<Mail> {
    mail_reading_over(backend, imap, "none", false).await
}

/// Like [`mail_reading`], reading over `security`; with `trust_test_ca`
/// the server trusts the test CA as an institution trusts its own.
async fn mail_reading_over(
    backend: Backend,
    imap: Option<&FakeImap>,
    security: &str,
    trust_test_ca: bool,
) -> anyhow::Result<Mail> {
    let smtp = FakeSmtp::start(SMTP_PASSWORD).await?;
    let port = smtp.port;
    let imap_port = imap.map(|i| i.port);
    let app = spawn_app_with(backend, |c| {
        c.plugins.private_hosts = vec![format!("localhost:{port}")];
        c.plugins.private_hosts.extend(imap_port.map(|p| format!("localhost:{p}")));
        c.channels.mail_poll_secs = 1;
        if trust_test_ca {
            c.plugins.trusted_ca_file =
                Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls/ca.pem"));
        }
    })
    .await?;
    let unit = app.create_unit("registro").await?;
    let mut settings = json!({"address": ADDRESS, "display_name": "Registro UNI",
        "smtp": {"host": "localhost", "port": port, "security": "none", "user": ADDRESS}});
    if let Some(p) = imap_port {
        settings["imap"] = json!({"host": "localhost", "port": p, "security": security, "user": ADDRESS});
    }
    let grants = json!({"mail_hosts": ["localhost"], "secrets": ["smtp_password", "webhook_token", "imap_password"]});
    let install = install_plugin_with(&app, "email", settings, grants, &[unit.as_str()], |m| m).await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    set_secret(&app, &install, "smtp_password", SMTP_PASSWORD).await?;
    set_secret(&app, &install, "webhook_token", TOKEN).await?;
    set_secret(&app, &install, "imap_password", IMAP_PASSWORD).await?;
    Ok(Mail { app, smtp, install, unit })
}

/// A message as a mail program writes it: HTML with a PDF attached.
fn first_mail(id: &str) -> String {
    format!(
        "From: =?utf-8?q?Mar=C3=ADa_P=C3=A9rez?= <Maria@Example.com>\r\n\
To: {ADDRESS}\r\n\
Subject: Certificado de notas\r\n\
Message-ID: <{id}>\r\n\
Date: Mon, 23 Nov 2026 10:00:00 -0500\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Buenos d&iacute;as, necesito mi <b>certificado de notas</b>.</p><script>robar()</script>\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"cedula.pdf\"\r\n\
Content-Disposition: attachment; filename=\"cedula.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{}\r\n\
--b1--\r\n",
        base64_of(PDF)
    )
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A plain-text message with extra header lines.
fn plain_mail(from: &str, id: &str, subject: &str, headers: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{headers}\
Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

impl Mail {
    async fn post(&self, raw: &str, token: Option<&str>) -> anyhow::Result<Reply> {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = match &bearer {
            Some(value) => vec![("authorization", value.as_str()), ("content-type", "message/rfc822")],
            None => vec![("content-type", "message/rfc822")],
        };
        self.app.webhook(&self.install, raw, &headers).await
    }

    async fn deliver(&self, raw: &str) -> anyhow::Result<()> {
        let reply = self.post(raw, Some(TOKEN)).await?;
        anyhow::ensure!(reply.status == 202, "{}: {}", reply.status, reply.text);
        Ok(())
    }

    async fn cases(&self) -> anyhow::Result<Vec<Value>> {
        let reply = self.app.get("/api/v1/cases", &self.app.admin_token).await?;
        Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
    }

    /// Waits for the `n`-th submission to the SMTP stand-in.
    async fn submitted(&self, n: usize) -> anyhow::Result<ventanilla_tests::mail::Submitted> {
        let found =
            eventually(std::time::Duration::from_secs(30), || async { self.smtp.submitted().get(n - 1).cloned() })
                .await;
        found.ok_or_else(|| anyhow::anyhow!("only {} messages submitted", self.smtp.submitted().len()))
    }

    async fn reply(&self, case: &str, body: &str) -> anyhow::Result<Value> {
        self.app
            .post_ok(&format!("/api/v1/cases/{case}/messages"), &self.app.admin_token, json!({"body": body}), 201)
            .await
    }

    async fn delivery(&self, case: &str, id: &str, state: &str) -> anyhow::Result<Value> {
        let found = eventually(std::time::Duration::from_secs(60), || async {
            self.app.messages(case).await.ok()?.into_iter().find(|m| m["id"] == id && m["delivery_status"] == state)
        })
        .await;
        match found {
            Some(m) => Ok(m),
            None => anyhow::bail!("message {id} never {state}: {:?}", self.app.messages(case).await?),
        }
    }
}

/// The line of a header in a written message.
fn header_line<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.lines().find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
}

on_both! {
    async fn an_email_becomes_a_case_and_the_answer_threads_back(backend) {
        let m = mail(backend).await?;
        // The caller must be the institution's mail gateway.
        assert_eq!(m.post(&first_mail("a1@example.com"), None).await?.status, 401);
        assert_eq!(m.post(&first_mail("a1@example.com"), Some("wrong")).await?.status, 401);
        assert_eq!(m.post("not a message at all", Some(TOKEN)).await?.status, 400);
        let as_text = m.app.webhook(&m.install, &first_mail("a0@example.com"),
            &[("authorization", &format!("Bearer {TOKEN}")), ("content-type", "text/plain")]).await?;
        assert_eq!(as_text.status, 400, "a message must say it is one: {}", as_text.text);
        assert!(m.cases().await?.is_empty(), "nothing stored from refused posts");

        m.deliver(&first_mail("a1@example.com")).await?;
        m.deliver(&first_mail("a1@example.com")).await?;
        let case = m.app.only_case().await?;
        assert_eq!(case["channel"], "email");
        assert_eq!(case["subject"], "Certificado de notas");
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let messages = m.app.messages(&case_id).await?;
        assert_eq!(messages.len(), 1, "a redelivered message is stored once: {messages:?}");
        let body = messages[0]["body"].as_str().unwrap_or_default();
        assert!(body.contains("certificado de notas") && !body.contains('<') && !body.contains("robar"), "{body}");
        let files = messages[0]["attachments"].as_array().cloned().unwrap_or_default();
        assert_eq!(files.len(), 1, "{messages:?}");
        assert_eq!(files[0]["status"], "kept", "the file is kept with the message: {files:?}");
        assert_eq!(files[0]["file_name"], "cedula.pdf");
        assert_eq!(m.app.download(&files[0]).await?, PDF);
        let contact = m.app.get(&format!("/api/v1/contacts/{}", case["contact_id"].as_str().unwrap_or_default()), &m.app.admin_token).await?;
        assert_eq!(contact.body["name"], "María Pérez", "{}", contact.text);

        // The answer: submitted with the install's login, threaded, the case token in the subject.
        let sent = m.reply(&case_id, "Hola María, su certificado está listo.").await?;
        let sent_id = sent["id"].as_str().unwrap_or_default().to_owned();
        let submitted = m.submitted(1).await?;
        assert_eq!(submitted.login, (ADDRESS.to_owned(), SMTP_PASSWORD.to_owned()));
        assert_eq!(submitted.from, ADDRESS);
        assert_eq!(submitted.recipients, ["maria@example.com"]);
        let number = case["number"].as_i64().unwrap_or_default();
        let data = &submitted.data;
        assert_eq!(header_line(data, "subject"), Some(format!("Subject: Re: Certificado de notas [#{number}]").as_str()), "{data}");
        assert_eq!(header_line(data, "in-reply-to"), Some("In-Reply-To: <a1@example.com>"), "{data}");
        assert!(data.contains("su certificado est"), "{data}");
        let delivered = m.delivery(&case_id, &sent_id, "sent").await?;
        let our_id = delivered["provider_message_id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(header_line(data, "message-id"), Some(format!("Message-ID: <{our_id}>").as_str()), "{data}");
        assert!(our_id.ends_with("@uni.edu.co"), "{our_id}");

        // Her reply to it continues the case, reopened after it was resolved;
        // the quoted history stays out.
        let resolved = m.app.patch(&format!("/api/v1/cases/{case_id}"), &m.app.admin_token, json!({"status": "resolved"})).await?;
        assert_eq!(resolved.status, 200, "{}", resolved.text);
        let answer = plain_mail("maria@example.com", "a2@example.com", "Otra cosa",
            &format!("In-Reply-To: <{our_id}>\r\nReferences: <a1@example.com> <{our_id}>\r\n"),
            "Gracias, lo recibí.\r\n\r\nEl lun, 23 nov 2026 a las 10:00, Registro UNI\r\n<ayuda@uni.edu.co> escribió:\r\n> Hola María");
        m.deliver(&answer).await?;
        let cases = m.cases().await?;
        assert_eq!(cases.len(), 1, "the reply joins the case: {cases:?}");
        assert_ne!(cases[0]["status"], "resolved", "a reply reopens the case");
        let last = m.app.messages(&case_id).await?.last().cloned().unwrap_or_default();
        assert_eq!(last["body"], "Gracias, lo recibí.");

        // The case token alone is enough for the same person.
        m.deliver(&plain_mail("maria@example.com", "a3@example.com", &format!("Pregunta [#{number}]"), "", "Una más")).await?;
        assert_eq!(m.cases().await?.len(), 1);
        assert_eq!(m.app.messages(&case_id).await?.len(), 4);

        // Auto-replies and bounces are dropped; they never answer anyone.
        m.deliver(&plain_mail("maria@example.com", "auto@example.com", "Fuera de la oficina",
            "Auto-Submitted: auto-replied\r\n", "Estoy de vacaciones")).await?;
        m.deliver(&plain_mail("MAILER-DAEMON@example.com", "bounce@example.com", "Undelivered", "", "failure")).await?;
        assert_eq!(m.app.messages(&case_id).await?.len(), 4);
        assert_eq!(m.cases().await?.len(), 1);

        // Someone else's token does not join them to her case.
        m.deliver(&plain_mail("pedro@example.com", "p1@example.com", &format!("Hola [#{number}]"), "", "Soy Pedro")).await?;
        assert_eq!(m.cases().await?.len(), 2, "a new case for another person");
        Ok(())
    }

    async fn smtp_trouble_is_retried_and_refusals_are_dead_lettered(backend) {
        let m = mail(backend).await?;
        m.deliver(&plain_mail("ana@example.com", "b1@example.com", "Horario", "", "¿A qué hora abren?")).await?;
        let case_id = m.app.only_case().await?["id"].as_str().unwrap_or_default().to_owned();
        m.smtp.answer(&[Verdict::Busy]);
        let sent = m.reply(&case_id, "De 8 a 5.").await?;
        m.delivery(&case_id, sent["id"].as_str().unwrap_or_default(), "sent").await?;
        assert_eq!(m.smtp.submitted().len(), 1, "accepted once after a 451");

        m.smtp.answer(&[Verdict::NoSuchUser]);
        let refused = m.reply(&case_id, "¿Algo más?").await?;
        let failed = m.delivery(&case_id, refused["id"].as_str().unwrap_or_default(), "failed").await?;
        let error = failed["delivery_error"].as_str().unwrap_or_default();
        assert!(error.contains("550") || error.contains("No such user"), "the server's reason is kept: {error}");
        assert_eq!(m.smtp.submitted().len(), 1);
        Ok(())
    }

    async fn the_mailbox_is_read_and_each_message_taken_once(backend) {
        let imap = FakeImap::start(IMAP_PASSWORD).await?;
        // Read by a person before the account was connected: left alone.
        imap.deliver_seen(&plain_mail("old@example.com", "old1@example.com", "Antiguo", "", "Ya atendido"));
        imap.deliver(&first_mail("m1@example.com"));
        imap.deliver(&plain_mail("maria@example.com", "auto1@example.com", "Respuesta automática",
            "Auto-Submitted: auto-replied\r\n", "Fuera de la oficina"));
        let m = mail_reading(backend, Some(&imap)).await?;
        let all_seen = eventually(std::time::Duration::from_secs(30), || async {
            imap.folder().iter().all(|s| s.seen).then_some(())
        })
        .await;
        anyhow::ensure!(all_seen.is_some(), "messages never marked read: {:?}", imap.folder());
        let case = m.app.only_case().await?;
        assert_eq!(case["subject"], "Certificado de notas");
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let messages = m.app.messages(&case_id).await?;
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["attachments"][0]["status"], "kept");
        assert_eq!(m.app.download(&messages[0]["attachments"][0]).await?, PDF);

        // Her answer arrives later and continues the case; polls after it take nothing twice.
        imap.deliver(&plain_mail("maria@example.com", "m2@example.com", "Re: Certificado de notas",
            "In-Reply-To: <m1@example.com>\r\n", "¿Cuándo estará?"));
        let both = eventually(std::time::Duration::from_secs(30), || async {
            let messages = m.app.messages(&case_id).await.ok()?;
            (messages.len() == 2).then_some(messages)
        })
        .await;
        anyhow::ensure!(both.is_some(), "the answer never arrived: {:?}", m.app.messages(&case_id).await?);
        let logins = imap.logins();
        let more = eventually(std::time::Duration::from_secs(10), || async { (imap.logins() >= logins + 2).then_some(()) }).await;
        anyhow::ensure!(more.is_some(), "the mailbox is read every period");
        assert_eq!(m.app.messages(&case_id).await?.len(), 2, "nothing is taken twice");
        assert_eq!(m.cases().await?.len(), 1, "a message read before was left alone");

        // A wrong password: the admin sees why in the install's health.
        set_secret(&m.app, &m.install, "imap_password", "wrong").await?;
        let health = eventually(std::time::Duration::from_secs(30), || async {
            let reply = m.app.get(&format!("/api/v1/plugin-installs/{}/health", m.install), &m.app.admin_token).await.ok()?;
            reply.body["last_error"].as_str().filter(|e| e.contains("login refused")).map(str::to_owned)
        })
        .await;
        anyhow::ensure!(health.is_some(), "the login failure never showed in the install's health");
        Ok(())
    }

    async fn the_mailbox_is_read_over_starttls_trusting_the_institutions_ca(backend) {
        let imap = FakeImap::start_tls(IMAP_PASSWORD).await?;
        imap.deliver(&plain_mail("maria@example.com", "t1@example.com", "Horarios", "", "¿A qué hora abren?"));
        let m = mail_reading_over(backend, Some(&imap), "starttls", true).await?;
        let case = eventually(std::time::Duration::from_secs(30), || async { m.app.only_case().await.ok() }).await;
        let Some(case) = case else { anyhow::bail!("the message never arrived over STARTTLS") };
        assert_eq!(case["subject"], "Horarios");
        assert!(imap.logins() >= 1);
        Ok(())
    }

    async fn a_mail_server_certificate_nobody_trusts_is_refused(backend) {
        let imap = FakeImap::start_tls(IMAP_PASSWORD).await?;
        imap.deliver(&plain_mail("maria@example.com", "t2@example.com", "Horarios", "", "¿A qué hora abren?"));
        let m = mail_reading_over(backend, Some(&imap), "starttls", false).await?;
        let health = eventually(std::time::Duration::from_secs(30), || async {
            let reply = m.app.get(&format!("/api/v1/plugin-installs/{}/health", m.install), &m.app.admin_token).await.ok()?;
            reply.body["last_error"].as_str().filter(|e| e.contains("TLS")).map(str::to_owned)
        })
        .await;
        let Some(error) = health else { anyhow::bail!("the refused certificate was not reported") };
        assert!(error.contains("certificate") || error.contains("issuer"), "{error}");
        assert_eq!(imap.logins(), 0, "no password went to a server that could not prove who it is");
        assert!(m.cases().await?.is_empty());
        Ok(())
    }
}

on_both! {
    async fn staff_start_an_email_conversation_and_the_answer_continues_it(backend) {
        let m = mail(backend).await?;
        let app = &m.app;
        let body = json!({"subject": "Tu certificado de notas", "channel": "email", "unit_id": m.unit,
            "channel_install_id": m.install,
            "contact": {"name": "María Pérez", "identities": [{"channel": "email", "value": "maria@example.com"}]},
            "first_message": {"body": "Hola María, tu certificado ya está disponible.", "author_kind": "agent"}});
        let case = app.post_ok("/api/v1/cases", &app.admin_token, body, 201).await?;
        let sent = m.submitted(1).await?;
        anyhow::ensure!(sent.recipients == ["maria@example.com"] && sent.data.contains("Subject: Tu certificado de notas")
            && sent.data.contains("tu certificado ya est"), "{:?}", sent.data);
        // Her answer, in reply to that mail, lands on the same case.
        let message_id = sent.data.lines().find_map(|l| l.strip_prefix("Message-ID: ").or_else(|| l.strip_prefix("Message-Id: ")))
            .ok_or_else(|| anyhow::anyhow!("no Message-ID in {}", sent.data))?.to_owned();
        let answer = plain_mail("maria@example.com", "respuesta-1@example.com", "Re: Tu certificado de notas",
            &format!("In-Reply-To: {message_id}\r\n"), "Gracias!");
        m.deliver(&answer).await?;
        let cases = m.cases().await?;
        anyhow::ensure!(cases.len() == 1 && cases[0]["id"] == case["id"], "{cases:?}");
        Ok(())
    }
}
