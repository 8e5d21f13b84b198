//! Sign-in sessions: one per refresh-token family (a sign-in and every
//! token rotated from it), with how and from where it began and when it was
//! last used. Ending a session revokes its family; access tokens name their
//! session (`sid`), so they stop working too (see `api::extract`).

use super::Result;
use crate::domain::UserId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub method: String,
        pub ip: Option<String>,
        pub user_agent: Option<String>,
        pub started_at: DateTimeUtc,
        pub last_seen_at: DateTimeUtc,
        pub ended_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A session as listed to its owner.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: uuid::Uuid,
    pub method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// How a session began.
pub struct Start<'a> {
    pub id: uuid::Uuid,
    pub user: UserId,
    pub method: &'a str,
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

pub async fn start(conn: &impl ConnectionTrait, start: Start<'_>) -> Result<()> {
    let now = super::now();
    entity::ActiveModel {
        id: Set(start.id),
        user_id: Set(start.user.0),
        method: Set(start.method.to_owned()),
        ip: Set(Some(start.ip.chars().take(64).collect())),
        user_agent: Set(start.user_agent.map(|a| a.chars().take(300).collect())),
        started_at: Set(now),
        last_seen_at: Set(now),
        ended_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Notes that the session's refresh token was just used.
pub async fn seen(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<()> {
    entity::Entity::update_many()
        .col_expr(entity::Column::LastSeenAt, Expr::value(super::now()))
        .filter(entity::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The user's sessions not ended, newest first.
pub async fn list(conn: &impl ConnectionTrait, user: UserId) -> Result<Vec<Session>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::UserId.eq(user.0))
        .filter(entity::Column::EndedAt.is_null())
        .order_by_desc(entity::Column::LastSeenAt)
        .limit(200)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| Session {
            id: m.id,
            method: m.method,
            ip: m.ip,
            user_agent: m.user_agent,
            started_at: m.started_at,
            last_seen_at: m.last_seen_at,
        })
        .collect())
}

/// The ids of the user's sessions not ended (what access tokens may name).
pub async fn live_ids(conn: &impl ConnectionTrait, user: UserId) -> Result<Vec<uuid::Uuid>> {
    Ok(entity::Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .filter(entity::Column::UserId.eq(user.0))
        .filter(entity::Column::EndedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?)
}

/// Marks one session ended (its refresh tokens are the caller's to revoke).
pub async fn end(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<()> {
    entity::Entity::update_many()
        .col_expr(entity::Column::EndedAt, Expr::value(super::now()))
        .filter(entity::Column::Id.eq(id))
        .filter(entity::Column::EndedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends every session of `user` but `except`, with their refresh tokens
/// (a password change, a deactivation, "sign out everywhere", an admin's
/// reset); returns how many ended. The caller tells the account's consoles
/// ([`account_changed`]) in the same transaction.
pub async fn end_all(conn: &impl ConnectionTrait, user: UserId, except: Option<uuid::Uuid>) -> Result<u64> {
    let mut ending = entity::Entity::update_many()
        .col_expr(entity::Column::EndedAt, Expr::value(super::now()))
        .filter(entity::Column::UserId.eq(user.0))
        .filter(entity::Column::EndedAt.is_null());
    let mut tokens = super::refresh_token::entity::Entity::update_many()
        .col_expr(super::refresh_token::entity::Column::RevokedAt, Expr::value(super::now()))
        .filter(super::refresh_token::entity::Column::UserId.eq(user.0))
        .filter(super::refresh_token::entity::Column::RevokedAt.is_null());
    if let Some(kept) = except {
        ending = ending.filter(entity::Column::Id.ne(kept));
        tokens = tokens.filter(super::refresh_token::entity::Column::FamilyId.ne(kept));
    }
    let ended = ending.exec(conn).await?.rows_affected;
    tokens.exec(conn).await?;
    Ok(ended)
}

/// Tells every instance that `user`'s account changed (sessions ended, a
/// second factor on or off): each forgets what it cached of it, so an
/// ended session's access tokens stop at once.
pub async fn account_changed(conn: &impl ConnectionTrait, user: UserId) -> Result<()> {
    let event =
        super::live::LiveEvent::to_users(super::user::USER_CHANGED, vec![user.0], None, serde_json::Value::Null);
    super::live::publish_in(conn, event).await
}

/// A successful sign-in: the session, its first refresh token (by hash)
/// and the audit entry (method and address), in one transaction.
pub async fn sign_in(
    store: &super::Store,
    start_with: Start<'_>,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let tx = store.begin().await?;
    let (user, id, method, ip) =
        (start_with.user, start_with.id, start_with.method.to_owned(), start_with.ip.to_owned());
    let agent = start_with.user_agent.map(str::to_owned);
    start(&*tx, start_with).await?;
    super::refresh_token::insert(&*tx, user, id, token_hash, expires_at).await?;
    super::audit::record(
        &*tx,
        super::audit::Entry {
            actor: &crate::domain::Actor::User(user),
            action: "auth.signed_in",
            target_kind: "user",
            target_id: user.to_string(),
            unit_id: None,
            details: serde_json::json!({ "session": id, "method": method, "ip": ip, "user_agent": agent }),
        },
    )
    .await?;
    tx.commit().await
}

/// A refused sign-in, for the security record: the account when one was
/// named (else the e-mail given), why, and from where.
pub async fn sign_in_refused(
    store: &super::Store,
    user: Option<UserId>,
    email: &str,
    reason: &str,
    ip: &str,
    provider: Option<&str>,
) -> Result<()> {
    let tx = store.begin().await?;
    let (target_kind, target_id) = match user {
        Some(user) => ("user", user.to_string()),
        None => ("sign_in", email.chars().take(200).collect()),
    };
    super::audit::record(
        &*tx,
        super::audit::Entry {
            actor: &crate::domain::Actor::System,
            action: "auth.sign_in_refused",
            target_kind,
            target_id,
            unit_id: None,
            details: match provider {
                Some(provider) => {
                    serde_json::json!({ "email": email, "reason": reason, "ip": ip, "provider": provider })
                }
                None => serde_json::json!({ "email": email, "reason": reason, "ip": ip }),
            },
        },
    )
    .await?;
    tx.commit().await
}

/// The person ends one of their sessions (its refresh tokens revoked, its
/// access tokens refused from now on). Audited.
pub async fn end_one(store: &super::Store, user: UserId, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    super::refresh_token::revoke_family(&*tx, id).await?;
    account_changed(&*tx, user).await?;
    audit_ended(&*tx, user, serde_json::json!({ "session": id })).await?;
    tx.commit().await
}

/// "Sign out everywhere": every session of the person but `keep`. Audited.
pub async fn sign_out_everywhere(store: &super::Store, user: UserId, keep: Option<uuid::Uuid>) -> Result<u64> {
    let tx = store.begin().await?;
    let ended = end_all(&*tx, user, keep).await?;
    account_changed(&*tx, user).await?;
    audit_ended(&*tx, user, serde_json::json!({ "sessions": ended, "kept_current": keep.is_some() })).await?;
    tx.commit().await?;
    Ok(ended)
}

async fn audit_ended(conn: &impl ConnectionTrait, user: UserId, details: serde_json::Value) -> Result<()> {
    super::audit::record(
        conn,
        super::audit::Entry {
            actor: &crate::domain::Actor::User(user),
            action: "auth.sessions_ended",
            target_kind: "user",
            target_id: user.to_string(),
            unit_id: None,
            details,
        },
    )
    .await
}
