//! E-mail through the host (WIT 1.3 `mail` and the `mail-connector` world).
//!
//! The host holds what the sandbox should not: the connections to mail
//! servers (only those in the install's `mail_hosts` grant, resolved and
//! checked like plugins' HTTP, passwords taken from the install's secrets)
//! and the MIME coding, so neither a password nor the bytes of an attached
//! file ever enter the plugin. The plugin decides what a message means and
//! what to write.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, InstancePre, Linker};

use super::connector;
use super::host::HostState;
use super::{CallContext, Error, PluginHost};

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        world: "mail-connector",
        path: "../sdk/wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "ventanilla:plugin/types": crate::plugins::bot::bindings::ventanilla::plugin::types,
            "ventanilla:plugin/log": crate::plugins::bot::bindings::ventanilla::plugin::log,
            "ventanilla:plugin/kv": crate::plugins::bot::bindings::ventanilla::plugin::kv,
            "ventanilla:plugin/clock": crate::plugins::bot::bindings::ventanilla::plugin::clock,
            "ventanilla:plugin/http": crate::plugins::connector::bindings::ventanilla::plugin::http,
            "ventanilla:plugin/secrets": crate::plugins::connector::bindings::ventanilla::plugin::secrets,
            "ventanilla:plugin/outbound": crate::plugins::connector::bindings::ventanilla::plugin::outbound,
            "ventanilla:plugin/templates": crate::plugins::connector::bindings::ventanilla::plugin::templates,
            "ventanilla:plugin/consent": crate::plugins::connector::bindings::ventanilla::plugin::consent,
        },
    });
}

pub use bindings::Mailbox as MailboxSpec;
use bindings::ventanilla::plugin::mail as wit;
pub use wit::{Address, IncomingMail, OutgoingMail, Security, Server};

/// Longest text handed to a plugin for one message.
pub const MAX_TEXT_BYTES: usize = 128 * 1024;

/// Most addresses (or message ids) taken from one header.
const MAX_ADDRESSES: usize = 50;

/// Most files taken from one message.
const MAX_PARTS: usize = 50;

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<(), Error> {
    wit::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
        .map_err(|e| Error::Cache(format!("mail linker: {e}")))
}

/// The exports of a connector built for the `mail-connector` world.
#[derive(Clone)]
pub struct MailPlugin {
    pre: bindings::MailConnectorPre<HostState>,
}

impl MailPlugin {
    /// The mail exports of an instantiable connector; none for other connectors.
    pub(super) fn of(pre: &InstancePre<HostState>) -> Option<MailPlugin> {
        bindings::MailConnectorPre::new(pre.clone()).ok().map(|pre| MailPlugin { pre })
    }
}

impl PluginHost {
    /// Asks a mail connector which mailbox the host should read for it.
    pub async fn run_mailbox(
        &self,
        mail: &MailPlugin,
        ctx: CallContext,
        settings: String,
    ) -> Result<Option<MailboxSpec>, Error> {
        let (host, mail) = (self.clone(), mail.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            let call = async {
                let instance = mail.pre.instantiate_async(&mut store).await?;
                instance.call_mailbox(&mut store, &settings).await
            };
            let result = host.within_wall(call).await;
            Ok(PluginHost::settle(&mut store, result)?.0)
        })
        .await
    }

    /// Hands one decoded message to a mail connector: what it means, as
    /// a webhook's parse would say it (no message for an auto-reply).
    pub async fn run_read_mail(
        &self,
        mail: &MailPlugin,
        ctx: CallContext,
        incoming: IncomingMail,
        settings: String,
    ) -> Result<(connector::Parsed, Vec<(String, String)>), Error> {
        let (host, mail) = (self.clone(), mail.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            let call = async {
                let instance = mail.pre.instantiate_async(&mut store).await?;
                instance.call_read_mail(&mut store, &incoming, &settings).await
            };
            let result = host.within_wall(call).await;
            let (message, logs) = PluginHost::settle(&mut store, result)?;
            let parsed = connector::Parsed {
                response_status: 202,
                response_body: vec![],
                response_content_type: String::new(),
                messages: message
                    .into_iter()
                    .map(|m| connector::InboundMessage {
                        provider_message_id: m.provider_message_id,
                        sender: m.sender,
                        sender_name: m.sender_name,
                        body: m.body,
                        attachments: m.attachments,
                        selected_option: None,
                        sent_at: m.sent_at,
                        thread_keys: m.thread_keys,
                    })
                    .collect(),
                statuses: vec![],
                profiles: vec![],
            };
            connector::check_parsed(&parsed, host.limits.max_output_bytes)?;
            Ok((parsed, logs))
        })
        .await
    }
}

/// A message the host decoded, with the bytes of its attached files.
pub struct Decoded {
    pub mail: IncomingMail,
    /// `(reference, bytes)` of each file in `mail.attachments`.
    pub parts: Vec<(String, Vec<u8>)>,
}

impl Decoded {
    /// The bytes of the file a `part:<n>` reference names.
    pub fn part(&self, reference: &str) -> Option<&[u8]> {
        self.parts.iter().find(|(r, _)| r == reference).map(|(_, b)| b.as_slice())
    }
}

/// Headers that tell machines apart from people; handed to the plugin.
const TOLD_HEADERS: [&str; 8] = [
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "content-type",
];

/// Decodes an RFC 822 message; `None` when the bytes are not one (no
/// header, or no sender).
pub fn decode(raw: &[u8]) -> Option<Decoded> {
    use mail_parser::{HeaderValue as Value, MimeHeaders};
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let addresses = |list: Option<&mail_parser::Address<'_>>| -> Vec<Address> {
        list.map(|l| {
            l.iter()
                .take(MAX_ADDRESSES)
                .filter_map(|a| {
                    let email = a.address()?.trim().to_owned();
                    let name = a.name().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
                    (!email.is_empty()).then_some(Address { name, email })
                })
                .collect()
        })
        .unwrap_or_default()
    };
    let from = addresses(message.from());
    if from.is_empty() {
        return None;
    }
    let ids = |value: &Value<'_>| -> Vec<String> {
        let listed: Vec<&str> = match value {
            Value::Text(id) => vec![id.as_ref()],
            Value::TextList(ids) => ids.iter().map(|id| id.as_ref()).collect(),
            _ => vec![],
        };
        listed
            .into_iter()
            .flat_map(str::split_whitespace)
            .map(|id| id.trim_matches(['<', '>']).to_owned())
            .filter(|id| !id.is_empty())
            .take(MAX_ADDRESSES)
            .collect()
    };
    let text: Vec<String> =
        (0..message.text_body_count()).filter_map(|i| message.body_text(i)).map(|t| t.into_owned()).collect();
    let mut text = text.join("\n").replace("\r\n", "\n");
    truncate(&mut text, MAX_TEXT_BYTES);
    let headers = message
        .headers_raw()
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            TOLD_HEADERS.contains(&name.as_str()).then(|| {
                let mut value = value.split_whitespace().collect::<Vec<_>>().join(" ");
                truncate(&mut value, 1024);
                (name, value)
            })
        })
        .collect();
    let mut attachments = vec![];
    let mut parts = vec![];
    for (n, part) in message.attachments().take(MAX_PARTS).enumerate() {
        // A forwarded message is one file, like any other attachment.
        let bytes = if part.is_message() {
            let (start, end) = (part.raw_body_offset() as usize, part.raw_end_offset() as usize);
            raw.get(start..end).unwrap_or_default().to_vec()
        } else {
            part.contents().to_vec()
        };
        let content_type = part
            .content_type()
            .map(|t| match t.subtype() {
                Some(sub) => format!("{}/{sub}", t.ctype()),
                None => t.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let reference = format!("part:{n}");
        attachments.push(super::bot::Attachment {
            file_name: part.attachment_name().map(str::to_owned).unwrap_or_else(|| format!("adjunto-{}", n + 1)),
            content_type,
            size_bytes: bytes.len() as u64,
            reference: reference.clone(),
        });
        parts.push((reference, bytes));
    }
    let mail = IncomingMail {
        message_id: message.message_id().map(|id| id.trim_matches(['<', '>', ' ']).to_owned()).unwrap_or_default(),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        from,
        reply_to: addresses(message.reply_to()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        subject: message.subject().map(|s| s.trim().to_owned()).unwrap_or_default(),
        sent_at: message.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp() * 1000),
        text,
        headers,
        attachments,
    };
    Some(Decoded { mail, parts })
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// The files a `submit` may attach: those of the message being sent.
#[derive(Clone)]
pub struct OutboundFiles {
    pub store: crate::attachments::Attachments,
    /// `sha256:<hex>` references of the message's files.
    pub allowed: Vec<String>,
}

/// Headers a plugin may not set itself: the host writes them from the
/// message's fields.
const HOST_HEADERS: [&str; 12] = [
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "date",
    "mime-version",
    "content-type",
];

/// Where a server is: its granted name, resolved, and refused if the
/// address is private unless the operator listed it.
pub(crate) async fn mail_server(
    server: &Server,
    granted: &[String],
    private_hosts: &[String],
) -> Result<std::net::SocketAddr, wit::MailError> {
    let denied = |why: String| wit::MailError::Denied(why);
    let host = server.host.trim_end_matches('.').to_ascii_lowercase();
    if !super::net::host_granted(&host, granted) {
        return Err(denied(format!("mail server `{host}` was not granted to this plugin")));
    }
    let listed = private_hosts.iter().any(|h| *h == format!("{host}:{}", server.port));
    if server.security == Security::None && !listed {
        return Err(denied(format!("`{host}` without TLS: only for a server listed in plugins.private_hosts")));
    }
    let addresses: Vec<_> = tokio::net::lookup_host((host.as_str(), server.port))
        .await
        .map_err(|e| wit::MailError::Retry(format!("cannot resolve `{host}`: {e}")))?
        .collect();
    if !listed {
        super::net::check_resolved(&host, &addresses).map_err(|e| denied(e.to_string()))?;
    }
    addresses.first().copied().ok_or_else(|| wit::MailError::Retry(format!("`{host}` has no address")))
}

/// The password of a mailbox the host reads for an install: the named
/// secret, if it was granted and is set (and is text).
pub(crate) fn password(ctx: &CallContext, name: &str) -> Option<String> {
    if !ctx.grants.secrets.iter().any(|s| s == name) {
        return None;
    }
    ctx.secrets.get(name).and_then(|value| String::from_utf8(value.bytes().to_vec()).ok())
}

/// The bytes of the files to attach: only those of the message being sent.
async fn mail_files(
    attachments: &[super::bot::Attachment],
    outbound: Option<OutboundFiles>,
) -> Result<Vec<(super::bot::Attachment, Vec<u8>)>, wit::MailError> {
    let mut files = vec![];
    for file in attachments {
        let allowed = outbound.as_ref().filter(|f| f.allowed.contains(&file.reference));
        let (Some(outbound), Some(hash)) = (allowed, crate::domain::message::hash_of(&file.reference)) else {
            return Err(wit::MailError::Rejected(format!(
                "`{}` is not a file of the message being sent",
                file.file_name
            )));
        };
        let bytes = outbound
            .store
            .read(hash)
            .await
            .map_err(|e| wit::MailError::Retry(format!("cannot read `{}`: {e}", file.file_name)))?;
        files.push((file.clone(), bytes));
    }
    Ok(files)
}

impl HostState {
    fn mail_password(&self, name: &str) -> Result<String, wit::MailError> {
        if !self.grants.secrets.iter().any(|s| s == name) {
            return Err(wit::MailError::Denied(format!("secret `{name}` was not granted")));
        }
        let value = self
            .secrets
            .get(name)
            .ok_or_else(|| wit::MailError::Rejected(format!("secret `{name}` is not set for this install")))?;
        String::from_utf8(value.bytes().to_vec())
            .map_err(|_| wit::MailError::Rejected(format!("secret `{name}` is not text")))
    }
}

/// Writes the message as MIME.
fn compose(
    message: &OutgoingMail,
    files: Vec<(super::bot::Attachment, Vec<u8>)>,
) -> Result<lettre::Message, wit::MailError> {
    let invalid = |why: String| wit::MailError::Rejected(format!("invalid message: {why}"));
    let one_line = |text: &str| text.replace(['\r', '\n'], " ");
    let mailbox = |a: &Address| -> Result<Mailbox, wit::MailError> {
        let email = a.email.trim().parse::<lettre::Address>().map_err(|e| invalid(format!("`{}`: {e}", a.email)))?;
        Ok(Mailbox::new(a.name.as_deref().map(one_line).filter(|n| !n.trim().is_empty()), email))
    };
    let id = |id: &str| -> Result<String, wit::MailError> {
        let ok = !id.is_empty()
            && id.len() <= 250
            && id.contains('@')
            && id.chars().all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
        if ok { Ok(format!("<{id}>")) } else { Err(invalid(format!("`{id}` is not a message id"))) }
    };
    if message.to.is_empty() && message.cc.is_empty() {
        return Err(invalid("no recipient".into()));
    }
    let mut builder = lettre::Message::builder()
        .from(mailbox(&message.from)?)
        .subject(one_line(&message.subject))
        .message_id(Some(id(&message.message_id)?))
        .date_now();
    for to in &message.to {
        builder = builder.to(mailbox(to)?);
    }
    for cc in &message.cc {
        builder = builder.cc(mailbox(cc)?);
    }
    if let Some(reply_to) = &message.reply_to {
        builder = builder.reply_to(mailbox(reply_to)?);
    }
    if let Some(parent) = &message.in_reply_to {
        builder = builder.in_reply_to(id(parent)?);
    }
    if !message.references.is_empty() {
        let references = message.references.iter().map(|r| id(r)).collect::<Result<Vec<_>, _>>()?;
        builder = builder.references(references.join(" "));
    }
    for (name, value) in &message.headers {
        let lower = name.to_ascii_lowercase();
        if HOST_HEADERS.contains(&lower.as_str()) || lower.starts_with("content-") {
            return Err(invalid(format!("header `{name}` is written by the host")));
        }
        let name =
            HeaderName::new_from_ascii(name.clone()).map_err(|_| invalid(format!("`{name}` is not a header name")))?;
        builder = builder.raw_header(HeaderValue::new(name, one_line(value)));
    }
    let text = SinglePart::plain(message.text.replace("\r\n", "\n"));
    let built = if files.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for (file, bytes) in files {
            let content_type = ContentType::parse(&file.content_type)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                .map_err(|e| invalid(e.to_string()))?;
            parts = parts.singlepart(MimeAttachment::new(one_line(&file.file_name)).body(bytes, content_type));
        }
        builder.multipart(parts)
    };
    built.map_err(|e| invalid(e.to_string()))
}

impl wit::Host for HostState {
    async fn submit(&mut self, server: Server, message: OutgoingMail) -> Result<(), wit::MailError> {
        let (granted, private_hosts) = (self.grants.mail_hosts.clone(), self.limits.private_hosts.clone());
        let address = mail_server(&server, &granted, &private_hosts).await?;
        let password = self.mail_password(&server.password_secret)?;
        let files = mail_files(&message.attachments, self.outbound_files.clone()).await?;
        let email = compose(&message, files)?;
        // A send retried after a crash (or a failed commit) must not mail twice.
        let journal = match (&self.send_key, &self.db) {
            (Some(key), Some(db)) => {
                let recipients: Vec<&str> = message.to.iter().chain(&message.cc).map(|a| a.email.as_str()).collect();
                let digest =
                    hex::encode(Sha256::digest(format!("smtp {} {}", message.message_id, recipients.join(","))));
                Some((key.clone(), format!("smtp:{digest}"), db.clone()))
            }
            _ => None,
        };
        if let Some((key, digest, db)) = &journal {
            match crate::store::send_journal::find(&db.db, key, digest).await {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => {}
                Err(e) => return Err(wit::MailError::Retry(format!("cannot read the send journal: {e}"))),
            }
        }
        let (_, extra) =
            crate::tls::trusted_roots(self.limits.trusted_ca_file.as_deref()).map_err(wit::MailError::Rejected)?;
        let tls = |host: &str| {
            let mut params = TlsParameters::builder(host.to_owned());
            for der in &extra {
                params = params.add_root_certificate(
                    lettre::transport::smtp::client::Certificate::from_der(der.clone())
                        .map_err(|e| wit::MailError::Rejected(format!("TLS: {e}")))?,
                );
            }
            params.build().map_err(|e| wit::MailError::Rejected(format!("TLS: {e}")))
        };
        let tls = match server.security {
            Security::Tls => Tls::Wrapper(tls(&server.host)?),
            Security::Starttls => Tls::Required(tls(&server.host)?),
            Security::None => Tls::None,
        };
        let hello =
            message.from.email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_else(|| "localhost".into());
        let remaining = self.deadline.saturating_duration_since(std::time::Instant::now());
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
            .port(address.port())
            .tls(tls)
            .hello_name(ClientId::Domain(hello))
            .credentials(Credentials::new(server.user.clone(), password))
            .timeout(Some(remaining.min(Duration::from_millis(self.limits.http_timeout_ms))))
            .build();
        match transport.send(email).await {
            Ok(_) => {}
            Err(e) if e.is_permanent() => return Err(wit::MailError::Rejected(format!("the server refused: {e}"))),
            Err(e) => return Err(wit::MailError::Retry(format!("cannot submit: {e}"))),
        }
        if let Some((key, digest, db)) = journal {
            let journaled = async {
                let tx = db.begin().await?;
                crate::store::send_journal::record(&*tx, &key, &digest, &(250, vec![], vec![])).await?;
                tx.commit().await
            };
            if let Err(e) = journaled.await {
                tracing::warn!(install = %self.install, error = %e, "cannot journal a submitted e-mail");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &[u8] = b"From: =?utf-8?q?Mar=C3=ADa_P=C3=A9rez?= <maria@example.com>\r\n\
To: ayuda@uni.edu.co\r\n\
Subject: =?utf-8?q?Certificado_de_notas_=5B=23123=5D?=\r\n\
Message-ID: <abc@mail.example.com>\r\n\
In-Reply-To: <out-1@uni.edu.co>\r\n\
References: <first@mail.example.com> <out-1@uni.edu.co>\r\n\
Date: Mon, 23 Nov 2026 10:00:00 -0500\r\n\
Auto-Submitted: no\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hola, necesito mi <b>certificado</b>.</p><script>alert(1)</script>\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"cedula.pdf\"\r\n\
Content-Disposition: attachment; filename=\"cedula.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b1--\r\n";

    #[test]
    fn a_message_is_decoded_for_the_plugin() {
        let decoded = decode(RAW).expect("a message");
        let mail = &decoded.mail;
        assert_eq!(mail.from[0].email, "maria@example.com");
        assert_eq!(mail.from[0].name.as_deref(), Some("María Pérez"));
        assert_eq!(mail.subject, "Certificado de notas [#123]");
        assert_eq!(mail.message_id, "abc@mail.example.com");
        assert_eq!(mail.in_reply_to, ["out-1@uni.edu.co"]);
        assert_eq!(mail.references, ["first@mail.example.com", "out-1@uni.edu.co"]);
        assert!(mail.text.contains("certificado") && !mail.text.contains('<'), "HTML became text: {:?}", mail.text);
        assert!(!mail.text.contains("alert"), "scripts are dropped: {:?}", mail.text);
        assert!(mail.headers.contains(&("auto-submitted".into(), "no".into())));
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].file_name, "cedula.pdf");
        assert_eq!(mail.attachments[0].content_type, "application/pdf");
        assert_eq!(decoded.part(&mail.attachments[0].reference), Some(&b"%PDF-1.4\n"[..]));
        assert!(mail.sent_at.is_some());
    }

    #[test]
    fn what_is_not_a_message_is_refused() {
        assert!(decode(b"").is_none());
        assert!(decode(b"no headers here, only words").is_none());
    }

    fn outgoing() -> OutgoingMail {
        OutgoingMail {
            from: Address { name: Some("Ventanilla UNI".into()), email: "ayuda@uni.edu.co".into() },
            to: vec![Address { name: None, email: "maria@example.com".into() }],
            cc: vec![],
            reply_to: None,
            subject: "Re: Certificado [#123]".into(),
            text: "Hola María,\nya está listo.".into(),
            message_id: "out-2@uni.edu.co".into(),
            in_reply_to: Some("abc@mail.example.com".into()),
            references: vec!["abc@mail.example.com".into()],
            headers: vec![("Auto-Submitted".into(), "auto-replied".into())],
            attachments: vec![],
        }
    }

    #[test]
    fn outgoing_mail_is_written_with_threading_headers() {
        let email = compose(&outgoing(), vec![]).expect("composed");
        let text = String::from_utf8(email.formatted()).expect("utf-8");
        assert!(text.contains("Message-ID: <out-2@uni.edu.co>"), "{text}");
        assert!(text.contains("In-Reply-To: <abc@mail.example.com>"), "{text}");
        assert!(text.contains("References: <abc@mail.example.com>"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
        let back = decode(&email.formatted()).expect("decodes");
        assert_eq!(back.mail.subject, "Re: Certificado [#123]");
        assert!(back.mail.text.contains("ya está listo"));
    }

    #[test]
    fn plugins_cannot_forge_structural_headers_or_inject_lines() {
        let mut bcc = outgoing();
        bcc.headers = vec![("Bcc".into(), "spy@example.com".into())];
        assert!(matches!(compose(&bcc, vec![]), Err(wit::MailError::Rejected(_))));
        let mut injected = outgoing();
        injected.headers = vec![("X-Note".into(), "a\r\nBcc: spy@example.com".into())];
        let email = compose(&injected, vec![]).expect("composed");
        let text = String::from_utf8(email.formatted()).expect("utf-8");
        assert!(!text.lines().any(|l| l.starts_with("Bcc:")), "{text}");
        let mut bad_id = outgoing();
        bad_id.message_id = "x> <y@z".into();
        assert!(compose(&bad_id, vec![]).is_err());
    }
}
