//! Live events for consoles: what changed (a case, a message, an agent's
//! presence, a notification), published inside the transaction that made
//! the change, so a console hears of it only once it is committed.
//!
//! On PostgreSQL an event is a `NOTIFY` on [`CHANNEL`]: the database hands
//! it to every instance's listener at commit, in commit order, and never
//! for a transaction that rolled back. On SQLite (one instance) it is a row
//! of `live_events`, read in id order by the instance's hub; the single
//! writer makes id order the commit order. Either way an event is a small
//! note (ids, the new status...); a console reads anything more through
//! the API, with its own permissions.

use super::{Result, is_postgres};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "live_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub payload: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "ventanilla_live";

/// PostgreSQL refuses notification payloads from 8000 bytes; an event's
/// `data` is left out above this (consoles then read the case).
const MAX_PAYLOAD: usize = 7000;

/// Something consoles may want to show at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// `case.created`, `case.updated`, `case.sla`, `message.created`, `note.created`,
    /// `presence.changed`, `notification`.
    pub kind: String,
    /// Staff of these units (and admins) may see it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<uuid::Uuid>,
    /// These users see it whatever their units.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl LiveEvent {
    pub fn new(kind: &str, units: Vec<uuid::Uuid>, case_id: Option<uuid::Uuid>, data: serde_json::Value) -> Self {
        LiveEvent { kind: kind.to_owned(), units, users: vec![], case_id, data, at: super::now() }
    }

    pub fn to_users(kind: &str, users: Vec<uuid::Uuid>, case_id: Option<uuid::Uuid>, data: serde_json::Value) -> Self {
        LiveEvent { kind: kind.to_owned(), units: vec![], users, case_id, data, at: super::now() }
    }
}

/// Events published by this process so far: a commit wakes the SQLite hub
/// only when this moved while its transaction was open.
static PUBLISHED: AtomicU64 = AtomicU64::new(0);

pub(super) fn published() -> u64 {
    PUBLISHED.load(Ordering::SeqCst)
}

/// Publishes `event` when the caller's transaction commits.
pub async fn publish_in(conn: &impl ConnectionTrait, mut event: LiveEvent) -> Result<()> {
    let mut payload = serde_json::to_string(&event).unwrap_or_default();
    if payload.len() > MAX_PAYLOAD {
        event.data = serde_json::Value::Null;
        payload = serde_json::to_string(&event).unwrap_or_default();
    }
    PUBLISHED.fetch_add(1, Ordering::SeqCst);
    if is_postgres(conn) {
        let notify = sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        );
        conn.execute_raw(notify).await?;
    } else {
        entity::ActiveModel { id: Default::default(), payload: Set(payload), created_at: Set(event.at) }
            .insert(conn)
            .await?;
    }
    Ok(())
}

/// The newest stored event's id (SQLite): a hub starts after it.
pub async fn last_id(conn: &impl ConnectionTrait) -> Result<i64> {
    let last = entity::Entity::find().order_by_desc(entity::Column::Id).limit(1).one(conn).await?;
    Ok(last.map_or(0, |m| m.id))
}

/// Stored events after `after`, oldest first (SQLite).
pub async fn after(conn: &impl ConnectionTrait, after: i64, limit: u64) -> Result<Vec<(i64, LiveEvent)>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::Id.gt(after))
        .order_by_asc(entity::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|m| Some((m.id, serde_json::from_str(&m.payload).ok()?))).collect())
}

/// Forgets stored events older than `before` (SQLite keeps a few minutes).
pub async fn prune(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64> {
    let deleted =
        entity::Entity::delete_many().filter(entity::Column::CreatedAt.lt(before)).exec(conn).await?.rows_affected;
    Ok(deleted)
}
