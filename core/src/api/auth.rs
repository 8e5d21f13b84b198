//! Sign-in, token refresh with rotation, sign-out and the current user.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{Auth, Json};
use super::user::UserDto;
use crate::api::AppState;
use crate::domain::{Email, Principal};
use crate::store;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@universidad.edu.co")]
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use token to get the next pair.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub token_type: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// The client's address as rate limits count it (see [`super::client`]).
pub(crate) fn client_ip(req: &HttpRequest, state: &AppState) -> String {
    super::client::client_ip(req, &state.config.http)
}

async fn issue_pair(
    state: &AppState,
    user: crate::domain::UserId,
    family: uuid::Uuid,
) -> Result<TokenResponse, ApiError> {
    let access_token = state.jwt.issue(user)?;
    let (refresh_token, hash) = crate::auth::new_secret("");
    let expires = store::now() + chrono::Duration::days(state.config.auth.refresh_token_ttl_days);
    store::refresh_token::insert(&state.store.db, user, family, hash, expires).await?;
    Ok(TokenResponse { access_token, refresh_token, expires_in: state.jwt.ttl_secs, token_type: "Bearer".into() })
}

/// Signs in with e-mail and password.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong e-mail or password", body = super::error::Problem),
        (status = 429, description = "Too many attempts", body = super::error::Problem),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = client_ip(&req, &state);
    state.sign_in.address(&ip).map_err(ApiError::RateLimited)?;
    let Json(body) = body;
    let email = Email::parse("email", &body.email)?;
    let account_key = email.as_str().to_owned();
    state.sign_in.attempt(&account_key, &ip).map_err(ApiError::RateLimited)?;
    let found = store::user::find_for_login(&state.store.db, &email).await?;
    let password = body.password;
    let (user, ok) = match found {
        Some((user, hash)) => {
            let ok =
                web::block(move || crate::auth::verify_password(&password, &hash)).await.map_err(ApiError::internal)?;
            (Some(user), ok)
        }
        None => {
            // Spend the same time as a real check so e-mails cannot be probed.
            web::block(move || crate::auth::verify_password(&password, crate::auth::dummy_hash()))
                .await
                .map_err(ApiError::internal)?;
            (None, false)
        }
    };
    let user = match user {
        Some(user) if ok && user.active => user,
        _ => {
            tracing::info!(email = %account_key, "sign-in refused");
            return Err(ApiError::Unauthorized);
        }
    };
    state.sign_in.succeeded(&account_key, &ip);
    let pair = issue_pair(&state, user.id, uuid::Uuid::now_v7()).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Exchanges a refresh token for a new pair; the old refresh token stops working.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = super::error::Problem))
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    state.sign_in.address(&client_ip(&req, &state)).map_err(ApiError::RateLimited)?;
    let old_hash = crate::auth::hash_secret(&body.0.refresh_token);
    let (new_token, new_hash) = crate::auth::new_secret("");
    let expires = store::now() + chrono::Duration::days(state.config.auth.refresh_token_ttl_days);
    let user = match store::refresh_token::rotate(&state.store, &old_hash, new_hash, expires).await {
        Ok(user) => user,
        Err(store::Error::NotFound(_)) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    if super::extract::load_principal(&state, user).await?.is_none() {
        return Err(ApiError::Unauthorized);
    }
    let access_token = state.jwt.issue(user)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        refresh_token: new_token,
        expires_in: state.jwt.ttl_secs,
        token_type: "Bearer".into(),
    }))
}

/// Signs out: the refresh token and every token rotated from it stop working.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses((status = 204, description = "Signed out")))]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, body: Json<RefreshRequest>) -> Result<HttpResponse, ApiError> {
    store::refresh_token::revoke(&state.store, &crate::auth::hash_secret(&body.0.refresh_token)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user, with roles per unit.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = UserDto), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("bearer" = []))
)]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let Principal::User { id, .. } = auth.0 else {
        return Err(ApiError::Forbidden("API tokens have no user; use a user's sign-in"));
    };
    let user = store::user::get(&state.store.db, id).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}
