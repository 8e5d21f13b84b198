//! Agents as routing sees them: presence (set by the agent, or by
//! inactivity in the console), their own capacity, when they were last given
//! a case, and how many open cases they hold per channel.

use super::{Result, audit, case, live, routing};
use crate::domain::routing::{Capacity, Presence};
use crate::domain::{Actor, CaseStatus, Channel, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use std::collections::{BTreeMap, HashMap};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "agents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub presence: String,
        pub presence_since: DateTimeUtc,
        /// Set by inactivity rather than by the agent (activity undoes it).
        pub presence_auto: bool,
        pub last_seen_at: Option<DateTimeUtc>,
        pub last_assigned_at: Option<DateTimeUtc>,
        pub capacity: Option<Json>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One agent's routing state.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentState {
    pub user: UserId,
    pub presence: Presence,
    pub presence_since: DateTime<Utc>,
    pub presence_auto: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_assigned_at: Option<DateTime<Utc>>,
    /// Their own capacity, overriding their units'.
    pub capacity: Option<Capacity>,
}

impl AgentState {
    fn unknown(user: UserId) -> Self {
        AgentState {
            user,
            presence: Presence::Offline,
            presence_since: DateTime::<Utc>::UNIX_EPOCH,
            presence_auto: false,
            last_seen_at: None,
            last_assigned_at: None,
            capacity: None,
        }
    }
}

fn from_model(m: entity::Model) -> AgentState {
    AgentState {
        user: UserId(m.user_id),
        // An unreadable presence is taken as offline: routing then skips them.
        presence: Presence::parse("presence", &m.presence).unwrap_or(Presence::Offline),
        presence_since: m.presence_since,
        presence_auto: m.presence_auto,
        last_seen_at: m.last_seen_at,
        last_assigned_at: m.last_assigned_at,
        capacity: m.capacity.and_then(|c| serde_json::from_value(c).ok()),
    }
}

pub async fn state(conn: &impl ConnectionTrait, user: UserId) -> Result<AgentState> {
    let found = entity::Entity::find_by_id(user.0).one(conn).await?;
    Ok(found.map_or_else(|| AgentState::unknown(user), from_model))
}

/// The states of `users` (offline for those never seen).
pub async fn states(conn: &impl ConnectionTrait, users: &[UserId]) -> Result<HashMap<UserId, AgentState>> {
    let rows = entity::Entity::find().filter(entity::Column::UserId.is_in(users.iter().map(|u| u.0))).all(conn).await?;
    let mut out: HashMap<_, _> = rows.into_iter().map(|m| (UserId(m.user_id), from_model(m))).collect();
    for user in users {
        out.entry(*user).or_insert_with(|| AgentState::unknown(*user));
    }
    Ok(out)
}

/// Makes sure the agent has a row (concurrent callers may race: the loser's
/// insert does nothing).
async fn ensure(conn: &impl ConnectionTrait, user: UserId) -> Result<()> {
    let row = entity::ActiveModel {
        user_id: Set(user.0),
        presence: Set(Presence::Offline.as_str().to_owned()),
        presence_since: Set(super::now()),
        presence_auto: Set(false),
        last_seen_at: Set(None),
        last_assigned_at: Set(None),
        capacity: Set(None),
    };
    entity::Entity::insert(row).on_conflict_do_nothing_on([entity::Column::UserId]).exec(conn).await?;
    Ok(())
}

/// Sets an agent's presence in the caller's transaction; `auto` when
/// inactivity sets it. Going online routes their units' queues; going
/// offline sends their open cases back to the queue where the unit says so.
pub async fn set_presence_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    user: UserId,
    presence: Presence,
    auto: bool,
) -> Result<AgentState> {
    ensure(conn, user).await?;
    let current = state(conn, user).await?;
    if current.presence == presence && current.presence_auto == auto {
        return Ok(current);
    }
    let now = super::now();
    let mut row: entity::ActiveModel = entity::ActiveModel { user_id: Set(user.0), ..Default::default() };
    row.presence = Set(presence.as_str().to_owned());
    row.presence_auto = Set(auto);
    if current.presence != presence {
        row.presence_since = Set(now);
    }
    if !auto {
        row.last_seen_at = Set(Some(now));
    }
    let saved = from_model(row.update(conn).await?);
    if current.presence == presence {
        return Ok(saved);
    }
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: "agent.presence_changed",
            target_kind: "user",
            target_id: user.to_string(),
            unit_id: None,
            details: serde_json::json!({ "from": current.presence.as_str(), "to": presence.as_str(), "auto": auto }),
        },
    )
    .await?;
    let units = super::user::get(conn, user).await?.memberships.iter().map(|m| m.unit_id.0).collect();
    let data = serde_json::json!({ "user_id": user.0, "presence": presence.as_str() });
    let mut event = live::LiveEvent::new("presence.changed", units, None, data);
    event.users = vec![user.0];
    live::publish_in(conn, event).await?;
    match presence {
        Presence::Online => routing::request_for_agent_in(conn, user).await?,
        Presence::Offline => routing::requeue_agent_in(conn, actor, user).await?,
        Presence::Away => {}
    }
    Ok(saved)
}

/// Records activity in the console: an agent set away by inactivity is
/// back online.
pub async fn touch(store: &super::Store, user: UserId) -> Result<()> {
    let tx = store.begin().await?;
    ensure(&*tx, user).await?;
    let current = state(&*tx, user).await?;
    if current.presence_auto && current.presence == Presence::Away {
        set_presence_in(&*tx, &Actor::User(user), user, Presence::Online, false).await?;
    } else {
        entity::ActiveModel { user_id: Set(user.0), last_seen_at: Set(Some(super::now())), ..Default::default() }
            .update(&*tx)
            .await?;
    }
    tx.commit().await
}

/// Sets or clears an agent's own capacity.
pub async fn set_capacity(store: &super::Store, actor: &Actor, user: UserId, capacity: Option<Capacity>) -> Result<()> {
    let tx = store.begin().await?;
    ensure(&*tx, user).await?;
    let value = capacity.as_ref().map(|c| serde_json::to_value(c).unwrap_or_default());
    entity::ActiveModel { user_id: Set(user.0), capacity: Set(value.clone()), ..Default::default() }
        .update(&*tx)
        .await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "agent.capacity_changed",
            target_kind: "user",
            target_id: user.to_string(),
            unit_id: None,
            details: serde_json::json!({ "capacity": value }),
        },
    )
    .await?;
    routing::request_for_agent_in(&*tx, user).await?;
    tx.commit().await
}

/// Notes that `user` was just given a case (round robin's order).
pub async fn assigned_in(conn: &impl ConnectionTrait, user: UserId) -> Result<()> {
    ensure(conn, user).await?;
    entity::ActiveModel { user_id: Set(user.0), last_assigned_at: Set(Some(super::now())), ..Default::default() }
        .update(conn)
        .await?;
    Ok(())
}

/// The statuses in which a case counts towards its assignee's load.
pub const LOADED: [CaseStatus; 2] = [CaseStatus::Assigned, CaseStatus::WaitingOnContact];

/// Open cases each of `users` holds, per channel.
pub async fn loads(conn: &impl ConnectionTrait, users: &[UserId]) -> Result<HashMap<UserId, BTreeMap<Channel, u32>>> {
    use case::entity::Column;
    let rows: Vec<(uuid::Uuid, String, i64)> = case::entity::Entity::find()
        .select_only()
        .column(Column::AssigneeId)
        .column(Column::Channel)
        .column_as(sea_orm::sea_query::Expr::col(Column::Id).count(), "n")
        .filter(Column::AssigneeId.is_in(users.iter().map(|u| u.0)))
        .filter(Column::Status.is_in(LOADED.iter().map(|s| s.as_str())))
        .group_by(Column::AssigneeId)
        .group_by(Column::Channel)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: HashMap<UserId, BTreeMap<Channel, u32>> = HashMap::new();
    for (user, channel, n) in rows {
        if let Ok(channel) = Channel::parse("channel", &channel) {
            *out.entry(UserId(user)).or_default().entry(channel).or_default() += n as u32;
        }
    }
    Ok(out)
}

/// Marks agents without console activity away (after `away_after`) and
/// then offline (after `offline_after`); returns how many changed.
pub async fn sweep(
    store: &super::Store,
    away_after: chrono::Duration,
    offline_after: chrono::Duration,
) -> Result<usize> {
    let now = super::now();
    let rows =
        entity::Entity::find().filter(entity::Column::Presence.ne(Presence::Offline.as_str())).all(&store.db).await?;
    let mut changed = 0;
    for row in rows.into_iter().map(from_model) {
        let seen = std::cmp::Ord::max(row.last_seen_at.unwrap_or(row.presence_since), row.presence_since);
        let next = if now - seen >= offline_after {
            Presence::Offline
        } else if row.presence == Presence::Online && now - seen >= away_after {
            Presence::Away
        } else {
            continue;
        };
        let tx = store.begin().await?;
        // Read again under the transaction: the agent may have come back.
        let current = state(&*tx, row.user).await?;
        if current.presence == row.presence && current.last_seen_at == row.last_seen_at {
            set_presence_in(&*tx, &Actor::System, row.user, next, true).await?;
            changed += 1;
        }
        tx.commit().await?;
    }
    Ok(changed)
}
