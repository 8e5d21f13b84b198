//! Single sign-on through OpenID Connect providers (`[[auth.oidc]]`).
//!
//! The console's button opens `GET /auth/sso/{provider}/start`, which keeps
//! a state, nonce and PKCE verifier (bound to this browser by a cookie)
//! and sends the person to the provider. The provider sends them back to
//! `/callback`: the state is used once, the code exchanged, the ID token
//! checked (`crate::oidc`), the account found or made with the roles its
//! groups map to, and the browser sent to the console with a one-time
//! code that `POST /auth/sso/exchange` turns into tokens (tokens never
//! travel in an address). Anything wrong ends on a page that says what,
//! in the person's language, and in the security record.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{TokenResponse, client_ip, refuse, start_session};
use super::error::ApiError;
use super::extract::Json;
use crate::api::AppState;
use crate::i18n::{LOCALES, t};
use crate::store;

/// The cookie binding a sign-in under way to the browser that began it.
const BROWSER_COOKIE: &str = "ventanilla_sso";
const COOKIE_PATH: &str = "/api/v1/auth/sso/";
/// How long a person has at the provider.
const REQUEST_TTL_MINUTES: i64 = 10;
/// How long the console has to collect its tokens.
const HANDOFF_TTL_SECS: i64 = 60;

#[derive(Serialize, ToSchema)]
pub struct SignInProvider {
    #[schema(example = "keycloak")]
    pub id: String,
    /// The button's words.
    #[schema(example = "Cuenta institucional")]
    pub name: String,
    /// Where the button goes.
    #[schema(example = "/api/v1/auth/sso/keycloak/start")]
    pub start_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct SignInOptions {
    pub providers: Vec<SignInProvider>,
    /// Passwords are only for named break-glass accounts.
    pub sso_required: bool,
}

/// How people sign in here: the single sign-on providers (a button each)
/// and whether passwords are only for break-glass accounts. Public.
#[utoipa::path(tag = "auth", responses((status = 200, body = SignInOptions)))]
#[get("/auth/providers")]
pub async fn providers(state: web::Data<AppState>) -> HttpResponse {
    let providers = state
        .oidc
        .configs()
        .map(|p| SignInProvider {
            id: p.id.clone(),
            name: p.name.clone(),
            start_url: format!("/api/v1/auth/sso/{}/start", p.id),
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(SignInOptions { providers, sso_required: state.config.auth.require_sso })
}

/// Where the provider sends people back.
fn redirect_uri(state: &AppState, provider: &str) -> String {
    format!("{}/api/v1/auth/sso/{provider}/callback", state.config.link_prefix())
}

/// Begins a sign-in at the provider: a redirect to its authorization
/// endpoint (code flow with PKCE, state and nonce).
#[utoipa::path(
    tag = "auth",
    params(("provider" = String, Path, description = "The provider's id in `[[auth.oidc]]`")),
    responses(
        (status = 302, description = "To the provider"),
        (status = 404, description = "No such provider (a page)"),
        (status = 429, description = "Too many sign-ins from this address (a page)"),
        (status = 502, description = "The provider cannot be reached (a page)"),
        (status = 503, description = "Sign-ins cannot be kept now (a page)"),
    )
)]
#[get("/auth/sso/{provider}/start")]
pub async fn start(state: web::Data<AppState>, req: HttpRequest, provider: web::Path<String>) -> HttpResponse {
    let provider = provider.into_inner();
    let ip = client_ip(&req, &state);
    if state.sign_in.address(&ip).is_err() {
        return page(&req, StatusCode::TOO_MANY_REQUESTS, "limited");
    }
    if state.oidc.config(&provider).is_none() {
        return page(&req, StatusCode::NOT_FOUND, "unknown_provider");
    }
    let (state_value, state_hash) = crate::auth::new_secret("");
    let (browser, browser_hash) = crate::auth::new_secret("");
    let (nonce, _) = crate::auth::new_secret("");
    let (verifier, challenge) = crate::oidc::pkce();
    let url = match state
        .oidc
        .authorization_url(&provider, &redirect_uri(&state, &provider), &state_value, &nonce, &challenge)
        .await
    {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(provider, error = %e, "single sign-on cannot begin");
            return page(&req, StatusCode::BAD_GATEWAY, "unavailable");
        }
    };
    let request = store::sso::Request {
        state_hash,
        provider: provider.clone(),
        browser_hash,
        nonce,
        verifier,
        expires_at: store::now() + chrono::Duration::minutes(REQUEST_TTL_MINUTES),
    };
    if let Err(e) = store::sso::begin(&state.store.db, request).await {
        tracing::error!(error = %e, "cannot keep a sign-in under way");
        return page(&req, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }
    // The provider's redirect back is a top-level navigation: Lax sends it.
    let secure = if state.config.link_prefix().starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{BROWSER_COOKIE}={browser}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        REQUEST_TTL_MINUTES * 60
    );
    HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::SET_COOKIE, cookie))
        .finish()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider that answers (RFC 9207): must be the one asked.
    pub iss: Option<String>,
    /// Set by the provider when it did not sign the person in.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// The provider sends the person back here. On success, a redirect to the
/// console with a one-time code; otherwise a page saying why.
#[utoipa::path(
    tag = "auth",
    params(("provider" = String, Path, description = "The provider's id"), CallbackParams),
    responses(
        (status = 302, description = "Signed in: to the console, which collects its tokens"),
        (status = 400, description = "A used, expired or altered sign-in, or a token not to believe (a page)"),
        (status = 403, description = "The account may not sign in here (a page)"),
        (status = 404, description = "No such provider (a page)"),
        (status = 429, description = "Too many sign-ins from this address (a page)"),
        (status = 502, description = "The provider cannot be reached (a page)"),
        (status = 503, description = "Sign-ins cannot be recorded now (a page)"),
    )
)]
#[get("/auth/sso/{provider}/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    provider: web::Path<String>,
    params: web::Query<CallbackParams>,
) -> HttpResponse {
    let provider = provider.into_inner();
    let ip = client_ip(&req, &state);
    if state.sign_in.address(&ip).is_err() {
        return page(&req, StatusCode::TOO_MANY_REQUESTS, "limited");
    }
    match finish(&state, &req, &provider, &params, &ip).await {
        Ok(location) => HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("referrer-policy", "no-referrer"))
            .insert_header(spent_cookie())
            .finish(),
        Err(Failed { status, reason, email, detail }) => {
            tracing::info!(provider, reason, detail, "single sign-on refused");
            refuse(&state, None, email.as_deref().unwrap_or(""), &format!("sso_{reason}"), &ip, Some(&provider)).await;
            let mut answer = page(&req, status, reason);
            let (name, value) = spent_cookie();
            if let Ok(value) = header::HeaderValue::from_str(&value) {
                answer.headers_mut().insert(name, value);
            }
            answer
        }
    }
}

/// The browser cookie, removed (a sign-in is over either way).
fn spent_cookie() -> (header::HeaderName, String) {
    (header::SET_COOKIE, format!("{BROWSER_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax"))
}

/// The value of the browser cookie the request carries.
fn browser_cookie(req: &HttpRequest) -> Option<String> {
    req.headers().get_all(header::COOKIE).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == BROWSER_COOKIE).then(|| value.to_owned())
    })
}

/// Why a callback let no one in.
struct Failed {
    status: StatusCode,
    /// The page's text (`sso.error.{reason}`) and the record's reason.
    reason: &'static str,
    /// Who the provider said it was, for the record.
    email: Option<String>,
    /// For the log only.
    detail: String,
}

fn failed(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> Failed {
    Failed { status, reason, email: None, detail: detail.into() }
}

async fn finish(
    state: &AppState,
    req: &HttpRequest,
    provider: &str,
    params: &CallbackParams,
    ip: &str,
) -> Result<String, Failed> {
    let Some(config) = state.oidc.config(provider) else {
        return Err(failed(StatusCode::NOT_FOUND, "unknown_provider", "no such provider"));
    };
    let unavailable = |e: &dyn std::fmt::Display| failed(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string());
    let Some(state_value) = params.state.as_deref() else {
        return Err(failed(StatusCode::BAD_REQUEST, "state", "no state"));
    };
    // The state is spent whatever happens next: a callback works once.
    let request = store::sso::take_request(&state.store.db, &crate::auth::hash_secret(state_value))
        .await
        .map_err(|e| unavailable(&e))?
        .filter(|r| r.provider == provider)
        .ok_or_else(|| failed(StatusCode::BAD_REQUEST, "state", "unknown, used or expired state"))?;
    let browser = browser_cookie(req).map(|c| crate::auth::hash_secret(&c));
    if browser.as_deref() != Some(request.browser_hash.as_str()) {
        return Err(failed(StatusCode::BAD_REQUEST, "browser", "begun in another browser"));
    }
    if params.iss.as_deref().is_some_and(|iss| iss != config.issuer) {
        return Err(failed(StatusCode::BAD_REQUEST, "provider", "the answer names another issuer (mix-up)"));
    }
    if let Some(error) = &params.error {
        let why = format!("{error}: {}", params.error_description.as_deref().unwrap_or_default());
        return Err(failed(StatusCode::FORBIDDEN, "provider", why));
    }
    let code = params.code.as_deref().ok_or_else(|| failed(StatusCode::BAD_REQUEST, "provider", "no code"))?;
    let identity = state
        .oidc
        .finish(provider, code, &request.verifier, &redirect_uri(state, provider), &request.nonce)
        .await
        .map_err(|e| match e {
            crate::oidc::Refusal::Unavailable(why) => failed(StatusCode::BAD_GATEWAY, "unavailable", why),
            crate::oidc::Refusal::Provider(why) => failed(StatusCode::BAD_REQUEST, "provider", why),
            crate::oidc::Refusal::Token(why) => failed(StatusCode::BAD_REQUEST, "token", why),
        })?;
    let granted = (!config.mappings.is_empty()).then(|| crate::oidc::roles_for(&identity.groups, &config.mappings));
    let arrival = store::sso::Arrival {
        provider,
        subject: &identity.subject,
        email: identity.email.as_deref(),
        email_verified: identity.email_verified,
        name: identity.name.as_deref(),
        create_accounts: config.create_accounts,
        link_by_email: config.link_by_email,
        granted: granted.as_ref().map(|g| (g.is_admin, &g.units)),
        locale: &state.config.locale,
    };
    let user = match store::sso::sign_in(&state.store, arrival).await.map_err(|e| unavailable(&e))? {
        Ok(user) => user,
        Err(refused) => {
            use store::sso::Refused;
            let (status, reason) = match refused {
                Refused::NoAccount => (StatusCode::FORBIDDEN, "no_account"),
                Refused::EmailTaken => (StatusCode::FORBIDDEN, "email_taken"),
                Refused::NoAccess => (StatusCode::FORBIDDEN, "no_access"),
                Refused::Inactive => (StatusCode::FORBIDDEN, "inactive"),
            };
            let mut why = failed(status, reason, format!("{refused:?}"));
            why.email = identity.email.clone().or(Some(identity.subject.clone()));
            return Err(why);
        }
    };
    state.principals.forget(user.id);
    let (code, code_hash) = crate::auth::new_secret("");
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let handoff = store::sso::Handoff {
        user: user.id,
        method: format!("sso:{provider}"),
        ip: Some(ip.chars().take(64).collect()),
        user_agent: agent.map(|a| a.chars().take(300).collect()),
    };
    let expires = store::now() + chrono::Duration::seconds(HANDOFF_TTL_SECS);
    store::sso::hand_off(&state.store.db, code_hash, handoff, expires).await.map_err(|e| unavailable(&e))?;
    Ok(format!("{}/console/#/sso/{code}", state.config.link_prefix()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The one-time code the callback put in the console's address.
    pub code: String,
}

/// Turns the one-time code of a single sign-on into the console's tokens
/// (once, within a minute).
#[utoipa::path(
    tag = "auth",
    request_body = ExchangeRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown, used or expired code", body = super::error::Problem),
        (status = 429, body = super::error::Problem),
    )
)]
#[post("/auth/sso/exchange")]
pub async fn exchange(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<ExchangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = client_ip(&req, &state);
    state.sign_in.address(&ip).map_err(ApiError::RateLimited)?;
    let Some(handoff) = store::sso::take_handoff(&state.store.db, &crate::auth::hash_secret(&body.0.code)).await?
    else {
        return Err(ApiError::Unauthorized);
    };
    let tokens = start_session(
        &state,
        handoff.user,
        &handoff.method,
        handoff.ip.as_deref().unwrap_or(&ip),
        handoff.user_agent.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(tokens))
}

/// The person's language, from what the browser asks for.
fn locale_of(req: &HttpRequest) -> &'static str {
    let asked = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    asked
        .split(',')
        .filter_map(|part| part.split(';').next())
        .find_map(|tag| LOCALES.iter().find(|l| tag.trim().to_ascii_lowercase().starts_with(**l)))
        .copied()
        .unwrap_or(LOCALES[0])
}

/// A page saying why a sign-in did not go on, and the way back.
fn page(req: &HttpRequest, status: StatusCode, reason: &str) -> HttpResponse {
    use crate::help::page::{esc, notice};
    let l = locale_of(req);
    let main = format!(
        "<p id=\"why\">{why}</p>\n<p><a href=\"/console/#/login\">{back}</a></p>\n<p><small>{code}</small></p>",
        why = esc(&t(l, &format!("sso.error.{reason}"), &[])),
        back = esc(&t(l, "sso.error.back", &[])),
        code = esc(&t(l, "sso.error.code", &[("code", reason)])),
    );
    let attrs = format!("class=\"wrap\" data-reason=\"{}\"", esc(reason));
    notice(status, l, &t(l, "sso.error.title", &[]), &attrs, &main, false)
}
