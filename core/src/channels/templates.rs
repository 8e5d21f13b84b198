//! The message templates of channel accounts whose provider reviews them
//! (WhatsApp): read from the provider by the connector's `list-templates`,
//! every `channels.template_sync_secs` (a `templates.sync` job per account
//! and period, so however many instances run, one reading does the work)
//! and when an admin asks, and kept by the host
//! (`store::channel_template`). Once an account's templates were read, only
//! a template the provider approved, with a value for everything it takes,
//! is sent: checked when a message or campaign is written, and again just
//! before each send, so a template paused since is refused there.

use std::sync::Arc;

use crate::automation::record_call;
use crate::domain::channel_rules::{AfterWindow, Template};
use crate::domain::template::{AccountStanding, ProviderTemplate};
use crate::plugins::message_templates::NotListed;
use crate::services::Services;
use crate::store::job::{Job, JobKind, Outcome};
use crate::store::{self, channel_template::Changes};

/// Why an account's templates were not read.
#[derive(Debug, thiserror::Error)]
pub enum NotSynced {
    /// No such running channel account, or one whose connector reads no
    /// templates.
    #[error("{0}")]
    NotReadable(String),
    /// The provider refused (the account's settings or credentials).
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The provider, the network or the plugin failed; try again later.
    #[error("{0}")]
    Passing(String),
    #[error("{0}")]
    Store(#[from] store::Error),
}

/// Starts the loop that schedules template readings, unless turned off.
pub fn spawn(services: Arc<Services>) {
    let every = services.config.channels.template_sync_secs;
    super::every(services, every, "template readings", move |services| async move {
        super::enqueue_per_account(&services, JobKind::TemplatesSync, every, |c| async move { keeps_templates(&c) })
            .await
    });
}

/// Whether the account's channel sends reviewed templates and its connector
/// can read them.
fn keeps_templates(connector: &super::Connector) -> bool {
    connector.plugin.templates.is_some() && connector.manifest.rules.after_window == AfterWindow::Template
}

/// Runs a `templates.sync` job.
pub async fn run(services: &Services, job: &Job) -> Outcome {
    let Some(install_id) = job.payload["install_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return Outcome::Dead("payload has no `install_id`".into());
    };
    match sync(services, install_id).await {
        Ok(_) => Outcome::Done,
        // Noted on the account, where its admin sees it; the next period tries again.
        Err(NotSynced::NotReadable(_) | NotSynced::Refused(_)) => Outcome::Done,
        Err(NotSynced::Passing(why)) => Outcome::Retry(why),
        Err(NotSynced::Store(e)) => Outcome::Retry(e.to_string()),
    }
}

/// Reads the account's templates from its provider now and keeps them.
pub async fn sync(services: &Services, install_id: uuid::Uuid) -> Result<Changes, NotSynced> {
    let connector = match super::connector(services, install_id).await {
        Ok(connector) => connector,
        Err(super::Unavailable::Store(e)) => return Err(e.into()),
        Err(e) => return Err(NotSynced::NotReadable(e.to_string())),
    };
    let Some(plugin) = connector.plugin.templates.as_ref().filter(|_| keeps_templates(&connector)) else {
        return Err(NotSynced::NotReadable("this channel account's connector reads no message templates".into()));
    };
    let ctx = crate::automation::context(services, &connector.install, &connector.manifest, None).await?;
    let started = std::time::Instant::now();
    let result = services.plugins.run_list_templates(plugin, ctx.clone(), connector.install.settings.to_string()).await;
    let elapsed = started.elapsed();
    let failure = match result {
        Ok((Ok(templates), _)) => {
            record_call(services, install_id, elapsed, None).await;
            let standing = standing(services, &connector, plugin, ctx).await;
            let before = store::channel_template::sync_state(&services.store.db, install_id).await?;
            let changes = store::channel_template::replace(&services.store, install_id, templates, standing).await?;
            tracing::info!(%install_id, added = changes.added, removed = changes.removed,
                status_changes = changes.status_changes.len(), ?standing, "message templates read");
            if standing.is_some() && before.and_then(|b| b.standing) != standing {
                // Campaigns waiting for the account's limit look again now.
                store::campaign::wake_account(&services.store, install_id).await?;
            }
            return Ok(changes);
        }
        Ok((Err(NotListed::Unsupported), _)) => {
            return Err(NotSynced::NotReadable("the provider of this channel account keeps no templates".into()));
        }
        // What the provider said is not held against the plugin.
        Ok((Err(NotListed::Refused(why)), _)) => {
            services.runtime.record_send_failure(install_id, elapsed, &why);
            NotSynced::Refused(why)
        }
        Ok((Err(NotListed::Retry(why)), _)) => {
            services.runtime.record_send_failure(install_id, elapsed, &why);
            NotSynced::Passing(why)
        }
        Err(e) => {
            record_call(services, install_id, elapsed, Some(&e.to_string())).await;
            NotSynced::Passing(format!("the connector failed: {e}"))
        }
    };
    store::channel_template::note_failure(&services.store, install_id, &failure.to_string()).await?;
    Err(failure)
}

/// The account's quality rating and messaging limit, read with its
/// templates; none when the connector cannot say now (the last one read is
/// kept).
async fn standing(
    services: &Services,
    connector: &super::Connector,
    plugin: &crate::plugins::message_templates::TemplatePlugin,
    ctx: crate::plugins::CallContext,
) -> Option<AccountStanding> {
    let settings = connector.install.settings.to_string();
    match services.plugins.run_account_standing(plugin, ctx, settings).await {
        Ok((Ok(standing), _)) => Some(standing),
        Ok((Err(NotListed::Unsupported), _)) => None,
        Ok((Err(why), _)) => {
            tracing::warn!(install = %connector.install.id, ?why, "cannot read the account's standing");
            None
        }
        Err(e) => {
            tracing::warn!(install = %connector.install.id, error = %e, "cannot read the account's standing");
            None
        }
    }
}

/// Whether `template` may be sent through account `install_id` now (a
/// domain error naming `field` when not), and the template as kept; none
/// when the account's templates were never read (templates typed into its
/// settings go as written).
pub async fn check(
    services: &Services,
    install_id: uuid::Uuid,
    template: &Template,
    field: &str,
) -> Result<Option<ProviderTemplate>, store::Error> {
    let db = &services.store.db;
    if !store::channel_template::is_synced(db, install_id).await? {
        return Ok(None);
    }
    let Some(kept) = store::channel_template::find(db, install_id, &template.name, &template.language).await? else {
        let message = format!(
            "the channel account has no template `{}` in `{}` (read its templates again if it was just created)",
            template.name, template.language
        );
        return Err(crate::domain::Error::invalid(format!("{field}.name"), message).into());
    };
    kept.check(field, template)?;
    Ok(Some(kept))
}
