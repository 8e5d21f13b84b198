//! Instance-wide settings kept in the database, so every instance shares them.

use super::Result;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn get(conn: &impl ConnectionTrait, key: &str) -> Result<Option<String>> {
    Ok(entity::Entity::find_by_id(key.to_owned()).one(conn).await?.map(|m| m.value))
}

/// Returns the stored value for `key`, storing `make()` first if absent.
/// Two instances racing here both end up with the value that won.
pub async fn get_or_insert(conn: &impl ConnectionTrait, key: &str, make: impl FnOnce() -> String) -> Result<String> {
    if let Some(value) = get(conn, key).await? {
        return Ok(value);
    }
    let inserted = entity::ActiveModel { key: Set(key.to_owned()), value: Set(make()) }.insert(conn).await;
    match inserted {
        Ok(model) => Ok(model.value),
        Err(_) => get(conn, key).await?.ok_or(super::Error::NotFound("setting")),
    }
}

/// Stores `value` under `key`, replacing what was there.
pub async fn set(conn: &impl ConnectionTrait, key: &str, value: &str) -> Result<()> {
    use sea_orm::sea_query::OnConflict;
    entity::Entity::insert(entity::ActiveModel { key: Set(key.to_owned()), value: Set(value.to_owned()) })
        .on_conflict(OnConflict::column(entity::Column::Key).update_column(entity::Column::Value).to_owned())
        .exec(conn)
        .await?;
    Ok(())
}

/// Removes `key`; absent is fine.
pub async fn delete(conn: &impl ConnectionTrait, key: &str) -> Result<()> {
    entity::Entity::delete_by_id(key.to_owned()).exec(conn).await?;
    Ok(())
}
