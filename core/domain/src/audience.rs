//! Audiences: people as the institution's own systems know them (a student
//! or applicant number, attributes such as program, campus or cohort), and
//! the consent each of them gave, with where it came from.

use super::consent::{NewConsent, parse_label};
use super::{Channel, ConsentAction, Error, required_text};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

/// The longest external id (a student number, a national id, a CRM key).
pub const MAX_EXTERNAL_ID: usize = 128;
/// The most attributes a contact keeps.
pub const MAX_ATTRIBUTES: usize = 100;

/// One person to create or bring up to date, found by their external id.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactUpsert {
    pub external_id: String,
    /// Replaces the name when given.
    pub name: Option<String>,
    /// Added to the person's identities; one held by someone else is an error.
    pub identities: Vec<(Channel, String)>,
    /// Merged into the person's attributes; keys not named stay as they are.
    pub attributes: Map<String, Value>,
    /// Answers to record unless the person's own later answer stands.
    pub consents: Vec<NewConsent>,
}

/// Checks an external id: trimmed, 1 to 128 characters, no control characters.
pub fn parse_external_id(field: &str, value: &str) -> Result<String, Error> {
    let id = required_text(field, value, MAX_EXTERNAL_ID)?;
    if id.contains(['\n', '\r', '\t']) {
        return Err(Error::invalid(field, "must be on one line"));
    }
    Ok(id)
}

/// Whether a consent answer given at `given_at` changes what stands, given
/// the latest record for the same purpose (its action and when it was
/// given). An answer never overrides a later one, so a file gathered in
/// March re-imported in May does not undo a "BAJA" the person sent in
/// April; and an answer that repeats what stands adds nothing.
pub fn consent_changes(
    latest: Option<(ConsentAction, DateTime<Utc>)>,
    action: ConsentAction,
    given_at: DateTime<Utc>,
) -> bool {
    match latest {
        None => true,
        Some((standing, at)) => standing != action && given_at > at,
    }
}

/// How an import file's answers to consent are recorded: the text the
/// people were shown and where the file came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportConsent {
    /// The version of the consent text the people saw.
    pub text_version: Option<String>,
    /// When they gave it, for rows without a `consent_date`.
    pub given_at: Option<DateTime<Utc>>,
    /// The file's name, kept on each record.
    pub reference: Option<String>,
}

/// What each column of an import file holds. Headers arrive folded (lower
/// case, no accents, `_` for spaces).
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    external_id: usize,
    name: Option<usize>,
    identities: Vec<(usize, Channel)>,
    consents: Vec<(usize, String)>,
    consent_date: Option<usize>,
    attributes: Vec<(usize, String)>,
}

/// The channel a column gives addresses for: the ones people are known on
/// by something they can write down (a number, an address, a chat id), by
/// name or as Spanish and Portuguese spreadsheets head them.
fn address_channel(header: &str) -> Option<Channel> {
    match header {
        "whatsapp" => Some(Channel::Whatsapp),
        "sms" => Some(Channel::Sms),
        "phone" | "telefono" | "celular" | "movil" | "telefone" => Some(Channel::Phone),
        "email" | "correo" | "correo_electronico" | "e-mail" => Some(Channel::Email),
        "telegram" => Some(Channel::Telegram),
        _ => None,
    }
}

impl Columns {
    /// Reads the header row, matched without case or accents and with `_`
    /// for spaces. `external_id` is required; `name`, a channel
    /// (`whatsapp`, `sms`, `phone`, `email`, `telegram`), `consent.<purpose>`
    /// and `consent_date` are read as such; any other column is an attribute.
    pub fn parse<S: AsRef<str>>(headers: &[S]) -> Result<Columns, Vec<Error>> {
        let headers: Vec<String> =
            headers.iter().map(|h| super::kb::fold(h.as_ref().trim()).replace(' ', "_")).collect();
        let mut errors = vec![];
        let mut columns = Columns {
            external_id: usize::MAX,
            name: None,
            identities: vec![],
            consents: vec![],
            consent_date: None,
            attributes: vec![],
        };
        let mut seen = std::collections::HashSet::new();
        for (i, header) in headers.iter().enumerate() {
            let field = format!("columns[{i}]");
            if header.is_empty() {
                continue;
            }
            if !seen.insert(header.as_str()) {
                errors.push(Error::invalid(field, format!("`{header}` appears twice")));
                continue;
            }
            match header.as_str() {
                "external_id" => columns.external_id = i,
                "name" | "nombre" | "nome" => columns.name = Some(i),
                "consent_date" | "fecha_consentimiento" | "data_consentimento" => columns.consent_date = Some(i),
                h => {
                    if let Some(channel) = address_channel(h) {
                        columns.identities.push((i, channel));
                    } else if let Some(purpose) = h.strip_prefix("consent.") {
                        match parse_label(&field, purpose) {
                            Ok(p) => columns.consents.push((i, p)),
                            Err(e) => errors.push(e),
                        }
                    } else {
                        match parse_label(&field, h) {
                            Ok(key) => columns.attributes.push((i, key)),
                            Err(_) => errors.push(Error::invalid(
                                field,
                                format!("`{h}` is not a column this import reads nor an attribute name (lowercase snake_case)"),
                            )),
                        }
                    }
                }
            }
        }
        if columns.external_id == usize::MAX {
            errors.push(Error::invalid("columns", "the header row needs an external_id column"));
        }
        if columns.attributes.len() > MAX_ATTRIBUTES {
            errors.push(Error::invalid("columns", format!("at most {MAX_ATTRIBUTES} attribute columns")));
        }
        if errors.is_empty() { Ok(columns) } else { Err(errors) }
    }

    /// Whether the file carries answers to consent.
    pub fn has_consents(&self) -> bool {
        !self.consents.is_empty()
    }

    /// The attribute keys the file sets, in column order.
    pub fn attribute_keys(&self) -> Vec<String> {
        self.attributes.iter().map(|(_, k)| k.clone()).collect()
    }

    /// Reads one row; `cell(i)` is the value of column `i` (empty when the
    /// row is short). Errors name the column.
    pub fn row<'a>(
        &self,
        cell: impl Fn(usize) -> &'a str,
        defaults: &ImportConsent,
        now: DateTime<Utc>,
    ) -> Result<ContactUpsert, Vec<Error>> {
        let mut errors = vec![];
        let external_id = kept(&mut errors, parse_external_id("external_id", cell(self.external_id)));
        let name = match self.name.map(&cell).filter(|n| !n.trim().is_empty()) {
            Some(n) => kept(&mut errors, required_text("name", n, 200)),
            None => None,
        };
        let mut identities = vec![];
        for (i, channel) in &self.identities {
            let value = cell(*i);
            if !value.trim().is_empty() {
                let value = kept(&mut errors, super::contact::normalize_identity(channel.as_str(), *channel, value));
                identities.extend(value.map(|v| (*channel, v)));
            }
        }
        let mut attributes = Map::new();
        for (i, key) in &self.attributes {
            let value = cell(*i).trim();
            if value.chars().count() > 500 {
                errors.push(Error::invalid(key.clone(), "must be at most 500 characters"));
            } else if !value.is_empty() {
                attributes.insert(key.clone(), Value::String(value.to_owned()));
            }
        }
        let mut answers = vec![];
        for (i, purpose) in &self.consents {
            let field = format!("consent.{purpose}");
            match consent_answer(cell(*i)) {
                Ok(Some(action)) => answers.push((purpose.clone(), action)),
                Ok(None) => {}
                Err(message) => errors.push(Error::invalid(field, message)),
            }
        }
        let given_at = match self.consent_date.map(&cell).map(str::trim).filter(|d| !d.is_empty()) {
            Some(date) => kept(&mut errors, parse_date("consent_date", date, now)),
            None => defaults.given_at,
        };
        let mut consents = vec![];
        if !answers.is_empty() {
            match (given_at, &defaults.text_version) {
                (Some(given_at), Some(version)) => {
                    consents.extend(answers.into_iter().map(|(purpose, action)| NewConsent {
                        purpose,
                        action,
                        text_version: version.clone(),
                        channel: Channel::Api,
                        source: "import".to_owned(),
                        reference: defaults.reference.clone(),
                        given_at: Some(given_at),
                    }))
                }
                (None, _)
                    if errors.iter().all(|e| !matches!(e, Error::Invalid { field, .. } if field == "consent_date")) =>
                {
                    errors.push(Error::invalid(
                        "consent_date",
                        "needed with an answer to consent: when the person gave it (or given_at for the whole file)",
                    ))
                }
                _ => {}
            }
        }
        match external_id {
            Some(external_id) if errors.is_empty() => {
                Ok(ContactUpsert { external_id, name, identities, attributes, consents })
            }
            _ => Err(errors),
        }
    }
}

/// The value, or `None` with its error noted.
fn kept<T>(errors: &mut Vec<Error>, result: Result<T, Error>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// A consent cell: yes, no, or nothing said. Spanish and Portuguese
/// spreadsheets write sí/não, others yes/no, 1/0 or true/false.
fn consent_answer(cell: &str) -> Result<Option<ConsentAction>, String> {
    let folded = cell.trim().to_lowercase();
    match folded.as_str() {
        "" => Ok(None),
        "si" | "sí" | "s" | "yes" | "y" | "sim" | "true" | "verdadero" | "1" | "x" | "grant" => {
            Ok(Some(ConsentAction::Grant))
        }
        "no" | "n" | "não" | "nao" | "false" | "falso" | "0" | "revoke" => Ok(Some(ConsentAction::Revoke)),
        _ => Err(format!("`{}` is neither yes (sí, 1) nor no (no, 0)", cell.trim())),
    }
}

/// A date (`2026-03-01`, taken as midnight UTC) or an RFC 3339 moment, not
/// in the future.
pub fn parse_date(field: &str, value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    let at = DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc())
        })
        .ok_or_else(|| Error::invalid(field, "must be a date (2026-03-01) or a moment (2026-03-01T10:00:00-05:00)"))?;
    if at > now + chrono::Duration::minutes(5) {
        return Err(Error::invalid(field, "must not be in the future"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn defaults() -> ImportConsent {
        ImportConsent { text_version: Some("v2".into()), given_at: None, reference: Some("admisiones.csv".into()) }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn a_row_is_read_by_its_columns() {
        let columns = Columns::parse(&[
            "external_id",
            "Nombre",
            "WhatsApp",
            "correo",
            "program",
            "Consent.Broadcasts",
            "consent_date",
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(columns.attribute_keys(), vec!["program".to_owned()]);
        let cells = ["2027-0042", "Ana Ruiz", "+57 300 111 2233", "Ana@Uni.edu.co", "Medicina", "sí", "2026-03-01"];
        let row = columns
            .row(|i| cells.get(i).copied().unwrap_or(""), &defaults(), now())
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(row.external_id, "2027-0042");
        assert_eq!(
            row.identities,
            vec![(Channel::Whatsapp, "+573001112233".to_owned()), (Channel::Email, "ana@uni.edu.co".to_owned())]
        );
        assert_eq!(row.attributes.get("program"), Some(&Value::String("Medicina".into())));
        assert_eq!(row.consents.len(), 1);
        assert_eq!(row.consents[0].action, ConsentAction::Grant);
        assert_eq!(row.consents[0].reference.as_deref(), Some("admisiones.csv"));
        assert_eq!(row.consents[0].given_at.map(|d| d.to_rfc3339()), Some("2026-03-01T00:00:00+00:00".into()));
    }

    #[test]
    fn bad_rows_and_headers_say_which_column() {
        assert!(Columns::parse(&headers(&["name"])).is_err());
        let errors = Columns::parse(&headers(&["External_ID", "Programa/Académico", "consent.bad-label"]))
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 2, "{errors:?}");
        let columns =
            Columns::parse(&headers(&["external_id", "sms", "consent.broadcasts"])).unwrap_or_else(|e| panic!("{e:?}"));
        let cells = ["", "not a number", "quizás"];
        let errors = columns.row(|i| cells[i], &defaults(), now()).err().unwrap_or_default();
        let fields: Vec<String> = errors
            .iter()
            .map(|e| match e {
                Error::Invalid { field, .. } => field.clone(),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(fields, vec!["external_id", "sms", "consent.broadcasts"]);
        // An answer needs the day it was given.
        let cells = ["7", "", "no"];
        let errors = columns.row(|i| cells[i], &defaults(), now()).err().unwrap_or_default();
        assert!(matches!(&errors[..], [Error::Invalid { field, .. }] if field == "consent_date"), "{errors:?}");
        let with_date = ImportConsent { given_at: Some(now()), ..defaults() };
        assert!(columns.row(|i| cells[i], &with_date, now()).is_ok());
    }

    #[test]
    fn an_answer_never_overrides_a_later_one() {
        let march = now() - chrono::Duration::days(270);
        let april = march + chrono::Duration::days(30);
        assert!(consent_changes(None, ConsentAction::Grant, march));
        assert!(!consent_changes(Some((ConsentAction::Revoke, april)), ConsentAction::Grant, march));
        assert!(consent_changes(Some((ConsentAction::Revoke, march)), ConsentAction::Grant, april));
        assert!(!consent_changes(Some((ConsentAction::Grant, march)), ConsentAction::Grant, april));
    }
}
