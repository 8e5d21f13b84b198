//! E-mail in: raw RFC 822 messages posted to a mail connector's webhook. The host decodes
//! them, the connector says what they mean (`read-mail`), and the files
//! they carry are kept before anything is committed: the bytes are here
//! already, so there is nothing to download later.

use super::Connector;
use crate::plugins::connector::{ParseError, Parsed};
use crate::plugins::mail::Decoded;
use crate::services::Services;
use crate::store;

/// An attachment reference that says why the file was not kept; the
/// message keeps the file's name with that reason.
pub const REFUSED: &str = "refused:";

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The connector refused it (unauthorized, or not something it reads).
    #[error("{0:?}")]
    Refused(ParseError),
    /// The plugin failed, or the server could not keep a file: try again.
    #[error("{0}")]
    Failed(String),
}

/// Hands a decoded message to the connector and keeps the files its answer
/// names: what is left to commit. An error means "try again later": the
/// plugin failed, or a file could not be kept.
pub async fn read(services: &Services, connector: &Connector, decoded: &Decoded) -> Result<Parsed, String> {
    let Some(mail) = &connector.plugin.mail else {
        return Err("the connector does not read e-mail".into());
    };
    let ctx = crate::automation::context(services, &connector.install, &connector.manifest, None)
        .await
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let settings = connector.install.settings.to_string();
    let result = services.plugins.run_read_mail(mail, ctx, decoded.mail.clone(), settings).await;
    let error = result.as_ref().err().map(ToString::to_string);
    crate::automation::record_call(services, connector.install.id, started.elapsed(), error.as_deref()).await;
    let (mut parsed, _logs) = result.map_err(|e| e.to_string())?;
    keep_parts(services, decoded, &mut parsed).await.map_err(|e| e.to_string())?;
    Ok(parsed)
}

/// Keeps the files the connector named by `part:<n>`, pointing the
/// attachments at the kept copies. A file this server does not take (type,
/// size, content) stays on the message by name, marked with the reason.
async fn keep_parts(services: &Services, decoded: &Decoded, parsed: &mut Parsed) -> Result<(), store::Error> {
    let mut kept = vec![];
    for file in parsed.messages.iter_mut().flat_map(|m| m.attachments.iter_mut()) {
        let Some(bytes) = decoded.part(&file.reference) else {
            file.reference = format!("{REFUSED}the message has no such part");
            continue;
        };
        let checked = if bytes.len() > services.attachments.config.max_bytes {
            Err(format!("larger than {} bytes", services.attachments.config.max_bytes))
        } else {
            services.attachments.check(&file.content_type, bytes).map_err(|e| e.to_string())
        };
        let content_type = match checked {
            Ok(essence) => essence,
            Err(why) => {
                file.reference = format!("{REFUSED}{why}");
                continue;
            }
        };
        let hash = services
            .attachments
            .put(bytes.to_vec())
            .await
            .map_err(|e| store::Error::Corrupt(format!("cannot keep a file: {e}")))?;
        file.reference = format!("{}{hash}", crate::domain::message::REFERENCE_PREFIX);
        file.content_type = content_type.clone();
        file.size_bytes = bytes.len() as u64;
        kept.push(store::attachment::Stored { hash, content_type, size_bytes: bytes.len() as u64 });
    }
    if !kept.is_empty() {
        let tx = services.store.begin().await?;
        for stored in &kept {
            store::attachment::record(&*tx, stored, None).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
