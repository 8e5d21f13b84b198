//! The plugin registry (admins): upload a component with its manifest,
//! list, read and delete versions. Uploads are checked before they are
//! stored: the manifest, that the file is a component, and that it really
//! implements the world it declares.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{Auth, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::Actor;
use crate::plugins::manifest::{MAX_MANIFEST_BYTES, Manifest};
use crate::store::{self, plugin::PluginVersion};

/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 20 * 1024 * 1024;

#[derive(Serialize, ToSchema)]
pub struct PluginVersionDto {
    pub version: String,
    pub name: String,
    /// `bot`, `protocol` or `connector`.
    pub world: String,
    pub wit: String,
    pub description: String,
    /// SHA-256 of the component.
    pub sha256: String,
    pub size_bytes: i64,
    pub uploaded_at: DateTime<Utc>,
    /// The JSON Schema of an install's settings (the console builds its
    /// form from it).
    pub settings_schema: serde_json::Value,
    /// What the plugin asks to be granted.
    pub requested: super::plugin_install::GrantsDto,
}

#[derive(Serialize, ToSchema)]
pub struct PluginDto {
    pub id: String,
    pub name: String,
    pub world: String,
    pub latest_version: String,
    /// Oldest first.
    pub versions: Vec<PluginVersionDto>,
}

/// The multipart form of an upload (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadPlugin {
    /// The plugin.toml manifest.
    manifest: String,
    /// The WebAssembly component (.wasm).
    #[schema(value_type = String, format = Binary)]
    component: Vec<u8>,
}

impl From<PluginVersion> for PluginVersionDto {
    fn from(v: PluginVersion) -> Self {
        let manifest = Manifest::parse(&v.manifest).ok();
        PluginVersionDto {
            version: v.version,
            name: v.name,
            world: v.world,
            wit: v.wit,
            description: v.description,
            sha256: v.wasm_hash,
            size_bytes: v.size_bytes,
            uploaded_at: v.created_at,
            // A stored manifest was checked when it was uploaded.
            settings_schema: manifest.as_ref().map(|m| m.settings_schema.clone()).unwrap_or_default(),
            requested: manifest.map(|m| m.capabilities.into()).unwrap_or_default(),
        }
    }
}

/// Groups versions (ordered by plugin, then age) into plugins.
fn group(versions: Vec<PluginVersion>) -> Vec<PluginDto> {
    let mut plugins: Vec<PluginDto> = vec![];
    for version in versions {
        match plugins.last_mut() {
            Some(plugin) if plugin.id == version.plugin_id => {
                plugin.name = version.name.clone();
                plugin.latest_version = version.version.clone();
                plugin.versions.push(version.into());
            }
            _ => plugins.push(PluginDto {
                id: version.plugin_id.clone(),
                name: version.name.clone(),
                world: version.world.clone(),
                latest_version: version.version.clone(),
                versions: vec![version.into()],
            }),
        }
    }
    plugins
}

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    require(auth.0.is_admin(), "only admins manage plugins")
}

/// Reads the `manifest` and `component` parts, each within its cap.
async fn read_upload(req: &HttpRequest, payload: web::Payload) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    let is_multipart = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(ApiError::BadRequest(
            "send the plugin as multipart/form-data with `manifest` and `component`".into(),
        ));
    }
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let (mut manifest, mut component) = (None, None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?;
        let name = field.name().unwrap_or_default().to_owned();
        let cap = match name.as_str() {
            "manifest" => MAX_MANIFEST_BYTES,
            "component" => MAX_COMPONENT_BYTES,
            other => return Err(ApiError::field(other, "unknown part; send `manifest` and `component`")),
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?;
            if bytes.len() + chunk.len() > cap {
                return Err(ApiError::PayloadTooLarge(cap));
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "manifest" { manifest = Some(bytes) } else { component = Some(bytes) }
    }
    match (manifest, component) {
        (Some(manifest), Some(component)) => Ok((manifest, component)),
        (None, _) => Err(ApiError::field("manifest", "the plugin.toml part is missing")),
        (_, None) => Err(ApiError::field("component", "the .wasm part is missing")),
    }
}

/// Uploads a plugin version: `manifest` (plugin.toml) and `component` (.wasm)
/// as multipart/form-data. The component is compiled and checked against the
/// world its manifest declares before anything is stored.
#[utoipa::path(
    tag = "plugins",
    request_body(content = UploadPlugin, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = PluginVersionDto),
        (status = 409, description = "This version was already uploaded", body = Problem),
        (status = 422, description = "Bad manifest, not a component, or wrong world", body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/plugins")]
pub async fn upload_plugin(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let (manifest_bytes, wasm) = read_upload(&req, payload).await?;
    let text = String::from_utf8(manifest_bytes).map_err(|_| ApiError::field("manifest", "must be UTF-8 text"))?;
    let manifest = Manifest::parse(&text).map_err(|e| ApiError::field(format!("manifest.{}", e.key), e.message))?;
    let host = state.plugins.clone();
    let world = manifest.world;
    let checked = web::block(move || {
        let compiled = host.compile(&wasm)?;
        host.prepare(&compiled, world)?;
        Ok::<_, crate::plugins::Error>((compiled.hash, wasm))
    })
    .await
    .map_err(ApiError::internal)?;
    let (hash, wasm) = checked.map_err(|e| ApiError::field("component", e.to_string()))?;
    let new = store::plugin::NewPluginVersion {
        plugin_id: manifest.id,
        version: manifest.version,
        name: manifest.name,
        world: manifest.world.as_str().to_owned(),
        wit: manifest.wit,
        description: manifest.description,
        manifest: text,
        wasm_hash: hash,
        wasm,
    };
    let version = store::plugin::create(&state.store, &Actor::from(&auth.0), new).await?;
    state.runtime.forget(&version.plugin_id, &version.version);
    Ok(HttpResponse::Created().json(PluginVersionDto::from(version)))
}

/// Every uploaded plugin with its versions.
#[utoipa::path(
    tag = "plugins",
    responses((status = 200, body = ListResponse<PluginDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/plugins")]
pub async fn list_plugins(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let versions = store::plugin::list(&state.store.db).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(group(versions), None)))
}

#[utoipa::path(
    tag = "plugins",
    params(("plugin_id" = String, Path)),
    responses((status = 200, body = PluginDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/plugins/{plugin_id}")]
pub async fn get_plugin(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let versions = store::plugin::versions(&state.store.db, &path.into_inner()).await?;
    let plugin = group(versions).into_iter().next().ok_or(ApiError::NotFound("plugin"))?;
    Ok(HttpResponse::Ok().json(plugin))
}

/// Deletes one uploaded version.
#[utoipa::path(
    tag = "plugins",
    params(("plugin_id" = String, Path), ("version" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/plugins/{plugin_id}/versions/{version}")]
pub async fn delete_plugin_version(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let (plugin_id, version) = path.into_inner();
    store::plugin::delete(&state.store, &Actor::from(&auth.0), &plugin_id, &version).await?;
    state.runtime.forget(&plugin_id, &version);
    Ok(HttpResponse::NoContent().finish())
}
