//! Files: an agent uploads one to a case to send it, and anyone holding a
//! link the server signed (an agent reading the conversation, a provider
//! fetching what is sent) downloads it until the link expires.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::Auth;
use crate::api::AppState;
use crate::attachments::{LinkQuery, Refused};
use crate::domain::CaseId;
use crate::domain::message::{REFERENCE_PREFIX, hash_of};
use crate::store;

/// A kept file, ready to attach to a message.
#[derive(Serialize, ToSchema)]
pub struct UploadedDto {
    /// What a message's `attachments[].reference` names: `sha256:<hex>`.
    pub reference: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// Where it can be downloaded for a while (see `attachments.link_ttl_secs`).
    pub url: String,
}

#[derive(Deserialize, IntoParams)]
pub struct UploadParams {
    /// The file's name as people should see it, e.g. `recibo.pdf`.
    pub file_name: Option<String>,
}

/// The longest file name kept.
const MAX_NAME_CHARS: usize = 200;

/// A file name safe to show and to offer for download: no path, no
/// control characters, not empty.
pub fn clean_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control() && *c != '"').take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() { fallback.to_owned() } else { cleaned }
}

/// Uploads a file to a case, to send with a message
/// (`POST /cases/{id}/messages` with `attachments`). The body is the file,
/// with its `Content-Type`; types outside `attachments.allowed_types`, files
/// whose content does not match their type, and files over
/// `attachments.max_bytes` are refused.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file, with its own Content-Type"),
    responses(
        (status = 201, body = UploadedDto),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 413, body = Problem),
        (status = 422, description = "Type not accepted, or content not of that type", body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/cases/{case_id}/attachments")]
pub async fn upload_attachment(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<UploadParams>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let case = super::case::workable_case(&state, &auth.0, CaseId(path.into_inner())).await?;
    let files = &state.attachments;
    let max = files.config.max_bytes;
    if req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(ApiError::PayloadTooLarge(max));
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    let declared = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let content_type = files.check(declared, &bytes).map_err(|refused| match refused {
        Refused::Empty => ApiError::field("body", refused.to_string()),
        _ => ApiError::field("content_type", refused.to_string()),
    })?;
    let file_name = clean_name(params.file_name.as_deref().unwrap_or_default(), "archivo");
    let size_bytes = bytes.len() as u64;
    let hash = files.put(bytes.to_vec()).await.map_err(ApiError::internal)?;
    let stored = store::attachment::Stored { hash: hash.clone(), content_type: content_type.clone(), size_bytes };
    let tx = state.store.begin().await?;
    store::attachment::record(&*tx, &stored, auth.0.user_id().map(|u| u.0)).await?;
    store::attachment::grant_in(&*tx, &hash, case.id).await?;
    tx.commit().await?;
    let url = files.link(&hash, &content_type, &file_name, files.config.link_ttl_secs);
    Ok(HttpResponse::Created().json(UploadedDto {
        reference: format!("{REFERENCE_PREFIX}{hash}"),
        file_name,
        content_type,
        size_bytes,
        url,
    }))
}

/// Downloads a kept file through a link the server signed; no token, the
/// link is the permission, and it stops working when it expires.
#[utoipa::path(
    tag = "cases",
    params(("hash" = String, Path, description = "The file's SHA-256"), LinkQuery),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 400, body = Problem),
        (status = 403, description = "The link is forged or has expired", body = Problem),
        (status = 404, body = Problem),
        (status = 429, body = Problem)
    ),
    security(())
)]
#[get("/attachments/{hash}")]
pub async fn download_attachment(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let ip = super::auth::client_ip(&req, &state);
    state.public_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
    let hash = path.into_inner();
    let reference = format!("{REFERENCE_PREFIX}{hash}");
    let Some(hash) = hash_of(&reference) else { return Err(ApiError::NotFound("file")) };
    let files = &state.attachments;
    files.verify(hash, &query).map_err(|bad| match bad {
        crate::attachments::BadLink::Forged => ApiError::Forbidden("the link is not valid"),
        crate::attachments::BadLink::Expired => {
            ApiError::Forbidden("the link has expired; open the conversation again for a fresh one")
        }
    })?;
    let bytes = match files.read(hash).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::NotFound("file")),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let inline = ["image/", "audio/", "video/"].iter().any(|p| query.t.starts_with(p)) || query.t == "application/pdf";
    let name = clean_name(&query.n, "archivo");
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' }).collect();
    let encoded = serde_urlencoded::to_string([("", name.as_str())]).unwrap_or_default();
    let encoded = encoded.trim_start_matches('=').replace('+', "%20");
    let disposition =
        format!("{}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}", if inline { "inline" } else { "attachment" });
    Ok(HttpResponse::Ok()
        .content_type(query.t.as_str())
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Even a file opened in the browser runs nothing and reaches nothing.
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .body(bytes))
}
