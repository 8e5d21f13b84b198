//! A directory's people as accounts (`crate::directory` reads the
//! directory): each entry found or joined by its stable id (else by e-mail:
//! the admin chose to trust this directory) or made, with the roles its
//! groups map to; those the directory no longer lists, or whose groups no
//! longer grant anything, deactivated (and brought back if they return).

use super::sso::identity;
use super::{Result, Store, audit};
use crate::domain::{Actor, Email, Role, UserId, user::NewUser};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use std::collections::{BTreeMap, HashSet};

/// One person as the directory lists them.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    pub directory: &'a str,
    /// The entry's stable id (`entryUUID`, `objectGUID`).
    pub subject: &'a str,
    pub dn: &'a str,
    pub email: Email,
    pub name: &'a str,
    /// Administrator, and a role per unit slug, from the mappings.
    pub is_admin: bool,
    pub units: &'a BTreeMap<String, Role>,
    pub locale: &'a str,
    /// Its people sign in with their directory password: an account joined
    /// by e-mail drops its local one.
    pub takes_passwords: bool,
}

/// What a sync did with one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    Created,
    /// An existing account (same e-mail) now follows the directory.
    Joined,
    /// Roles, name or e-mail changed.
    Updated,
    Unchanged,
    /// Back in the directory (or granted something again): active again.
    Reactivated,
    /// Their groups grant nothing: deactivated (or were already).
    Left,
    /// Grants nothing and has no account: nothing made.
    Skipped,
}

/// Brings one person's account in step with the directory, in one transaction.
pub async fn sync_member(store: &Store, m: Member<'_>) -> Result<Synced> {
    let tx = store.begin().await?;
    let now = super::now();
    let memberships = super::sso::resolve_units(&*tx, m.units).await?;
    let grants_nothing = !m.is_admin && memberships.is_empty();
    let key = (m.directory.to_owned(), m.subject.to_owned());
    let linked = identity::Entity::find_by_id(key).one(&*tx).await?;
    let outcome = match linked {
        None if grants_nothing => Synced::Skipped,
        None => {
            let existing = super::user::find_for_login(&*tx, &m.email).await?.map(|(user, _)| user);
            let (user, outcome) = match existing {
                Some(user) => (user, Synced::Joined),
                None => {
                    let new = NewUser {
                        email: m.email.clone(),
                        display_name: display_name(&m),
                        // No password here: a bind to the directory checks it.
                        password_hash: String::new(),
                        is_admin: false,
                        locale: m.locale.to_owned(),
                        memberships: vec![],
                    };
                    (super::user::create_in(&*tx, &Actor::System, new).await?, Synced::Created)
                }
            };
            identity::ActiveModel {
                provider: Set(m.directory.to_owned()),
                subject: Set(m.subject.to_owned()),
                user_id: Set(user.id.0),
                email: Set(Some(m.email.as_str().to_owned())),
                dn: Set(Some(m.dn.to_owned())),
                left_at: Set(None),
                created_at: Set(now),
                last_sign_in_at: Set(now),
            }
            .insert(&*tx)
            .await?;
            let drop_password = m.takes_passwords && outcome == Synced::Joined;
            if drop_password {
                super::user::entity::Entity::update_many()
                    .col_expr(super::user::entity::Column::PasswordHash, Expr::value(String::new()))
                    .filter(super::user::entity::Column::Id.eq(user.id.0))
                    .exec(&*tx)
                    .await?;
            }
            let details =
                serde_json::json!({ "provider": m.directory, "dn": m.dn, "local_password_removed": drop_password });
            record(&*tx, "user.identity_linked", user.id, details).await?;
            rename(&*tx, &user, &m).await?;
            super::sso::apply_roles(&*tx, &user, m.directory, m.is_admin, memberships).await?;
            outcome
        }
        Some(row) => {
            let user = super::user::get(&*tx, UserId(row.user_id)).await?;
            let moved = row.dn.as_deref() != Some(m.dn) || row.email.as_deref() != Some(m.email.as_str());
            identity::Entity::update_many()
                .col_expr(identity::Column::Dn, Expr::value(Some(m.dn.to_owned())))
                .col_expr(identity::Column::Email, Expr::value(Some(m.email.as_str().to_owned())))
                .filter(identity::Column::Provider.eq(m.directory))
                .filter(identity::Column::Subject.eq(m.subject))
                .exec(&*tx)
                .await?;
            let renamed = rename(&*tx, &user, &m).await?;
            let roles_changed = super::sso::apply_roles(&*tx, &user, m.directory, m.is_admin, memberships).await?;
            if grants_nothing {
                if row.left_at.is_none() {
                    leave(&*tx, m.directory, m.subject, &user, "no_access").await?;
                }
                Synced::Left
            } else if row.left_at.is_some() {
                come_back(&*tx, m.directory, m.subject, &user).await?;
                Synced::Reactivated
            } else if roles_changed || renamed || moved {
                Synced::Updated
            } else {
                Synced::Unchanged
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Gives the account the directory's name for the person; says whether it changed.
async fn rename(conn: &impl ConnectionTrait, user: &crate::domain::User, m: &Member<'_>) -> Result<bool> {
    let name = display_name(m);
    if user.display_name == name {
        return Ok(false);
    }
    super::user::entity::Entity::update_many()
        .col_expr(super::user::entity::Column::DisplayName, Expr::value(name))
        .filter(super::user::entity::Column::Id.eq(user.id.0))
        .exec(conn)
        .await?;
    Ok(true)
}

fn display_name(m: &Member<'_>) -> String {
    let name = m.name.trim();
    if name.is_empty() { m.email.as_str().to_owned() } else { name.chars().take(120).collect() }
}

/// Deactivates the accounts of `directory` whose entries were not `seen`
/// (gone from it, or out of its filter); returns how many left now.
pub async fn mark_left(store: &Store, directory: &str, seen: &HashSet<String>) -> Result<u64> {
    let present = identity::Entity::find()
        .filter(identity::Column::Provider.eq(directory))
        .filter(identity::Column::LeftAt.is_null())
        .all(&store.db)
        .await?;
    let mut left = 0;
    for row in present.into_iter().filter(|r| !seen.contains(&r.subject)) {
        let tx = store.begin().await?;
        let user = super::user::get(&*tx, UserId(row.user_id)).await?;
        leave(&*tx, directory, &row.subject, &user, "gone").await?;
        tx.commit().await?;
        left += 1;
    }
    Ok(left)
}

/// How many accounts follow `directory` and are active in it.
pub async fn present(conn: &impl ConnectionTrait, directory: &str) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(identity::Entity::find()
        .filter(identity::Column::Provider.eq(directory))
        .filter(identity::Column::LeftAt.is_null())
        .count(conn)
        .await?)
}

/// The account leaves with the directory: deactivated (its sessions end
/// at once), marked so it comes back if the entry does.
async fn leave(
    conn: &impl ConnectionTrait,
    directory: &str,
    subject: &str,
    user: &crate::domain::User,
    why: &str,
) -> Result<()> {
    identity::Entity::update_many()
        .col_expr(identity::Column::LeftAt, Expr::value(super::now()))
        .filter(identity::Column::Provider.eq(directory))
        .filter(identity::Column::Subject.eq(subject))
        .exec(conn)
        .await?;
    if user.active {
        set_active(conn, user.id, false).await?;
        super::session::end_all(conn, user.id, None).await?;
    }
    super::session::account_changed(conn, user.id).await?;
    record(conn, "user.directory_left", user.id, serde_json::json!({ "provider": directory, "reason": why })).await
}

async fn come_back(
    conn: &impl ConnectionTrait,
    directory: &str,
    subject: &str,
    user: &crate::domain::User,
) -> Result<()> {
    identity::Entity::update_many()
        .col_expr(identity::Column::LeftAt, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(identity::Column::Provider.eq(directory))
        .filter(identity::Column::Subject.eq(subject))
        .exec(conn)
        .await?;
    set_active(conn, user.id, true).await?;
    super::session::account_changed(conn, user.id).await?;
    record(conn, "user.directory_returned", user.id, serde_json::json!({ "provider": directory })).await
}

async fn set_active(conn: &impl ConnectionTrait, user: UserId, active: bool) -> Result<()> {
    super::user::entity::Entity::update_many()
        .col_expr(super::user::entity::Column::Active, Expr::value(active))
        .col_expr(super::user::entity::Column::UpdatedAt, Expr::value(super::now()))
        .filter(super::user::entity::Column::Id.eq(user.0))
        .exec(conn)
        .await?;
    Ok(())
}

async fn record(conn: &impl ConnectionTrait, action: &str, user: UserId, details: serde_json::Value) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor: &Actor::System,
            action,
            target_kind: "user",
            target_id: user.to_string(),
            unit_id: None,
            details,
        },
    )
    .await
}

/// The directory entry a password sign-in binds as: the account's
/// directory and DN, while the directory lists it.
pub async fn entry_of(
    conn: &impl ConnectionTrait,
    user: UserId,
    directories: &[&str],
) -> Result<Option<(String, String)>> {
    let rows = identity::Entity::find()
        .filter(identity::Column::UserId.eq(user.0))
        .filter(identity::Column::Provider.is_in(directories.iter().copied()))
        .filter(identity::Column::LeftAt.is_null())
        .all(conn)
        .await?;
    Ok(rows.into_iter().find_map(|r| Some((r.provider, r.dn?))))
}
