//! Directory sync on demand: an admin reads an `[[auth.ldap]]` directory
//! now instead of waiting for its schedule (after moving people between
//! groups, say), and sees what it did.

use actix_web::{HttpResponse, post, web};

use super::error::ApiError;
use super::extract::{Auth, require};
use crate::api::AppState;
use crate::directory::Report;

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
