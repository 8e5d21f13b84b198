//! API tokens for external systems: shown once, stored as a SHA-256 hash.

use super::{Error, Result, Store, audit, pagination::Page};
use crate::domain::{Actor, ApiTokenId, Scope, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub prefix: String,
        pub token_hash: String,
        pub scopes: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub last_used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A token as listed: never its secret.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    /// First characters of the secret, so people can tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn from_model(m: entity::Model) -> ApiToken {
    let scopes = serde_json::from_value::<Vec<Scope>>(m.scopes).unwrap_or_default();
    ApiToken {
        id: ApiTokenId(m.id),
        name: m.name,
        prefix: m.prefix,
        scopes,
        created_by: m.created_by.map(UserId),
        created_at: m.created_at,
        expires_at: m.expires_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    }
}

pub struct NewApiToken {
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn create(store: &Store, actor: &Actor, new: NewApiToken) -> Result<ApiToken> {
    let tx = store.begin().await?;
    let created_by = match actor {
        Actor::User(id) => Some(id.0),
        _ => None,
    };
    let model = entity::ActiveModel {
        id: Set(ApiTokenId::new().0),
        name: Set(new.name),
        prefix: Set(new.prefix),
        token_hash: Set(new.token_hash),
        scopes: Set(serde_json::to_value(&new.scopes).unwrap_or_default()),
        created_by: Set(created_by),
        created_at: Set(super::now()),
        expires_at: Set(new.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&*tx)
    .await?;
    let token = from_model(model);
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "api_token.created",
            target_kind: "api_token",
            target_id: token.id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "name": token.name, "scopes": token.scopes }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The live token with this hash, if any; notes its use: `last_used_at`
/// (at most once a minute, so authentication stays mostly a read) and, the
/// first time in an hour, an `api_token.used` audit entry with the address.
pub async fn authenticate(conn: &impl ConnectionTrait, token_hash: &str, ip: &str) -> Result<Option<ApiToken>> {
    let Some(model) = entity::Entity::find().filter(entity::Column::TokenHash.eq(token_hash)).one(conn).await? else {
        return Ok(None);
    };
    let now = super::now();
    if model.revoked_at.is_some() || model.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    if model.last_used_at.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
        let hour_ago = now - chrono::Duration::hours(1);
        let new_hour = model.last_used_at.is_none_or(|at| at <= hour_ago);
        let updated = entity::Entity::update_many()
            .col_expr(entity::Column::LastUsedAt, Expr::value(now))
            .filter(entity::Column::Id.eq(model.id))
            .filter(match model.last_used_at {
                // Conditional: of several instances noting one use, one writes the entry.
                Some(at) => entity::Column::LastUsedAt.eq(at),
                None => entity::Column::LastUsedAt.is_null(),
            })
            .exec(conn)
            .await?;
        if new_hour && updated.rows_affected == 1 {
            super::audit::record(
                conn,
                super::audit::Entry {
                    actor: &Actor::Token(ApiTokenId(model.id)),
                    action: "api_token.used",
                    target_kind: "api_token",
                    target_id: model.id.to_string(),
                    unit_id: None,
                    details: serde_json::json!({
                        "ip": ip.chars().take(64).collect::<String>(),
                        "first_use": model.last_used_at.is_none(),
                    }),
                },
            )
            .await?;
        }
    }
    Ok(Some(from_model(model)))
}

/// The token if it still works (not revoked, not expired).
pub async fn live(conn: &impl ConnectionTrait, id: ApiTokenId) -> Result<Option<ApiToken>> {
    let now = super::now();
    let model = entity::Entity::find_by_id(id.0).one(conn).await?;
    Ok(model.filter(|m| m.revoked_at.is_none() && m.expires_at.is_none_or(|at| at > now)).map(from_model))
}

pub async fn list(conn: &impl ConnectionTrait, page: &Page) -> Result<(Vec<ApiToken>, Option<String>)> {
    use entity::Column;
    let query = entity::Entity::find();
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::CreatedAt, Column::Id),
        super::pagination::Order::Ascending,
        page,
        |r| (r.created_at, r.id),
    )
    .await?;
    Ok((rows.into_iter().map(from_model).collect(), next))
}

pub async fn revoke(store: &Store, actor: &Actor, id: ApiTokenId) -> Result<ApiToken> {
    let tx = store.begin().await?;
    let model = entity::Entity::find_by_id(id.0).one(&*tx).await?.ok_or(Error::NotFound("api token"))?;
    let token = if model.revoked_at.is_none() {
        let mut active: entity::ActiveModel = model.into();
        active.revoked_at = Set(Some(super::now()));
        from_model(active.update(&*tx).await?)
    } else {
        from_model(model)
    };
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "api_token.revoked",
            target_kind: "api_token",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "name": token.name }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}
