//! Web form connector.
//!
//! `GET` on the install's webhook serves a contact form to link to or embed
//! in an iframe (the host serves it sandboxed: no scripts); `POST` takes it
//! back, as a form post or as JSON from the institution's own page. A
//! submission needs a name, an e-mail address, a message and the consent
//! checkbox, whose text is the one admins wrote (`consent.current`), and
//! whose version travels with the message so the host records the answer
//! against it. A filled-in trap field is a robot: it is thanked and nothing
//! is kept. Each submission becomes a case on the `webform` channel, known
//! by the person's e-mail address, and answers go there by SMTP.

mod form;

use serde_json::Value;
use ventanilla_sdk::mail_connector::ventanilla::plugin::clock;
use ventanilla_sdk::mail_connector::ventanilla::plugin::consent;
use ventanilla_sdk::mail_connector::ventanilla::plugin::log::{self, Level};
use ventanilla_sdk::mail_connector::ventanilla::plugin::mail::{Address, IncomingMail, MailMessage};
use ventanilla_sdk::mail_connector::{
    Guest, InboundMessage, InboundRequest, Mailbox, OutboundMessage, ParseError, Parsed, SendError, SendReceipt,
};

use form::{Strings, Submission};

struct WebForm;

/// The install's settings with their defaults.
pub(crate) struct Settings {
    pub address: String,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub intro: Option<String>,
    pub subjects: Vec<String>,
    pub locale: String,
    pub purpose: String,
    pub value: Value,
}

impl Settings {
    fn parse(text: &str) -> Settings {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let text = |key: &str| value[key].as_str().map(str::to_owned).filter(|t| !t.trim().is_empty());
        Settings {
            address: value["address"].as_str().unwrap_or_default().trim().to_ascii_lowercase(),
            display_name: text("display_name"),
            title: text("title"),
            intro: text("intro"),
            subjects: value["subjects"]
                .as_array()
                .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            locale: text("locale").unwrap_or_else(|| "es".into()),
            purpose: text("purpose").unwrap_or_else(|| "data_processing".into()),
            value,
        }
    }
}

/// The value of a request header, matched without regard to case.
fn header<'a>(request: &'a InboundRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

pub(crate) fn answer(status: u16, content_type: &str, body: String) -> Parsed {
    Parsed {
        response_status: status,
        response_body: body.into_bytes(),
        response_content_type: content_type.into(),
        messages: vec![],
        statuses: vec![],
        profiles: vec![],
    }
}

impl Guest for WebForm {
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        let settings = Settings::parse(&request.settings);
        let asked = request.query.iter().find(|(k, _)| k == "lang").map(|(_, v)| v.clone());
        let json = header(&request, "content-type").is_some_and(|t| t.to_ascii_lowercase().contains("json"));
        let submission = match request.method.to_ascii_uppercase().as_str() {
            "GET" => None,
            "POST" if json => Some(Submission::from_json(&request.body)?),
            "POST" => Some(Submission::from_form(&request.body)),
            _ => return Err(ParseError::Malformed("use GET for the form and POST to send it".into())),
        };
        let locale = submission.as_ref().and_then(|s| s.lang.clone()).or(asked).unwrap_or(settings.locale.clone());
        let strings = Strings::of(&locale);
        let text = consent::current(&settings.purpose, strings.locale);
        let Some(submission) = submission else {
            return Ok(answer(
                200,
                "text/html; charset=utf-8",
                form::page(&settings, &strings, text.as_ref(), None, &[]),
            ));
        };
        if !submission.trap.trim().is_empty() {
            // A robot: thanked like anyone, and nothing is kept.
            log::log(Level::Info, "a submission with the trap field filled was dropped");
            return Ok(thanks(json, &strings, &submission.email));
        }
        let errors = submission.check(&strings, &settings.subjects);
        if !errors.is_empty() {
            return Ok(if json {
                answer(422, "application/problem+json", form::problem(&errors))
            } else {
                answer(
                    422,
                    "text/html; charset=utf-8",
                    form::page(&settings, &strings, text.as_ref(), Some(&submission), &errors),
                )
            });
        }
        let mut parsed = thanks(json, &strings, &submission.email);
        // The version the person was shown, when it still is a version; the
        // host checks it and records the answer against it.
        let version = submission.consent_version.or(text.as_ref().map(|t| t.version));
        parsed.messages.push(message(&settings, &strings, &submission, version));
        Ok(parsed)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let settings = Settings::parse(&message.settings);
        let from = Address { name: settings.display_name.clone(), email: settings.address.clone() };
        mail_kit::send(&from, mail_kit::smtp(&settings.value).as_ref(), &message)
    }

    fn mailbox(_settings: String) -> Option<Mailbox> {
        None
    }

    fn read_mail(_mail: IncomingMail, _settings: String) -> Option<MailMessage> {
        None
    }
}

/// The answer to a submission taken (or a robot's).
fn thanks(json: bool, strings: &Strings, email: &str) -> Parsed {
    if json {
        answer(202, "application/json", serde_json::json!({ "status": "received" }).to_string())
    } else {
        answer(200, "text/html; charset=utf-8", form::thanks_page(strings, email))
    }
}

/// A submission as a message for a case.
fn message(settings: &Settings, strings: &Strings, s: &Submission, version: Option<i32>) -> InboundMessage {
    let email = s.email.trim().to_ascii_lowercase();
    let mut body = s.message.trim().to_owned();
    if !s.phone.trim().is_empty() {
        body.push_str(&format!("\n\n{}: {}", strings.get("phone_line"), s.phone.trim()));
    }
    let subject = s.subject.trim();
    let sent_at = clock::now_ms();
    // Copies of one submission (a double click, a resent form) within a day
    // are one message.
    let id = fingerprint(&format!("{email}\n{subject}\n{}\n{}", s.message.trim(), sent_at / 86_400_000));
    let option = match version {
        Some(v) => format!("consent:grant:{}:v{v}", settings.purpose),
        None => format!("consent:grant:{}", settings.purpose),
    };
    InboundMessage {
        provider_message_id: format!("form-{id:016x}"),
        sender: email,
        sender_name: Some(s.name.trim().to_owned()),
        body,
        attachments: vec![],
        selected_option: Some(option),
        sent_at,
        thread_keys: if subject.is_empty() { vec![] } else { vec![format!("subject:{subject}")] },
    }
}

/// FNV-1a: stable and small; only copies of one submission need to agree.
fn fingerprint(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

ventanilla_sdk::mail_connector::export_mail_connector!(WebForm);
