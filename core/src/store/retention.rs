//! Retention: each unit's policy (per channel) anonymises cases resolved
//! or closed long enough ago and removes files sent long enough ago, except
//! what a legal hold keeps (on the case or on its person). A dry run says
//! what a run would do; a run says what it did.

use super::{Result, Store, audit, erasure, message};
use crate::domain::privacy::ERASED;
use crate::domain::{Actor, CaseId, CaseStatus, Channel, ContactId};
use chrono::{DateTime, Months, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// What a retention run did (or would do) in one unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnitReport {
    pub unit_id: uuid::Uuid,
    pub unit: String,
    /// Cases whose people's data was anonymised.
    pub cases_anonymised: u64,
    /// Kept files removed from messages.
    pub files_removed: u64,
    /// Cases left alone because a legal hold keeps them.
    pub held: u64,
}

/// What is due: cases to anonymise and, per message, the files to remove.
#[derive(Debug, Default)]
pub struct Due {
    pub reports: Vec<UnitReport>,
    pub cases: Vec<(CaseId, ContactId)>,
    /// Messages whose kept files go, with those files' hashes.
    pub files: Vec<(uuid::Uuid, Vec<String>)>,
}

fn months_before(now: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(months)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// What every unit's policy makes due at `now`.
pub async fn due(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Due> {
    use super::case::entity as case;
    let mut due = Due::default();
    for unit in super::unit::list(conn).await? {
        let mut report = UnitReport { unit_id: unit.id.0, unit: unit.name.clone(), ..Default::default() };
        for channel in Channel::ALL {
            let rule = unit.privacy.retention_on(channel);
            if rule.anonymise_after_months.is_none() && rule.files_after_months.is_none() {
                continue;
            }
            let cases = case::Entity::find()
                .filter(case::Column::UnitId.eq(unit.id.0))
                .filter(case::Column::Channel.eq(channel.as_str()))
                .filter(case::Column::AnonymisedAt.is_null())
                .all(conn)
                .await?;
            for row in cases {
                let held =
                    row.legal_hold.is_some() || erasure::hold_of(conn, ContactId(row.contact_id)).await?.is_some();
                let ended = [CaseStatus::Resolved.as_str(), CaseStatus::Closed.as_str()].contains(&row.status.as_str());
                let ended_at = row.closed_at.or(row.resolved_at);
                let anonymise = rule
                    .anonymise_after_months
                    .is_some_and(|m| ended && ended_at.is_some_and(|at| at < months_before(now, m)));
                let old_files = match rule.files_after_months {
                    Some(m) => files_before(conn, CaseId(row.id), months_before(now, m)).await?,
                    None => vec![],
                };
                if !anonymise && old_files.is_empty() {
                    continue;
                }
                if held {
                    report.held += 1;
                    continue;
                }
                if anonymise {
                    report.cases_anonymised += 1;
                    due.cases.push((CaseId(row.id), ContactId(row.contact_id)));
                    // Anonymising takes every file of the case too.
                    let all = files_before(conn, CaseId(row.id), now + chrono::Duration::days(1)).await?;
                    report.files_removed += all.iter().map(|(_, f)| f.len() as u64).sum::<u64>();
                    due.files.extend(all);
                } else {
                    report.files_removed += old_files.iter().map(|(_, f)| f.len() as u64).sum::<u64>();
                    due.files.extend(old_files);
                }
            }
        }
        due.reports.push(report);
    }
    Ok(due)
}

/// The case's messages written before `before` that carry kept files.
async fn files_before(
    conn: &impl ConnectionTrait,
    case: CaseId,
    before: DateTime<Utc>,
) -> Result<Vec<(uuid::Uuid, Vec<String>)>> {
    let messages = message::entity::Entity::find()
        .filter(message::entity::Column::CaseId.eq(case.0))
        .filter(message::entity::Column::CreatedAt.lt(before))
        .all(conn)
        .await?;
    let mut out = vec![];
    for m in messages {
        let attachments: Vec<crate::domain::message::Attachment> =
            serde_json::from_value(m.attachments.clone()).unwrap_or_default();
        let hashes: Vec<String> = attachments
            .iter()
            .filter_map(|a| crate::domain::message::hash_of(&a.reference).map(str::to_owned))
            .collect();
        if !hashes.is_empty() {
            out.push((m.id, hashes));
        }
    }
    Ok(out)
}

/// The files of what is due that no other message carries: the ones to
/// remove from the file store.
pub async fn removable(conn: &impl ConnectionTrait, due: &Due) -> Result<Vec<String>> {
    use sea_orm::sea_query::{Alias, ExprTrait, Func};
    let ids: Vec<uuid::Uuid> = due.files.iter().map(|(id, _)| *id).collect();
    let mut out: Vec<String> = vec![];
    for hash in due.files.iter().flat_map(|(_, hashes)| hashes) {
        if out.contains(hash) {
            continue;
        }
        let pattern = format!("%{}{hash}%", crate::domain::message::REFERENCE_PREFIX);
        let as_text = Func::cast_as(Expr::col(message::entity::Column::Attachments), Alias::new("TEXT"));
        let elsewhere = message::entity::Entity::find()
            .filter(Expr::expr(as_text).like(pattern))
            .filter(message::entity::Column::Id.is_not_in(ids.iter().copied()))
            .one(conn)
            .await?;
        if elsewhere.is_none() {
            out.push(hash.clone());
        }
    }
    Ok(out)
}

/// Applies what is due, once the files left the file store: in one
/// transaction, the messages lose the files, the cases are anonymised.
/// Run twice, the second finds nothing due.
pub async fn apply(store: &Store, due: &Due) -> Result<()> {
    let tx = store.begin().await?;
    let conn = &*tx;
    let now = super::now();
    for (message_id, hashes) in &due.files {
        let Some(row) = message::entity::Entity::find_by_id(*message_id).one(conn).await? else { continue };
        let attachments: Vec<crate::domain::message::Attachment> =
            serde_json::from_value(row.attachments.clone()).unwrap_or_default();
        let kept: Vec<_> = attachments
            .into_iter()
            .map(|mut a| {
                if crate::domain::message::hash_of(&a.reference).is_some_and(|h| hashes.iter().any(|x| x == h)) {
                    a.reference = String::new();
                    a.error = Some("removed by the retention policy".into());
                }
                a
            })
            .collect();
        let mut model: message::entity::ActiveModel = row.into();
        model.attachments = Set(serde_json::to_value(&kept).unwrap_or_default());
        model.update(conn).await?;
        for hash in hashes {
            if !message::refers_to_file(conn, hash).await? {
                super::attachment::delete(conn, hash).await?;
            }
        }
    }
    for (case, contact) in &due.cases {
        let words = erasure::identifying_words(&erasure::people(conn, *contact).await?);
        let names: Vec<&str> = words.iter().map(String::as_str).collect();
        erasure::erase_case(conn, *case, &names).await?;
        super::case::entity::Entity::update_many()
            .col_expr(super::case::entity::Column::AnonymisedAt, Expr::value(now))
            .filter(super::case::entity::Column::Id.eq(case.0))
            .exec(conn)
            .await?;
    }
    let reports: Vec<&UnitReport> =
        due.reports.iter().filter(|r| r.cases_anonymised + r.files_removed + r.held > 0).collect();
    audit::record(
        conn,
        audit::Entry {
            actor: &Actor::System,
            action: "retention.applied",
            target_kind: "retention",
            target_id: now.to_rfc3339(),
            unit_id: None,
            details: serde_json::json!({ "units": reports, "marker": ERASED }),
        },
    )
    .await?;
    tx.commit().await
}
