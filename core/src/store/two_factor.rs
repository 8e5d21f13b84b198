//! A local account's second factor: its sealed TOTP secret (confirmed once
//! the person's app produced a code), the last step accepted, and its
//! single-use recovery codes (hashed). Sealing and code checks are the
//! caller's (`crate::two_factor`, `crate::secrets`); here, what is kept and
//! the conditional writes that make each code good once, even when two
//! sign-ins race.

use super::{Error, Result, Store, audit};
use crate::domain::{Actor, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "two_factor")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub secret: String,
        pub confirmed_at: Option<DateTimeUtc>,
        pub last_step: Option<i64>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recovery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "recovery_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub code_hash: String,
        pub used_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A user's second factor as kept.
#[derive(Debug, Clone)]
pub struct TwoFactor {
    /// Sealed with the secrets key for this user.
    pub sealed_secret: String,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_step: Option<i64>,
}

impl TwoFactor {
    pub fn is_on(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

pub async fn get(conn: &impl ConnectionTrait, user: UserId) -> Result<Option<TwoFactor>> {
    Ok(entity::Entity::find_by_id(user.0).one(conn).await?.map(|m| TwoFactor {
        sealed_secret: m.secret,
        confirmed_at: m.confirmed_at,
        last_step: m.last_step,
    }))
}

/// Which of `users` sign in with a second factor.
pub async fn enabled_among(
    conn: &impl ConnectionTrait,
    users: &[uuid::Uuid],
) -> Result<std::collections::HashSet<uuid::Uuid>> {
    use sea_orm::QuerySelect;
    let on: Vec<uuid::Uuid> = entity::Entity::find()
        .select_only()
        .column(entity::Column::UserId)
        .filter(entity::Column::UserId.is_in(users.iter().copied()))
        .filter(entity::Column::ConfirmedAt.is_not_null())
        .into_tuple()
        .all(conn)
        .await?;
    Ok(on.into_iter().collect())
}

/// Whether `user` signs in with a second factor.
pub async fn is_on(conn: &impl ConnectionTrait, user: UserId) -> Result<bool> {
    Ok(get(conn, user).await?.is_some_and(|t| t.is_on()))
}

/// Keeps a new, not yet confirmed secret (replacing an unconfirmed one).
/// A conflict when the second factor is already on: it must be turned off
/// (or reset by an admin) first.
pub async fn begin(store: &Store, user: UserId, sealed_secret: String) -> Result<()> {
    let tx = store.begin().await?;
    match entity::Entity::find_by_id(user.0).one(&*tx).await? {
        Some(current) if current.confirmed_at.is_some() => {
            return Err(Error::Conflict {
                field: "two_factor".into(),
                message: "two-factor sign-in is already on; turn it off first to use another app".into(),
            });
        }
        Some(_) => {
            entity::Entity::delete_by_id(user.0).exec(&*tx).await?;
        }
        None => {}
    }
    entity::ActiveModel {
        user_id: Set(user.0),
        secret: Set(sealed_secret),
        confirmed_at: Set(None),
        last_step: Set(None),
        created_at: Set(super::now()),
    }
    .insert(&*tx)
    .await?;
    tx.commit().await
}

/// Turns the second factor on: the app produced the code of `step`; the
/// recovery codes (hashes) replace any earlier ones. Audited.
pub async fn confirm(store: &Store, user: UserId, step: i64, recovery_hashes: &[String]) -> Result<()> {
    let tx = store.begin().await?;
    let done = entity::Entity::update_many()
        .col_expr(entity::Column::ConfirmedAt, Expr::value(super::now()))
        .col_expr(entity::Column::LastStep, Expr::value(step))
        .filter(entity::Column::UserId.eq(user.0))
        .filter(entity::Column::ConfirmedAt.is_null())
        .exec(&*tx)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::Conflict {
            field: "code".into(),
            message: "there is no enrolment waiting for a code; start again".into(),
        });
    }
    replace_recovery(&*tx, user, recovery_hashes).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor: &Actor::User(user),
            action: "user.two_factor_enabled",
            target_kind: "user",
            target_id: user.to_string(),
            unit_id: None,
            details: serde_json::json!({ "recovery_codes": recovery_hashes.len() }),
        },
    )
    .await?;
    // Who the account is now (an admin held back until enrolled is let in).
    super::session::account_changed(&*tx, user).await?;
    tx.commit().await
}

/// New recovery codes instead of the old ones (all of which stop working).
pub async fn renew_recovery(store: &Store, user: UserId, recovery_hashes: &[String]) -> Result<()> {
    let tx = store.begin().await?;
    replace_recovery(&*tx, user, recovery_hashes).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor: &Actor::User(user),
            action: "user.recovery_codes_renewed",
            target_kind: "user",
            target_id: user.to_string(),
            unit_id: None,
            details: serde_json::json!({ "recovery_codes": recovery_hashes.len() }),
        },
    )
    .await?;
    tx.commit().await
}

async fn replace_recovery(conn: &impl ConnectionTrait, user: UserId, hashes: &[String]) -> Result<()> {
    recovery::Entity::delete_many().filter(recovery::Column::UserId.eq(user.0)).exec(conn).await?;
    let now = super::now();
    for hash in hashes {
        recovery::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            user_id: Set(user.0),
            code_hash: Set(hash.clone()),
            used_at: Set(None),
            created_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Records that the code of `step` was used; false when that step (or a
/// later one) already was: the code was replayed or raced.
pub async fn use_step(conn: &impl ConnectionTrait, user: UserId, step: i64) -> Result<bool> {
    let done = entity::Entity::update_many()
        .col_expr(entity::Column::LastStep, Expr::value(step))
        .filter(entity::Column::UserId.eq(user.0))
        .filter(entity::Column::ConfirmedAt.is_not_null())
        .filter(
            sea_orm::Condition::any().add(entity::Column::LastStep.is_null()).add(entity::Column::LastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Spends the recovery code with `hash`; false when there is none unused.
pub async fn use_recovery(conn: &impl ConnectionTrait, user: UserId, hash: &str) -> Result<bool> {
    let done = recovery::Entity::update_many()
        .col_expr(recovery::Column::UsedAt, Expr::value(super::now()))
        .filter(recovery::Column::UserId.eq(user.0))
        .filter(recovery::Column::CodeHash.eq(hash))
        .filter(recovery::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Recovery codes not yet used.
pub async fn recovery_left(conn: &impl ConnectionTrait, user: UserId) -> Result<u64> {
    Ok(recovery::Entity::find()
        .filter(recovery::Column::UserId.eq(user.0))
        .filter(recovery::Column::UsedAt.is_null())
        .count(conn)
        .await?)
}

/// Turns the second factor off (the person, or an admin for someone who
/// lost their phone): secret and recovery codes go, the account's
/// sessions end when an admin does it. Audited; false when it was not on.
pub async fn remove(store: &Store, actor: &Actor, user: UserId) -> Result<bool> {
    let tx = store.begin().await?;
    let gone = entity::Entity::delete_by_id(user.0).exec(&*tx).await?.rows_affected > 0;
    recovery::Entity::delete_many().filter(recovery::Column::UserId.eq(user.0)).exec(&*tx).await?;
    if gone {
        if *actor != Actor::User(user) {
            super::session::end_all(&*tx, user, None).await?;
        }
        audit::record(
            &*tx,
            audit::Entry {
                actor,
                action: "user.two_factor_disabled",
                target_kind: "user",
                target_id: user.to_string(),
                unit_id: None,
                details: serde_json::Value::Null,
            },
        )
        .await?;
        super::session::account_changed(&*tx, user).await?;
    }
    tx.commit().await?;
    Ok(gone)
}
