//! Canned responses: a unit's (its supervisors write them, its staff use
//! them) and each person's own (only they see them).

use super::{Error, Result, Store, audit};
use crate::domain::{Actor, UnitId, UserId, canned::Shortcut};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "canned_responses")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub unit_id: Option<Uuid>,
        pub owner_id: Option<Uuid>,
        pub shortcut: String,
        pub title: String,
        pub body: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use super::Owner;

#[derive(Debug, Clone)]
pub struct Canned {
    pub id: uuid::Uuid,
    pub owner: Owner,
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn from_model(m: entity::Model) -> Result<Canned> {
    let owner = Owner::from_columns("canned response", m.id, m.unit_id, m.owner_id)?;
    Ok(Canned {
        id: m.id,
        owner,
        shortcut: m.shortcut,
        title: m.title,
        body: m.body,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub struct NewCanned {
    pub owner: Owner,
    pub shortcut: Shortcut,
    pub title: String,
    pub body: String,
}

#[derive(Default)]
pub struct CannedPatch {
    pub shortcut: Option<Shortcut>,
    pub title: Option<String>,
    pub body: Option<String>,
}

const TAKEN: &str = "another canned response already uses this shortcut";

async fn record(conn: &impl ConnectionTrait, actor: &Actor, action: &'static str, canned: &Canned) -> Result<()> {
    let unit = canned.owner.unit();
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "canned_response",
            target_id: canned.id.to_string(),
            unit_id: unit,
            details: serde_json::json!({ "shortcut": canned.shortcut }),
        },
    )
    .await
}

pub async fn create(store: &Store, actor: &Actor, new: NewCanned) -> Result<Canned> {
    let tx = store.begin().await?;
    let now = super::now();
    let (unit, person) = new.owner.columns();
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        unit_id: Set(unit),
        owner_id: Set(person),
        shortcut: Set(new.shortcut.as_str().to_owned()),
        title: Set(new.title),
        body: Set(new.body),
        created_by: Set(match actor {
            Actor::User(user) => Some(user.0),
            _ => None,
        }),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*tx)
    .await
    .map_err(|e| Error::unique(e, "shortcut", TAKEN))?;
    let canned = from_model(model)?;
    record(&*tx, actor, "canned_response.created", &canned).await?;
    tx.commit().await?;
    Ok(canned)
}

pub async fn get(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Canned> {
    from_model(entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("canned response"))?)
}

/// The responses `user` may use: their own and those of `units`, whose
/// shortcut or title contains `q`, by shortcut.
pub async fn list(
    conn: &impl ConnectionTrait,
    user: Option<UserId>,
    units: Option<&[UnitId]>,
    q: Option<&str>,
) -> Result<Vec<Canned>> {
    use entity::Column;
    let mut visible = Condition::any();
    if let Some(user) = user {
        visible = visible.add(Column::OwnerId.eq(user.0));
    }
    visible = match units {
        Some(units) => visible.add(Column::UnitId.is_in(units.iter().map(|u| u.0))),
        None => visible.add(Column::UnitId.is_not_null()),
    };
    let rows = entity::Entity::find().filter(visible).order_by_asc(Column::Shortcut).all(conn).await?;
    let needle = q.map(|q| q.trim().trim_start_matches('/').to_lowercase()).filter(|q| !q.is_empty());
    rows.into_iter()
        .filter(|m| needle.as_deref().is_none_or(|n| m.shortcut.contains(n) || m.title.to_lowercase().contains(n)))
        .map(from_model)
        .collect()
}

pub async fn update(store: &Store, actor: &Actor, id: uuid::Uuid, patch: CannedPatch) -> Result<Canned> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("canned response"))?;
    let mut model: entity::ActiveModel = current.into();
    if let Some(shortcut) = patch.shortcut {
        model.shortcut = Set(shortcut.as_str().to_owned());
    }
    if let Some(title) = patch.title {
        model.title = Set(title);
    }
    if let Some(body) = patch.body {
        model.body = Set(body);
    }
    model.updated_at = Set(super::now());
    let canned = from_model(model.update(&*tx).await.map_err(|e| Error::unique(e, "shortcut", TAKEN))?)?;
    record(&*tx, actor, "canned_response.updated", &canned).await?;
    tx.commit().await?;
    Ok(canned)
}

pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    let canned = get(&*tx, id).await?;
    entity::Entity::delete_by_id(id).exec(&*tx).await?;
    record(&*tx, actor, "canned_response.deleted", &canned).await?;
    tx.commit().await
}
