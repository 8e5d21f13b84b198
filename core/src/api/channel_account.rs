//! The channel accounts staff may start conversations on: running
//! connectors open to the caller's units, with what each one's channel
//! allows (see `POST /cases` with `channel_install_id`).

use actix_web::{HttpResponse, get, web};
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
    /// The approved templates it offers (its `templates` setting).
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
        let templates = super::message::templates_of(&install);
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
