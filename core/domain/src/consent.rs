//! Consent (habeas data): an append-only list of grants and revocations,
//! never a boolean, so the institution can show what was agreed and when.

use super::{Channel, ConsentId, ContactId, Error, UserId};
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
    /// Where the answer came from: `bot`, `web_form`, `web_chat`, and for
    /// one staff recorded, how it was given: `phone`, `in_person`, `written`...
    pub source: String,
    /// The form, file or document the answer came from (`admisiones-2027.csv`,
    /// a form's address), when there is one.
    pub reference: Option<String>,
    /// The staff member who recorded it; none when the person answered on a channel.
    pub recorded_by: Option<UserId>,
    /// When the person gave it, if earlier than it was recorded (a phone call
    /// written down afterwards).
    pub given_at: Option<DateTime<Utc>>,
    pub recorded_at: DateTime<Utc>,
}

/// A consent answer to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConsent {
    pub purpose: String,
    pub action: ConsentAction,
    pub text_version: String,
    pub channel: Channel,
    pub source: String,
    /// The form, file or document the answer came from.
    pub reference: Option<String>,
    /// When the person gave it, if earlier than now.
    pub given_at: Option<DateTime<Utc>>,
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

/// A version of the text people are shown when asked for consent to a
/// purpose. Versions are numbered per purpose and never change; a record
/// of consent names the version the person saw (`v<n>`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentText {
    pub id: uuid::Uuid,
    pub purpose: String,
    pub version: i32,
    /// `es`, `en` or `pt`.
    pub locale: String,
    pub text: String,
    /// The institution's data protection policy.
    pub policy_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ConsentText {
    /// What a record of consent to this text names as its version.
    pub fn label(&self) -> String {
        format!("v{}", self.version)
    }
}

/// A new version of a consent text, checked.
#[derive(Debug, Clone)]
pub struct NewConsentText {
    pub purpose: String,
    pub locale: String,
    pub text: String,
    pub policy_url: Option<String>,
}

impl NewConsentText {
    /// Checks every field, naming each that is wrong.
    pub fn parse(
        purpose: &str,
        locale: &str,
        text: &str,
        policy_url: Option<&str>,
    ) -> Result<NewConsentText, Vec<Error>> {
        let mut errors = vec![];
        let purpose = parse_label("purpose", purpose).map_err(|e| errors.push(e)).ok();
        if !crate::user::LOCALES.contains(&locale) {
            errors.push(Error::invalid("locale", "must be `es`, `en` or `pt`"));
        }
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 5000 {
            errors.push(Error::invalid("text", "must be 1 to 5000 characters"));
        }
        let policy_url = policy_url.map(str::trim).filter(|u| !u.is_empty());
        if let Some(url) = policy_url
            && (!(url.starts_with("https://") || url.starts_with("http://"))
                || url.len() > 500
                || url.chars().any(char::is_whitespace))
        {
            errors.push(Error::invalid("policy_url", "must be an http(s) address"));
        }
        match purpose {
            Some(purpose) if errors.is_empty() => Ok(NewConsentText {
                purpose,
                locale: locale.to_owned(),
                text: text.to_owned(),
                policy_url: policy_url.map(str::to_owned),
            }),
            _ => Err(errors),
        }
    }
}

/// A consent answer a quick reply (or a form's checkbox) carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer<'a> {
    pub action: ConsentAction,
    pub purpose: &'a str,
    /// The version of the text the person was shown, when the question named it.
    pub version: Option<i32>,
}

/// The option id that answers `purpose` so, naming the text's version.
pub fn answer_option(action: ConsentAction, purpose: &str, version: Option<i32>) -> String {
    match version {
        Some(v) => format!("consent:{}:{purpose}:v{v}", action.as_str()),
        None => format!("consent:{}:{purpose}", action.as_str()),
    }
}

/// The consent answer in an option id: `consent:grant:<purpose>` or
/// `consent:revoke:<purpose>`, optionally followed by `:v<n>`.
pub fn answer_of(option: &str) -> Option<Answer<'_>> {
    let mut parts = option.strip_prefix("consent:")?.split(':');
    let action = match parts.next()? {
        "grant" => ConsentAction::Grant,
        "revoke" => ConsentAction::Revoke,
        _ => return None,
    };
    let purpose = parts.next()?;
    parse_label("purpose", purpose).ok()?;
    let version = match parts.next() {
        Some(v) => Some(v.strip_prefix('v')?.parse::<i32>().ok().filter(|v| *v > 0)?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(Answer { action, purpose, version })
}

/// Whether consent for `purpose` currently stands: the latest record decides.
pub fn is_granted(records: &[ConsentRecord], purpose: &str) -> bool {
    records
        .iter()
        .filter(|r| r.purpose == purpose)
        .max_by_key(|r| (r.recorded_at, r.id))
        .is_some_and(|r| r.action == ConsentAction::Grant)
}

/// The purpose a person's "BAJA" revokes when nothing but the processing of
/// their data stands granted: outreach campaigns ask for it by default, and
/// a standing "no" to it keeps an older list from signing them up again.
pub const BROADCASTS_PURPOSE: &str = "broadcasts";

/// A whole message that asks to stop receiving messages. ("Darme de baja"
/// is not among them: said alone in a conversation with the registrar it
/// is how a student asks to withdraw.)
const OPT_OUT_WORDS: [&str; 10] = [
    "baja",
    "stop",
    "unsubscribe",
    "cancelar suscripcion",
    "cancelar mensajes",
    "no mas mensajes",
    "parar",
    "sair",
    "descadastrar",
    "cancelar inscricao",
];

/// Words that ask it inside a longer message and mean nothing else.
const OPT_OUT_PHRASES: [&str; 7] = [
    "no quiero recibir mas",
    "no me envien mas",
    "no me manden mas",
    "dejen de enviarme",
    "dejen de escribirme",
    "nao quero receber mais",
    "nao quero mais receber",
];

/// Whether a person's message asks to stop receiving messages ("BAJA",
/// "STOP", "no quiero recibir más mensajes"): a whole message that is one
/// of the words (case, accents and punctuation aside), or a longer one
/// with a phrase that means nothing else.
pub fn asks_to_opt_out(text: &str) -> bool {
    let folded = super::kb::fold(text);
    let words: Vec<&str> = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() || words.len() > 60 {
        return false;
    }
    let plain = words.join(" ");
    OPT_OUT_WORDS.contains(&plain.as_str())
        || OPT_OUT_PHRASES.iter().any(|p| format!(" {plain} ").contains(&format!(" {p} ")))
}

/// The latest record of each purpose that is a grant: what the person
/// agreed to and has not withdrawn.
pub fn standing_grants(records: &[ConsentRecord]) -> Vec<&ConsentRecord> {
    let mut latest: std::collections::BTreeMap<&str, &ConsentRecord> = std::collections::BTreeMap::new();
    for record in records {
        let newer =
            latest.get(record.purpose.as_str()).is_none_or(|l| (record.recorded_at, record.id) > (l.recorded_at, l.id));
        if newer {
            latest.insert(&record.purpose, record);
        }
    }
    latest.into_values().filter(|r| r.action == ConsentAction::Grant).collect()
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
            reference: None,
            recorded_by: None,
            given_at: None,
            recorded_at: DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minutes),
        }
    }

    #[test]
    fn people_stop_messages_in_their_words() {
        for text in [
            "BAJA",
            "Baja.",
            "stop",
            "STOP!",
            "no quiero recibir más mensajes",
            "Por favor no me envíen más cosas",
            "Não quero receber mais",
            "  unsubscribe  ",
        ] {
            assert!(asks_to_opt_out(text), "{text}");
        }
        for text in [
            "quiero darme de baja de la materia de cálculo",
            "darme de baja",
            "¿cómo doy de baja una asignatura?",
            "no para",
            "la baja de mi matrícula",
            "stop motion es mi curso favorito",
            "",
            "🙂",
        ] {
            assert!(!asks_to_opt_out(text), "{text}");
        }
    }

    #[test]
    fn standing_grants_are_the_latest_yes_of_each_purpose() {
        let records = vec![
            record("data_processing", ConsentAction::Grant, 1),
            record("broadcasts", ConsentAction::Grant, 2),
            record("surveys", ConsentAction::Grant, 3),
            record("surveys", ConsentAction::Revoke, 4),
        ];
        let purposes: Vec<&str> = standing_grants(&records).iter().map(|r| r.purpose.as_str()).collect();
        assert_eq!(purposes, ["broadcasts", "data_processing"]);
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
    fn quick_replies_carry_answers() {
        let grant = Answer { action: ConsentAction::Grant, purpose: "data_processing", version: None };
        assert_eq!(answer_of("consent:grant:data_processing"), Some(grant));
        assert_eq!(answer_of("consent:grant:data_processing:v3"), Some(Answer { version: Some(3), ..grant }));
        assert_eq!(
            answer_of(&answer_option(ConsentAction::Revoke, "surveys", Some(2))).map(|a| a.version),
            Some(Some(2))
        );
        assert_eq!(answer_of("consent:revoke:surveys").map(|a| a.action), Some(ConsentAction::Revoke));
        assert_eq!(answer_of("consent:grant:surveys:3"), None);
        assert_eq!(answer_of("consent:grant:surveys:v1:x"), None);
        assert_eq!(answer_of("consent:maybe:surveys"), None);
        assert_eq!(answer_of("consent:grant:Bad Label"), None);
        assert_eq!(answer_of("yes"), None);
    }

    #[test]
    fn consent_texts_are_checked() {
        assert!(
            NewConsentText::parse("data_processing", "es", "Autorizo...", Some("https://uni.edu.co/datos")).is_ok()
        );
        let errors = NewConsentText::parse("Datos", "fr", " ", Some("ftp://x")).err().unwrap_or_default();
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn labels() {
        assert!(parse_label("purpose", "data_processing").is_ok());
        assert!(parse_label("purpose", "Data Processing").is_err());
        assert!(parse_label("purpose", "").is_err());
    }
}
