//! The signed-in user's notifications: what plugins, protocols and the
//! system asked to tell them.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::{Auth, PageParams};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::store::{self, notification::Notification};

#[derive(Serialize, ToSchema)]
pub struct NotificationDto {
    pub id: uuid::Uuid,
    pub case_id: Option<uuid::Uuid>,
    /// `plugin`, `protocol_failed`, `plugin_suspended`...
    pub kind: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationDto {
    fn from(n: Notification) -> Self {
        NotificationDto {
            id: n.id,
            case_id: n.case_id,
            kind: n.kind,
            text: n.text,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// Only those not yet read.
    #[serde(default)]
    pub unread: bool,
}

fn user_of(auth: &Auth) -> Result<crate::domain::UserId, ApiError> {
    auth.0.user_id().ok_or(ApiError::Forbidden("notifications belong to signed-in users"))
}

/// The caller's notifications, newest first.
#[utoipa::path(
    tag = "notifications",
    params(NotificationFilter, PageParams),
    responses((status = 200, body = ListResponse<NotificationDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    auth: Auth,
    filter: web::Query<NotificationFilter>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let user = user_of(&auth)?;
    let page = page.page()?;
    let (items, next) = store::notification::list(&state.store.db, user, filter.unread, &page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(items.into_iter().map(NotificationDto::from).collect(), next)))
}

/// Marks one of the caller's notifications read.
#[utoipa::path(
    tag = "notifications",
    params(("notification_id" = uuid::Uuid, Path)),
    responses((status = 200, body = NotificationDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[post("/notifications/{notification_id}/read")]
pub async fn read_notification(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = user_of(&auth)?;
    let n = store::notification::mark_read(&state.store, user, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(NotificationDto::from(n)))
}
