//! Staff accounts: admins manage them; supervisors see their units' people.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, PageParams, require, require_admin_or};
use super::schema::{ListResponse, Role};
use crate::api::AppState;
use crate::domain::{
    Actor, Email, Membership, Principal, Scope, UnitId, User, UserId, required_text,
    user::{AccountChange, NewUser, UserPatch, authorize_change, check_password, parse_locale},
};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    pub id: uuid::Uuid,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
    pub active: bool,
    pub locale: String,
    pub memberships: Vec<MembershipDto>,
    pub created_at: DateTime<Utc>,
    /// Whether the person signs in with two-step verification (shown to
    /// admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<bool>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct MembershipDto {
    pub unit_id: uuid::Uuid,
    pub role: Role,
}

impl From<User> for UserDto {
    fn from(user: User) -> Self {
        UserDto {
            id: user.id.0,
            email: user.email.as_str().to_owned(),
            display_name: user.display_name,
            is_admin: user.is_admin,
            active: user.active,
            locale: user.locale,
            memberships: user
                .memberships
                .into_iter()
                .map(|m| MembershipDto { unit_id: m.unit_id.0, role: m.role.into() })
                .collect(),
            two_factor: None,
            created_at: user.created_at,
        }
    }
}

fn memberships(list: &[MembershipDto]) -> Vec<Membership> {
    list.iter().map(|m| Membership { unit_id: UnitId(m.unit_id), role: m.role.into() }).collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(example = "ana.perez@universidad.edu.co")]
    pub email: String,
    #[schema(example = "Ana Pérez")]
    pub display_name: String,
    /// At least 12 characters.
    pub password: String,
    #[serde(default)]
    pub is_admin: bool,
    /// `es` (default), `en` or `pt`.
    pub locale: Option<String>,
    #[serde(default)]
    pub memberships: Vec<MembershipDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    pub password: Option<String>,
    /// Required to change one's own password.
    pub current_password: Option<String>,
    pub is_admin: Option<bool>,
    pub active: Option<bool>,
    pub locale: Option<String>,
    /// Replaces every membership.
    pub memberships: Option<Vec<MembershipDto>>,
}

/// Whether `password` is the account's current one (checked off the
/// request's thread: argon2 is slow on purpose).
pub(super) async fn current_password_matches(state: &AppState, id: UserId, password: String) -> Result<bool, ApiError> {
    let Some(hash) = store::user::password_hash(&state.store.db, id).await? else { return Ok(false) };
    web::block(move || crate::auth::verify_password(&password, &hash)).await.map_err(ApiError::internal)
}

async fn hash(password: String) -> Result<String, ApiError> {
    web::block(move || crate::auth::hash_password(&password)).await.map_err(ApiError::internal)?.map_err(ApiError::from)
}

/// Staff accounts. Admins see everyone; supervisors see the people of their units.
#[utoipa::path(
    tag = "users",
    params(PageParams),
    responses((status = 200, body = ListResponse<UserDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    auth: Auth,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = params.page()?;
    let units = auth.0.supervised_units();
    require(units.as_ref().is_none_or(|u| !u.is_empty()), "only admins and supervisors may list users")?;
    let (users, next) = store::user::list(&state.store.db, units.as_deref(), &page).await?;
    let items = with_two_factor(&state, &auth.0, users).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(items, next)))
}

/// Creates a staff account (admins, `users:write` tokens).
#[utoipa::path(
    tag = "users",
    request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = UserDto), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
    body: Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    require_admin_or(&auth.0, Scope::UsersWrite)?;
    let body = body.0;
    let change = AccountChange { is_admin: Some(body.is_admin), ..Default::default() };
    authorize_change(&auth.0, None, &change)?;
    let mut check = Checker::default();
    let email = check.check(Email::parse("email", &body.email));
    let name = check.check(required_text("display_name", &body.display_name, 200));
    if let Some(email) = &email {
        check.check(check_password("password", &body.password, email));
    }
    let locale = check.check(parse_locale("locale", body.locale.as_deref().unwrap_or("es")));
    check.finish()?;
    not_breached(&state, &body.password).await?;
    let (Some(email), Some(display_name), Some(locale)) = (email, name, locale) else {
        return Err(ApiError::internal("checked values missing"));
    };
    super::idempotency::run(&state, &req, &auth.0, || async {
        let new = NewUser {
            email,
            display_name,
            password_hash: hash(body.password).await?,
            is_admin: body.is_admin,
            locale,
            memberships: memberships(&body.memberships),
        };
        let user = store::user::create(&state.store, &Actor::from(&auth.0), new).await?;
        super::idempotency::created(&UserDto::from(user))
    })
    .await
}

/// Whether `principal` may see `user`: admins, `users:read` tokens, the user
/// themself, and supervisors of a unit the user belongs to.
fn may_see(principal: &Principal, user: &User) -> bool {
    principal.user_id() == Some(user.id)
        || principal.supervised_units().is_none_or(|units| user.memberships.iter().any(|m| units.contains(&m.unit_id)))
}

#[utoipa::path(
    tag = "users",
    params(("user_id" = uuid::Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/users/{user_id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = store::user::get(&state.store.db, UserId(path.into_inner())).await?;
    if !may_see(&auth.0, &user) {
        return Err(ApiError::NotFound("user"));
    }
    let one = with_two_factor(&state, &auth.0, vec![user]).await?.pop();
    Ok(HttpResponse::Ok().json(one.ok_or_else(|| ApiError::internal("a user went missing"))?))
}

/// Changes an account. Admins change anything; users change their own name,
/// locale and password.
#[utoipa::path(
    tag = "users",
    params(("user_id" = uuid::Uuid, Path)),
    request_body = UpdateUser,
    responses(
        (status = 200, body = UserDto),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "A listed unit does not exist", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/users/{user_id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(path.into_inner());
    let user = store::user::get(&state.store.db, id).await?;
    let body = body.0;
    let is_self = auth.0.user_id() == Some(id);
    if !is_self && !auth.0.is_admin_or_token(Scope::UsersWrite) && !may_see(&auth.0, &user) {
        return Err(ApiError::NotFound("user"));
    }
    if is_self && body.current_password.is_some() {
        // Guessing one's own password with a stolen access token is
        // throttled like guessing it at sign-in.
        let ip = super::auth::client_ip(&req, &state);
        state.sign_in.address(&ip).map_err(ApiError::RateLimited)?;
        state.sign_in.attempt(user.email.as_str(), &ip).map_err(ApiError::RateLimited)?;
    }
    if is_self
        && let Some(current) = body.current_password.clone()
        && !current_password_matches(&state, id, current).await?
    {
        return Err(ApiError::field("current_password", "is not this account's password"));
    }
    let change = AccountChange {
        password: body.password.is_some(),
        is_admin: body.is_admin,
        active: body.active,
        memberships: body.memberships.is_some(),
        current_password_given: body.current_password.is_some(),
    };
    authorize_change(&auth.0, Some(&user), &change)?;
    let mut check = Checker::default();
    let display_name = body.display_name.as_deref().and_then(|n| check.check(required_text("display_name", n, 200)));
    let locale = body.locale.as_deref().and_then(|l| check.check(parse_locale("locale", l)));
    if let Some(password) = &body.password {
        check.check(check_password("password", password, &user.email));
    }
    check.finish()?;
    if let Some(password) = &body.password {
        not_breached(&state, password).await?;
    }
    let password_hash = match body.password {
        Some(password) => Some(hash(password).await?),
        None => None,
    };
    let patch = UserPatch {
        display_name,
        password_hash,
        is_admin: body.is_admin,
        active: body.active,
        locale,
        memberships: body.memberships.as_deref().map(memberships),
    };
    let user = store::user::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    // Other instances hear of it through the `user.changed` live event.
    state.principals.forget(id);
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}

/// Refuses a password on the institution's list of breached passwords
/// (`auth.breached_passwords_file`), if it keeps one.
async fn not_breached(state: &AppState, password: &str) -> Result<(), ApiError> {
    let Some(file) = state.config.auth.breached_passwords_file.clone() else { return Ok(()) };
    let password = password.to_owned();
    let found = web::block(move || crate::breached::BreachedList::open(&file)?.contains(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::Unavailable(format!("cannot read the list of breached passwords: {e}")))?;
    if found {
        return Err(ApiError::field("password", "appears in a list of passwords exposed in breaches; choose another"));
    }
    Ok(())
}

/// The users as an admin sees them: with whether each has two-step
/// verification on (one query for all); as others see them, without.
async fn with_two_factor(state: &AppState, principal: &Principal, users: Vec<User>) -> Result<Vec<UserDto>, ApiError> {
    if !principal.is_admin() {
        return Ok(users.into_iter().map(UserDto::from).collect());
    }
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.id.0).collect();
    let on = store::two_factor::enabled_among(&state.store.db, &ids).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let id = u.id.0;
            UserDto { two_factor: Some(on.contains(&id)), ..UserDto::from(u) }
        })
        .collect())
}
