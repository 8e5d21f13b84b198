//! Campaigns by SMS against a stand-in of Twilio that records every
//! request: the host sends only to people whose latest answer for the
//! purpose is a grant (a "no" given after the launch counts), never in the
//! unit's quiet hours, never twice; a pause holds it; delivery reports,
//! answers (a case of the campaign's unit) and "BAJA" show per person.

use crate::channel_sms::{incoming, sms};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{TestApp, eventually, on_both};

const ANA: &str = "+573001234567";
const BETO: &str = "+573001110002";
const CARO: &str = "+573001110003";
const DANI: &str = "+573001110004";

pub(crate) fn grant(purpose: &str) -> Value {
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    json!({"purpose": purpose, "action": "grant", "text_version": "v1", "channel": "webform", "source": "web_form",
           "given_at": yesterday})
}

pub(crate) async fn person(
    app: &TestApp,
    id: &str,
    name: &str,
    identities: Value,
    consents: Value,
) -> anyhow::Result<String> {
    let body = json!({"name": name, "identities": identities, "consents": consents,
                      "custom_attributes": {"program": "Medicina"}});
    let reply =
        app.call(Method::PUT, &format!("/api/v1/contacts/external/{id}"), Some(&app.admin_token), Some(&body)).await?;
    anyhow::ensure!(reply.status.is_success(), "{}", reply.text);
    Ok(reply.body["contact"]["id"].as_str().unwrap_or_default().to_owned())
}

/// Sending hours every day, all day (`open`), or none at all.
pub(crate) async fn sending_hours(app: &TestApp, unit: &str, open: bool) -> anyhow::Result<()> {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let weekly: Vec<Value> =
        if open { days.iter().map(|d| json!({"day": d, "open": "00:00", "close": "23:59"})).collect() } else { vec![] };
    let reply = app
        .call(
            Method::PUT,
            &format!("/api/v1/units/{unit}/outreach"),
            Some(&app.admin_token),
            Some(&json!({"sending_hours": {"weekly": weekly}})),
        )
        .await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(())
}

pub(crate) async fn campaign(app: &TestApp, id: &str) -> anyhow::Result<Value> {
    Ok(app.get(&format!("/api/v1/campaigns/{id}"), &app.admin_token).await?.body)
}

async fn act(app: &TestApp, id: &str, action: &str) -> anyhow::Result<Value> {
    let reply =
        app.call(Method::POST, &format!("/api/v1/campaigns/{id}/{action}"), Some(&app.admin_token), None).await?;
    anyhow::ensure!(reply.status == 200, "{action}: {}", reply.text);
    Ok(reply.body)
}

/// Each recipient's phone number → status.
async fn statuses(app: &TestApp, id: &str, phones: &[(&str, &str)]) -> anyhow::Result<Vec<(String, String)>> {
    let reply = app.get(&format!("/api/v1/campaigns/{id}/recipients"), &app.admin_token).await?;
    let mut out = vec![];
    for r in reply.body["items"].as_array().into_iter().flatten() {
        let contact = r["contact_id"].as_str().unwrap_or_default();
        let name = phones.iter().find(|(c, _)| *c == contact).map_or("?", |(_, n)| n);
        out.push((name.to_owned(), r["status"].as_str().unwrap_or_default().to_owned()));
    }
    out.sort();
    Ok(out)
}

/// The SMS the stand-in was asked to send, as (To, Body).
fn texts(provider: &ventanilla_tests::FakeProvider) -> Vec<(String, String)> {
    provider
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/Messages.json"))
        .map(|r| {
            let fields: Vec<(String, String)> = url::form_urlencoded::parse(r.body.as_bytes()).into_owned().collect();
            let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
            (get("To"), get("Body"))
        })
        .collect()
}

on_both! {
    async fn a_campaign_reaches_only_people_who_agreed_and_their_answers_become_cases(backend) {
        let sms = sms(backend).await?;
        let app = &sms.app;
        // Credit runs the campaign on the account Admissions receives on.
        let credit = app.create_unit("credito").await?;
        let units = json!({"units": [sms.unit, credit]});
        app.call(Method::PATCH, &format!("/api/v1/plugin-installs/{}", sms.install), Some(&app.admin_token), Some(&units)).await?;
        let sms_of = |phone: &str| json!([{"channel": "sms", "value": phone}]);
        let ana = person(app, "A1", "Ana", sms_of(ANA), json!([grant("broadcasts")])).await?;
        let beto = person(app, "B2", "Beto", sms_of(BETO), json!([grant("broadcasts")])).await?;
        let caro = person(app, "C3", "Caro", sms_of(CARO), json!([])).await?;
        let dani = person(app, "D4", "Dani", sms_of(DANI), json!([grant("broadcasts")])).await?;
        let eva = person(app, "E5", "Eva", json!([{"channel": "email", "value": "eva@uni.edu.co"}]), json!([grant("broadcasts")])).await?;
        let names = [(ana.as_str(), "ana"), (beto.as_str(), "beto"), (caro.as_str(), "caro"), (dani.as_str(), "dani"), (eva.as_str(), "eva")];
        // The segment does not ask for consent: the host does, at each send.
        let segment = app.post_ok("/api/v1/segments", &app.admin_token, json!({"name": "Medicina",
            "filter": {"attributes": [{"key": "program", "in": ["Medicina"]}]}}), 201).await?;
        let body = json!({"unit_id": credit, "name": "Cuotas de Medicina", "segment_id": segment["id"],
            "channel_install_id": sms.install,
            "message": {"body": "Hola {{name}}: la cuota de {{attributes.program}} vence el viernes."}});
        let draft = app.post_ok("/api/v1/campaigns", &app.admin_token, body, 201).await?;
        let id = draft["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!((draft["status"].as_str(), draft["purpose"].as_str()), (Some("draft"), Some("broadcasts")));

        // A test to oneself goes at once, with the sender's name filled in.
        let test = app.call(Method::POST, &format!("/api/v1/campaigns/{id}/test"), Some(&app.admin_token),
            Some(&json!({"address": "+57 300 999 9999"}))).await?;
        assert_eq!(test.status, 200, "{}", test.text);
        assert_eq!(texts(&sms.provider).len(), 1);
        assert_eq!(texts(&sms.provider)[0].0, "+573009999999");

        // Launched in the unit's quiet hours, it waits.
        sending_hours(app, &credit, false).await?;
        assert_eq!(act(app, &id, "launch").await?["status"], "running");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(texts(&sms.provider).len(), 1, "nothing goes out in quiet hours");
        // Dani says no after the launch; it counts.
        app.post_ok(&format!("/api/v1/contacts/{dani}/consents"), &app.admin_token,
            json!({"purpose": "broadcasts", "action": "revoke", "text_version": "v1", "channel": "phone", "source": "phone"}), 201).await?;
        sending_hours(app, &credit, true).await?;
        let finished = eventually(Duration::from_secs(30), || async {
            campaign(app, &id).await.ok().filter(|c| c["status"] == "finished")
        }).await;
        let finished = finished.ok_or_else(|| anyhow::anyhow!("never finished: {:?}", texts(&sms.provider)))?;
        assert_eq!(finished["recipients"]["total"], 5, "{finished}");
        assert_eq!(statuses(app, &id, &names).await?, [
            ("ana".into(), "sent".into()), ("beto".into(), "sent".into()), ("caro".into(), "skipped".into()),
            ("dani".into(), "opted_out".into()), ("eva".into(), "skipped".into())]);
        let mut to: Vec<String> = texts(&sms.provider).into_iter().map(|(to, _)| to).collect();
        to.sort();
        assert_eq!(to, [BETO, ANA, "+573009999999"], "one text each, no more");
        let to_ana = texts(&sms.provider).into_iter().find(|(to, _)| to == ANA).map(|(_, body)| body);
        assert_eq!(to_ana.as_deref(), Some("Hola Ana: la cuota de Medicina vence el viernes."));
        let recipients = app.get(&format!("/api/v1/campaigns/{id}/recipients?status=sent"), &app.admin_token).await?;
        let anas = recipients.body["items"].as_array().into_iter().flatten().find(|r| r["contact_id"] == ana.as_str()).cloned().unwrap_or_default();
        let consents = app.get(&format!("/api/v1/contacts/{ana}/consents"), &app.admin_token).await?;
        assert_eq!(anas["consent_id"], consents.body["items"][0]["id"], "each send names the consent it relied on");
        let audit = app.get(&format!("/api/v1/audit-events?target_kind=contact&target_id={ana}"), &app.admin_token).await?;
        assert!(audit.text.contains("campaign.sent") && audit.text.contains(consents.body["items"][0]["id"].as_str().unwrap_or("-")), "{}", audit.text);

        // Twilio reports Ana's text delivered; she answers; Beto says BAJA.
        let sid = anas["provider_message_id"].as_str().unwrap_or_default().to_owned();
        let report = vec![("MessageSid", sid.clone()), ("MessageStatus", "delivered".into()), ("SmsStatus", "delivered".into()),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef".into()), ("To", ANA.into()), ("ApiVersion", "2010-04-01".into())];
        sms.deliver(&report).await?;
        assert_eq!(statuses(app, &id, &names).await?[0], ("ana".into(), "delivered".into()));
        sms.deliver(&incoming("SMans1", "Sí, ¿puedo pagar en dos cuotas?", &[])).await?;
        let cases = app.get(&format!("/api/v1/cases?contact_id={ana}"), &app.admin_token).await?;
        let case = cases.body["items"][0].clone();
        assert_eq!(case["unit_id"], credit.as_str(), "her answer is a case of the campaign's unit: {case}");
        let notes = app.get(&format!("/api/v1/cases/{}/notes", case["id"].as_str().unwrap_or_default()), &app.admin_token).await?;
        assert!(notes.text.contains("Cuotas de Medicina"), "the case says what she answers: {}", notes.text);
        let recipients = app.get(&format!("/api/v1/campaigns/{id}/recipients?status=replied"), &app.admin_token).await?;
        assert_eq!(recipients.body["items"][0]["reply_case_id"], case["id"]);
        sms.deliver(&incoming("SMans2", "BAJA", &[("From", BETO)])).await?;
        assert_eq!(statuses(app, &id, &names).await?[1], ("beto".into(), "opted_out".into()));

        // A second campaign, paused before its hours open, sends nothing
        // until resumed; Beto's BAJA stands.
        let body = json!({"unit_id": credit, "name": "Recordatorio", "segment_id": segment["id"],
            "channel_install_id": sms.install, "message": {"body": "Recuerde la cuota."}});
        let second = app.post_ok("/api/v1/campaigns", &app.admin_token, body, 201).await?;
        let second = second["id"].as_str().unwrap_or_default().to_owned();
        sending_hours(app, &credit, false).await?;
        act(app, &second, "launch").await?;
        assert_eq!(act(app, &second, "pause").await?["status"], "paused");
        sending_hours(app, &credit, true).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before = texts(&sms.provider).len();
        assert_eq!(campaign(app, &second).await?["recipients"]["sent"], 0, "a paused campaign sends nothing");
        assert_eq!(act(app, &second, "resume").await?["status"], "running");
        let done = eventually(Duration::from_secs(30), || async {
            campaign(app, &second).await.ok().filter(|c| c["status"] == "finished")
        }).await;
        anyhow::ensure!(done.is_some(), "the resumed campaign never finished");
        let after = texts(&sms.provider);
        assert_eq!(after.len(), before + 1, "only Ana: {after:?}");
        assert_eq!(after.last().map(|t| t.0.as_str()), Some(ANA));
        // What was launched is what is sent: a running or finished campaign is not edited.
        let edit = app.call(Method::PATCH, &format!("/api/v1/campaigns/{second}"), Some(&app.admin_token),
            Some(&json!({"name": "Otro"}))).await?;
        assert_eq!(edit.status, 409, "{}", edit.text);
        let relaunch = app.call(Method::POST, &format!("/api/v1/campaigns/{second}/launch"), Some(&app.admin_token), None).await?;
        assert_eq!(relaunch.status, 409, "{}", relaunch.text);
        // A segment campaigns use stays; nobody but the unit's supervisors
        // and admins sends a test.
        let remove = app.call(Method::DELETE, &format!("/api/v1/segments/{}", segment["id"].as_str().unwrap_or_default()),
            Some(&app.admin_token), None).await?;
        assert_eq!(remove.status, 409, "{}", remove.text);
        let (_, agent) = app.create_member("agente@uni.edu.co", &credit, "agent").await?;
        let token = app.create_token(&["contacts:write", "cases:write"]).await?;
        for caller in [&agent, &token] {
            let refused = app.call(Method::POST, &format!("/api/v1/campaigns/{id}/test"), Some(caller),
                Some(&json!({"address": "+573009999999"}))).await?;
            assert_eq!(refused.status, 404, "{}", refused.text);
        }
        assert_eq!(texts(&sms.provider).len(), after.len());
        Ok(())
    }
}

/// An e-mail campaign against a local SMTP stand-in, on a server whose
/// public address its links use.
async fn mail_app(
    backend: ventanilla_tests::Backend,
) -> anyhow::Result<(TestApp, ventanilla_tests::mail::FakeSmtp, String, String)> {
    let smtp = ventanilla_tests::mail::FakeSmtp::start("smtp-password").await?;
    let port = smtp.port;
    let app = ventanilla_tests::spawn_app_with(backend, |c| {
        c.plugins.private_hosts = vec![format!("localhost:{port}")];
        c.public_url = Some("https://ayuda.uni.edu.co".into());
    })
    .await?;
    let unit = app.create_unit("admisiones").await?;
    let settings = json!({"address": "admisiones@uni.edu.co", "display_name": "Admisiones",
        "smtp": {"host": "localhost", "port": port, "security": "none", "user": "admisiones@uni.edu.co"}});
    let grants = json!({"mail_hosts": ["localhost"], "secrets": ["smtp_password", "webhook_token", "imap_password"]});
    let install =
        ventanilla_tests::install_plugin_with(&app, "email", settings, grants, &[unit.as_str()], |m| m).await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    for (name, value) in
        [("smtp_password", "smtp-password"), ("webhook_token", "token-456"), ("imap_password", "imap-789")]
    {
        ventanilla_tests::set_secret(&app, &install, name, value).await?;
    }
    sending_hours(&app, &unit, true).await?;
    Ok((app, smtp, unit, install))
}

on_both! {
    async fn an_email_campaign_carries_a_link_that_stops_it_for_that_person(backend) {
        let (app, smtp, unit, install) = mail_app(backend).await?;
        let ana = person(&app, "A1", "Ana", json!([{"channel": "email", "value": "ana@correo.test"}]), json!([grant("broadcasts")])).await?;
        let segment = app.post_ok("/api/v1/segments", &app.admin_token, json!({"name": "Todos"}), 201).await?;
        let body = json!({"unit_id": unit, "name": "Jornada de puertas abiertas", "segment_id": segment["id"],
            "channel_install_id": install, "message": {"subject": "Puertas abiertas", "body": "Hola {{name}}, te esperamos el sábado."}});
        let id = app.post_ok("/api/v1/campaigns", &app.admin_token, body, 201).await?["id"].as_str().unwrap_or_default().to_owned();
        act(&app, &id, "launch").await?;
        let sent = eventually(Duration::from_secs(30), || async { smtp.submitted().first().cloned() }).await;
        let sent = sent.ok_or_else(|| anyhow::anyhow!("nothing submitted"))?;
        assert_eq!(sent.recipients, ["ana@correo.test"]);
        let parsed = mail_parser::MessageParser::default().parse(sent.data.as_bytes()).ok_or_else(|| anyhow::anyhow!("unreadable mail"))?;
        let text = parsed.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
        assert!(text.starts_with("Hola Ana, te esperamos el sábado."), "{text}");
        let at = text.find("https://ayuda.uni.edu.co/unsubscribe/").ok_or_else(|| anyhow::anyhow!("no link: {text}"))?;
        let link: String = text[at..].chars().take_while(|c| !c.is_whitespace()).collect();
        let path = link.trim_start_matches("https://ayuda.uni.edu.co").to_owned();

        // Someone else's link cannot be made from this one.
        let forged = path.replace(&ana, &uuid::Uuid::now_v7().to_string());
        let reply = app.client.post(app.url(&forged)).send().await?;
        assert_eq!(reply.status(), 404);
        // Opening it asks (mail scanners open links); the button records the no.
        let asked = app.client.get(app.url(&path)).send().await?;
        assert_eq!(asked.status(), 200);
        assert!(asked.text().await?.contains("<form method=\"post\">"));
        let consents = || async {
            let reply = app.get(&format!("/api/v1/contacts/{ana}/consents"), &app.admin_token).await?;
            anyhow::Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
        };
        assert_eq!(consents().await?.len(), 1, "opening the link records nothing");
        let done = app.client.post(app.url(&path)).send().await?;
        assert_eq!(done.status(), 200);
        assert!(done.text().await?.contains("no le enviaremos"));
        let records = consents().await?;
        let last = records.last().cloned().unwrap_or_default();
        assert_eq!((last["action"].as_str(), last["source"].as_str(), last["channel"].as_str()),
            (Some("revoke"), Some("unsubscribe_link"), Some("email")), "{records:?}");
        assert_eq!(last["reference"], format!("campaign {id}"));
        let recipients = app.get(&format!("/api/v1/campaigns/{id}/recipients"), &app.admin_token).await?;
        assert_eq!(recipients.body["items"][0]["status"], "opted_out");
        // Twice is still once.
        app.client.post(app.url(&path)).send().await?;
        assert_eq!(consents().await?.len(), 2);
        Ok(())
    }
}
