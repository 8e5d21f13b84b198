//! Refresh tokens: opaque, stored hashed, rotated on every use. Presenting a
//! token that was already rotated revokes its whole family (likely theft).

use super::{Error, Result, Store};
use crate::domain::UserId;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set, sea_query::Expr,
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub family_id: Uuid,
        pub token_hash: String,
        pub expires_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
        pub replaced_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Stores a new token (by hash) in `family`; returns its row id.
pub async fn insert(
    conn: &impl ConnectionTrait,
    user: UserId,
    family: uuid::Uuid,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<uuid::Uuid> {
    let id = uuid::Uuid::now_v7();
    entity::ActiveModel {
        id: Set(id),
        user_id: Set(user.0),
        family_id: Set(family),
        token_hash: Set(token_hash),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        replaced_by: Set(None),
        created_at: Set(super::now()),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

/// Exchanges the token with `old_hash` for one with `new_hash`.
/// Returns the user and the session (the family), or `NotFound` when the
/// token is unknown, expired or reused.
pub async fn rotate(
    store: &Store,
    old_hash: &str,
    new_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<(UserId, uuid::Uuid)> {
    let tx = store.begin().await?;
    // The row stays locked until commit (PostgreSQL; SQLite has one writer):
    // two refreshes racing with one token would otherwise both succeed and
    // fork the session into two live families.
    let Some(old) =
        entity::Entity::find().filter(entity::Column::TokenHash.eq(old_hash)).lock_exclusive().one(&*tx).await?
    else {
        return Err(Error::NotFound("refresh token"));
    };
    let now = super::now();
    if old.revoked_at.is_some() {
        // A rotated token came back: someone holds a copy. End the whole session.
        revoke_family(&*tx, old.family_id).await?;
        tx.commit().await?;
        return Err(Error::NotFound("refresh token"));
    }
    if old.expires_at <= now {
        return Err(Error::NotFound("refresh token"));
    }
    let (user, family) = (UserId(old.user_id), old.family_id);
    super::session::seen(&*tx, family).await?;
    let new_id = insert(&*tx, user, family, new_hash, expires_at).await?;
    let mut model: entity::ActiveModel = old.into();
    model.revoked_at = Set(Some(now));
    model.replaced_by = Set(Some(new_id));
    model.update(&*tx).await?;
    tx.commit().await?;
    Ok((user, family))
}

/// Signs out: revokes the token's family and ends its session (the
/// account's consoles hear of it, so its access tokens stop at once).
/// Unknown tokens are ignored; returns whose it was.
pub async fn revoke(store: &Store, token_hash: &str) -> Result<Option<UserId>> {
    let tx = store.begin().await?;
    let Some(token) = entity::Entity::find().filter(entity::Column::TokenHash.eq(token_hash)).one(&*tx).await? else {
        return Ok(None);
    };
    revoke_family(&*tx, token.family_id).await?;
    super::session::account_changed(&*tx, UserId(token.user_id)).await?;
    tx.commit().await?;
    Ok(Some(UserId(token.user_id)))
}

/// Revokes a family's tokens and ends its session.
pub(super) async fn revoke_family(conn: &impl ConnectionTrait, family: uuid::Uuid) -> Result<()> {
    super::session::end(conn, family).await?;
    entity::Entity::update_many()
        .col_expr(entity::Column::RevokedAt, Expr::value(super::now()))
        .filter(entity::Column::FamilyId.eq(family))
        .filter(entity::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
