//! Canned responses: `/canned-responses`. A unit's are written by its
//! supervisors (and admins) and used by its staff; anyone may keep their own.
//! Listing with `case_id` fills the variables for that case.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::canned::{Shortcut, check_body, fill};
use crate::domain::{Actor, CaseId, Principal, UnitId, required_text};
use crate::store::{self, canned::Owner};

#[derive(Serialize, ToSchema)]
pub struct CannedDto {
    pub id: uuid::Uuid,
    /// The unit it belongs to; none for a personal one.
    pub unit_id: Option<uuid::Uuid>,
    /// Whose personal response it is.
    pub owner_id: Option<uuid::Uuid>,
    /// Typed after `/` in the composer.
    #[schema(example = "horario")]
    pub shortcut: String,
    pub title: String,
    /// The text, with variables such as `{{contact.name}}`, `{{agent.name}}`,
    /// `{{unit.name}}`, `{{case.number}}`.
    pub body: String,
    /// The text filled for the case named by `case_id`, when one was.
    pub rendered: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::canned::Canned> for CannedDto {
    fn from(c: store::canned::Canned) -> Self {
        let (unit_id, owner_id) = c.owner.columns();
        CannedDto {
            id: c.id,
            unit_id,
            owner_id,
            shortcut: c.shortcut,
            title: c.title,
            body: c.body,
            rendered: None,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CannedQuery {
    /// Text in the shortcut or title.
    pub q: Option<String>,
    /// Only this unit's (and the caller's own).
    pub unit_id: Option<uuid::Uuid>,
    /// The case being answered: its unit's responses, filled for it.
    pub case_id: Option<uuid::Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCanned {
    /// The unit it is for (its supervisors, admins); leave out for a personal one.
    pub unit_id: Option<uuid::Uuid>,
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCanned {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
}

fn require_staff(principal: &Principal) -> Result<crate::domain::UserId, ApiError> {
    principal.user_id().ok_or(ApiError::Forbidden("canned responses are for staff accounts"))
}

/// Whether the caller may change what `owner` keeps (a canned response, a
/// saved view): a unit's supervisors and admins, or the person.
pub(super) fn may_change(principal: &Principal, owner: Owner) -> bool {
    match owner {
        Owner::Unit(unit) => principal.can_manage_unit(unit),
        Owner::Person(user) => principal.user_id() == Some(user),
    }
}

/// The values of a case's variables.
async fn values(
    state: &AppState,
    principal: &Principal,
    case: CaseId,
) -> Result<(UnitId, BTreeMap<&'static str, String>), ApiError> {
    let scope = principal.case_units();
    let case = store::case::get(&state.store.db, scope.as_deref(), case).await?;
    // The contact of a case the caller sees is theirs to see.
    let contact = store::contact::get(&state.store.db, &store::contact::Visibility::All, case.contact_id).await?;
    let unit = store::unit::get(&state.store.db, case.unit_id).await?;
    let agent = match principal.user_id() {
        Some(me) => store::user::get(&state.store.db, me).await?.display_name,
        None => String::new(),
    };
    let name = contact.name.clone().unwrap_or_default();
    let first = name.split_whitespace().next().unwrap_or_default().to_owned();
    let values = [
        ("contact.name", name),
        ("contact.first_name", first),
        ("agent.name", agent),
        ("unit.name", unit.name),
        ("case.number", case.number.to_string()),
        ("case.subject", case.subject),
    ];
    Ok((case.unit_id, values.into_iter().collect()))
}

/// The canned responses the caller may use: their own and their units'
/// (of the case's unit with `case_id`, filled for that case).
#[utoipa::path(
    tag = "cases",
    params(CannedQuery),
    responses((status = 200, body = ListResponse<CannedDto>), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/canned-responses")]
pub async fn list_canned(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<CannedQuery>,
) -> Result<HttpResponse, ApiError> {
    let me = require_staff(&auth.0)?;
    let filled = match query.case_id {
        Some(case) => Some(values(&state, &auth.0, CaseId(case)).await?),
        None => None,
    };
    let units: Option<Vec<UnitId>> = match (&filled, query.unit_id) {
        (Some((unit, _)), _) => Some(vec![*unit]),
        (None, Some(unit)) => {
            require(auth.0.can_read_unit_cases(UnitId(unit)), "only the unit's staff may use its responses")?;
            Some(vec![UnitId(unit)])
        }
        (None, None) => auth.0.case_units(),
    };
    let found = store::canned::list(&state.store.db, Some(me), units.as_deref(), query.q.as_deref()).await?;
    let items = found
        .into_iter()
        .map(|c| {
            let mut dto = CannedDto::from(c);
            dto.rendered = filled.as_ref().map(|(_, values)| fill(&dto.body, values));
            dto
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListResponse::new(items, None)))
}

/// Keeps a canned response: a unit's (its supervisors, admins) or the caller's own.
#[utoipa::path(
    tag = "cases",
    request_body = CreateCanned,
    responses((status = 201, body = CannedDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/canned-responses")]
pub async fn create_canned(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateCanned>,
) -> Result<HttpResponse, ApiError> {
    let me = require_staff(&auth.0)?;
    let body = body.0;
    let owner =
        owner_of(&state, &auth.0, body.unit_id, me, "only the unit's supervisors and admins keep its responses")
            .await?;
    let mut check = Checker::default();
    let shortcut = check.check(Shortcut::parse("shortcut", &body.shortcut));
    let title = check.check(required_text("title", &body.title, 200));
    let text = check.check(required_text("body", &body.body, crate::domain::message::MAX_BODY_CHARS));
    if let Some(text) = &text {
        check.check(check_body("body", text));
    }
    check.finish()?;
    let (Some(shortcut), Some(title), Some(body)) = (shortcut, title, text) else {
        return Err(ApiError::internal("checked values missing"));
    };
    let new = store::canned::NewCanned { owner, shortcut, title, body };
    let canned = store::canned::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(CannedDto::from(canned)))
}

#[utoipa::path(
    tag = "cases",
    params(("canned_id" = uuid::Uuid, Path)),
    request_body = UpdateCanned,
    responses((status = 200, body = CannedDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/canned-responses/{canned_id}")]
pub async fn update_canned(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateCanned>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&auth.0)?;
    let id = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    require(may_change(&auth.0, current.owner), "only the unit's supervisors and admins change its responses")?;
    let body = body.0;
    let mut check = Checker::default();
    let shortcut = body.shortcut.as_deref().and_then(|s| check.check(Shortcut::parse("shortcut", s)));
    let title = body.title.as_deref().and_then(|t| check.check(required_text("title", t, 200)));
    let text = body
        .body
        .as_deref()
        .and_then(|b| check.check(required_text("body", b, crate::domain::message::MAX_BODY_CHARS)));
    if let Some(text) = &text {
        check.check(check_body("body", text));
    }
    check.finish()?;
    let patch = store::canned::CannedPatch { shortcut, title, body: text };
    let canned = store::canned::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    Ok(HttpResponse::Ok().json(CannedDto::from(canned)))
}

#[utoipa::path(
    tag = "cases",
    params(("canned_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/canned-responses/{canned_id}")]
pub async fn delete_canned(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&auth.0)?;
    let id = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    require(may_change(&auth.0, current.owner), "only the unit's supervisors and admins remove its responses")?;
    store::canned::delete(&state.store, &Actor::from(&auth.0), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who a new canned response or saved view belongs to: the unit named (it
/// must exist, and the caller manage it), else the caller.
pub(super) async fn owner_of(
    state: &AppState,
    principal: &Principal,
    unit: Option<uuid::Uuid>,
    me: crate::domain::UserId,
    refused: &'static str,
) -> Result<Owner, ApiError> {
    let owner = match unit {
        Some(unit) => {
            store::unit::get(&state.store.db, UnitId(unit)).await?;
            Owner::Unit(UnitId(unit))
        }
        None => Owner::Person(me),
    };
    require(may_change(principal, owner), refused)?;
    Ok(owner)
}

/// Whether the caller sees what `owner` keeps: the unit's staff, or the person.
pub(super) fn sees(principal: &Principal, owner: Owner) -> bool {
    match owner {
        Owner::Unit(unit) => principal.can_read_unit_cases(unit),
        Owner::Person(user) => principal.user_id() == Some(user),
    }
}

/// A response the caller may see (another person's, or another unit's, is
/// not found).
async fn visible(state: &AppState, principal: &Principal, id: uuid::Uuid) -> Result<store::canned::Canned, ApiError> {
    let canned = store::canned::get(&state.store.db, id).await?;
    if !sees(principal, canned.owner) {
        return Err(ApiError::NotFound("canned response"));
    }
    Ok(canned)
}
