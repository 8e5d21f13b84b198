//! Single sign-on records: sign-ins under way (each used once, bound to
//! the browser that began it), which provider account is which Ventanilla
//! account, the one-time hand-off that gives the console its tokens, and
//! [`sign_in`]: the account found, joined or made, with the roles its
//! groups map to, in one transaction.

use super::{Result, Store, audit};
use crate::domain::{Actor, Email, Membership, Role, User, UserId, user::NewUser};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use std::collections::BTreeMap;

pub mod identity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_identities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        pub user_id: Uuid,
        pub email: Option<String>,
        pub dn: Option<String>,
        pub left_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub last_sign_in_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sso_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state_hash: String,
        pub provider: String,
        pub browser_hash: String,
        pub nonce: String,
        pub verifier: String,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod handoff {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sso_handoffs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub user_id: Uuid,
        pub method: String,
        pub ip: Option<String>,
        pub user_agent: Option<String>,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A sign-in sent to a provider.
#[derive(Debug, Clone)]
pub struct Request {
    pub state_hash: String,
    pub provider: String,
    pub browser_hash: String,
    pub nonce: String,
    pub verifier: String,
    pub expires_at: DateTime<Utc>,
}

/// Keeps a sign-in under way (and forgets those and the hand-offs that
/// expired).
pub async fn begin(conn: &impl ConnectionTrait, r: Request) -> Result<()> {
    let now = super::now();
    request::Entity::delete_many().filter(request::Column::ExpiresAt.lt(now)).exec(conn).await?;
    handoff::Entity::delete_many().filter(handoff::Column::ExpiresAt.lt(now)).exec(conn).await?;
    request::ActiveModel {
        state_hash: Set(r.state_hash),
        provider: Set(r.provider),
        browser_hash: Set(r.browser_hash),
        nonce: Set(r.nonce),
        verifier: Set(r.verifier),
        expires_at: Set(r.expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The sign-in a `state` names, removed so it serves once: none when it
/// is unknown, used already (a replay) or expired.
pub async fn take_request(conn: &impl ConnectionTrait, state_hash: &str) -> Result<Option<Request>> {
    let Some(found) = request::Entity::find_by_id(state_hash.to_owned()).one(conn).await? else { return Ok(None) };
    // Conditional: of two callbacks racing with one state, one wins.
    let taken = request::Entity::delete_many()
        .filter(request::Column::StateHash.eq(state_hash))
        .exec(conn)
        .await?
        .rows_affected;
    if taken != 1 || found.expires_at < super::now() {
        return Ok(None);
    }
    Ok(Some(Request {
        state_hash: found.state_hash,
        provider: found.provider,
        browser_hash: found.browser_hash,
        nonce: found.nonce,
        verifier: found.verifier,
        expires_at: found.expires_at,
    }))
}

/// Who signed in at the provider, as [`sign_in`] needs it.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    pub provider: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub name: Option<&'a str>,
    /// Make an account when none is found.
    pub create_accounts: bool,
    /// Join an existing account with the same verified e-mail.
    pub link_by_email: bool,
    /// What the groups grant now: administrator, and a role per unit slug.
    /// `None` when the provider has no mappings (roles are set by hand).
    pub granted: Option<(bool, &'a BTreeMap<String, Role>)>,
    pub locale: &'a str,
}

/// Why [`sign_in`] let no one in.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No account, and the provider makes none (or gives no e-mail).
    NoAccount,
    /// An account has the e-mail and joining by e-mail is off.
    EmailTaken,
    /// The groups map to nothing here (any roles the account had are gone).
    NoAccess,
    Inactive,
}

/// Finds the account of a provider's person (by subject, else by verified
/// e-mail where allowed), or makes it; sets its roles to what the groups
/// grant (audited when they change); all in one transaction.
pub async fn sign_in(store: &Store, arrival: Arrival<'_>) -> Result<std::result::Result<User, Refused>> {
    let tx = store.begin().await?;
    let now = super::now();
    let linked = identity::Entity::find_by_id((arrival.provider.to_owned(), arrival.subject.to_owned()))
        .one(&*tx)
        .await?
        .map(|m| UserId(m.user_id));
    let memberships = match arrival.granted {
        Some((_, units)) => Some(resolve_units(&*tx, units).await?),
        None => None,
    };
    let grants_nothing = arrival.granted.is_some_and(|(admin, _)| !admin)
        && memberships.as_ref().is_some_and(|m: &Vec<Membership>| m.is_empty());
    let user = match linked {
        Some(user) => {
            identity::Entity::update_many()
                .col_expr(identity::Column::LastSignInAt, Expr::value(now))
                .col_expr(identity::Column::Email, Expr::value(arrival.email.map(str::to_owned)))
                .filter(identity::Column::Provider.eq(arrival.provider))
                .filter(identity::Column::Subject.eq(arrival.subject))
                .exec(&*tx)
                .await?;
            super::user::get(&*tx, user).await?
        }
        None => {
            let email = arrival.email.and_then(|e| Email::parse("email", e).ok());
            let existing = match &email {
                Some(email) => super::user::find_for_login(&*tx, email).await?.map(|(user, _)| user),
                None => None,
            };
            let user = match (existing, email) {
                (Some(user), _) if arrival.link_by_email && arrival.email_verified => user,
                (Some(_), _) => return finish(tx, Err(Refused::EmailTaken)).await,
                (None, _) if grants_nothing => return finish(tx, Err(Refused::NoAccess)).await,
                (None, Some(email)) if arrival.create_accounts => {
                    let name = arrival.name.map(str::trim).filter(|n| !n.is_empty());
                    let new = NewUser {
                        display_name: name.unwrap_or(email.as_str()).chars().take(120).collect(),
                        email,
                        // No password: this account signs in through its provider.
                        password_hash: String::new(),
                        is_admin: false,
                        locale: arrival.locale.to_owned(),
                        memberships: vec![],
                    };
                    super::user::create_in(&*tx, &Actor::System, new).await?
                }
                (None, _) => return finish(tx, Err(Refused::NoAccount)).await,
            };
            identity::ActiveModel {
                provider: Set(arrival.provider.to_owned()),
                subject: Set(arrival.subject.to_owned()),
                user_id: Set(user.id.0),
                email: Set(arrival.email.map(str::to_owned)),
                dn: Set(None),
                left_at: Set(None),
                created_at: Set(now),
                last_sign_in_at: Set(now),
            }
            .insert(&*tx)
            .await?;
            audit::record(
                &*tx,
                audit::Entry {
                    actor: &Actor::System,
                    action: "user.identity_linked",
                    target_kind: "user",
                    target_id: user.id.to_string(),
                    unit_id: None,
                    details: serde_json::json!({ "provider": arrival.provider, "subject": arrival.subject }),
                },
            )
            .await?;
            user
        }
    };
    if let (Some((is_admin, _)), Some(memberships)) = (arrival.granted, memberships) {
        apply_roles(&*tx, &user, arrival.provider, is_admin, memberships).await?;
    }
    if !user.active {
        return finish(tx, Err(Refused::Inactive)).await;
    }
    if grants_nothing {
        return finish(tx, Err(Refused::NoAccess)).await;
    }
    let user = super::user::get(&*tx, user.id).await?;
    finish(tx, Ok(user)).await
}

/// Commits what was done (roles removed stay removed when the sign-in is
/// refused) and answers.
async fn finish(
    tx: super::WriteTx,
    answer: std::result::Result<User, Refused>,
) -> Result<std::result::Result<User, Refused>> {
    tx.commit().await?;
    Ok(answer)
}

/// The units the slugs name (a slug of no unit is left out, with a warning:
/// the mapping names a unit not made yet).
pub(super) async fn resolve_units(
    conn: &impl ConnectionTrait,
    units: &BTreeMap<String, Role>,
) -> Result<Vec<Membership>> {
    let mut found = Vec::new();
    for (slug, role) in units {
        match super::unit::find_by_slug(conn, slug).await? {
            Some(unit) => found.push(Membership { unit_id: unit.id, role: *role }),
            None => tracing::warn!(unit = %slug, "a sign-in mapping names a unit that does not exist"),
        }
    }
    Ok(found)
}

/// Sets the account's roles to the mapped ones when they differ, audited
/// with before and after, and tells its consoles; says whether they did.
pub(super) async fn apply_roles(
    conn: &impl ConnectionTrait,
    user: &User,
    provider: &str,
    is_admin: bool,
    mut memberships: Vec<Membership>,
) -> Result<bool> {
    let key = |m: &Membership| (m.unit_id.0, m.role.as_str());
    let mut before = user.memberships.clone();
    before.sort_by_key(key);
    memberships.sort_by_key(key);
    if before == memberships && user.is_admin == is_admin {
        return Ok(false);
    }
    super::user::set_roles(conn, user.id, is_admin, &memberships).await?;
    let describe = |admin: bool, ms: &[Membership]| {
        serde_json::json!({
            "is_admin": admin,
            "memberships": ms.iter().map(|m| serde_json::json!({"unit_id": m.unit_id, "role": m.role.as_str()})).collect::<Vec<_>>(),
        })
    };
    audit::record(
        conn,
        audit::Entry {
            actor: &Actor::System,
            action: "user.roles_mapped",
            target_kind: "user",
            target_id: user.id.to_string(),
            unit_id: None,
            details: serde_json::json!({
                "provider": provider,
                "before": describe(user.is_admin, &before),
                "after": describe(is_admin, &memberships),
            }),
        },
    )
    .await?;
    super::session::account_changed(conn, user.id).await?;
    Ok(true)
}

/// A sign-in waiting for the console to collect its tokens.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub user: UserId,
    pub method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn hand_off(
    conn: &impl ConnectionTrait,
    code_hash: String,
    h: Handoff,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    handoff::ActiveModel {
        code_hash: Set(code_hash),
        user_id: Set(h.user.0),
        method: Set(h.method),
        ip: Set(h.ip),
        user_agent: Set(h.user_agent),
        expires_at: Set(expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The hand-off a code names, removed so it serves once; none when
/// unknown, used or expired.
pub async fn take_handoff(conn: &impl ConnectionTrait, code_hash: &str) -> Result<Option<Handoff>> {
    let Some(found) = handoff::Entity::find_by_id(code_hash.to_owned()).one(conn).await? else { return Ok(None) };
    let taken =
        handoff::Entity::delete_many().filter(handoff::Column::CodeHash.eq(code_hash)).exec(conn).await?.rows_affected;
    if taken != 1 || found.expires_at < super::now() {
        return Ok(None);
    }
    Ok(Some(Handoff { user: UserId(found.user_id), method: found.method, ip: found.ip, user_agent: found.user_agent }))
}
