//! `Idempotency-Key` on creating POSTs. A key is reserved before the work
//! and completed with the response after it, so a retry replays the first
//! response and never creates twice — even if the process dies in between
//! (the key then stays reserved and retries are told so).

use super::Result;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub principal: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub request_hash: String,
        /// 0 while the first request is in progress.
        pub status: i16,
        pub body: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a reservation found.
pub enum Reservation {
    /// First use of the key: go ahead, then `complete` or `release` it.
    New,
    /// The same request was answered before: replay this.
    Replay { status: u16, body: String },
    /// The key was used with a different request body.
    Mismatch,
    /// The first request with this key has not finished.
    InProgress,
}

pub async fn reserve(
    conn: &impl ConnectionTrait,
    principal: &str,
    key: &str,
    request_hash: &str,
) -> Result<Reservation> {
    let inserted = entity::ActiveModel {
        principal: Set(principal.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        status: Set(0),
        body: Set(String::new()),
        created_at: Set(super::now()),
    }
    .insert(conn)
    .await;
    match inserted {
        Ok(_) => return Ok(Reservation::New),
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {}
        Err(e) => return Err(e.into()),
    }
    let row = entity::Entity::find()
        .filter(entity::Column::Principal.eq(principal))
        .filter(entity::Column::Key.eq(key))
        .one(conn)
        .await?;
    Ok(match row {
        None => Reservation::InProgress,
        Some(row) if row.request_hash != request_hash => Reservation::Mismatch,
        Some(row) if row.status == 0 => Reservation::InProgress,
        Some(row) => Reservation::Replay { status: u16::try_from(row.status).unwrap_or(200), body: row.body },
    })
}

pub async fn complete(
    conn: &impl ConnectionTrait,
    principal: &str,
    key: &str,
    status: u16,
    body: String,
) -> Result<()> {
    entity::Entity::update_many()
        .col_expr(entity::Column::Status, Expr::value(i16::try_from(status).unwrap_or(200)))
        .col_expr(entity::Column::Body, Expr::value(body))
        .filter(entity::Column::Principal.eq(principal))
        .filter(entity::Column::Key.eq(key))
        .exec(conn)
        .await?;
    Ok(())
}

/// Frees a key whose request failed, so the client may retry it.
pub async fn release(conn: &impl ConnectionTrait, principal: &str, key: &str) -> Result<()> {
    entity::Entity::delete_many()
        .filter(entity::Column::Principal.eq(principal))
        .filter(entity::Column::Key.eq(key))
        .exec(conn)
        .await?;
    Ok(())
}
