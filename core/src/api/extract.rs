//! Request extractors that fail with problem+json: JSON bodies with the
//! failing field's path, the authenticated principal, and page parameters.

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, de::DeserializeOwned};
use utoipa::IntoParams;

use super::error::ApiError;
use crate::api::AppState;
use crate::domain::{Principal, Scope, UserId};
use crate::store::{
    self,
    pagination::{Cursor, MAX_LIMIT, Page},
};

/// A JSON body. Wrong content type, malformed JSON, unknown fields, wrong
/// types and oversized bodies each get a clear 4xx naming the field.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<web::Data<AppState>>().map_or(256 * 1024, |s| s.config.http.max_body_bytes);
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        let bytes = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = bytes.await.map_err(|e| {
                let text = e.to_string();
                if text.contains("overflow") || text.contains("limit") || text.contains("too large") {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::BadRequest(format!("cannot read body: {text}"))
                }
            })?;
            if bytes.len() > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            use actix_web::HttpMessage;
            req.extensions_mut().insert(BodyHash(crate::auth::hash_secret(&String::from_utf8_lossy(&bytes))));
            parse_json(&bytes).map(Json)
        })
    }
}

/// SHA-256 of the request body, kept for `Idempotency-Key` checks.
#[derive(Clone)]
pub struct BodyHash(pub String);

/// Parses JSON, reporting where it failed as a field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            ApiError::BadRequest(format!("malformed JSON: {inner}"))
        } else {
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            // At the top level serde names no path for an unknown field; take it from the message.
            let unknown = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next());
            let field = match (path.as_str(), unknown) {
                (".", Some(name)) => name.to_owned(),
                (".", None) => String::new(),
                (path, _) => path.to_owned(),
            };
            let message = match id_hint(&field) {
                Some(list) if message.contains("UUID parsing failed") => {
                    format!("not an id: ids look like 0192f1c4-7d3a-7c1e-9b2f-5a8e3c2d1f00 and are listed by {list}")
                }
                _ => message,
            };
            ApiError::field(field, message)
        }
    })?;
    deserializer.end().map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// Where the ids a field names are listed, for an error about a bad one.
fn id_hint(field: &str) -> Option<&'static str> {
    let name = field.rsplit('.').find(|part| !part.is_empty() && !part.starts_with('['))?;
    let name = name.split('[').next().unwrap_or(name);
    let lists = [
        ("unit", "GET /api/v1/units (each unit's `id`)"),
        ("assignee", "GET /api/v1/users"),
        ("user", "GET /api/v1/users"),
        ("contact", "GET /api/v1/contacts"),
        ("install", "GET /api/v1/plugin-installs"),
        ("knowledge_base", "GET /api/v1/knowledge-bases"),
        ("kb", "GET /api/v1/knowledge-bases"),
        ("article", "GET /api/v1/knowledge-bases/{kb_id}/articles"),
        ("case", "GET /api/v1/cases"),
        ("message", "GET /api/v1/cases/{case_id}/messages"),
    ];
    lists.iter().find(|(key, _)| name.contains(key)).map(|(_, list)| *list)
}

/// The authenticated caller: a signed-in user (JWT) or an API token.
pub struct Auth(pub Principal);

/// The sign-in session of the request's access token (none for API
/// tokens), for what acts on "this" session.
#[derive(Clone, Copy, Debug)]
pub struct CurrentSession(pub Option<uuid::Uuid>);

/// What an admin held back until they turn on two-factor sign-in may
/// still reach: who they are, enrolling, and signing out.
fn open_before_enrolment(path: &str) -> bool {
    path == "/api/v1/auth/me"
        || path == "/api/v1/auth/logout"
        || path.starts_with("/api/v1/auth/two-factor")
        || path.starts_with("/api/v1/auth/sessions")
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|v| v.trim().to_owned());
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = token.ok_or(ApiError::Unauthorized)?;
            let ip = super::client::client_ip(&req, &state.config.http);
            let caller = authenticate(&state, &token, &ip).await?.ok_or(ApiError::Unauthorized)?;
            if caller.must_enrol && !open_before_enrolment(req.path()) {
                return Err(ApiError::TwoFactorEnrolmentRequired);
            }
            req.extensions_mut().insert(CurrentSession(caller.session));
            Ok(Auth(caller.principal))
        })
    }
}

/// The caller when a bearer token is sent (and it must then be valid), or
/// nobody: for what the public may also read.
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let sent = req.headers().contains_key(actix_web::http::header::AUTHORIZATION);
        let auth = Auth::from_request(req, payload);
        Box::pin(async move { if sent { Ok(MaybeAuth(Some(auth.await?.0))) } else { Ok(MaybeAuth(None)) } })
    }
}

/// A valid bearer token's caller.
pub struct Caller {
    pub principal: Principal,
    /// An admin who must turn on two-factor sign-in before anything else.
    pub must_enrol: bool,
    pub session: Option<uuid::Uuid>,
}

/// Resolves a bearer token to its caller; `None` when it is not valid (an
/// API token revoked or expired, an access token expired, of an account no
/// longer active, or of a session that ended).
pub async fn authenticate(state: &AppState, token: &str, ip: &str) -> Result<Option<Caller>, ApiError> {
    if token.starts_with(crate::auth::API_TOKEN_PREFIX) {
        let hash = crate::auth::hash_secret(token);
        let found = store::api_token::authenticate(&state.store.db, &hash, ip).await?;
        return Ok(found.map(|t| Caller {
            principal: Principal::Token { id: t.id, scopes: t.scopes },
            must_enrol: false,
            session: None,
        }));
    }
    let Some(bearer) = state.jwt.verify(token) else { return Ok(None) };
    let Some(mut account) = account_for_user(state, bearer.user).await? else { return Ok(None) };
    if let Some(session) = bearer.session
        && !account.sessions.contains(&session)
    {
        // A session begun since the account was cached (perhaps on another
        // instance), or one that ended: the database says which.
        let Some(fresh) = load_account(state, bearer.user).await? else { return Ok(None) };
        state.principals.put(bearer.user, Some(fresh.clone()));
        if !fresh.sessions.contains(&session) {
            return Ok(None);
        }
        account = fresh;
    }
    Ok(Some(Caller { principal: account.principal, must_enrol: account.must_enrol, session: bearer.session }))
}

/// A signed-in account as requests need it.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub principal: Principal,
    /// Sessions not ended: an access token naming another is refused.
    pub sessions: Vec<uuid::Uuid>,
    /// An admin who must turn on two-factor sign-in (`auth.require_two_factor_for_admins`).
    pub must_enrol: bool,
}

/// Who `user_id` is now, if the account is active (kept a few seconds, see
/// `principal_cache`).
pub async fn account_for_user(state: &AppState, user_id: UserId) -> Result<Option<Account>, ApiError> {
    if let Some(known) = state.principals.get(user_id) {
        return Ok(known);
    }
    let account = load_account(state, user_id).await?;
    state.principals.put(user_id, account.clone());
    Ok(account)
}

/// Like [`account_for_user`], read from the database whatever is cached.
pub async fn load_account(state: &AppState, user_id: UserId) -> Result<Option<Account>, ApiError> {
    let db = &state.store.db;
    match store::user::get(db, user_id).await {
        Ok(user) if user.active => {
            let sessions = store::session::live_ids(db, user.id).await?;
            // An account without a password signs in only through its
            // provider, whose own second factor applies.
            let must_enrol = user.is_admin
                && state.config.auth.require_two_factor_for_admins
                && !store::two_factor::is_on(db, user.id).await?
                && store::user::password_hash(db, user.id).await?.is_some_and(|h| !h.is_empty());
            let principal = Principal::User { id: user.id, is_admin: user.is_admin, memberships: user.memberships };
            Ok(Some(Account { principal, sessions, must_enrol }))
        }
        Ok(_) | Err(store::Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Who `user_id` is now, read from the database.
pub async fn load_principal(state: &AppState, user_id: UserId) -> Result<Option<Principal>, ApiError> {
    Ok(load_account(state, user_id).await?.map(|a| a.principal))
}

/// Page parameters shared by every list endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 25).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(store::pagination::DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::field("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(text) => Some(
                Cursor::decode(text).ok_or_else(|| ApiError::field("cursor", "is not a cursor this API returned"))?,
            ),
            None => None,
        };
        Ok(Page { limit, after })
    }
}

/// The signed-in person's own account (API tokens have none): for what
/// one does to oneself (second factor, sessions).
pub fn own_account(principal: &Principal) -> Result<UserId, ApiError> {
    principal.user_id().ok_or(ApiError::Forbidden("API tokens have no account of their own; use a user's sign-in"))
}

/// Fails unless `allowed`; the message says what was missing.
pub fn require(allowed: bool, why: &'static str) -> Result<(), ApiError> {
    if allowed { Ok(()) } else { Err(ApiError::Forbidden(why)) }
}

/// Fails unless the principal is an admin or a token with `scope`.
pub fn require_admin_or(principal: &Principal, scope: Scope) -> Result<(), ApiError> {
    require(principal.is_admin_or_token(scope), "this needs an admin or an API token with the right scope")
}
