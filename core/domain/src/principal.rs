//! Who is making a request, and the rules of what they may see and do.
//!
//! Handlers ask these questions; the store applies [`Principal::case_units`]
//! inside its queries, so a forgotten check cannot leak another unit's cases.

use super::{ApiTokenId, Error, Membership, Role, UnitId, UserId};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    User { id: UserId, is_admin: bool, memberships: Vec<Membership> },
    Token { id: ApiTokenId, scopes: Vec<Scope> },
}

/// What an API token may do. Tokens are institution-wide; `write` implies `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    #[serde(rename = "cases:read")]
    CasesRead,
    #[serde(rename = "cases:write")]
    CasesWrite,
    #[serde(rename = "contacts:read")]
    ContactsRead,
    #[serde(rename = "contacts:write")]
    ContactsWrite,
    #[serde(rename = "units:read")]
    UnitsRead,
    #[serde(rename = "units:write")]
    UnitsWrite,
    #[serde(rename = "users:read")]
    UsersRead,
    #[serde(rename = "users:write")]
    UsersWrite,
    #[serde(rename = "kb:read")]
    KbRead,
    #[serde(rename = "kb:write")]
    KbWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::CasesRead,
        Scope::CasesWrite,
        Scope::ContactsRead,
        Scope::ContactsWrite,
        Scope::UnitsRead,
        Scope::UnitsWrite,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::KbRead,
        Scope::KbWrite,
        Scope::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CasesRead => "cases:read",
            Scope::CasesWrite => "cases:write",
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::UnitsRead => "units:read",
            Scope::UnitsWrite => "units:write",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::KbRead => "kb:read",
            Scope::KbWrite => "kb:write",
            Scope::AuditRead => "audit:read",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        Scope::ALL.into_iter().find(|s| s.as_str() == value).ok_or_else(|| {
            let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            Error::invalid(field, format!("`{value}` is not a scope; known scopes: {}", known.join(", ")))
        })
    }

    /// The write scope that also grants this read scope, if any.
    fn implied_by(self) -> Option<Scope> {
        match self {
            Scope::CasesRead => Some(Scope::CasesWrite),
            Scope::ContactsRead => Some(Scope::ContactsWrite),
            Scope::UnitsRead => Some(Scope::UnitsWrite),
            Scope::UsersRead => Some(Scope::UsersWrite),
            Scope::KbRead => Some(Scope::KbWrite),
            _ => None,
        }
    }
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::User { is_admin: true, .. })
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::User { id, .. } => Some(*id),
            Principal::Token { .. } => None,
        }
    }

    /// A token holding `scope` (or the write scope implying it).
    pub fn token_has(&self, scope: Scope) -> bool {
        match self {
            Principal::Token { scopes, .. } => {
                scopes.contains(&scope) || scope.implied_by().is_some_and(|w| scopes.contains(&w))
            }
            Principal::User { .. } => false,
        }
    }

    /// Admin users, or tokens with `scope`: institution-wide powers.
    pub fn is_admin_or_token(&self, scope: Scope) -> bool {
        self.is_admin() || self.token_has(scope)
    }

    pub fn role_in(&self, unit: UnitId) -> Option<Role> {
        match self {
            Principal::User { memberships, .. } => {
                let roles = memberships.iter().filter(|m| m.unit_id == unit).map(|m| m.role);
                roles.max_by_key(|r| matches!(r, Role::Supervisor))
            }
            Principal::Token { .. } => None,
        }
    }

    /// Units whose cases this caller may see; `None` means every unit.
    /// Returns an empty list for callers that may see no case at all.
    pub fn case_units(&self) -> Option<Vec<UnitId>> {
        match self {
            Principal::User { is_admin: true, .. } => None,
            Principal::User { memberships, .. } => Some(memberships.iter().map(|m| m.unit_id).collect()),
            Principal::Token { .. } if self.token_has(Scope::CasesRead) => None,
            Principal::Token { .. } => Some(vec![]),
        }
    }

    /// May read cases of `unit` (messages and notes included).
    pub fn can_read_unit_cases(&self, unit: UnitId) -> bool {
        self.case_units().is_none_or(|units| units.contains(&unit))
    }

    /// May create and work cases of `unit`: its agents and supervisors, admins, write tokens.
    pub fn can_work_cases_in(&self, unit: UnitId) -> bool {
        self.is_admin_or_token(Scope::CasesWrite) || self.role_in(unit).is_some()
    }

    /// May change a unit's settings (hours, name): its supervisors and admins.
    pub fn can_manage_unit(&self, unit: UnitId) -> bool {
        self.is_admin_or_token(Scope::UnitsWrite) || self.role_in(unit) == Some(Role::Supervisor)
    }

    /// May read the list of units: every staff member, tokens with `units:read`.
    pub fn can_read_units(&self) -> bool {
        matches!(self, Principal::User { .. }) || self.token_has(Scope::UnitsRead)
    }

    /// Units this caller supervises (admins supervise all: `None`).
    pub fn supervised_units(&self) -> Option<Vec<UnitId>> {
        match self {
            Principal::User { is_admin: true, .. } => None,
            Principal::User { memberships, .. } => {
                Some(memberships.iter().filter(|m| m.role == Role::Supervisor).map(|m| m.unit_id).collect())
            }
            Principal::Token { .. } if self.token_has(Scope::UsersRead) => None,
            Principal::Token { .. } => Some(vec![]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_of(unit: UnitId) -> Principal {
        Principal::User {
            id: UserId::new(),
            is_admin: false,
            memberships: vec![Membership { unit_id: unit, role: Role::Agent }],
        }
    }

    #[test]
    fn agents_see_only_their_units() {
        let (mine, other) = (UnitId::new(), UnitId::new());
        let agent = agent_of(mine);
        assert!(agent.can_read_unit_cases(mine));
        assert!(!agent.can_read_unit_cases(other));
        assert!(agent.can_work_cases_in(mine));
        assert!(!agent.can_work_cases_in(other));
        assert!(!agent.can_manage_unit(mine));
    }

    #[test]
    fn write_scope_implies_read() {
        let token = Principal::Token { id: ApiTokenId::new(), scopes: vec![Scope::CasesWrite] };
        assert!(token.token_has(Scope::CasesRead));
        assert!(!token.token_has(Scope::ContactsRead));
        assert_eq!(token.case_units(), None);
        let no_scope = Principal::Token { id: ApiTokenId::new(), scopes: vec![Scope::KbRead] };
        assert_eq!(no_scope.case_units(), Some(vec![]));
    }

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse("scopes[0]", scope.as_str()), Ok(scope));
        }
        assert!(Scope::parse("scopes[0]", "cases:delete").is_err());
    }
}
