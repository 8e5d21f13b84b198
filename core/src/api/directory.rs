//! Directory sync on demand: an admin reads an `[[auth.ldap]]` directory
//! now instead of waiting for its schedule (after moving people between
//! groups, say), and sees what it did.

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{Auth, require};
use crate::api::AppState;
use crate::directory::Report;
use crate::store;

/// The last time a directory was read, and what it did.
#[derive(Serialize, ToSchema)]
pub struct LastSync {
    pub at: chrono::DateTime<chrono::Utc>,
    pub report: Report,
}

/// A directory of `[[auth.ldap]]`, as admins see it (never its password).
#[derive(Serialize, ToSchema)]
pub struct DirectoryDto {
    #[schema(example = "ad")]
    pub id: String,
    #[schema(example = "ldaps://dc1.universidad.local")]
    pub url: String,
    pub base_dn: String,
    /// 0: only when an admin asks.
    pub sync_every_minutes: u64,
    pub password_sign_in: bool,
    /// Accounts that follow it and are active in it.
    pub accounts: u64,
    pub last_sync: Option<LastSync>,
}

#[derive(Serialize, ToSchema)]
pub struct DirectoryList {
    pub items: Vec<DirectoryDto>,
}

/// The configured directories, with their accounts and last sync. Admins only.
#[utoipa::path(
    tag = "users",
    responses((status = 200, body = DirectoryList), (status = 403, body = super::error::Problem)),
    security(("bearer" = []))
)]
#[get("/directories")]
pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require(auth.0.is_admin(), "only administrators see the directories")?;
    let db = &state.store.db;
    let mut items = Vec::new();
    for dir in &state.config.auth.ldap {
        let last = store::audit::latest(db, "directory.synced", "directory", &dir.id).await?;
        items.push(DirectoryDto {
            id: dir.id.clone(),
            url: dir.url.clone(),
            base_dn: dir.base_dn.clone(),
            sync_every_minutes: dir.sync_every_minutes,
            password_sign_in: dir.password_sign_in,
            accounts: store::directory::present(db, &dir.id).await?,
            last_sync: last
                .and_then(|(at, details)| Some(LastSync { at, report: serde_json::from_value(details).ok()? })),
        });
    }
    Ok(HttpResponse::Ok().json(DirectoryList { items }))
}

/// Reads the directory now and brings its people's accounts in step:
/// accounts made, joined, updated, brought back and deactivated. Admins only.
#[utoipa::path(
    tag = "users",
    params(("directory" = String, Path, description = "The directory's id in `[[auth.ldap]]`")),
    responses(
        (status = 200, body = Report),
        (status = 403, body = super::error::Problem),
        (status = 404, body = super::error::Problem),
        (status = 503, description = "The directory cannot be read now (nothing changed)", body = super::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/directories/{directory}/sync")]
pub async fn sync(state: web::Data<AppState>, auth: Auth, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    require(auth.0.is_admin(), "only administrators read a directory")?;
    let id = path.into_inner();
    let dir = state.config.auth.ldap.iter().find(|d| d.id == id).ok_or(ApiError::NotFound("directory"))?;
    match crate::directory::sync(&state, dir).await {
        Ok(report) => Ok(HttpResponse::Ok().json(report)),
        Err(crate::directory::Error::Directory(why)) => Err(ApiError::Unavailable(why)),
        Err(crate::directory::Error::Store(e)) => Err(e.into()),
    }
}
