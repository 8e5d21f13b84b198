//! Rows changed in a time window, table by table, for the bulk export to a
//! data warehouse (`crate::export`). Each table is read in keyset pages by
//! (the time it changed, id), so an export of millions of rows holds one
//! page in memory at a time.

use super::Result;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

/// The tables exported, each with the time that says it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// By `updated_at`; with their tags.
    Cases,
    /// By `created_at` (messages are not edited; delivery states are
    /// exported with the message as it stood then).
    Messages,
    /// By `updated_at` (an erasure updates it, so the warehouse hears of it).
    Contacts,
    /// By `recorded_at`.
    Consents,
    /// By `sent_at`, and again when answered (`answered_at`).
    Surveys,
    /// The report facts, by `computed_at`.
    CaseFacts,
    /// By `updated_at`.
    Units,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Cases,
        Table::Messages,
        Table::Contacts,
        Table::Consents,
        Table::Surveys,
        Table::CaseFacts,
        Table::Units,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Cases => "cases",
            Table::Messages => "messages",
            Table::Contacts => "contacts",
            Table::Consents => "consents",
            Table::Surveys => "surveys",
            Table::CaseFacts => "case_facts",
            Table::Units => "units",
        }
    }

    /// The columns of its rows, in file order (docs/export.md).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Cases => &[
                "id",
                "number",
                "subject",
                "channel",
                "channel_install_id",
                "contact_id",
                "unit_id",
                "assignee_id",
                "status",
                "priority",
                "tags",
                "custom_fields",
                "created_at",
                "updated_at",
                "first_response_at",
                "resolved_at",
                "closed_at",
                "anonymised_at",
            ],
            Table::Messages => &[
                "id",
                "case_id",
                "direction",
                "author_kind",
                "author_user_id",
                "body",
                "attachments",
                "delivery_status",
                "channel_install_id",
                "created_at",
            ],
            Table::Contacts => {
                &["id", "name", "custom_attributes", "merged_into", "created_at", "updated_at", "erased_at"]
            }
            Table::Consents => &[
                "id",
                "contact_id",
                "purpose",
                "action",
                "text_version",
                "channel",
                "source",
                "given_at",
                "recorded_at",
            ],
            Table::Surveys => &[
                "id",
                "case_id",
                "unit_id",
                "channel",
                "agent_id",
                "outcome",
                "status",
                "score",
                "comment",
                "sent_at",
                "answered_at",
            ],
            Table::CaseFacts => &[
                "case_id",
                "unit_id",
                "channel",
                "channel_install_id",
                "agent_id",
                "priority",
                "status",
                "created_at",
                "started_in_bot",
                "handoff_at",
                "first_assigned_at",
                "first_response_at",
                "resolved_at",
                "reopens",
                "transfers",
                "agent_replies",
                "notes",
                "bot_contained",
                "abandoned",
                "first_response_s",
                "first_response_bs",
                "handoff_wait_s",
                "handoff_wait_bs",
                "assignment_s",
                "assignment_bs",
                "resolution_s",
                "resolution_bs",
                "handling_s",
                "handling_bs",
                "waiting_s",
                "waiting_bs",
                "computed_at",
            ],
            Table::Units => &["id", "slug", "name", "timezone", "created_at", "updated_at"],
        }
    }
}

/// Where a page ends: the last row's change time and id.
pub type Mark = (DateTime<Utc>, uuid::Uuid);

/// Rows of `$entity` changed by `$at` in `(since, until]`, after `after`.
macro_rules! page {
    ($conn:expr, $entity:path, $at:ident, $id:ident, $since:expr, $until:expr, $after:expr, $limit:expr) => {{
        use $entity::{Column, Entity};
        let mut query = Entity::find().filter(Column::$at.lte($until));
        if let Some(since) = $since {
            query = query.filter(Column::$at.gt(since));
        }
        if let Some((at, id)) = $after {
            query = query.filter(
                Condition::any()
                    .add(Column::$at.gt(at))
                    .add(Condition::all().add(Column::$at.eq(at)).add(Column::$id.gt(id))),
            );
        }
        query.order_by_asc(Column::$at).order_by_asc(Column::$id).limit($limit).all($conn).await?
    }};
}

/// One page of `table`: its rows' JSON (the columns of [`Table::columns`]),
/// and where the next page starts, if there may be one.
pub async fn page(
    conn: &impl ConnectionTrait,
    table: Table,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    after: Option<Mark>,
    limit: u64,
) -> Result<(Vec<Value>, Option<Mark>)> {
    let rows = rows(conn, table, since, until, after, limit).await?;
    // The surveys answered in the window come first and are not keyed.
    let keyed: Vec<&(Mark, Value, bool)> = rows.iter().filter(|(_, _, keyed)| *keyed).collect();
    let next = if keyed.len() as u64 == limit { keyed.last().map(|(mark, _, _)| *mark) } else { None };
    Ok((rows.into_iter().map(|(_, row, _)| row).collect(), next))
}

/// Rows with their marks, and whether they came from the keyset query.
async fn rows(
    conn: &impl ConnectionTrait,
    table: Table,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    after: Option<Mark>,
    limit: u64,
) -> Result<Vec<(Mark, Value, bool)>> {
    let keyed = |(mark, row): (Mark, Value)| (mark, row, true);
    Ok(match table {
        Table::Cases => {
            let rows = page!(conn, super::case::entity, UpdatedAt, Id, since, until, after, limit);
            let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
            let mut tags: std::collections::HashMap<uuid::Uuid, Vec<String>> = Default::default();
            for t in super::case::tag::Entity::find()
                .filter(super::case::tag::Column::CaseId.is_in(ids))
                .order_by_asc(super::case::tag::Column::Tag)
                .all(conn)
                .await?
            {
                tags.entry(t.case_id).or_default().push(t.tag);
            }
            rows.into_iter()
                .map(|c| {
                    let row = json!({
                        "id": c.id, "number": c.number, "subject": c.subject, "channel": c.channel,
                        "channel_install_id": c.channel_install_id, "contact_id": c.contact_id, "unit_id": c.unit_id,
                        "assignee_id": c.assignee_id, "status": c.status, "priority": c.priority,
                        "tags": tags.remove(&c.id).unwrap_or_default(), "custom_fields": c.custom_fields,
                        "created_at": c.created_at, "updated_at": c.updated_at,
                        "first_response_at": c.first_response_at, "resolved_at": c.resolved_at,
                        "closed_at": c.closed_at, "anonymised_at": c.anonymised_at,
                    });
                    ((c.updated_at, c.id), row)
                })
                .map(keyed)
                .collect()
        }
        Table::Messages => page!(conn, super::message::entity, CreatedAt, Id, since, until, after, limit)
            .into_iter()
            .map(|m| {
                let files = m.attachments.as_array().map_or(0, Vec::len);
                let row = json!({
                    "id": m.id, "case_id": m.case_id, "direction": m.direction, "author_kind": m.author_kind,
                    "author_user_id": m.author_user_id, "body": m.body, "attachments": files,
                    "delivery_status": m.delivery_status, "channel_install_id": m.channel_install_id,
                    "created_at": m.created_at,
                });
                ((m.created_at, m.id), row)
            })
            .map(keyed)
            .collect(),
        Table::Contacts => page!(conn, super::contact::entity, UpdatedAt, Id, since, until, after, limit)
            .into_iter()
            .map(|c| {
                let row = json!({
                    "id": c.id, "name": c.name, "custom_attributes": c.custom_attributes,
                    "merged_into": c.merged_into, "created_at": c.created_at, "updated_at": c.updated_at,
                    "erased_at": c.erased_at,
                });
                ((c.updated_at, c.id), row)
            })
            .map(keyed)
            .collect(),
        Table::Consents => page!(conn, super::contact::consent, RecordedAt, Id, since, until, after, limit)
            .into_iter()
            .map(|c| {
                let row = json!({
                    "id": c.id, "contact_id": c.contact_id, "purpose": c.purpose, "action": c.action,
                    "text_version": c.text_version, "channel": c.channel, "source": c.source,
                    "given_at": c.given_at, "recorded_at": c.recorded_at,
                });
                ((c.recorded_at, c.id), row)
            })
            .map(keyed)
            .collect(),
        Table::Surveys => {
            let json = |s: &super::survey::entity::Model| {
                json!({
                    "id": s.id, "case_id": s.case_id, "unit_id": s.unit_id, "channel": s.channel,
                    "agent_id": s.agent_id, "outcome": s.outcome, "status": s.status, "score": s.score,
                    "comment": s.comment, "sent_at": s.sent_at, "answered_at": s.answered_at,
                })
            };
            let mut out = vec![];
            // Sent earlier and answered in the window: once, before the first page.
            if let (Some(since), None) = (since, after) {
                use super::survey::entity::{Column, Entity};
                let answered = Entity::find()
                    .filter(Column::AnsweredAt.gt(since))
                    .filter(Column::AnsweredAt.lte(until))
                    .filter(Column::SentAt.lte(since))
                    .all(conn)
                    .await?;
                out.extend(answered.iter().map(|s| ((s.sent_at, s.id), json(s), false)));
            }
            let sent = page!(conn, super::survey::entity, SentAt, Id, since, until, after, limit);
            out.extend(sent.iter().map(|s| ((s.sent_at, s.id), json(s), true)));
            out
        }
        Table::CaseFacts => page!(conn, super::report::entity, ComputedAt, CaseId, since, until, after, limit)
            .into_iter()
            .map(|f| {
                let row = json!({
                    "case_id": f.case_id, "unit_id": f.unit_id, "channel": f.channel,
                    "channel_install_id": f.channel_install_id, "agent_id": f.agent_id, "priority": f.priority,
                    "status": f.status, "created_at": f.created_at, "started_in_bot": f.started_in_bot,
                    "handoff_at": f.handoff_at, "first_assigned_at": f.first_assigned_at,
                    "first_response_at": f.first_response_at, "resolved_at": f.resolved_at, "reopens": f.reopens,
                    "transfers": f.transfers, "agent_replies": f.agent_replies, "notes": f.notes,
                    "bot_contained": f.bot_contained, "abandoned": f.abandoned,
                    "first_response_s": f.first_response_s, "first_response_bs": f.first_response_bs,
                    "handoff_wait_s": f.handoff_wait_s, "handoff_wait_bs": f.handoff_wait_bs,
                    "assignment_s": f.assignment_s, "assignment_bs": f.assignment_bs,
                    "resolution_s": f.resolution_s, "resolution_bs": f.resolution_bs,
                    "handling_s": f.handling_s, "handling_bs": f.handling_bs, "waiting_s": f.waiting_s,
                    "waiting_bs": f.waiting_bs, "computed_at": f.computed_at,
                });
                ((f.computed_at, f.case_id), row)
            })
            .map(keyed)
            .collect(),
        Table::Units => page!(conn, super::unit::entity, UpdatedAt, Id, since, until, after, limit)
            .into_iter()
            .map(|u| {
                let row = json!({
                    "id": u.id, "slug": u.slug, "name": u.name, "timezone": u.timezone,
                    "created_at": u.created_at, "updated_at": u.updated_at,
                });
                ((u.updated_at, u.id), row)
            })
            .map(keyed)
            .collect(),
    })
}
