//! What bots and protocols ask for, checked and applied by the host.
//!
//! The actions of one call are checked against the plugin's world and the
//! case as it stands now, then applied together in one transaction that also
//! completes the event's job, each recorded in the audit log with the plugin
//! id and version. If any action is invalid, none is applied and the call
//! counts as failed (its fail-safe follows). When a plugin fails, its
//! fail-safe runs in the same way: one transaction with the job's end.

use super::bot::{Action, NotifyTarget};
use super::convert;
use super::manifest::World;
use crate::domain::{
    self, Actor, AuthorKind, Case, CaseId, CaseStatus, UserId,
    case::CasePatch,
    message::{NewMessage, QuickReply},
};
use crate::store::{self, Store, audit, event, job};

/// Longest delay a timer may have.
const MAX_TIMER_MS: u64 = 90 * 24 * 3600 * 1000;
const MAX_OPTIONS: usize = 10;
const MAX_NOTIFICATION_CHARS: usize = 1000;

/// The install whose actions are applied.
pub struct Source<'a> {
    pub install: &'a store::plugin_install::Install,
    pub world: World,
    /// Language of text the host writes for people.
    pub locale: &'a str,
}

impl Source<'_> {
    fn actor(&self) -> Actor {
        Actor::Plugin { id: self.install.plugin_id.clone(), version: self.install.version.clone() }
    }
}

/// Why actions were not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The plugin asked for something it may not do, or that the case does not allow.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// What happened to the actions.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    All(usize),
    /// The case moved on (an agent took it from the bot, or it was closed);
    /// the actions no longer apply and were dropped, with an audit entry.
    Discarded(&'static str),
}

fn kind(action: &Action) -> &'static str {
    match action {
        Action::Reply(_) => "reply",
        Action::ReplyWithOptions(_) => "reply_with_options",
        Action::HandOff(_) => "hand_off",
        Action::RequestConsent(_) => "request_consent",
        Action::SetPriority(_) => "set_priority",
        Action::AddTag(_) => "add_tag",
        Action::Assign(_) => "assign",
        Action::Notify(_) => "notify",
        Action::ScheduleTimer(_) => "schedule_timer",
        Action::CancelTimer(_) => "cancel_timer",
        Action::Close => "close",
    }
}

/// What one call of a bot or protocol asks for.
#[derive(Debug, Default)]
pub struct Planned {
    pub actions: Vec<Action>,
    /// Service-level targets a protocol set, replacing its earlier ones.
    pub sla: Option<Vec<crate::domain::sla::SlaTarget>>,
}

/// Whether a plugin of `world` may ask for `action` at all.
fn allowed(world: World, action: &Action) -> bool {
    match world {
        World::Protocol => true,
        World::Bot => {
            !matches!(action, Action::Assign(_) | Action::Notify(_) | Action::ScheduleTimer(_) | Action::CancelTimer(_))
        }
        World::Connector => false,
    }
}

/// The key of a named timer on a case, unique per install.
pub fn timer_key(install: uuid::Uuid, case: CaseId, name: &str) -> String {
    format!("timer:{install}:{case}:{name}")
}

/// Applies `actions` to the case, stores the service-level targets the
/// protocol set (if any) and completes `job_id`, all in one transaction.
pub async fn apply(
    store: &Store,
    source: &Source<'_>,
    case_id: CaseId,
    planned: &Planned,
    job_id: uuid::Uuid,
) -> Result<Applied, ApplyError> {
    let actions = &planned.actions;
    if let Some(action) = actions.iter().find(|a| !allowed(source.world, a)) {
        return Err(ApplyError::Invalid(format!("a {} plugin may not {}", source.world.as_str(), kind(action))));
    }
    let tx = store.begin().await?;
    job::complete_in(&*tx, job_id).await?;
    store::case::lock_in(&*tx, case_id).await?;
    let mut case = store::case::get(&*tx, None, case_id).await?;
    // Targets are the protocol's view of time, true even of a closed case.
    if let Some(targets) = &planned.sla {
        store::sla::replace_in(&*tx, case_id, source.install.id, targets).await?;
    }
    let discard = if source.world == World::Bot && case.status != CaseStatus::Bot {
        Some("the case is no longer with the bot")
    } else if case.status == CaseStatus::Closed {
        Some("the case is closed")
    } else {
        None
    };
    let actor = source.actor();
    if let Some(reason) = discard {
        if !actions.is_empty() {
            record(&*tx, &actor, source, &case, "plugin.actions_discarded", serde_json::json!({ "reason": reason }))
                .await?;
        }
        tx.commit().await?;
        return Ok(Applied::Discarded(reason));
    }
    for (i, action) in actions.iter().enumerate() {
        apply_one(&*tx, source, &actor, &mut case, action).await.map_err(|e| match e {
            ApplyError::Invalid(message) => ApplyError::Invalid(format!("actions[{i}] ({}): {message}", kind(action))),
            other => other,
        })?;
        let details = serde_json::json!({ "action": kind(action), "detail": action });
        record(&*tx, &actor, source, &case, "plugin.action", details).await?;
    }
    tx.commit().await?;
    Ok(Applied::All(actions.len()))
}

/// Audits an entry about `case` by the plugin, naming the install.
async fn record(
    conn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    source: &Source<'_>,
    case: &Case,
    action: &str,
    mut details: serde_json::Value,
) -> store::Result<()> {
    if let Some(map) = details.as_object_mut() {
        map.insert("install_id".into(), serde_json::json!(source.install.id));
        map.insert("plugin_id".into(), serde_json::json!(source.install.plugin_id));
        map.insert("version".into(), serde_json::json!(source.install.version));
    }
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "case",
            target_id: case.id.to_string(),
            unit_id: Some(case.unit_id),
            details,
        },
    )
    .await
}

fn invalid(message: impl Into<String>) -> ApplyError {
    ApplyError::Invalid(message.into())
}

/// Store errors that mean "the plugin asked for something impossible".
fn refused(e: store::Error) -> ApplyError {
    match e {
        store::Error::Conflict { message, .. } => ApplyError::Invalid(message),
        store::Error::Domain(e) => ApplyError::Invalid(e.to_string()),
        store::Error::NotFound(what) => ApplyError::Invalid(format!("{what} not found")),
        other => ApplyError::Store(other),
    }
}

async fn apply_one(
    conn: &impl sea_orm::ConnectionTrait,
    source: &Source<'_>,
    actor: &Actor,
    case: &mut Case,
    action: &Action,
) -> Result<(), ApplyError> {
    match action {
        Action::Reply(text) => reply(conn, actor, case, text, vec![]).await,
        Action::ReplyWithOptions(r) => {
            if r.options.is_empty() || r.options.len() > MAX_OPTIONS {
                return Err(invalid(format!("offer 1 to {MAX_OPTIONS} options")));
            }
            let mut options = vec![];
            for o in &r.options {
                if o.id.is_empty() || o.id.len() > 64 || o.label.trim().is_empty() || o.label.chars().count() > 100 {
                    return Err(invalid("each option needs an id (1-64 bytes) and a label (1-100 characters)"));
                }
                options.push(QuickReply { id: o.id.clone(), label: o.label.clone() });
            }
            reply(conn, actor, case, &r.text, options).await
        }
        Action::HandOff(h) => {
            let unit = store::unit::find_by_slug(conn, &h.unit_slug)
                .await?
                .ok_or_else(|| invalid(format!("no unit `{}`", h.unit_slug)))?;
            let to_queue = matches!(case.status, CaseStatus::Bot);
            // (A worked case moved to another unit goes to its queue,
            // unassigned: what any transfer does.)
            let patch = CasePatch {
                unit_id: Some(unit.id),
                status: to_queue.then_some(CaseStatus::Queued),
                ..Default::default()
            };
            store::case::update_in(conn, actor, case, patch).await.map_err(refused)?;
            if !h.reason.trim().is_empty() {
                let note = crate::i18n::t(source.locale, "bot.handoff.note", &[("reason", h.reason.trim())]);
                store::message::add_note_in(conn, case.id, note).await?;
            }
            if to_queue {
                tell_handoff(conn, case, &unit, source.locale).await?;
            }
            Ok(())
        }
        Action::RequestConsent(c) => {
            let purpose = domain::consent::parse_label("purpose", &c.purpose).map_err(|e| invalid(e.to_string()))?;
            let question = store::consent_text::question(conn, &purpose, source.locale).await?;
            reply(conn, actor, case, &question.body, question.options).await
        }
        Action::SetPriority(p) => {
            let patch = CasePatch { priority: Some(convert::priority_back(*p)), ..Default::default() };
            store::case::update_in(conn, actor, case, patch).await.map_err(refused)
        }
        Action::AddTag(tag) => {
            let tag = domain::case::parse_tag("tag", tag).map_err(|e| invalid(e.to_string()))?;
            let mut tags = case.tags.clone();
            if tags.contains(&tag) {
                return Ok(());
            }
            tags.push(tag);
            let patch = CasePatch { tags: Some(tags), ..Default::default() };
            store::case::update_in(conn, actor, case, patch).await.map_err(refused)
        }
        Action::Assign(user) => {
            let user = uuid::Uuid::parse_str(user).map_err(|_| invalid("assign takes a user id"))?;
            let mut patch = CasePatch { assignee_id: Some(Some(UserId(user))), ..Default::default() };
            if case.status == CaseStatus::Bot {
                patch.status = Some(CaseStatus::Assigned);
            }
            store::case::update_in(conn, actor, case, patch).await.map_err(refused)
        }
        Action::Notify(n) => {
            let text = n.text.trim();
            if text.is_empty() || text.chars().count() > MAX_NOTIFICATION_CHARS {
                return Err(invalid(format!("notification text must be 1 to {MAX_NOTIFICATION_CHARS} characters")));
            }
            let users = match &n.target {
                NotifyTarget::UnitSupervisors(slug) | NotifyTarget::OnCall(slug) => {
                    // No on-call roster exists yet: on-call means the supervisors.
                    let unit = store::unit::find_by_slug(conn, slug)
                        .await?
                        .ok_or_else(|| invalid(format!("no unit `{slug}`")))?;
                    store::notification::supervisors(conn, unit.id).await?
                }
                NotifyTarget::User(id) => {
                    let id = uuid::Uuid::parse_str(id).map_err(|_| invalid("notify user takes a user id"))?;
                    let user = store::user::get(conn, UserId(id)).await.map_err(refused)?;
                    // A plugin may only reach people of the case's unit.
                    if !user.active || !user.memberships.iter().any(|m| m.unit_id == case.unit_id) {
                        return Err(invalid("that user is not an active member of the case's unit"));
                    }
                    vec![user.id]
                }
            };
            store::notification::notify_in(conn, &users, Some(case.id.0), "plugin", text).await?;
            Ok(())
        }
        Action::ScheduleTimer(t) => {
            if t.name.is_empty() || t.name.len() > 64 {
                return Err(invalid("a timer name has 1 to 64 bytes"));
            }
            if t.delay_ms > MAX_TIMER_MS || t.payload.len() > 4096 {
                return Err(invalid("a timer fires within 90 days and carries at most 4 KiB"));
            }
            let key = timer_key(source.install.id, case.id, &t.name);
            job::cancel_by_key(conn, &key).await?;
            let payload = event::PluginEvent {
                install_id: source.install.id,
                case_id: case.id.0,
                event: event::CaseEvent::TimerFired { name: t.name.clone(), payload: t.payload.clone() },
            };
            let at = store::now() + chrono::Duration::milliseconds(t.delay_ms as i64);
            let new = job::NewJob {
                kind: crate::store::job::JobKind::PluginEvent,
                payload: serde_json::to_value(&payload).unwrap_or_default(),
                idempotency_key: Some(key),
            };
            job::enqueue_in_group(conn, new, at, Some(event::group_key(source.install.id, case.id))).await?;
            Ok(())
        }
        Action::CancelTimer(name) => {
            job::cancel_by_key(conn, &timer_key(source.install.id, case.id, name)).await?;
            Ok(())
        }
        Action::Close => {
            // Cases an agent works pass through resolved on their way to closed.
            if !case.status.can_become(CaseStatus::Closed) && case.status.can_become(CaseStatus::Resolved) {
                let patch = CasePatch { status: Some(CaseStatus::Resolved), ..Default::default() };
                store::case::update_in(conn, actor, case, patch).await.map_err(refused)?;
            }
            if !case.status.can_become(CaseStatus::Closed) {
                return Err(invalid(format!("a {} case cannot be closed", case.status)));
            }
            let patch = CasePatch { status: Some(CaseStatus::Closed), ..Default::default() };
            store::case::update_in(conn, actor, case, patch).await.map_err(refused)
        }
    }
}

async fn reply(
    conn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    case: &mut Case,
    text: &str,
    options: Vec<QuickReply>,
) -> Result<(), ApplyError> {
    let body =
        domain::required_text("text", text, domain::message::MAX_BODY_CHARS).map_err(|e| invalid(e.to_string()))?;
    let message = NewMessage { options, ..NewMessage::text(AuthorKind::Bot, body) };
    store::message::add_in(conn, actor, case, message).await.map_err(refused)?;
    Ok(())
}

/// Tells the person their case is now in a unit's queue: how many are
/// ahead while the unit attends, or when it opens if it does not now.
pub async fn tell_handoff(
    conn: &impl sea_orm::ConnectionTrait,
    case: &mut Case,
    unit: &domain::Unit,
    locale: &str,
) -> store::Result<()> {
    use crate::i18n::t;
    let now = store::now();
    let text = if unit.business_hours.is_open(unit.timezone, now) {
        let ahead = store::case::queued_ahead(conn, unit.id, case.created_at).await?;
        let queue = match ahead {
            0 => t(locale, "handoff.next", &[]),
            n => t(locale, "handoff.ahead", &[("n", &n.to_string())]),
        };
        t(locale, "handoff.open", &[("unit", &unit.name), ("queue", &queue)])
    } else {
        match unit.business_hours.next_open(unit.timezone, now) {
            Some(at) => {
                t(locale, "handoff.closed", &[("unit", &unit.name), ("when", &crate::i18n::when(locale, at, now))])
            }
            None => t(locale, "handoff.closed_unknown", &[("unit", &unit.name)]),
        }
    };
    store::message::add_in(conn, &Actor::System, case, NewMessage::text(AuthorKind::System, text)).await?;
    Ok(())
}

/// Fails safe after a plugin call failed, and completes the job, in one
/// transaction: a bot's case goes to its unit's human queue with a note; a
/// protocol's failure is escalated to the unit's supervisors (or the admins
/// when the unit has none).
pub async fn fail_safe(
    store: &Store,
    source: &Source<'_>,
    case_id: CaseId,
    error: &str,
    job_id: uuid::Uuid,
) -> store::Result<()> {
    let tx = store.begin().await?;
    job::complete_in(&*tx, job_id).await?;
    store::case::lock_in(&*tx, case_id).await?;
    let mut case = store::case::get(&*tx, None, case_id).await?;
    let taken = match source.world {
        World::Bot if case.status == CaseStatus::Bot => {
            let patch = CasePatch { status: Some(CaseStatus::Queued), ..Default::default() };
            store::case::update_in(&*tx, &Actor::System, &mut case, patch).await?;
            let note = crate::i18n::t(source.locale, "bot.failed.note", &[("error", error)]);
            store::message::add_note_in(&*tx, case.id, note).await?;
            let unit = store::unit::get(&*tx, case.unit_id).await?;
            tell_handoff(&*tx, &mut case, &unit, source.locale).await?;
            "handed_to_queue"
        }
        World::Bot => "none",
        World::Protocol | World::Connector => {
            let mut people = store::notification::supervisors(&*tx, case.unit_id).await?;
            if people.is_empty() {
                people = store::notification::admins(&*tx).await?;
            }
            let text = crate::i18n::t(
                source.locale,
                "protocol.failed.notification",
                &[("plugin", &source.install.name), ("number", &case.number.to_string()), ("error", error)],
            );
            store::notification::notify_in(&*tx, &people, Some(case.id.0), "protocol_failed", &text).await?;
            "escalated"
        }
    };
    let details = serde_json::json!({ "error": error, "fail_safe": taken });
    record(&*tx, &Actor::System, source, &case, "plugin.failed", details).await?;
    tx.commit().await
}
