//! Queues and the people who work them: routing settings (the unit's
//! part of `/units`), agents' presence, load and capacity, claiming a
//! queued case and transferring a case to another unit or colleague.

use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

use super::case::{CaseDto, case_dto, workable_case};
use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::routing as rules;
use crate::domain::{self, Actor, CaseId, CaseStatus, Principal, UnitId, UserId, case::CasePatch, required_text};
use crate::store;

/// How a unit hands out its queue.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum RoutingMode {
    /// Agents take cases from the queue themselves.
    Manual,
    /// The online agent who was given a case longest ago.
    RoundRobin,
    /// The online agent with the fewest open cases.
    LeastLoaded,
}

impl From<rules::RoutingMode> for RoutingMode {
    fn from(m: rules::RoutingMode) -> Self {
        match m {
            rules::RoutingMode::Manual => RoutingMode::Manual,
            rules::RoutingMode::RoundRobin => RoutingMode::RoundRobin,
            rules::RoutingMode::LeastLoaded => RoutingMode::LeastLoaded,
        }
    }
}

impl From<RoutingMode> for rules::RoutingMode {
    fn from(m: RoutingMode) -> Self {
        match m {
            RoutingMode::Manual => rules::RoutingMode::Manual,
            RoutingMode::RoundRobin => rules::RoutingMode::RoundRobin,
            RoutingMode::LeastLoaded => rules::RoutingMode::LeastLoaded,
        }
    }
}

/// How many open cases an agent holds at once.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// On any channel without its own figure; 5 by default.
    #[serde(default = "default_capacity")]
    pub default: u32,
    /// Per channel, e.g. `{"whatsapp": 3, "email": 10}`.
    #[serde(default)]
    pub channels: BTreeMap<String, u32>,
}

fn default_capacity() -> u32 {
    rules::Capacity::default().default
}

impl From<rules::Capacity> for Capacity {
    fn from(c: rules::Capacity) -> Self {
        Capacity { default: c.default, channels: c.channels }
    }
}

impl Capacity {
    fn parse(self, field: &str) -> Result<rules::Capacity, domain::Error> {
        let capacity = rules::Capacity { default: self.default, channels: self.channels };
        capacity.validate(field)?;
        Ok(capacity)
    }
}

/// A unit's routing settings.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// `manual` by default.
    #[serde(default = "manual")]
    pub mode: RoutingMode,
    /// Agents' capacity in this unit, unless an agent has their own.
    #[serde(default = "unit_capacity")]
    pub capacity: Capacity,
    /// When an agent goes offline, their open cases here go back to the queue.
    #[serde(default)]
    pub requeue_when_offline: bool,
}

fn manual() -> RoutingMode {
    RoutingMode::Manual
}

fn unit_capacity() -> Capacity {
    rules::Capacity::default().into()
}

impl Default for RoutingSettings {
    fn default() -> Self {
        rules::RoutingSettings::default().into()
    }
}

impl From<rules::RoutingSettings> for RoutingSettings {
    fn from(s: rules::RoutingSettings) -> Self {
        RoutingSettings {
            mode: s.mode.into(),
            capacity: s.capacity.into(),
            requeue_when_offline: s.requeue_when_offline,
        }
    }
}

impl RoutingSettings {
    pub fn parse(self, field: &str) -> Result<rules::RoutingSettings, domain::Error> {
        Ok(rules::RoutingSettings {
            mode: self.mode.into(),
            capacity: self.capacity.parse(&format!("{field}.capacity"))?,
            requeue_when_offline: self.requeue_when_offline,
        })
    }
}

/// Whether an agent is taking cases.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Offline,
}

impl From<rules::Presence> for Presence {
    fn from(p: rules::Presence) -> Self {
        match p {
            rules::Presence::Online => Presence::Online,
            rules::Presence::Away => Presence::Away,
            rules::Presence::Offline => Presence::Offline,
        }
    }
}

impl From<Presence> for rules::Presence {
    fn from(p: Presence) -> Self {
        match p {
            Presence::Online => rules::Presence::Online,
            Presence::Away => rules::Presence::Away,
            Presence::Offline => rules::Presence::Offline,
        }
    }
}

/// An agent, their presence and their load.
#[derive(Serialize, ToSchema)]
pub struct AgentDto {
    pub user_id: uuid::Uuid,
    pub display_name: String,
    pub email: String,
    pub presence: Presence,
    /// Since when.
    pub presence_since: DateTime<Utc>,
    /// Set by inactivity rather than by the agent.
    pub presence_auto: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Open cases they hold.
    pub load: u32,
    /// Open cases they hold, per channel.
    pub load_by_channel: BTreeMap<String, u32>,
    /// Their own capacity; none means each unit's.
    pub capacity: Option<Capacity>,
    /// Units where they are agents.
    pub units: Vec<uuid::Uuid>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgentQuery {
    /// Only this unit's agents.
    pub unit_id: Option<uuid::Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPresence {
    pub presence: Presence,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// The agent's own capacity; `null` goes back to each unit's.
    #[serde(default, deserialize_with = "super::schema::double_option")]
    #[schema(value_type = Option<Capacity>)]
    pub capacity: Option<Option<Capacity>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferCase {
    /// The unit that takes it (its queue, unless `assignee_id` names one of its people).
    pub unit_id: Option<uuid::Uuid>,
    /// The colleague who takes it.
    pub assignee_id: Option<uuid::Uuid>,
    /// A note for whoever takes it (kept on the case).
    pub note: Option<String>,
}

async fn agent_dtos(state: &AppState, users: Vec<domain::User>) -> Result<Vec<AgentDto>, ApiError> {
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let mut states = store::agent::states(&state.store.db, &ids).await?;
    let mut loads = store::agent::loads(&state.store.db, &ids).await?;
    Ok(users
        .into_iter()
        .filter_map(|user| {
            let agent = states.remove(&user.id)?;
            let by_channel = loads.remove(&user.id).unwrap_or_default();
            Some(AgentDto {
                user_id: user.id.0,
                display_name: user.display_name,
                email: user.email.as_str().to_owned(),
                presence: agent.presence.into(),
                presence_since: agent.presence_since,
                presence_auto: agent.presence_auto,
                last_seen_at: agent.last_seen_at,
                load: by_channel.values().sum(),
                load_by_channel: by_channel.into_iter().map(|(c, n)| (c.as_str().to_owned(), n)).collect(),
                capacity: agent.capacity.map(Into::into),
                units: user.memberships.iter().filter(|m| m.role == domain::Role::Agent).map(|m| m.unit_id.0).collect(),
            })
        })
        .collect())
}

fn staff_user(principal: &Principal) -> Result<UserId, ApiError> {
    principal.user_id().ok_or(ApiError::Forbidden("this needs a staff account, not an API token"))
}

/// Agents with their presence and load: a unit's (its staff, admins), or
/// every unit the caller belongs to.
#[utoipa::path(
    tag = "routing",
    params(AgentQuery),
    responses((status = 200, body = ListResponse<AgentDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/agents")]
pub async fn list_agents(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<AgentQuery>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.can_read_units(), "this needs a staff account or the units:read scope")?;
    // Staff see their units' agents; a token with `units:read`, every unit's.
    let mine = match &auth.0 {
        Principal::Token { .. } => None,
        user => user.case_units(),
    };
    let units: Option<Vec<UnitId>> = match (query.unit_id.map(UnitId), mine) {
        (Some(unit), mine) => {
            require(mine.is_none_or(|m| m.contains(&unit)), "only the unit's staff and admins may see its agents")?;
            Some(vec![unit])
        }
        (None, mine) => mine,
    };
    let users = store::user::agents_in(&state.store.db, units.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(agent_dtos(&state, users).await?, None)))
}

/// The caller's own presence and load.
#[utoipa::path(
    tag = "routing",
    responses((status = 200, body = AgentDto), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/agents/me")]
pub async fn get_me(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let me = staff_user(&auth.0)?;
    let user = store::user::get(&state.store.db, me).await?;
    let dto = agent_dtos(&state, vec![user]).await?.pop().ok_or_else(|| ApiError::internal("agent missing"))?;
    Ok(HttpResponse::Ok().json(dto))
}

/// Sets the caller's presence: online (takes cases), away, offline (units
/// that say so send their open cases back to the queue).
#[utoipa::path(
    tag = "routing",
    request_body = SetPresence,
    responses((status = 200, body = AgentDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[put("/agents/me/presence")]
pub async fn set_presence(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<SetPresence>,
) -> Result<HttpResponse, ApiError> {
    let me = staff_user(&auth.0)?;
    let tx = state.store.begin().await?;
    store::agent::set_presence_in(&*tx, &Actor::User(me), me, body.0.presence.into(), false).await?;
    tx.commit().await?;
    let user = store::user::get(&state.store.db, me).await?;
    let dto = agent_dtos(&state, vec![user]).await?.pop().ok_or_else(|| ApiError::internal("agent missing"))?;
    Ok(HttpResponse::Ok().json(dto))
}

/// Sets an agent's own capacity (supervisors of one of the agent's units, admins).
#[utoipa::path(
    tag = "routing",
    params(("user_id" = uuid::Uuid, Path)),
    request_body = UpdateAgent,
    responses((status = 200, body = AgentDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/agents/{user_id}")]
pub async fn update_agent(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateAgent>,
) -> Result<HttpResponse, ApiError> {
    let user = store::user::get(&state.store.db, UserId(path.into_inner())).await?;
    require(
        auth.0.is_admin() || user.memberships.iter().any(|m| auth.0.can_manage_unit(m.unit_id)),
        "only supervisors of the agent's units and admins may change their capacity",
    )?;
    if let Some(capacity) = body.0.capacity {
        let mut check = Checker::default();
        let capacity = capacity.and_then(|c| check.check(c.parse("capacity")));
        check.finish()?;
        store::agent::set_capacity(&state.store, &Actor::from(&auth.0), user.id, capacity).await?;
    }
    let dto = agent_dtos(&state, vec![user]).await?.pop().ok_or_else(|| ApiError::internal("agent missing"))?;
    Ok(HttpResponse::Ok().json(dto))
}

/// Takes a queued case (or one the bot is handling) for the caller. Of two
/// agents claiming at once, one gets it and the other gets 409 naming who did.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    responses((status = 200, body = CaseDto), (status = 404, body = Problem), (status = 409, description = "Someone else has it, or it is closed", body = Problem)),
    security(("bearer" = []))
)]
#[post("/cases/{case_id}/claim")]
pub async fn claim_case(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let me = staff_user(&auth.0)?;
    let id = CaseId(path.into_inner());
    let before = workable_case(&state, &auth.0, id).await?;
    let notice = match before.assignee_id {
        None => super::case::takeover_notice(&state, &before, me, before.unit_id).await?,
        Some(_) => None,
    };
    let scope = auth.0.case_units();
    let case = store::case::claim(&state.store, &Actor::from(&auth.0), scope.as_deref(), id, me, notice).await?;
    Ok(HttpResponse::Ok().json(case_dto(&state, case).await?))
}

/// Transfers a case to another unit (its queue, or one of its people) or to
/// a colleague, with a note for whoever takes it; the history stays.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    request_body = TransferCase,
    responses((status = 200, body = CaseDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/cases/{case_id}/transfer")]
pub async fn transfer_case(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<TransferCase>,
) -> Result<HttpResponse, ApiError> {
    let id = CaseId(path.into_inner());
    let before = workable_case(&state, &auth.0, id).await?;
    let body = body.0;
    let mut check = Checker::default();
    if body.unit_id.is_none() && body.assignee_id.is_none() {
        check.check::<()>(Err(domain::Error::invalid("unit_id", "name the unit or the colleague who takes the case")));
    }
    let note = body
        .note
        .as_deref()
        .and_then(|n| check.check(required_text("note", n, crate::domain::message::MAX_BODY_CHARS)));
    check.finish()?;
    let unit = body.unit_id.map(UnitId).unwrap_or(before.unit_id);
    let patch = CasePatch {
        unit_id: body.unit_id.map(UnitId),
        assignee_id: body.assignee_id.map(|a| Some(UserId(a))),
        // A case the bot has goes to people when it is transferred.
        status: (before.status == CaseStatus::Bot && body.assignee_id.is_none()).then_some(CaseStatus::Queued),
        ..Default::default()
    };
    let notice = match body.assignee_id {
        Some(user) => super::case::takeover_notice(&state, &before, UserId(user), unit).await?,
        None => None,
    };
    let scope = auth.0.case_units();
    let case = store::case::transfer(
        &state.store,
        &Actor::from(&auth.0),
        scope.as_deref(),
        id,
        patch,
        auth.0.user_id(),
        note,
        notice,
    )
    .await?;
    // The caller may no longer see it; say what happened anyway.
    Ok(HttpResponse::Ok().json(case_dto(&state, case).await?))
}
