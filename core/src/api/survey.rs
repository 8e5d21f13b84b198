//! Satisfaction surveys: each answer with its case, channel, unit, agent
//! and whether people or only the bot attended; and a summary for reports.
//! Staff see their units' surveys; admins and `cases:read` tokens see all.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::case::require_case_reader;
use super::error::{ApiError, Checker, Problem};
use super::extract::Auth;
use super::schema::{Channel, ListResponse};
use crate::api::AppState;
use crate::domain::survey::{self as rules, Survey};
use crate::domain::{self, UnitId};
use crate::store::{self, survey::SurveyFilter};

/// How the person rates: 1 to 5, or three faces (scored 1, 3 and 5).
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Five,
    Faces,
}

impl From<rules::Scale> for Scale {
    fn from(s: rules::Scale) -> Self {
        match s {
            rules::Scale::Five => Scale::Five,
            rules::Scale::Faces => Scale::Faces,
        }
    }
}

impl From<Scale> for rules::Scale {
    fn from(s: Scale) -> Self {
        match s {
            Scale::Five => rules::Scale::Five,
            Scale::Faces => rules::Scale::Faces,
        }
    }
}

/// Who attended the case: people, or only a bot.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Human,
    Bot,
}

/// `sent` (no answer yet), `answered` (scored; a comment may follow) or
/// `commented`.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum SurveyStatus {
    Sent,
    Answered,
    Commented,
}

/// What one channel changes of its unit's survey.
#[derive(Serialize, Deserialize, ToSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ChannelSurvey {
    pub enabled: Option<bool>,
    pub scale: Option<Scale>,
    pub comment: Option<bool>,
}

/// A unit's satisfaction survey.
#[derive(Serialize, Deserialize, ToSchema, Clone, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SurveySettings {
    /// Off until switched on.
    pub enabled: bool,
    /// `five` by default.
    pub scale: Option<Scale>,
    /// Ask for an optional comment after the score.
    pub comment: bool,
    /// Overrides per channel, e.g. `{"email": {"enabled": false}}`.
    pub channels: std::collections::BTreeMap<String, ChannelSurvey>,
}

impl From<rules::SurveySettings> for SurveySettings {
    fn from(s: rules::SurveySettings) -> Self {
        SurveySettings {
            enabled: s.enabled,
            scale: Some(s.scale.into()),
            comment: s.comment,
            channels: s
                .channels
                .into_iter()
                .map(|(name, c)| {
                    (name, ChannelSurvey { enabled: c.enabled, scale: c.scale.map(Into::into), comment: c.comment })
                })
                .collect(),
        }
    }
}

impl SurveySettings {
    /// The settings as the rules take them, checked.
    pub fn parse(self, field: &str) -> Result<rules::SurveySettings, domain::Error> {
        let settings = rules::SurveySettings {
            enabled: self.enabled,
            scale: self.scale.map_or_else(Default::default, Into::into),
            comment: self.comment,
            channels: self
                .channels
                .into_iter()
                .map(|(name, c)| {
                    let over =
                        rules::ChannelSurvey { enabled: c.enabled, scale: c.scale.map(Into::into), comment: c.comment };
                    (name, over)
                })
                .collect(),
        };
        settings.validate(field)?;
        Ok(settings)
    }
}

#[derive(Serialize, ToSchema)]
pub struct SurveyDto {
    pub id: uuid::Uuid,
    pub case_id: uuid::Uuid,
    pub contact_id: uuid::Uuid,
    pub unit_id: uuid::Uuid,
    pub channel: Channel,
    /// Who had the case when it was resolved.
    pub agent_id: Option<uuid::Uuid>,
    /// `human` when people attended the case, `bot` when only the bot did.
    pub outcome: Outcome,
    pub scale: Scale,
    pub status: SurveyStatus,
    /// 1 to 5 (faces score 1, 3 and 5); none until answered.
    pub score: Option<i16>,
    pub comment: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl From<Survey> for SurveyDto {
    fn from(s: Survey) -> Self {
        SurveyDto {
            id: s.id,
            case_id: s.case_id.0,
            contact_id: s.contact_id.0,
            unit_id: s.unit_id.0,
            channel: s.channel.into(),
            agent_id: s.agent_id.map(|u| u.0),
            outcome: match s.outcome {
                rules::Outcome::Human => Outcome::Human,
                rules::Outcome::Bot => Outcome::Bot,
            },
            scale: s.scale.into(),
            status: match s.status {
                rules::SurveyStatus::Sent => SurveyStatus::Sent,
                rules::SurveyStatus::Answered => SurveyStatus::Answered,
                rules::SurveyStatus::Commented => SurveyStatus::Commented,
            },
            score: s.score,
            comment: s.comment,
            sent_at: s.sent_at,
            answered_at: s.answered_at,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SurveyQuery {
    pub unit_id: Option<uuid::Uuid>,
    pub channel: Option<String>,
    /// `true` for answered surveys only, `false` for unanswered ones.
    pub answered: Option<bool>,
    pub sent_after: Option<DateTime<Utc>>,
    /// Also the way to page back: the `sent_at` of the last one seen.
    pub sent_before: Option<DateTime<Utc>>,
    /// 1 to 500 (100 by default).
    pub limit: Option<u64>,
}

fn filter_of(query: &SurveyQuery) -> Result<SurveyFilter, ApiError> {
    let mut check = Checker::default();
    let channel = query.channel.as_deref().and_then(|c| check.check(domain::Channel::parse("channel", c)));
    if query.limit.is_some_and(|l| !(1..=500).contains(&l)) {
        check.check::<()>(Err(domain::Error::invalid("limit", "must be 1 to 500")));
    }
    check.finish()?;
    Ok(SurveyFilter {
        unit_id: query.unit_id.map(UnitId),
        channel,
        answered: query.answered,
        sent_after: query.sent_after,
        sent_before: query.sent_before,
    })
}

/// Surveys, newest first.
#[utoipa::path(
    tag = "surveys",
    params(SurveyQuery),
    responses((status = 200, body = ListResponse<SurveyDto>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/surveys")]
pub async fn list_surveys(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<SurveyQuery>,
) -> Result<HttpResponse, ApiError> {
    require_case_reader(&auth.0)?;
    let filter = filter_of(&query)?;
    let scope = auth.0.case_units();
    let limit = query.limit.unwrap_or(100);
    let surveys = store::survey::list(&state.store.db, scope.as_deref(), &filter, limit).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(surveys.into_iter().map(SurveyDto::from).collect(), None)))
}

/// Answers by score, for one outcome or all.
#[derive(Serialize, ToSchema, Default)]
pub struct ScoreSummary {
    pub answered: i64,
    /// Mean score of the answers; none without answers.
    pub average: Option<f64>,
    /// How many answered 1, 2, 3, 4 and 5.
    pub scores: [i64; 5],
}

#[derive(Serialize, ToSchema)]
pub struct SurveySummary {
    /// Surveys sent (answered or not).
    pub sent: i64,
    /// Answered / sent; none when none was sent.
    pub response_rate: Option<f64>,
    pub all: ScoreSummary,
    /// Cases people attended.
    pub human: ScoreSummary,
    /// Cases only the bot attended.
    pub bot: ScoreSummary,
}

fn summarise(rows: &[(String, Option<i16>, i64)], outcome: Option<&str>) -> ScoreSummary {
    let mut summary = ScoreSummary::default();
    let mut total = 0i64;
    for (o, score, n) in rows {
        if outcome.is_some_and(|want| want != o) {
            continue;
        }
        if let Some(score) = score.filter(|s| (1..=5).contains(s)) {
            summary.scores[(score - 1) as usize] += n;
            summary.answered += n;
            total += i64::from(score) * n;
        }
    }
    summary.average = (summary.answered > 0).then(|| total as f64 / summary.answered as f64);
    summary
}

/// Satisfaction in figures: surveys sent, response rate, mean score and the
/// scores' spread, overall and for people and for the bot.
#[utoipa::path(
    tag = "surveys",
    params(SurveyQuery),
    responses((status = 200, body = SurveySummary), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/surveys/summary")]
pub async fn survey_summary(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<SurveyQuery>,
) -> Result<HttpResponse, ApiError> {
    require_case_reader(&auth.0)?;
    let filter = filter_of(&query)?;
    let scope = auth.0.case_units();
    let rows = store::survey::tally(&state.store.db, scope.as_deref(), &filter).await?;
    let sent: i64 = rows.iter().map(|(_, _, n)| n).sum();
    let all = summarise(&rows, None);
    let response_rate = (sent > 0).then(|| all.answered as f64 / sent as f64);
    Ok(HttpResponse::Ok().json(SurveySummary {
        sent,
        response_rate,
        human: summarise(&rows, Some(rules::Outcome::Human.as_str())),
        bot: summarise(&rows, Some(rules::Outcome::Bot.as_str())),
        all,
    }))
}
