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

use serde_json::Value;
use ventanilla_sdk::mail_connector::ventanilla::plugin::mail::{Address, IncomingMail, MailMessage, Security, Server};
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

impl Settings {
    pub(crate) fn parse(text: &str) -> Settings {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let imap = mail_kit::server(&value["imap"], 993, Security::Tls, "imap_password")
            .map(|s| (s, value["imap"]["folder"].as_str().unwrap_or("INBOX").to_owned()));
        Settings {
            address: value["address"].as_str().unwrap_or_default().trim().to_ascii_lowercase(),
            display_name: value["display_name"].as_str().map(str::to_owned).filter(|n| !n.trim().is_empty()),
            smtp: mail_kit::smtp(&value),
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
    /// A raw message posted by a mail gateway (`message/rfc822`): the caller
    /// must present the install's `webhook_token`; the host then decodes the
    /// body.
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        let is_message = header(&request, "content-type")
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("message/rfc822"));
        if !request.method.eq_ignore_ascii_case("POST") || !is_message {
            return Err(ParseError::Malformed("post the raw message with Content-Type: message/rfc822".into()));
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
        let settings = Settings::parse(&message.settings);
        let from = Address { name: settings.display_name.clone(), email: settings.address.clone() };
        mail_kit::send(&from, settings.smtp.as_ref(), &message)
    }

    fn mailbox(settings: String) -> Option<Mailbox> {
        Settings::parse(&settings).imap.map(|(server, folder)| Mailbox { server, folder })
    }

    fn read_mail(mail: IncomingMail, settings: String) -> Option<MailMessage> {
        read::read(&Settings::parse(&settings), mail)
    }
}

ventanilla_sdk::mail_connector::export_mail_connector!(Email);
