//! Campaigns: `/campaigns`. One message to the people of a segment through
//! one channel account, for one consent purpose; kept by the unit's
//! supervisors and admins. A draft is changed freely; a launch freezes it
//! and hands it to its job (`core/src/campaigns.rs`), which sends only to
//! people whose latest answer for the purpose is a grant, within the
//! unit's sending hours (`/units/{unit_id}/outreach`).

use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require};
use super::message::TemplateDto;
use super::schema::{ListResponse, double_option};
use super::unit::BusinessHoursDto;
use crate::api::AppState;
use crate::domain::campaign::{
    Campaign, CampaignMessage, CampaignStatus, MAX_PER_SECOND, NewCampaign, OutreachSettings, Recipient,
    RecipientStatus,
};
use crate::domain::consent::{BROADCASTS_PURPOSE, parse_label};
use crate::domain::segment::parse_name;
use crate::domain::{self, Actor, Channel, Principal, Role, UnitId};
use crate::store::{self, campaign::CampaignPatch};

#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CampaignMessageDto {
    /// WhatsApp: the approved template (its parameters may name `{{name}}`,
    /// `{{external_id}}`, `{{attributes.<key>}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateDto>,
    /// E-mail: the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// SMS, Telegram, e-mail: the text, with the same `{{…}}` fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Hola {{name}}: las inscripciones a {{attributes.program}} cierran el viernes.")]
    pub body: Option<String>,
}

impl From<&CampaignMessage> for CampaignMessageDto {
    fn from(m: &CampaignMessage) -> Self {
        CampaignMessageDto {
            template: m.template.as_ref().map(TemplateDto::from),
            subject: m.subject.clone(),
            body: m.body.clone(),
        }
    }
}

/// How many people are in each status.
#[derive(Serialize, ToSchema, Default)]
pub struct RecipientCounts {
    pub queued: u64,
    /// Being sent right now.
    pub sending: u64,
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub replied: u64,
    pub opted_out: u64,
    pub skipped: u64,
    pub total: u64,
}

impl RecipientCounts {
    fn from_rows(rows: Vec<(RecipientStatus, u64)>) -> Self {
        let mut c = RecipientCounts::default();
        for (status, n) in rows {
            *match status {
                RecipientStatus::Queued => &mut c.queued,
                RecipientStatus::Sending => &mut c.sending,
                RecipientStatus::Sent => &mut c.sent,
                RecipientStatus::Delivered => &mut c.delivered,
                RecipientStatus::Read => &mut c.read,
                RecipientStatus::Failed => &mut c.failed,
                RecipientStatus::Replied => &mut c.replied,
                RecipientStatus::OptedOut => &mut c.opted_out,
                RecipientStatus::Skipped => &mut c.skipped,
            } += n;
            c.total += n;
        }
        c
    }
}

#[derive(Serialize, ToSchema)]
pub struct CampaignDto {
    pub id: uuid::Uuid,
    /// Answers become cases of this unit.
    pub unit_id: uuid::Uuid,
    #[schema(example = "Cierre de inscripciones 2027-1")]
    pub name: String,
    pub segment_id: uuid::Uuid,
    /// The consent purpose each person must have a standing grant for.
    #[schema(example = "broadcasts")]
    pub purpose: String,
    pub channel_install_id: uuid::Uuid,
    pub channel: String,
    pub message: CampaignMessageDto,
    pub starts_at: Option<DateTime<Utc>>,
    pub max_per_second: Option<u32>,
    /// `draft`, `scheduled`, `running`, `paused`, `cancelled`, `finished`.
    pub status: String,
    pub recipients: RecipientCounts,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub launched_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl CampaignDto {
    fn new(c: Campaign, recipients: RecipientCounts) -> Self {
        CampaignDto {
            id: c.id,
            unit_id: c.unit_id.0,
            message: CampaignMessageDto::from(&c.message),
            name: c.name,
            segment_id: c.segment_id,
            purpose: c.purpose,
            channel_install_id: c.channel_install_id,
            channel: c.channel.as_str().to_owned(),
            starts_at: c.starts_at,
            max_per_second: c.max_per_second,
            status: c.status.as_str().to_owned(),
            recipients,
            created_by: c.created_by.map(|u| u.0),
            created_at: c.created_at,
            updated_at: c.updated_at,
            launched_at: c.launched_at,
            finished_at: c.finished_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    pub unit_id: uuid::Uuid,
    pub name: String,
    /// A segment of the unit (or, for admins, an institution-wide one).
    pub segment_id: uuid::Uuid,
    /// Default `broadcasts`.
    pub purpose: Option<String>,
    /// A running channel account open to the unit: WhatsApp, SMS, Telegram or e-mail.
    pub channel_install_id: uuid::Uuid,
    pub message: CampaignMessageDto,
    /// Not before this instant; leave out to send as soon as it is launched.
    pub starts_at: Option<DateTime<Utc>>,
    /// At most this many sends a second (the account's limit caps it too).
    pub max_per_second: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaign {
    pub name: Option<String>,
    pub segment_id: Option<uuid::Uuid>,
    pub purpose: Option<String>,
    pub channel_install_id: Option<uuid::Uuid>,
    pub message: Option<CampaignMessageDto>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub max_per_second: Option<Option<u32>>,
}

#[derive(Serialize, ToSchema)]
pub struct RecipientDto {
    pub contact_id: uuid::Uuid,
    /// The person's name, when known.
    pub contact_name: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered`, `read`, `failed`, `replied`, `opted_out`, `skipped`.
    pub status: String,
    /// Why it was not sent, or the provider's reason for a failure.
    pub reason: Option<String>,
    pub address: Option<String>,
    /// The consent record the send relied on.
    pub consent_id: Option<uuid::Uuid>,
    pub provider_message_id: Option<String>,
    /// The case their answer became.
    pub reply_case_id: Option<uuid::Uuid>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl RecipientDto {
    fn new(r: Recipient, contact_name: Option<String>) -> Self {
        RecipientDto {
            contact_id: r.contact_id.0,
            contact_name,
            status: r.status.as_str().to_owned(),
            reason: r.reason,
            address: r.address,
            consent_id: r.consent_id.map(|c| c.0),
            provider_message_id: r.provider_message_id,
            reply_case_id: r.reply_case_id.map(|c| c.0),
            sent_at: r.sent_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecipientQuery {
    /// Only recipients in this status.
    pub status: Option<String>,
    /// The last `contact_id` of the previous page.
    pub after: Option<uuid::Uuid>,
    /// 1 to 500 (default 100).
    pub limit: Option<u64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSend {
    /// Where to send it: the caller's own number, address or chat on the
    /// campaign's channel.
    #[schema(example = "+57 300 123 4567")]
    pub address: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestSendResult {
    pub provider_message_id: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutreachDto {
    /// When campaigns may send, in the unit's timezone (outside it are its
    /// quiet hours); `null`: the unit's business hours.
    pub sending_hours: Option<BusinessHoursDto>,
}

/// May keep the campaigns of `unit`: its supervisors and admins.
fn may_run(principal: &Principal, unit: UnitId) -> bool {
    principal.is_admin() || principal.role_in(unit) == Some(Role::Supervisor)
}

const RUNNERS: &str = "a unit's campaigns are kept by its supervisors and admins";

/// A campaign the caller may keep; another unit's is not found.
async fn visible(state: &AppState, principal: &Principal, id: uuid::Uuid) -> Result<Campaign, ApiError> {
    let campaign = store::campaign::get(&state.store.db, id).await?;
    if !may_run(principal, campaign.unit_id) {
        return Err(ApiError::NotFound("campaign"));
    }
    Ok(campaign)
}

async fn dto(state: &AppState, campaign: Campaign) -> Result<CampaignDto, ApiError> {
    let counts = store::campaign::counts(&state.store.db, campaign.id).await?;
    Ok(CampaignDto::new(campaign, RecipientCounts::from_rows(counts)))
}

/// Checks the segment may be used by a campaign of `unit`: the unit's own,
/// or an institution-wide one for admins. Errors name `segment_id`.
async fn check_segment(
    state: &AppState,
    principal: &Principal,
    unit: UnitId,
    segment: uuid::Uuid,
    check: &mut Checker,
) -> Result<(), ApiError> {
    match store::segment::get(&state.store.db, segment).await {
        Ok(s) if s.unit_id == Some(unit) || (s.unit_id.is_none() && principal.is_admin()) => {}
        Ok(_) | Err(store::Error::NotFound(_)) => {
            check.push("segment_id", "no such segment of this unit (institution-wide ones are for admins)")
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The channel of a channel account that can carry the unit's campaign;
/// errors name `channel_install_id`.
async fn check_account(
    state: &AppState,
    unit: UnitId,
    install: uuid::Uuid,
    check: &mut Checker,
) -> Result<Option<Channel>, ApiError> {
    let channel = match crate::channels::connector(state, install).await {
        Ok(connector) => connector.channel,
        Err(crate::channels::Unavailable::NotFound) => {
            check.push("channel_install_id", "no such channel account");
            return Ok(None);
        }
        Err(crate::channels::Unavailable::Stopped) => {
            check.push("channel_install_id", "the channel account is disabled or suspended");
            return Ok(None);
        }
        Err(crate::channels::Unavailable::Store(e)) => return Err(e.into()),
        Err(crate::channels::Unavailable::Plugin(e)) => {
            check.push("channel_install_id", &format!("the channel account's connector cannot run: {e}"));
            return Ok(None);
        }
    };
    match crate::channels::starting(state, install, channel, unit).await? {
        Ok(_) => Ok(Some(channel)),
        Err(e) => {
            check.check::<()>(Err(e));
            Ok(None)
        }
    }
}

/// Whether the provider approved the campaign's template (once the
/// account's templates are kept), with a value for all it takes.
async fn check_template(
    state: &AppState,
    install_id: uuid::Uuid,
    message: Option<&CampaignMessage>,
    check: &mut Checker,
) -> Result<(), ApiError> {
    let Some(template) = message.and_then(|m| m.template.as_ref()) else { return Ok(()) };
    match crate::channels::templates::check(state, install_id, template, "message.template").await {
        Ok(_) => Ok(()),
        Err(store::Error::Domain(refused)) => {
            check.check::<()>(Err(refused));
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn parse_message(dto: CampaignMessageDto, channel: Option<Channel>, check: &mut Checker) -> Option<CampaignMessage> {
    let template = match dto.template {
        Some(t) => Some(check.check(t.checked("message.template"))?),
        None => None,
    };
    let message = CampaignMessage { template, subject: dto.subject, body: dto.body };
    let channel = channel?;
    match message.check_for(channel) {
        Ok(()) => Some(message),
        Err(errors) => {
            for e in errors {
                check.check::<()>(Err(e));
            }
            None
        }
    }
}

fn check_rate(rate: Option<u32>, check: &mut Checker) {
    if rate.is_some_and(|r| r == 0 || r > MAX_PER_SECOND) {
        check.push("max_per_second", &format!("must be 1 to {MAX_PER_SECOND}"));
    }
}

fn check_start(starts_at: Option<DateTime<Utc>>, check: &mut Checker) {
    if starts_at.is_some_and(|at| at < store::now() - chrono::Duration::minutes(5)) {
        check.push("starts_at", "must not be in the past");
    }
}

/// The campaigns of the units the caller supervises (admins: all), newest first.
#[utoipa::path(
    tag = "campaigns",
    responses((status = 200, body = ListResponse<CampaignDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/campaigns")]
pub async fn list_campaigns(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let units = if auth.0.is_admin() {
        None
    } else {
        let supervised = auth.0.supervised_units().unwrap_or_default();
        require(!supervised.is_empty() && auth.0.user_id().is_some(), RUNNERS)?;
        Some(supervised)
    };
    let campaigns = store::campaign::list(&state.store.db, units.as_deref()).await?;
    let ids: Vec<uuid::Uuid> = campaigns.iter().map(|c| c.id).collect();
    let mut counts = store::campaign::counts_of(&state.store.db, &ids).await?;
    let items: Vec<CampaignDto> = campaigns
        .into_iter()
        .map(|c| {
            let rows = counts.remove(&c.id).unwrap_or_default();
            CampaignDto::new(c, RecipientCounts::from_rows(rows))
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListResponse::new(items, None)))
}

/// Saves a campaign as a draft: nothing is sent until it is launched.
#[utoipa::path(
    tag = "campaigns",
    request_body = CreateCampaign,
    responses((status = 201, body = CampaignDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/campaigns")]
pub async fn create_campaign(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateCampaign>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let unit = UnitId(body.unit_id);
    require(may_run(&auth.0, unit), RUNNERS)?;
    let mut check = Checker::default();
    if let Err(store::Error::NotFound(_)) = store::unit::get(&state.store.db, unit).await {
        check.push("unit_id", "no such unit");
    }
    let name = check.check(parse_name("name", &body.name));
    let purpose = check.check(parse_label("purpose", body.purpose.as_deref().unwrap_or(BROADCASTS_PURPOSE)));
    check_segment(&state, &auth.0, unit, body.segment_id, &mut check).await?;
    let channel = check_account(&state, unit, body.channel_install_id, &mut check).await?;
    if channel == Some(Channel::Email) && state.config.link_prefix().is_empty() {
        check.push("channel_install_id", "e-mail campaigns carry an unsubscribe link: set public_url first");
    }
    let message = parse_message(body.message, channel, &mut check);
    check_template(&state, body.channel_install_id, message.as_ref(), &mut check).await?;
    check_rate(body.max_per_second, &mut check);
    check_start(body.starts_at, &mut check);
    check.finish()?;
    let (Some(name), Some(purpose), Some(channel), Some(message)) = (name, purpose, channel, message) else {
        return Err(ApiError::internal("checked campaign missing"));
    };
    let new = NewCampaign {
        unit_id: unit,
        name,
        segment_id: body.segment_id,
        purpose,
        channel_install_id: body.channel_install_id,
        channel,
        message,
        starts_at: body.starts_at,
        max_per_second: body.max_per_second,
    };
    let campaign = store::campaign::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(dto(&state, campaign).await?))
}

#[utoipa::path(
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path)),
    responses((status = 200, body = CampaignDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/campaigns/{campaign_id}")]
pub async fn get_campaign(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let campaign = visible(&state, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(dto(&state, campaign).await?))
}

/// Changes a draft (a launched campaign is what was launched: 409).
#[utoipa::path(
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path)),
    request_body = UpdateCampaign,
    responses((status = 200, body = CampaignDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/campaigns/{campaign_id}")]
pub async fn update_campaign(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateCampaign>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    let body = body.0;
    let mut check = Checker::default();
    let name = body.name.as_deref().and_then(|n| check.check(parse_name("name", n)));
    let purpose = body.purpose.as_deref().and_then(|p| check.check(parse_label("purpose", p)));
    if let Some(segment) = body.segment_id {
        check_segment(&state, &auth.0, current.unit_id, segment, &mut check).await?;
    }
    let account = match body.channel_install_id {
        Some(install) => check_account(&state, current.unit_id, install, &mut check).await?.map(|c| (install, c)),
        None => None,
    };
    let channel = account.map_or(Some(current.channel), |(_, c)| Some(c));
    let message = match body.message {
        Some(m) => parse_message(m, channel, &mut check),
        // A new account must still carry the message.
        None if account.is_some() => {
            parse_message(CampaignMessageDto::from(&current.message), channel, &mut check);
            None
        }
        None => None,
    };
    let install = account.map_or(current.channel_install_id, |(install, _)| install);
    check_template(&state, install, message.as_ref(), &mut check).await?;
    if let Some(rate) = body.max_per_second {
        check_rate(rate, &mut check);
    }
    if let Some(start) = body.starts_at {
        check_start(start, &mut check);
    }
    check.finish()?;
    let patch = CampaignPatch {
        name,
        segment_id: body.segment_id,
        purpose,
        account,
        message,
        starts_at: body.starts_at,
        max_per_second: body.max_per_second,
    };
    let campaign = store::campaign::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    Ok(HttpResponse::Ok().json(dto(&state, campaign).await?))
}

/// Moves a campaign along: `launch` (a draft starts, or is scheduled for
/// its `starts_at`), `pause`, `resume`, `cancel`. A change its status does
/// not allow is a 409.
#[utoipa::path(
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path), ("action" = String, Path, description = "`launch`, `pause`, `resume` or `cancel`")),
    responses((status = 200, body = CampaignDto), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[post("/campaigns/{campaign_id}/{action}")]
pub async fn act_on_campaign(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let current = visible(&state, &auth.0, id).await?;
    let waits = current.starts_at.is_some_and(|at| at > store::now());
    let to = match action.as_str() {
        "launch" | "resume" if waits => CampaignStatus::Scheduled,
        "launch" | "resume" => CampaignStatus::Running,
        "pause" => CampaignStatus::Paused,
        "cancel" => CampaignStatus::Cancelled,
        _ => return Err(ApiError::NotFound("campaign action")),
    };
    if action == "launch" && current.status != CampaignStatus::Draft {
        return Err(store::Error::conflict("status", "only a draft is launched; resume a paused campaign").into());
    }
    if action == "resume" && current.status != CampaignStatus::Paused {
        return Err(store::Error::conflict("status", "only a paused campaign is resumed").into());
    }
    if matches!(action.as_str(), "launch" | "resume") {
        // The account may have been switched off, or its provider may have
        // paused the template, since the draft was saved.
        let mut check = Checker::default();
        check_account(&state, current.unit_id, current.channel_install_id, &mut check).await?;
        check_template(&state, current.channel_install_id, Some(&current.message), &mut check).await?;
        check.finish()?;
    }
    let campaign = store::campaign::change_status(&state.store, &Actor::from(&auth.0), id, to).await?;
    Ok(HttpResponse::Ok().json(dto(&state, campaign).await?))
}

/// Sends the campaign's message once to the caller's own address, now,
/// whatever the campaign's status: to see it as people will.
#[utoipa::path(
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path)),
    request_body = TestSend,
    responses((status = 200, body = TestSendResult), (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = []))
)]
#[post("/campaigns/{campaign_id}/test")]
pub async fn test_campaign(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<TestSend>,
) -> Result<HttpResponse, ApiError> {
    let campaign = visible(&state, &auth.0, path.into_inner()).await?;
    let address =
        domain::contact::normalize_identity("address", campaign.channel, &body.0.address).map_err(ApiError::from)?;
    let name = match auth.0.user_id() {
        Some(user) => Some(store::user::get(&state.store.db, user).await?.display_name),
        None => None,
    };
    let sent = crate::campaigns::send_test(&state, &Actor::from(&auth.0), &campaign, &address, name.as_deref()).await?;
    match sent {
        Ok(provider_message_id) => Ok(HttpResponse::Ok().json(TestSendResult { provider_message_id })),
        Err((true, reason)) => Err(ApiError::Unavailable(format!("the provider did not take it for now: {reason}"))),
        Err((false, reason)) => Err(ApiError::field("address", format!("the provider refused it: {reason}"))),
    }
}

/// Who the campaign went to, and what became of each, in contact order.
#[utoipa::path(
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path), RecipientQuery),
    responses((status = 200, body = ListResponse<RecipientDto>), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/campaigns/{campaign_id}/recipients")]
pub async fn list_recipients(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    query: web::Query<RecipientQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = visible(&state, &auth.0, path.into_inner()).await?;
    let mut check = Checker::default();
    let status = query.status.as_deref().and_then(|s| check.check(RecipientStatus::parse("status", s)));
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        check.push("limit", "must be 1 to 500");
    }
    check.finish()?;
    let rows = store::campaign::recipients(&state.store.db, campaign.id, status, query.after, limit).await?;
    let next = (rows.len() as u64 == limit).then(|| rows.last().map(|r| r.contact_id.0.to_string())).flatten();
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.contact_id.0).collect();
    let mut names = store::contact::names(&state.store.db, &ids).await?;
    let items = rows.into_iter().map(|r| {
        let name = names.remove(&r.contact_id.0);
        RecipientDto::new(r, name)
    });
    Ok(HttpResponse::Ok().json(ListResponse::new(items.collect(), next)))
}

#[utoipa::path(
    tag = "campaigns",
    params(("unit_id" = uuid::Uuid, Path)),
    responses((status = 200, body = OutreachDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/units/{unit_id}/outreach")]
pub async fn get_outreach(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let unit = UnitId(path.into_inner());
    require(may_run(&auth.0, unit), RUNNERS)?;
    let settings = store::campaign::outreach(&state.store.db, unit).await?;
    Ok(HttpResponse::Ok().json(OutreachDto { sending_hours: settings.sending_hours.as_ref().map(Into::into) }))
}

/// Sets when the unit's campaigns may send (its quiet hours are the rest).
#[utoipa::path(
    tag = "campaigns",
    params(("unit_id" = uuid::Uuid, Path)),
    request_body = OutreachDto,
    responses((status = 200, body = OutreachDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[put("/units/{unit_id}/outreach")]
pub async fn set_outreach(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<OutreachDto>,
) -> Result<HttpResponse, ApiError> {
    let unit = UnitId(path.into_inner());
    require(may_run(&auth.0, unit), RUNNERS)?;
    let mut check = Checker::default();
    let hours = body.0.sending_hours.as_ref().map(|h| check.check(h.parse("sending_hours")));
    check.finish()?;
    let settings = OutreachSettings { sending_hours: hours.flatten() };
    store::campaign::set_outreach(&state.store, &Actor::from(&auth.0), unit, &settings).await?;
    Ok(HttpResponse::Ok().json(OutreachDto { sending_hours: settings.sending_hours.as_ref().map(Into::into) }))
}
