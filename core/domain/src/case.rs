//! Cases: the unit of work. Every status change goes through [`CaseStatus::check_transition`].

use super::{CaseId, Channel, ContactId, Error, UnitId, UserId};
use chrono::{DateTime, Utc};
use std::fmt;

/// A conversation with a contact that a unit works on until it is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: CaseId,
    /// Human-friendly sequential number, shown as `#1042`.
    pub number: i64,
    pub subject: String,
    pub channel: Channel,
    pub contact_id: ContactId,
    pub unit_id: UnitId,
    pub assignee_id: Option<UserId>,
    pub status: CaseStatus,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The channel account (connector install) replies go out on.
    pub channel_install_id: Option<uuid::Uuid>,
    /// Put aside until then (it comes back earlier if the person writes).
    pub snoozed_until: Option<DateTime<Utc>>,
}

/// A case to create; the contact and unit are resolved by the store.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub subject: String,
    pub channel: Channel,
    pub contact_id: ContactId,
    pub unit_id: UnitId,
    pub status: CaseStatus,
    pub assignee_id: Option<UserId>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub channel_install_id: Option<uuid::Uuid>,
}

/// Changes to a case; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CasePatch {
    pub subject: Option<String>,
    pub status: Option<CaseStatus>,
    /// `Some(None)` unassigns.
    pub assignee_id: Option<Option<UserId>>,
    pub priority: Option<Priority>,
    /// Transfers the case to another unit's queue.
    pub unit_id: Option<UnitId>,
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` brings a snoozed case back.
    pub snoozed_until: Option<Option<DateTime<Utc>>>,
}

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// The bot is talking with the contact.
    Bot,
    /// Waiting in the unit's queue for an agent.
    Queued,
    /// An agent owns it.
    Assigned,
    /// The agent asked something and waits for the contact.
    WaitingOnContact,
    /// Solved; may be reopened.
    Resolved,
    /// Archived; a new message starts a new case.
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        CaseStatus::Bot,
        CaseStatus::Queued,
        CaseStatus::Assigned,
        CaseStatus::WaitingOnContact,
        CaseStatus::Resolved,
        CaseStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Bot => "bot",
            CaseStatus::Queued => "queued",
            CaseStatus::Assigned => "assigned",
            CaseStatus::WaitingOnContact => "waiting_on_contact",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Closed => "closed",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        CaseStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| Error::invalid(field, format!("`{value}` is not a case status")))
    }

    /// Whether the case still needs work (counts towards queues and load).
    pub fn is_open(self) -> bool {
        !matches!(self, CaseStatus::Resolved | CaseStatus::Closed)
    }

    /// The one table of allowed status changes.
    pub fn can_become(self, to: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, to),
            (Bot, Queued | Assigned | Resolved | Closed)
                | (Queued, Assigned | Resolved | Closed)
                | (Assigned, Queued | WaitingOnContact | Resolved)
                | (WaitingOnContact, Assigned | Queued | Resolved)
                | (Resolved, Queued | Assigned | Closed)
        )
    }

    pub fn check_transition(self, to: CaseStatus) -> Result<(), Error> {
        if self.can_become(to) { Ok(()) } else { Err(Error::Transition { from: self, to }) }
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a case is; ordered from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .ok_or_else(|| Error::invalid(field, format!("`{value}` is not a priority")))
    }
}

impl Case {
    /// Moves the case to `to`, keeping timestamps and the assignee consistent
    /// with the status. `assignee` is the owner after the change.
    pub fn transition(&mut self, to: CaseStatus, assignee: Option<UserId>, now: DateTime<Utc>) -> Result<(), Error> {
        if self.status == to {
            return Ok(());
        }
        self.status.check_transition(to)?;
        match to {
            CaseStatus::Assigned | CaseStatus::WaitingOnContact => {
                let owner = assignee
                    .or(self.assignee_id)
                    .ok_or_else(|| Error::invalid("assignee_id", format!("a case that is {to} needs an assignee")))?;
                self.assignee_id = Some(owner);
            }
            CaseStatus::Bot | CaseStatus::Queued => self.assignee_id = None,
            // A resolved or closed case remembers who worked it.
            CaseStatus::Resolved | CaseStatus::Closed => {}
        }
        if self.status == CaseStatus::Resolved && to != CaseStatus::Closed {
            self.resolved_at = None;
        }
        if to == CaseStatus::Resolved {
            self.resolved_at = Some(now);
        }
        if to == CaseStatus::Closed {
            self.closed_at = Some(now);
            self.resolved_at.get_or_insert(now);
        }
        self.status = to;
        self.updated_at = now;
        Ok(())
    }

    /// Gives the case to `user`: a queued or bot case becomes assigned; a case
    /// already worked on keeps its status and changes owner.
    pub fn assign(&mut self, user: Option<UserId>, now: DateTime<Utc>) -> Result<(), Error> {
        match (user, self.status) {
            (None, CaseStatus::Assigned | CaseStatus::WaitingOnContact) => {
                self.transition(CaseStatus::Queued, None, now)
            }
            (None, _) => {
                self.assignee_id = None;
                self.updated_at = now;
                Ok(())
            }
            (Some(user), CaseStatus::Bot | CaseStatus::Queued) => {
                self.transition(CaseStatus::Assigned, Some(user), now)
            }
            (Some(user), CaseStatus::Assigned | CaseStatus::WaitingOnContact) => {
                self.assignee_id = Some(user);
                self.updated_at = now;
                Ok(())
            }
            (Some(_), status) => {
                Err(Error::invalid("assignee_id", format!("a {status} case cannot be assigned; reopen it first")))
            }
        }
    }
}

/// A tag: lowercase words joined by dashes or underscores, letters of any script.
pub fn parse_tag(field: &str, value: &str) -> Result<String, Error> {
    let tag = value.trim().to_lowercase();
    let ok = !tag.is_empty()
        && tag.chars().count() <= 50
        && tag.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(tag) } else { Err(Error::invalid(field, "must be 1 to 50 letters, digits, `-` or `_`")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseStatus::*;

    fn case(status: CaseStatus) -> Case {
        Case {
            id: CaseId::new(),
            number: 1,
            subject: "Consulta".into(),
            channel: Channel::Webchat,
            contact_id: ContactId::new(),
            unit_id: UnitId::new(),
            assignee_id: matches!(status, Assigned | WaitingOnContact).then(UserId::new),
            status,
            priority: Priority::Normal,
            tags: vec![],
            custom_fields: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            snoozed_until: None,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            channel_install_id: None,
        }
    }

    /// Every pair of statuses, allowed or not, spelled out once.
    #[test]
    fn transition_table() {
        let allowed: &[(CaseStatus, &[CaseStatus])] = &[
            (Bot, &[Queued, Assigned, Resolved, Closed]),
            (Queued, &[Assigned, Resolved, Closed]),
            (Assigned, &[Queued, WaitingOnContact, Resolved]),
            (WaitingOnContact, &[Assigned, Queued, Resolved]),
            (Resolved, &[Queued, Assigned, Closed]),
            (Closed, &[]),
        ];
        for (from, targets) in allowed {
            for to in CaseStatus::ALL {
                if to == *from {
                    continue;
                }
                let expected = targets.contains(&to);
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                let mut c = case(*from);
                let result = c.transition(to, Some(UserId::new()), Utc::now());
                assert_eq!(result.is_ok(), expected, "{from} -> {to}: {result:?}");
                if expected {
                    assert_eq!(c.status, to);
                } else {
                    assert_eq!(c.status, *from, "a refused transition changes nothing");
                }
            }
        }
    }

    #[test]
    fn assigned_needs_an_assignee_and_queued_clears_it() {
        let mut c = case(Queued);
        assert!(c.transition(Assigned, None, Utc::now()).is_err());
        let agent = UserId::new();
        c.transition(Assigned, Some(agent), Utc::now()).unwrap();
        assert_eq!(c.assignee_id, Some(agent));
        c.transition(Queued, None, Utc::now()).unwrap();
        assert_eq!(c.assignee_id, None);
    }

    #[test]
    fn resolve_and_reopen_track_timestamps() {
        let mut c = case(Assigned);
        c.transition(Resolved, None, Utc::now()).unwrap();
        assert!(c.resolved_at.is_some());
        c.transition(Queued, None, Utc::now()).unwrap();
        assert!(c.resolved_at.is_none(), "reopening clears the resolution time");
        c.transition(Resolved, None, Utc::now()).unwrap();
        c.transition(Closed, None, Utc::now()).unwrap();
        assert!(c.closed_at.is_some() && c.resolved_at.is_some());
    }

    #[test]
    fn assign_moves_queued_cases_and_unassign_requeues() {
        let agent = UserId::new();
        let mut c = case(Queued);
        c.assign(Some(agent), Utc::now()).unwrap();
        assert_eq!((c.status, c.assignee_id), (Assigned, Some(agent)));
        c.assign(None, Utc::now()).unwrap();
        assert_eq!((c.status, c.assignee_id), (Queued, None));
        let mut closed = case(Closed);
        assert!(closed.assign(Some(agent), Utc::now()).is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(parse_tag("tag", " Matrícula "), Ok("matrícula".into()));
        assert!(parse_tag("tag", "two words").is_err());
        assert!(parse_tag("tag", "<script>").is_err());
    }
}
