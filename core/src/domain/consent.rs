//! Consent (habeas data): an append-only list of grants and revocations,
//! never a boolean, so the institution can show what was agreed and when.

use super::{Channel, ConsentId, ContactId, Error};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRecord {
    pub id: ConsentId,
    pub contact_id: ContactId,
    /// What the data is used for, e.g. `data_processing` or `broadcasts`.
    pub purpose: String,
    pub action: ConsentAction,
    /// The version of the consent text the person saw.
    pub text_version: String,
    pub channel: Channel,
    /// Where the answer came from: `bot`, `web_form`, `agent`, `api`...
    pub source: String,
    pub recorded_at: DateTime<Utc>,
}

/// A consent answer to record.
#[derive(Debug, Clone)]
pub struct NewConsent {
    pub purpose: String,
    pub action: ConsentAction,
    pub text_version: String,
    pub channel: Channel,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    Grant,
    Revoke,
}

impl ConsentAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentAction::Grant => "grant",
            ConsentAction::Revoke => "revoke",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        match value {
            "grant" => Ok(ConsentAction::Grant),
            "revoke" => Ok(ConsentAction::Revoke),
            _ => Err(Error::invalid(field, "must be `grant` or `revoke`")),
        }
    }
}

/// Validates a purpose or source label: lowercase snake_case, short.
pub fn parse_label(field: &str, value: &str) -> Result<String, Error> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(field, "must be lowercase snake_case, e.g. `data_processing`"))
    }
}

/// Whether consent for `purpose` currently stands: the latest record decides.
pub fn is_granted(records: &[ConsentRecord], purpose: &str) -> bool {
    records
        .iter()
        .filter(|r| r.purpose == purpose)
        .max_by_key(|r| (r.recorded_at, r.id))
        .is_some_and(|r| r.action == ConsentAction::Grant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn record(purpose: &str, action: ConsentAction, minutes: i64) -> ConsentRecord {
        ConsentRecord {
            id: ConsentId::new(),
            contact_id: ContactId(uuid::Uuid::nil()),
            purpose: purpose.into(),
            action,
            text_version: "v1".into(),
            channel: Channel::Webchat,
            source: "bot".into(),
            recorded_at: DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minutes),
        }
    }

    #[test]
    fn latest_record_decides() {
        let records = vec![
            record("data_processing", ConsentAction::Grant, 1),
            record("data_processing", ConsentAction::Revoke, 2),
            record("broadcasts", ConsentAction::Grant, 3),
        ];
        assert!(!is_granted(&records, "data_processing"));
        assert!(is_granted(&records, "broadcasts"));
        assert!(!is_granted(&records, "surveys"));
    }

    #[test]
    fn labels() {
        assert!(parse_label("purpose", "data_processing").is_ok());
        assert!(parse_label("purpose", "Data Processing").is_err());
        assert!(parse_label("purpose", "").is_err());
    }
}
