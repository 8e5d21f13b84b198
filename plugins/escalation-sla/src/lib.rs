//! escalation-sla: service-level targets for a unit's cases.
//!
//! - First response and resolution targets per priority, in minutes of the
//!   unit's business hours (the host counts them: timezone, weekly hours,
//!   holidays), or of plain time.
//! - The clocks start when a case reaches people (created for them, or
//!   handed off by the bot). An agent's reply meets the first response;
//!   resolving meets the resolution; while the case waits on the person the
//!   resolution clock stops; a reopened case gets a new resolution clock.
//! - Durable timers (host jobs) wake the protocol at the warning point and
//!   at the deadline, so a restart loses none and each fires once.
//! - At the warning point the assignee (or the supervisors) is told; on a
//!   breach the configured escalation follows: tell the supervisors, raise
//!   the priority one step, move the case to a supervisors' unit queue.
//! - The targets show on the case (`sla` in the API), through `sla.set`.
//!
//! What it keeps per open case lives in kv under `sla:<case>` and is
//! forgotten once both targets are settled.

mod policy;

use policy::{Alert, Happening, Hours, Policies, Policy, State, Target, Tracked};
use serde::Deserialize;
use ventanilla_sdk::actions::{cancel_timer, hand_off, notify_supervisors, notify_user, schedule_timer, set_priority};
use ventanilla_sdk::protocol::ventanilla::plugin::{hours, sla};
use ventanilla_sdk::protocol::{EventKind, Guest, ProtocolEvent};
use ventanilla_sdk::text::Strings;
use ventanilla_sdk::types::{Action, AuthorKind, CaseStatus, PluginError, Priority};
use ventanilla_sdk::{clock, kv, log};

#[derive(Deserialize)]
#[serde(default)]
struct Settings {
    policies: Policies,
    warn_percent: u32,
    pause_while_waiting: bool,
    business_hours: bool,
    escalation: Escalation,
    locale: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            policies: Policies::default(),
            warn_percent: 80,
            pause_while_waiting: true,
            business_hours: true,
            escalation: Escalation::default(),
            locale: "es".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default)]
struct Escalation {
    notify_supervisors: bool,
    raise_priority: bool,
    /// Slug of the unit whose queue a breached case moves to.
    reassign_to_unit: Option<String>,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation { notify_supervisors: true, raise_priority: true, reassign_to_unit: None }
    }
}

/// The unit's business hours through the host; plain time when the unit
/// has none (or the setting says so).
struct UnitHours<'a> {
    unit: Option<&'a str>,
}

impl Hours for UnitHours<'_> {
    fn add(&self, from: i64, open: u64) -> i64 {
        self.unit
            .and_then(|unit| hours::add(unit, from, open))
            .unwrap_or(from.saturating_add(i64::try_from(open).unwrap_or(i64::MAX)))
    }

    fn between(&self, from: i64, to: i64) -> u64 {
        self.unit.and_then(|unit| hours::between(unit, from, to)).unwrap_or((to - from).max(0) as u64)
    }
}

fn key(case: &str) -> String {
    format!("sla:{case}")
}

fn with_people(status: CaseStatus) -> bool {
    matches!(status, CaseStatus::Queued | CaseStatus::Assigned | CaseStatus::WaitingOnContact)
}

/// What the event means for the clocks.
fn happening(kind: &EventKind, status: CaseStatus, tracked: bool) -> Option<Happening> {
    use CaseStatus::*;
    Some(match kind {
        EventKind::CaseCreated if with_people(status) => Happening::Started,
        EventKind::CaseCreated => return None,
        EventKind::StatusChanged((from, to)) => match (from, to) {
            (Bot, Queued | Assigned) => Happening::Started,
            (_, WaitingOnContact) => Happening::Waiting,
            (_, Resolved | Closed) => Happening::Resolved,
            (Resolved | Closed, Queued | Assigned) => Happening::Reopened,
            (WaitingOnContact, _) => Happening::Resumed,
            _ => Happening::Tick,
        },
        EventKind::MessageIn(message) => match message.author_kind {
            AuthorKind::Agent => Happening::AgentReplied,
            // A person writing on a resolved case reopens it without a
            // status event (the clocks were forgotten), and a case the
            // protocol has not seen yet is one to watch: both start now.
            AuthorKind::Contact if !tracked && matches!(status, Queued | Assigned) => Happening::Started,
            AuthorKind::Contact => Happening::ContactWrote,
            _ => Happening::Tick,
        },
        EventKind::Assigned(_) | EventKind::TimerFired(_) => Happening::Tick,
    })
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

fn raised(p: Priority) -> Option<Priority> {
    match p {
        Priority::Low => Some(Priority::Normal),
        Priority::Normal => Some(Priority::High),
        Priority::High => Some(Priority::Urgent),
        Priority::Urgent => None,
    }
}

fn shown(tracked: &Tracked) -> Vec<sla::Target> {
    Target::ALL
        .iter()
        .map(|t| {
            let clock = tracked.clock(*t);
            let state = match clock.state {
                State::Running => sla::SlaState::Running,
                State::Paused => sla::SlaState::Paused,
                State::Warning => sla::SlaState::Warning,
                State::Breached => sla::SlaState::Breached,
                State::Met => sla::SlaState::Met,
            };
            sla::Target { name: t.name().into(), state, due_at: clock.due, settled_at: clock.settled }
        })
        .collect()
}

struct EscalationSla;

impl Guest for EscalationSla {
    fn on_event(event: ProtocolEvent) -> Result<Vec<Action>, PluginError> {
        let settings: Settings = serde_json::from_str(&event.settings)
            .map_err(|e| PluginError { message: format!("invalid settings: {e}") })?;
        let case = &event.case;
        let stored: Option<Tracked> =
            kv::get(&key(&case.id)).ok().flatten().and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let Some(happening) = happening(&event.kind, case.status, stored.is_some()) else {
            return Ok(vec![]);
        };
        let now = clock::now_ms();
        let policy = Policy {
            targets: settings.policies.clone(),
            warn_percent: settings.warn_percent,
            pause_while_waiting: settings.pause_while_waiting,
        };
        let hours = UnitHours { unit: settings.business_hours.then_some(case.unit_slug.as_str()) };
        let priority = priority_name(case.priority);
        let (tracked, alerts) = policy::step(stored.clone(), happening, now, priority, &policy, &hours);
        let Some(mut tracked) = tracked else {
            return Ok(vec![]);
        };
        let strings = Strings::of(include_str!("strings.json"), &settings.locale);
        let number = case.number.to_string();
        let mut actions = vec![];
        for alert in &alerts {
            match *alert {
                Alert::Warning(target, due) => {
                    let minutes = hours.between(now, due).div_ceil(60_000).to_string();
                    let vars =
                        [("number", number.as_str()), ("target", &strings.get(target.name())), ("minutes", &minutes)];
                    let text = strings.fill("warning", &vars);
                    actions.push(match &case.assignee_id {
                        Some(user) => notify_user(user, text),
                        None => notify_supervisors(&case.unit_slug, text),
                    });
                }
                Alert::Breach(target) => {
                    let name = strings.get(target.name());
                    let vars = [("number", number.as_str()), ("target", name.as_str())];
                    if settings.escalation.notify_supervisors {
                        actions.push(notify_supervisors(&case.unit_slug, strings.fill("breach", &vars)));
                    }
                    if settings.escalation.raise_priority
                        && let Some(higher) = raised(case.priority)
                        && !actions.iter().any(|a| matches!(a, Action::SetPriority(_)))
                    {
                        actions.push(set_priority(higher));
                    }
                    if let Some(unit) = &settings.escalation.reassign_to_unit
                        && !tracked.escalated
                        && *unit != case.unit_slug
                    {
                        actions.push(hand_off(unit, strings.fill("escalated", &vars)));
                        tracked.escalated = true;
                    }
                }
            }
        }
        for target in Target::ALL {
            match policy::next_check(tracked.clock(target)) {
                Some(at) => actions.push(schedule_timer(target.name(), (at - now).max(0) as u64, "")),
                None => actions.push(cancel_timer(target.name())),
            }
        }
        if let Err(e) = sla::set(&case.id, &shown(&tracked)) {
            log::log(log::Level::Warn, &format!("cannot show the targets on case #{}: {e:?}", case.number));
        }
        let kept = if tracked.settled() {
            kv::delete(&key(&case.id))
        } else {
            let bytes = serde_json::to_vec(&tracked).unwrap_or_default();
            kv::set(&key(&case.id), &bytes)
        };
        if let Err(e) = kept {
            // The deadlines still show and the timers still run; only the
            // next step starts from scratch.
            log::log(log::Level::Warn, &format!("cannot keep the clocks of case #{}: {e:?}", case.number));
        }
        Ok(actions)
    }
}

ventanilla_sdk::protocol::export_protocol!(EscalationSla);
