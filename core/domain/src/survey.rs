//! Satisfaction surveys: after a case is resolved the person is asked how
//! it went, on the same channel, on a 1-5 scale or with three faces, and
//! optionally for a comment. One survey per case, never to people who
//! opted out (a revoked `surveys` consent).

use super::{Channel, Error};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The consent purpose whose revocation means "do not survey me".
pub const OPT_OUT_PURPOSE: &str = "surveys";

/// How long after the score a free-text message counts as its comment.
pub const COMMENT_WINDOW_HOURS: i64 = 24;

/// How the person rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// 1 (bad) to 5 (excellent).
    #[default]
    Five,
    /// Three faces, scored 1, 3 and 5.
    Faces,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Five => "five",
            Scale::Faces => "faces",
        }
    }

    pub fn parse(text: &str) -> Option<Scale> {
        match text {
            "five" => Some(Scale::Five),
            "faces" => Some(Scale::Faces),
            _ => None,
        }
    }

    /// The scores offered, in order.
    pub fn scores(self) -> &'static [i16] {
        match self {
            Scale::Five => &[1, 2, 3, 4, 5],
            Scale::Faces => &[1, 3, 5],
        }
    }
}

/// What a channel overrides of its unit's survey.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSurvey {
    pub enabled: Option<bool>,
    pub scale: Option<Scale>,
    pub comment: Option<bool>,
}

/// A unit's survey settings, with per-channel overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SurveySettings {
    /// Off until the unit switches it on.
    pub enabled: bool,
    pub scale: Scale,
    /// Ask for an optional comment after the score.
    pub comment: bool,
    /// Overrides per channel (`whatsapp`, `email`...).
    pub channels: BTreeMap<String, ChannelSurvey>,
}

impl SurveySettings {
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        for name in self.channels.keys() {
            Channel::parse(&format!("{field}.channels"), name)?;
        }
        Ok(())
    }

    /// The survey a case of `channel` gets: its scale and whether it asks
    /// for a comment; none when surveys are off there.
    pub fn for_channel(&self, channel: Channel) -> Option<(Scale, bool)> {
        let over = self.channels.get(channel.as_str()).cloned().unwrap_or_default();
        if !over.enabled.unwrap_or(self.enabled) {
            return None;
        }
        Some((over.scale.unwrap_or(self.scale), over.comment.unwrap_or(self.comment)))
    }
}

/// Who attended the case: people, or only the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Human,
    Bot,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Human => "human",
            Outcome::Bot => "bot",
        }
    }
}

/// Where a survey is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyStatus {
    /// Asked; no answer yet.
    Sent,
    /// Scored (a comment may follow).
    Answered,
    /// Scored and commented.
    Commented,
}

impl SurveyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyStatus::Sent => "sent",
            SurveyStatus::Answered => "answered",
            SurveyStatus::Commented => "commented",
        }
    }

    pub fn parse(text: &str) -> Option<SurveyStatus> {
        match text {
            "sent" => Some(SurveyStatus::Sent),
            "answered" => Some(SurveyStatus::Answered),
            "commented" => Some(SurveyStatus::Commented),
            _ => None,
        }
    }
}

/// A survey and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub id: uuid::Uuid,
    pub case_id: super::CaseId,
    pub contact_id: super::ContactId,
    pub unit_id: super::UnitId,
    pub channel: Channel,
    /// Who had the case when it was resolved.
    pub agent_id: Option<super::UserId>,
    pub outcome: Outcome,
    pub scale: Scale,
    pub locale: String,
    pub status: SurveyStatus,
    pub score: Option<i16>,
    pub comment: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// The option id of a score.
pub fn option_id(score: i16) -> String {
    format!("survey:{score}")
}

/// What a person's message says to a survey waiting on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Score(i16),
    Comment(String),
}

/// Reads a message as an answer to `survey`: a chosen option, or the
/// number of an option typed on a channel without buttons (SMS, e-mail);
/// once scored, free text within a day is the comment. Anything else is
/// not an answer (the person writes about something new).
pub fn reply_to(survey: &Survey, selected: Option<&str>, body: &str, now: DateTime<Utc>) -> Option<Reply> {
    let scores = survey.scale.scores();
    match survey.status {
        SurveyStatus::Sent => {
            if let Some(score) = selected.and_then(|s| s.strip_prefix("survey:")).and_then(|s| s.parse::<i16>().ok()) {
                return scores.contains(&score).then_some(Reply::Score(score));
            }
            let typed = body.trim().trim_end_matches(['.', ')']);
            let n: usize = typed.parse().ok()?;
            scores.get(n.checked_sub(1)?).map(|s| Reply::Score(*s))
        }
        SurveyStatus::Answered => {
            let recent = survey.answered_at.is_some_and(|at| now - at < chrono::Duration::hours(COMMENT_WINDOW_HOURS));
            let text = body.trim();
            (recent && selected.is_none() && !text.is_empty())
                .then(|| Reply::Comment(text.chars().take(2000).collect()))
        }
        SurveyStatus::Commented => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(scale: Scale, status: SurveyStatus) -> Survey {
        Survey {
            id: uuid::Uuid::nil(),
            case_id: super::super::CaseId(uuid::Uuid::nil()),
            contact_id: super::super::ContactId(uuid::Uuid::nil()),
            unit_id: super::super::UnitId(uuid::Uuid::nil()),
            channel: Channel::Sms,
            agent_id: None,
            outcome: Outcome::Human,
            scale,
            locale: "es".into(),
            status,
            score: None,
            comment: None,
            sent_at: Utc::now(),
            answered_at: Some(Utc::now()),
        }
    }

    #[test]
    fn answers_come_as_options_or_typed_numbers() {
        let now = Utc::now();
        let five = survey(Scale::Five, SurveyStatus::Sent);
        assert_eq!(reply_to(&five, Some("survey:4"), "4 - Buena", now), Some(Reply::Score(4)));
        assert_eq!(reply_to(&five, None, " 5 ", now), Some(Reply::Score(5)));
        assert_eq!(reply_to(&five, None, "2.", now), Some(Reply::Score(2)));
        assert_eq!(reply_to(&five, None, "6", now), None);
        assert_eq!(reply_to(&five, None, "tengo otra pregunta", now), None);
        assert_eq!(reply_to(&five, Some("faq:yes"), "Sí", now), None);
        // Faces: the third option is the happy face, scored 5.
        let faces = survey(Scale::Faces, SurveyStatus::Sent);
        assert_eq!(reply_to(&faces, None, "3", now), Some(Reply::Score(5)));
        assert_eq!(reply_to(&faces, Some("survey:2"), "", now), None);
        // Once scored, free text is the comment, for a day.
        let scored = survey(Scale::Five, SurveyStatus::Answered);
        assert_eq!(reply_to(&scored, None, "Muy amables", now), Some(Reply::Comment("Muy amables".into())));
        assert_eq!(reply_to(&scored, None, "Muy amables", now + chrono::Duration::hours(25)), None);
        assert_eq!(reply_to(&survey(Scale::Five, SurveyStatus::Commented), None, "más", now), None);
    }

    #[test]
    fn channels_override_their_unit() {
        let mut settings = SurveySettings { enabled: true, comment: true, ..SurveySettings::default() };
        settings.channels.insert("email".into(), ChannelSurvey { enabled: Some(false), ..Default::default() });
        settings.channels.insert("whatsapp".into(), ChannelSurvey { scale: Some(Scale::Faces), ..Default::default() });
        assert_eq!(settings.for_channel(Channel::Webchat), Some((Scale::Five, true)));
        assert_eq!(settings.for_channel(Channel::Whatsapp), Some((Scale::Faces, true)));
        assert_eq!(settings.for_channel(Channel::Email), None);
        assert_eq!(SurveySettings::default().for_channel(Channel::Webchat), None, "off by default");
        assert!(settings.validate("survey").is_ok());
        settings.channels.insert("fax".into(), ChannelSurvey::default());
        assert!(settings.validate("survey").is_err());
    }
}
