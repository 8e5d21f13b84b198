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
    /// e.g. `case.assigned`.
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
    let q = query.into_inner();
    let filter = AuditFilter {
        action: q.action,
        target_kind: q.target_kind,
        target_id: q.target_id,
        actor_id: q.actor_id,
        since: q.since,
        until: q.until,
    };
    let (events, next) = store::audit::list(&state.store.db, &filter, &page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(events.into_iter().map(AuditEventDto::from).collect(), next)))
}
