//! Two-factor sign-in for local accounts: the signed-in person turns it on
//! (a new secret shown as a QR code, then confirmed with a code of their
//! app, which hands out recovery codes), renews recovery codes, or turns it
//! off; an admin resets it for someone who lost their phone.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{Auth, Json, own_account, require};
use crate::api::AppState;
use crate::domain::{Actor, Principal, UserId};
use crate::store;

/// The user's TOTP secret, opened.
pub(crate) fn open_secret(state: &AppState, user: UserId, sealed: &str) -> Result<Vec<u8>, ApiError> {
    let text = state
        .secrets
        .open_text(user.0, "totp", sealed)
        .ok_or_else(|| ApiError::internal("a two-factor secret cannot be opened with this server's key"))?;
    crate::two_factor::secret_from_text(&text).ok_or_else(|| ApiError::internal("a two-factor secret is not base32"))
}

/// Guessing one's own password or codes with a stolen access token is
/// throttled like guessing them at sign-in (per address and per account).
async fn throttled(state: &AppState, req: &HttpRequest, user: UserId) -> Result<(), ApiError> {
    let ip = super::auth::client_ip(req, state);
    state.sign_in.address(&ip).map_err(ApiError::RateLimited)?;
    let account = store::user::get(&state.store.db, user).await?;
    state.sign_in.attempt(account.email.as_str(), &ip).map_err(ApiError::RateLimited)
}

/// The password given must be the account's own.
async fn check_password(state: &AppState, user: UserId, password: String) -> Result<(), ApiError> {
    let ok = super::user::current_password_matches(state, user, password).await?;
    require_field(ok, "password", "is not this account's password")
}

fn require_field(ok: bool, field: &str, message: &str) -> Result<(), ApiError> {
    if ok { Ok(()) } else { Err(ApiError::field(field, message)) }
}

/// A current code of the account's app (spent), or a field error.
async fn check_code(state: &AppState, user: UserId, code: &str) -> Result<(), ApiError> {
    let factor = store::two_factor::get(&state.store.db, user)
        .await?
        .filter(|f| f.is_on())
        .ok_or_else(|| ApiError::field("code", "two-factor sign-in is not on for this account"))?;
    let secret = open_secret(state, user, &factor.sealed_secret)?;
    let step = crate::two_factor::verify(&secret, code, store::now().timestamp(), factor.last_step);
    let spent = match step {
        Some(step) => store::two_factor::use_step(&state.store.db, user, step).await?,
        None => false,
    };
    require_field(spent, "code", "is not the current code of your authenticator app (or was already used)")
}

#[derive(Serialize, ToSchema)]
pub struct TwoFactorStatus {
    /// Sign-in asks for a code of the app.
    pub enabled: bool,
    /// An enrolment was started and waits for its first code.
    pub pending: bool,
    /// Recovery codes not yet used.
    pub recovery_codes_left: u64,
    /// This server requires it of the account (administrators, when
    /// `auth.require_two_factor_for_admins` is set).
    pub required: bool,
}

/// Whether the signed-in person signs in with a second factor.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = TwoFactorStatus), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("bearer" = []))
)]
#[get("/auth/two-factor")]
pub async fn status(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    let factor = store::two_factor::get(&state.store.db, user).await?;
    Ok(HttpResponse::Ok().json(TwoFactorStatus {
        enabled: factor.as_ref().is_some_and(|f| f.is_on()),
        pending: factor.as_ref().is_some_and(|f| !f.is_on()),
        recovery_codes_left: store::two_factor::recovery_left(&state.store.db, user).await?,
        required: auth.0.is_admin() && state.config.auth.require_two_factor_for_admins,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The account's password, again.
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct Enrolment {
    /// The secret typed into an app that cannot read the QR code (base32).
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The QR code, an SVG document.
    pub qr_svg: String,
}

/// Starts turning on two-factor sign-in: a new secret for the person's
/// authenticator app. Nothing changes at sign-in until a code of the app
/// confirms it (`POST /auth/two-factor/confirm`).
#[utoipa::path(
    tag = "auth",
    request_body = PasswordRequest,
    responses(
        (status = 201, body = Enrolment),
        (status = 409, description = "Already on", body = super::error::Problem),
        (status = 422, description = "Wrong password", body = super::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/auth/two-factor")]
pub async fn begin(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
    body: Json<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    throttled(&state, &req, user).await?;
    check_password(&state, user, body.0.password).await?;
    let account = store::user::get(&state.store.db, user).await?;
    let secret = crate::two_factor::new_secret();
    let text = crate::two_factor::secret_text(&secret);
    store::two_factor::begin(&state.store, user, state.secrets.seal_text(user.0, "totp", &text)).await?;
    let uri =
        crate::two_factor::provisioning_uri(&state.config.auth.two_factor_issuer, account.email.as_str(), &secret);
    let qr_svg = crate::two_factor::qr_svg(&uri).ok_or_else(|| ApiError::internal("cannot draw the QR code"))?;
    Ok(HttpResponse::Created().json(Enrolment { secret: text, uri, qr_svg }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The 6-digit code the authenticator app shows now.
    #[schema(example = "492039")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown this once: each lets the person sign in once without their
    /// phone. Kept only hashed.
    pub recovery_codes: Vec<String>,
}

/// Turns two-factor sign-in on with the first code of the app; answers the
/// recovery codes.
#[utoipa::path(
    tag = "auth",
    request_body = CodeRequest,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 409, description = "No enrolment waiting", body = super::error::Problem),
        (status = 422, description = "Not the app's current code", body = super::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/auth/two-factor/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    let pending = store::two_factor::get(&state.store.db, user).await?.filter(|f| !f.is_on()).ok_or_else(|| {
        ApiError::Conflict {
            field: "code".into(),
            message: "no enrolment is waiting for a code: start with POST /api/v1/auth/two-factor".into(),
        }
    })?;
    let secret = open_secret(&state, user, &pending.sealed_secret)?;
    let step = crate::two_factor::verify(&secret, &body.0.code, store::now().timestamp(), None)
        .ok_or_else(|| ApiError::field("code", "is not the current code of your authenticator app"))?;
    let codes = crate::two_factor::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| crate::two_factor::recovery_hash(c)).collect();
    store::two_factor::confirm(&state.store, user, step, &hashes).await?;
    state.principals.forget(user);
    Ok(HttpResponse::Ok().json(RecoveryCodes { recovery_codes: codes }))
}

/// New recovery codes (the old ones stop working), with a current code of
/// the app.
#[utoipa::path(
    tag = "auth",
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 422, body = super::error::Problem)),
    security(("bearer" = []))
)]
#[post("/auth/two-factor/recovery-codes")]
pub async fn renew_recovery(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
    body: Json<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    throttled(&state, &req, user).await?;
    check_code(&state, user, &body.0.code).await?;
    let codes = crate::two_factor::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| crate::two_factor::recovery_hash(c)).collect();
    store::two_factor::renew_recovery(&state.store, user, &hashes).await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes { recovery_codes: codes }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    pub password: String,
    /// A current code of the app.
    pub code: String,
}

/// Turns two-factor sign-in off, with the password and a current code.
/// Refused for administrators when the server requires it of them.
#[utoipa::path(
    tag = "auth",
    request_body = DisableRequest,
    responses(
        (status = 204, description = "Off"),
        (status = 403, description = "Required of this account", body = super::error::Problem),
        (status = 422, body = super::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/auth/two-factor/disable")]
pub async fn disable(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
    body: Json<DisableRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    require(
        !(auth.0.is_admin() && state.config.auth.require_two_factor_for_admins),
        "this server requires two-factor sign-in of administrators",
    )?;
    throttled(&state, &req, user).await?;
    let Json(body) = body;
    check_password(&state, user, body.password).await?;
    check_code(&state, user, &body.code).await?;
    store::two_factor::remove(&state.store, &Actor::User(user), user).await?;
    state.principals.forget(user);
    Ok(HttpResponse::NoContent().finish())
}

/// Resets someone's second factor (a lost phone): they sign in with their
/// password alone (or must enrol again, if required) and every session of
/// theirs ends. Admins only; audited.
#[utoipa::path(
    tag = "users",
    params(("user_id" = uuid::Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "Reset"),
        (status = 403, body = super::error::Problem),
        (status = 404, description = "No such user, or no second factor", body = super::error::Problem),
    ),
    security(("bearer" = []))
)]
#[delete("/users/{user_id}/two-factor")]
pub async fn reset(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let Principal::User { id: admin, is_admin: true, .. } = auth.0 else {
        return Err(ApiError::Forbidden("only administrators reset another person's two-factor sign-in"));
    };
    let user = UserId(id.into_inner());
    store::user::get(&state.store.db, user).await?;
    if !store::two_factor::remove(&state.store, &Actor::User(admin), user).await? {
        return Err(ApiError::NotFound("two-factor sign-in"));
    }
    state.principals.forget(user);
    Ok(HttpResponse::NoContent().finish())
}
