//! Mail the server itself sends (scheduled reports), through the
//! institution's SMTP server named in `[mail]`: not a channel account, so
//! a unit's mailbox is never used for it.

use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::MailConfig;

/// A file attached to a message.
pub struct File {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Sends a plain-text message with an optional file to `to`.
pub async fn send(
    config: &MailConfig,
    to: &[String],
    subject: &str,
    text: &str,
    file: Option<File>,
) -> Result<(), String> {
    let (Some(url), Some(from)) = (&config.smtp_url, &config.from) else {
        return Err("no outgoing mail server: set [mail] smtp_url and from".into());
    };
    let from = from.parse().map_err(|e| format!("[mail] from: {e}"))?;
    let mut builder = lettre::Message::builder().from(from).subject(subject);
    for address in to {
        builder = builder.to(address.parse().map_err(|e| format!("`{address}`: {e}"))?);
    }
    let body = SinglePart::plain(text.to_owned());
    let message = match file {
        Some(file) => {
            let kind = ContentType::parse(&file.content_type).map_err(|e| e.to_string())?;
            let attachment = Attachment::new(file.name).body(file.bytes, kind);
            builder.multipart(MultiPart::mixed().singlepart(body).singlepart(attachment))
        }
        None => builder.singlepart(body),
    }
    .map_err(|e| e.to_string())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
        .map_err(|e| format!("[mail] smtp_url: {e}"))?
        .timeout(Some(std::time::Duration::from_secs(30)))
        .build();
    transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
}
