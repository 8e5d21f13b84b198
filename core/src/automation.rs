//! Automation: bots and protocols run on case events (`plugin.event` jobs),
//! one event, one install, one version, and the host counts how their
//! calls go (health, suspension).
//!
//! The install's version is read when the job runs, so an upgrade while
//! events flow sends each event to exactly one version. The plugin runs
//! outside any transaction; its actions (or its fail-safe) are applied in one
//! transaction that also completes the job, so a crash before the commit
//! runs the event again and a crash after it never applies it twice.

use crate::domain::{CaseId, CaseStatus, MessageId};
use crate::plugins::actions::{self, Applied, ApplyError, Planned, Source};
use crate::plugins::bot::BotEvent;
use crate::plugins::manifest::{Manifest, World};
use crate::plugins::protocol::{EventKind, ProtocolEvent};
use crate::plugins::runtime::Prepared;
use crate::plugins::{CallContext, Error};
use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{self, event::CaseEvent, event::PluginEvent, job::Job, plugin_install::Install};

/// Store errors before the plugin ran are passing: try again later.
fn retry(e: impl std::fmt::Display) -> Outcome {
    Outcome::Retry(e.to_string())
}

pub async fn handle(services: &Services, job: &Job) -> Outcome {
    let event: PluginEvent = match serde_json::from_value(job.payload.clone()) {
        Ok(event) => event,
        Err(e) => return Outcome::Dead(format!("payload: {e}")),
    };
    let db = &services.store;
    // One event of an install about a case at a time, in order.
    match store::job::earlier_in_group(&db.db, job, false).await {
        Ok(true) => return Outcome::Later(std::time::Duration::from_millis(50)),
        Ok(false) => {}
        Err(e) => return retry(e),
    }
    let install = match store::plugin_install::get(&db.db, event.install_id).await {
        Ok(install) => install,
        // Uninstalled since: nobody left to tell.
        Err(store::Error::NotFound(_)) => return Outcome::Done,
        Err(e) => return retry(e),
    };
    if !install.is_running() {
        return Outcome::Done;
    }
    let case = match store::case::get(&db.db, None, CaseId(event.case_id)).await {
        Ok(case) => case,
        Err(store::Error::NotFound(_)) => return Outcome::Done,
        Err(e) => return retry(e),
    };
    let world = match install.world.as_str() {
        "bot" => World::Bot,
        "protocol" => World::Protocol,
        _ => return Outcome::Dead(format!("a {} install gets no case events", install.world)),
    };
    // A bot only answers while the case is still with it.
    if world == World::Bot && (case.status != CaseStatus::Bot || !matches!(event.event, CaseEvent::MessageIn { .. })) {
        return Outcome::Done;
    }
    // The unit's protocols see a person's message first (a crisis protocol
    // may take the case from the bot); the bot waits for them, a while.
    if let (World::Bot, CaseEvent::MessageIn { message_id }) = (world, &event.event) {
        match protocols_pending(services, &case, *message_id).await {
            Ok(true) if store::now() - job.created_at < chrono::Duration::seconds(PROTOCOLS_FIRST_SECS) => {
                return Outcome::Later(std::time::Duration::from_millis(100));
            }
            Ok(_) => {}
            Err(e) => return retry(e),
        }
    }
    let manifest = match services.runtime.manifest(db, &install.plugin_id, &install.version).await {
        Ok(manifest) => manifest,
        Err(store::Error::Corrupt(e)) => return Outcome::Dead(e),
        Err(e) => return retry(e),
    };
    // Agents' replies go to protocols that know about them (WIT 1.4).
    if matches!(event.event, CaseEvent::Replied { .. }) && !manifest.wit_at_least(4) {
        return Outcome::Done;
    }
    let locale = services.config.locale.clone();
    let source = Source { install: &install, world, locale: &locale };
    let started = std::time::Instant::now();
    let result = call(services, &install, &manifest, world, &case, &event.event).await;
    let elapsed = started.elapsed();
    let result = match result {
        Ok(Ok(planned)) => match actions::apply(db, &source, case.id, &planned, job.id).await {
            Ok(Applied::All(n)) => {
                tracing::debug!(install = %install.id, version = %install.version, actions = n, "plugin actions applied");
                Ok(())
            }
            Ok(Applied::Discarded(reason)) => {
                tracing::debug!(install = %install.id, reason, "plugin actions discarded");
                Ok(())
            }
            Err(ApplyError::Invalid(message)) => Err(Error::InvalidOutput(message).to_string()),
            Err(ApplyError::Store(e)) => return retry(e),
        },
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => return retry(e),
    };
    let error = result.err();
    if let Some(error) = &error {
        tracing::warn!(install = %install.id, plugin = %install.plugin_id, version = %install.version, error, "plugin failed");
        if let Err(e) = actions::fail_safe(db, &source, case.id, error, job.id).await {
            return retry(e);
        }
    }
    record_call(services, install.id, elapsed, error.as_deref()).await;
    Outcome::Done
}

/// How long a bot waits for the protocols to see a message before it
/// answers anyway (a protocol whose event keeps failing must not silence it).
const PROTOCOLS_FIRST_SECS: i64 = 20;

/// Whether a protocol of the case's unit has yet to see the message.
async fn protocols_pending(
    services: &Services,
    case: &crate::domain::Case,
    message: uuid::Uuid,
) -> store::Result<bool> {
    let db = &services.store.db;
    let protocols = store::plugin_install::followers(db, &[World::Protocol], case.unit_id).await?;
    let keys: Vec<String> = protocols.iter().map(|p| store::event::protocol_event_key(message, Some(p.id))).collect();
    store::job::any_unfinished(db, &keys).await
}

/// Counts one call of an install: its health figures on this instance, and
/// the consecutive-failure count (which may suspend it) in the database.
pub async fn record_call(services: &Services, install: uuid::Uuid, elapsed: std::time::Duration, error: Option<&str>) {
    services.runtime.record(install, elapsed, error.map(str::to_owned));
    record_outcome(services, install, error).await;
}

/// Counts an outcome towards the install's consecutive failures only (for a
/// failure found after the call, e.g. content that could not be stored).
pub async fn record_outcome(services: &Services, install: uuid::Uuid, error: Option<&str>) {
    // A success when the count was just seen at zero changes nothing.
    if error.is_none() && services.runtime.recently_clean(install) {
        return;
    }
    let suspend_after = services.plugins.limits.suspend_after;
    let locale = &services.config.locale;
    match store::plugin_install::record_outcome(&services.store, install, error, suspend_after, locale).await {
        Ok(recorded) => {
            services.runtime.note_failures(install, recorded.consecutive_failures);
            // A failure may have suspended it: webhooks read it again.
            if error.is_some() {
                services.runtime.forget_account(install);
            }
        }
        Err(e) => {
            services.runtime.note_failures(install, -1);
            tracing::warn!(%install, error = %e, "cannot record a plugin outcome");
        }
    }
}

/// Builds the event for the install's world and runs it. The outer error is
/// a store problem (retry); the inner one is the plugin's failure.
async fn call(
    services: &Services,
    install: &Install,
    manifest: &Manifest,
    world: World,
    case: &crate::domain::Case,
    event: &CaseEvent,
) -> Result<Result<Planned, Error>, store::Error> {
    let db = &services.store;
    let prepared = match services.runtime.load(db, &services.plugins, &install.plugin_id, &install.version, world).await
    {
        Ok(prepared) => prepared,
        Err(e) => return Ok(Err(e)),
    };
    let ctx = context(services, install, manifest, Some(case.id)).await?;
    let summary = crate::plugins::convert::case_summary(&db.db, case).await?;
    let settings = install.settings.to_string();
    let outcome = match (prepared, event) {
        (Prepared::Bot(bot), CaseEvent::MessageIn { message_id }) => {
            let message = store::message::get_unscoped(&db.db, MessageId(*message_id)).await?;
            let bot_event = BotEvent {
                message: crate::plugins::convert::message(&message),
                case: summary,
                contact: crate::plugins::convert::contact_summary(&db.db, case.contact_id).await?,
                settings,
                locale: services.config.locale.clone(),
            };
            services.plugins.run_bot(&bot, ctx, &bot_event).await.map(|(actions, _logs)| Planned { actions, sla: None })
        }
        (Prepared::Protocol(protocol), event) => {
            let kind = match event {
                CaseEvent::Created => EventKind::CaseCreated,
                CaseEvent::MessageIn { message_id } | CaseEvent::Replied { message_id } => {
                    let message = store::message::get_unscoped(&db.db, MessageId(*message_id)).await?;
                    EventKind::MessageIn(crate::plugins::convert::message(&message))
                }
                CaseEvent::StatusChanged { from, to } => EventKind::StatusChanged((
                    crate::plugins::convert::status_from_text(from),
                    crate::plugins::convert::status_from_text(to),
                )),
                CaseEvent::Assigned { user_id } => EventKind::Assigned(user_id.to_string()),
                CaseEvent::TimerFired { name, payload } => EventKind::TimerFired((name.clone(), payload.clone())),
            };
            let protocol_event = ProtocolEvent { kind, case: summary, settings };
            let outcome = services.plugins.run_protocol(&protocol, ctx, &protocol_event).await;
            outcome.map(|o| Planned { actions: o.actions, sla: o.sla })
        }
        _ => Err(Error::WrongWorld { world: world.as_str(), reason: "event does not match the world".into() }),
    };
    Ok(outcome)
}

/// What a call for `install` may reach: its effective grants, durable
/// key-value storage, the event's case and its granted secrets (opened here,
/// never handed to the plugin).
pub async fn context(
    services: &Services,
    install: &Install,
    manifest: &Manifest,
    case: Option<CaseId>,
) -> Result<CallContext, store::Error> {
    let grants = manifest.capabilities.intersect(&install.granted);
    let secrets =
        store::plugin_secret::open(&services.store.db, &services.secrets, install.id, &grants.secrets).await?;
    let kb = if grants.kb_search {
        let unit = match case {
            Some(case) => Some(store::case::get(&services.store.db, None, case).await?.unit_id),
            None => install.units.first().copied(),
        };
        let bases = store::kb::public_for_unit(&services.store.db, unit).await?;
        let public_url = services.config.link_prefix().to_owned();
        Some(crate::plugins::host::KbScope { search: services.search.clone(), bases, public_url })
    } else {
        None
    };
    Ok(CallContext {
        kb,
        install: install.id.to_string(),
        grants,
        db: Some(services.store.clone()),
        case_id: case.map(|c| c.to_string()),
        secrets,
        send_key: None,
        send_context: None,
        template_parts: None,
        outbound_files: None,
        canned_http: None,
    })
}
