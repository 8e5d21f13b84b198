//! Notifications for staff: a plugin's `notify`, a protocol that failed and
//! escalated, an install suspended. Each user reads their own.

use super::{Result, pagination::Page};
use crate::domain::{Role, UnitId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub case_id: Option<Uuid>,
        pub kind: String,
        pub text: String,
        pub created_at: DateTimeUtc,
        pub read_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub id: uuid::Uuid,
    pub case_id: Option<uuid::Uuid>,
    pub kind: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

fn from_model(m: entity::Model) -> Notification {
    Notification {
        id: m.id,
        case_id: m.case_id,
        kind: m.kind,
        text: m.text,
        created_at: m.created_at,
        read_at: m.read_at,
    }
}

/// Writes one notification per user, inside the caller's transaction.
pub async fn notify_in(
    conn: &impl ConnectionTrait,
    users: &[UserId],
    case_id: Option<uuid::Uuid>,
    kind: &str,
    text: &str,
) -> Result<()> {
    let now = super::now();
    let mut seen = std::collections::HashSet::new();
    for user in users.iter().filter(|u| seen.insert(**u)) {
        entity::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            user_id: Set(user.0),
            case_id: Set(case_id),
            kind: Set(kind.to_owned()),
            text: Set(text.to_owned()),
            created_at: Set(now),
            read_at: Set(None),
        }
        .insert(conn)
        .await?;
    }
    if !seen.is_empty() {
        let data = serde_json::json!({ "kind": kind, "text": text });
        let event = super::live::LiveEvent::to_users("notification", seen.iter().map(|u| u.0).collect(), case_id, data);
        super::live::publish_in(conn, event).await?;
    }
    Ok(())
}

/// Active supervisors of a unit.
pub async fn supervisors(conn: &impl ConnectionTrait, unit: UnitId) -> Result<Vec<UserId>> {
    use super::user::{entity as user, membership};
    let ids: Vec<uuid::Uuid> = membership::Entity::find()
        .filter(membership::Column::UnitId.eq(unit.0))
        .filter(membership::Column::Role.eq(Role::Supervisor.as_str()))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let active = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .filter(user::Column::Active.eq(true))
        .all(conn)
        .await?;
    Ok(active.into_iter().map(|u| UserId(u.id)).collect())
}

/// Active admins.
pub async fn admins(conn: &impl ConnectionTrait) -> Result<Vec<UserId>> {
    use super::user::entity as user;
    let rows = user::Entity::find()
        .filter(user::Column::IsAdmin.eq(true))
        .filter(user::Column::Active.eq(true))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|u| UserId(u.id)).collect())
}

/// A user's notifications, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    user: UserId,
    unread_only: bool,
    page: &Page,
) -> Result<(Vec<Notification>, Option<String>)> {
    use entity::Column;
    let mut query = entity::Entity::find().filter(Column::UserId.eq(user.0));
    if unread_only {
        query = query.filter(Column::ReadAt.is_null());
    }
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::CreatedAt, Column::Id),
        super::pagination::Order::Descending,
        page,
        |r| (r.created_at, r.id),
    )
    .await?;
    Ok((rows.into_iter().map(from_model).collect(), next))
}

/// Marks one of the user's notifications read; `NotFound` if it is not theirs.
pub async fn mark_read(store: &super::Store, user: UserId, id: uuid::Uuid) -> Result<Notification> {
    let tx = store.begin().await?;
    let row = entity::Entity::find_by_id(id)
        .filter(entity::Column::UserId.eq(user.0))
        .one(&*tx)
        .await?
        .ok_or(super::Error::NotFound("notification"))?;
    let mut active: entity::ActiveModel = row.clone().into();
    if row.read_at.is_none() {
        active.read_at = Set(Some(super::now()));
    }
    let row = active.update(&*tx).await?;
    tx.commit().await?;
    Ok(from_model(row))
}
