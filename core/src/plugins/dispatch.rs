//! Runs `plugin.event` jobs: one event, one install, one version.
//!
//! The install's version is read when the job runs, so an upgrade while
//! events flow sends each event to exactly one version. The plugin runs
//! outside any transaction; its actions (or its fail-safe) are applied in one
//! transaction that also completes the job, so a crash before the commit
//! runs the event again and a crash after it never applies it twice.

use super::actions::{self, Applied, ApplyError, Planned, Source};
use super::bot::BotEvent;
use super::manifest::{Manifest, World};
use super::protocol::{EventKind, ProtocolEvent};
use super::runtime::Prepared;
use super::{CallContext, Error};
use crate::app::AppState;
use crate::domain::{CaseId, CaseStatus, MessageId};
use crate::store::job::Outcome;
use crate::store::{self, event::CaseEvent, event::PluginEvent, job::Job, plugin_install::Install};

/// Store errors before the plugin ran are passing: try again later.
fn retry(e: impl std::fmt::Display) -> Outcome {
    Outcome::Retry(e.to_string())
}

pub async fn handle(state: &AppState, job: &Job) -> Outcome {
    let event: PluginEvent = match serde_json::from_value(job.payload.clone()) {
        Ok(event) => event,
        Err(e) => return Outcome::Dead(format!("payload: {e}")),
    };
    let db = &state.store;
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
        match protocols_pending(state, &case, *message_id).await {
            Ok(true) if store::now() - job.created_at < chrono::Duration::seconds(PROTOCOLS_FIRST_SECS) => {
                return Outcome::Later(std::time::Duration::from_millis(100));
            }
            Ok(_) => {}
            Err(e) => return retry(e),
        }
    }
    let manifest = match state.runtime.manifest(db, &install.plugin_id, &install.version).await {
        Ok(manifest) => manifest,
        Err(store::Error::Corrupt(e)) => return Outcome::Dead(e),
        Err(e) => return retry(e),
    };
    // Agents' replies go to protocols that know about them (WIT 1.4).
    if matches!(event.event, CaseEvent::Replied { .. }) && !manifest.wit_at_least(4) {
        return Outcome::Done;
    }
    let locale = state.config.locale.clone();
    let source = Source { install: &install, world, locale: &locale };
    let started = std::time::Instant::now();
    let result = call(state, &install, &manifest, world, &case, &event.event).await;
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
    record_call(state, install.id, elapsed, error.as_deref()).await;
    Outcome::Done
}

/// How long a bot waits for the protocols to see a message before it
/// answers anyway (a protocol whose event keeps failing must not silence it).
const PROTOCOLS_FIRST_SECS: i64 = 20;

/// Whether a protocol of the case's unit has yet to see the message.
async fn protocols_pending(state: &AppState, case: &crate::domain::Case, message: uuid::Uuid) -> store::Result<bool> {
    let db = &state.store.db;
    let protocols = store::plugin_install::followers(db, &[World::Protocol], case.unit_id).await?;
    let keys: Vec<String> = protocols.iter().map(|p| store::event::protocol_event_key(message, Some(p.id))).collect();
    store::job::any_unfinished(db, &keys).await
}

/// Counts one call of an install: its health figures on this instance, and
/// the consecutive-failure count (which may suspend it) in the database.
pub async fn record_call(state: &AppState, install: uuid::Uuid, elapsed: std::time::Duration, error: Option<&str>) {
    state.runtime.record(install, elapsed, error.map(str::to_owned));
    record_outcome(state, install, error).await;
}

/// Counts an outcome towards the install's consecutive failures only (for a
/// failure found after the call, e.g. content that could not be stored).
pub async fn record_outcome(state: &AppState, install: uuid::Uuid, error: Option<&str>) {
    // A success when the count was just seen at zero changes nothing.
    if error.is_none() && state.runtime.recently_clean(install) {
        return;
    }
    let suspend_after = state.plugins.limits.suspend_after;
    let locale = &state.config.locale;
    match store::plugin_install::record_outcome(&state.store, install, error, suspend_after, locale).await {
        Ok(recorded) => {
            state.runtime.note_failures(install, recorded.consecutive_failures);
            // A failure may have suspended it: webhooks read it again.
            if error.is_some() {
                state.runtime.forget_account(install);
            }
        }
        Err(e) => {
            state.runtime.note_failures(install, -1);
            tracing::warn!(%install, error = %e, "cannot record a plugin outcome");
        }
    }
}

/// Builds the event for the install's world and runs it. The outer error is
/// a store problem (retry); the inner one is the plugin's failure.
async fn call(
    state: &AppState,
    install: &Install,
    manifest: &Manifest,
    world: World,
    case: &crate::domain::Case,
    event: &CaseEvent,
) -> Result<Result<Planned, Error>, store::Error> {
    let db = &state.store;
    let prepared = match state.runtime.load(db, &state.plugins, &install.plugin_id, &install.version, world).await {
        Ok(prepared) => prepared,
        Err(e) => return Ok(Err(e)),
    };
    let ctx = context(state, install, manifest, Some(case.id)).await?;
    let summary = super::convert::case_summary(&db.db, case).await?;
    let settings = install.settings.to_string();
    let outcome = match (prepared, event) {
        (Prepared::Bot(bot), CaseEvent::MessageIn { message_id }) => {
            let message = store::message::get_unscoped(&db.db, MessageId(*message_id)).await?;
            let bot_event = BotEvent {
                message: super::convert::message(&message),
                case: summary,
                contact: super::convert::contact_summary(&db.db, case.contact_id).await?,
                settings,
                locale: state.config.locale.clone(),
            };
            state.plugins.run_bot(&bot, ctx, &bot_event).await.map(|(actions, _logs)| Planned { actions, sla: None })
        }
        (Prepared::Protocol(protocol), event) => {
            let kind = match event {
                CaseEvent::Created => EventKind::CaseCreated,
                CaseEvent::MessageIn { message_id } | CaseEvent::Replied { message_id } => {
                    let message = store::message::get_unscoped(&db.db, MessageId(*message_id)).await?;
                    EventKind::MessageIn(super::convert::message(&message))
                }
                CaseEvent::StatusChanged { from, to } => EventKind::StatusChanged((
                    super::convert::status_from_text(from),
                    super::convert::status_from_text(to),
                )),
                CaseEvent::Assigned { user_id } => EventKind::Assigned(user_id.to_string()),
                CaseEvent::TimerFired { name, payload } => EventKind::TimerFired((name.clone(), payload.clone())),
            };
            let protocol_event = ProtocolEvent { kind, case: summary, settings };
            let outcome = state.plugins.run_protocol(&protocol, ctx, &protocol_event).await;
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
    state: &AppState,
    install: &Install,
    manifest: &Manifest,
    case: Option<CaseId>,
) -> Result<CallContext, store::Error> {
    let grants = manifest.capabilities.intersect(&install.granted);
    let secrets = store::plugin_secret::open(&state.store.db, &state.secrets, install.id, &grants.secrets).await?;
    let kb = if grants.kb_search {
        let unit = match case {
            Some(case) => Some(store::case::get(&state.store.db, None, case).await?.unit_id),
            None => install.units.first().copied(),
        };
        let bases = store::kb::public_for_unit(&state.store.db, unit).await?;
        let public_url = state.config.link_prefix().to_owned();
        Some(super::host::KbScope { search: state.search.clone(), bases, public_url })
    } else {
        None
    };
    Ok(CallContext {
        kb,
        install: install.id.to_string(),
        grants,
        db: Some(state.store.clone()),
        case_id: case.map(|c| c.to_string()),
        secrets,
        send_key: None,
        send_context: None,
        outbound_files: None,
    })
}
