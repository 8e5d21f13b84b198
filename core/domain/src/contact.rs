//! People who write in, and the identities they use on each channel.

use super::{ContactId, Error, IdentityId};
use chrono::{DateTime, Utc};

/// A person who writes in, possibly on several channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub name: Option<String>,
    /// The person's id in the institution's own systems (a student or
    /// applicant number), unique; imports find them again by it.
    pub external_id: Option<String>,
    pub identities: Vec<Identity>,
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
    /// Set when this contact was merged into another; it then only keeps history.
    pub merged_into: Option<ContactId>,
    /// Why the person's data must be kept (litigation, an inquiry): while
    /// set, nothing of theirs is erased or expired.
    pub legal_hold: Option<String>,
    /// When the person's data was erased; the record stays, anonymous.
    pub erased_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A contact to create, with identities already normalised.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub identities: Vec<(Channel, String)>,
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
}

/// Changes to a contact; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub name: Option<Option<String>>,
    pub custom_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// How a contact is known on one channel: a phone number, a PSID, an address...
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: IdentityId,
    pub channel: Channel,
    pub value: String,
}

/// The channels people write in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
    Email,
    Sms,
    Webchat,
    Webform,
    Phone,
    Api,
    /// A channel Ventanilla has no name for, linked by a third-party
    /// connector (`channel = "other"`): its identities are its own, never
    /// merged with phone or e-mail ones.
    Other,
}

impl Channel {
    pub const ALL: [Channel; 11] = [
        Channel::Whatsapp,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Telegram,
        Channel::Email,
        Channel::Sms,
        Channel::Webchat,
        Channel::Webform,
        Channel::Phone,
        Channel::Api,
        Channel::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Telegram => "telegram",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Webchat => "webchat",
            Channel::Webform => "webform",
            Channel::Phone => "phone",
            Channel::Api => "api",
            Channel::Other => "other",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == value)
            .ok_or_else(|| Error::invalid(field, format!("`{value}` is not a known channel")))
    }

    /// Phone-number channels share one identity space, so WhatsApp and SMS
    /// messages from the same number can be recognised as one person.
    pub fn uses_phone_number(self) -> bool {
        matches!(self, Channel::Whatsapp | Channel::Sms | Channel::Phone)
    }

    /// Whether people are known on this channel by their e-mail address
    /// (a web form asks for it and is answered there).
    pub fn uses_email_address(self) -> bool {
        matches!(self, Channel::Email | Channel::Webform)
    }

    /// Whether a message on this channel comes from the identity it names:
    /// the provider saw the phone, the account or the mailbox. A web form
    /// only says what someone typed, so a post under someone else's address
    /// must neither join that person's conversation nor speak for them
    /// (their consent) until they confirm.
    pub fn proves_sender(self) -> bool {
        !matches!(self, Channel::Webform)
    }

    /// Whether staff may write first on this channel, to an address they
    /// know (a phone number, an e-mail address). Elsewhere the provider
    /// names people by ids of its own (a Telegram chat, a page-scoped id)
    /// that exist only once the person has written to the account.
    pub fn reaches_first(self) -> bool {
        matches!(self, Channel::Whatsapp | Channel::Sms | Channel::Email)
    }
}

impl Contact {
    /// Where `channel` reaches this person: their identity on it, or for
    /// phone and e-mail channels the same number or address given on
    /// another (an SMS number is their WhatsApp number too).
    pub fn address_on(&self, channel: Channel) -> Option<&str> {
        let exact = self.identities.iter().find(|i| i.channel == channel);
        let shared = || {
            self.identities.iter().find(|i| {
                (channel.uses_phone_number() && i.channel.uses_phone_number())
                    || (channel == Channel::Email && i.channel.uses_email_address())
            })
        };
        exact.or_else(shared).map(|i| i.value.as_str())
    }
}

/// Normalises an identity value so equal identities compare equal:
/// e-mail lowercase, phone numbers as `+` and digits only.
pub fn normalize_identity(field: &str, channel: Channel, value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() || value.len() > 320 {
        return Err(Error::invalid(field, "must be 1 to 320 characters"));
    }
    if channel.uses_email_address() {
        return super::Email::parse(field, value).map(|e| e.as_str().to_owned());
    }
    if channel.uses_phone_number() {
        let digits: String = value.chars().filter(|c| c.is_ascii_digit()).collect();
        let only_phone_chars = value.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !only_phone_chars || !(7..=15).contains(&digits.len()) {
            return Err(Error::invalid(field, "must be a phone number in international form, e.g. +57 300 123 4567"));
        }
        return Ok(format!("+{digits}"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_identities_normalise() {
        assert_eq!(normalize_identity("v", Channel::Whatsapp, "+57 (300) 123-4567"), Ok("+573001234567".into()));
        assert_eq!(normalize_identity("v", Channel::Sms, "573001234567"), Ok("+573001234567".into()));
        assert!(normalize_identity("v", Channel::Sms, "call me").is_err());
        assert!(normalize_identity("v", Channel::Sms, "12").is_err());
    }

    #[test]
    fn email_identities_lowercase() {
        assert_eq!(normalize_identity("v", Channel::Email, "Ana@Uni.co"), Ok("ana@uni.co".into()));
        assert!(normalize_identity("v", Channel::Email, "nope").is_err());
    }

    #[test]
    fn channels_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(Channel::parse("c", channel.as_str()), Ok(channel));
        }
        assert!(Channel::parse("c", "fax").is_err());
    }
}
