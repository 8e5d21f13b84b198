//! Campaigns: one message sent to the people of a segment through one
//! channel account, for one consent purpose, paced and within the unit's
//! sending hours; each person's send is a recipient row with its own status.

use super::channel_rules::Template;
use super::unit::BusinessHours;
use super::{Channel, Error, UnitId, UserId, required_text};
use chrono::{DateTime, Utc};

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Being written; nothing is sent.
    Draft,
    /// Launched, waiting for its start time.
    Scheduled,
    /// Sending.
    Running,
    /// Stopped by a person; resumes where it was.
    Paused,
    /// Stopped for good; the people not yet sent to are not.
    Cancelled,
    /// Everyone was tried.
    Finished,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 6] = [
        CampaignStatus::Draft,
        CampaignStatus::Scheduled,
        CampaignStatus::Running,
        CampaignStatus::Paused,
        CampaignStatus::Cancelled,
        CampaignStatus::Finished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Running => "running",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Cancelled => "cancelled",
            CampaignStatus::Finished => "finished",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        CampaignStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| Error::invalid(field, "is not a campaign status"))
    }

    /// The one table of allowed changes.
    pub fn can_become(self, to: CampaignStatus) -> bool {
        use CampaignStatus::*;
        matches!(
            (self, to),
            (Draft, Scheduled | Running | Cancelled)
                | (Scheduled, Running | Paused | Cancelled)
                | (Running, Paused | Cancelled | Finished)
                | (Paused, Scheduled | Running | Cancelled)
        )
    }

    /// Whether its job has work to do (or to wait for).
    pub fn is_live(self) -> bool {
        matches!(self, CampaignStatus::Scheduled | CampaignStatus::Running)
    }
}

/// What became of the campaign for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientStatus {
    /// Not sent yet.
    Queued,
    /// Being sent now. Found so by a later run, the server stopped during
    /// the send: unless the provider's answer was journaled, it is not sent
    /// again (`failed`), so nobody gets it twice.
    Sending,
    /// The provider took it.
    Sent,
    Delivered,
    Read,
    /// The provider refused it or it never arrived (the reason is kept).
    Failed,
    /// The person answered (their answer is a case of the campaign's unit).
    Replied,
    /// The person's latest answer for the purpose is a no: nothing was sent,
    /// or they asked to stop after it was.
    OptedOut,
    /// Not sent: no standing grant for the purpose, or no address on the
    /// channel (the reason is kept).
    Skipped,
}

impl RecipientStatus {
    pub const ALL: [RecipientStatus; 9] = [
        RecipientStatus::Queued,
        RecipientStatus::Sending,
        RecipientStatus::Sent,
        RecipientStatus::Delivered,
        RecipientStatus::Read,
        RecipientStatus::Failed,
        RecipientStatus::Replied,
        RecipientStatus::OptedOut,
        RecipientStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecipientStatus::Queued => "queued",
            RecipientStatus::Sending => "sending",
            RecipientStatus::Sent => "sent",
            RecipientStatus::Delivered => "delivered",
            RecipientStatus::Read => "read",
            RecipientStatus::Failed => "failed",
            RecipientStatus::Replied => "replied",
            RecipientStatus::OptedOut => "opted_out",
            RecipientStatus::Skipped => "skipped",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        RecipientStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| Error::invalid(field, "is not a recipient status"))
    }

    /// How far a message got, for a provider's report that must never move
    /// it backwards (a late "delivered" after "read", a replayed failure).
    pub fn progress(self) -> u8 {
        match self {
            RecipientStatus::Queued | RecipientStatus::Sending | RecipientStatus::Skipped => 0,
            RecipientStatus::Sent => 1,
            RecipientStatus::Failed => 1,
            RecipientStatus::Delivered => 2,
            RecipientStatus::Read => 3,
            RecipientStatus::Replied | RecipientStatus::OptedOut => 4,
        }
    }

    /// Whether a provider's report of `to` is news for a recipient in this
    /// status: forward only, and a failure only before delivery.
    pub fn takes_report(self, to: RecipientStatus) -> bool {
        match to {
            RecipientStatus::Failed => self == RecipientStatus::Sent,
            RecipientStatus::Delivered | RecipientStatus::Read => {
                matches!(self, RecipientStatus::Sent | RecipientStatus::Delivered | RecipientStatus::Failed)
                    && to.progress() > self.progress()
            }
            _ => false,
        }
    }
}

/// What a campaign says: an approved template on WhatsApp, text on SMS and
/// Telegram, a subject and a body by e-mail. Text and template parameters
/// may name `{{name}}`, `{{external_id}}` and `{{attributes.<key>}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CampaignMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The longest campaign text (an SMS is split by the provider; an e-mail
/// may be longer, within reason).
pub const MAX_BODY_CHARS: usize = 4000;

impl CampaignMessage {
    /// Checks the message fits `channel`; errors name `message.…`.
    pub fn check_for(&self, channel: Channel) -> Result<(), Vec<Error>> {
        let mut errors = vec![];
        let field = |f: &str| format!("message.{f}");
        match channel {
            Channel::Whatsapp => {
                if self.template.is_none() {
                    errors.push(Error::invalid(
                        field("template"),
                        "WhatsApp takes only an approved template to start a conversation",
                    ));
                }
                if self.body.is_some() || self.subject.is_some() {
                    errors.push(Error::invalid(field("body"), "a WhatsApp campaign is its template"));
                }
            }
            Channel::Email => {
                if self.template.is_some() {
                    errors
                        .push(Error::invalid(field("template"), "e-mail has no templates; give a subject and a body"));
                }
                match &self.subject {
                    None => errors.push(Error::invalid(field("subject"), "an e-mail needs a subject")),
                    Some(s) => {
                        if let Err(e) = required_text(&field("subject"), s, 200) {
                            errors.push(e);
                        }
                    }
                }
            }
            Channel::Sms | Channel::Telegram => {
                if self.template.is_some() {
                    errors.push(Error::invalid(field("template"), "this channel has no templates; give a body"));
                }
                if self.subject.is_some() {
                    errors.push(Error::invalid(field("subject"), "only e-mail has a subject"));
                }
            }
            other => {
                errors.push(Error::invalid(
                    "channel_install_id",
                    format!("campaigns go out on WhatsApp, SMS, Telegram and e-mail, not {}", other.as_str()),
                ));
            }
        }
        if channel != Channel::Whatsapp {
            match &self.body {
                None => errors.push(Error::invalid(field("body"), "must not be empty")),
                Some(b) => {
                    if let Err(e) = required_text(&field("body"), b, MAX_BODY_CHARS) {
                        errors.push(e);
                    }
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The message for one person: every `{{…}}` filled from what is known
    /// of them (empty when unknown).
    pub fn for_person(&self, person: &Person<'_>) -> CampaignMessage {
        CampaignMessage {
            template: self.template.as_ref().map(|t| Template {
                name: t.name.clone(),
                language: t.language.clone(),
                parameters: t.parameters.iter().map(|p| fill(p, person)).collect(),
                header: t.header.as_ref().map(|h| h.with_value(fill(h.value(), person))),
                buttons: t
                    .buttons
                    .iter()
                    .map(|b| crate::template::ButtonValue { index: b.index, value: fill(&b.value, person) })
                    .collect(),
            }),
            subject: self.subject.as_deref().map(|s| fill(s, person)),
            body: self.body.as_deref().map(|b| fill(b, person)),
        }
    }

    /// What a conversation or a list shows for it.
    pub fn summary(&self) -> String {
        match (&self.template, &self.subject, &self.body) {
            (Some(t), _, _) => t.summary(),
            (None, Some(s), _) => s.clone(),
            (None, None, Some(b)) => b.chars().take(200).collect(),
            (None, None, None) => String::new(),
        }
    }
}

/// What a message may say of the person it goes to.
pub struct Person<'a> {
    pub name: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub attributes: &'a serde_json::Map<String, serde_json::Value>,
}

fn fill(text: &str, person: &Person<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        let value = match key {
            "name" => person.name.unwrap_or_default().to_owned(),
            "external_id" => person.external_id.unwrap_or_default().to_owned(),
            k => match k.strip_prefix("attributes.").and_then(|a| person.attributes.get(a)) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            },
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A unit's rules for writing first: when campaigns may send (outside it
/// are its quiet hours), in the unit's timezone. None: its business hours,
/// so answers find someone there.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct OutreachSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_hours: Option<BusinessHours>,
}

/// A campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: uuid::Uuid,
    /// Whose campaign it is: answers become cases of this unit.
    pub unit_id: UnitId,
    pub name: String,
    pub segment_id: uuid::Uuid,
    /// The consent purpose a person must have a standing grant for.
    pub purpose: String,
    pub channel_install_id: uuid::Uuid,
    pub channel: Channel,
    pub message: CampaignMessage,
    /// Not before this instant (none: as soon as it is launched).
    pub starts_at: Option<DateTime<Utc>>,
    /// At most this many sends a second (within the provider's own limit).
    pub max_per_second: Option<u32>,
    pub status: CampaignStatus,
    /// Everyone the segment chose at launch has a recipient row.
    pub expanded: bool,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub launched_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What became of a campaign for one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub contact_id: super::ContactId,
    pub status: RecipientStatus,
    /// Why it was not sent, or the provider's reason for a failure.
    pub reason: Option<String>,
    /// Where it was sent.
    pub address: Option<String>,
    /// The standing grant the send relied on.
    pub consent_id: Option<super::ConsentId>,
    pub provider_message_id: Option<String>,
    /// The case their answer became.
    pub reply_case_id: Option<super::CaseId>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A campaign to save as a draft.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub unit_id: UnitId,
    pub name: String,
    pub segment_id: uuid::Uuid,
    pub purpose: String,
    pub channel_install_id: uuid::Uuid,
    pub channel: Channel,
    pub message: CampaignMessage,
    pub starts_at: Option<DateTime<Utc>>,
    pub max_per_second: Option<u32>,
}

/// The fastest a campaign may be asked to go; the provider's limit caps it too.
pub const MAX_PER_SECOND: u32 = 1000;

/// The share of an account's sending rate a campaign may take: the rest
/// stays free for agents' replies, which go first.
pub fn campaign_rate(provider_per_second: Option<u32>, asked: Option<u32>) -> u32 {
    let provider = provider_per_second.map(|p| (p * 4 / 5).max(1));
    match (provider, asked) {
        (Some(p), Some(a)) => p.min(a),
        (Some(p), None) => p,
        (None, Some(a)) => a,
        (None, None) => 50,
    }
    .clamp(1, MAX_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaign_moves_only_along_its_table() {
        use CampaignStatus::*;
        assert!(Draft.can_become(Running) && Draft.can_become(Scheduled));
        assert!(Running.can_become(Paused) && Paused.can_become(Running));
        assert!(!Finished.can_become(Running) && !Cancelled.can_become(Running));
        assert!(!Draft.can_become(Paused) && !Running.can_become(Draft));
    }

    #[test]
    fn reports_move_a_recipient_forward_only() {
        use RecipientStatus::*;
        assert!(Sent.takes_report(Delivered) && Delivered.takes_report(Read) && Sent.takes_report(Failed));
        assert!(!Read.takes_report(Delivered) && !Delivered.takes_report(Failed) && !Replied.takes_report(Read));
        assert!(!Queued.takes_report(Delivered) && !OptedOut.takes_report(Read));
    }

    #[test]
    fn the_message_must_fit_the_channel() {
        let text = CampaignMessage { body: Some("Hola".into()), ..Default::default() };
        assert!(text.check_for(Channel::Sms).is_ok());
        let fields = |r: Result<(), Vec<Error>>| -> Vec<String> {
            r.err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| match e {
                    Error::Invalid { field, .. } => field,
                    other => other.to_string(),
                })
                .collect()
        };
        assert_eq!(fields(text.check_for(Channel::Whatsapp)), ["message.template", "message.body"]);
        assert_eq!(fields(text.check_for(Channel::Email)), ["message.subject"]);
        assert_eq!(fields(text.check_for(Channel::Webchat)), ["channel_install_id"]);
        let empty = CampaignMessage::default();
        assert_eq!(fields(empty.check_for(Channel::Sms)), ["message.body"]);
    }

    #[test]
    fn a_message_speaks_to_each_person() {
        let mut attributes = serde_json::Map::new();
        attributes.insert("program".into(), "Medicina".into());
        attributes.insert("cohort".into(), serde_json::json!(2027));
        let person = Person { name: Some("Ana"), external_id: Some("A1"), attributes: &attributes };
        let message = CampaignMessage {
            template: Some(Template {
                name: "recordatorio".into(),
                language: "es".into(),
                parameters: vec!["{{name}}".into(), "{{ attributes.program }} {{attributes.cohort}}".into()],
                header: None,
                buttons: vec![crate::template::ButtonValue { index: 1, value: "{{external_id}}".into() }],
            }),
            ..Default::default()
        };
        let filled = message.for_person(&person);
        let template = filled.template.unwrap();
        assert_eq!(template.parameters, ["Ana", "Medicina 2027"]);
        assert_eq!(template.buttons[0].value, "A1");
        let text = CampaignMessage {
            body: Some("{{name}} ({{external_id}}) {{attributes.campus}}{{ sin cerrar".into()),
            ..Default::default()
        };
        assert_eq!(text.for_person(&person).body.unwrap(), "Ana (A1) {{ sin cerrar");
    }

    #[test]
    fn campaigns_leave_room_for_replies() {
        assert_eq!(campaign_rate(Some(80), None), 64);
        assert_eq!(campaign_rate(Some(80), Some(10)), 10);
        assert_eq!(campaign_rate(Some(1), None), 1);
        assert_eq!(campaign_rate(None, None), 50);
    }
}
