//! Segments: `/segments`. A saved description of a group of people —
//! attributes, channels, cases, consent — that campaigns send to, run
//! whenever it is used. A unit's segment (its supervisors', admins') chooses
//! among the people with a case in the unit; an institution-wide one
//! (admins', `contacts:write` tokens') among everyone.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contact::ContactDto;
use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, PageParams, require};
use super::schema::{ListResponse, double_option};
use crate::api::AppState;
use crate::domain::segment::{
    AttributeRule, AttributeTest, CaseRule, ConsentRule, ConsentState, Filter, NewSegment, Segment, SegmentPatch,
    parse_description, parse_name,
};
use crate::domain::{self, Actor, CaseStatus, Channel, Principal, Role, Scope, UnitId};
use crate::store;

/// Who a segment chooses: every condition must hold; the values within
/// one are alternatives.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SegmentFilterDto {
    /// Conditions on the person's attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeRuleDto>,
    /// Reachable on one of these channels (has an identity on it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["whatsapp", "sms"]))]
    pub channels: Vec<String>,
    /// Has (or has not) a case matching all of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<CaseRuleDto>,
    /// The person's current answer to consent, per purpose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent: Vec<ConsentRuleDto>,
    /// `true`: only people with an external id (from the institution's
    /// systems); `false`: only those without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<bool>,
}

/// A condition on one attribute: give exactly one of `in`, `not_in`,
/// `present`. Values compare as text, exactly (`true`, `2027`, `Medicina`).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeRuleDto {
    #[schema(example = "program")]
    pub key: String,
    /// The attribute is one of these.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["Medicina", "Enfermería"]))]
    pub one_of: Option<Vec<String>>,
    /// The attribute is missing or none of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in: Option<Vec<String>>,
    /// The attribute is set (`true`) or missing (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRuleDto {
    /// `false`: people with no such case.
    #[serde(default = "yes")]
    pub has: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unit_ids: Vec<uuid::Uuid>,
    /// The case carries one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `bot`, `queued`, `assigned`, `waiting_on_contact`, `resolved`, `closed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Opened in the last this many days (1 to 3650).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_within_days: Option<u32>,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRuleDto {
    #[schema(example = "broadcasts")]
    pub purpose: String,
    /// `granted` (their latest answer is yes), `revoked`, `unanswered`,
    /// or `not_granted` (revoked or never answered).
    #[schema(example = "granted")]
    pub state: String,
}

impl From<&Filter> for SegmentFilterDto {
    fn from(f: &Filter) -> Self {
        SegmentFilterDto {
            attributes: f
                .attributes
                .iter()
                .map(|r| {
                    let mut dto = AttributeRuleDto { key: r.key.clone(), one_of: None, not_in: None, present: None };
                    match &r.test {
                        AttributeTest::In(v) => dto.one_of = Some(v.clone()),
                        AttributeTest::NotIn(v) => dto.not_in = Some(v.clone()),
                        AttributeTest::Present(p) => dto.present = Some(*p),
                    }
                    dto
                })
                .collect(),
            channels: f.channels.iter().map(|c| c.as_str().to_owned()).collect(),
            cases: f.cases.as_ref().map(|c| CaseRuleDto {
                has: c.has,
                unit_ids: c.units.iter().map(|u| u.0).collect(),
                tags: c.tags.clone(),
                statuses: c.statuses.iter().map(|s| s.as_str().to_owned()).collect(),
                channels: c.channels.iter().map(|c| c.as_str().to_owned()).collect(),
                opened_within_days: c.opened_within_days,
            }),
            consent: f
                .consent
                .iter()
                .map(|r| ConsentRuleDto { purpose: r.purpose.clone(), state: r.state.as_str().to_owned() })
                .collect(),
            external_id: f.external_id,
        }
    }
}

/// Reads a filter from the API's shape; errors name `filter.…`.
fn parse_filter(dto: SegmentFilterDto, check: &mut Checker) -> Option<Filter> {
    let mut ok = true;
    let mut keep = |check: &mut Checker, r: Result<_, domain::Error>| {
        let v = check.check(r);
        ok &= v.is_some();
        v
    };
    let mut attributes = vec![];
    for (i, rule) in dto.attributes.into_iter().enumerate() {
        let field = format!("filter.attributes[{i}]");
        let test = match (rule.one_of, rule.not_in, rule.present) {
            (Some(v), None, None) => Ok(AttributeTest::In(v)),
            (None, Some(v), None) => Ok(AttributeTest::NotIn(v)),
            (None, None, Some(p)) => Ok(AttributeTest::Present(p)),
            _ => Err(domain::Error::invalid(&field, "give exactly one of `in`, `not_in` and `present`")),
        };
        if let Some(test) = keep(check, test) {
            attributes.push(AttributeRule { key: rule.key, test });
        }
    }
    let channels = |check: &mut Checker, field: &str, names: Vec<String>| -> Vec<Channel> {
        names.iter().enumerate().filter_map(|(i, n)| check.check(Channel::parse(&format!("{field}[{i}]"), n))).collect()
    };
    let reach = channels(check, "filter.channels", dto.channels.clone());
    let cases = dto.cases.map(|c| {
        let statuses = c
            .statuses
            .iter()
            .enumerate()
            .filter_map(|(i, s)| check.check(CaseStatus::parse(&format!("filter.cases.statuses[{i}]"), s)))
            .collect::<Vec<_>>();
        let case_channels = channels(check, "filter.cases.channels", c.channels.clone());
        ok &= statuses.len() == c.statuses.len() && case_channels.len() == c.channels.len();
        CaseRule {
            has: c.has,
            units: c.unit_ids.into_iter().map(UnitId).collect(),
            tags: c.tags,
            statuses,
            channels: case_channels,
            opened_within_days: c.opened_within_days,
        }
    });
    ok &= reach.len() == dto.channels.len();
    let mut consent = vec![];
    for (i, rule) in dto.consent.into_iter().enumerate() {
        if let Some(state) = check.check(ConsentState::parse(&format!("filter.consent[{i}].state"), &rule.state)) {
            consent.push(ConsentRule { purpose: rule.purpose, state });
        } else {
            ok = false;
        }
    }
    let filter = Filter { attributes, channels: reach, cases, consent, external_id: dto.external_id };
    match filter.checked("filter") {
        Ok(filter) if ok => Some(filter),
        Ok(_) => None,
        Err(errors) => {
            for e in errors {
                check.check::<()>(Err(e));
            }
            None
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SegmentDto {
    pub id: uuid::Uuid,
    /// The unit whose people it chooses among; none: everyone (admins').
    pub unit_id: Option<uuid::Uuid>,
    #[schema(example = "Aspirantes de Medicina con autorización")]
    pub name: String,
    pub description: Option<String>,
    pub filter: SegmentFilterDto,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Segment> for SegmentDto {
    fn from(s: Segment) -> Self {
        SegmentDto {
            id: s.id,
            unit_id: s.unit_id.map(|u| u.0),
            filter: SegmentFilterDto::from(&s.filter),
            name: s.name,
            description: s.description,
            created_by: s.created_by.map(|u| u.0),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSegment {
    /// The unit whose people it chooses among (its supervisors, admins);
    /// leave out for an institution-wide segment (admins, `contacts:write` tokens).
    pub unit_id: Option<uuid::Uuid>,
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub filter: SegmentFilterDto,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSegment {
    pub name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub filter: Option<SegmentFilterDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewSegment {
    pub unit_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub filter: SegmentFilterDto,
}

/// How many people a segment chooses now, and the first of them.
#[derive(Serialize, ToSchema)]
pub struct SegmentMembers {
    pub total: u64,
    pub items: Vec<ContactDto>,
    pub next_cursor: Option<String>,
}

/// May read the segments of `unit` (institution-wide ones with `None`).
fn may_read(principal: &Principal, unit: Option<UnitId>) -> bool {
    principal.is_admin_or_token(Scope::ContactsRead)
        || unit.is_some_and(|u| principal.role_in(u) == Some(Role::Supervisor))
}

/// May keep the segments of `unit`.
fn may_write(principal: &Principal, unit: Option<UnitId>) -> bool {
    principal.is_admin_or_token(Scope::ContactsWrite)
        || unit.is_some_and(|u| principal.role_in(u) == Some(Role::Supervisor))
}

const WRITERS: &str = "a unit's segments are kept by its supervisors and admins, institution-wide ones by admins";

/// A segment the caller may read; another unit's is not found.
async fn visible(state: &AppState, principal: &Principal, id: uuid::Uuid) -> Result<Segment, ApiError> {
    let segment = store::segment::get(&state.store.db, id).await?;
    if !may_read(principal, segment.unit_id) {
        return Err(ApiError::NotFound("segment"));
    }
    Ok(segment)
}

/// The unit a segment is for: one that exists. Errors name `unit_id`.
async fn unit_of(state: &AppState, unit: Option<uuid::Uuid>, check: &mut Checker) -> Result<Option<UnitId>, ApiError> {
    let Some(id) = unit else { return Ok(None) };
    match store::unit::get(&state.store.db, UnitId(id)).await {
        Ok(_) => Ok(Some(UnitId(id))),
        Err(store::Error::NotFound(_)) => {
            check.push("unit_id", "no such unit");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The units a filter names must be ones whose cases the caller reads.
fn check_units(principal: &Principal, filter: &Filter, check: &mut Checker) {
    for (i, unit) in filter.units().iter().enumerate() {
        if !principal.can_read_unit_cases(*unit) {
            check.push(&format!("filter.cases.unit_ids[{i}]"), "is not a unit whose cases you may read");
        }
    }
}

/// Segments the caller may read: admins and `contacts:read` tokens all;
/// supervisors their units'.
#[utoipa::path(
    tag = "contacts",
    responses((status = 200, body = ListResponse<SegmentDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/segments")]
pub async fn list_segments(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let units = if auth.0.is_admin_or_token(Scope::ContactsRead) {
        None
    } else {
        let supervised = auth.0.supervised_units().unwrap_or_default();
        require(!supervised.is_empty(), "segments are for supervisors, admins and tokens with contacts:read")?;
        Some(supervised)
    };
    let segments = store::segment::list(&state.store.db, units.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(segments.into_iter().map(SegmentDto::from).collect(), None)))
}

#[utoipa::path(
    tag = "contacts",
    request_body = CreateSegment,
    responses((status = 201, body = SegmentDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/segments")]
pub async fn create_segment(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateSegment>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut check = Checker::default();
    let unit = unit_of(&state, body.unit_id, &mut check).await?;
    require(may_write(&auth.0, body.unit_id.map(UnitId)), WRITERS)?;
    let name = check.check(parse_name("name", &body.name));
    let description = match body.description.as_deref() {
        Some(d) => check.check(parse_description("description", d)).flatten(),
        None => None,
    };
    let filter = parse_filter(body.filter, &mut check);
    if let Some(filter) = &filter {
        check_units(&auth.0, filter, &mut check);
    }
    check.finish()?;
    let (Some(name), Some(filter)) = (name, filter) else { return Err(ApiError::internal("checked segment missing")) };
    let new = NewSegment { unit_id: unit, name, description, filter };
    let segment = store::segment::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(SegmentDto::from(segment)))
}

#[utoipa::path(
    tag = "contacts",
    params(("segment_id" = uuid::Uuid, Path)),
    responses((status = 200, body = SegmentDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/segments/{segment_id}")]
pub async fn get_segment(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let segment = visible(&state, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(SegmentDto::from(segment)))
}

#[utoipa::path(
    tag = "contacts",
    params(("segment_id" = uuid::Uuid, Path)),
    request_body = UpdateSegment,
    responses((status = 200, body = SegmentDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/segments/{segment_id}")]
pub async fn update_segment(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateSegment>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    require(may_write(&auth.0, current.unit_id), WRITERS)?;
    let body = body.0;
    let mut check = Checker::default();
    let name = body.name.as_deref().and_then(|n| check.check(parse_name("name", n)));
    let description = match body.description {
        Some(Some(d)) => check.check(parse_description("description", &d)),
        Some(None) => Some(None),
        None => None,
    };
    let filter = body.filter.and_then(|f| parse_filter(f, &mut check));
    if let Some(filter) = &filter {
        check_units(&auth.0, filter, &mut check);
    }
    check.finish()?;
    let patch = SegmentPatch { name, description, filter };
    let segment = store::segment::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    Ok(HttpResponse::Ok().json(SegmentDto::from(segment)))
}

#[utoipa::path(
    tag = "contacts",
    params(("segment_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/segments/{segment_id}")]
pub async fn delete_segment(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    require(may_write(&auth.0, current.unit_id), WRITERS)?;
    store::segment::delete(&state.store, &Actor::from(&auth.0), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The people a segment chooses now: how many, and a page of them (newest first).
#[utoipa::path(
    tag = "contacts",
    params(("segment_id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = SegmentMembers), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/segments/{segment_id}/members")]
pub async fn segment_members(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = params.page()?;
    let segment = visible(&state, &auth.0, path.into_inner()).await?;
    members(&state, segment.unit_id, &segment.filter, &page).await
}

/// How many people a filter would choose, and the first of them, without saving it.
#[utoipa::path(
    tag = "contacts",
    request_body = PreviewSegment,
    responses((status = 200, body = SegmentMembers), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/segments/preview")]
pub async fn preview_segment(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<PreviewSegment>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut check = Checker::default();
    let unit = unit_of(&state, body.unit_id, &mut check).await?;
    require(may_read(&auth.0, body.unit_id.map(UnitId)), WRITERS)?;
    let filter = parse_filter(body.filter, &mut check);
    if let Some(filter) = &filter {
        check_units(&auth.0, filter, &mut check);
    }
    check.finish()?;
    let filter = filter.ok_or_else(|| ApiError::internal("checked filter missing"))?;
    members(&state, unit, &filter, &store::pagination::Page::default()).await
}

async fn members(
    state: &AppState,
    unit: Option<UnitId>,
    filter: &Filter,
    page: &store::pagination::Page,
) -> Result<HttpResponse, ApiError> {
    let db = &state.store.db;
    let total = store::segment::count(db, unit, filter).await?;
    let (contacts, next_cursor) = store::segment::preview(db, unit, filter, page).await?;
    let items = contacts.into_iter().map(ContactDto::from).collect();
    Ok(HttpResponse::Ok().json(SegmentMembers { total, items, next_cursor }))
}
