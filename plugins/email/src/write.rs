//! Answers, written for the person's mail program: threaded, with the case
//! token in the subject so their reply comes back to the case.

use crate::Settings;
use ventanilla_sdk::mail_connector::ventanilla::plugin::mail::{self, Address, MailError, OutgoingMail};
use ventanilla_sdk::mail_connector::ventanilla::plugin::outbound;
use ventanilla_sdk::mail_connector::ventanilla::plugin::types::AuthorKind;
use ventanilla_sdk::mail_connector::{OutboundMessage, SendError, SendReceipt};

/// Most earlier message ids put in References.
const MAX_REFERENCES: usize = 10;

pub fn send(settings: &Settings, message: &OutboundMessage) -> Result<SendReceipt, SendError> {
    let fail = |message: String| SendError { message, retryable: false };
    let Some(server) = &settings.smtp else { return Err(fail("the install has no smtp settings".into())) };
    if settings.address.is_empty() {
        return Err(fail("the install has no address".into()));
    }
    let domain = settings.address.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let message_id = format!("{}@{domain}", message.idempotency_key);
    let earlier: Vec<&String> =
        message.thread_keys.iter().filter(|k| !k.starts_with("case:") && !k.starts_with("subject:")).collect();
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
        from: Address { name: settings.display_name.clone(), email: settings.address.clone() },
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
