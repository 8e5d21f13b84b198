//! Segments: a saved description of a group of people (the applicants of
//! Medicine who agreed to receive messages, the students who wrote to
//! Admissions in the last month), evaluated when it is used, so it always
//! means the people who match it now.
//!
//! Every condition must hold (AND); the values within one condition are
//! alternatives (OR).

use super::case::parse_tag;
use super::consent::parse_label;
use super::{CaseStatus, Channel, Error, UnitId, UserId, required_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most conditions on attributes, values in one condition, and so on:
/// a segment is read by people and run as one query.
pub const MAX_RULES: usize = 20;
pub const MAX_VALUES: usize = 100;
/// The longest attribute value compared.
pub const MAX_VALUE_CHARS: usize = 200;
/// The furthest back `opened_within_days` looks (ten years).
pub const MAX_DAYS: u32 = 3650;

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: uuid::Uuid,
    /// The unit whose people it chooses among (those with a case in it);
    /// none for an institution-wide segment, which admins keep.
    pub unit_id: Option<UnitId>,
    pub name: String,
    pub description: Option<String>,
    pub filter: Filter,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who a segment chooses. Stored as JSON in this shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Conditions on the person's attributes (program, campus, cohort...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeRule>,
    /// The person can be reached on one of these channels (has an identity on it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    /// A condition on the person's cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<CaseRule>,
    /// Conditions on the person's current answer to consent, per purpose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent: Vec<ConsentRule>,
    /// Whether the person has an external id (came from the institution's
    /// systems): `true` only them, `false` only those without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<bool>,
}

/// A condition on one attribute. Values compare as text, exactly
/// (`true`, `2027`, `Medicina`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeRule {
    pub key: String,
    pub test: AttributeTest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeTest {
    /// The attribute is one of these values.
    In(Vec<String>),
    /// The attribute is missing or none of these values.
    NotIn(Vec<String>),
    /// The attribute is set (`true`) or missing (`false`).
    Present(bool),
}

/// The person has (or, with `has: false`, has no) case matching all of
/// these; an empty list does not restrict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRule {
    pub has: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<UnitId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<CaseStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    /// Opened in the last this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_within_days: Option<u32>,
}

/// What the person's latest answer for a purpose is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRule {
    pub purpose: String,
    pub state: ConsentState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Their latest answer is a grant.
    Granted,
    /// Their latest answer is a revocation.
    Revoked,
    /// They never answered.
    Unanswered,
    /// Anything but a standing grant (revoked or never answered).
    NotGranted,
}

impl ConsentState {
    pub const ALL: [ConsentState; 4] =
        [ConsentState::Granted, ConsentState::Revoked, ConsentState::Unanswered, ConsentState::NotGranted];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Granted => "granted",
            ConsentState::Revoked => "revoked",
            ConsentState::Unanswered => "unanswered",
            ConsentState::NotGranted => "not_granted",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        ConsentState::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| Error::invalid(field, "must be `granted`, `revoked`, `unanswered` or `not_granted`"))
    }
}

/// A segment to save.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSegment {
    pub unit_id: Option<UnitId>,
    pub name: String,
    pub description: Option<String>,
    pub filter: Filter,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub filter: Option<Filter>,
}

pub fn parse_name(field: &str, value: &str) -> Result<String, Error> {
    required_text(field, value, 120)
}

pub fn parse_description(field: &str, value: &str) -> Result<Option<String>, Error> {
    if value.trim().is_empty() { Ok(None) } else { required_text(field, value, 1000).map(Some) }
}

/// Checks one attribute value to compare with.
pub fn parse_value(field: &str, value: &str) -> Result<String, Error> {
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(Error::invalid(field, format!("must be at most {MAX_VALUE_CHARS} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

impl Filter {
    /// Checks a filter as a whole and brings its parts to their canonical
    /// form (tags lowercased, lists without repeats); errors name the field
    /// under `prefix` (`filter.attributes[0].key`).
    pub fn checked(mut self, prefix: &str) -> Result<Filter, Vec<Error>> {
        let mut errors = vec![];
        if self.attributes.len() > MAX_RULES {
            errors.push(Error::invalid(format!("{prefix}.attributes"), format!("at most {MAX_RULES} conditions")));
        }
        for (i, rule) in self.attributes.iter_mut().enumerate() {
            let field = format!("{prefix}.attributes[{i}]");
            if let Err(e) = parse_label(&format!("{field}.key"), &rule.key) {
                errors.push(e);
            }
            match &mut rule.test {
                AttributeTest::In(values) | AttributeTest::NotIn(values) => {
                    if values.is_empty() || values.len() > MAX_VALUES {
                        errors.push(Error::invalid(&field, format!("give 1 to {MAX_VALUES} values")));
                    }
                    for (j, value) in values.iter().enumerate() {
                        if let Err(e) = parse_value(&format!("{field}.values[{j}]"), value) {
                            errors.push(e);
                        }
                    }
                    dedup(values);
                }
                AttributeTest::Present(_) => {}
            }
        }
        dedup(&mut self.channels);
        if let Some(cases) = &mut self.cases {
            let field = format!("{prefix}.cases");
            if cases.units.len() > MAX_VALUES || cases.tags.len() > MAX_RULES {
                errors.push(Error::invalid(&field, format!("at most {MAX_VALUES} units and {MAX_RULES} tags")));
            }
            for (i, tag) in cases.tags.iter_mut().enumerate() {
                match parse_tag(&format!("{field}.tags[{i}]"), tag) {
                    Ok(t) => *tag = t,
                    Err(e) => errors.push(e),
                }
            }
            if let Some(days) = cases.opened_within_days
                && !(1..=MAX_DAYS).contains(&days)
            {
                errors.push(Error::invalid(format!("{field}.opened_within_days"), format!("must be 1 to {MAX_DAYS}")));
            }
            dedup(&mut cases.units);
            dedup(&mut cases.tags);
            dedup(&mut cases.statuses);
            dedup(&mut cases.channels);
        }
        if self.consent.len() > MAX_RULES {
            errors.push(Error::invalid(format!("{prefix}.consent"), format!("at most {MAX_RULES} conditions")));
        }
        for (i, rule) in self.consent.iter().enumerate() {
            if let Err(e) = parse_label(&format!("{prefix}.consent[{i}].purpose"), &rule.purpose) {
                errors.push(e);
            }
        }
        if errors.is_empty() { Ok(self) } else { Err(errors) }
    }

    /// The units the filter names, which the caller must be allowed to see.
    pub fn units(&self) -> &[UnitId] {
        self.cases.as_ref().map(|c| c.units.as_slice()).unwrap_or_default()
    }

    /// Whether it requires a standing grant for `purpose`: what a campaign
    /// for that purpose sends to, checked again for each person at send time.
    pub fn requires_grant(&self, purpose: &str) -> bool {
        self.consent.iter().any(|r| r.purpose == purpose && r.state == ConsentState::Granted)
    }
}

fn dedup<T: PartialEq + Clone>(values: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(values.len());
    values.retain(|v| {
        if seen.contains(v) {
            false
        } else {
            seen.push(v.clone());
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(filter: Filter) -> Vec<String> {
        match filter.checked("filter") {
            Ok(_) => vec![],
            Err(errors) => errors
                .into_iter()
                .map(|e| match e {
                    Error::Invalid { field, .. } => field,
                    other => other.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_filter_reads_as_json_in_its_documented_shape() {
        let filter: Filter = serde_json::from_value(serde_json::json!({
            "attributes": [
                {"key": "program", "test": {"in": ["Medicina", "Enfermería"]}},
                {"key": "cohort", "test": {"present": true}}
            ],
            "channels": ["whatsapp"],
            "cases": {"has": false, "statuses": ["queued", "assigned"]},
            "consent": [{"purpose": "broadcasts", "state": "granted"}]
        }))
        .unwrap();
        assert_eq!(filter.attributes[0].test, AttributeTest::In(vec!["Medicina".into(), "Enfermería".into()]));
        assert!(filter.requires_grant("broadcasts"));
        assert!(!filter.requires_grant("surveys"));
        let back = serde_json::to_value(&filter).unwrap();
        assert_eq!(serde_json::from_value::<Filter>(back).unwrap(), filter);
    }

    #[test]
    fn bad_parts_are_named_by_their_place() {
        let filter = Filter {
            attributes: vec![
                AttributeRule { key: "Program".into(), test: AttributeTest::In(vec!["x".into()]) },
                AttributeRule { key: "campus".into(), test: AttributeTest::NotIn(vec![]) },
                AttributeRule { key: "cohort".into(), test: AttributeTest::In(vec!["a\u{7}".into()]) },
            ],
            cases: Some(CaseRule {
                has: true,
                units: vec![],
                tags: vec!["con espacio".into()],
                statuses: vec![],
                channels: vec![],
                opened_within_days: Some(0),
            }),
            consent: vec![ConsentRule { purpose: "Broadcasts".into(), state: ConsentState::Granted }],
            ..Filter::default()
        };
        assert_eq!(
            fields(filter),
            [
                "filter.attributes[0].key",
                "filter.attributes[1]",
                "filter.attributes[2].values[0]",
                "filter.cases.tags[0]",
                "filter.cases.opened_within_days",
                "filter.consent[0].purpose",
            ]
        );
    }

    #[test]
    fn a_checked_filter_is_canonical() {
        let filter = Filter {
            channels: vec![Channel::Sms, Channel::Sms],
            cases: Some(CaseRule {
                has: true,
                units: vec![],
                tags: vec!["Becas".into(), "becas".into()],
                statuses: vec![],
                channels: vec![],
                opened_within_days: Some(30),
            }),
            ..Filter::default()
        }
        .checked("filter")
        .unwrap();
        assert_eq!(filter.channels, [Channel::Sms]);
        assert_eq!(filter.cases.unwrap().tags, ["becas"]);
    }
}
