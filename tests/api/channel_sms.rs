//! The Twilio SMS connector, loaded by the real host: Twilio's form posts
//! signed as Twilio signs them (X-Twilio-Signature), delivery reports, and
//! sends checked against a local stand-in of Twilio's Messages API.

use serde_json::{Value, json};
use ventanilla_tests::{FakeProvider, Reply, TestApp, install_plugin_with, on_both, set_secret, spawn_app_with};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
/// The server\'s public address: links to files sent start with it.
pub(crate) const PUBLIC: &str = "https://ayuda.uni.edu.co";
const AUTH_TOKEN: &str = "twilio-auth-token-123";
const OUR_NUMBER: &str = "+15005550006";
const SENDER: &str = "+573001234567";
/// The address configured in Twilio's console: what Twilio signs.
const WEBHOOK_URL: &str = "https://ventanilla.example.edu/api/v1/webhooks/sms";

pub(crate) struct Sms {
    pub(crate) app: TestApp,
    pub(crate) provider: FakeProvider,
    pub(crate) install: String,
    pub(crate) unit: String,
}

pub(crate) async fn sms(backend: ventanilla_tests::Backend) -> anyhow::Result<Sms> {
    let provider = FakeProvider::start().await?;
    provider.succeed_with(r#"{"sid": "SMout{n}", "status": "queued"}"#);
    let port = provider.port;
    let app = spawn_app_with(backend, |c| {
        c.plugins.private_hosts = vec![format!("localhost:{port}")];
        c.public_url = Some(PUBLIC.into());
    })
    .await?;
    let unit = app.create_unit("admisiones").await?;
    let settings = json!({"account_sid": ACCOUNT, "from": OUR_NUMBER, "webhook_url": WEBHOOK_URL,
        "api_base_url": format!("http://localhost:{port}")});
    let grants = json!({"http_hosts": ["api.twilio.com", "localhost"], "secrets": ["auth_token"]});
    let install = install_plugin_with(&app, "sms-twilio", settings, grants, &[unit.as_str()], |m| {
        m.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
    })
    .await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    set_secret(&app, &install, "auth_token", AUTH_TOKEN).await?;
    Ok(Sms { app, provider, install, unit })
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A form as Twilio posts it, and its signature.
fn form(fields: &[(&str, &str)]) -> (String, String) {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let mut sorted = fields.to_vec();
    sorted.sort();
    let mut signed = WEBHOOK_URL.to_owned();
    for (k, v) in sorted {
        signed.push_str(k);
        signed.push_str(v);
    }
    let signature = ventanilla::secrets::hmac_sha1_base64(AUTH_TOKEN.as_bytes(), signed.as_bytes());
    (body.join("&"), signature)
}

pub(crate) fn incoming(sid: &str, body: &str, extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&'static str, String)> = vec![
        ("ToCountry", "US".into()),
        ("SmsMessageSid", sid.into()),
        ("NumMedia", "0".into()),
        ("SmsSid", sid.into()),
        ("SmsStatus", "received".into()),
        ("Body", body.into()),
        ("FromCountry", "CO".into()),
        ("To", OUR_NUMBER.into()),
        ("NumSegments", "1".into()),
        ("MessageSid", sid.into()),
        ("AccountSid", ACCOUNT.into()),
        ("From", SENDER.into()),
        ("ApiVersion", "2010-04-01".into()),
    ];
    for (k, v) in extra {
        fields.retain(|(key, _)| key != k);
        fields.push((k, (*v).to_owned()));
    }
    fields
}

impl Sms {
    async fn post(&self, fields: &[(&str, String)], signature: Option<String>) -> anyhow::Result<Reply> {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (body, signed) = form(&pairs);
        let mut request = self
            .app
            .client
            .post(self.app.url(&format!("/api/v1/webhooks/{}", self.install)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(signature) = signature.or(Some(signed)).filter(|s| !s.is_empty()) {
            request = request.header("x-twilio-signature", signature);
        }
        TestApp::reply(request.send().await?).await
    }

    pub(crate) async fn deliver(&self, fields: &[(&str, String)]) -> anyhow::Result<()> {
        let reply = self.post(fields, None).await?;
        anyhow::ensure!(
            reply.status == 200 && reply.text.contains("<Response></Response>"),
            "{}: {}",
            reply.status,
            reply.text
        );
        Ok(())
    }

    async fn messages(&self, case: &str) -> anyhow::Result<Vec<Value>> {
        self.app.messages(case).await
    }

    async fn message_in(&self, case: &str, id: &str, state: &str) -> anyhow::Result<Value> {
        self.app.message_in(case, id, state, &self.provider).await
    }
}

on_both! {
    async fn a_message_soon_after_resolution_reopens_the_case(backend) {
        let sms = sms(backend).await?;
        sms.deliver(&incoming("SMr1", "Hola, ¿ya salió mi certificado?", &[])).await?;
        let case = sms.app.only_case().await?;
        let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap_or_default());
        let resolve = || sms.app.patch(&path, &sms.app.admin_token, json!({"status": "resolved"}));
        assert_eq!(resolve().await?.status, 200);
        sms.deliver(&incoming("SMr2", "Perdón, una pregunta más", &[])).await?;
        let reopened = sms.app.only_case().await?;
        assert_eq!(reopened["id"], case["id"], "within the window the case continues");
        assert_eq!(reopened["status"], "queued", "and is back in its queue");
        assert_eq!(sms.messages(case["id"].as_str().unwrap_or_default()).await?.len(), 2);

        // Past the window (24 hours by default) a new message is a new case.
        assert_eq!(resolve().await?.status, 200);
        {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
            use ventanilla::store::case::entity;
            entity::Entity::update_many()
                .col_expr(entity::Column::ResolvedAt, Expr::value(chrono::Utc::now() - chrono::Duration::hours(25)))
                .filter(entity::Column::Id.eq(uuid::Uuid::parse_str(case["id"].as_str().unwrap_or_default())?))
                .exec(&sms.app.store.db)
                .await?;
        }
        sms.deliver(&incoming("SMr3", "Otra consulta distinta", &[])).await?;
        let cases = sms.app.get("/api/v1/cases", &sms.app.admin_token).await?;
        assert_eq!(cases.body["items"].as_array().map(Vec::len), Some(2), "{}", cases.text);
        Ok(())
    }

    async fn twilio_webhooks_are_verified_and_parsed(backend) {
        let sms = sms(backend).await?;
        sms.deliver(&incoming("SM0001", "Hola, ¿hasta cuándo hay inscripciones?", &[])).await?;
        let cases = sms.app.get("/api/v1/cases", &sms.app.admin_token).await?;
        let case = cases.body["items"][0].clone();
        anyhow::ensure!(case["channel"] == "sms" && cases.body["items"].as_array().map_or(0, Vec::len) == 1, "{}", cases.text);
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let messages = sms.messages(&case_id).await?;
        anyhow::ensure!(messages.len() == 1 && messages[0]["body"] == "Hola, ¿hasta cuándo hay inscripciones?", "{messages:?}");
        let contact = sms.app.get(&format!("/api/v1/contacts/{}", case["contact_id"].as_str().unwrap_or_default()), &sms.app.admin_token).await?;
        anyhow::ensure!(contact.text.contains(SENDER), "{}", contact.text);

        // Twilio retries: stored once.
        sms.deliver(&incoming("SM0001", "Hola, ¿hasta cuándo hay inscripciones?", &[])).await?;
        anyhow::ensure!(sms.messages(&case_id).await?.len() == 1);

        // A forged or altered request, or another account's, stores nothing.
        let forged = sms.post(&incoming("SM0002", "x", &[]), Some("bm9wZQ==".into())).await?;
        anyhow::ensure!(forged.status == 401, "{}", forged.text);
        let unsigned = sms.post(&incoming("SM0003", "x", &[]), Some(String::new())).await?;
        anyhow::ensure!(unsigned.status == 401, "{}", unsigned.text);
        let other = sms.post(&incoming("SM0004", "x", &[("AccountSid", "AC99999999999999999999999999999999")]), None).await?;
        anyhow::ensure!(other.status == 401, "{}", other.text);
        let no_sid: Vec<_> = incoming("SM0005", "x", &[]).into_iter().filter(|(k, _)| !k.ends_with("Sid") || *k == "AccountSid").collect();
        anyhow::ensure!(sms.post(&no_sid, None).await?.status == 400);
        anyhow::ensure!(sms.messages(&case_id).await?.len() == 1);

        // MMS: the files arrive as references.
        sms.deliver(&incoming("MM0006", "Mi comprobante", &[("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/MM0006/Media/ME1"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/MM0006/Media/ME2"),
            ("MediaContentType1", "application/pdf")])).await?;
        let messages = sms.messages(&case_id).await?;
        let mms = messages.iter().find(|m| m["provider_message_id"] == "MM0006").cloned().unwrap_or_default();
        anyhow::ensure!(mms["attachments"].as_array().map_or(0, Vec::len) == 2, "{mms}");
        anyhow::ensure!(mms["attachments"][0]["content_type"] == "image/jpeg" && mms["attachments"][1]["file_name"] == "ME2", "{mms}");
        Ok(())
    }

    async fn mms_files_are_downloaded_with_the_account_credential(backend) {
        let sms = sms(backend).await?;
        let base = format!("http://localhost:{}", sms.provider.port);
        let media = format!("{base}/2010-04-01/Accounts/{ACCOUNT}/Messages/MM0007/Media/ME7");
        let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 a payment slip".to_vec();
        // Twilio answers the media URL with a redirect to its CDN.
        sms.provider.redirect("/Media/ME7", 307, &format!("{base}/cdn/media.twiliocdn.com/ME7"));
        sms.provider.serve_file("/cdn/media.twiliocdn.com/ME7", "image/jpeg", &jpeg);
        let mut fields = incoming("MM0007", "Mi comprobante", &[("NumMedia", "1"), ("MediaContentType0", "image/jpeg")]);
        fields.push(("MediaUrl0", media));
        sms.deliver(&fields).await?;
        let files = sms.app.settled_files().await?;
        anyhow::ensure!(files[0]["status"] == "kept" && files[0]["size_bytes"] == jpeg.len(), "{files:?}");
        anyhow::ensure!(sms.app.download(&files[0]).await? == jpeg);
        let requests = sms.provider.requests();
        let first = requests.iter().find(|r| r.path.ends_with("/Media/ME7")).ok_or_else(|| anyhow::anyhow!("not asked: {requests:?}"))?;
        use base64::Engine as _;
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{AUTH_TOKEN}")));
        anyhow::ensure!(first.headers.iter().any(|(k, v)| k == "authorization" && *v == basic), "{first:?}");
        Ok(())
    }

    async fn twilio_sends_and_reports(backend) {
        let sms = sms(backend).await?;
        sms.deliver(&incoming("SM0001", "Buenas", &[])).await?;
        let cases = sms.app.get("/api/v1/cases", &sms.app.admin_token).await?;
        let case_id = cases.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/api/v1/cases/{case_id}/messages");

        let sent = sms.app.post_ok(&path, &sms.app.admin_token, json!({"body": "Hola: inscripciones hasta el 30 & sin costo"}), 201).await?;
        let first = sent["id"].as_str().unwrap_or_default().to_owned();
        let message = sms.message_in(&case_id, &first, "sent").await?;
        anyhow::ensure!(message["provider_message_id"] == "SMout1", "{message}");
        let request = sms.provider.requests().into_iter().next().ok_or_else(|| anyhow::anyhow!("no request"))?;
        anyhow::ensure!(request.method == "POST" && request.path == format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"), "{request:?}");
        let basic = format!("Basic {}", base64_of(&format!("{ACCOUNT}:{AUTH_TOKEN}")));
        anyhow::ensure!(request.headers.iter().any(|(k, v)| k == "authorization" && *v == basic), "{request:?}");
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect();
        let expected: Vec<(String, String)> = [("To", SENDER), ("Body", "Hola: inscripciones hasta el 30 & sin costo"), ("From", OUR_NUMBER), ("StatusCallback", WEBHOOK_URL)]
            .into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        anyhow::ensure!(fields == expected, "{fields:?}");

        // Twilio's status callbacks move the message on, with the error when it fails.
        let status = |sid: &str, state: &str, code: Option<&'static str>| {
            let mut fields: Vec<(&'static str, String)> = vec![("MessageSid", sid.into()), ("SmsSid", sid.into()),
                ("AccountSid", ACCOUNT.into()), ("From", OUR_NUMBER.into()), ("To", SENDER.into()),
                ("MessageStatus", state.into()), ("SmsStatus", state.into()), ("ApiVersion", "2010-04-01".into())];
            if let Some(code) = code {
                fields.push(("ErrorCode", code.into()));
            }
            fields
        };
        sms.deliver(&status("SMout1", "sending", None)).await?;
        sms.deliver(&status("SMout1", "delivered", None)).await?;
        sms.message_in(&case_id, &first, "delivered").await?;
        // A failure reported after the delivery is a replay: nothing changes.
        sms.deliver(&status("SMout1", "undelivered", Some("30003"))).await?;
        sms.message_in(&case_id, &first, "delivered").await?;

        // Throttled (429) is retried; an invalid number (400, 21211) is final.
        sms.provider.answer_json([(429, json!({"code": 20429, "message": "Too Many Requests", "status": 429}))]);
        let retried = sms.app.post_ok(&path, &sms.app.admin_token, json!({"body": "Segundo"}), 201).await?;
        let retried = retried["id"].as_str().unwrap_or_default().to_owned();
        let second = sms.message_in(&case_id, &retried, "sent").await?;
        // A message on its way that Twilio could not deliver fails, with the reason.
        let sid = second["provider_message_id"].as_str().unwrap_or_default().to_owned();
        sms.deliver(&status(&sid, "undelivered", Some("30003"))).await?;
        let failed = sms.message_in(&case_id, &retried, "failed").await?;
        anyhow::ensure!(failed["delivery_error"] == "Twilio error 30003", "{failed}");
        sms.provider.answer_json([(400, json!({"code": 21211, "message": "The 'To' number +573001234567 is not a valid phone number.", "status": 400}))]);
        let doomed = sms.app.post_ok(&path, &sms.app.admin_token, json!({"body": "Tercero"}), 201).await?;
        let doomed = sms.message_in(&case_id, doomed["id"].as_str().unwrap_or_default(), "failed").await?;
        anyhow::ensure!(doomed["delivery_error"].as_str().is_some_and(|e| e.contains("21211") && e.contains("not a valid phone number")), "{doomed}");
        // SMS has no templates.
        let refused = sms.app.post(&path, &sms.app.admin_token, json!({"template": {"name": "aviso", "language": "es"}})).await?;
        anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "template", "{}", refused.text);
        // A file goes as an MMS, by link.
        let mms = sms.app.send_file(&case_id, "Su recibo", "image/jpeg", "recibo.jpg", b"\xff\xd8\xff\xe0 jpeg".to_vec()).await?;
        sms.message_in(&case_id, mms["id"].as_str().unwrap_or_default(), "sent").await?;
        let request = sms.provider.requests().pop().ok_or_else(|| anyhow::anyhow!("no request"))?;
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect();
        let media: Vec<&String> = fields.iter().filter(|(k, _)| k == "MediaUrl").map(|(_, v)| v).collect();
        anyhow::ensure!(media.len() == 1 && media[0].starts_with(&format!("{PUBLIC}/api/v1/attachments/")), "{fields:?}");
        anyhow::ensure!(fields.iter().any(|(k, v)| k == "Body" && v == "Su recibo"), "{fields:?}");
        Ok(())
    }
}

fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

on_both! {
    async fn staff_start_an_sms_conversation_with_free_text(backend) {
        let sms = sms(backend).await?;
        let app = &sms.app;
        // Someone the institution has a number for, who never wrote.
        let contact = app.post_ok("/api/v1/contacts", &app.admin_token,
            json!({"name": "Luisa Gómez", "identities": [{"channel": "whatsapp", "value": SENDER}]}), 201).await?;
        let body = json!({"subject": "Documentos pendientes", "channel": "sms", "unit_id": sms.unit,
            "channel_install_id": sms.install, "contact_id": contact["id"],
            "first_message": {"body": "Hola Luisa, te falta el certificado de notas.", "author_kind": "agent"}});
        let case = app.post_ok("/api/v1/cases", &app.admin_token, body, 201).await?;
        anyhow::ensure!(case["channel"] == "sms" && case["channel_install_id"] == sms.install.as_str(), "{case}");
        let sent = ventanilla_tests::eventually(std::time::Duration::from_secs(30), || async {
            sms.provider.requests().into_iter().find(|r| r.path.ends_with("/Messages.json"))
        }).await;
        let sent = sent.ok_or_else(|| anyhow::anyhow!("nothing sent"))?;
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(sent.body.as_bytes()).into_owned().collect();
        let field = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        anyhow::ensure!(field("To") == Some(SENDER) && field("From") == Some(OUR_NUMBER)
            && field("Body") == Some("Hola Luisa, te falta el certificado de notas."), "{fields:?}");
        // An account of another unit is not this unit's to use, nor listed to its staff.
        let other = app.create_unit("tesoreria").await?;
        let (_, ours) = app.create_member("ana@uni.edu.co", &sms.unit, "agent").await?;
        let (_, theirs) = app.create_member("teo@uni.edu.co", &other, "agent").await?;
        let listed = app.get("/api/v1/channel-accounts", &ours).await?;
        let account = &listed.body["items"][0];
        anyhow::ensure!(account["id"] == sms.install.as_str() && account["channel"] == "sms" && account["reaches_first"] == true
            && account["sends_templates"] == false, "{}", listed.text);
        let hidden = app.get("/api/v1/channel-accounts", &theirs).await?;
        anyhow::ensure!(hidden.body["items"].as_array().is_some_and(Vec::is_empty), "{}", hidden.text);
        let for_other = app.get(&format!("/api/v1/channel-accounts?unit_id={other}"), &app.admin_token).await?;
        anyhow::ensure!(for_other.body["items"].as_array().is_some_and(Vec::is_empty), "{}", for_other.text);
        let body = json!({"subject": "Pago", "channel": "sms", "unit_id": other, "channel_install_id": sms.install,
            "contact_id": contact["id"], "first_message": {"body": "Hola", "author_kind": "agent"}});
        let refused = app.post("/api/v1/cases", &app.admin_token, body).await?;
        anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "channel_install_id", "{}", refused.text);
        anyhow::ensure!(refused.text.contains("not open to this unit"), "{}", refused.text);
        Ok(())
    }

    async fn a_person_who_texts_baja_is_sent_nothing_more_and_told_so(backend) {
        let sms = sms(backend).await?;
        let app = &sms.app;
        let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
        let grant = |purpose: &str| json!({"purpose": purpose, "action": "grant", "text_version": "v2",
            "channel": "webform", "source": "web_form", "given_at": yesterday});
        let listed = json!({"identities": [{"channel": "sms", "value": SENDER}],
            "consents": [grant("broadcasts"), grant("surveys"), grant("data_processing")]});
        let put = |body: Value| async move {
            app.call(reqwest::Method::PUT, "/api/v1/contacts/external/2027-0042", Some(&app.admin_token), Some(&body)).await
        };
        let person = put(listed.clone()).await?;
        anyhow::ensure!(person.status == 201, "{}", person.text);
        let contact = person.body["contact"]["id"].as_str().unwrap_or_default().to_owned();
        let consents = || async {
            let reply = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
            anyhow::Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
        };

        // A student withdrawing from a course is not asking to stop messages.
        sms.deliver(&incoming("SMin1", "Quiero darme de baja de la materia de cálculo", &[])).await?;
        anyhow::ensure!(consents().await?.len() == 3, "nothing revoked");
        // "BAJA" revokes every purpose she agreed to but her data's processing, at once.
        sms.deliver(&incoming("SMin2", "BAJA", &[])).await?;
        let records = consents().await?;
        let revoked: Vec<&str> = records.iter().filter(|r| r["action"] == "revoke").filter_map(|r| r["purpose"].as_str()).collect();
        anyhow::ensure!(revoked == ["broadcasts", "surveys"], "{records:?}");
        let revocation = records.iter().find(|r| r["action"] == "revoke").cloned().unwrap_or_default();
        anyhow::ensure!(revocation["source"] == "opt_out" && revocation["channel"] == "sms"
            && revocation["reference"].as_str().is_some_and(|r| r.starts_with("message ")), "{revocation}");
        // ...and she is told so, by SMS.
        let told = ventanilla_tests::eventually(std::time::Duration::from_secs(30), || async {
            sms.provider.requests().into_iter().find(|r| r.path.ends_with("/Messages.json") && r.body.contains("enviaremos"))
        }).await;
        let told = told.ok_or_else(|| anyhow::anyhow!("no confirmation sent: {:?}", sms.provider.requests()))?;
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(told.body.as_bytes()).into_owned().collect();
        let field = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
        anyhow::ensure!(field("To") == SENDER && field("Body").contains("no le enviaremos más mensajes"), "{fields:?}");

        // The list the office had sends her consent again: her "BAJA" stands.
        let again = put(listed).await?;
        anyhow::ensure!(again.body["consents"][0]["outcome"] == "later_answer_stands", "{}", again.text);
        // Saying it twice records nothing more.
        sms.deliver(&incoming("SMin3", "stop", &[])).await?;
        anyhow::ensure!(consents().await?.len() == 5, "{:?}", consents().await?);
        Ok(())
    }
}
