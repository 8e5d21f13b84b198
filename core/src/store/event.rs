//! Case events for plugins: a command that changes a case writes one
//! `plugin.event` job per install that follows the case, in the command's own
//! transaction. Protocols follow every event of their units' cases; the bot
//! of a unit gets each message a person writes while the case is with the bot.
//! A plugin's own actions never trigger that plugin again. Protocols see a
//! person's message before the bot does: the bot's event waits while a
//! protocol's event for the same message is pending (see
//! [`protocol_event_key`]), so a crisis protocol can take the case first.

use super::{Result, job, plugin_install};
use crate::domain::plugin::World;
use crate::domain::{Actor, Case, CaseStatus};
use serde::{Deserialize, Serialize};

/// What happened to a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseEvent {
    Created,
    MessageIn {
        message_id: uuid::Uuid,
    },
    /// An agent's reply (protocols built against WIT 1.4 or later).
    Replied {
        message_id: uuid::Uuid,
    },
    StatusChanged {
        from: String,
        to: String,
    },
    Assigned {
        user_id: uuid::Uuid,
    },
    TimerFired {
        name: String,
        payload: String,
    },
}

/// The payload of a `plugin.event` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginEvent {
    pub install_id: uuid::Uuid,
    pub case_id: uuid::Uuid,
    pub event: CaseEvent,
}

/// The group of an install's events about one case: they run one at a
/// time, in order, so the plugin's state for the case is never raced.
pub fn group_key(install: uuid::Uuid, case: crate::domain::CaseId) -> String {
    format!("event:{install}:{case}")
}

/// The key of a protocol's event about a person's message; the bot's event
/// for that message waits while any job with this prefix is pending.
pub fn protocol_event_key(message: uuid::Uuid, install: Option<uuid::Uuid>) -> String {
    match install {
        Some(install) => format!("event:{message}:{install}"),
        None => format!("event:{message}:"),
    }
}

/// Enqueues the event for every install that follows `case`.
pub async fn emit(conn: &impl sea_orm::ConnectionTrait, actor: &Actor, case: &Case, event: CaseEvent) -> Result<()> {
    let origin = match actor {
        Actor::Plugin { id, .. } => Some(id.as_str()),
        _ => None,
    };
    // One query for both worlds: this runs in every command that changes a case.
    let wants_bot = matches!(event, CaseEvent::MessageIn { .. }) && case.status == CaseStatus::Bot;
    let worlds: &[World] = if wants_bot { &[World::Protocol, World::Bot] } else { &[World::Protocol] };
    let (bots, mut installs): (Vec<_>, Vec<_>) =
        plugin_install::followers(conn, worlds, case.unit_id).await?.into_iter().partition(|i| i.world == "bot");
    installs.extend(bots.into_iter().find(|b| Some(b.plugin_id.as_str()) != origin));
    for install in installs.into_iter().filter(|i| Some(i.plugin_id.as_str()) != origin) {
        let payload = PluginEvent { install_id: install.id, case_id: case.id.0, event: event.clone() };
        let idempotency_key = match &event {
            CaseEvent::MessageIn { message_id } if install.world == "protocol" => {
                Some(protocol_event_key(*message_id, Some(install.id)))
            }
            _ => None,
        };
        let new = job::NewJob {
            kind: super::job::JobKind::PluginEvent,
            payload: serde_json::to_value(&payload).unwrap_or_default(),
            idempotency_key,
        };
        job::enqueue_in_group(conn, new, super::now(), Some(group_key(install.id, case.id))).await?;
    }
    Ok(())
}

/// Whether a bot follows cases of the unit (new conversations then start with it).
pub async fn has_bot(conn: &impl sea_orm::ConnectionTrait, unit: crate::domain::UnitId) -> Result<bool> {
    Ok(!plugin_install::followers(conn, &[World::Bot], unit).await?.is_empty())
}
