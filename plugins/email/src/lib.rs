//! E-mail connector.
//!
//! The host does the transport and the MIME coding (WIT 1.3 `mail`); this
//! plugin decides what a message means and writes the answers:
//! - Inbound: the host reads the mailbox named in `imap` (new messages,
//!   marked seen once committed) and takes raw RFC 822 posts on the
//!   webhook with `Authorization: Bearer <webhook_token>`. Auto-replies,
//!   bounces and list mail are dropped, quoted history and signatures are
//!   cut from the text, and the message continues the case its
//!   In-Reply-To / References or the `[#123]` token in its subject names.
//! - Outbound: SMTP submission with a Message-ID made from the send's
//!   idempotency key, In-Reply-To and References to the conversation, and
//!   the case token in the subject, so answers thread in the person's mail
//!   program and their replies come back to the case.

mod read;
mod write;

use serde_json::Value;
use ventanilla_sdk::mail_connector::ventanilla::plugin::mail::{IncomingMail, MailMessage, Security, Server};
use ventanilla_sdk::mail_connector::ventanilla::plugin::secrets;
use ventanilla_sdk::mail_connector::{
    Guest, InboundRequest, Mailbox, OutboundMessage, ParseError, Parsed, SendError, SendReceipt,
};

struct Email;

/// The install's settings with their defaults.
pub(crate) struct Settings {
    pub address: String,
    pub display_name: Option<String>,
    pub smtp: Option<Server>,
    pub imap: Option<(Server, String)>,
}

fn server(value: &Value, port: u16, security: Security, secret: &str) -> Option<Server> {
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

impl Settings {
    pub(crate) fn parse(text: &str) -> Settings {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let imap = server(&value["imap"], 993, Security::Tls, "imap_password")
            .map(|s| (s, value["imap"]["folder"].as_str().unwrap_or("INBOX").to_owned()));
        Settings {
            address: value["address"].as_str().unwrap_or_default().trim().to_ascii_lowercase(),
            display_name: value["display_name"].as_str().map(str::to_owned).filter(|n| !n.trim().is_empty()),
            smtp: server(&value["smtp"], 587, Security::Starttls, "smtp_password"),
            imap,
        }
    }
}

/// The value of a request header, matched without regard to case.
fn header<'a>(request: &'a InboundRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// An answer with nothing parsed.
fn answer(status: u16, body: &str) -> Parsed {
    Parsed {
        response_status: status,
        response_body: body.as_bytes().to_vec(),
        response_content_type: "text/plain".into(),
        messages: vec![],
        statuses: vec![],
        profiles: vec![],
    }
}

impl Guest for Email {
    /// A raw message posted by a mail gateway: the caller must present the
    /// install's `webhook_token`; the host then decodes the body.
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        if !request.method.eq_ignore_ascii_case("POST") {
            return Err(ParseError::Malformed("post the raw RFC 822 message".into()));
        }
        let presented = header(&request, "authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
        if presented.is_empty() {
            return Err(ParseError::Unauthorized("missing Authorization: Bearer <webhook_token>".into()));
        }
        match secrets::equals("webhook_token", presented.trim()) {
            Ok(true) => Ok(answer(202, "accepted")),
            Ok(false) => Err(ParseError::Unauthorized("the token does not match".into())),
            Err(e) => Err(ParseError::Unauthorized(format!("cannot check the token: {e:?}"))),
        }
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        write::send(&Settings::parse(&message.settings), &message)
    }

    fn mailbox(settings: String) -> Option<Mailbox> {
        Settings::parse(&settings).imap.map(|(server, folder)| Mailbox { server, folder })
    }

    fn read_mail(mail: IncomingMail, settings: String) -> Option<MailMessage> {
        read::read(&Settings::parse(&settings), mail)
    }
}

ventanilla_sdk::mail_connector::export_mail_connector!(Email);
