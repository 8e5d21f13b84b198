//! Service-level targets on a case (first response, resolution...), kept
//! by the protocol plugins that measure them and shown to agents.

use super::Error;
use chrono::{DateTime, Utc};

/// Most targets one install keeps on one case.
pub const MAX_TARGETS: usize = 8;

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// The clock runs towards the deadline.
    Running,
    /// Stopped for now (waiting on the person, say).
    Paused,
    /// Past the warning point, not yet due.
    Warning,
    /// Due and not met.
    Breached,
    /// Met (in time, or after a breach was recorded).
    Met,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Running => "running",
            SlaState::Paused => "paused",
            SlaState::Warning => "warning",
            SlaState::Breached => "breached",
            SlaState::Met => "met",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "running" => SlaState::Running,
            "paused" => SlaState::Paused,
            "warning" => SlaState::Warning,
            "breached" => SlaState::Breached,
            "met" => SlaState::Met,
            _ => return None,
        })
    }

    /// Whether the target still needs work (neither met nor paused).
    pub fn is_open(self) -> bool {
        matches!(self, SlaState::Running | SlaState::Warning | SlaState::Breached)
    }
}

/// One target as a protocol reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaTarget {
    pub name: String,
    pub state: SlaState,
    pub due_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
}

/// A target stored on a case, naming the install that keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSla {
    pub install_id: uuid::Uuid,
    pub target: SlaTarget,
    pub updated_at: DateTime<Utc>,
}

/// Checks what a protocol reports: names of lowercase letters, digits and
/// `_` (1-40), no name twice, a deadline unless paused, a settling time
/// when met or breached, at most [`MAX_TARGETS`].
pub fn validate(targets: &[SlaTarget]) -> Result<(), Error> {
    if targets.len() > MAX_TARGETS {
        return Err(Error::invalid("targets", format!("at most {MAX_TARGETS} targets per case")));
    }
    for (i, t) in targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        let name_ok = !t.name.is_empty()
            && t.name.len() <= 40
            && t.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(Error::invalid(format!("{field}.name"), "use 1 to 40 lowercase letters, digits or _"));
        }
        if targets[..i].iter().any(|o| o.name == t.name) {
            return Err(Error::invalid(format!("{field}.name"), format!("`{}` is given twice", t.name)));
        }
        if t.state != SlaState::Paused && t.due_at.is_none() {
            return Err(Error::invalid(format!("{field}.due_at"), "a running target needs a deadline"));
        }
        if matches!(t.state, SlaState::Met | SlaState::Breached) && t.settled_at.is_none() {
            return Err(Error::invalid(format!("{field}.settled_at"), "say when it was met or breached"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, state: SlaState) -> SlaTarget {
        SlaTarget { name: name.into(), state, due_at: Some(Utc::now()), settled_at: None }
    }

    #[test]
    fn reports_are_checked() {
        assert!(
            validate(&[target("first_response", SlaState::Running), target("resolution", SlaState::Warning)]).is_ok()
        );
        assert!(validate(&[target("First Response", SlaState::Running)]).is_err());
        assert!(validate(&[target("a", SlaState::Running), target("a", SlaState::Running)]).is_err());
        assert!(validate(&[target("a", SlaState::Met)]).is_err());
        let paused = SlaTarget { due_at: None, ..target("a", SlaState::Paused) };
        assert!(validate(std::slice::from_ref(&paused)).is_ok());
        assert!(validate(&[SlaTarget { state: SlaState::Running, ..paused }]).is_err());
        assert!(validate(&vec![target("a", SlaState::Running); 9]).is_err());
        for state in ["running", "paused", "warning", "breached", "met"] {
            assert_eq!(SlaState::parse(state).map(SlaState::as_str), Some(state));
        }
    }
}
