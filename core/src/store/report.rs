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

use super::{Error, Result, Store, audit};
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

/// The facts of the cases a report counts. Only `columns` are read (the
/// rest of each [`Fact`] keeps its default: a year of a large institution
/// is hundreds of thousands of rows, and every value read costs), with
/// the tags, custom fields and the person's attributes when `details`
/// (grouping by them needs them; `columns` then must hold `CaseId`).
pub async fn facts_for(
    conn: &(impl ConnectionTrait + sea_orm::StreamTrait),
    scope: &ReportScope,
    filter: &FactFilter,
    columns: &[entity::Column],
    details: bool,
) -> Result<Vec<FactRow>> {
    use futures_util::TryStreamExt;
    let cond = condition(scope, filter);
    let mut columns = columns.to_vec();
    if (details || filter.field.is_some()) && !columns.iter().any(|c| matches!(c, entity::Column::CaseId)) {
        columns.push(entity::Column::CaseId);
    }
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
    let mut out = Vec::new();
    let mut keep = |m: Fact| {
        let case_fields = fields.remove(&m.case_id).unwrap_or_default();
        if let Some((key, value)) = &filter.field
            && case_fields.get(key).map(field_text).as_deref() != Some(value.as_str())
        {
            return;
        }
        out.push(FactRow {
            tags: tags.remove(&m.case_id).unwrap_or_default(),
            fields: case_fields,
            contact: contact_attributes.remove(&m.case_id).unwrap_or_default(),
            facts: m,
        });
    };
    if super::is_postgres(conn) {
        let query = entity::Entity::find().select_only().columns(columns.iter().copied()).filter(cond);
        let mut rows = std::pin::pin!(conn.stream(&query.into_query()).await?);
        while let Some(row) = rows.try_next().await? {
            keep(Fact::read(&row, &columns)?);
        }
    } else {
        packed_facts(conn, scope, filter, &columns, keep).await?;
    }
    Ok(out)
}

/// Rows per packed read on SQLite.
const PACK: u64 = 50_000;

/// Reads the `columns` of the facts of the cases counted on SQLite,
/// handing each to `each`. sqlx runs SQLite on a thread of its own and
/// hands every row across, which costs several times what reading it does;
/// so the rows come packed into one text value per [`PACK`] of them
/// (fields split by U+001F, rows by newlines), in `(created_at, rowid)`
/// order — the order of the `created_at` index, so nothing is sorted —,
/// each pack starting after the last one's key.
async fn packed_facts(
    conn: &impl ConnectionTrait,
    scope: &ReportScope,
    filter: &FactFilter,
    columns: &[entity::Column],
    mut each: impl FnMut(Fact),
) -> Result<()> {
    use entity::Column;
    use sea_orm::sea_query::{Expr, ExprTrait, Order, SqliteQueryBuilder};
    let wanted = |c: Column| columns.iter().any(|w| std::mem::discriminant(w) == std::mem::discriminant(&c));
    let want_created = wanted(Column::CreatedAt);
    let read: Vec<Column> = columns.iter().copied().filter(|c| !matches!(c, Column::CreatedAt)).collect();
    // The key first (the opening time and the row id), then the columns.
    let mut fields = vec!["\"created_at\"".to_owned(), "\"rid\"".to_owned()];
    fields.extend(read.iter().map(|c| {
        let name = sea_orm::IdenStatic::as_str(c);
        match c {
            Column::CaseId | Column::UnitId | Column::ChannelInstallId | Column::AgentId => format!("hex(\"{name}\")"),
            // Reports only ask whether these happened.
            Column::HandoffAt | Column::ResolvedAt => format!("\"{name}\" IS NOT NULL"),
            _ => format!("\"{name}\""),
        }
    }));
    let format = vec!["%s"; fields.len()].join("\u{1f}");
    let mut after: Option<(String, i64)> = None;
    loop {
        // After the first pack the key is the lower bound, alone, so that
        // SQLite starts the index range there instead of at `from`.
        let page = match &after {
            None => condition(scope, filter),
            Some((at, rid)) => condition(scope, &FactFilter { from: None, ..filter.clone() })
                .add(Expr::col(Column::CreatedAt).gte(at.as_str()))
                .add(
                    Condition::any()
                        .add(Expr::col(Column::CreatedAt).gt(at.as_str()))
                        .add(Expr::cust("\"case_facts\".rowid").gt(*rid)),
                ),
        };
        let inner = entity::Entity::find()
            .select_only()
            .column(Column::CreatedAt)
            .column_as(Expr::cust("\"case_facts\".rowid"), "rid")
            .columns(read.iter().copied())
            .filter(page)
            .order_by(Column::CreatedAt, Order::Asc)
            .order_by(Expr::cust("\"case_facts\".rowid"), Order::Asc)
            .limit(PACK)
            .into_query();
        let (inner, values) = inner.build(SqliteQueryBuilder);
        let sql = format!(
            "SELECT group_concat(printf('{format}', {}), char(10)), count(*) FROM ({inner})",
            fields.join(", ")
        );
        let statement = sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Sqlite, sql, values);
        let Some(row) = conn.query_one_raw(statement).await? else { return Ok(()) };
        let packed: Option<String> = row.try_get_by_index(0)?;
        let count: i64 = row.try_get_by_index(1)?;
        if count == 0 {
            return Ok(());
        }
        let mut last: Option<(&str, i64)> = None;
        for line in packed.as_deref().unwrap_or_default().split('\n') {
            let mut values = line.split('\u{1f}');
            let key = values.next().zip(values.next().and_then(|rid| rid.parse::<i64>().ok()));
            let Some((at, rid)) = key else {
                return Err(Error::Corrupt(format!("a packed fact row without its key: {line:?}")));
            };
            if last.is_none_or(|key| (at, rid) > key) {
                last = Some((at, rid));
            }
            let mut fact = Fact::default();
            if want_created {
                fact.set(Column::CreatedAt, at)?;
            }
            for (column, value) in read.iter().zip(values) {
                fact.set(*column, value)?;
            }
            each(fact);
        }
        match last {
            Some((at, rid)) if count >= PACK as i64 => after = Some((at.to_owned(), rid)),
            _ => return Ok(()),
        }
    }
}

/// What reports read of a case's facts (see [`facts_for`]: a column not
/// read keeps its default).
#[derive(Debug, Clone, Default)]
pub struct Fact {
    pub case_id: uuid::Uuid,
    pub unit_id: uuid::Uuid,
    /// As stored (`Channel::as_str`, `Priority::as_str`).
    pub channel: String,
    pub channel_install_id: Option<uuid::Uuid>,
    pub agent_id: Option<uuid::Uuid>,
    pub priority: String,
    pub created_at: DateTime<Utc>,
    pub started_in_bot: bool,
    /// Handed from the bot to a person (`handoff_at` is set).
    pub handed_off: bool,
    /// Resolved or closed (`resolved_at` is set).
    pub ended: bool,
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

impl Fact {
    /// Sets `column` from its text as [`packed_facts`] reads it (`""` is
    /// no value; ids are hexadecimal; the moments reports only ask about,
    /// `1` when set).
    fn set(&mut self, column: entity::Column, text: &str) -> Result<()> {
        use entity::Column::*;
        let corrupt = |what: &dyn std::fmt::Display| {
            Error::Corrupt(format!("case_facts.{}: {what}", sea_orm::IdenStatic::as_str(&column)))
        };
        let id = |text: &str| -> Result<Option<uuid::Uuid>> {
            (!text.is_empty()).then(|| uuid::Uuid::parse_str(text).map_err(|e| corrupt(&e))).transpose()
        };
        let moment = |text: &str| -> Result<Option<DateTime<Utc>>> {
            (!text.is_empty())
                .then(|| {
                    DateTime::parse_from_rfc3339(text)
                        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| corrupt(&e))
                })
                .transpose()
        };
        let seconds = |text: &str| -> Result<Option<i64>> {
            (!text.is_empty()).then(|| text.parse::<i64>().map_err(|e| corrupt(&e))).transpose()
        };
        let count = |text: &str| -> Result<i32> { text.parse::<i32>().map_err(|e| corrupt(&e)) };
        let flag = |text: &str| text == "1";
        match column {
            CaseId => self.case_id = id(text)?.unwrap_or_default(),
            UnitId => self.unit_id = id(text)?.unwrap_or_default(),
            Channel => self.channel = text.to_owned(),
            ChannelInstallId => self.channel_install_id = id(text)?,
            AgentId => self.agent_id = id(text)?,
            Priority => self.priority = text.to_owned(),
            CreatedAt => self.created_at = moment(text)?.unwrap_or_default(),
            StartedInBot => self.started_in_bot = flag(text),
            HandoffAt => self.handed_off = flag(text),
            ResolvedAt => self.ended = flag(text),
            Reopens => self.reopens = count(text)?,
            Transfers => self.transfers = count(text)?,
            AgentReplies => self.agent_replies = count(text)?,
            Notes => self.notes = count(text)?,
            BotContained => self.bot_contained = flag(text),
            Abandoned => self.abandoned = flag(text),
            FirstResponseS => self.first_response_s = seconds(text)?,
            FirstResponseBs => self.first_response_bs = seconds(text)?,
            HandoffWaitS => self.handoff_wait_s = seconds(text)?,
            HandoffWaitBs => self.handoff_wait_bs = seconds(text)?,
            AssignmentS => self.assignment_s = seconds(text)?,
            AssignmentBs => self.assignment_bs = seconds(text)?,
            ResolutionS => self.resolution_s = seconds(text)?,
            ResolutionBs => self.resolution_bs = seconds(text)?,
            HandlingS => self.handling_s = seconds(text)?.unwrap_or_default(),
            HandlingBs => self.handling_bs = seconds(text)?.unwrap_or_default(),
            WaitingS => self.waiting_s = seconds(text)?.unwrap_or_default(),
            WaitingBs => self.waiting_bs = seconds(text)?.unwrap_or_default(),
            Status | FirstAssignedAt | FirstResponseAt | ComputedAt => {}
        }
        Ok(())
    }

    /// The `columns` of a row, read by position.
    fn read(row: &sea_orm::QueryResult, columns: &[entity::Column]) -> Result<Fact> {
        use entity::Column::*;
        let mut f = Fact::default();
        for (i, column) in columns.iter().enumerate() {
            match column {
                CaseId => f.case_id = row.try_get_by_index(i)?,
                UnitId => f.unit_id = row.try_get_by_index(i)?,
                Channel => f.channel = row.try_get_by_index(i)?,
                ChannelInstallId => f.channel_install_id = row.try_get_by_index(i)?,
                AgentId => f.agent_id = row.try_get_by_index(i)?,
                Priority => f.priority = row.try_get_by_index(i)?,
                CreatedAt => f.created_at = row.try_get_by_index(i)?,
                StartedInBot => f.started_in_bot = row.try_get_by_index(i)?,
                HandoffAt => f.handed_off = row.try_get_by_index::<Option<DateTime<Utc>>>(i)?.is_some(),
                ResolvedAt => f.ended = row.try_get_by_index::<Option<DateTime<Utc>>>(i)?.is_some(),
                Reopens => f.reopens = row.try_get_by_index(i)?,
                Transfers => f.transfers = row.try_get_by_index(i)?,
                AgentReplies => f.agent_replies = row.try_get_by_index(i)?,
                Notes => f.notes = row.try_get_by_index(i)?,
                BotContained => f.bot_contained = row.try_get_by_index(i)?,
                Abandoned => f.abandoned = row.try_get_by_index(i)?,
                FirstResponseS => f.first_response_s = row.try_get_by_index(i)?,
                FirstResponseBs => f.first_response_bs = row.try_get_by_index(i)?,
                HandoffWaitS => f.handoff_wait_s = row.try_get_by_index(i)?,
                HandoffWaitBs => f.handoff_wait_bs = row.try_get_by_index(i)?,
                AssignmentS => f.assignment_s = row.try_get_by_index(i)?,
                AssignmentBs => f.assignment_bs = row.try_get_by_index(i)?,
                ResolutionS => f.resolution_s = row.try_get_by_index(i)?,
                ResolutionBs => f.resolution_bs = row.try_get_by_index(i)?,
                HandlingS => f.handling_s = row.try_get_by_index(i)?,
                HandlingBs => f.handling_bs = row.try_get_by_index(i)?,
                WaitingS => f.waiting_s = row.try_get_by_index(i)?,
                WaitingBs => f.waiting_bs = row.try_get_by_index(i)?,
                // Kept for the record; no report counts them.
                Status | FirstAssignedAt | FirstResponseAt | ComputedAt => {}
            }
        }
        Ok(f)
    }
}

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
    pub tags: Vec<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The person's attributes (program, campus, cohort...).
    pub contact: serde_json::Map<String, serde_json::Value>,
}

/// Whether the case `case` (a column of another table) is one a report
/// counts. A correlated `EXISTS`: its cost follows the rows of that table
/// (surveys, targets, bot conversations), not the cases of the period that
/// an `IN` list would gather first.
fn counted(
    scope: &ReportScope,
    filter: &FactFilter,
    case: impl sea_orm::sea_query::IntoColumnRef,
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let matching = Expr::col((entity::Entity, entity::Column::CaseId)).equals(case);
    let query = entity::Entity::find()
        .select_only()
        .expr(Expr::val(1))
        .filter(condition(scope, filter).add(matching))
        .into_query();
    Expr::exists(query)
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
        .filter(counted(scope, filter, (Entity, Column::CaseId)))
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
        .filter(counted(scope, filter, (Entity, Column::CaseId)))
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
        .filter(counted(scope, filter, (Entity, Column::CaseId)))
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
