//! Scheduled reports: who subscribed to which report, sent to whom, when.

use super::{Error, Result, Store, audit};
use crate::domain::schedule::Frequency;
use crate::domain::{Actor, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "report_schedules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Whose view of the figures is sent (their scope when it is sent).
        pub owner_id: Uuid,
        pub name: String,
        pub report: String,
        /// Dimension names, as `group_by` takes them.
        pub group_by: Json,
        /// The report's filters, as its query takes them (`channel`, `unit_id`...).
        pub filters: Json,
        pub frequency: String,
        pub dates: Json,
        pub recipients: Json,
        pub next_run_at: DateTimeUtc,
        pub last_sent_at: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as Schedule;

/// A schedule's frequency, as stored.
pub fn frequency_of(s: &Schedule) -> Option<Frequency> {
    let dates: Vec<String> = serde_json::from_value(s.dates.clone()).unwrap_or_default();
    Frequency::parse("frequency", &s.frequency, &dates).ok()
}

/// A schedule to create, checked by the caller.
pub struct NewSchedule {
    pub owner: UserId,
    pub name: String,
    pub report: String,
    pub group_by: Vec<String>,
    pub filters: serde_json::Map<String, serde_json::Value>,
    pub frequency: Frequency,
    pub recipients: Vec<String>,
    pub first_run: DateTime<Utc>,
}

pub async fn create(store: &Store, actor: &Actor, new: NewSchedule) -> Result<Schedule> {
    let tx = store.begin().await?;
    let row = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        owner_id: Set(new.owner.0),
        name: Set(new.name),
        report: Set(new.report),
        group_by: Set(serde_json::json!(new.group_by)),
        filters: Set(serde_json::Value::Object(new.filters)),
        frequency: Set(new.frequency.name().to_owned()),
        dates: Set(serde_json::json!(new.frequency.dates())),
        recipients: Set(serde_json::json!(new.recipients)),
        next_run_at: Set(new.first_run),
        last_sent_at: Set(None),
        last_error: Set(None),
        created_at: Set(super::now()),
    }
    .insert(&*tx)
    .await?;
    record(&*tx, actor, "report_schedule.created", &row).await?;
    tx.commit().await?;
    Ok(row)
}

async fn record(conn: &impl ConnectionTrait, actor: &Actor, action: &str, s: &Schedule) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "report_schedule",
            target_id: s.id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "report": s.report, "frequency": s.frequency, "recipients": s.recipients }),
        },
    )
    .await
}

/// A person's schedules (everyone's for `None`), oldest first.
pub async fn list(conn: &impl ConnectionTrait, owner: Option<UserId>) -> Result<Vec<Schedule>> {
    let mut query = entity::Entity::find();
    if let Some(owner) = owner {
        query = query.filter(entity::Column::OwnerId.eq(owner.0));
    }
    Ok(query.order_by_asc(entity::Column::CreatedAt).all(conn).await?)
}

/// A schedule the caller owns (any, for `owner` none); otherwise not found.
pub async fn get(conn: &impl ConnectionTrait, owner: Option<UserId>, id: uuid::Uuid) -> Result<Schedule> {
    let found = entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("schedule"))?;
    if owner.is_some_and(|o| o.0 != found.owner_id) {
        return Err(Error::NotFound("schedule"));
    }
    Ok(found)
}

pub async fn delete(store: &Store, actor: &Actor, owner: Option<UserId>, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    let found = get(&*tx, owner, id).await?;
    entity::Entity::delete_by_id(id).exec(&*tx).await?;
    record(&*tx, actor, "report_schedule.deleted", &found).await?;
    tx.commit().await?;
    Ok(())
}

/// Schedules whose sending is due at `now`.
pub async fn due(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
    Ok(entity::Entity::find()
        .filter(entity::Column::NextRunAt.lte(now))
        .order_by_asc(entity::Column::NextRunAt)
        .all(conn)
        .await?)
}

/// Takes a due sending for `lease`: true if this caller got it (another
/// instance may have taken it first).
pub async fn claim(store: &Store, s: &Schedule, until: DateTime<Utc>) -> Result<bool> {
    let tx = store.begin().await?;
    let moved = entity::Entity::update_many()
        .col_expr(entity::Column::NextRunAt, sea_orm::sea_query::Expr::value(until))
        .filter(entity::Column::Id.eq(s.id))
        .filter(entity::Column::NextRunAt.eq(s.next_run_at))
        .exec(&*tx)
        .await?;
    tx.commit().await?;
    Ok(moved.rows_affected == 1)
}

/// Records a sending: sent (the next one set), or failed (tried again at
/// the lease's end, with the error kept).
pub async fn sent(store: &Store, id: uuid::Uuid, result: std::result::Result<DateTime<Utc>, String>) -> Result<()> {
    let tx = store.begin().await?;
    let Some(row) = entity::Entity::find_by_id(id).one(&*tx).await? else {
        return Ok(());
    };
    let mut active: entity::ActiveModel = row.into();
    match result {
        Ok(next) => {
            active.next_run_at = Set(next);
            active.last_sent_at = Set(Some(super::now()));
            active.last_error = Set(None);
        }
        Err(error) => active.last_error = Set(Some(error)),
    }
    active.update(&*tx).await?;
    tx.commit().await?;
    Ok(())
}
