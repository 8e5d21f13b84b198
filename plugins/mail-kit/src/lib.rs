//! What the e-mail connectors share (`email`, `web-form`): a mail server
//! from settings, and answers written for the person's mail program —
//! threaded, with the case token in the subject so their reply comes back
//! to the case.

use serde_json::Value;
use ventanilla_sdk::mail_connector::ventanilla::plugin::mail::{
    self, Address, MailError, OutgoingMail, Security, Server,
};
use ventanilla_sdk::mail_connector::ventanilla::plugin::outbound;
use ventanilla_sdk::mail_connector::ventanilla::plugin::types::AuthorKind;
use ventanilla_sdk::mail_connector::{OutboundMessage, SendError, SendReceipt};

/// Most earlier message ids put in References.
const MAX_REFERENCES: usize = 10;

/// A mail server from settings such as `{"host", "port", "security",
/// "user"}`, with the password in the install secret `secret`.
pub fn server(value: &Value, port: u16, security: Security, secret: &str) -> Option<Server> {
    Some(Server {
        host: value["host"].as_str()?.trim().to_owned(),
        port: value["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(port),
        security: match value["security"].as_str() {
            Some("tls") => Security::Tls,
            Some("starttls") => Security::Starttls,
            Some("none") => Security::None,
            _ => security,
        },
        user: value["user"].as_str()?.to_owned(),
        password_secret: secret.into(),
    })
}

/// The SMTP submission server of settings' `smtp` object (port 587 and
/// STARTTLS unless said otherwise; password: the secret `smtp_password`).
pub fn smtp(settings: &Value) -> Option<Server> {
    server(&settings["smtp"], 587, Security::Starttls, "smtp_password")
}

/// Sends `message` from `from` (the help desk's address) through `smtp`.
pub fn send(from: &Address, smtp: Option<&Server>, message: &OutboundMessage) -> Result<SendReceipt, SendError> {
    let fail = |message: String| SendError { message, retryable: false };
    let Some(server) = smtp else { return Err(fail("the install has no smtp settings".into())) };
    if from.email.is_empty() {
        return Err(fail("the install has no address".into()));
    }
    let domain = from.email.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let message_id = format!("{}@{domain}", message.idempotency_key);
    // Earlier e-mails of the case (a web form's submissions have ids, not Message-IDs).
    let earlier: Vec<&String> = message
        .thread_keys
        .iter()
        .filter(|k| !k.starts_with("case:") && !k.starts_with("subject:") && k.contains('@'))
        .collect();
    let key = |prefix: &str| message.thread_keys.iter().find_map(|k| k.strip_prefix(prefix)).map(str::trim);
    let subject = key("subject:").filter(|s| !s.is_empty()).unwrap_or("Su solicitud");
    let subject = match (key("case:"), earlier.is_empty()) {
        (Some(number), true) => format!("{subject} [#{number}]"),
        (Some(number), false) => format!("Re: {subject} [#{number}]"),
        (None, _) => subject.to_owned(),
    };
    let mut text = message.body.clone();
    for (n, option) in message.options.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", n + 1, option.label));
    }
    // Answers a bot or the system wrote are automatic (RFC 3834): the
    // person's auto-responder must not answer them back.
    let automatic = outbound::context().is_some_and(|c| matches!(c.author_kind, AuthorKind::Bot | AuthorKind::System));
    let outgoing = OutgoingMail {
        from: from.clone(),
        to: vec![Address { name: None, email: message.recipient.clone() }],
        cc: vec![],
        reply_to: None,
        subject,
        text,
        message_id: message_id.clone(),
        in_reply_to: earlier.last().map(|id| (*id).clone()),
        references: earlier.iter().rev().take(MAX_REFERENCES).rev().map(|id| (*id).clone()).collect(),
        headers: if automatic { vec![("Auto-Submitted".into(), "auto-replied".into())] } else { vec![] },
        attachments: message.attachments.clone(),
    };
    match mail::submit(server, &outgoing) {
        Ok(()) => Ok(SendReceipt { provider_message_id: message_id }),
        Err(MailError::Retry(why)) => Err(SendError { message: why, retryable: true }),
        Err(MailError::Rejected(why)) => Err(fail(why)),
        Err(MailError::Denied(why)) => Err(fail(format!("refused by the host: {why}"))),
    }
}
