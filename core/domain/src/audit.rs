//! The append-only record of who did what.

use super::{ApiTokenId, AuditEventId, Principal, UnitId, UserId};
use chrono::{DateTime, Utc};

/// Who performed an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    Token(ApiTokenId),
    Plugin { id: String, version: String },
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Token(_) => "api_token",
            Actor::Plugin { .. } => "plugin",
            Actor::System => "system",
        }
    }

    /// A stable text id for the actor: a uuid, `plugin@version`, or `system`.
    pub fn id_text(&self) -> String {
        match self {
            Actor::User(id) => id.to_string(),
            Actor::Token(id) => id.to_string(),
            Actor::Plugin { id, version } => format!("{id}@{version}"),
            Actor::System => "system".into(),
        }
    }
}

impl From<&Principal> for Actor {
    fn from(principal: &Principal) -> Self {
        match principal {
            Principal::User { id, .. } => Actor::User(*id),
            Principal::Token { id, .. } => Actor::Token(*id),
        }
    }
}

/// One recorded action, e.g. `case.assigned` on a case by a user.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// Dotted verb: `case.created`, `contact.merged`, `api_token.revoked`...
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub unit_id: Option<UnitId>,
    pub details: serde_json::Value,
}
