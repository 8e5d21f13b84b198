//! Cases: create (with contact and first message), list with filters, read,
//! change status, assignee, unit, priority and tags.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contact::IdentityInput;
use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, PageParams, require};
use super::schema::{AuthorKind, CaseStatus, Channel, ListResponse, Priority};
use crate::api::AppState;
use crate::domain::{
    self, Actor, Case, CaseId, ContactId, Principal, UnitId, UserId,
    case::{CasePatch, NewCase, parse_tag},
    contact::{NewContact, normalize_identity},
    message::{MAX_BODY_CHARS, NewMessage},
    required_text,
    sla::{CaseSla, SlaState as TargetState},
};
use crate::store::{
    self,
    case::{AssigneeFilter, CaseFilter, CaseSort, ContactRef},
};

#[derive(Serialize, ToSchema)]
pub struct CaseDto {
    pub id: uuid::Uuid,
    /// Human-friendly number, shown as #number.
    pub number: i64,
    pub subject: String,
    pub channel: Channel,
    pub contact_id: uuid::Uuid,
    pub unit_id: uuid::Uuid,
    pub assignee_id: Option<uuid::Uuid>,
    pub status: CaseStatus,
    pub priority: Priority,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The channel account (connector install) replies go out on, if any.
    pub channel_install_id: Option<uuid::Uuid>,
    /// Put aside until then; it comes back earlier if the person writes.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Service-level targets kept by the unit's protocols (e.g. the
    /// escalation-sla plugin), soonest due first.
    pub sla: Vec<SlaDto>,
}

/// A service-level target on a case.
#[derive(Serialize, ToSchema)]
pub struct SlaDto {
    /// `first_response`, `resolution`, or another name the protocol uses.
    pub name: String,
    pub state: SlaState,
    /// When it is due (none while paused).
    pub due_at: Option<DateTime<Utc>>,
    /// When it was met or breached.
    pub settled_at: Option<DateTime<Utc>>,
    /// The protocol install that keeps it.
    pub install_id: uuid::Uuid,
    pub updated_at: DateTime<Utc>,
}

/// Where a service-level target stands.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// The clock runs towards `due_at`.
    Running,
    /// Stopped for now (waiting on the person).
    Paused,
    /// Past the warning point, not yet due.
    Warning,
    /// Due and not met.
    Breached,
    /// Met.
    Met,
}

impl From<TargetState> for SlaState {
    fn from(s: TargetState) -> Self {
        match s {
            TargetState::Running => SlaState::Running,
            TargetState::Paused => SlaState::Paused,
            TargetState::Warning => SlaState::Warning,
            TargetState::Breached => SlaState::Breached,
            TargetState::Met => SlaState::Met,
        }
    }
}

impl From<CaseSla> for SlaDto {
    fn from(s: CaseSla) -> Self {
        SlaDto {
            name: s.target.name,
            state: s.target.state.into(),
            due_at: s.target.due_at,
            settled_at: s.target.settled_at,
            install_id: s.install_id,
            updated_at: s.updated_at,
        }
    }
}

/// Cases as the API shows them, with their service-level targets.
async fn case_dtos(state: &AppState, cases: Vec<Case>) -> Result<Vec<CaseDto>, ApiError> {
    let ids: Vec<CaseId> = cases.iter().map(|c| c.id).collect();
    let mut slas = store::sla::for_cases(&state.store.db, &ids).await?;
    Ok(cases
        .into_iter()
        .map(|c| {
            let sla = slas.remove(&c.id).unwrap_or_default();
            CaseDto { sla: sla.into_iter().map(SlaDto::from).collect(), ..CaseDto::from(c) }
        })
        .collect())
}

pub(super) async fn case_dto(state: &AppState, case: Case) -> Result<CaseDto, ApiError> {
    let mut dtos = case_dtos(state, vec![case]).await?;
    dtos.pop().ok_or_else(|| ApiError::internal("case missing"))
}

impl From<Case> for CaseDto {
    fn from(c: Case) -> Self {
        CaseDto {
            id: c.id.0,
            number: c.number,
            subject: c.subject,
            channel: c.channel.into(),
            contact_id: c.contact_id.0,
            unit_id: c.unit_id.0,
            assignee_id: c.assignee_id.map(|u| u.0),
            status: c.status.into(),
            priority: c.priority.into(),
            tags: c.tags,
            custom_fields: c.custom_fields,
            created_at: c.created_at,
            updated_at: c.updated_at,
            first_response_at: c.first_response_at,
            resolved_at: c.resolved_at,
            closed_at: c.closed_at,
            channel_install_id: c.channel_install_id,
            snoozed_until: c.snoozed_until,
            sla: vec![],
        }
    }
}

/// A contact given inline: found by its identities, or created.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineContact {
    pub name: Option<String>,
    #[serde(default)]
    pub identities: Vec<IdentityInput>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstMessage {
    /// The text; may be left out when `template` is given.
    #[serde(default)]
    pub body: String,
    /// `contact` (default: what the person wrote) or `agent`.
    pub author_kind: Option<AuthorKind>,
    /// An approved template instead of free text, for an `agent` message
    /// starting a conversation on WhatsApp (see `channel_install_id`).
    pub template: Option<super::message::TemplateDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCase {
    #[schema(example = "Consulta sobre matrícula")]
    pub subject: String,
    pub channel: Channel,
    pub unit_id: uuid::Uuid,
    /// An existing contact; or give `contact` instead.
    pub contact_id: Option<uuid::Uuid>,
    pub contact: Option<InlineContact>,
    /// `queued` (default), `bot` or `assigned` (with `assignee_id`).
    pub status: Option<CaseStatus>,
    pub assignee_id: Option<uuid::Uuid>,
    pub priority: Option<Priority>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub first_message: Option<FirstMessage>,
    /// Starts the conversation on this channel account (of `channel`,
    /// open to the unit): an `agent` first message is sent to the person
    /// through it. Refused (422) when the account cannot reach them: no
    /// address of theirs on the channel; on Telegram, Messenger and
    /// Instagram, they never wrote to the account; on WhatsApp, free text
    /// outside the 24 hours after they last wrote (send `template`).
    pub channel_install_id: Option<uuid::Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCase {
    pub subject: Option<String>,
    pub status: Option<CaseStatus>,
    /// A user id, or null to unassign (the case goes back to the queue).
    #[serde(default, deserialize_with = "super::schema::double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub assignee_id: Option<Option<uuid::Uuid>>,
    pub priority: Option<Priority>,
    /// Transfers the case to another unit's queue.
    pub unit_id: Option<uuid::Uuid>,
    /// Merged into the current fields; a null value removes a key.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Replaces every tag.
    pub tags: Option<Vec<String>>,
    /// Puts an open case aside until this time (in the future); null
    /// brings it back now.
    #[serde(default, deserialize_with = "super::schema::double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub snoozed_until: Option<Option<DateTime<Utc>>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTag {
    #[schema(example = "matrícula")]
    pub tag: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Comma-separated statuses, e.g. `queued,assigned`.
    pub status: Option<String>,
    pub unit_id: Option<uuid::Uuid>,
    /// A user id, `me`, or `none` for unassigned.
    pub assignee_id: Option<String>,
    pub channel: Option<String>,
    pub tag: Option<String>,
    pub priority: Option<String>,
    pub contact_id: Option<uuid::Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// Text contained in the subject.
    pub q: Option<String>,
    /// `-created_at` (default), `created_at`, `-updated_at` or `updated_at`.
    pub sort: Option<String>,
    /// Comma-separated service-level states, e.g. `warning,breached` for
    /// the cases at risk.
    pub sla: Option<String>,
    /// `true`: only snoozed cases; `false`: none of them.
    pub snoozed: Option<bool>,
    /// Text in the subject or in any message of the case (case-insensitive).
    pub text: Option<String>,
}

fn check_fields(field: &str, fields: &serde_json::Map<String, serde_json::Value>, check: &mut Checker) {
    if fields.len() > 100 || serde_json::to_string(fields).map_or(0, |s| s.len()) > 16 * 1024 {
        check.check::<()>(Err(domain::Error::invalid(field, "must have at most 100 keys and 16 KiB")));
    }
}

fn parse_tags(field: &str, tags: &[String], check: &mut Checker) -> Vec<String> {
    if tags.len() > 50 {
        check.check::<()>(Err(domain::Error::invalid(field, "at most 50 tags")));
    }
    tags.iter().enumerate().filter_map(|(i, t)| check.check(parse_tag(&format!("{field}[{i}]"), t))).collect()
}

pub(super) fn new_message(
    principal: &Principal,
    field: &str,
    body: &str,
    author: Option<AuthorKind>,
    default: domain::AuthorKind,
) -> Result<NewMessage, ApiError> {
    let body = required_text(field, body, MAX_BODY_CHARS)?;
    let author_kind: domain::AuthorKind = author.map_or(default, Into::into);
    let staff = matches!(principal, Principal::User { .. });
    if staff && !matches!(author_kind, domain::AuthorKind::Agent | domain::AuthorKind::Contact) {
        return Err(ApiError::field(
            "author_kind",
            "staff write as `agent`, or log what the contact said as `contact`",
        ));
    }
    let author_user_id = match author_kind {
        domain::AuthorKind::Agent => principal.user_id(),
        _ => None,
    };
    Ok(NewMessage { author_user_id, ..NewMessage::text(author_kind, body) })
}

/// Checks a `GET /cases` query (also what a saved view keeps) and turns it
/// into the store's filter and order.
pub(super) fn case_filter(principal: &Principal, query: CaseQuery) -> Result<(CaseFilter, CaseSort), ApiError> {
    let mut check = Checker::default();
    let statuses = query
        .status
        .as_deref()
        .map(|list| {
            list.split(',')
                .filter(|s| !s.is_empty())
                .filter_map(|s| check.check(domain::CaseStatus::parse("status", s.trim())))
                .collect()
        })
        .unwrap_or_default();
    let assignee = match query.assignee_id.as_deref() {
        None => None,
        Some("none") => Some(AssigneeFilter::Nobody),
        Some("me") => match principal.user_id() {
            Some(id) => Some(AssigneeFilter::User(id)),
            None => check.check(Err(domain::Error::invalid("assignee_id", "`me` needs a user, not an API token"))),
        },
        Some(text) => check.check(
            text.parse::<uuid::Uuid>()
                .map(|id| AssigneeFilter::User(UserId(id)))
                .map_err(|_| domain::Error::invalid("assignee_id", "must be a user id, `me` or `none`")),
        ),
    };
    let channel = query.channel.as_deref().and_then(|c| check.check(domain::Channel::parse("channel", c)));
    let priority = query.priority.as_deref().and_then(|p| check.check(domain::Priority::parse("priority", p)));
    let tag = query.tag.as_deref().and_then(|t| check.check(parse_tag("tag", t)));
    let sort = match query.sort.as_deref() {
        None => Some(CaseSort::default()),
        Some(text) => check.check(CaseSort::parse(text).ok_or_else(|| {
            domain::Error::invalid("sort", "must be -created_at, created_at, -updated_at or updated_at")
        })),
    };
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        check.check::<()>(Err(domain::Error::invalid("q", "must be at most 200 characters")));
    }
    if query.text.as_ref().is_some_and(|q| q.chars().count() > 200) {
        check.check::<()>(Err(domain::Error::invalid("text", "must be at most 200 characters")));
    }
    let sla_states = query
        .sla
        .as_deref()
        .map(|list| {
            list.split(',')
                .filter(|s| !s.is_empty())
                .filter_map(|s| {
                    check.check(TargetState::parse(s.trim()).ok_or_else(|| {
                        domain::Error::invalid("sla", format!("`{s}` is not running, paused, warning, breached or met"))
                    }))
                })
                .collect()
        })
        .unwrap_or_default();
    check.finish()?;
    let filter = CaseFilter {
        statuses,
        unit_id: query.unit_id.map(UnitId),
        assignee,
        channel,
        tag,
        priority,
        contact_id: query.contact_id.map(ContactId),
        created_after: query.created_after,
        created_before: query.created_before,
        updated_after: query.updated_after,
        updated_before: query.updated_before,
        q: query.q,
        sla_states,
        snoozed: query.snoozed,
        text: query.text,
    };
    Ok((filter, sort.unwrap_or_default()))
}

/// Cases the caller may see: agents and supervisors see their units' cases
/// only; admins and `cases:read` tokens see all.
#[utoipa::path(
    tag = "cases",
    params(CaseQuery, PageParams),
    responses((status = 200, body = ListResponse<CaseDto>), (status = 400, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/cases")]
pub async fn list_cases(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<CaseQuery>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    require_case_reader(&auth.0)?;
    let page = params.page()?;
    let (filter, sort) = case_filter(&auth.0, query.into_inner())?;
    let scope = auth.0.case_units();
    let (cases, next) = store::case::list(&state.store.db, scope.as_deref(), &filter, sort, &page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(case_dtos(&state, cases).await?, next)))
}

/// Creates a case, with its contact and first message, in one transaction.
/// Honors `Idempotency-Key`.
#[utoipa::path(
    tag = "cases",
    request_body = CreateCase,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CaseDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/cases")]
pub async fn create_case(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: Json<CreateCase>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let unit = UnitId(body.unit_id);
    require(auth.0.can_work_cases_in(unit), "you may only create cases in your own units")?;
    let mut check = Checker::default();
    let subject = check.check(required_text("subject", &body.subject, 300));
    let tags = parse_tags("tags", &body.tags, &mut check);
    check_fields("custom_fields", &body.custom_fields, &mut check);
    // A unit that does not exist is reported by the store.
    if let Ok(target) = store::unit::get(&state.store.db, unit).await {
        check.check(domain::custom_field::check_values("custom_fields", &target.custom_fields, &body.custom_fields));
    }
    let contact = match (body.contact_id, &body.contact) {
        (Some(id), None) => Some(ContactRef::Existing(ContactId(id))),
        (None, Some(inline)) => {
            let name = inline.name.as_deref().and_then(|n| check.check(required_text("contact.name", n, 200)));
            let identities: Vec<_> = inline
                .identities
                .iter()
                .enumerate()
                .filter_map(|(i, input)| {
                    let channel: domain::Channel = input.channel.into();
                    check
                        .check(normalize_identity(&format!("contact.identities[{i}].value"), channel, &input.value))
                        .map(|v| (channel, v))
                })
                .collect();
            Some(ContactRef::FindOrCreate(NewContact { name, identities, ..Default::default() }))
        }
        _ => check.check(Err(domain::Error::invalid("contact_id", "give exactly one of contact_id or contact"))),
    };
    let first_message = body.first_message.as_ref().and_then(|m| first_message(&auth.0, m, &mut check));
    let channel: domain::Channel = body.channel.into();
    let start = match body.channel_install_id {
        None => None,
        Some(id) => check.check(crate::channels::starting(&state, id, channel, unit).await?).map(|rules| (id, rules)),
    };
    // Only a template the account's provider approved starts a conversation.
    if let (Some((id, _)), Some(template)) = (&start, first_message.as_ref().and_then(|m| m.template.as_ref())) {
        match crate::channels::templates::check(&state, *id, template, "first_message.template").await {
            Ok(_) => {}
            Err(store::Error::Domain(refused)) => {
                check.check::<()>(Err(refused));
            }
            Err(e) => return Err(e.into()),
        }
    }
    check.finish()?;
    let (Some(subject), Some(contact)) = (subject, contact) else {
        return Err(ApiError::internal("checked values missing"));
    };
    let new = NewCase {
        subject,
        channel,
        contact_id: ContactId(uuid::Uuid::nil()),
        unit_id: unit,
        status: body.status.map_or(domain::CaseStatus::Queued, Into::into),
        assignee_id: body.assignee_id.map(UserId),
        priority: body.priority.map_or(domain::Priority::Normal, Into::into),
        tags,
        custom_fields: body.custom_fields,
        channel_install_id: start.as_ref().map(|(id, _)| *id),
    };
    let actor = Actor::from(&auth.0);
    super::idempotency::run(&state, &req, &auth.0, || async {
        let visibility = store::contact::Visibility::of(&auth.0);
        let case = match &start {
            Some((_, rules)) => {
                store::case::start_for(&state.store, &actor, &visibility, contact, new, first_message, rules).await?
            }
            None => store::case::create_for(&state.store, &actor, &visibility, contact, new, first_message).await?,
        };
        super::idempotency::created(&CaseDto::from(case))
    })
    .await
}

/// The first message of a new case, checked: a template goes only on a
/// message to the person, and stands for the text when there is none.
fn first_message(principal: &Principal, m: &FirstMessage, check: &mut Checker) -> Option<domain::message::NewMessage> {
    let template = m.template.clone().and_then(|t| check.check(t.checked("first_message.template")));
    let text = match &template {
        Some(template) if m.body.trim().is_empty() => template.summary(),
        _ => m.body.clone(),
    };
    let mut new = check.check_api(new_message(
        principal,
        "first_message.body",
        &text,
        m.author_kind,
        domain::AuthorKind::Contact,
    ))?;
    if template.is_some() && new.author_kind.direction() == domain::Direction::Inbound {
        let refused =
            domain::Error::invalid("first_message.template", "only messages to the person are sent as templates");
        return check.check::<()>(Err(refused)).and(None);
    }
    new.template = template;
    Some(new)
}

#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    responses((status = 200, body = CaseDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/cases/{case_id}")]
pub async fn get_case(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let scope = auth.0.case_units();
    let case = store::case::get(&state.store.db, scope.as_deref(), CaseId(path.into_inner())).await?;
    super::read_log::case_read(&state, &auth.0, &case, "case").await?;
    Ok(HttpResponse::Ok().json(case_dto(&state, case).await?))
}

/// Tokens need `cases:read` to list anything about cases; staff always may
/// (they see their units' cases).
pub(super) fn require_case_reader(principal: &Principal) -> Result<(), ApiError> {
    let token_without_scope =
        matches!(principal, Principal::Token { .. }) && !principal.token_has(domain::Scope::CasesRead);
    require(!token_without_scope, "this needs the cases:read scope")
}

/// Loads a visible case and checks the caller may work on it.
pub(super) async fn workable_case(state: &AppState, principal: &Principal, id: CaseId) -> Result<Case, ApiError> {
    let scope = principal.case_units();
    let case = store::case::get(&state.store.db, scope.as_deref(), id).await?;
    require(
        principal.can_work_cases_in(case.unit_id),
        "this needs the cases:write scope or membership in the case's unit",
    )?;
    Ok(case)
}

/// Changes a case: status (through the state machine), assignee, unit
/// (transfer), priority, subject, custom fields, tags.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    request_body = UpdateCase,
    responses(
        (status = 200, body = CaseDto),
        (status = 404, body = Problem),
        (status = 409, description = "Status change not allowed, or assignee not in the unit", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/cases/{case_id}")]
pub async fn update_case(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateCase>,
) -> Result<HttpResponse, ApiError> {
    let id = CaseId(path.into_inner());
    let before = workable_case(&state, &auth.0, id).await?;
    let body = body.0;
    let mut check = Checker::default();
    let subject = body.subject.as_deref().and_then(|s| check.check(required_text("subject", s, 300)));
    let tags = body.tags.as_deref().map(|t| parse_tags("tags", t, &mut check));
    // The unit's field definitions: of the unit it goes to, when it moves.
    let defs = match store::unit::get(&state.store.db, body.unit_id.map(UnitId).unwrap_or(before.unit_id)).await {
        Ok(unit) => unit.custom_fields,
        Err(store::Error::NotFound(_)) => vec![],
        Err(e) => return Err(e.into()),
    };
    if let Some(fields) = &body.custom_fields {
        check_fields("custom_fields", fields, &mut check);
        check.check(domain::custom_field::check_values("custom_fields", &defs, fields));
    }
    // Required fields before resolving are the store's rule (every path
    // goes through it): `store::case::update_in`.
    if let Some(Some(until)) = body.snoozed_until {
        let now = Utc::now();
        if until <= now {
            check.check::<()>(Err(domain::Error::invalid("snoozed_until", "must be in the future")));
        } else if until > now + chrono::Duration::days(366) {
            check.check::<()>(Err(domain::Error::invalid("snoozed_until", "must be within a year")));
        }
    }
    check.finish()?;
    let patch = CasePatch {
        subject,
        status: body.status.map(Into::into),
        assignee_id: body.assignee_id.map(|a| a.map(UserId)),
        priority: body.priority.map(Into::into),
        unit_id: body.unit_id.map(UnitId),
        custom_fields: body.custom_fields,
        tags,
        snoozed_until: body.snoozed_until,
    };
    // The person is told when a person takes over, by name and unit.
    let notice = match patch.assignee_id {
        Some(Some(user)) if before.assignee_id != Some(user) => {
            takeover_notice(&state, &before, user, patch.unit_id.unwrap_or(before.unit_id)).await?
        }
        _ => None,
    };
    let scope = auth.0.case_units();
    let case =
        store::case::update_telling(&state.store, &Actor::from(&auth.0), scope.as_deref(), id, patch, notice).await?;
    Ok(HttpResponse::Ok().json(case_dto(&state, case).await?))
}

/// "Ahora te atiende Laura Gómez, de Admisiones.", when the case's channel
/// takes a message now (not a WhatsApp case past its window, say).
pub(super) async fn takeover_notice(
    state: &AppState,
    case: &Case,
    agent: UserId,
    unit: UnitId,
) -> Result<Option<NewMessage>, ApiError> {
    if crate::channels::check_outbound(state, case, None, domain::AuthorKind::System).await.is_err() {
        return Ok(None);
    }
    let (agent, unit) =
        match (store::user::get(&state.store.db, agent).await, store::unit::get(&state.store.db, unit).await) {
            (Ok(agent), Ok(unit)) => (agent, unit),
            // An unknown user or unit: the update itself says so.
            _ => return Ok(None),
        };
    let text =
        crate::i18n::t(&state.config.locale, "handoff.agent", &[("name", &agent.display_name), ("unit", &unit.name)]);
    Ok(Some(NewMessage::text(domain::AuthorKind::System, text)))
}

#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    request_body = AddTag,
    responses((status = 200, body = CaseDto), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/cases/{case_id}/tags")]
pub async fn add_tag(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<AddTag>,
) -> Result<HttpResponse, ApiError> {
    let id = CaseId(path.into_inner());
    let case = workable_case(&state, &auth.0, id).await?;
    let tag = parse_tag("tag", &body.0.tag)?;
    let mut tags = case.tags;
    tags.push(tag);
    let patch = CasePatch { tags: Some(tags), ..Default::default() };
    let scope = auth.0.case_units();
    let case = store::case::update(&state.store, &Actor::from(&auth.0), scope.as_deref(), id, patch).await?;
    Ok(HttpResponse::Ok().json(case_dto(&state, case).await?))
}

#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path), ("tag" = String, Path)),
    responses((status = 200, body = CaseDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/cases/{case_id}/tags/{tag}")]
pub async fn remove_tag(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, tag) = path.into_inner();
    let id = CaseId(id);
    let case = workable_case(&state, &auth.0, id).await?;
    let tag = parse_tag("tag", &tag)?;
    if !case.tags.contains(&tag) {
        return Err(ApiError::NotFound("tag"));
    }
    let tags = case.tags.into_iter().filter(|t| *t != tag).collect();
    let patch = CasePatch { tags: Some(tags), ..Default::default() };
    let scope = auth.0.case_units();
    let case = store::case::update(&state.store, &Actor::from(&auth.0), scope.as_deref(), id, patch).await?;
    Ok(HttpResponse::Ok().json(case_dto(&state, case).await?))
}

#[derive(Serialize, ToSchema)]
pub struct TagCount {
    pub tag: String,
    /// Cases visible to the caller that carry the tag.
    pub cases: i64,
}

/// Tags in use on the cases the caller may see.
#[utoipa::path(tag = "cases", responses((status = 200, body = ListResponse<TagCount>)), security(("bearer" = [])))]
#[get("/tags")]
pub async fn list_tags(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require_case_reader(&auth.0)?;
    let scope = auth.0.case_units();
    let tags = store::case::tag_counts(&state.store.db, scope.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .json(ListResponse::new(tags.into_iter().map(|(tag, cases)| TagCount { tag, cases }).collect(), None)))
}
