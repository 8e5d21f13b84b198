//! What is known of each file kept by content hash: its type and size.

use super::Result;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "attachments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub hash: String,
        pub content_type: String,
        pub size_bytes: i64,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A kept file: its content hash, type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub hash: String,
    pub content_type: String,
    pub size_bytes: u64,
}

/// Records a file whose bytes are already in the blob store; the same
/// content recorded again keeps its first row.
pub async fn record(conn: &impl ConnectionTrait, stored: &Stored, by: Option<uuid::Uuid>) -> Result<()> {
    entity::Entity::insert(entity::ActiveModel {
        hash: Set(stored.hash.clone()),
        content_type: Set(stored.content_type.clone()),
        size_bytes: Set(i64::try_from(stored.size_bytes).unwrap_or(i64::MAX)),
        created_by: Set(by),
        created_at: Set(super::now()),
    })
    .on_conflict_do_nothing_on([entity::Column::Hash])
    .exec(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &impl ConnectionTrait, hash: &str) -> Result<Option<Stored>> {
    Ok(entity::Entity::find_by_id(hash.to_owned()).one(conn).await?.map(|row| Stored {
        hash: row.hash,
        content_type: row.content_type,
        size_bytes: u64::try_from(row.size_bytes).unwrap_or(0),
    }))
}

/// Files kept before `before`, oldest first.
pub async fn kept_before(conn: &impl ConnectionTrait, before: chrono::DateTime<chrono::Utc>) -> Result<Vec<Stored>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::CreatedAt.lt(before))
        .order_by_asc(entity::Column::CreatedAt)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Stored {
            hash: row.hash,
            content_type: row.content_type,
            size_bytes: u64::try_from(row.size_bytes).unwrap_or(0),
        })
        .collect())
}

/// Forgets a kept file (its bytes are removed by the caller).
pub async fn delete(conn: &impl ConnectionTrait, hash: &str) -> Result<()> {
    entity::Entity::delete_by_id(hash.to_owned()).exec(conn).await?;
    Ok(())
}
