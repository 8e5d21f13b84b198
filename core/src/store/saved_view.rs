//! Saved views: named inbox filters, a person's own or shared with a unit.
//! The filters are kept as the `GET /cases` query they stand for, checked by
//! the API before they are stored.

use super::{Error, Owner, Result, Store, audit};
use crate::domain::{Actor, UnitId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "saved_views")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub unit_id: Option<Uuid>,
        pub owner_id: Option<Uuid>,
        pub name: String,
        pub filters: Json,
        pub position: i32,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, Clone)]
pub struct SavedView {
    pub id: uuid::Uuid,
    pub owner: Owner,
    pub name: String,
    /// The `GET /cases` query parameters, as a JSON object.
    pub filters: serde_json::Map<String, serde_json::Value>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn from_model(m: entity::Model) -> Result<SavedView> {
    let owner = Owner::from_columns("saved view", m.id, m.unit_id, m.owner_id)?;
    let serde_json::Value::Object(filters) = m.filters else {
        return Err(Error::Corrupt(format!("saved view {} has filters that are not an object", m.id)));
    };
    Ok(SavedView {
        id: m.id,
        owner,
        name: m.name,
        filters,
        position: m.position,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub struct NewView {
    pub owner: Owner,
    pub name: String,
    pub filters: serde_json::Map<String, serde_json::Value>,
    pub position: i32,
}

#[derive(Default)]
pub struct ViewPatch {
    pub name: Option<String>,
    pub filters: Option<serde_json::Map<String, serde_json::Value>>,
    pub position: Option<i32>,
}

const TAKEN: &str = "another view here already has this name";

async fn record(conn: &impl ConnectionTrait, actor: &Actor, action: &'static str, view: &SavedView) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "saved_view",
            target_id: view.id.to_string(),
            unit_id: view.owner.unit(),
            details: serde_json::json!({ "name": view.name, "filters": view.filters }),
        },
    )
    .await
}

pub async fn create(store: &Store, actor: &Actor, new: NewView) -> Result<SavedView> {
    let tx = store.begin().await?;
    let now = super::now();
    let (unit, person) = new.owner.columns();
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        unit_id: Set(unit),
        owner_id: Set(person),
        name: Set(new.name),
        filters: Set(serde_json::Value::Object(new.filters)),
        position: Set(new.position),
        created_by: Set(match actor {
            Actor::User(user) => Some(user.0),
            _ => None,
        }),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*tx)
    .await
    .map_err(|e| Error::unique(e, "name", TAKEN))?;
    let view = from_model(model)?;
    record(&*tx, actor, "saved_view.created", &view).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn get(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<SavedView> {
    from_model(entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("saved view"))?)
}

/// The views `user` sees: their own, then those of `units` (every unit's
/// with `None`), each group in its owner's order.
pub async fn list(conn: &impl ConnectionTrait, user: UserId, units: Option<&[UnitId]>) -> Result<Vec<SavedView>> {
    use entity::Column;
    let shared = match units {
        Some(units) => Column::UnitId.is_in(units.iter().map(|u| u.0)),
        None => Column::UnitId.is_not_null(),
    };
    let visible = Condition::any().add(Column::OwnerId.eq(user.0)).add(shared);
    let rows = entity::Entity::find()
        .filter(visible)
        .order_by_asc(Column::UnitId)
        .order_by_asc(Column::Position)
        .order_by_asc(Column::Name)
        .all(conn)
        .await?;
    let mut views = rows.into_iter().map(from_model).collect::<Result<Vec<_>>>()?;
    // Personal views first (NULL sorts differently on each database).
    views.sort_by_key(|v| v.owner.unit().is_some());
    Ok(views)
}

pub async fn update(store: &Store, actor: &Actor, id: uuid::Uuid, patch: ViewPatch) -> Result<SavedView> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("saved view"))?;
    let mut model: entity::ActiveModel = current.into();
    if let Some(name) = patch.name {
        model.name = Set(name);
    }
    if let Some(filters) = patch.filters {
        model.filters = Set(serde_json::Value::Object(filters));
    }
    if let Some(position) = patch.position {
        model.position = Set(position);
    }
    model.updated_at = Set(super::now());
    let view = from_model(model.update(&*tx).await.map_err(|e| Error::unique(e, "name", TAKEN))?)?;
    record(&*tx, actor, "saved_view.updated", &view).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    let view = get(&*tx, id).await?;
    entity::Entity::delete_by_id(id).exec(&*tx).await?;
    record(&*tx, actor, "saved_view.deleted", &view).await?;
    tx.commit().await
}
