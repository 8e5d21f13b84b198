//! Handing out a unit's queue: a `queue.route` job per unit is requested in
//! the transaction that changes what routing depends on (a case enters the
//! queue, an agent comes online or frees capacity, settings change). The
//! jobs run one at a time across every unit and instance (one job group),
//! so two routings never count the same free capacity; a case is taken
//! only if, under its row lock, it is still queued and unassigned, so a
//! routing and an agent's claim never both win.

use super::{Result, agent, case, job, unit};
use crate::domain::routing::{Candidate, Presence, RoutingMode, choose};
use crate::domain::{Actor, Case, CaseId, CaseStatus, Role, UnitId, UserId, case::CasePatch};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Every routing job belongs to this group: they run one at a time.
const GROUP: &str = "route";

/// Most cases one routing job hands out; a full batch asks for another.
const BATCH: u64 = 100;

/// Asks for `unit`'s queue to be routed, unless the unit routes by hand or
/// a routing of it is already waiting to start.
pub async fn request_in(conn: &impl ConnectionTrait, unit: UnitId) -> Result<()> {
    match unit::get(conn, unit).await {
        Ok(unit) => request_for_unit_in(conn, &unit).await,
        Err(super::Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Like [`request_in`] for a unit the caller has read already.
pub async fn request_for_unit_in(conn: &impl ConnectionTrait, unit: &crate::domain::Unit) -> Result<()> {
    if unit.routing.mode == RoutingMode::Manual {
        return Ok(());
    }
    let payload = serde_json::json!({ "unit_id": unit.id.0 });
    let mut waiting = job::entity::Entity::find()
        .filter(job::entity::Column::Kind.eq(job::JobKind::QueueRoute.as_str()))
        .filter(job::entity::Column::Status.eq("pending"))
        .filter(job::entity::Column::Attempts.eq(0));
    // A waiting routing covers this change only if it starts after this
    // commit. On PostgreSQL a worker could claim it meanwhile and read the
    // queue before the change is visible: the row lock keeps it pending
    // (claims skip locked rows) until this transaction ends, and a claim
    // already under way is waited for, after which the row no longer
    // matches and a new routing is requested. (SQLite's one writer already
    // keeps claims out of this transaction.)
    if super::is_postgres(conn) {
        waiting = waiting.lock(sea_orm::sea_query::LockType::Update);
    }
    let waiting = waiting.all(conn).await?;
    if waiting.iter().any(|j| j.payload == payload) {
        return Ok(());
    }
    let new = job::NewJob { kind: job::JobKind::QueueRoute, payload, idempotency_key: None };
    job::enqueue_in_group(conn, new, super::now(), Some(GROUP.to_owned())).await
}

/// Requests routing of every unit where `user` is an agent.
pub async fn request_for_agent_in(conn: &impl ConnectionTrait, user: UserId) -> Result<()> {
    for unit in agent_units(conn, user).await? {
        request_in(conn, unit).await?;
    }
    Ok(())
}

async fn agent_units(conn: &impl ConnectionTrait, user: UserId) -> Result<Vec<UnitId>> {
    let user = super::user::get(conn, user).await?;
    Ok(user.memberships.iter().filter(|m| m.role == Role::Agent).map(|m| m.unit_id).collect())
}

/// After `user` went offline: their open cases in units that say so go
/// back to the queue (and are routed again).
pub async fn requeue_agent_in(conn: &impl ConnectionTrait, actor: &Actor, user: UserId) -> Result<()> {
    let units = super::unit::list(conn).await?;
    let requeue: Vec<UnitId> = units.iter().filter(|u| u.routing.requeue_when_offline).map(|u| u.id).collect();
    if requeue.is_empty() {
        return Ok(());
    }
    let held = case::entity::Entity::find()
        .filter(case::entity::Column::AssigneeId.eq(user.0))
        .filter(case::entity::Column::Status.is_in(agent::LOADED.iter().map(|s| s.as_str())))
        .filter(case::entity::Column::UnitId.is_in(requeue.iter().map(|u| u.0)))
        .all(conn)
        .await?;
    for row in held {
        let mut case = case::get_locked(conn, None, CaseId(row.id)).await?;
        if case.assignee_id != Some(user) || !agent::LOADED.contains(&case.status) {
            continue;
        }
        let patch = CasePatch { status: Some(CaseStatus::Queued), assignee_id: Some(None), ..Default::default() };
        case::update_in(conn, actor, &mut case, patch).await?;
    }
    Ok(())
}

/// Hands out `unit`'s queued cases to its online agents with room, in the
/// caller's transaction; returns who got what.
pub async fn route_in(conn: &impl ConnectionTrait, unit: UnitId) -> Result<Vec<(CaseId, UserId)>> {
    let unit = unit::get(conn, unit).await?;
    if unit.routing.mode == RoutingMode::Manual {
        return Ok(vec![]);
    }
    use case::entity::Column;
    let mut queued: Vec<case::entity::Model> = case::entity::Entity::find()
        .filter(Column::UnitId.eq(unit.id.0))
        .filter(Column::Status.eq(CaseStatus::Queued.as_str()))
        .filter(Column::AssigneeId.is_null())
        .order_by_asc(Column::CreatedAt)
        .limit(BATCH)
        .all(conn)
        .await?;
    if queued.is_empty() {
        return Ok(vec![]);
    }
    // Most urgent first, then oldest (the sort is stable).
    queued.sort_by_key(|c| {
        std::cmp::Reverse(
            crate::domain::Priority::parse("priority", &c.priority).unwrap_or(crate::domain::Priority::Normal),
        )
    });
    let agents = super::user::agents_of(conn, unit.id).await?;
    let mut states = agent::states(conn, &agents).await?;
    let mut loads = agent::loads(conn, &agents).await?;
    let mut given = vec![];
    for row in &queued {
        let Ok(channel) = crate::domain::Channel::parse("channel", &row.channel) else { continue };
        let candidates: Vec<Candidate> = agents
            .iter()
            .filter_map(|user| {
                let state = states.get(user)?;
                let load = loads.get(user);
                let capacity = state.capacity.as_ref().unwrap_or(&unit.routing.capacity);
                Some(Candidate {
                    user: *user,
                    presence: state.presence,
                    load: load.map_or(0, |l| l.values().sum()),
                    load_on_channel: load.and_then(|l| l.get(&channel)).copied().unwrap_or(0),
                    capacity: capacity.on(channel),
                    last_assigned_at: state.last_assigned_at,
                })
            })
            .collect();
        if !candidates.iter().any(|c| c.presence == Presence::Online) {
            break;
        }
        let Some(user) = choose(unit.routing.mode, &candidates) else { continue };
        let mut case: Case = case::get_locked(conn, None, CaseId(row.id)).await?;
        if case.status != CaseStatus::Queued || case.assignee_id.is_some() || case.unit_id != unit.id {
            continue;
        }
        let patch = CasePatch { assignee_id: Some(Some(user)), ..Default::default() };
        case::update_in(conn, &Actor::System, &mut case, patch).await?;
        *loads.entry(user).or_default().entry(channel).or_default() += 1;
        if let Some(state) = states.get_mut(&user) {
            state.last_assigned_at = Some(super::now());
        }
        given.push((case.id, user));
    }
    if queued.len() as u64 == BATCH && !given.is_empty() {
        request_in(conn, unit.id).await?;
    }
    Ok(given)
}
