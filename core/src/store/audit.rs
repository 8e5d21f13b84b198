//! The audit log: written inside each command's transaction, read by admins.

use super::{Result, Store, pagination::Page};
use crate::domain::{Actor, AuditEvent, AuditEventId, UnitId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub at: DateTimeUtc,
        pub actor_kind: String,
        pub actor_id: String,
        pub action: String,
        pub target_kind: String,
        pub target_id: String,
        pub unit_id: Option<Uuid>,
        pub details: Json,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One audit entry about to be written.
pub struct Entry<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: String,
    pub unit_id: Option<UnitId>,
    pub details: serde_json::Value,
}

/// Writes `entry`. An entry about a case is a step of its timeline, which
/// reports read: the case's figures are marked due in the same transaction.
pub async fn record(conn: &impl ConnectionTrait, entry: Entry<'_>) -> Result<()> {
    if entry.target_kind == "case"
        && let Ok(case) = entry.target_id.parse::<uuid::Uuid>()
    {
        super::report::mark_in(conn, case).await?;
    }
    insert(conn, entry).await
}

/// Writes that someone read a record (a sensitive unit's case, a person's
/// consent history, an export): nothing changed, so no figures are due.
pub async fn record_read(store: &Store, entry: Entry<'_>) -> Result<()> {
    let tx = store.begin().await?;
    insert(&*tx, entry).await?;
    tx.commit().await
}

async fn insert(conn: &impl ConnectionTrait, entry: Entry<'_>) -> Result<()> {
    entity::ActiveModel {
        id: Set(AuditEventId::new().0),
        at: Set(super::now()),
        actor_kind: Set(entry.actor.kind().to_owned()),
        actor_id: Set(entry.actor.id_text()),
        action: Set(entry.action.to_owned()),
        target_kind: Set(entry.target_kind.to_owned()),
        target_id: Set(entry.target_id),
        unit_id: Set(entry.unit_id.map(|u| u.0)),
        details: Set(entry.details),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Filters for reading the log.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    /// Every action starting so (`auth.`).
    pub action_prefix: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &AuditFilter,
    page: &Page,
) -> Result<(Vec<AuditEvent>, Option<String>)> {
    use entity::Column;
    let mut query = entity::Entity::find();
    if let Some(action) = &filter.action {
        query = query.filter(Column::Action.eq(action.clone()));
    }
    if let Some(prefix) = &filter.action_prefix {
        query = query.filter(Column::Action.starts_with(prefix.as_str()));
    }
    if let Some(kind) = &filter.target_kind {
        query = query.filter(Column::TargetKind.eq(kind.clone()));
    }
    if let Some(id) = &filter.target_id {
        query = query.filter(Column::TargetId.eq(id.clone()));
    }
    if let Some(actor) = &filter.actor_id {
        query = query.filter(Column::ActorId.eq(actor.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(Column::At.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(Column::At.lt(until));
    }
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::At, Column::Id),
        super::pagination::Order::Descending,
        page,
        |r| (r.at, r.id),
    )
    .await?;
    Ok((rows.into_iter().map(from_model).collect(), next))
}

fn from_model(m: entity::Model) -> AuditEvent {
    let actor = match m.actor_kind.as_str() {
        "user" => m.actor_id.parse().map(Actor::User).unwrap_or(Actor::System),
        "api_token" => m.actor_id.parse().map(Actor::Token).unwrap_or(Actor::System),
        "plugin" => {
            let (id, version) = m.actor_id.split_once('@').unwrap_or((&m.actor_id, ""));
            Actor::Plugin { id: id.to_owned(), version: version.to_owned() }
        }
        _ => Actor::System,
    };
    AuditEvent {
        id: AuditEventId(m.id),
        at: m.at,
        actor,
        action: m.action,
        target_kind: m.target_kind,
        target_id: m.target_id,
        unit_id: m.unit_id.map(UnitId),
        details: m.details,
    }
}

/// The audit actions that are steps of a case's timeline (reports work a
/// case's figures out from them): they go with the case, not with the
/// audit retention.
pub const CASE_STEPS: [&str; 6] =
    ["case.created", "case.status_changed", "case.assigned", "case.transferred", "message.created", "note.created"];

/// The entries the audit retention removes: written before `before`, and
/// not a step of a case's timeline.
fn prunable(before: DateTime<Utc>) -> sea_orm::Condition {
    use entity::Column;
    sea_orm::Condition::all()
        .add(Column::At.lt(before))
        .add(sea_orm::Condition::any().add(Column::TargetKind.ne("case")).add(Column::Action.is_not_in(CASE_STEPS)))
}

/// How many entries [`prune`] would remove.
/// The newest entry of `action` about one record: when, and its details.
pub async fn latest(
    conn: &impl ConnectionTrait,
    action: &str,
    target_kind: &str,
    target_id: &str,
) -> Result<Option<(DateTime<Utc>, serde_json::Value)>> {
    use sea_orm::QueryOrder;
    let found = entity::Entity::find()
        .filter(entity::Column::Action.eq(action))
        .filter(entity::Column::TargetKind.eq(target_kind))
        .filter(entity::Column::TargetId.eq(target_id))
        .order_by_desc(entity::Column::At)
        .one(conn)
        .await?;
    Ok(found.map(|m| (m.at, m.details)))
}

pub async fn count_prunable(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(entity::Entity::find().filter(prunable(before)).count(conn).await?)
}

/// Removes the entries written before `before`, but cases' timeline steps,
/// a batch per transaction; records that it did. How many went.
pub async fn prune(store: &Store, before: DateTime<Utc>) -> Result<u64> {
    use entity::Column;
    use sea_orm::QuerySelect;
    let removable = || prunable(before);
    let mut removed = 0;
    loop {
        let tx = store.begin().await?;
        let ids: Vec<uuid::Uuid> = entity::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(removable())
            .limit(5_000)
            .into_tuple()
            .all(&*tx)
            .await?;
        if ids.is_empty() {
            tx.commit().await?;
            break;
        }
        let n = entity::Entity::delete_many().filter(Column::Id.is_in(ids)).exec(&*tx).await?.rows_affected;
        tx.commit().await?;
        removed += n;
    }
    if removed > 0 {
        let tx = store.begin().await?;
        insert(
            &*tx,
            Entry {
                actor: &Actor::System,
                action: "audit.pruned",
                target_kind: "audit",
                target_id: "audit-events".into(),
                unit_id: None,
                details: serde_json::json!({ "before": before, "removed": removed }),
            },
        )
        .await?;
        tx.commit().await?;
    }
    Ok(removed)
}
