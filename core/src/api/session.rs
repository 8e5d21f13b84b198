//! Where the signed-in person is signed in: their sessions (one per
//! sign-in, kept alive by its refresh tokens), ending one, or all.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{Auth, CurrentSession, Json, own_account};
use crate::api::AppState;
use crate::store;

fn current(req: &HttpRequest) -> Option<uuid::Uuid> {
    req.extensions().get::<CurrentSession>().and_then(|s| s.0)
}

#[derive(Serialize, ToSchema)]
pub struct SignInSessionDto {
    pub id: uuid::Uuid,
    /// `password`, `password+totp` or `password+recovery_code`.
    pub method: String,
    /// The address it signed in from.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub started_at: DateTime<Utc>,
    /// When its tokens were last renewed (every few minutes while in use).
    pub last_seen_at: DateTime<Utc>,
    /// The session of this request's token.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SignInSessionList {
    pub items: Vec<SignInSessionDto>,
}

/// The signed-in person's sessions, most recently used first.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = SignInSessionList), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("bearer" = []))
)]
#[get("/auth/sessions")]
pub async fn list(state: web::Data<AppState>, auth: Auth, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    let this = current(&req);
    let items = store::session::list(&state.store.db, user)
        .await?
        .into_iter()
        .map(|s| SignInSessionDto {
            current: Some(s.id) == this,
            id: s.id,
            method: s.method,
            ip: s.ip,
            user_agent: s.user_agent,
            started_at: s.started_at,
            last_seen_at: s.last_seen_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SignInSessionList { items }))
}

/// Ends one of the person's sessions: its tokens stop working at once.
#[utoipa::path(
    tag = "auth",
    params(("session_id" = uuid::Uuid, Path, description = "The session")),
    responses((status = 204, description = "Ended"), (status = 404, body = super::error::Problem)),
    security(("bearer" = []))
)]
#[delete("/auth/sessions/{session_id}")]
pub async fn end(state: web::Data<AppState>, auth: Auth, id: web::Path<uuid::Uuid>) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    let id = id.into_inner();
    let mine = store::session::list(&state.store.db, user).await?.iter().any(|s| s.id == id);
    if !mine {
        return Err(ApiError::NotFound("session"));
    }
    store::session::end_one(&state.store, user, id).await?;
    state.principals.forget(user);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndAllRequest {
    /// Keep this request's session (sign out everywhere else).
    #[serde(default)]
    pub keep_current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Ended {
    pub ended: u64,
}

/// Signs out everywhere: every session of the person ends (or every other
/// one, with `keep_current`). Audited.
#[utoipa::path(
    tag = "auth",
    request_body = EndAllRequest,
    responses((status = 200, body = Ended), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("bearer" = []))
)]
#[post("/auth/sessions/end")]
pub async fn end_all(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
    body: Json<EndAllRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = own_account(&auth.0)?;
    let keep = if body.0.keep_current { current(&req) } else { None };
    let ended = store::session::sign_out_everywhere(&state.store, user, keep).await?;
    state.principals.forget(user);
    Ok(HttpResponse::Ok().json(Ended { ended }))
}
