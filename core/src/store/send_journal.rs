//! The provider's successful answer to a send, kept from the moment it
//! arrives until the send is recorded. A connector retried after a crash
//! in between (or after the database refused to record the send) gets the
//! kept answer for the same request instead of sending the message again.

use super::Result;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "send_journal")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idempotency_key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_digest: String,
        pub status: i32,
        pub headers: Json,
        pub body: Vec<u8>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A kept answer: status, headers and body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

pub async fn find(conn: &impl ConnectionTrait, key: &str, digest: &str) -> Result<Option<Answer>> {
    let Some(row) = entity::Entity::find_by_id((key.to_owned(), digest.to_owned())).one(conn).await? else {
        return Ok(None);
    };
    let headers = serde_json::from_value(row.headers).unwrap_or_default();
    Ok(Some((u16::try_from(row.status).unwrap_or(200), headers, row.body)))
}

pub async fn record(conn: &impl ConnectionTrait, key: &str, digest: &str, answer: &Answer) -> Result<()> {
    entity::Entity::insert(entity::ActiveModel {
        idempotency_key: Set(key.to_owned()),
        request_digest: Set(digest.to_owned()),
        status: Set(i32::from(answer.0)),
        headers: Set(serde_json::to_value(&answer.1).unwrap_or_default()),
        body: Set(answer.2.clone()),
        created_at: Set(super::now()),
    })
    .on_conflict_do_nothing_on([entity::Column::IdempotencyKey, entity::Column::RequestDigest])
    .exec(conn)
    .await?;
    Ok(())
}

/// Whether any answer is kept under `key`.
pub async fn has_key(conn: &impl ConnectionTrait, key: &str) -> Result<bool> {
    Ok(entity::Entity::find().filter(entity::Column::IdempotencyKey.eq(key)).one(conn).await?.is_some())
}

/// Forgets a send's answers; call it in the transaction that records the send.
pub async fn clear_in(conn: &impl ConnectionTrait, key: &str) -> Result<()> {
    entity::Entity::delete_many().filter(entity::Column::IdempotencyKey.eq(key)).exec(conn).await?;
    Ok(())
}
