//! Saved views: `/saved-views`. A named set of inbox filters — the query of
//! `GET /cases` it stands for — kept by a person for themselves or by a
//! unit's supervisors for its staff. `assignee_id=me` in a shared view means
//! whoever opens it.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::canned::{may_change, owner_of, sees};
use super::case::{CaseQuery, case_filter};
use super::error::{ApiError, Checker, FieldError, Problem};
use super::extract::{Auth, Json, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::{Actor, Principal, UserId, required_text};
use crate::store::{self, saved_view::SavedView};

#[derive(Serialize, ToSchema)]
pub struct SavedViewDto {
    pub id: uuid::Uuid,
    /// The unit whose staff share it; none for a personal view.
    pub unit_id: Option<uuid::Uuid>,
    /// Whose personal view it is.
    pub owner_id: Option<uuid::Uuid>,
    #[schema(example = "Urgentes sin asignar")]
    pub name: String,
    /// The `GET /cases` query parameters it applies.
    #[schema(value_type = Object, example = json!({"assignee_id": "none", "priority": "urgent"}))]
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// Its place among its owner's views (smallest first).
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SavedView> for SavedViewDto {
    fn from(v: SavedView) -> Self {
        let (unit_id, owner_id) = v.owner.columns();
        SavedViewDto {
            id: v.id,
            unit_id,
            owner_id,
            name: v.name,
            filters: v.filters,
            position: v.position,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSavedView {
    /// The unit whose staff share it (its supervisors, admins); leave out for a personal one.
    pub unit_id: Option<uuid::Uuid>,
    pub name: String,
    /// Parameters of `GET /cases`: `status`, `unit_id`, `assignee_id`,
    /// `channel`, `tag`, `priority`, `sla`, `snoozed`, `text`, `q`, `sort`, …
    #[schema(value_type = Object)]
    pub filters: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub position: i32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSavedView {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub filters: Option<serde_json::Map<String, serde_json::Value>>,
    pub position: Option<i32>,
}

/// The parameters of `GET /cases` a view may keep (paging is not a filter).
const FILTER_KEYS: &[&str] = &[
    "status",
    "unit_id",
    "assignee_id",
    "channel",
    "tag",
    "priority",
    "contact_id",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "q",
    "sort",
    "sla",
    "snoozed",
    "text",
];

/// Checks a view's filters exactly as `GET /cases` checks its query;
/// errors name `filters.<parameter>`.
fn check_filters(principal: &Principal, filters: &serde_json::Map<String, serde_json::Value>, check: &mut Checker) {
    let prefixed = |field: &str, message: String| FieldError { field: format!("filters.{field}"), message };
    let mut errors = Vec::new();
    for key in filters.keys().filter(|k| !FILTER_KEYS.contains(&k.as_str())) {
        errors.push(prefixed(key, format!("is not a case filter; use one of {}", FILTER_KEYS.join(", "))));
    }
    // Values are what the query string would carry: text, or a plain
    // number or yes/no; read back exactly as `GET /cases` reads its query.
    let mut pairs = Vec::with_capacity(filters.len());
    for (key, value) in filters {
        match value {
            serde_json::Value::String(text) => pairs.push((key.as_str(), text.clone())),
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => pairs.push((key.as_str(), value.to_string())),
            _ => errors.push(prefixed(key, "must be text, a number or true/false, as in the query string".into())),
        }
    }
    if errors.is_empty() {
        let parsed = serde_urlencoded::to_string(&pairs)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_urlencoded::from_str::<CaseQuery>(&text).map_err(|e| e.to_string()));
        match parsed {
            Err(e) => errors.push(FieldError { field: "filters".into(), message: e }),
            Ok(query) => {
                if let Err(ApiError::Validation(found)) = case_filter(principal, query) {
                    errors.extend(found.into_iter().map(|e| prefixed(&e.field, e.message)));
                }
            }
        }
    }
    check.check_api::<()>(if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) });
}

fn require_staff(principal: &Principal) -> Result<UserId, ApiError> {
    principal.user_id().ok_or(ApiError::Forbidden("saved views are for staff accounts"))
}

/// A view the caller may see (another person's, or another unit's, is not found).
async fn visible(state: &AppState, principal: &Principal, id: uuid::Uuid) -> Result<SavedView, ApiError> {
    let view = store::saved_view::get(&state.store.db, id).await?;
    if !sees(principal, view.owner) {
        return Err(ApiError::NotFound("saved view"));
    }
    Ok(view)
}

fn check_name(name: &str, check: &mut Checker) -> Option<String> {
    check.check(required_text("name", name, 80))
}

/// The caller's own views, then those their units share.
#[utoipa::path(
    tag = "cases",
    responses((status = 200, body = ListResponse<SavedViewDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/saved-views")]
pub async fn list_views(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let me = require_staff(&auth.0)?;
    let units = auth.0.case_units();
    let views = store::saved_view::list(&state.store.db, me, units.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(views.into_iter().map(SavedViewDto::from).collect(), None)))
}

/// Saves a view: the caller's own, or a unit's (its supervisors, admins).
#[utoipa::path(
    tag = "cases",
    request_body = CreateSavedView,
    responses((status = 201, body = SavedViewDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/saved-views")]
pub async fn create_view(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateSavedView>,
) -> Result<HttpResponse, ApiError> {
    let me = require_staff(&auth.0)?;
    let body = body.0;
    let owner =
        owner_of(&state, &auth.0, body.unit_id, me, "only the unit's supervisors and admins share views with it")
            .await?;
    let mut check = Checker::default();
    let name = check_name(&body.name, &mut check);
    check_filters(&auth.0, &body.filters, &mut check);
    check.finish()?;
    let name = name.ok_or_else(|| ApiError::internal("checked name missing"))?;
    let new = store::saved_view::NewView { owner, name, filters: body.filters, position: body.position };
    let view = store::saved_view::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(SavedViewDto::from(view)))
}

#[utoipa::path(
    tag = "cases",
    params(("view_id" = uuid::Uuid, Path)),
    request_body = UpdateSavedView,
    responses((status = 200, body = SavedViewDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/saved-views/{view_id}")]
pub async fn update_view(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateSavedView>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&auth.0)?;
    let id = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    require(may_change(&auth.0, current.owner), "only the unit's supervisors and admins change its views")?;
    let body = body.0;
    let mut check = Checker::default();
    let name = body.name.as_deref().and_then(|n| check_name(n, &mut check));
    if let Some(filters) = &body.filters {
        check_filters(&auth.0, filters, &mut check);
    }
    check.finish()?;
    let patch = store::saved_view::ViewPatch { name, filters: body.filters, position: body.position };
    let view = store::saved_view::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    Ok(HttpResponse::Ok().json(SavedViewDto::from(view)))
}

#[utoipa::path(
    tag = "cases",
    params(("view_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/saved-views/{view_id}")]
pub async fn delete_view(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&auth.0)?;
    let id = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    require(may_change(&auth.0, current.owner), "only the unit's supervisors and admins remove its views")?;
    store::saved_view::delete(&state.store, &Actor::from(&auth.0), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Principal {
        Principal::User { id: UserId(uuid::Uuid::nil()), is_admin: true, memberships: vec![] }
    }

    fn errors(filters: serde_json::Value) -> Vec<String> {
        let serde_json::Value::Object(map) = filters else { unreachable!("an object") };
        let mut check = Checker::default();
        check_filters(&admin(), &map, &mut check);
        match check.finish() {
            Ok(()) => vec![],
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn filters_are_checked_like_the_case_list() {
        assert!(
            errors(serde_json::json!({"status": "queued,assigned", "assignee_id": "me", "snoozed": false})).is_empty()
        );
        assert!(errors(serde_json::json!({"snoozed": "false", "unit_id": uuid::Uuid::nil().to_string()})).is_empty());
        assert_eq!(errors(serde_json::json!({"tag": ["a", "b"]})), ["filters.tag"]);
        assert_eq!(errors(serde_json::json!({"status": "lost"})), ["filters.status"]);
        assert_eq!(
            errors(serde_json::json!({"priority": "whenever", "sla": "late"})),
            ["filters.priority", "filters.sla"]
        );
        assert_eq!(errors(serde_json::json!({"cursor": "x"})), ["filters.cursor"]);
        assert_eq!(errors(serde_json::json!({"snoozed": "maybe"})), ["filters"]);
    }
}
