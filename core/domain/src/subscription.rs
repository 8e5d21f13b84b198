//! Event subscriptions: an external system asks to be told, by a signed
//! HTTP POST (a webhook), when something happens to the cases it may see.

use super::{Error, UnitId};

/// What a subscription can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EventType {
    #[serde(rename = "case.created")]
    CaseCreated,
    /// Status (but resolution), owner, unit, priority, tags, fields.
    #[serde(rename = "case.updated")]
    CaseUpdated,
    #[serde(rename = "case.resolved")]
    CaseResolved,
    #[serde(rename = "message.created")]
    MessageCreated,
    #[serde(rename = "survey.answered")]
    SurveyAnswered,
    /// A person granted or revoked an authorisation.
    #[serde(rename = "consent.changed")]
    ConsentChanged,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::CaseCreated,
        EventType::CaseUpdated,
        EventType::CaseResolved,
        EventType::MessageCreated,
        EventType::SurveyAnswered,
        EventType::ConsentChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CaseCreated => "case.created",
            EventType::CaseUpdated => "case.updated",
            EventType::CaseResolved => "case.resolved",
            EventType::MessageCreated => "message.created",
            EventType::SurveyAnswered => "survey.answered",
            EventType::ConsentChanged => "consent.changed",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        EventType::ALL.into_iter().find(|e| e.as_str() == value).ok_or_else(|| {
            let known: Vec<_> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            Error::invalid(field, format!("`{value}` is not an event; known events: {}", known.join(", ")))
        })
    }
}

/// A subscription's choices.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: uuid::Uuid,
    pub name: String,
    pub url: String,
    pub events: Vec<EventType>,
    /// Only cases of these units; `None` for every unit. Events not about
    /// a unit's case (consent changes) reach only subscriptions of every unit.
    pub units: Option<Vec<UnitId>>,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Subscription {
    /// Whether this subscription is told about `event` of `unit`.
    pub fn wants(&self, event: EventType, unit: Option<UnitId>) -> bool {
        self.active
            && self.events.contains(&event)
            && match (&self.units, unit) {
                (None, _) => true,
                (Some(units), Some(unit)) => units.contains(&unit),
                (Some(_), None) => false,
            }
    }
}

/// Checks a receiver's address: an absolute `https://` URL (`http://`
/// too when `insecure` is allowed, for receivers on the same machine).
pub fn check_url(field: &str, url: &str, insecure: bool) -> Result<String, Error> {
    let url = url.trim();
    let scheme_ok = url.starts_with("https://") || (insecure && url.starts_with("http://"));
    if !scheme_ok {
        let message = if insecure { "use an http:// or https:// address" } else { "use an https:// address" };
        return Err(Error::invalid(field, message));
    }
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    if rest.is_empty() || rest.starts_with('/') || url.len() > 2000 || url.chars().any(char::is_whitespace) {
        return Err(Error::invalid(field, "this is not an address a request can be sent to"));
    }
    if rest.split('/').next().is_some_and(|authority| authority.contains('@')) {
        return Err(Error::invalid(field, "credentials do not go in the address; check the signature instead"));
    }
    Ok(url.to_owned())
}

/// Checks the events chosen: at least one, none twice.
pub fn check_events(field: &str, names: &[String]) -> Result<Vec<EventType>, Error> {
    let mut events = vec![];
    for (i, name) in names.iter().enumerate() {
        let event = EventType::parse(&format!("{field}[{i}]"), name)?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err(Error::invalid(field, "choose at least one event"));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_events_are_checked() {
        assert!(check_url("url", "https://crm.uni.edu.co/hooks", false).is_ok());
        assert!(check_url("url", "http://crm.uni.edu.co/hooks", false).is_err());
        assert!(check_url("url", "http://127.0.0.1:9000/hooks", true).is_ok());
        assert!(check_url("url", "https://user:pw@crm.uni.edu.co/", false).is_err());
        assert!(check_url("url", "https:///x", false).is_err());
        assert!(check_url("url", "ftp://x", true).is_err());
        let names = vec!["case.created".to_owned(), "case.created".to_owned(), "consent.changed".to_owned()];
        assert_eq!(check_events("events", &names), Ok(vec![EventType::CaseCreated, EventType::ConsentChanged]));
        assert!(check_events("events", &[]).is_err());
        assert!(check_events("events", &["case.deleted".to_owned()]).is_err());
    }

    #[test]
    fn subscriptions_hear_only_their_units() {
        let a = UnitId::new();
        let sub = Subscription {
            id: uuid::Uuid::new_v4(),
            name: "CRM".into(),
            url: "https://crm/".into(),
            events: vec![EventType::CaseCreated, EventType::ConsentChanged],
            units: Some(vec![a]),
            active: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        assert!(sub.wants(EventType::CaseCreated, Some(a)));
        assert!(!sub.wants(EventType::CaseCreated, Some(UnitId::new())));
        assert!(!sub.wants(EventType::CaseResolved, Some(a)));
        assert!(!sub.wants(EventType::ConsentChanged, None));
        let everywhere = Subscription { units: None, ..sub.clone() };
        assert!(everywhere.wants(EventType::ConsentChanged, None));
        assert!(!Subscription { active: false, ..everywhere }.wants(EventType::CaseCreated, Some(a)));
    }
}
