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
    /// For accounts with two-factor sign-in: the 6-digit code of the
    /// authenticator app, or one of the recovery codes (each works once).
    /// Without it such an account is answered 401 `two_factor_required`.
    #[schema(example = "492039")]
    pub code: Option<String>,
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

/// Why a sign-in was refused, as the security record keeps it (`provider`:
/// the single sign-on provider it came through).
pub(crate) async fn refuse(
    state: &AppState,
    user: Option<crate::domain::UserId>,
    email: &str,
    reason: &str,
    ip: &str,
    provider: Option<&str>,
) {
    tracing::info!(email = %email, reason, provider, "sign-in refused");
    if let Err(e) = store::session::sign_in_refused(&state.store, user, email, reason, ip, provider).await {
        tracing::warn!(error = %e, "cannot record a refused sign-in");
    }
}

/// Signs in with e-mail and password (and the second factor when the
/// account has one).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong e-mail or password (`unauthorized`), or the account's second factor is missing or wrong (`two_factor_required`, field `code`)", body = super::error::Problem),
        (status = 403, description = "Passwords are only for break-glass accounts here (`sso_required`): sign in through the provider", body = super::error::Problem),
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
    // Decided by the e-mail alone, before any password check: says nothing
    // of whether the account exists.
    let auth = &state.config.auth;
    if auth.require_sso && !auth.break_glass.iter().any(|e| e.eq_ignore_ascii_case(email.as_str())) {
        refuse(&state, None, &account_key, "sso_required", &ip, None).await;
        return Err(ApiError::SsoRequired);
    }
    let found = store::user::find_for_login(&state.store.db, &email).await?;
    let password = body.password;
    let mut method = "password".to_owned();
    let (user, ok) = match found {
        // No password here: the account's directory checks it.
        Some((user, hash)) if hash.is_empty() => {
            // The same time as a password check here, so directory accounts
            // cannot be told from others (nor from unknown e-mails).
            let spent = password.clone();
            web::block(move || crate::auth::verify_password(&spent, crate::auth::dummy_hash()))
                .await
                .map_err(ApiError::internal)?;
            let ok = match directory_password(&state, user.id, &password).await? {
                Some(directory) => {
                    method = format!("ldap:{directory}");
                    true
                }
                None => false,
            };
            (Some(user), ok)
        }
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
        Some(user) => {
            let reason = if ok { "inactive" } else { "password" };
            refuse(&state, Some(user.id), &account_key, reason, &ip, None).await;
            return Err(ApiError::Unauthorized);
        }
        None => {
            refuse(&state, None, &account_key, "unknown_account", &ip, None).await;
            return Err(ApiError::Unauthorized);
        }
    };
    let method = match second_factor(&state, user.id, body.code.as_deref()).await? {
        SecondFactor::NotOn => method,
        SecondFactor::Code => format!("{method}+totp"),
        SecondFactor::Recovery => format!("{method}+recovery_code"),
        SecondFactor::Missing => return Err(ApiError::TwoFactorRequired),
        SecondFactor::Wrong => {
            refuse(&state, Some(user.id), &account_key, "code", &ip, None).await;
            return Err(ApiError::TwoFactorRequired);
        }
    };
    state.sign_in.succeeded(&account_key, &ip);
    let agent = req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok());
    let tokens = start_session(&state, user.id, &method, &ip, agent).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Begins a session for a sign-in that passed (by password or through a
/// provider): its first refresh token, the audit entry, an access token.
pub(crate) async fn start_session(
    state: &AppState,
    user: crate::domain::UserId,
    method: &str,
    ip: &str,
    agent: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let session = uuid::Uuid::now_v7();
    let (refresh_token, hash) = crate::auth::new_secret("");
    let expires = store::now() + chrono::Duration::days(state.config.auth.refresh_token_ttl_days);
    let start = store::session::Start { id: session, user, method, ip, user_agent: agent };
    store::session::sign_in(&state.store, start, hash, expires).await?;
    // This instance's idea of the account's sessions is now out of date.
    state.principals.forget(user);
    let access_token = state.jwt.issue(user, session)?;
    Ok(TokenResponse { access_token, refresh_token, expires_in: state.jwt.ttl_secs, token_type: "Bearer".into() })
}

/// The directory whose bind accepts `password` for the account's entry,
/// if the account follows one that takes passwords.
async fn directory_password(
    state: &AppState,
    user: crate::domain::UserId,
    password: &str,
) -> Result<Option<String>, ApiError> {
    let directories: Vec<&str> =
        state.config.auth.ldap.iter().filter(|d| d.password_sign_in).map(|d| d.id.as_str()).collect();
    if directories.is_empty() {
        return Ok(None);
    }
    let Some((id, dn)) = store::directory::entry_of(&state.store.db, user, &directories).await? else {
        return Ok(None);
    };
    let Some(dir) = state.config.auth.ldap.iter().find(|d| d.id == id) else { return Ok(None) };
    let own_ca = state.config.plugins.trusted_ca_file.as_deref();
    match crate::directory::verify_password(dir, own_ca, &dn, password).await {
        Ok(true) => Ok(Some(id)),
        Ok(false) => Ok(None),
        Err(e) => Err(ApiError::Unavailable(format!("the directory cannot check the password now: {e}"))),
    }
}

/// How the second factor of a sign-in went.
enum SecondFactor {
    /// The account has none.
    NotOn,
    /// A one-time code of the app, now spent.
    Code,
    /// A recovery code, now spent.
    Recovery,
    Missing,
    Wrong,
}

async fn second_factor(
    state: &AppState,
    user: crate::domain::UserId,
    code: Option<&str>,
) -> Result<SecondFactor, ApiError> {
    let db = &state.store.db;
    let Some(factor) = store::two_factor::get(db, user).await?.filter(|f| f.is_on()) else {
        return Ok(SecondFactor::NotOn);
    };
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else { return Ok(SecondFactor::Missing) };
    if crate::two_factor::is_totp_code(code) {
        let secret = super::two_factor::open_secret(state, user, &factor.sealed_secret)?;
        let now = store::now().timestamp();
        let Some(step) = crate::two_factor::verify(&secret, code, now, factor.last_step) else {
            return Ok(SecondFactor::Wrong);
        };
        // Conditional: of two sign-ins racing with one code, one wins.
        return Ok(if store::two_factor::use_step(db, user, step).await? {
            SecondFactor::Code
        } else {
            SecondFactor::Wrong
        });
    }
    let hash = crate::two_factor::recovery_hash(code);
    Ok(if store::two_factor::use_recovery(db, user, &hash).await? {
        SecondFactor::Recovery
    } else {
        SecondFactor::Wrong
    })
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
    let (user, session) = match store::refresh_token::rotate(&state.store, &old_hash, new_hash, expires).await {
        Ok(found) => found,
        Err(store::Error::NotFound(_)) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    if super::extract::load_principal(&state, user).await?.is_none() {
        return Err(ApiError::Unauthorized);
    }
    let access_token = state.jwt.issue(user, session)?;
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
    if let Some(user) =
        store::refresh_token::revoke(&state.store, &crate::auth::hash_secret(&body.0.refresh_token)).await?
    {
        state.principals.forget(user);
    }
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
