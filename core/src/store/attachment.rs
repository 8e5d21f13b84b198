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

pub mod upload {
    use sea_orm::entity::prelude::*;

    /// A file uploaded for a case: what lets a message of that case carry it.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "attachment_uploads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub hash: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
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

/// Records that `hash` was uploaded for `case`, so a message of that case
/// may carry it.
pub async fn grant_in(conn: &impl ConnectionTrait, hash: &str, case: crate::domain::CaseId) -> Result<()> {
    upload::Entity::insert(upload::ActiveModel {
        hash: Set(hash.to_owned()),
        case_id: Set(case.0),
        created_at: Set(super::now()),
    })
    .on_conflict_do_nothing_on([upload::Column::Hash, upload::Column::CaseId])
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The kept file `hash`, if it was uploaded for `case`. Knowing a file's
/// hash (seen once in a link, or computed from a well-known document) is
/// not a right to attach it elsewhere and get a fresh link to it.
pub async fn find_for_case(
    conn: &impl ConnectionTrait,
    hash: &str,
    case: crate::domain::CaseId,
) -> Result<Option<Stored>> {
    let granted = upload::Entity::find_by_id((hash.to_owned(), case.0)).one(conn).await?.is_some();
    if !granted {
        return Ok(None);
    }
    find(conn, hash).await
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
    upload::Entity::delete_many().filter(upload::Column::Hash.eq(hash)).exec(conn).await?;
    Ok(())
}
