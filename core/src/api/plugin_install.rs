//! Plugin installs (admins): put an uploaded version to work with settings
//! checked against its schema and grants within what it asks for; enable,
//! disable, upgrade and roll back.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, FieldError, Problem};
use super::extract::{Auth, Json, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::{Actor, required_text};
use crate::plugins::manifest::{Capabilities, Manifest};
use crate::store::{
    self,
    plugin_install::{Install, InstallPatch, NewInstall},
};

/// Capabilities: what a plugin may use.
#[derive(Serialize, Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct GrantsDto {
    pub kv: bool,
    pub kb_search: bool,
    pub case_read: bool,
    pub http_hosts: Vec<String>,
    /// Mail servers (SMTP, IMAP) an e-mail connector may reach.
    pub mail_hosts: Vec<String>,
    pub secrets: Vec<String>,
}

impl From<GrantsDto> for Capabilities {
    fn from(g: GrantsDto) -> Self {
        Capabilities {
            kv: g.kv,
            kb_search: g.kb_search,
            case_read: g.case_read,
            http_hosts: g.http_hosts,
            mail_hosts: g.mail_hosts,
            secrets: g.secrets,
        }
    }
}

impl From<Capabilities> for GrantsDto {
    fn from(c: Capabilities) -> Self {
        GrantsDto {
            kv: c.kv,
            kb_search: c.kb_search,
            case_read: c.case_read,
            http_hosts: c.http_hosts,
            mail_hosts: c.mail_hosts,
            secrets: c.secrets,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InstallDto {
    pub id: uuid::Uuid,
    pub name: String,
    pub plugin_id: String,
    pub version: String,
    /// The version a rollback returns to.
    pub previous_version: Option<String>,
    pub enabled: bool,
    /// `active`; `setup` while a new install waits for the secrets in
    /// `missing_setup` (it enables itself once they are set); or
    /// `suspended` after repeated failures.
    pub status: String,
    pub suspended_reason: Option<String>,
    pub consecutive_failures: i32,
    /// What is still to do before the install can work: each secret it was
    /// granted that has no value yet, with the call that sets it.
    pub missing_setup: Vec<SetupStep>,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// What the admin granted.
    pub grants: GrantsDto,
    /// What the plugin may actually use: the grant within the manifest's request.
    pub effective_grants: GrantsDto,
    /// `bot`, `protocol` or `connector`.
    pub world: String,
    /// Units whose cases it follows (a connector: where new conversations go,
    /// the first one); empty means every unit.
    pub units: Vec<uuid::Uuid>,
    /// Secrets set for the install, by name; values are never returned.
    pub secrets: Vec<SecretInfo>,
    /// For connectors: the address providers deliver webhooks to.
    pub webhook_path: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SecretInfo {
    pub name: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    /// Stored encrypted; never shown again.
    pub value: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstall {
    #[schema(example = "faq-bot")]
    pub plugin_id: String,
    /// Defaults to the latest uploaded version.
    pub version: Option<String>,
    #[schema(example = "Bot de preguntas frecuentes")]
    pub name: String,
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Defaults to granting nothing.
    #[serde(default)]
    pub grants: GrantsDto,
    /// Units whose cases it follows; empty (the default) means every unit.
    #[serde(default)]
    pub units: Vec<uuid::Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInstall {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    pub grants: Option<GrantsDto>,
    pub units: Option<Vec<uuid::Uuid>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeVersion {
    #[schema(example = "1.1.0")]
    pub version: String,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

async fn manifest_of(state: &AppState, plugin_id: &str, version: &str) -> Result<Manifest, ApiError> {
    let text = store::plugin::manifest(&state.store.db, plugin_id, version).await.map_err(|e| match e {
        store::Error::NotFound(_) => {
            ApiError::Conflict { field: "version".into(), message: format!("{plugin_id} has no version {version}") }
        }
        other => other.into(),
    })?;
    Manifest::parse(&text).map_err(|e| ApiError::internal(format!("stored manifest no longer parses: {e}")))
}

/// Something an install still needs before it can work.
#[derive(Serialize, ToSchema)]
pub struct SetupStep {
    /// `secret`.
    pub kind: String,
    pub name: String,
    /// The call that does it, e.g. `PUT /api/v1/plugin-installs/{id}/secrets/app_secret`.
    pub how: String,
}

async fn to_dto(state: &AppState, install: Install) -> Result<InstallDto, ApiError> {
    let manifest = manifest_of(state, &install.plugin_id, &install.version).await?;
    let effective = manifest.capabilities.intersect(&install.granted);
    let secrets: Vec<SecretInfo> = store::plugin_secret::names(&state.store.db, install.id)
        .await?
        .into_iter()
        .map(|(name, updated_at)| SecretInfo { name, updated_at })
        .collect();
    let missing_setup = effective
        .secrets
        .iter()
        .filter(|name| !secrets.iter().any(|s| &s.name == *name))
        .map(|name| SetupStep {
            kind: "secret".into(),
            name: name.clone(),
            how: format!("PUT /api/v1/plugin-installs/{}/secrets/{name}", install.id),
        })
        .collect();
    Ok(InstallDto {
        missing_setup,
        id: install.id,
        name: install.name,
        plugin_id: install.plugin_id,
        version: install.version,
        previous_version: install.previous_version,
        enabled: install.enabled,
        status: install.status,
        suspended_reason: install.suspended_reason,
        consecutive_failures: install.consecutive_failures,
        settings: install.settings,
        grants: install.granted.into(),
        effective_grants: Capabilities {
            kv: effective.kv,
            kb_search: effective.kb_search,
            case_read: effective.case_read,
            http_hosts: effective.http_hosts,
            mail_hosts: effective.mail_hosts,
            secrets: effective.secrets,
        }
        .into(),
        webhook_path: (install.world == "connector").then(|| format!("/api/v1/webhooks/{}", install.id)),
        world: install.world,
        units: install.units.iter().map(|u| u.0).collect(),
        secrets,
        created_at: install.created_at,
        updated_at: install.updated_at,
    })
}

/// Settings must satisfy the version's schema; grants must be things it asks for.
fn check(
    manifest: &Manifest,
    settings: Option<&serde_json::Value>,
    grants: Option<&Capabilities>,
) -> Result<(), ApiError> {
    let mut errors = vec![];
    if let Some(settings) = settings
        && let Err(found) = crate::plugins::settings::validate(&manifest.settings_schema, settings)
    {
        errors.extend(found.into_iter().map(|(field, message)| FieldError { field, message }));
    }
    if let Some(grants) = grants {
        let asked = &manifest.capabilities;
        let mut refuse = |field: String, what: &str| {
            errors.push(FieldError { field, message: format!("the plugin does not ask for {what}") });
        };
        if grants.kv && !asked.kv {
            refuse("grants.kv".into(), "kv");
        }
        if grants.kb_search && !asked.kb_search {
            refuse("grants.kb_search".into(), "kb search");
        }
        if grants.case_read && !asked.case_read {
            refuse("grants.case_read".into(), "case read");
        }
        for (i, host) in grants.http_hosts.iter().enumerate() {
            if !asked.http_hosts.contains(host) {
                refuse(format!("grants.http_hosts[{i}]"), host);
            }
        }
        let any_mail_host = asked.mail_hosts.iter().any(|h| h == "*");
        let mut invalid = vec![];
        for (i, host) in grants.mail_hosts.iter().enumerate() {
            if !crate::plugins::manifest::valid_host(host) || host == "*" {
                invalid.push(FieldError {
                    field: format!("grants.mail_hosts[{i}]"),
                    message: "must be a DNS host name such as smtp.gmail.com".into(),
                });
            } else if !any_mail_host && !asked.mail_hosts.contains(host) {
                refuse(format!("grants.mail_hosts[{i}]"), host);
            }
        }
        for (i, secret) in grants.secrets.iter().enumerate() {
            if !asked.secrets.contains(secret) {
                refuse(format!("grants.secrets[{i}]"), secret);
            }
        }
        errors.extend(invalid);
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}

/// A version change keeps the install's world: a bot stays a bot.
fn same_world(manifest: &Manifest, install: &Install) -> Result<(), ApiError> {
    if manifest.world.as_str() != install.world {
        return Err(ApiError::Conflict {
            field: "version".into(),
            message: format!(
                "version {} is a {} plugin; this install runs a {}",
                manifest.version,
                manifest.world.as_str(),
                install.world
            ),
        });
    }
    Ok(())
}

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    require(auth.0.is_admin(), "only admins manage plugins")
}

/// Installs an uploaded plugin version. An install granted secrets starts
/// disabled, in status `setup`, with `missing_setup` naming each secret and
/// the call that sets it; setting the last one enables it (an admin may
/// enable or disable it before that, and then it stays as they said).
#[utoipa::path(
    tag = "plugins",
    request_body = CreateInstall,
    responses((status = 201, body = InstallDto), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/plugin-installs")]
pub async fn create_install(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateInstall>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let body = body.0;
    let name = required_text("name", &body.name, 200)?;
    let version = match body.version {
        Some(version) => version,
        None => match store::plugin::versions(&state.store.db, &body.plugin_id).await {
            Ok(versions) => versions.last().map(|v| v.version.clone()).unwrap_or_default(),
            Err(store::Error::NotFound(_)) => {
                return Err(ApiError::Conflict {
                    field: "plugin_id".into(),
                    message: "no such plugin was uploaded".into(),
                });
            }
            Err(e) => return Err(e.into()),
        },
    };
    let manifest = manifest_of(&state, &body.plugin_id, &version).await?;
    let granted: Capabilities = body.grants.into();
    check(&manifest, Some(&body.settings), Some(&granted))?;
    // Granted secrets have no values yet: the install waits for them.
    let needs_secrets = manifest.capabilities.intersect(&granted).secrets;
    let new = NewInstall {
        needs_secrets,
        name,
        plugin_id: body.plugin_id,
        version,
        settings: body.settings,
        granted,
        world: manifest.world,
        units: body.units.into_iter().map(crate::domain::UnitId).collect(),
    };
    let install = store::plugin_install::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(to_dto(&state, install).await?))
}

#[utoipa::path(tag = "plugins", responses((status = 200, body = ListResponse<InstallDto>), (status = 403, body = Problem)), security(("bearer" = [])))]
#[get("/plugin-installs")]
pub async fn list_installs(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let mut items = vec![];
    for install in store::plugin_install::list(&state.store.db).await? {
        items.push(to_dto(&state, install).await?);
    }
    Ok(HttpResponse::Ok().json(ListResponse::new(items, None)))
}

#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path)),
    responses((status = 200, body = InstallDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/plugin-installs/{install_id}")]
pub async fn get_install(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let install = store::plugin_install::get(&state.store.db, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(to_dto(&state, install).await?))
}

/// Renames, enables or disables, or changes settings and grants.
#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path)),
    request_body = UpdateInstall,
    responses((status = 200, body = InstallDto), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/plugin-installs/{install_id}")]
pub async fn update_install(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateInstall>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    let current = store::plugin_install::get(&state.store.db, id).await?;
    let body = body.0;
    let name = body.name.as_deref().map(|n| required_text("name", n, 200)).transpose()?;
    let granted: Option<Capabilities> = body.grants.map(Into::into);
    let manifest = manifest_of(&state, &current.plugin_id, &current.version).await?;
    check(&manifest, body.settings.as_ref(), granted.as_ref())?;
    let patch = InstallPatch {
        name,
        enabled: body.enabled,
        settings: body.settings,
        granted,
        units: body.units.map(|units| units.into_iter().map(crate::domain::UnitId).collect()),
        version: None,
    };
    let install = store::plugin_install::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    state.runtime.forget_account(id);
    Ok(HttpResponse::Ok().json(to_dto(&state, install).await?))
}

/// Moves the install to another uploaded version; its settings must satisfy
/// that version's schema. The current version is kept for rollback.
#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path)),
    request_body = ChangeVersion,
    responses((status = 200, body = InstallDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/plugin-installs/{install_id}/upgrade")]
pub async fn upgrade_install(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<ChangeVersion>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    let current = store::plugin_install::get(&state.store.db, id).await?;
    let manifest = manifest_of(&state, &current.plugin_id, &body.0.version).await?;
    same_world(&manifest, &current)?;
    check(&manifest, Some(&current.settings), None)?;
    let patch = InstallPatch { version: Some(body.0.version), ..Default::default() };
    let install = store::plugin_install::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    state.runtime.forget_account(id);
    Ok(HttpResponse::Ok().json(to_dto(&state, install).await?))
}

/// Returns to the version before the last upgrade.
#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path)),
    responses((status = 200, body = InstallDto), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[post("/plugin-installs/{install_id}/rollback")]
pub async fn rollback_install(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    let current = store::plugin_install::get(&state.store.db, id).await?;
    let previous = current.previous_version.clone().ok_or_else(|| ApiError::Conflict {
        field: "version".into(),
        message: "there is no earlier version to roll back to".into(),
    })?;
    let manifest = manifest_of(&state, &current.plugin_id, &previous).await?;
    same_world(&manifest, &current)?;
    check(&manifest, Some(&current.settings), None)?;
    let patch = InstallPatch { version: Some(previous), ..Default::default() };
    let install = store::plugin_install::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    state.runtime.forget_account(id);
    Ok(HttpResponse::Ok().json(to_dto(&state, install).await?))
}

#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Uninstalled"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/plugin-installs/{install_id}")]
pub async fn delete_install(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    store::plugin_install::delete(&state.store, &Actor::from(&auth.0), id).await?;
    state.runtime.forget_account(id);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRun {
    /// What the person writes.
    #[schema(example = "¿Cuándo abren las inscripciones?")]
    pub message: String,
    /// `es` (default), `en` or `pt`.
    pub locale: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct CallError {
    /// `deadline`, `timeout`, `memory`, `trap`, `invalid_output`, `plugin_error`...
    pub kind: String,
    pub message: String,
}

/// What a dry run returned. Nothing is applied.
#[derive(Serialize, ToSchema)]
pub struct TestOutcome {
    pub ok: bool,
    /// The actions the plugin asked for, as they would be applied.
    #[schema(value_type = Vec<Object>)]
    pub actions: serde_json::Value,
    pub logs: Vec<LogLine>,
    pub error: Option<CallError>,
    pub duration_ms: f64,
    /// The install's status after this call (a failure may suspend it).
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct HealthDto {
    pub status: String,
    pub suspended_reason: Option<String>,
    pub consecutive_failures: i32,
    /// Calls and failures on this server instance since it started.
    pub calls: u64,
    /// Failed calls: the plugin trapped or refused, or a provider did not
    /// take a message (those are also in `send_failures`; they do not
    /// count towards suspension).
    pub failures: u64,
    pub send_failures: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The prepared bot of an install's version, compiled on first use.
async fn prepared_bot(state: &AppState, install: &Install) -> Result<crate::plugins::bot::BotPlugin, ApiError> {
    if install.world != "bot" {
        return Err(ApiError::Conflict {
            field: "world".into(),
            message: format!("dry runs take a message, for bots; this install runs a {}", install.world),
        });
    }
    let loaded = state
        .runtime
        .load(&state.store, &state.plugins, &install.plugin_id, &install.version, crate::plugins::manifest::World::Bot)
        .await
        .map_err(|e| ApiError::internal(format!("stored plugin no longer loads: {e}")))?;
    match loaded {
        crate::plugins::runtime::Prepared::Bot(bot) => Ok(bot),
        _ => Err(ApiError::internal("prepared as another world")),
    }
}

/// Runs the install's bot on a test message, as a new conversation would,
/// and returns what it asked for without applying anything. Counts towards
/// its health and failure count like any call.
#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path)),
    request_body = TestRun,
    responses((status = 200, body = TestOutcome), (status = 404, body = Problem), (status = 409, description = "Disabled or suspended", body = Problem)),
    security(("bearer" = []))
)]
#[post("/plugin-installs/{install_id}/test")]
pub async fn test_install(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<TestRun>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    let install = store::plugin_install::get(&state.store.db, id).await?;
    if !install.enabled {
        return Err(ApiError::Conflict { field: "enabled".into(), message: "the install is disabled".into() });
    }
    if install.status == "suspended" {
        let reason = install.suspended_reason.clone().unwrap_or_default();
        return Err(ApiError::Conflict {
            field: "status".into(),
            message: format!("the install is suspended: {reason}"),
        });
    }
    let body = body.0;
    let text = required_text("message", &body.message, crate::domain::message::MAX_BODY_CHARS)?;
    let locale = crate::domain::user::parse_locale("locale", body.locale.as_deref().unwrap_or("es"))?;
    let manifest = manifest_of(&state, &install.plugin_id, &install.version).await?;
    let bot = prepared_bot(&state, &install).await?;
    let ctx = crate::automation::context(&state, &install, &manifest, None).await?;
    let event = crate::plugins::bot::dry_run_event(text, install.settings.to_string(), locale);
    let started = std::time::Instant::now();
    let result = state.plugins.run_bot(&bot, ctx, &event).await;
    let elapsed = started.elapsed();
    let error = result.as_ref().err().map(|e| CallError { kind: e.kind().into(), message: e.to_string() });
    state.runtime.record(id, elapsed, error.as_ref().map(|e| e.message.clone()));
    let suspend_after = state.plugins.limits.suspend_after;
    let after = store::plugin_install::record_outcome(
        &state.store,
        id,
        error.as_ref().map(|e| e.message.as_str()),
        suspend_after,
        &state.config.locale,
    )
    .await?;
    let (actions, logs) = result.unwrap_or_default();
    Ok(HttpResponse::Ok().json(TestOutcome {
        ok: error.is_none(),
        actions: serde_json::to_value(&actions).map_err(ApiError::internal)?,
        logs: logs.into_iter().map(|(level, message)| LogLine { level, message }).collect(),
        error,
        duration_ms: elapsed.as_secs_f64() * 1000.0,
        status: after.status,
    }))
}

/// Calls, failures and latency of an install, and why it is suspended if it is.
#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path)),
    responses((status = 200, body = HealthDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/plugin-installs/{install_id}/health")]
pub async fn install_health(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    let install = store::plugin_install::get(&state.store.db, id).await?;
    let health = state.runtime.health(id);
    let ms = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    Ok(HttpResponse::Ok().json(HealthDto {
        status: install.status,
        suspended_reason: install.suspended_reason,
        consecutive_failures: install.consecutive_failures,
        calls: health.calls,
        failures: health.failures,
        send_failures: health.send_failures,
        p50_ms: ms(health.percentile(0.5)),
        p99_ms: ms(health.percentile(0.99)),
        last_error: health.last_error.clone(),
        last_error_at: health.last_error_at,
    }))
}

/// Sets (or replaces) a secret the install's plugin names in its manifest.
/// The value is stored encrypted and never returned.
#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path), ("name" = String, Path)),
    request_body = SetSecret,
    responses((status = 204, description = "Stored"), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[put("/plugin-installs/{install_id}/secrets/{name}")]
pub async fn set_secret(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, String)>,
    body: Json<SetSecret>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let (id, name) = path.into_inner();
    let install = store::plugin_install::get(&state.store.db, id).await?;
    let manifest = manifest_of(&state, &install.plugin_id, &install.version).await?;
    if !manifest.capabilities.secrets.contains(&name) {
        return Err(ApiError::field("name", format!("the plugin does not use a secret named `{name}`")));
    }
    let value = &body.0.value;
    if value.is_empty() || value.len() > 8192 {
        return Err(ApiError::field("value", "must be 1 to 8192 bytes"));
    }
    let actor = Actor::from(&auth.0);
    store::plugin_secret::put(&state.store, &state.secrets, &actor, id, &name, value).await?;
    // The last secret a new install waited for enables it.
    let needs = manifest.capabilities.intersect(&install.granted).secrets;
    store::plugin_install::ready_if_set_up(&state.store, &actor, id, &needs).await?;
    state.runtime.forget_account(id);
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "plugins",
    params(("install_id" = uuid::Uuid, Path), ("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/plugin-installs/{install_id}/secrets/{name}")]
pub async fn delete_secret(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let (id, name) = path.into_inner();
    store::plugin_install::get(&state.store.db, id).await?;
    store::plugin_secret::delete(&state.store, &Actor::from(&auth.0), id, &name).await?;
    state.runtime.forget_account(id);
    Ok(HttpResponse::NoContent().finish())
}

/// A protocol as the supervisors of a unit it follows see it: its settings
/// (SLA targets, crisis words, escalation…) and their schema.
#[derive(Serialize, ToSchema)]
pub struct UnitProtocolDto {
    pub id: uuid::Uuid,
    pub name: String,
    pub plugin_id: String,
    pub version: String,
    pub enabled: bool,
    /// `active`, or `suspended` after repeated failures.
    pub status: String,
    pub suspended_reason: Option<String>,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// The JSON Schema the settings follow (from the plugin's manifest).
    #[schema(value_type = Object)]
    pub settings_schema: serde_json::Value,
    /// Whether the caller may change the settings here: it follows this unit
    /// only (one serving other units too is the admins' to change).
    pub editable: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnitProtocol {
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

/// Whether `principal` may change the settings of `install` for `unit`.
fn may_tune(principal: &crate::domain::Principal, install: &Install, unit: crate::domain::UnitId) -> bool {
    principal.is_admin() || (principal.can_manage_unit(unit) && install.units == [unit])
}

async fn unit_protocol_dto(
    state: &AppState,
    principal: &crate::domain::Principal,
    install: Install,
    unit: crate::domain::UnitId,
) -> Result<UnitProtocolDto, ApiError> {
    let manifest = manifest_of(state, &install.plugin_id, &install.version).await?;
    let editable = may_tune(principal, &install, unit);
    Ok(UnitProtocolDto {
        id: install.id,
        name: install.name,
        plugin_id: install.plugin_id,
        version: install.version,
        enabled: install.enabled,
        status: install.status,
        suspended_reason: install.suspended_reason,
        settings: install.settings,
        settings_schema: manifest.settings_schema,
        editable,
    })
}

/// A protocol install following `unit`, for its supervisors.
async fn unit_protocol(
    state: &AppState,
    principal: &crate::domain::Principal,
    unit: crate::domain::UnitId,
    id: uuid::Uuid,
) -> Result<Install, ApiError> {
    require(principal.can_manage_unit(unit), "only the unit's supervisors and admins see its protocols")?;
    let install = store::plugin_install::get(&state.store.db, id).await?;
    if install.world != "protocol" || !install.follows(unit) {
        return Err(ApiError::NotFound("protocol of this unit"));
    }
    Ok(install)
}

/// The protocols that follow the unit's cases (SLA, crisis handling,
/// escalation), with their settings, for the unit's supervisors.
#[utoipa::path(
    tag = "units",
    params(("unit_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ListResponse<UnitProtocolDto>), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/units/{unit_id}/protocols")]
pub async fn list_unit_protocols(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let unit = crate::domain::UnitId(path.into_inner());
    require(auth.0.can_manage_unit(unit), "only the unit's supervisors and admins see its protocols")?;
    store::unit::get(&state.store.db, unit).await?;
    let mut items = vec![];
    for install in store::plugin_install::list(&state.store.db).await? {
        if install.world == "protocol" && install.follows(unit) {
            items.push(unit_protocol_dto(&state, &auth.0, install, unit).await?);
        }
    }
    Ok(HttpResponse::Ok().json(ListResponse::new(items, None)))
}

/// Changes the settings of a protocol that follows this unit only; checked
/// against the plugin's schema, audited like an admin's change.
#[utoipa::path(
    tag = "units",
    params(("unit_id" = uuid::Uuid, Path), ("install_id" = uuid::Uuid, Path)),
    request_body = UpdateUnitProtocol,
    responses((status = 200, body = UnitProtocolDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/units/{unit_id}/protocols/{install_id}")]
pub async fn update_unit_protocol(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<UpdateUnitProtocol>,
) -> Result<HttpResponse, ApiError> {
    let (unit, id) = path.into_inner();
    let unit = crate::domain::UnitId(unit);
    let install = unit_protocol(&state, &auth.0, unit, id).await?;
    require(may_tune(&auth.0, &install, unit), "this protocol also serves other units; an admin changes its settings")?;
    let manifest = manifest_of(&state, &install.plugin_id, &install.version).await?;
    let settings = body.0.settings;
    check(&manifest, Some(&settings), None)?;
    let patch = InstallPatch { settings: Some(settings), ..InstallPatch::default() };
    let install = store::plugin_install::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    state.runtime.forget_account(id);
    Ok(HttpResponse::Ok().json(unit_protocol_dto(&state, &auth.0, install, unit).await?))
}
