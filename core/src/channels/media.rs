//! Files people send. A connector puts the provider's reference in an
//! inbound attachment; the message is committed with it (the webhook is
//! answered without waiting for any download), together with a
//! `media.fetch` job. The job asks the connector where each file is,
//! downloads it under the install's network grant (`plugins::media`),
//! checks it like an agent's upload (size, allowed type, content matching
//! the type), keeps it by content hash, and points the message at the kept
//! copy. A file the provider no longer has, or one too large or of a type
//! this server refuses, is marked with why; the message keeps its text.

use std::time::Duration;

use crate::automation::record_call;
use crate::domain::MessageId;
use crate::domain::message::Attachment;
use crate::plugins::media::{Downloaded, NotFetched};
use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{self, job::Job};

/// Runs a `media.fetch` job for one inbound message.
pub async fn fetch(services: &Services, job: &Job) -> Outcome {
    let message = match super::job_message(services, job).await {
        Ok(message) => message,
        Err(outcome) => return outcome,
    };
    let mut files = message.attachments.clone();
    if !files.iter().any(Attachment::awaits_download) {
        return Outcome::Done;
    }
    let Some(install_id) = message.channel_install_id else {
        return give_up(services, message.id, files, "the message came through no channel account").await;
    };
    let connector = match super::connector(services, install_id).await {
        Ok(connector) => connector,
        Err(super::Unavailable::NotFound) => {
            return give_up(services, message.id, files, "the channel account was removed").await;
        }
        // A paused account keeps its files waiting until it runs again.
        Err(super::Unavailable::Stopped) => return Outcome::Later(Duration::from_secs(300)),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let Some(media) = connector.plugin.media.clone() else {
        let why = format!(
            "{} {} cannot download files (it predates plugin contract 1.2); update the plugin",
            connector.install.plugin_id, connector.install.version
        );
        return give_up(services, message.id, files, &why).await;
    };
    let ctx = match crate::automation::context(services, &connector.install, &connector.manifest, None).await {
        Ok(ctx) => ctx,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let last_try = job.attempts >= crate::store::job::JobKind::MediaFetch.max_attempts();
    let config = &services.attachments.config;
    let timeout = Duration::from_secs(config.download_timeout_secs.max(1));
    let mut again = None;
    for file in files.iter_mut().filter(|f| f.awaits_download()) {
        let started = std::time::Instant::now();
        let result = services
            .plugins
            .run_fetch_media(
                &media,
                ctx.clone(),
                file.reference.clone(),
                connector.install.settings.to_string(),
                config.max_bytes,
                timeout,
            )
            .await;
        let plugin_error = result.as_ref().err().map(ToString::to_string);
        record_call(services, install_id, started.elapsed(), plugin_error.as_deref()).await;
        let failure = match result {
            Ok((Ok(downloaded), _)) => match keep(services, file, downloaded).await {
                Ok(()) => continue,
                Err(Kept::Refused(why)) => NotFetched::Gone(why),
                Err(Kept::Store(why)) => NotFetched::Retry(why),
            },
            Ok((Err(failure), _)) => failure,
            // The plugin itself failed: worth another try, like a send.
            Err(e) => NotFetched::Retry(e.to_string()),
        };
        match failure {
            NotFetched::Retry(why) if !last_try => {
                again.get_or_insert(why);
            }
            NotFetched::Gone(why) | NotFetched::Retry(why) => {
                tracing::info!(message = %message.id, file = %file.file_name, reason = %why, "a file was not kept");
                file.error = Some(why);
            }
        }
    }
    if files != message.attachments {
        match save(services, message.id, &files).await {
            Ok(()) => {}
            // Erased meanwhile (a contact's data deleted): nothing to point at.
            Err(store::Error::NotFound(_)) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        }
    }
    match again {
        Some(why) => Outcome::Retry(why),
        None => Outcome::Done,
    }
}

/// Why a downloaded file was not kept.
enum Kept {
    /// Not a file this server accepts.
    Refused(String),
    /// The disk or the database failed.
    Store(String),
}

/// Checks a downloaded file, keeps it, and points `file` at the kept copy.
async fn keep(services: &Services, file: &mut Attachment, downloaded: Downloaded) -> Result<(), Kept> {
    let generic = |t: &String| t.is_empty() || t.starts_with("application/octet-stream");
    let declared = Some(file.content_type.clone()).filter(|t| !generic(t));
    // What the provider says when asked beats the webhook's guess (Meta
    // calls every picture a JPEG); the content is checked against it anyway.
    let content_type = downloaded
        .located_type
        .or(downloaded.served_type)
        .or(declared)
        .unwrap_or_else(|| "application/octet-stream".into());
    let essence =
        services.attachments.check(&content_type, &downloaded.bytes).map_err(|e| Kept::Refused(e.to_string()))?;
    let size_bytes = downloaded.bytes.len() as u64;
    let hash = services
        .attachments
        .put(downloaded.bytes)
        .await
        .map_err(|e| Kept::Store(format!("cannot keep the file: {e}")))?;
    let stored = store::attachment::Stored { hash: hash.clone(), content_type: essence.clone(), size_bytes };
    let recorded = async {
        let tx = services.store.begin().await?;
        store::attachment::record(&*tx, &stored, None).await?;
        tx.commit().await
    };
    recorded.await.map_err(|e| Kept::Store(e.to_string()))?;
    file.reference = format!("{}{hash}", crate::domain::message::REFERENCE_PREFIX);
    file.content_type = essence;
    file.size_bytes = size_bytes;
    Ok(())
}

/// Marks every file still waiting as not kept, for `why`.
async fn give_up(services: &Services, message: MessageId, mut files: Vec<Attachment>, why: &str) -> Outcome {
    for file in files.iter_mut().filter(|f| f.awaits_download()) {
        file.error = Some(why.to_owned());
    }
    match save(services, message, &files).await {
        Ok(()) | Err(store::Error::NotFound(_)) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

async fn save(services: &Services, message: MessageId, files: &[Attachment]) -> Result<(), store::Error> {
    let tx = services.store.begin().await?;
    store::message::set_attachments_in(&*tx, message, files).await?;
    tx.commit().await
}
