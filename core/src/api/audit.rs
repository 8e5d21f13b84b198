//! The audit log, read by admins and `audit:read` tokens.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::{Auth, PageParams, require_admin_or};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::{AuditEvent, Scope};
use crate::store::{self, audit::AuditFilter};

#[derive(Serialize, ToSchema)]
pub struct AuditEventDto {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    /// `user`, `api_token`, `plugin` or `system`.
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub unit_id: Option<uuid::Uuid>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEvent> for AuditEventDto {
    fn from(e: AuditEvent) -> Self {
        AuditEventDto {
            id: e.id.0,
            at: e.at,
            actor_kind: e.actor.kind().to_owned(),
            actor_id: e.actor.id_text(),
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            unit_id: e.unit_id.map(|u| u.0),
            details: e.details,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `case.assigned`; ending in `.` (`auth.`), every action so named.
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Newest first.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery, PageParams),
    responses((status = 200, body = ListResponse<AuditEventDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<AuditQuery>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    require_admin_or(&auth.0, Scope::AuditRead)?;
    let page = params.page()?;
    let filter = filter_of(query.into_inner());
    let (events, next) = store::audit::list(&state.store.db, &filter, &page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(events.into_iter().map(AuditEventDto::from).collect(), next)))
}

fn filter_of(q: AuditQuery) -> AuditFilter {
    let (action, action_prefix) = match q.action {
        Some(a) if a.ends_with('.') => (None, Some(a)),
        other => (other, None),
    };
    AuditFilter {
        action,
        action_prefix,
        target_kind: q.target_kind,
        target_id: q.target_id,
        actor_id: q.actor_id,
        since: q.since,
        until: q.until,
    }
}

/// Most entries one CSV export holds: a larger period is asked in parts.
pub const EXPORT_MAX: usize = 100_000;

/// The entries the filters choose, newest first, as CSV (`details` as JSON;
/// text a spreadsheet would run as a formula is neutralised). The export
/// itself is recorded.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, content_type = "text/csv", description = "at, actor_kind, actor_id, action, target_kind, target_id, unit_id, details"),
        (status = 403, body = Problem),
        (status = 422, description = "More than 100,000 entries: narrow the period", body = Problem),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events/export")]
pub async fn export_audit_events(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    require_admin_or(&auth.0, Scope::AuditRead)?;
    let filter = filter_of(query.into_inner());
    let mut writer = csv::Writer::from_writer(vec![]);
    let header = ["at", "actor_kind", "actor_id", "action", "target_kind", "target_id", "unit_id", "details"];
    writer.write_record(header).map_err(ApiError::internal)?;
    let mut page = store::pagination::Page { limit: 1000, after: None };
    let mut rows = 0usize;
    loop {
        let (events, next) = store::audit::list(&state.store.db, &filter, &page).await?;
        rows += events.len();
        if rows > EXPORT_MAX {
            return Err(ApiError::field("since", format!("more than {EXPORT_MAX} entries; export a shorter period")));
        }
        for e in events {
            let cells = [
                e.at.to_rfc3339(),
                e.actor.kind().to_owned(),
                e.actor.id_text(),
                e.action,
                e.target_kind,
                e.target_id,
                e.unit_id.map(|u| u.to_string()).unwrap_or_default(),
                e.details.to_string(),
            ];
            writer
                .write_record(cells.iter().map(|c| crate::spreadsheet::export_cell(c).into_owned()))
                .map_err(ApiError::internal)?;
        }
        match next.as_deref().and_then(store::pagination::Cursor::decode) {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    let read = super::read_log::Read {
        action: "audit.exported",
        target_kind: "audit",
        target_id: "audit-events".into(),
        unit: None,
        details: serde_json::json!({ "rows": rows, "action": filter.action.or(filter.action_prefix),
            "target_kind": filter.target_kind, "target_id": filter.target_id, "actor_id": filter.actor_id,
            "since": filter.since, "until": filter.until }),
    };
    super::read_log::export(&state, &auth.0, read).await?;
    let bytes = writer.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("content-disposition", "attachment; filename=\"registro-de-auditoria.csv\""))
        .body(bytes))
}
