//! The channel accounts staff may start conversations on: running
//! connectors open to the caller's units, with what each one's channel
//! allows (see `POST /cases` with `channel_install_id`), and the message
//! templates their providers keep (`channels::templates`).

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{Auth, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::channel_rules::AfterWindow;
use crate::domain::{Principal, Scope, UnitId};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct ChannelAccountDto {
    pub id: uuid::Uuid,
    #[schema(example = "WhatsApp Admisiones")]
    pub name: String,
    #[schema(example = "whatsapp")]
    pub channel: String,
    /// The units it is open to; empty: every unit.
    pub unit_ids: Vec<uuid::Uuid>,
    /// Hours after the person last wrote during which free text goes out;
    /// none: at any time.
    pub reply_window_hours: Option<u32>,
    /// Whether an approved template goes out after that window (WhatsApp).
    pub sends_templates: bool,
    /// Whether staff may write first to a number or address they know
    /// (WhatsApp, SMS, e-mail); elsewhere only to people who wrote to it.
    pub reaches_first: bool,
    /// The approved templates it offers: those its provider approved, once
    /// they were read; else its `templates` setting.
    pub templates: Vec<super::message::TemplateOptionDto>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Only the accounts open to this unit.
    pub unit_id: Option<uuid::Uuid>,
}

/// Running channel accounts open to the caller's units (admins and
/// `cases:write` tokens: all), by name.
#[utoipa::path(
    tag = "cases",
    params(AccountQuery),
    responses((status = 200, body = ListResponse<ChannelAccountDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/channel-accounts")]
pub async fn list_channel_accounts(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<AccountQuery>,
) -> Result<HttpResponse, ApiError> {
    let staff = matches!(auth.0, Principal::User { .. });
    require(staff || auth.0.token_has(Scope::CasesWrite), "this needs the cases:write scope")?;
    let mine = match auth.0.token_has(Scope::CasesWrite) {
        true => None,
        false => auth.0.case_units(),
    };
    let mut items = vec![];
    for install in store::plugin_install::list(&state.store.db).await? {
        if install.world != "connector" || !install.is_running() {
            continue;
        }
        let open_to_caller = match &mine {
            None => true,
            Some(units) => install.units.is_empty() || install.units.iter().any(|u| units.contains(u)),
        };
        if !open_to_caller || query.unit_id.is_some_and(|u| !install.follows(UnitId(u))) {
            continue;
        }
        let manifest = match state.runtime.manifest(&state.store, &install.plugin_id, &install.version).await {
            Ok(manifest) => manifest,
            // A plugin whose manifest no longer reads is shown in its health, not here.
            Err(store::Error::Corrupt(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let Some(channel) = manifest.channel else { continue };
        let templates = super::message::templates_of(&state, &install).await?;
        items.push(ChannelAccountDto {
            id: install.id,
            name: install.name,
            channel: channel.as_str().to_owned(),
            unit_ids: install.units.iter().map(|u| u.0).collect(),
            reply_window_hours: manifest.rules.reply_window_hours,
            sends_templates: manifest.rules.after_window == AfterWindow::Template,
            reaches_first: channel.reaches_first(),
            templates,
        });
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(HttpResponse::Ok().json(ListResponse::new(items, None)))
}

/// A template its provider keeps, as last read.
#[derive(Serialize, ToSchema)]
pub struct ProviderTemplateDto {
    #[serde(flatten)]
    pub template: super::message::TemplateOptionDto,
    /// `approved`, `pending`, `rejected`, `paused` or `disabled`: only an
    /// approved one is sent.
    #[schema(example = "approved")]
    pub status: String,
    /// Why it was rejected or paused, when the provider says.
    pub reason: Option<String>,
    /// When its status last changed (as far as the host saw).
    pub status_changed_at: chrono::DateTime<chrono::Utc>,
}

/// How the account's last reading of its templates went.
#[derive(Serialize, ToSchema)]
pub struct TemplateSyncDto {
    /// None: never read (only templates typed into its settings go).
    pub attempted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub synced_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last reading failed, if it did.
    pub error: Option<String>,
    /// The provider's rating of the account's quality (`green`, `yellow`,
    /// `red`, `unknown`), as last read: a campaign goes at half its pace
    /// while yellow and is held while red.
    pub quality: Option<String>,
    /// How many different people campaigns may reach through the account
    /// in 24 hours (its messaging limit); none: no limit known.
    pub daily_recipients: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderTemplatesDto {
    pub sync: TemplateSyncDto,
    pub items: Vec<ProviderTemplateDto>,
    /// After a reading: how many templates are new, gone, or changed status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<TemplateChangesDto>,
}

#[derive(Serialize, ToSchema)]
pub struct TemplateChangesDto {
    pub added: u32,
    pub removed: u32,
    pub status_changed: u32,
}

/// The account, when the caller may see it: admins and `cases:write`
/// tokens see every connector; staff those open to one of their units.
async fn visible_account(
    state: &AppState,
    principal: &Principal,
    id: uuid::Uuid,
) -> Result<store::plugin_install::Install, ApiError> {
    let staff = matches!(principal, Principal::User { .. });
    require(staff || principal.token_has(Scope::CasesWrite), "this needs the cases:write scope")?;
    let install = match store::plugin_install::get(&state.store.db, id).await {
        Ok(install) if install.world == "connector" => install,
        Ok(_) | Err(store::Error::NotFound(_)) => return Err(ApiError::NotFound("channel account")),
        Err(e) => return Err(e.into()),
    };
    let open = match (principal.token_has(Scope::CasesWrite), principal.case_units()) {
        (true, _) | (false, None) => true,
        (false, Some(units)) => install.units.is_empty() || install.units.iter().any(|u| units.contains(u)),
    };
    if !open {
        return Err(ApiError::NotFound("channel account"));
    }
    Ok(install)
}

async fn templates_dto(state: &AppState, install_id: uuid::Uuid) -> Result<ProviderTemplatesDto, ApiError> {
    let db = &state.store.db;
    let sync = store::channel_template::sync_state(db, install_id).await?;
    let items = store::channel_template::list(db, install_id)
        .await?
        .into_iter()
        .map(|kept| ProviderTemplateDto {
            status: kept.template.status.as_str().to_owned(),
            reason: kept.template.reason.clone(),
            status_changed_at: kept.status_changed_at,
            template: super::message::TemplateOptionDto::from(&kept.template),
        })
        .collect();
    Ok(ProviderTemplatesDto {
        sync: TemplateSyncDto {
            attempted_at: sync.as_ref().map(|s| s.attempted_at),
            synced_at: sync.as_ref().and_then(|s| s.synced_at),
            quality: sync.as_ref().and_then(|s| s.standing).map(|s| s.quality.as_str().to_owned()),
            daily_recipients: sync.as_ref().and_then(|s| s.standing).and_then(|s| s.daily_recipients),
            error: sync.and_then(|s| s.error),
        },
        items,
        changes: None,
    })
}

/// The message templates the account's provider keeps (WhatsApp), with
/// their review status, as last read.
#[utoipa::path(
    tag = "cases",
    params(("install_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ProviderTemplatesDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/channel-accounts/{install_id}/templates")]
pub async fn list_provider_templates(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let install = visible_account(&state, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(templates_dto(&state, install.id).await?))
}

/// Reads the account's templates from its provider now (admins): what it
/// keeps afterwards, and what changed. Otherwise they are read every
/// `channels.template_sync_secs`.
#[utoipa::path(
    tag = "cases",
    params(("install_id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = ProviderTemplatesDto),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 422, body = Problem, description = "the connector reads no templates, or the provider refused (settings)"),
        (status = 503, body = Problem, description = "the provider could not be reached; try again later"),
    ),
    security(("bearer" = []))
)]
#[post("/channel-accounts/{install_id}/templates/sync")]
pub async fn sync_provider_templates(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.is_admin(), "only administrators read a channel account's templates again")?;
    let install = visible_account(&state, &auth.0, path.into_inner()).await?;
    use crate::channels::templates::NotSynced;
    let changes = match crate::channels::templates::sync(&state, install.id).await {
        Ok(changes) => changes,
        Err(NotSynced::NotReadable(why)) => return Err(ApiError::field("install_id", why)),
        Err(NotSynced::Refused(why)) => {
            return Err(ApiError::field("settings", format!("the provider refused: {why}")));
        }
        Err(NotSynced::Passing(why)) => return Err(ApiError::Unavailable(why)),
        Err(NotSynced::Store(e)) => return Err(e.into()),
    };
    let mut dto = templates_dto(&state, install.id).await?;
    dto.changes = Some(TemplateChangesDto {
        added: changes.added,
        removed: changes.removed,
        status_changed: changes.status_changes.len() as u32,
    });
    Ok(HttpResponse::Ok().json(dto))
}
