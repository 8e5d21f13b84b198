//! Data-subject requests (habeas data): filed on a contact
//! (`/contacts/{id}/requests`), answered from the designated unit's queue
//! (`/data-requests`), each before its legal deadline.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contact::{visibility, write_visibility};
use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require};
use super::schema::{DataRequestKind, DataRequestStatus, ListResponse};
use crate::api::AppState;
use crate::domain::data_request::{DataRequest, ExportStatus};
use crate::domain::{Actor, ContactId, Principal, Scope, UnitId, required_text};
use crate::store::{self, data_request::Units};

#[derive(Serialize, ToSchema)]
pub struct DataRequestDto {
    pub id: uuid::Uuid,
    pub contact_id: uuid::Uuid,
    pub kind: DataRequestKind,
    pub status: DataRequestStatus,
    /// What the person asked, in their words.
    pub details: String,
    /// The unit that answers it.
    pub unit_id: uuid::Uuid,
    pub received_at: DateTime<Utc>,
    /// The legal deadline: the close of the last business day allowed.
    pub due_at: DateTime<Utc>,
    /// When the queue starts warning.
    pub warn_at: DateTime<Utc>,
    /// `on_time`, `due_soon` or `overdue` while open; none once answered.
    #[schema(example = "due_soon")]
    pub urgency: Option<String>,
    /// What was done, or why it was refused.
    pub resolution: Option<String>,
    pub created_by: Option<uuid::Uuid>,
    pub closed_by: Option<uuid::Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The export of the person's data (access requests), once asked for.
    pub export: Option<ExportDto>,
}

/// Where the export of an access request's data is.
#[derive(Serialize, ToSchema)]
pub struct ExportDto {
    /// `pending`, `ready`, `downloaded` or `failed`.
    #[schema(example = "ready")]
    pub status: String,
    pub size_bytes: Option<u64>,
    /// Why it could not be made.
    pub error: Option<String>,
    pub ready_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub downloaded_at: Option<DateTime<Utc>>,
    /// While ready: the link (relative to the server) that downloads the
    /// ZIP once, for whoever holds it, until `expires_at`.
    pub download_url: Option<String>,
}

/// The signature an export's download link carries.
fn export_signature(state: &AppState, id: uuid::Uuid, hash: &str, expires: i64) -> String {
    state.attachments.sign("data export", &[&id.to_string(), hash, &expires.to_string()])
}

fn to_dto(state: &AppState, r: DataRequest) -> DataRequestDto {
    let export = r.export.clone().map(|e| {
        let download_url = match (&e.hash, e.expires_at, e.status) {
            (Some(hash), Some(expires), ExportStatus::Ready) => {
                let expires = expires.timestamp();
                Some(format!(
                    "/api/v1/data-exports/{}?e={expires}&s={}",
                    r.id,
                    export_signature(state, r.id, hash, expires)
                ))
            }
            _ => None,
        };
        ExportDto {
            status: e.status.as_str().to_owned(),
            size_bytes: e.size_bytes,
            error: e.error,
            ready_at: e.ready_at,
            expires_at: e.expires_at,
            downloaded_at: e.downloaded_at,
            download_url,
        }
    });
    DataRequestDto { export, ..DataRequestDto::from(r) }
}

impl From<DataRequest> for DataRequestDto {
    fn from(r: DataRequest) -> Self {
        DataRequestDto {
            export: None,
            urgency: r.urgency(store::now()).map(|u| u.as_str().to_owned()),
            id: r.id,
            contact_id: r.contact_id.0,
            kind: r.kind.into(),
            status: r.status.into(),
            details: r.details,
            unit_id: r.unit_id.0,
            received_at: r.received_at,
            due_at: r.due_at,
            warn_at: r.warn_at,
            resolution: r.resolution,
            created_by: r.created_by.map(|u| u.0),
            closed_by: r.closed_by.map(|u| u.0),
            closed_at: r.closed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDataRequest {
    pub kind: DataRequestKind,
    /// What the person asks, in their words (what to correct, say).
    #[serde(default)]
    pub details: String,
    /// The unit that answers it; defaults to the server's `privacy.requests_unit`.
    pub unit_id: Option<uuid::Uuid>,
    /// When it was received, if earlier than now (a letter); within the past year.
    pub received_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDataRequest {
    /// `done` or `refused`.
    pub status: DataRequestStatus,
    /// What was done, or the reasons for refusing (told to the person).
    pub resolution: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `open` by default.
    pub status: Option<DataRequestStatus>,
    pub kind: Option<DataRequestKind>,
    pub unit_id: Option<uuid::Uuid>,
    pub contact_id: Option<uuid::Uuid>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<u64>,
}

/// Requests of the units a caller may see: admins and `contacts:read`
/// tokens all, staff those of their units.
fn request_units(principal: &Principal) -> Result<Units, ApiError> {
    match principal {
        p if p.is_admin_or_token(Scope::ContactsRead) => Ok(None),
        Principal::User { memberships, .. } => Ok(Some(memberships.iter().map(|m| m.unit_id).collect())),
        Principal::Token { .. } => Err(ApiError::Forbidden("this needs the contacts:read scope")),
    }
}

/// Files a data-subject request about a contact: access, rectification,
/// erasure or revocation. Its deadline is counted in business days of the
/// answering unit's calendar; the unit's supervisors are told.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateDataRequest,
    responses(
        (status = 201, body = DataRequestDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/contacts/{contact_id}/requests")]
pub async fn create_data_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateDataRequest>,
) -> Result<HttpResponse, ApiError> {
    let visibility = write_visibility(&auth.0)?;
    let body = body.0;
    let mut check = Checker::default();
    let details = body.details.trim().to_owned();
    if details.chars().count() > 5000 {
        check.push("details", "must be at most 5000 characters");
    }
    let now = Utc::now();
    let received_at = body.received_at.unwrap_or(now);
    if received_at > now + chrono::Duration::minutes(5) || received_at < now - chrono::Duration::days(366) {
        check.push("received_at", "must be a moment within the past year, not in the future");
    }
    let unit = match body.unit_id {
        Some(id) => Some(UnitId(id)),
        None => match &state.config.privacy.requests_unit {
            Some(slug) => store::unit::find_by_slug(&state.store.db, slug).await?.map(|u| u.id),
            None => None,
        },
    };
    if unit.is_none() {
        check.push("unit_id", "name the unit that answers it (no `privacy.requests_unit` is configured)");
    }
    check.finish()?;
    let Some(unit_id) = unit else { return Err(ApiError::internal("checked values missing")) };
    let new = store::data_request::NewDataRequest { kind: body.kind.into(), details, unit_id, received_at };
    let contact = ContactId(path.into_inner());
    super::idempotency::run(&state, &req, &auth.0, || async {
        let deadlines = &state.config.privacy.deadlines;
        let actor = Actor::from(&auth.0);
        let request = store::data_request::create(&state.store, &actor, &visibility, contact, new, deadlines).await?;
        super::idempotency::created(&to_dto(&state, request))
    })
    .await
}

/// A contact's data-subject requests, soonest deadline first: whoever may
/// see the person sees what they asked and where it stands.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ListResponse<DataRequestDto>), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/contacts/{contact_id}/requests")]
pub async fn list_contact_requests(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let contact = ContactId(path.into_inner());
    store::contact::get(&state.store.db, &visibility(&auth.0)?, contact).await?;
    let filter = store::data_request::Filter { contact_id: Some(contact), ..Default::default() };
    let requests = store::data_request::list(&state.store.db, &None, &filter, 500).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(requests.into_iter().map(|r| to_dto(&state, r)).collect(), None)))
}

/// The queue of data-subject requests of the caller's units (every unit
/// for admins), open ones by default, soonest deadline first.
#[utoipa::path(
    tag = "contacts",
    params(QueueQuery),
    responses((status = 200, body = ListResponse<DataRequestDto>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/data-requests")]
pub async fn list_data_requests(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let units = request_units(&auth.0)?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 500"));
    }
    let filter = store::data_request::Filter {
        status: Some(query.status.unwrap_or(DataRequestStatus::Open).into()),
        kind: query.kind.map(Into::into),
        unit_id: query.unit_id.map(UnitId),
        contact_id: query.contact_id.map(ContactId),
    };
    let requests = store::data_request::list(&state.store.db, &units, &filter, limit).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(requests.into_iter().map(|r| to_dto(&state, r)).collect(), None)))
}

#[utoipa::path(
    tag = "contacts",
    params(("request_id" = uuid::Uuid, Path)),
    responses((status = 200, body = DataRequestDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/data-requests/{request_id}")]
pub async fn get_data_request(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let units = request_units(&auth.0)?;
    let request = store::data_request::get(&state.store.db, &units, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(to_dto(&state, request)))
}

/// Answers an open request, `done` or `refused`, saying what was done or
/// why not (staff of the answering unit, admins, `contacts:write` tokens).
/// A revocation done records the withdrawal of the authorisation.
#[utoipa::path(
    tag = "contacts",
    params(("request_id" = uuid::Uuid, Path)),
    request_body = AnswerDataRequest,
    responses(
        (status = 200, body = DataRequestDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/data-requests/{request_id}")]
pub async fn answer_data_request(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<AnswerDataRequest>,
) -> Result<HttpResponse, ApiError> {
    if matches!(auth.0, Principal::Token { .. }) {
        require(auth.0.token_has(Scope::ContactsWrite), "this needs the contacts:write scope")?;
    }
    let units = request_units(&auth.0)?;
    let body = body.0;
    if body.status == DataRequestStatus::Open {
        return Err(ApiError::field("status", "an answer is `done` or `refused`"));
    }
    let resolution = required_text("resolution", &body.resolution, 5000)?;
    let actor = Actor::from(&auth.0);
    let id = path.into_inner();
    let request = store::data_request::close(&state.store, &actor, &units, id, body.status.into(), resolution).await?;
    Ok(HttpResponse::Ok().json(to_dto(&state, request)))
}

/// Puts together everything held about the person of an access request
/// (a job): a ZIP with the data as JSON, a readable summary and their
/// files, downloadable once through the link the request then shows.
/// Asked again, it is made again.
#[utoipa::path(
    tag = "contacts",
    params(("request_id" = uuid::Uuid, Path)),
    responses(
        (status = 202, body = DataRequestDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/data-requests/{request_id}/export")]
pub async fn export_data_request(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    if matches!(auth.0, Principal::Token { .. }) {
        require(auth.0.token_has(Scope::ContactsWrite), "this needs the contacts:write scope")?;
    }
    let units = request_units(&auth.0)?;
    let actor = Actor::from(&auth.0);
    let request = store::data_request::request_export(&state.store, &actor, &units, path.into_inner()).await?;
    state.store.jobs_wake.notify_one();
    Ok(HttpResponse::Accepted().json(to_dto(&state, request)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportLink {
    /// When the link expires (Unix seconds).
    pub e: i64,
    /// Its signature.
    pub s: String,
}

/// Downloads the export of a person's data, once: the link an access
/// request shows while its export is ready. Afterwards, or once expired,
/// it answers 410 and the file is gone.
#[utoipa::path(
    tag = "contacts",
    params(("request_id" = uuid::Uuid, Path), ExportLink),
    responses(
        (status = 200, content_type = "application/zip", description = "The ZIP"),
        (status = 403, body = Problem), (status = 410, body = Problem), (status = 429, body = Problem)
    ),
    security(())
)]
#[get("/data-exports/{request_id}")]
pub async fn download_export(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<uuid::Uuid>,
    query: web::Query<ExportLink>,
) -> Result<HttpResponse, ApiError> {
    let ip = super::auth::client_ip(&req, &state);
    state.public_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
    let id = path.into_inner();
    let gone = || ApiError::Gone("this download link was used already or has expired");
    let request = match store::data_request::get_unscoped(&state.store.db, id).await {
        Ok(request) => request,
        Err(store::Error::NotFound(_)) => return Err(ApiError::Forbidden("this link is not valid")),
        Err(e) => return Err(e.into()),
    };
    let hash = request.export.as_ref().and_then(|e| e.hash.clone());
    let signed = |hash: &str| {
        state.attachments.verify_signature("data export", &[&id.to_string(), hash, &query.e.to_string()], &query.s)
    };
    let Some(hash) = hash else {
        return Err(gone());
    };
    if !signed(&hash) {
        return Err(ApiError::Forbidden("this link is not valid"));
    }
    if query.e < Utc::now().timestamp() {
        return Err(gone());
    }
    let bytes = state.attachments.read(&hash).await.map_err(|_| gone())?;
    if !store::data_request::take_export(&state.store, id, &hash).await? {
        return Err(gone());
    }
    if let Err(e) = state.attachments.remove(&hash).await {
        tracing::warn!(request = %id, error = %e, "cannot remove a downloaded export");
    }
    // The link is the permission: the record says when and from where it was used.
    let entry = store::audit::Entry {
        actor: &crate::domain::Actor::System,
        action: "data_export.downloaded",
        target_kind: "data_request",
        target_id: id.to_string(),
        unit_id: Some(request.unit_id),
        details: serde_json::json!({ "contact_id": request.contact_id, "ip": ip, "bytes": bytes.len() }),
    };
    store::audit::record_read(&state.store, entry).await?;
    let name = format!("datos-personales-{}.zip", &id.simple().to_string()[..8]);
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header(("content-disposition", format!("attachment; filename=\"{name}\"")))
        .insert_header(("cache-control", "no-store"))
        .body(bytes))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// Only say what would be removed.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an erasure removes, or would remove (a dry run).
#[derive(Serialize, ToSchema)]
pub struct ErasureDto {
    /// `dry_run`, `started` (a job anonymises the person) or `erased`.
    #[schema(example = "dry_run")]
    pub status: String,
    /// What holds the person's data, if anything: the erasure is refused.
    pub legal_hold: Option<String>,
    pub cases: u64,
    pub messages: u64,
    pub notes: u64,
    pub files: u64,
    pub identities: u64,
    pub merged_records: u64,
    pub survey_comments: u64,
    pub exports: u64,
}

fn erasure_dto(status: &str, legal_hold: Option<String>, r: store::erasure::Report) -> ErasureDto {
    ErasureDto {
        status: status.to_owned(),
        legal_hold,
        cases: r.cases,
        messages: r.messages,
        notes: r.notes,
        files: r.files,
        identities: r.identities,
        merged_records: r.merged_records,
        survey_comments: r.survey_comments,
        exports: r.exports,
    }
}

/// Erases the person of an erasure request: their contact loses name,
/// attributes and identities, what they wrote and their comments are
/// replaced by a marker, staff's messages and notes lose the person's
/// name, addresses and numbers, their files and unsent exports are
/// removed; case statistics and the audit trail stay. Refused (409) while
/// the person or one of their cases is under legal hold. `dry_run` only
/// says what would go. Idempotent.
#[utoipa::path(
    tag = "contacts",
    params(("request_id" = uuid::Uuid, Path)),
    request_body = EraseRequest,
    responses(
        (status = 200, body = ErasureDto, description = "A dry run, or already erased"),
        (status = 202, body = ErasureDto, description = "Started"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/data-requests/{request_id}/erase")]
pub async fn erase_data_request(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<EraseRequest>,
) -> Result<HttpResponse, ApiError> {
    if matches!(auth.0, Principal::Token { .. }) {
        require(auth.0.token_has(Scope::ContactsWrite), "this needs the contacts:write scope")?;
    }
    let units = request_units(&auth.0)?;
    let request = store::data_request::get(&state.store.db, &units, path.into_inner()).await?;
    if request.kind != crate::domain::DataRequestKind::Erasure {
        return Err(ApiError::Conflict { field: "kind".into(), message: "only an erasure request erases".into() });
    }
    let contact = store::contact::get(&state.store.db, &store::contact::Visibility::All, request.contact_id).await?;
    if body.0.dry_run {
        let hold = store::erasure::hold_of(&state.store.db, request.contact_id).await?;
        let (report, _) = store::erasure::plan(&state.store.db, request.contact_id).await?;
        return Ok(HttpResponse::Ok().json(erasure_dto("dry_run", hold, report)));
    }
    if contact.erased_at.is_some() {
        return Ok(HttpResponse::Ok().json(erasure_dto("erased", None, Default::default())));
    }
    let report = store::erasure::start(&state.store, &Actor::from(&auth.0), request.contact_id).await?;
    state.store.jobs_wake.notify_one();
    Ok(HttpResponse::Accepted().json(erasure_dto("started", None, report)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHold {
    /// Why the data must be kept (a lawsuit, an inquiry, a sector rule).
    #[schema(example = "Proceso judicial 2026-00123")]
    pub reason: String,
}

/// A case's legal hold.
#[derive(Serialize, ToSchema)]
pub struct CaseHoldDto {
    pub case_id: uuid::Uuid,
    pub legal_hold: Option<String>,
}

fn hold_reason(body: LegalHold) -> Result<String, ApiError> {
    Ok(required_text("reason", &body.reason, 500)?)
}

/// Only admins hold or lift; others learn nothing of a case or person
/// they cannot see (404), and are refused one they can (403).
async fn may_hold(
    state: &AppState,
    principal: &Principal,
    case: Option<crate::domain::CaseId>,
    contact: Option<ContactId>,
) -> Result<(), ApiError> {
    if principal.is_admin() {
        return Ok(());
    }
    if let Some(case) = case {
        let units = principal.case_units();
        store::case::get(&state.store.db, units.as_deref(), case).await?;
    }
    if let Some(contact) = contact {
        store::contact::get(&state.store.db, &store::contact::Visibility::of(principal), contact).await?;
    }
    Err(ApiError::Forbidden("only admins place or lift legal holds"))
}

/// Puts a person's data under legal hold (admins): nothing of theirs is
/// erased or expired until it is lifted.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    request_body = LegalHold,
    responses((status = 200, body = super::contact::ContactDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[put("/contacts/{contact_id}/legal-hold")]
pub async fn hold_contact(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<LegalHold>,
) -> Result<HttpResponse, ApiError> {
    let id = ContactId(path.into_inner());
    may_hold(&state, &auth.0, None, Some(id)).await?;
    let reason = hold_reason(body.0)?;
    store::erasure::hold_contact(&state.store, &Actor::from(&auth.0), id, Some(reason)).await?;
    let contact = store::contact::get(&state.store.db, &store::contact::Visibility::All, id).await?;
    Ok(HttpResponse::Ok().json(super::contact::ContactDto::from(contact)))
}

/// Lifts a person's legal hold (admins).
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    responses((status = 200, body = super::contact::ContactDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/contacts/{contact_id}/legal-hold")]
pub async fn lift_contact_hold(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ContactId(path.into_inner());
    may_hold(&state, &auth.0, None, Some(id)).await?;
    store::erasure::hold_contact(&state.store, &Actor::from(&auth.0), id, None).await?;
    let contact = store::contact::get(&state.store.db, &store::contact::Visibility::All, id).await?;
    Ok(HttpResponse::Ok().json(super::contact::ContactDto::from(contact)))
}

/// Puts a case under legal hold (admins): its person's data is not erased
/// and the case does not expire until it is lifted.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    request_body = LegalHold,
    responses((status = 200, body = CaseHoldDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[put("/cases/{case_id}/legal-hold")]
pub async fn hold_case(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<LegalHold>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::domain::CaseId(path.into_inner());
    may_hold(&state, &auth.0, Some(id), None).await?;
    let reason = hold_reason(body.0)?;
    store::erasure::hold_case(&state.store, &Actor::from(&auth.0), id, Some(reason)).await?;
    let legal_hold = store::erasure::case_hold(&state.store.db, id).await?;
    Ok(HttpResponse::Ok().json(CaseHoldDto { case_id: id.0, legal_hold }))
}

/// Lifts a case's legal hold (admins).
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    responses((status = 200, body = CaseHoldDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/cases/{case_id}/legal-hold")]
pub async fn lift_case_hold(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::domain::CaseId(path.into_inner());
    may_hold(&state, &auth.0, Some(id), None).await?;
    store::erasure::hold_case(&state.store, &Actor::from(&auth.0), id, None).await?;
    Ok(HttpResponse::Ok().json(CaseHoldDto { case_id: id.0, legal_hold: None }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RunRetention {
    /// Only say what a run would do.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a retention run did (or would do) in one unit.
#[derive(Serialize, ToSchema)]
pub struct RetentionUnitDto {
    pub unit_id: uuid::Uuid,
    pub unit: String,
    /// Cases whose people's data was anonymised.
    pub cases_anonymised: u64,
    /// Kept files removed from messages.
    pub files_removed: u64,
    /// Cases left alone because a legal hold keeps them.
    pub held: u64,
}

#[derive(Serialize, ToSchema)]
pub struct RetentionDto {
    pub dry_run: bool,
    pub units: Vec<RetentionUnitDto>,
    /// Audit entries older than `privacy.audit_retention_months` removed
    /// (cases' timeline steps stay with their case); 0 when none is set.
    pub audit_entries_removed: u64,
}

/// Applies every unit's retention policy now (admins; it also runs daily):
/// cases resolved or closed longer ago than the unit's
/// `privacy.retention.anonymise_after_months` are anonymised, files older
/// than `files_after_months` removed, per channel where a channel says
/// otherwise; whatever a legal hold keeps is left and counted; audit entries
/// older than `privacy.audit_retention_months` are removed. `dry_run` only
/// reports.
#[utoipa::path(
    tag = "contacts",
    request_body = RunRetention,
    responses((status = 200, body = RetentionDto), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[post("/retention/run")]
pub async fn run_retention(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<RunRetention>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.is_admin(), "only admins run the retention policies")?;
    let dry_run = body.0.dry_run;
    let reports = crate::privacy::retention(&state.store, &state.attachments, dry_run).await?;
    let units = reports
        .into_iter()
        .map(|r| RetentionUnitDto {
            unit_id: r.unit_id,
            unit: r.unit,
            cases_anonymised: r.cases_anonymised,
            files_removed: r.files_removed,
            held: r.held,
        })
        .collect();
    let months = state.config.privacy.audit_retention_months;
    let audit_entries_removed = crate::privacy::audit_retention(&state.store, months, dry_run).await?;
    Ok(HttpResponse::Ok().json(RetentionDto { dry_run, units, audit_entries_removed }))
}
