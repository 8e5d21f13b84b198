//! API tokens for external systems (admins only). The secret is shown once.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{Auth, Json, PageParams, require};
use super::schema::{ListResponse, Scope};
use crate::api::AppState;
use crate::domain::{Actor, ApiTokenId, required_text};
use crate::store::{self, api_token::ApiToken};

#[derive(Serialize, ToSchema)]
pub struct ApiTokenDto {
    pub id: uuid::Uuid,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub token: ApiTokenDto,
    /// The secret: shown only in this response; store it now.
    pub secret: String,
}

impl From<ApiToken> for ApiTokenDto {
    fn from(t: ApiToken) -> Self {
        ApiTokenDto {
            id: t.id.0,
            name: t.name,
            prefix: t.prefix,
            scopes: t.scopes.into_iter().map(Into::into).collect(),
            created_by: t.created_by.map(|u| u.0),
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    #[schema(example = "Integración SIS")]
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Optional expiry; tokens without one live until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    require(auth.0.is_admin(), "only admins manage API tokens")
}

#[utoipa::path(
    tag = "api-tokens",
    params(PageParams),
    responses((status = 200, body = ListResponse<ApiTokenDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api-tokens")]
pub async fn list_api_tokens(
    state: web::Data<AppState>,
    auth: Auth,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let (tokens, next) = store::api_token::list(&state.store.db, &params.page()?).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(tokens.into_iter().map(ApiTokenDto::from).collect(), next)))
}

/// Creates a token; the response carries its secret, which is never shown again.
#[utoipa::path(
    tag = "api-tokens",
    request_body = CreateApiToken,
    responses((status = 201, body = CreatedApiToken), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/api-tokens")]
pub async fn create_api_token(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateApiToken>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let body = body.0;
    let name = required_text("name", &body.name, 200)?;
    if body.scopes.is_empty() {
        return Err(ApiError::field("scopes", "must name at least one scope"));
    }
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::field("expires_at", "must be in the future"));
    }
    let (secret, hash) = crate::auth::new_secret(crate::auth::API_TOKEN_PREFIX);
    let prefix: String = secret.chars().take(12).collect();
    let mut scopes: Vec<crate::domain::Scope> = body.scopes.into_iter().map(Into::into).collect();
    scopes.sort_by_key(|s| s.as_str());
    scopes.dedup();
    let new = store::api_token::NewApiToken { name, prefix, token_hash: hash, scopes, expires_at: body.expires_at };
    let token = store::api_token::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(CreatedApiToken { token: token.into(), secret }))
}

/// Revokes a token at once.
#[utoipa::path(
    tag = "api-tokens",
    params(("token_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ApiTokenDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/api-tokens/{token_id}")]
pub async fn revoke_api_token(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let token = store::api_token::revoke(&state.store, &Actor::from(&auth.0), ApiTokenId(path.into_inner())).await?;
    Ok(HttpResponse::Ok().json(ApiTokenDto::from(token)))
}
