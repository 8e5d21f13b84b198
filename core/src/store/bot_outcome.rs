//! What bot conversations came to (WIT 1.4 `outcomes.report`): one row per
//! case, replaced by the bot's latest report.

use super::{Result, Store};
use crate::domain::{Case, UnitId};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::OnConflict};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bot_outcomes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
        pub install_id: Uuid,
        pub unit_id: Uuid,
        pub channel: String,
        pub outcome: String,
        pub article_id: Option<Uuid>,
        pub confidence: Option<f32>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as BotOutcome;

/// Outcomes a bot reports (`abandoned` is derived when reading).
pub const OUTCOMES: [&str; 4] = ["answered", "confirmed", "handed_off", "unanswered"];

/// How long an unanswered conversation stays quiet before it counts as abandoned.
pub const ABANDONED_AFTER_MINUTES: i64 = 30;

/// Records where a case's bot conversation stands.
pub async fn record(
    store: &Store,
    case: &Case,
    install: uuid::Uuid,
    outcome: &str,
    article: Option<uuid::Uuid>,
    confidence: Option<f32>,
) -> Result<()> {
    let now = super::now();
    let tx = store.begin().await?;
    let row = entity::ActiveModel {
        case_id: Set(case.id.0),
        install_id: Set(install),
        unit_id: Set(case.unit_id.0),
        channel: Set(case.channel.as_str().to_owned()),
        outcome: Set(outcome.to_owned()),
        article_id: Set(article),
        confidence: Set(confidence),
        created_at: Set(now),
        updated_at: Set(now),
    };
    use entity::Column;
    entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::CaseId)
                .update_columns([
                    Column::InstallId,
                    Column::Outcome,
                    Column::ArticleId,
                    Column::Confidence,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&*tx)
        .await?;
    tx.commit().await
}

/// The outcome as reports show it: a conversation left unanswered and
/// quiet for a while was abandoned.
pub fn shown(outcome: &BotOutcome, now: DateTime<Utc>) -> &str {
    if outcome.outcome == "unanswered" && now - outcome.updated_at > chrono::Duration::minutes(ABANDONED_AFTER_MINUTES)
    {
        "abandoned"
    } else {
        &outcome.outcome
    }
}

/// Conversations of the units in `scope` (all when none) started in a period.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: Option<&[UnitId]>,
    unit: Option<UnitId>,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
) -> Result<Vec<BotOutcome>> {
    use entity::Column;
    use sea_orm::QueryOrder;
    let mut query = entity::Entity::find();
    if let Some(units) = scope {
        query = query.filter(Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    if let Some(unit) = unit {
        query = query.filter(Column::UnitId.eq(unit.0));
    }
    if let Some(at) = after {
        query = query.filter(Column::CreatedAt.gte(at));
    }
    if let Some(at) = before {
        query = query.filter(Column::CreatedAt.lt(at));
    }
    Ok(query.order_by_desc(Column::CreatedAt).all(conn).await?)
}
