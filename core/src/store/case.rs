//! Cases: creation, scoped reads, changes through the domain state machine, tags.
//!
//! **Invariant:** every read takes a `scope` (the caller's units, `None` for
//! all) and applies it in the query itself.

use super::{Error, Result, Store, audit, is_postgres, pagination::Page, stored};
use crate::domain::{
    self as domain, Actor, Case, CaseId, CaseStatus, Channel, ContactId, Direction, Priority, UnitId, UserId,
    case::{CasePatch, NewCase},
    message::NewMessage,
};
use chrono::{DateTime, Utc};
use sea_orm::QueryTrait;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, sea_query::Expr,
};
use std::collections::HashMap;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: i64,
        pub subject: String,
        pub channel: String,
        pub contact_id: Uuid,
        pub unit_id: Uuid,
        pub assignee_id: Option<Uuid>,
        pub status: String,
        pub priority: String,
        pub custom_fields: Json,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub first_response_at: Option<DateTimeUtc>,
        pub resolved_at: Option<DateTimeUtc>,
        pub closed_at: Option<DateTimeUtc>,
        pub channel_install_id: Option<Uuid>,
        pub snoozed_until: Option<DateTimeUtc>,
        /// The subject folded for search (see `store::search_text`).
        pub search_text: Option<String>,
        /// The web-chat visitor who started the conversation: only their
        /// token reads it.
        pub webchat_visitor: Option<Uuid>,
        /// Why the case must be kept (see `store::erasure`).
        pub legal_hold: Option<String>,
        /// When the retention policy anonymised it (`store::retention`).
        pub anonymised_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The units a caller may see; `None` means all.
pub type Scope<'a> = Option<&'a [UnitId]>;

fn scope_condition(scope: Scope<'_>) -> Condition {
    match scope {
        None => Condition::all(),
        Some(units) => Condition::all().add(entity::Column::UnitId.is_in(units.iter().map(|u| u.0))),
    }
}

fn to_case(m: entity::Model, tags: Vec<String>) -> Result<Case> {
    Ok(Case {
        id: CaseId(m.id),
        number: m.number,
        subject: m.subject,
        channel: stored(Channel::parse("channel", &m.channel))?,
        contact_id: ContactId(m.contact_id),
        unit_id: UnitId(m.unit_id),
        assignee_id: m.assignee_id.map(UserId),
        status: stored(CaseStatus::parse("status", &m.status))?,
        priority: stored(Priority::parse("priority", &m.priority))?,
        tags,
        custom_fields: super::json_map(m.custom_fields),
        created_at: m.created_at,
        updated_at: m.updated_at,
        first_response_at: m.first_response_at,
        resolved_at: m.resolved_at,
        closed_at: m.closed_at,
        snoozed_until: m.snoozed_until,
        channel_install_id: m.channel_install_id,
    })
}

fn to_active(case: &Case) -> entity::ActiveModel {
    entity::ActiveModel {
        id: Set(case.id.0),
        number: Set(case.number),
        subject: Set(case.subject.clone()),
        channel: Set(case.channel.as_str().to_owned()),
        contact_id: Set(case.contact_id.0),
        unit_id: Set(case.unit_id.0),
        assignee_id: Set(case.assignee_id.map(|u| u.0)),
        status: Set(case.status.as_str().to_owned()),
        priority: Set(case.priority.as_str().to_owned()),
        custom_fields: Set(serde_json::Value::Object(case.custom_fields.clone())),
        created_at: Set(case.created_at),
        updated_at: Set(case.updated_at),
        first_response_at: Set(case.first_response_at),
        resolved_at: Set(case.resolved_at),
        closed_at: Set(case.closed_at),
        channel_install_id: Set(case.channel_install_id),
        snoozed_until: Set(case.snoozed_until),
        search_text: Set(Some(super::search_text::fold(&case.subject))),
        webchat_visitor: sea_orm::ActiveValue::NotSet,
        legal_hold: sea_orm::ActiveValue::NotSet,
        anonymised_at: sea_orm::ActiveValue::NotSet,
    }
}

async fn tags_of(conn: &impl ConnectionTrait, ids: &[uuid::Uuid]) -> Result<HashMap<uuid::Uuid, Vec<String>>> {
    let rows = tag::Entity::find()
        .filter(tag::Column::CaseId.is_in(ids.iter().copied()))
        .order_by_asc(tag::Column::Tag)
        .all(conn)
        .await?;
    let mut by_case: HashMap<_, Vec<_>> = HashMap::new();
    for row in rows {
        by_case.entry(row.case_id).or_default().push(row.tag);
    }
    Ok(by_case)
}

async fn next_number(conn: &impl ConnectionTrait) -> Result<i64> {
    #[derive(FromQueryResult)]
    struct Next {
        n: i64,
    }
    let sql = if is_postgres(conn) {
        "SELECT nextval('case_number_seq') AS n"
    } else {
        "SELECT COALESCE(MAX(number), 0) + 1 AS n FROM cases"
    };
    let next = Next::find_by_statement(Statement::from_string(conn.get_database_backend(), sql))
        .one(conn)
        .await?
        .ok_or(Error::Corrupt("case number query returned nothing".into()))?;
    Ok(next.n)
}

/// Checks `user` may own a case of `unit`: active and a member of it.
async fn check_assignee(conn: &impl ConnectionTrait, unit: UnitId, user: UserId) -> Result<()> {
    let member = super::user::membership::Entity::find()
        .filter(super::user::membership::Column::UserId.eq(user.0))
        .filter(super::user::membership::Column::UnitId.eq(unit.0))
        .one(conn)
        .await?;
    let active = super::user::entity::Entity::find_by_id(user.0).one(conn).await?.is_some_and(|u| u.active);
    if member.is_none() || !active {
        return Err(Error::conflict("assignee_id", "the assignee must be an active member of the case's unit"));
    }
    Ok(())
}

async fn set_tags(conn: &impl ConnectionTrait, case: CaseId, tags: &[String]) -> Result<()> {
    tag::Entity::delete_many().filter(tag::Column::CaseId.eq(case.0)).exec(conn).await?;
    let mut unique: Vec<&String> = tags.iter().collect();
    unique.sort();
    unique.dedup();
    for tag in unique {
        tag::ActiveModel { case_id: Set(case.0), tag: Set(tag.clone()) }.insert(conn).await?;
    }
    Ok(())
}

/// Creates a case, optionally with its first message, in one transaction.
pub async fn create(store: &Store, actor: &Actor, new: NewCase, first_message: Option<NewMessage>) -> Result<Case> {
    let tx = store.begin().await?;
    let case = create_in(&*tx, actor, new, first_message).await?;
    tx.commit().await?;
    Ok(case)
}

pub async fn create_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    new: NewCase,
    first_message: Option<NewMessage>,
) -> Result<Case> {
    let unit = super::unit::get(conn, new.unit_id).await.map_err(|e| match e {
        Error::NotFound(_) => Error::conflict("unit_id", "no such unit"),
        other => other,
    })?;
    let contact_exists = super::contact::entity::Entity::find_by_id(new.contact_id.0).one(conn).await?;
    match contact_exists {
        None => return Err(Error::conflict("contact_id", "no such contact")),
        Some(c) if c.merged_into.is_some() => {
            return Err(Error::conflict("contact_id", "this contact was merged into another; use that one"));
        }
        Some(_) => {}
    }
    if let Some(assignee) = new.assignee_id {
        check_assignee(conn, new.unit_id, assignee).await?;
    }
    let now = super::now();
    let mut case = Case {
        id: CaseId::new(),
        number: next_number(conn).await?,
        subject: new.subject,
        channel: new.channel,
        contact_id: new.contact_id,
        unit_id: new.unit_id,
        assignee_id: None,
        status: CaseStatus::Queued,
        priority: new.priority,
        tags: vec![],
        custom_fields: new.custom_fields,
        created_at: now,
        updated_at: now,
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        channel_install_id: new.channel_install_id,
        snoozed_until: None,
    };
    match (new.status, new.assignee_id) {
        (CaseStatus::Bot, _) => case.status = CaseStatus::Bot,
        (CaseStatus::Queued, None) => {}
        (CaseStatus::Queued | CaseStatus::Assigned, Some(user)) => case.assign(Some(user), now)?,
        (CaseStatus::Assigned, None) => {
            return Err(crate::domain::Error::invalid("assignee_id", "an assigned case needs an assignee").into());
        }
        (status, _) => {
            let message = format!("a new case starts as bot, queued or assigned, not {status}");
            return Err(crate::domain::Error::invalid("status", message).into());
        }
    }
    to_active(&case).insert(conn).await?;
    // A new case has no tags to replace.
    if !new.tags.is_empty() {
        set_tags(conn, case.id, &new.tags).await?;
    }
    case.tags = {
        let mut tags = new.tags;
        tags.sort();
        tags.dedup();
        tags
    };
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: "case.created",
            target_kind: "case",
            target_id: case.id.to_string(),
            unit_id: Some(case.unit_id),
            details: serde_json::json!({
                "number": case.number,
                "channel": case.channel.as_str(),
                "status": case.status.as_str(),
                "assignee_id": case.assignee_id,
            }),
        },
    )
    .await?;
    super::event::emit(conn, actor, &case, super::event::CaseEvent::Created).await?;
    super::live::publish_in(conn, live_event("case.created", &case, None)).await?;
    notify_subscribers_in(conn, &case, None).await?;
    if let Some(user) = case.assignee_id {
        super::agent::assigned_in(conn, user).await?;
    } else if case.status == CaseStatus::Queued {
        super::routing::request_for_unit_in(conn, &unit).await?;
    }
    if let Some(message) = first_message {
        super::message::add_in(conn, actor, &mut case, message).await?;
    }
    Ok(case)
}

/// The case if it exists within `scope`; otherwise `NotFound`, never a hint
/// that it exists in another unit.
pub async fn get(conn: &impl ConnectionTrait, scope: Scope<'_>, id: CaseId) -> Result<Case> {
    let model = entity::Entity::find_by_id(id.0)
        .filter(scope_condition(scope))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("case"))?;
    let mut tags = tags_of(conn, &[id.0]).await?;
    to_case(model, tags.remove(&id.0).unwrap_or_default())
}

/// Like [`get`], locking the case's row until the transaction ends
/// (PostgreSQL; SQLite's single writer already excludes other writers), so
/// a change read from it cannot be lost to a concurrent one.
pub async fn get_locked(conn: &impl ConnectionTrait, scope: Scope<'_>, id: CaseId) -> Result<Case> {
    let model = entity::Entity::find_by_id(id.0)
        .filter(scope_condition(scope))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(Error::NotFound("case"))?;
    let mut tags = tags_of(conn, &[id.0]).await?;
    to_case(model, tags.remove(&id.0).unwrap_or_default())
}

/// A case is resolved only with its unit's required fields filled, by
/// whoever resolves it: an agent, a token, a plugin's `close`.
async fn require_fields_to_resolve(conn: &impl ConnectionTrait, case: &Case) -> Result<()> {
    let defs = match super::unit::get(conn, case.unit_id).await {
        Ok(unit) => unit.custom_fields,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    match crate::domain::custom_field::missing_required(&defs, &case.custom_fields) {
        Some(missing) => {
            let message = format!("{} must be filled before the case is resolved", missing.label);
            Err(crate::domain::Error::invalid(format!("custom_fields.{}", missing.key), message).into())
        }
        None => Ok(()),
    }
}

/// Who a filter on the assignee asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AssigneeFilter {
    Nobody,
    User(UserId),
}

#[derive(Debug, Default)]
pub struct CaseFilter {
    pub statuses: Vec<CaseStatus>,
    pub unit_id: Option<UnitId>,
    pub assignee: Option<AssigneeFilter>,
    pub channel: Option<Channel>,
    pub tag: Option<String>,
    pub priority: Option<Priority>,
    pub contact_id: Option<ContactId>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// Text contained in the subject (case-insensitive).
    pub q: Option<String>,
    /// Cases with a service-level target in one of these states.
    pub sla_states: Vec<crate::domain::sla::SlaState>,
    /// Only snoozed cases (`true`), or none of them (`false`).
    pub snoozed: Option<bool>,
    /// Text in the subject or any message (case-insensitive).
    pub text: Option<String>,
}

/// Sort orders a list can use; keyset pagination follows the same column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseSort {
    #[default]
    NewestFirst,
    OldestFirst,
    RecentlyUpdated,
    LeastRecentlyUpdated,
}

impl CaseSort {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "-created_at" => Some(CaseSort::NewestFirst),
            "created_at" => Some(CaseSort::OldestFirst),
            "-updated_at" => Some(CaseSort::RecentlyUpdated),
            "updated_at" => Some(CaseSort::LeastRecentlyUpdated),
            _ => None,
        }
    }
}

pub async fn list(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    filter: &CaseFilter,
    sort: CaseSort,
    page: &Page,
) -> Result<(Vec<Case>, Option<String>)> {
    use entity::Column;
    let mut query = entity::Entity::find().filter(scope_condition(scope));
    if !filter.statuses.is_empty() {
        query = query.filter(Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(unit) = filter.unit_id {
        query = query.filter(Column::UnitId.eq(unit.0));
    }
    match filter.assignee {
        Some(AssigneeFilter::Nobody) => query = query.filter(Column::AssigneeId.is_null()),
        Some(AssigneeFilter::User(user)) => query = query.filter(Column::AssigneeId.eq(user.0)),
        None => {}
    }
    if let Some(channel) = filter.channel {
        query = query.filter(Column::Channel.eq(channel.as_str()));
    }
    if let Some(priority) = filter.priority {
        query = query.filter(Column::Priority.eq(priority.as_str()));
    }
    if let Some(contact) = filter.contact_id {
        query = query.filter(Column::ContactId.eq(contact.0));
    }
    if !filter.sla_states.is_empty() {
        use super::sla::entity as sla;
        let states: Vec<&str> = filter.sla_states.iter().map(|s| s.as_str()).collect();
        let with_sla = sla::Entity::find()
            .select_only()
            .column(sla::Column::CaseId)
            .filter(sla::Column::State.is_in(states))
            .into_query();
        query = query.filter(Column::Id.in_subquery(with_sla));
    }
    if let Some(tag) = &filter.tag {
        let tagged = tag::Entity::find()
            .select_only()
            .column(tag::Column::CaseId)
            .filter(tag::Column::Tag.eq(tag.clone()))
            .into_query();
        query = query.filter(Column::Id.in_subquery(tagged));
    }
    if let Some(at) = filter.created_after {
        query = query.filter(Column::CreatedAt.gte(at));
    }
    if let Some(at) = filter.created_before {
        query = query.filter(Column::CreatedAt.lt(at));
    }
    if let Some(at) = filter.updated_after {
        query = query.filter(Column::UpdatedAt.gte(at));
    }
    if let Some(at) = filter.updated_before {
        query = query.filter(Column::UpdatedAt.lt(at));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        query = query.filter(super::search_text::contains(Column::SearchText, Column::Subject, q));
    }
    match filter.snoozed {
        Some(true) => query = query.filter(Column::SnoozedUntil.is_not_null()),
        Some(false) => query = query.filter(Column::SnoozedUntil.is_null()),
        None => {}
    }
    if let Some(text) = filter.text.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        use super::message::entity as message;
        let in_messages = message::Entity::find()
            .select_only()
            .column(message::Column::CaseId)
            .filter(super::search_text::contains(message::Column::SearchText, message::Column::Body, text))
            .into_query();
        query = query.filter(
            Condition::any()
                .add(super::search_text::contains(Column::SearchText, Column::Subject, text))
                .add(Column::Id.in_subquery(in_messages)),
        );
    }
    let (column, descending) = match sort {
        CaseSort::NewestFirst => (Column::CreatedAt, true),
        CaseSort::OldestFirst => (Column::CreatedAt, false),
        CaseSort::RecentlyUpdated => (Column::UpdatedAt, true),
        CaseSort::LeastRecentlyUpdated => (Column::UpdatedAt, false),
    };
    let order = if descending { super::pagination::Order::Descending } else { super::pagination::Order::Ascending };
    let by_created = matches!(sort, CaseSort::NewestFirst | CaseSort::OldestFirst);
    let (rows, next) = super::pagination::fetch(conn, query, (column, Column::Id), order, page, |r| {
        (if by_created { r.created_at } else { r.updated_at }, r.id)
    })
    .await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut tags = tags_of(conn, &ids).await?;
    let cases = rows
        .into_iter()
        .map(|r| {
            let t = tags.remove(&r.id).unwrap_or_default();
            to_case(r, t)
        })
        .collect::<Result<_>>()?;
    Ok((cases, next))
}

/// Applies a patch through the state machine; returns the case as stored.
pub async fn update(store: &Store, actor: &Actor, scope: Scope<'_>, id: CaseId, patch: CasePatch) -> Result<Case> {
    update_telling(store, actor, scope, id, patch, None).await
}

/// Like [`update`], adding `notice` (a message for the person, e.g. who
/// takes over their case) in the same transaction.
pub async fn update_telling(
    store: &Store,
    actor: &Actor,
    scope: Scope<'_>,
    id: CaseId,
    patch: CasePatch,
    notice: Option<NewMessage>,
) -> Result<Case> {
    let tx = store.begin().await?;
    let mut case = get_locked(&*tx, scope, id).await?;
    update_in(&*tx, actor, &mut case, patch).await?;
    if let Some(notice) = notice {
        super::message::add_in(&*tx, actor, &mut case, notice).await?;
    }
    tx.commit().await?;
    Ok(case)
}

/// An agent takes a case from the queue (or from the bot). Under the case's
/// row lock, so of two agents claiming at once exactly one gets it and the
/// other is told who did. Claiming one's own case again changes nothing.
pub async fn claim(
    store: &Store,
    actor: &Actor,
    scope: Scope<'_>,
    id: CaseId,
    user: UserId,
    notice: Option<NewMessage>,
) -> Result<Case> {
    let tx = store.begin().await?;
    let mut case = get_locked(&*tx, scope, id).await?;
    match case.assignee_id {
        Some(owner) if owner == user => return Ok(case),
        Some(owner) => {
            let name = super::user::get(&*tx, owner).await.map(|u| u.display_name).unwrap_or_default();
            return Err(Error::conflict("case", format!("{name} already took this case")));
        }
        None if !matches!(case.status, CaseStatus::Queued | CaseStatus::Bot) => {
            return Err(Error::conflict("case", format!("a {} case cannot be claimed", case.status)));
        }
        None => {}
    }
    let patch = CasePatch { assignee_id: Some(Some(user)), ..Default::default() };
    update_in(&*tx, actor, &mut case, patch).await?;
    if let Some(notice) = notice {
        super::message::add_in(&*tx, actor, &mut case, notice).await?;
    }
    tx.commit().await?;
    Ok(case)
}

/// Hands a case to another unit (its queue, or one of its people) or to a
/// colleague, with a note for whoever takes it, in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn transfer(
    store: &Store,
    actor: &Actor,
    scope: Scope<'_>,
    id: CaseId,
    patch: CasePatch,
    author: Option<UserId>,
    note: Option<String>,
    notice: Option<NewMessage>,
) -> Result<Case> {
    let tx = store.begin().await?;
    let mut case = get_locked(&*tx, scope, id).await?;
    if !case.status.is_open() {
        return Err(Error::conflict("case", format!("a {} case cannot be transferred", case.status)));
    }
    update_in(&*tx, actor, &mut case, patch).await?;
    if let Some(note) = note {
        super::message::note_in(&*tx, actor, &case, author, note).await?;
    }
    if let Some(notice) = notice {
        super::message::add_in(&*tx, actor, &mut case, notice).await?;
    }
    tx.commit().await?;
    Ok(case)
}

/// Brings `id` back from a snooze that was due at `at` (a later snooze, or
/// one already ended, is left alone); tells its assignee. True if it woke.
pub async fn wake_in(conn: &impl ConnectionTrait, id: CaseId, at: DateTime<Utc>) -> Result<bool> {
    let mut case = match get_locked(conn, None, id).await {
        Ok(case) => case,
        Err(Error::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    if case.snoozed_until != Some(at) {
        return Ok(false);
    }
    update_in(conn, &Actor::System, &mut case, CasePatch { snoozed_until: Some(None), ..Default::default() }).await?;
    if let Some(user) = case.assignee_id {
        let locale = super::user::get(conn, user).await.map(|u| u.locale).unwrap_or_else(|_| "es".into());
        let text = crate::i18n::t(
            &locale,
            "case.snooze_ended",
            &[("number", &case.number.to_string()), ("subject", &case.subject)],
        );
        super::notification::notify_in(conn, &[user], Some(case.id.0), "snooze_ended", &text).await?;
    }
    Ok(true)
}

/// Applies a patch to `case` inside the caller's transaction, with its audit
/// entries and the events plugins follow.
pub async fn update_in(conn: &impl ConnectionTrait, actor: &Actor, case: &mut Case, patch: CasePatch) -> Result<()> {
    let before = case.clone();
    let now = super::now();
    if let Some(subject) = patch.subject {
        case.subject = subject;
    }
    if let Some(priority) = patch.priority {
        case.priority = priority;
    }
    if let Some(fields) = patch.custom_fields {
        for (key, value) in fields {
            if serde_json::Value::is_null(&value) {
                case.custom_fields.remove(&key);
            } else {
                case.custom_fields.insert(key, value);
            }
        }
    }
    if let Some(unit) = patch.unit_id.filter(|u| *u != case.unit_id) {
        super::unit::get(conn, unit).await.map_err(|e| match e {
            Error::NotFound(_) => Error::conflict("unit_id", "no such unit"),
            other => other,
        })?;
        case.unit_id = unit;
        // A transferred case goes to the new unit's queue unless an owner there is named.
        if case.status.is_open() && case.status != CaseStatus::Bot && patch.assignee_id.is_none() {
            case.transition(CaseStatus::Queued, None, now)?;
        }
    }
    if let Some(assignee) = patch.assignee_id {
        if let Some(user) = assignee {
            check_assignee(conn, case.unit_id, user).await?;
        }
        if assignee != case.assignee_id || case.status == CaseStatus::Queued {
            case.assign(assignee, now)?;
        }
    }
    if let Some(status) = patch.status {
        if status == CaseStatus::Resolved && case.status != CaseStatus::Resolved {
            require_fields_to_resolve(conn, case).await?;
        }
        case.transition(status, patch.assignee_id.flatten(), now)?;
    }
    if let Some(until) = patch.snoozed_until {
        // At the precision stored, so the wake-up job finds the same time.
        let until = until.map(|t| chrono::SubsecRound::trunc_subsecs(t, 6));
        if until.is_some() && !case.status.is_open() {
            let message = format!("a {} case cannot be snoozed", case.status);
            return Err(crate::domain::Error::invalid("snoozed_until", message).into());
        }
        case.snoozed_until = until;
        if let Some(at) = until {
            let job = super::job::NewJob {
                kind: super::job::JobKind::CaseWake,
                payload: serde_json::json!({ "case_id": case.id, "at": at }),
                idempotency_key: Some(format!("case.wake:{}:{}", case.id, at.timestamp_micros())),
            };
            super::job::enqueue_at(conn, job, at).await?;
        }
    }
    // A case that ends is not snoozed any more.
    if !case.status.is_open() {
        case.snoozed_until = None;
    }
    if let Some(tags) = &patch.tags {
        set_tags(conn, case.id, tags).await?;
        let mut sorted = tags.clone();
        sorted.sort();
        sorted.dedup();
        case.tags = sorted;
    }
    case.updated_at = now;
    to_active(case).update(conn).await?;
    for (action, details) in changes(&before, case) {
        audit::record(
            conn,
            audit::Entry {
                actor,
                action,
                target_kind: "case",
                target_id: case.id.to_string(),
                unit_id: Some(case.unit_id),
                details,
            },
        )
        .await?;
    }
    // Resolved by people, or closed by the bot (the person said its answer
    // helped): time to ask how it went.
    let ended =
        case.status == CaseStatus::Resolved || (before.status == CaseStatus::Bot && case.status == CaseStatus::Closed);
    if before.status != case.status && ended {
        super::survey::enqueue_offer_in(conn, case.id).await?;
    }
    if before.status != case.status {
        let event = super::event::CaseEvent::StatusChanged {
            from: before.status.as_str().to_owned(),
            to: case.status.as_str().to_owned(),
        };
        super::event::emit(conn, actor, case, event).await?;
    }
    if let Some(user) = case.assignee_id.filter(|a| Some(*a) != before.assignee_id) {
        super::event::emit(conn, actor, case, super::event::CaseEvent::Assigned { user_id: user.0 }).await?;
        super::agent::assigned_in(conn, user).await?;
    }
    let moved_from = Some(before.unit_id).filter(|u| *u != case.unit_id);
    if before != *case {
        super::live::publish_in(conn, live_event("case.updated", case, moved_from)).await?;
        notify_subscribers_in(conn, case, Some(&before)).await?;
    }
    // What routing depends on: a case that (re)enters a queue, and an
    // agent's capacity freed.
    let queued = case.status == CaseStatus::Queued && case.assignee_id.is_none();
    if queued && (before.status != CaseStatus::Queued || before.assignee_id.is_some() || moved_from.is_some()) {
        super::routing::request_in(conn, case.unit_id).await?;
    }
    let held = |c: &Case| super::agent::LOADED.contains(&c.status);
    if let Some(previous) = before.assignee_id.filter(|_| held(&before))
        && (case.assignee_id != Some(previous) || !held(case))
    {
        super::routing::request_for_agent_in(conn, previous).await?;
    }
    Ok(())
}

/// Tells event subscriptions about a new case (`before` none), or about a
/// change: `case.resolved` when it became resolved, `case.updated` otherwise.
/// A subscription of the unit a case left hears of the transfer too.
pub(crate) async fn notify_subscribers_in(
    conn: &impl ConnectionTrait,
    case: &Case,
    before: Option<&Case>,
) -> Result<()> {
    use crate::domain::subscription::EventType;
    let event = match before {
        None => EventType::CaseCreated,
        Some(b) if case.status == CaseStatus::Resolved && b.status != CaseStatus::Resolved => EventType::CaseResolved,
        Some(_) => EventType::CaseUpdated,
    };
    let data = serde_json::json!({ "case": super::subscription::case_data(case) });
    let mut units = vec![case.unit_id];
    units.extend(before.map(|b| b.unit_id).filter(|u| *u != case.unit_id));
    super::subscription::emit_in(conn, event, &units, Some(case.id.0), data).await
}

/// The live note consoles get about `case`: enough to place it in a list
/// (status, owner, unit, priority, tags) without reading it again.
pub(crate) fn live_event(kind: &str, case: &Case, moved_from: Option<UnitId>) -> super::live::LiveEvent {
    let mut units = vec![case.unit_id.0];
    units.extend(moved_from.map(|u| u.0));
    let mut users: Vec<uuid::Uuid> = case.assignee_id.map(|u| u.0).into_iter().collect();
    let data = serde_json::json!({
        "number": case.number,
        "subject": case.subject,
        "status": case.status.as_str(),
        "unit_id": case.unit_id.0,
        "assignee_id": case.assignee_id.map(|u| u.0),
        "priority": case.priority.as_str(),
        "channel": case.channel.as_str(),
        "tags": case.tags,
        "snoozed_until": case.snoozed_until,
        "updated_at": case.updated_at,
    });
    let mut event = super::live::LiveEvent::new(kind, units, Some(case.id.0), data);
    event.users.append(&mut users);
    event
}

/// The audit entries a change from `before` to `after` deserves.
fn changes(before: &Case, after: &Case) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let mut out = vec![];
    if before.status != after.status {
        out.push(("case.status_changed", json!({ "from": before.status.as_str(), "to": after.status.as_str() })));
    }
    if before.assignee_id != after.assignee_id {
        out.push(("case.assigned", json!({ "from": before.assignee_id, "to": after.assignee_id })));
    }
    if before.unit_id != after.unit_id {
        out.push(("case.transferred", json!({ "from": before.unit_id, "to": after.unit_id })));
    }
    if before.priority != after.priority {
        out.push(("case.priority_changed", json!({ "from": before.priority.as_str(), "to": after.priority.as_str() })));
    }
    if before.tags != after.tags {
        out.push(("case.tags_changed", json!({ "from": before.tags, "to": after.tags })));
    }
    if before.snoozed_until != after.snoozed_until {
        out.push(("case.snoozed", json!({ "until": after.snoozed_until })));
    }
    if before.subject != after.subject || before.custom_fields != after.custom_fields {
        out.push(("case.updated", json!({})));
    }
    out
}

/// Saves fields a message changed on its case (status, timestamps).
pub(crate) async fn save_in(conn: &impl ConnectionTrait, case: &Case) -> Result<()> {
    to_active(case).update(conn).await?;
    Ok(())
}

/// Tags in use on cases the caller may see, with how many cases carry each.
pub async fn tag_counts(conn: &impl ConnectionTrait, scope: Scope<'_>) -> Result<Vec<(String, i64)>> {
    let visible =
        entity::Entity::find().select_only().column(entity::Column::Id).filter(scope_condition(scope)).into_query();
    let rows: Vec<(String, i64)> = tag::Entity::find()
        .select_only()
        .column(tag::Column::Tag)
        .column_as(Expr::col(tag::Column::CaseId).count(), "n")
        .filter(tag::Column::CaseId.in_subquery(visible))
        .group_by(tag::Column::Tag)
        .order_by_asc(tag::Column::Tag)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows)
}

/// Cases waiting in a unit's queue that came in before `before`: how many
/// are ahead of a case that joins it.
pub async fn queued_ahead(
    conn: &impl ConnectionTrait,
    unit: crate::domain::UnitId,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(entity::Entity::find()
        .filter(entity::Column::UnitId.eq(unit.0))
        .filter(entity::Column::Status.eq(CaseStatus::Queued.as_str()))
        .filter(entity::Column::CreatedAt.lt(before))
        .count(conn)
        .await?)
}

/// Open cases, for the job-queue and load figures.
pub async fn count_open(conn: &impl ConnectionTrait) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(entity::Entity::find()
        .filter(entity::Column::Status.is_not_in([CaseStatus::Resolved.as_str(), CaseStatus::Closed.as_str()]))
        .count(conn)
        .await?)
}

/// The contact of a new case: an existing one, or one to find by its
/// identities and create if none matches.
pub enum ContactRef {
    Existing(ContactId),
    FindOrCreate(crate::domain::contact::NewContact),
}

/// Creates a case for `contact`, resolving or creating the contact in the
/// same transaction, so a crash leaves neither half. Two requests racing to
/// create the same new contact collide on its identity; the loser retries and
/// then finds the contact the winner created.
pub async fn create_for(
    store: &Store,
    actor: &Actor,
    visibility: &super::contact::Visibility,
    contact: ContactRef,
    new: NewCase,
    first_message: Option<NewMessage>,
) -> Result<Case> {
    create_checked(store, actor, visibility, contact, new, first_message, None).await
}

/// Starts a conversation on a channel account (`new.channel_install_id`):
/// as [`create_for`], once the account can reach the person under `rules`
/// (the connector's), checked in the transaction that creates the case:
/// - the contact has an address on the channel ([`crate::domain::Contact::address_on`]);
/// - on channels that name people by the provider's own ids (Telegram,
///   Messenger, Instagram) the person has written to this account before;
/// - an outbound first message is one the channel takes now (on WhatsApp,
///   an approved template unless the person wrote in the last 24 hours).
pub async fn start_for(
    store: &Store,
    actor: &Actor,
    visibility: &super::contact::Visibility,
    contact: ContactRef,
    new: NewCase,
    first_message: Option<NewMessage>,
    rules: &crate::domain::channel_rules::ChannelRules,
) -> Result<Case> {
    create_checked(store, actor, visibility, contact, new, first_message, Some(rules)).await
}

async fn create_checked(
    store: &Store,
    actor: &Actor,
    visibility: &super::contact::Visibility,
    contact: ContactRef,
    new: NewCase,
    first_message: Option<NewMessage>,
    rules: Option<&crate::domain::channel_rules::ChannelRules>,
) -> Result<Case> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let created = try_create_for(store, actor, visibility, &contact, new.clone(), first_message.clone(), rules);
        match created.await {
            Err(Error::Conflict { field, .. }) if attempt < 3 && field.starts_with("identities") => continue,
            other => return other,
        }
    }
}

async fn try_create_for(
    store: &Store,
    actor: &Actor,
    visibility: &super::contact::Visibility,
    contact: &ContactRef,
    mut new: NewCase,
    first_message: Option<NewMessage>,
    rules: Option<&crate::domain::channel_rules::ChannelRules>,
) -> Result<Case> {
    let tx = store.begin().await?;
    new.contact_id = match contact {
        ContactRef::Existing(id) => {
            // A contact the caller may not see is not found, so its existence does not leak.
            super::contact::get(&*tx, visibility, *id).await?.id
        }
        ContactRef::FindOrCreate(new_contact) => {
            super::contact::find_or_create_in(&*tx, actor, visibility, new_contact.clone()).await?
        }
    };
    if let (Some(rules), Some(install)) = (rules, new.channel_install_id) {
        check_reach(&*tx, &new, install, first_message.as_ref(), rules).await?;
    }
    let case = create_in(&*tx, actor, new, first_message).await?;
    tx.commit().await?;
    Ok(case)
}

/// Whether `install` can reach the contact of `new` (see [`start_for`]).
async fn check_reach(
    conn: &impl ConnectionTrait,
    new: &NewCase,
    install: uuid::Uuid,
    first_message: Option<&NewMessage>,
    rules: &crate::domain::channel_rules::ChannelRules,
) -> Result<()> {
    let person = super::contact::get(conn, &super::contact::Visibility::All, new.contact_id).await?;
    let channel = new.channel.as_str();
    if person.address_on(new.channel).is_none() {
        let message = format!("the person has no {channel} address: this channel account cannot reach them");
        return Err(domain::Error::invalid("contact", message).into());
    }
    let last_inbound = super::message::last_inbound_from(conn, new.contact_id, install).await?;
    if !new.channel.reaches_first() && last_inbound.is_none() {
        let message =
            format!("on {channel} the person must have written to this account before staff can write to them");
        return Err(domain::Error::invalid("channel_install_id", message).into());
    }
    if let Some(first) = first_message.filter(|m| m.author_kind.direction() == Direction::Outbound) {
        rules.check_outbound(last_inbound, super::now(), first.template.as_ref(), first.author_kind).map_err(|e| {
            match e {
                domain::Error::Invalid { field, message } => {
                    domain::Error::Invalid { field: format!("first_message.{field}"), message }
                }
                other => other,
            }
        })?;
    }
    Ok(())
}

/// Every case of a contact, oldest first, in every unit (for the person's
/// own requests: an access export, an erasure).
pub async fn of_contact(conn: &impl ConnectionTrait, contact: ContactId) -> Result<Vec<Case>> {
    let models = entity::Entity::find()
        .filter(entity::Column::ContactId.eq(contact.0))
        .order_by_asc(entity::Column::CreatedAt)
        .order_by_asc(entity::Column::Id)
        .all(conn)
        .await?;
    let mut tags = tags_of(conn, &models.iter().map(|m| m.id).collect::<Vec<_>>()).await?;
    models
        .into_iter()
        .map(|m| {
            let tags = tags.remove(&m.id).unwrap_or_default();
            to_case(m, tags)
        })
        .collect()
}

/// The latest web-chat conversation `visitor` started, open or not.
pub async fn latest_of_visitor(conn: &impl ConnectionTrait, visitor: uuid::Uuid) -> Result<Option<Case>> {
    let model = entity::Entity::find()
        .filter(entity::Column::WebchatVisitor.eq(visitor))
        .order_by_desc(entity::Column::CreatedAt)
        .one(conn)
        .await?;
    with_tags(conn, model).await
}

/// Gives a new web-chat case to the visitor who started it, and tells the
/// visitor's open streams (a live event no console sees: it names no unit
/// and no user).
pub async fn bind_visitor_in(conn: &impl ConnectionTrait, case: CaseId, visitor: uuid::Uuid) -> Result<()> {
    entity::Entity::update_many()
        .col_expr(entity::Column::WebchatVisitor, Expr::value(visitor))
        .filter(entity::Column::Id.eq(case.0))
        .exec(conn)
        .await?;
    let event =
        super::live::LiveEvent::new(WEBCHAT_STARTED, vec![], Some(case.0), serde_json::json!({ "visitor": visitor }));
    super::live::publish_in(conn, event).await
}

/// The live event a visitor's streams wait for before their conversation exists.
pub const WEBCHAT_STARTED: &str = "webchat.started";

/// A found case row with its tags.
async fn with_tags(conn: &impl ConnectionTrait, model: Option<entity::Model>) -> Result<Option<Case>> {
    match model {
        Some(model) => {
            let mut tags = tags_of(conn, &[model.id]).await?;
            let id = model.id;
            Ok(Some(to_case(model, tags.remove(&id).unwrap_or_default())?))
        }
        None => Ok(None),
    }
}

/// The open case of a contact on one channel account, newest first: where a
/// new message from them belongs.
pub async fn find_open_for(
    conn: &impl ConnectionTrait,
    contact: ContactId,
    channel_install: uuid::Uuid,
) -> Result<Option<Case>> {
    let model = entity::Entity::find()
        .filter(entity::Column::ContactId.eq(contact.0))
        .filter(entity::Column::ChannelInstallId.eq(channel_install))
        .filter(entity::Column::Status.is_not_in([CaseStatus::Resolved.as_str(), CaseStatus::Closed.as_str()]))
        .order_by_desc(entity::Column::CreatedAt)
        .one(conn)
        .await?;
    with_tags(conn, model).await
}

/// The contact's latest case on a channel account that became `status`
/// (resolved or closed) since `since`: a message this soon after a
/// resolution reopens the case; a closed one takes only its survey's answer.
pub async fn find_ended_since(
    conn: &impl ConnectionTrait,
    contact: ContactId,
    channel_install: uuid::Uuid,
    status: CaseStatus,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Case>> {
    let when = match status {
        CaseStatus::Closed => entity::Column::ClosedAt,
        _ => entity::Column::ResolvedAt,
    };
    let model = entity::Entity::find()
        .filter(entity::Column::ContactId.eq(contact.0))
        .filter(entity::Column::ChannelInstallId.eq(channel_install))
        .filter(entity::Column::Status.eq(status.as_str()))
        .filter(when.gte(since))
        .order_by_desc(when)
        .one(conn)
        .await?;
    with_tags(conn, model).await
}

/// The case a message on a channel account continues, told by threading
/// hints (see the connector world's `thread-keys`): `case:<number>` names a
/// case of the same contact on this account, or one whose answers travel by
/// e-mail on another (a web form's, answered with `[#123]` in the subject,
/// whose reply reaches the mailbox an `email` account reads); any other key
/// (but `subject:`) is the provider message id of an earlier message on
/// this account. Closed cases are not continued.
pub async fn find_threaded(
    conn: &impl ConnectionTrait,
    contact: ContactId,
    channel_install: uuid::Uuid,
    keys: &[String],
) -> Result<Option<Case>> {
    let open = entity::Column::Status.ne(CaseStatus::Closed.as_str());
    for key in keys.iter().take(50) {
        let model = if let Some(number) = key.strip_prefix("case:") {
            let Ok(number) = number.trim().parse::<i64>() else { continue };
            let by_mail = [Channel::Email.as_str(), Channel::Webform.as_str()];
            entity::Entity::find()
                .filter(entity::Column::Number.eq(number))
                .filter(entity::Column::ContactId.eq(contact.0))
                .filter(
                    Condition::any()
                        .add(entity::Column::ChannelInstallId.eq(channel_install))
                        .add(entity::Column::Channel.is_in(by_mail)),
                )
                .filter(open.clone())
                .one(conn)
                .await?
        } else if key.starts_with("subject:") || key.is_empty() {
            continue;
        } else {
            let Some(case_id) = super::message::case_of_provider_message(conn, channel_install, key).await? else {
                continue;
            };
            entity::Entity::find_by_id(case_id.0).filter(open.clone()).one(conn).await?
        };
        if model.is_some() {
            return with_tags(conn, model).await;
        }
    }
    Ok(None)
}

/// Holds the case's row until the transaction ends, so read-change-write
/// sequences on one case (a plugin's actions, say) do not interleave. On
/// SQLite the single writer already serialises them.
pub async fn lock_in(conn: &impl ConnectionTrait, id: CaseId) -> Result<()> {
    if is_postgres(conn) {
        entity::Entity::find_by_id(id.0).lock_exclusive().one(conn).await?;
    }
    Ok(())
}
