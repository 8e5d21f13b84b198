//! Durable key-value storage for plugins: one namespace per install, capped
//! in key, value and total size (see [`crate::plugins::kv`] for the limits).

use super::Result;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_kv")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub install_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: Vec<u8>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn get(conn: &impl ConnectionTrait, install: uuid::Uuid, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(entity::Entity::find_by_id((install, key.to_owned())).one(conn).await?.map(|m| m.value))
}

/// Bytes the namespace uses, not counting `except` (the key being replaced).
pub async fn used_bytes(conn: &impl ConnectionTrait, install: uuid::Uuid, except: &str) -> Result<i64> {
    let used: Option<Option<i64>> = entity::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) AS BIGINT)"), "used")
        .filter(entity::Column::InstallId.eq(install))
        .filter(entity::Column::Key.ne(except))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(used.flatten().unwrap_or(0))
}

pub async fn set(conn: &impl ConnectionTrait, install: uuid::Uuid, key: &str, value: Vec<u8>) -> Result<()> {
    entity::Entity::insert(entity::ActiveModel {
        install_id: Set(install),
        key: Set(key.to_owned()),
        value: Set(value),
        updated_at: Set(super::now()),
    })
    .on_conflict(
        OnConflict::columns([entity::Column::InstallId, entity::Column::Key])
            .update_columns([entity::Column::Value, entity::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

/// Sets `key` to `value` if it holds `expected` (none: absent), in one
/// statement; false when it did not.
pub async fn swap(
    conn: &impl ConnectionTrait,
    install: uuid::Uuid,
    key: &str,
    expected: Option<Vec<u8>>,
    value: Vec<u8>,
) -> Result<bool> {
    let now = super::now();
    let changed = match expected {
        None => {
            let row = entity::ActiveModel {
                install_id: Set(install),
                key: Set(key.to_owned()),
                value: Set(value),
                updated_at: Set(now),
            };
            entity::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([entity::Column::InstallId, entity::Column::Key]).do_nothing().to_owned(),
                )
                .exec_without_returning(conn)
                .await?
        }
        Some(old) => {
            entity::Entity::update_many()
                .col_expr(entity::Column::Value, Expr::value(value))
                .col_expr(entity::Column::UpdatedAt, Expr::value(now))
                .filter(entity::Column::InstallId.eq(install))
                .filter(entity::Column::Key.eq(key))
                .filter(entity::Column::Value.eq(old))
                .exec(conn)
                .await?
                .rows_affected
        }
    };
    Ok(changed == 1)
}

pub async fn delete(conn: &impl ConnectionTrait, install: uuid::Uuid, key: &str) -> Result<()> {
    entity::Entity::delete_by_id((install, key.to_owned())).exec(conn).await?;
    Ok(())
}
