//! Satisfaction surveys: offered by a `survey.offer` job once a case is
//! resolved (so the offer commits with the resolution, and is sent only if
//! the case is still resolved when the job runs), answered by the person's
//! next message on the case.

use super::{Error, Result, job};
use crate::domain::survey::{Outcome, Reply, Scale, Survey, SurveySettings, SurveyStatus};
use crate::domain::{Actor, AuthorKind, Case, CaseId, Channel, ContactId, UnitId, UserId, message::NewMessage};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "surveys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub case_id: Uuid,
        pub contact_id: Uuid,
        pub unit_id: Uuid,
        pub channel: String,
        pub agent_id: Option<Uuid>,
        pub outcome: String,
        pub scale: String,
        pub locale: String,
        pub status: String,
        pub score: Option<i16>,
        pub comment: Option<String>,
        pub sent_at: DateTimeUtc,
        pub answered_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("survey {what}"))
}

fn from_model(m: entity::Model) -> Result<Survey> {
    Ok(Survey {
        id: m.id,
        case_id: CaseId(m.case_id),
        contact_id: ContactId(m.contact_id),
        unit_id: UnitId(m.unit_id),
        channel: Channel::parse("channel", &m.channel).map_err(|_| corrupt("channel"))?,
        agent_id: m.agent_id.map(UserId),
        outcome: if m.outcome == "bot" { Outcome::Bot } else { Outcome::Human },
        scale: Scale::parse(&m.scale).ok_or_else(|| corrupt("scale"))?,
        locale: m.locale,
        status: SurveyStatus::parse(&m.status).ok_or_else(|| corrupt("status"))?,
        score: m.score,
        comment: m.comment,
        sent_at: m.sent_at,
        answered_at: m.answered_at,
    })
}

/// Asks for the case's survey to be offered (in the resolving transaction).
pub async fn enqueue_offer_in(conn: &impl ConnectionTrait, case: CaseId) -> Result<()> {
    // A second resolution while the first one's offer runs: that job reads
    // the case when it runs, and one survey per case is all there is.
    let key = format!("survey:{case}");
    let new = job::NewJob {
        kind: job::JobKind::SurveyOffer,
        payload: serde_json::json!({ "case_id": case }),
        idempotency_key: None,
    };
    job::enqueue_once(conn, new, &key).await
}

pub async fn for_case(conn: &impl ConnectionTrait, case: CaseId) -> Result<Option<Survey>> {
    entity::Entity::find().filter(entity::Column::CaseId.eq(case.0)).one(conn).await?.map(from_model).transpose()
}

/// Whether the contact said not to be surveyed (their latest `surveys`
/// consent record is a revocation).
pub async fn opted_out(conn: &impl ConnectionTrait, contact: ContactId) -> Result<bool> {
    super::contact::declined(conn, contact, crate::domain::survey::OPT_OUT_PURPOSE).await
}

/// Stores the survey of `case` and asks the person, in the caller's
/// transaction; none if the case already has one.
pub async fn offer_in(conn: &impl ConnectionTrait, case: &Case, scale: Scale, locale: &str) -> Result<Option<Survey>> {
    if for_case(conn, case.id).await?.is_some() {
        return Ok(None);
    }
    let written_by = |author: AuthorKind| {
        super::message::entity::Entity::find()
            .filter(super::message::entity::Column::CaseId.eq(case.id.0))
            .filter(super::message::entity::Column::AuthorKind.eq(author.as_str()))
            .count(conn)
    };
    // Only the bot attended when it wrote and no person did.
    let by_bot = written_by(AuthorKind::Bot).await? > 0
        && written_by(AuthorKind::Agent).await? == 0
        && case.assignee_id.is_none();
    let outcome = if by_bot { Outcome::Bot } else { Outcome::Human };
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        case_id: Set(case.id.0),
        contact_id: Set(case.contact_id.0),
        unit_id: Set(case.unit_id.0),
        channel: Set(case.channel.as_str().to_owned()),
        agent_id: Set(case.assignee_id.map(|u| u.0)),
        outcome: Set(outcome.as_str().to_owned()),
        scale: Set(scale.as_str().to_owned()),
        locale: Set(locale.to_owned()),
        status: Set(SurveyStatus::Sent.as_str().to_owned()),
        score: Set(None),
        comment: Set(None),
        sent_at: Set(super::now()),
        answered_at: Set(None),
    }
    .insert(conn)
    .await?;
    let options = scale
        .scores()
        .iter()
        .map(|score| crate::domain::message::QuickReply {
            id: crate::domain::survey::option_id(*score),
            label: crate::i18n::t(locale, &format!("survey.{}.{score}", scale.as_str()), &[]),
        })
        .collect();
    let question = crate::i18n::t(locale, "survey.question", &[]);
    let message = NewMessage { options, ..NewMessage::text(AuthorKind::System, question) };
    super::message::insert_in(conn, &Actor::System, case, message).await?;
    Ok(Some(from_model(model)?))
}

/// The survey of a resolved case waiting on the person, and what their
/// message says to it; none when the message is not an answer.
pub async fn reply_in(
    conn: &impl ConnectionTrait,
    case: &Case,
    selected: Option<&str>,
    body: &str,
) -> Result<Option<(Survey, Reply)>> {
    let Some(survey) = for_case(conn, case.id).await? else {
        return Ok(None);
    };
    Ok(crate::domain::survey::reply_to(&survey, selected, body, super::now()).map(|reply| (survey, reply)))
}

/// Records the answer and thanks the person (asking for a comment when the
/// survey does), in the caller's transaction.
pub async fn record_in(conn: &impl ConnectionTrait, case: &Case, survey: &Survey, reply: Reply) -> Result<()> {
    let Some(row) = entity::Entity::find_by_id(survey.id).one(conn).await? else {
        return Err(Error::NotFound("survey"));
    };
    let settings = super::unit::get(conn, case.unit_id).await?.survey;
    let asks_comment = settings.for_channel(case.channel).is_some_and(|(_, comment)| comment);
    let mut active: entity::ActiveModel = row.into();
    let thanks = match reply {
        Reply::Score(score) => {
            active.score = Set(Some(score));
            active.answered_at = Set(Some(super::now()));
            if asks_comment {
                active.status = Set(SurveyStatus::Answered.as_str().to_owned());
                "survey.ask_comment"
            } else {
                active.status = Set(SurveyStatus::Commented.as_str().to_owned());
                "survey.thanks"
            }
        }
        Reply::Comment(text) => {
            active.comment = Set(Some(text));
            active.status = Set(SurveyStatus::Commented.as_str().to_owned());
            "survey.thanks_comment"
        }
    };
    let row = active.update(conn).await?;
    let data = serde_json::json!({
        "case": super::subscription::case_data(case),
        "survey": {
            "id": row.id, "score": row.score, "comment": row.comment, "outcome": row.outcome,
            "agent_id": row.agent_id, "sent_at": row.sent_at, "answered_at": row.answered_at,
        },
    });
    let event = crate::domain::subscription::EventType::SurveyAnswered;
    super::subscription::emit_in(conn, event, &[case.unit_id], Some(case.id.0), data).await?;
    let text = crate::i18n::t(&survey.locale, thanks, &[]);
    super::message::insert_in(conn, &Actor::System, case, NewMessage::text(AuthorKind::System, text)).await?;
    Ok(())
}

/// Which surveys to list.
#[derive(Debug, Default, Clone)]
pub struct SurveyFilter {
    pub unit_id: Option<UnitId>,
    pub channel: Option<Channel>,
    pub answered: Option<bool>,
    pub sent_after: Option<DateTime<Utc>>,
    pub sent_before: Option<DateTime<Utc>>,
}

fn filtered(scope: Option<&[UnitId]>, filter: &SurveyFilter) -> sea_orm::Select<entity::Entity> {
    use entity::Column;
    let mut query = entity::Entity::find();
    if let Some(units) = scope {
        query = query.filter(Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    if let Some(unit) = filter.unit_id {
        query = query.filter(Column::UnitId.eq(unit.0));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(Column::Channel.eq(channel.as_str()));
    }
    match filter.answered {
        Some(true) => query = query.filter(Column::Score.is_not_null()),
        Some(false) => query = query.filter(Column::Score.is_null()),
        None => {}
    }
    if let Some(at) = filter.sent_after {
        query = query.filter(Column::SentAt.gte(at));
    }
    if let Some(at) = filter.sent_before {
        query = query.filter(Column::SentAt.lt(at));
    }
    query
}

/// Surveys of the units in `scope` (all when none), newest first, at most `limit`.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: Option<&[UnitId]>,
    filter: &SurveyFilter,
    limit: u64,
) -> Result<Vec<Survey>> {
    use entity::Column;
    use sea_orm::QuerySelect;
    let rows =
        filtered(scope, filter).order_by_desc(Column::SentAt).order_by_desc(Column::Id).limit(limit).all(conn).await?;
    rows.into_iter().map(from_model).collect()
}

/// How many surveys there are per (outcome, score); a none score is unanswered.
pub async fn tally(
    conn: &impl ConnectionTrait,
    scope: Option<&[UnitId]>,
    filter: &SurveyFilter,
) -> Result<Vec<(String, Option<i16>, i64)>> {
    use entity::Column;
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::{Expr, ExprTrait};
    Ok(filtered(scope, filter)
        .select_only()
        .column(Column::Outcome)
        .column(Column::Score)
        .column_as(Expr::col(Column::Id).count(), "n")
        .group_by(Column::Outcome)
        .group_by(Column::Score)
        .into_tuple::<(String, Option<i16>, i64)>()
        .all(conn)
        .await?)
}

/// Settings of a unit, as stored (absent: surveys off).
pub fn settings_from(value: Option<serde_json::Value>) -> Result<SurveySettings> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(SurveySettings::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| Error::Corrupt(format!("unit survey settings: {e}"))),
    }
}
