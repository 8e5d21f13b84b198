//! The facts reports count, one row per case (`case_facts`), and the cases
//! whose facts must be worked out again (`case_facts_due`).
//!
//! Every entry the audit log writes about a case marks it due in the same
//! transaction ([`mark_in`]), so a change cannot be committed without its
//! figures following. The refresher ([`spawn_refresher`]) reads each due
//! case's timeline back from the audit log, works out its facts in the
//! calendar of its unit (`domain::report::facts`) and stores them; the
//! same code rebuilds every case's facts ([`rebuild`], `ventanilla reports
//! rebuild`), so figures are never something only the live path knows.

use super::{Error, Result, Store, audit, stored};
use crate::domain::report::{Calendar, Facts, Step, StepKind};
use crate::domain::{AuthorKind, CaseId, CaseStatus, Channel, Priority, UnitId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Set,
};
use std::collections::HashMap;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_facts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
        pub unit_id: Uuid,
        pub channel: String,
        pub channel_install_id: Option<Uuid>,
        pub agent_id: Option<Uuid>,
        pub priority: String,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub started_in_bot: bool,
        pub handoff_at: Option<DateTimeUtc>,
        pub first_assigned_at: Option<DateTimeUtc>,
        pub first_response_at: Option<DateTimeUtc>,
        pub resolved_at: Option<DateTimeUtc>,
        pub reopens: i32,
        pub transfers: i32,
        pub agent_replies: i32,
        pub notes: i32,
        pub bot_contained: bool,
        pub abandoned: bool,
        pub first_response_s: Option<i64>,
        pub first_response_bs: Option<i64>,
        pub handoff_wait_s: Option<i64>,
        pub handoff_wait_bs: Option<i64>,
        pub assignment_s: Option<i64>,
        pub assignment_bs: Option<i64>,
        pub resolution_s: Option<i64>,
        pub resolution_bs: Option<i64>,
        pub handling_s: i64,
        pub handling_bs: i64,
        pub waiting_s: i64,
        pub waiting_bs: i64,
        pub computed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod due {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_facts_due")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
        pub marked_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Whether changes mark cases due (on unless a benchmark measures what
/// keeping the figures costs).
static TRACKING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Switches marking off or on for this process: `ventanilla-bench reports`
/// measures case creation both ways. Figures of changes made while off
/// are stale until `rebuild`.
pub fn set_tracking(on: bool) {
    TRACKING.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Marks `case`'s facts due, in the caller's transaction. A later mark
/// moves the time, so a refresh that read the case before it does not
/// clear it.
pub async fn mark_in(conn: &impl ConnectionTrait, case: uuid::Uuid) -> Result<()> {
    if !TRACKING.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    let row = due::ActiveModel { case_id: Set(case), marked_at: Set(super::now()) };
    due::Entity::insert(row)
        .on_conflict(OnConflict::column(due::Column::CaseId).update_column(due::Column::MarkedAt).to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The steps of a case's life the audit log holds, in order.
pub async fn timeline(conn: &impl ConnectionTrait, case: CaseId) -> Result<Vec<Step>> {
    use audit::entity::Column;
    let rows = audit::entity::Entity::find()
        .filter(Column::TargetKind.eq("case"))
        .filter(Column::TargetId.eq(case.to_string()))
        .order_by_asc(Column::At)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    Ok(rows.iter().filter_map(|r| step_of(&r.action, &r.details).map(|kind| Step { at: r.at, kind })).collect())
}

/// The step an audit entry records, if it is one reports count.
fn step_of(action: &str, details: &serde_json::Value) -> Option<StepKind> {
    let status = |key: &str| details.get(key).and_then(|v| v.as_str()).and_then(|s| CaseStatus::parse(key, s).ok());
    let uuid = |key: &str| details.get(key).and_then(|v| v.as_str()).and_then(|s| s.parse::<uuid::Uuid>().ok());
    Some(match action {
        // Entries written before the status was recorded started queued.
        "case.created" => StepKind::Created {
            status: status("status").unwrap_or(CaseStatus::Queued),
            assignee: uuid("assignee_id").map(UserId),
        },
        "case.status_changed" => StepKind::Status { from: status("from")?, to: status("to")? },
        "case.assigned" => StepKind::Assigned { to: uuid("to").map(UserId) },
        "case.transferred" => StepKind::Transferred { to: UnitId(uuid("to")?) },
        "message.created" => StepKind::Message {
            author: match details.get("author_kind").and_then(|v| v.as_str())? {
                "agent" => AuthorKind::Agent,
                "bot" => AuthorKind::Bot,
                "contact" => AuthorKind::Contact,
                _ => AuthorKind::System,
            },
        },
        "note.created" => StepKind::Note,
        _ => return None,
    })
}

/// Cases refreshed per transaction.
const BATCH: u64 = 200;

/// Works out the facts of up to [`BATCH`] due cases; how many.
pub async fn refresh(store: &Store) -> Result<u64> {
    let due = due::Entity::find().order_by_asc(due::Column::MarkedAt).limit(BATCH).all(&store.db).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut calendars: HashMap<UnitId, Calendar> = HashMap::new();
    let mut rows = Vec::with_capacity(due.len());
    for mark in &due {
        let Some(case) = super::case::entity::Entity::find_by_id(mark.case_id).one(&store.db).await? else {
            continue;
        };
        let unit = UnitId(case.unit_id);
        if let std::collections::hash_map::Entry::Vacant(slot) = calendars.entry(unit) {
            slot.insert(match super::unit::get(&store.db, unit).await {
                Ok(u) => Calendar { hours: u.business_hours, tz: u.timezone },
                Err(Error::NotFound(_)) => Calendar { hours: Default::default(), tz: chrono_tz::UTC },
                Err(e) => return Err(e),
            });
        }
        let steps = timeline(&store.db, CaseId(case.id)).await?;
        let facts = crate::domain::report::facts(case.created_at, &steps, &calendars[&unit]);
        rows.push((mark.case_id, Some(row_of(&case, &facts))));
    }
    let mut rows: HashMap<uuid::Uuid, Option<entity::ActiveModel>> = rows.into_iter().collect();
    let tx = store.begin().await?;
    for mark in &due {
        // What was read stands only if nothing marked the case again since
        // (and no other refresher stored it meanwhile): otherwise a newer
        // reading is, or will be, stored instead of this one.
        let cleared = due::Entity::delete_many()
            .filter(due::Column::CaseId.eq(mark.case_id))
            .filter(due::Column::MarkedAt.eq(mark.marked_at))
            .exec(&*tx)
            .await?;
        let Some(Some(row)) = rows.remove(&mark.case_id).filter(|_| cleared.rows_affected == 1) else {
            continue;
        };
        entity::Entity::insert(row)
            .on_conflict(
                // A refresh rewrites every column but the key.
                OnConflict::column(entity::Column::CaseId)
                    .update_columns(entity::Column::iter().filter(|c| !matches!(c, entity::Column::CaseId)))
                    .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await?;
    }
    tx.commit().await?;
    Ok(due.len() as u64)
}

fn row_of(case: &super::case::entity::Model, f: &Facts) -> entity::ActiveModel {
    let cal = |s: Option<crate::domain::report::Span>| s.map(|s| s.calendar);
    let bus = |s: Option<crate::domain::report::Span>| s.map(|s| s.business);
    entity::ActiveModel {
        case_id: Set(case.id),
        unit_id: Set(case.unit_id),
        channel: Set(case.channel.clone()),
        channel_install_id: Set(case.channel_install_id),
        agent_id: Set(f.agent.map(|u| u.0).or(case.assignee_id)),
        priority: Set(case.priority.clone()),
        status: Set(case.status.clone()),
        created_at: Set(case.created_at),
        started_in_bot: Set(f.started_in_bot),
        handoff_at: Set(f.handoff_at),
        first_assigned_at: Set(f.first_assigned_at),
        first_response_at: Set(f.first_response_at),
        resolved_at: Set(f.resolved_at),
        reopens: Set(f.reopens),
        transfers: Set(f.transfers),
        agent_replies: Set(f.agent_replies),
        notes: Set(f.notes),
        bot_contained: Set(f.bot_contained),
        abandoned: Set(f.abandoned),
        first_response_s: Set(cal(f.first_response)),
        first_response_bs: Set(bus(f.first_response)),
        handoff_wait_s: Set(cal(f.handoff_wait)),
        handoff_wait_bs: Set(bus(f.handoff_wait)),
        assignment_s: Set(cal(f.assignment)),
        assignment_bs: Set(bus(f.assignment)),
        resolution_s: Set(cal(f.resolution)),
        resolution_bs: Set(bus(f.resolution)),
        handling_s: Set(f.handling.calendar),
        handling_bs: Set(f.handling.business),
        waiting_s: Set(f.waiting.calendar),
        waiting_bs: Set(f.waiting.business),
        computed_at: Set(super::now()),
    }
}

/// Cases whose facts are waiting to be worked out, and since when the
/// oldest waits: how far reports lag behind.
pub async fn backlog(conn: &impl ConnectionTrait) -> Result<(u64, Option<DateTime<Utc>>)> {
    use sea_orm::PaginatorTrait;
    let count = due::Entity::find().count(conn).await?;
    let oldest = due::Entity::find().order_by_asc(due::Column::MarkedAt).one(conn).await?.map(|d| d.marked_at);
    Ok((count, oldest))
}

/// Marks every case due and works all their facts out again; how many.
pub async fn rebuild(store: &Store) -> Result<u64> {
    let tx = store.begin().await?;
    let placeholder = if super::is_postgres(&*tx) { "$1" } else { "?" };
    let sql = format!(
        "INSERT INTO case_facts_due (case_id, marked_at) SELECT id, {placeholder} FROM cases WHERE true \
         ON CONFLICT (case_id) DO UPDATE SET marked_at = excluded.marked_at"
    );
    let now = super::now();
    tx.execute_raw(sea_orm::Statement::from_sql_and_values(tx.get_database_backend(), sql, [now.into()])).await?;
    tx.commit().await?;
    let mut done = 0;
    loop {
        let n = refresh(store).await?;
        if n == 0 {
            return Ok(done);
        }
        done += n;
    }
}

/// Keeps facts in step: refreshes while cases are due, then looks again
/// every `every`. Instances running at once only repeat each other's work.
pub fn spawn_refresher(store: Store, every: std::time::Duration) {
    tokio::spawn(async move {
        loop {
            match refresh(&store).await {
                Ok(0) => tokio::time::sleep(every).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot work out report figures; trying again");
                    tokio::time::sleep(every * 5).await;
                }
            }
        }
    });
}

/// Whose figures a caller sees: whole units (as their supervisor, or all
/// when `None`), and their own cases in the units where they are an agent.
#[derive(Debug, Clone, Default)]
pub struct ReportScope {
    pub units: Option<Vec<UnitId>>,
    pub own: Option<(UserId, Vec<UnitId>)>,
}

/// Which cases a report counts: opened in `[from, to)`, within the scope
/// and the filters (each an "any of" list; empty means all).
#[derive(Debug, Clone, Default)]
pub struct FactFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub units: Vec<UnitId>,
    pub channels: Vec<Channel>,
    pub installs: Vec<uuid::Uuid>,
    pub agents: Vec<UserId>,
    pub priorities: Vec<Priority>,
    pub tags: Vec<String>,
    /// `(key, value)`: a custom field holding this value (as text).
    pub field: Option<(String, String)>,
}

fn condition(scope: &ReportScope, filter: &FactFilter) -> Condition {
    use entity::Column;
    let ids = |units: &[UnitId]| units.iter().map(|u| u.0).collect::<Vec<_>>();
    let mut cond = Condition::all();
    if let Some(units) = &scope.units {
        let mut visible = Condition::any().add(Column::UnitId.is_in(ids(units)));
        if let Some((user, own_units)) = &scope.own {
            visible =
                visible.add(Condition::all().add(Column::UnitId.is_in(ids(own_units))).add(Column::AgentId.eq(user.0)));
        }
        cond = cond.add(visible);
    }
    if let Some(from) = filter.from {
        cond = cond.add(Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        cond = cond.add(Column::CreatedAt.lt(to));
    }
    if !filter.units.is_empty() {
        cond = cond.add(Column::UnitId.is_in(ids(&filter.units)));
    }
    if !filter.channels.is_empty() {
        cond = cond.add(Column::Channel.is_in(filter.channels.iter().map(|c| c.as_str())));
    }
    if !filter.installs.is_empty() {
        cond = cond.add(Column::ChannelInstallId.is_in(filter.installs.iter().copied()));
    }
    if !filter.agents.is_empty() {
        cond = cond.add(Column::AgentId.is_in(filter.agents.iter().map(|u| u.0)));
    }
    if !filter.priorities.is_empty() {
        cond = cond.add(Column::Priority.is_in(filter.priorities.iter().map(|p| p.as_str())));
    }
    if !filter.tags.is_empty() {
        let tagged = super::case::tag::Entity::find()
            .select_only()
            .column(super::case::tag::Column::CaseId)
            .filter(super::case::tag::Column::Tag.is_in(filter.tags.iter().cloned()))
            .into_query();
        cond = cond.add(Column::CaseId.in_subquery(tagged));
    }
    cond
}

/// The facts of the cases a report counts, with their tags and custom
/// fields when `details` (grouping or filtering by them needs them).
pub async fn facts_for(
    conn: &(impl ConnectionTrait + sea_orm::StreamTrait),
    scope: &ReportScope,
    filter: &FactFilter,
    details: bool,
) -> Result<Vec<FactRow>> {
    use futures_util::TryStreamExt;
    let cond = condition(scope, filter);
    let mut tags: HashMap<uuid::Uuid, Vec<String>> = HashMap::new();
    let mut fields: HashMap<uuid::Uuid, serde_json::Map<String, serde_json::Value>> = HashMap::new();
    let mut contact_attributes: HashMap<uuid::Uuid, serde_json::Map<String, serde_json::Value>> = HashMap::new();
    if details || filter.field.is_some() {
        let counted = || entity::Entity::find().select_only().column(entity::Column::CaseId).filter(cond.clone());
        let rows: Vec<(uuid::Uuid, String)> = super::case::tag::Entity::find()
            .select_only()
            .columns([super::case::tag::Column::CaseId, super::case::tag::Column::Tag])
            .filter(super::case::tag::Column::CaseId.in_subquery(counted().into_query()))
            .into_tuple()
            .all(conn)
            .await?;
        for (case, tag) in rows {
            tags.entry(case).or_default().push(tag);
        }
        let rows: Vec<(uuid::Uuid, serde_json::Value, uuid::Uuid)> = super::case::entity::Entity::find()
            .select_only()
            .columns([
                super::case::entity::Column::Id,
                super::case::entity::Column::CustomFields,
                super::case::entity::Column::ContactId,
            ])
            .filter(super::case::entity::Column::Id.in_subquery(counted().into_query()))
            .into_tuple()
            .all(conn)
            .await?;
        let contact_ids: Vec<uuid::Uuid> = rows.iter().map(|(_, _, c)| *c).collect();
        let mut attributes: HashMap<uuid::Uuid, serde_json::Map<String, serde_json::Value>> = HashMap::new();
        for chunk in contact_ids.chunks(10_000) {
            let found: Vec<(uuid::Uuid, serde_json::Value)> = super::contact::entity::Entity::find()
                .select_only()
                .columns([super::contact::entity::Column::Id, super::contact::entity::Column::CustomAttributes])
                .filter(super::contact::entity::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(conn)
                .await?;
            attributes.extend(found.into_iter().map(|(id, value)| (id, super::json_map(value))));
        }
        for (case, value, contact) in rows {
            fields.insert(case, super::json_map(value));
            if let Some(attrs) = attributes.get(&contact) {
                contact_attributes.insert(case, attrs.clone());
            }
        }
    }
    // Only the columns reports count, streamed: a year of a large
    // institution is hundreds of thousands of rows.
    let mut rows = entity::Entity::find()
        .select_only()
        .columns(FACT_COLUMNS)
        .filter(cond)
        .into_model::<Fact>()
        .stream(conn)
        .await?;
    let mut out = Vec::new();
    while let Some(m) = rows.try_next().await? {
        let case_fields = fields.remove(&m.case_id).unwrap_or_default();
        if let Some((key, value)) = &filter.field
            && case_fields.get(key).map(field_text).as_deref() != Some(value.as_str())
        {
            continue;
        }
        out.push(FactRow {
            channel: stored(Channel::parse("channel", &m.channel))?,
            priority: stored(Priority::parse("priority", &m.priority))?,
            tags: tags.remove(&m.case_id).unwrap_or_default(),
            fields: case_fields,
            contact: contact_attributes.remove(&m.case_id).unwrap_or_default(),
            facts: m,
        });
    }
    Ok(out)
}

/// What reports read of a case's facts.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct Fact {
    pub case_id: uuid::Uuid,
    pub unit_id: uuid::Uuid,
    pub channel: String,
    pub channel_install_id: Option<uuid::Uuid>,
    pub agent_id: Option<uuid::Uuid>,
    pub priority: String,
    pub created_at: DateTime<Utc>,
    pub started_in_bot: bool,
    pub handoff_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub reopens: i32,
    pub transfers: i32,
    pub agent_replies: i32,
    pub notes: i32,
    pub bot_contained: bool,
    pub abandoned: bool,
    pub first_response_s: Option<i64>,
    pub first_response_bs: Option<i64>,
    pub handoff_wait_s: Option<i64>,
    pub handoff_wait_bs: Option<i64>,
    pub assignment_s: Option<i64>,
    pub assignment_bs: Option<i64>,
    pub resolution_s: Option<i64>,
    pub resolution_bs: Option<i64>,
    pub handling_s: i64,
    pub handling_bs: i64,
    pub waiting_s: i64,
    pub waiting_bs: i64,
}

const FACT_COLUMNS: [entity::Column; 28] = {
    use entity::Column::*;
    [
        CaseId,
        UnitId,
        Channel,
        ChannelInstallId,
        AgentId,
        Priority,
        CreatedAt,
        StartedInBot,
        HandoffAt,
        ResolvedAt,
        Reopens,
        Transfers,
        AgentReplies,
        Notes,
        BotContained,
        Abandoned,
        FirstResponseS,
        FirstResponseBs,
        HandoffWaitS,
        HandoffWaitBs,
        AssignmentS,
        AssignmentBs,
        ResolutionS,
        ResolutionBs,
        HandlingS,
        HandlingBs,
        WaitingS,
        WaitingBs,
    ]
};

/// A custom field's value as reports show it.
pub fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One case as reports count it.
#[derive(Debug, Clone)]
pub struct FactRow {
    pub facts: Fact,
    pub channel: Channel,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The person's attributes (program, campus, cohort...).
    pub contact: serde_json::Map<String, serde_json::Value>,
}

/// The cases a report counts, as a subquery.
fn counted(scope: &ReportScope, filter: &FactFilter) -> sea_orm::sea_query::SelectStatement {
    entity::Entity::find().select_only().column(entity::Column::CaseId).filter(condition(scope, filter)).into_query()
}

/// The surveys of the cases counted: case, `human` or `bot`, score.
pub async fn surveys_for(
    conn: &impl ConnectionTrait,
    scope: &ReportScope,
    filter: &FactFilter,
) -> Result<Vec<(uuid::Uuid, String, Option<i16>)>> {
    use super::survey::entity::{Column, Entity};
    Ok(Entity::find()
        .select_only()
        .columns([Column::CaseId, Column::Outcome, Column::Score])
        .filter(Column::CaseId.in_subquery(counted(scope, filter)))
        .into_tuple()
        .all(conn)
        .await?)
}

/// The service-level targets of the cases counted: case, target, state.
pub async fn slas_for(
    conn: &impl ConnectionTrait,
    scope: &ReportScope,
    filter: &FactFilter,
) -> Result<Vec<(uuid::Uuid, String, String)>> {
    use super::sla::entity::{Column, Entity};
    Ok(Entity::find()
        .select_only()
        .columns([Column::CaseId, Column::Name, Column::State])
        .filter(Column::CaseId.in_subquery(counted(scope, filter)))
        .into_tuple()
        .all(conn)
        .await?)
}

/// What the bot reported of the cases counted: case, outcome, confidence.
pub async fn bot_outcomes_for(
    conn: &impl ConnectionTrait,
    scope: &ReportScope,
    filter: &FactFilter,
) -> Result<Vec<(uuid::Uuid, String, Option<f32>)>> {
    use super::bot_outcome::entity::{Column, Entity};
    Ok(Entity::find()
        .select_only()
        .columns([Column::CaseId, Column::Outcome, Column::Confidence])
        .filter(Column::CaseId.in_subquery(counted(scope, filter)))
        .into_tuple()
        .all(conn)
        .await?)
}

/// One unit's queue on one channel: cases waiting for a person, and when
/// the oldest of them was opened.
#[derive(Debug, Clone)]
pub struct Queue {
    pub unit_id: uuid::Uuid,
    pub channel: String,
    pub waiting: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// The queues of the units in `scope` (`None`: all), right now.
pub async fn queues(conn: &impl ConnectionTrait, scope: Option<&[UnitId]>) -> Result<Vec<Queue>> {
    use super::case::entity::{Column, Entity};
    use sea_orm::sea_query::{Expr, ExprTrait};
    let mut query = Entity::find()
        .select_only()
        .column(Column::UnitId)
        .column(Column::Channel)
        .column_as(Expr::col(Column::Id).count(), "waiting")
        .column_as(Expr::col(Column::CreatedAt).min(), "oldest")
        .filter(Column::Status.eq(CaseStatus::Queued.as_str()))
        .filter(Column::AssigneeId.is_null())
        .group_by(Column::UnitId)
        .group_by(Column::Channel);
    if let Some(units) = scope {
        query = query.filter(Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    let rows: Vec<(uuid::Uuid, String, i64, Option<DateTime<Utc>>)> = query.into_tuple().all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(unit_id, channel, waiting, oldest)| Queue { unit_id, channel, waiting, oldest })
        .collect())
}

/// An open case with a service-level target at risk or breached.
#[derive(Debug, Clone)]
pub struct AtRisk {
    pub case_id: uuid::Uuid,
    pub number: i64,
    pub subject: String,
    pub unit_id: uuid::Uuid,
    pub assignee_id: Option<uuid::Uuid>,
    pub target: String,
    pub state: String,
    pub due_at: Option<DateTime<Utc>>,
}

/// Open cases of `scope` whose targets are in warning or breached, the
/// soonest due first (at most `limit`).
pub async fn at_risk(conn: &impl ConnectionTrait, scope: Option<&[UnitId]>, limit: u64) -> Result<Vec<AtRisk>> {
    use super::sla::entity as sla;
    let open: Vec<&str> = CaseStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
    let mut cases = super::case::entity::Entity::find()
        .select_only()
        .column(super::case::entity::Column::Id)
        .filter(super::case::entity::Column::Status.is_in(open));
    if let Some(units) = scope {
        cases = cases.filter(super::case::entity::Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    let targets = sla::Entity::find()
        .filter(sla::Column::State.is_in(["warning", "breached"]))
        .filter(sla::Column::CaseId.in_subquery(cases.into_query()))
        .order_by_asc(sla::Column::DueAt)
        .limit(limit)
        .all(conn)
        .await?;
    let ids: Vec<uuid::Uuid> = targets.iter().map(|t| t.case_id).collect();
    let found: HashMap<uuid::Uuid, super::case::entity::Model> = super::case::entity::Entity::find()
        .filter(super::case::entity::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    Ok(targets
        .into_iter()
        .filter_map(|t| {
            let case = found.get(&t.case_id)?;
            Some(AtRisk {
                case_id: case.id,
                number: case.number,
                subject: case.subject.clone(),
                unit_id: case.unit_id,
                assignee_id: case.assignee_id,
                target: t.name,
                state: t.state,
                due_at: t.due_at,
            })
        })
        .collect())
}
