//! Erasing a person (their erasure request) and the legal holds that
//! stop it. Erasure anonymises rather than deletes, so case statistics and
//! the audit trail stay: the contact loses its name, attributes and
//! identities; what the person wrote and their survey comments become
//! [`ERASED`]; what staff wrote and the subjects lose the person's name,
//! addresses and numbers; files their messages carry are removed (by the
//! caller, before [`finish`], so a killed run leaves nothing the next one
//! does not remove); an export not yet downloaded goes; the visitor token
//! of a web chat no longer reads the conversation; live events that quoted
//! it are dropped. It is idempotent: started once (a job), finished once.

use super::{Error, Result, Store, audit, contact, data_request, message, search_text};
use crate::domain::data_request::ExportStatus;
use crate::domain::privacy::{ERASED, erase_from};
use crate::domain::{Actor, AuthorKind, CaseId, ContactId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// What an erasure removes (or would, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub cases: u64,
    pub messages: u64,
    pub notes: u64,
    pub files: u64,
    pub identities: u64,
    pub merged_records: u64,
    pub survey_comments: u64,
    pub exports: u64,
}

/// Why the person's data must be kept, if anything holds it: their own
/// legal hold, or one on any of their cases.
pub async fn hold_of(conn: &impl ConnectionTrait, id: ContactId) -> Result<Option<String>> {
    let person = contact::entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("contact"))?;
    if let Some(reason) = person.legal_hold {
        return Ok(Some(reason));
    }
    let held = super::case::entity::Entity::find()
        .filter(super::case::entity::Column::ContactId.eq(id.0))
        .filter(super::case::entity::Column::LegalHold.is_not_null())
        .one(conn)
        .await?;
    Ok(held.and_then(|c| c.legal_hold.map(|r| format!("case #{}: {r}", c.number))))
}

/// The people whose data goes: the contact and the records merged into it.
pub(super) async fn people(conn: &impl ConnectionTrait, id: ContactId) -> Result<Vec<crate::domain::Contact>> {
    let mut people = vec![contact::get(conn, &contact::Visibility::All, id).await?];
    people.extend(contact::merged_into(conn, id).await?);
    Ok(people)
}

/// What erasing `id` would remove, and the kept files only their
/// messages (and unsent exports) name, which the caller removes.
pub async fn plan(conn: &impl ConnectionTrait, id: ContactId) -> Result<(Report, Vec<String>)> {
    let people = people(conn, id).await?;
    let cases = super::case::of_contact(conn, id).await?;
    let case_ids: Vec<uuid::Uuid> = cases.iter().map(|c| c.id.0).collect();
    let mut report = Report {
        cases: cases.len() as u64,
        identities: people.iter().map(|p| p.identities.len() as u64).sum(),
        merged_records: people.len() as u64 - 1,
        ..Default::default()
    };
    let mut files = vec![];
    for case in &cases {
        for m in message::of_case(conn, case.id).await? {
            report.messages += 1;
            for hash in m.attachments.iter().filter_map(|a| crate::domain::message::hash_of(&a.reference)) {
                if !files.iter().any(|f| f == hash) && !named_elsewhere(conn, hash, &case_ids).await? {
                    files.push(hash.to_owned());
                }
            }
        }
    }
    report.files = files.len() as u64;
    report.notes = message::note::Entity::find()
        .filter(message::note::Column::CaseId.is_in(case_ids.clone()))
        .all(conn)
        .await?
        .len() as u64;
    report.survey_comments = super::survey::entity::Entity::find()
        .filter(super::survey::entity::Column::ContactId.eq(id.0))
        .filter(super::survey::entity::Column::Comment.is_not_null())
        .all(conn)
        .await?
        .len() as u64;
    let filter = data_request::Filter { contact_id: Some(id), ..Default::default() };
    for request in data_request::list(conn, &None, &filter, 1000).await? {
        if let Some(hash) = request.export.and_then(|e| e.hash) {
            report.exports += 1;
            files.push(hash);
        }
    }
    Ok((report, files))
}

/// Whether a message of a case other than `cases` names the kept file.
async fn named_elsewhere(conn: &impl ConnectionTrait, hash: &str, cases: &[uuid::Uuid]) -> Result<bool> {
    let pattern = format!("%{}{hash}%", crate::domain::message::REFERENCE_PREFIX);
    let as_text = Func::cast_as(Expr::col(message::entity::Column::Attachments), Alias::new("TEXT"));
    let found = message::entity::Entity::find()
        .filter(Expr::expr(as_text).like(pattern))
        .filter(message::entity::Column::CaseId.is_not_in(cases.iter().copied()))
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// Starts erasing a person: refused while held; otherwise marked started
/// with the job that does it, in one transaction. Already erased (or
/// started): nothing new.
pub async fn start(store: &Store, actor: &Actor, id: ContactId) -> Result<Report> {
    let tx = store.begin().await?;
    let person = contact::entity::Entity::find_by_id(id.0).one(&*tx).await?.ok_or(Error::NotFound("contact"))?;
    if let Some(reason) = hold_of(&*tx, id).await? {
        return Err(Error::conflict("legal_hold", format!("the person's data is under legal hold ({reason})")));
    }
    let (report, _) = plan(&*tx, id).await?;
    if person.erased_at.is_some() || person.erasure_started_at.is_some() {
        return Ok(report);
    }
    let mut model: contact::entity::ActiveModel = person.into();
    model.erasure_started_at = Set(Some(super::now()));
    model.update(&*tx).await?;
    super::job::enqueue(
        &*tx,
        super::job::NewJob {
            kind: super::job::JobKind::PrivacyErase,
            payload: serde_json::json!({ "contact_id": id }),
            idempotency_key: Some(format!("erase:{id}")),
        },
    )
    .await?;
    record(&*tx, actor, "contact.erasure_started", id, serde_json::to_value(&report).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(report)
}

/// An audit entry about the erasure of a person.
async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    id: ContactId,
    details: serde_json::Value,
) -> Result<()> {
    let entry =
        audit::Entry { actor, action, target_kind: "contact", target_id: id.to_string(), unit_id: None, details };
    audit::record(conn, entry).await
}

/// Whether an erasure of `id` was started and has not finished.
pub async fn pending(conn: &impl ConnectionTrait, id: ContactId) -> Result<bool> {
    let person = contact::entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("contact"))?;
    Ok(person.erasure_started_at.is_some() && person.erased_at.is_none())
}

/// Anonymises everything of the person in one transaction, once the
/// files were removed. Re-run after it finished: nothing to do.
pub async fn finish(store: &Store, id: ContactId) -> Result<Report> {
    let tx = store.begin().await?;
    let conn = &*tx;
    let person = contact::entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("contact"))?;
    if person.erased_at.is_some() {
        return Ok(Report::default());
    }
    if let Some(reason) = hold_of(conn, id).await? {
        return Err(Error::conflict("legal_hold", format!("the person's data is under legal hold ({reason})")));
    }
    let (report, files) = plan(conn, id).await?;
    let people = people(conn, id).await?;
    let words = identifying_words(&people);
    let names: Vec<&str> = words.iter().map(String::as_str).collect();
    let cases = super::case::of_contact(conn, id).await?;
    let case_ids: Vec<uuid::Uuid> = cases.iter().map(|c| c.id.0).collect();
    for case in &cases {
        erase_case(conn, case.id, &names).await?;
    }
    super::survey::entity::Entity::update_many()
        .col_expr(super::survey::entity::Column::Comment, Expr::value(Option::<String>::None))
        .filter(super::survey::entity::Column::ContactId.eq(id.0))
        .exec(conn)
        .await?;
    for hash in &files {
        super::attachment::delete(conn, hash).await?;
    }
    super::attachment::upload::Entity::delete_many()
        .filter(super::attachment::upload::Column::CaseId.is_in(case_ids.clone()))
        .exec(conn)
        .await?;
    // Unsent exports go; requests keep their kind and dates, not the words.
    let filter = data_request::Filter { contact_id: Some(id), ..Default::default() };
    for request in data_request::list(conn, &None, &filter, 1000).await? {
        let mut model: data_request::entity::ActiveModel = data_request::entity::Entity::find_by_id(request.id)
            .one(conn)
            .await?
            .ok_or(Error::NotFound("data request"))?
            .into();
        model.details = Set(erase_from(&request.details, &names));
        if request.export.as_ref().is_some_and(|e| e.hash.is_some()) {
            model.export_hash = Set(None);
            model.export_status = Set(Some(ExportStatus::Failed.as_str().to_owned()));
            model.export_error = Set(Some("the person's data was erased".into()));
        }
        model.update(conn).await?;
    }
    let now = super::now();
    let started = person.erasure_started_at.unwrap_or(now);
    for p in &people {
        contact::identity::Entity::delete_many()
            .filter(contact::identity::Column::ContactId.eq(p.id.0))
            .exec(conn)
            .await?;
        contact::duplicate::Entity::delete_many()
            .filter(
                contact::duplicate::Column::ContactId.eq(p.id.0).or(contact::duplicate::Column::CandidateId.eq(p.id.0)),
            )
            .exec(conn)
            .await?;
        let mut model: contact::entity::ActiveModel =
            contact::entity::Entity::find_by_id(p.id.0).one(conn).await?.ok_or(Error::NotFound("contact"))?.into();
        model.name = Set(None);
        model.custom_attributes = Set(serde_json::json!({}));
        model.external_id = Set(None);
        model.erased_at = Set(Some(now));
        model.erasure_started_at = Set(Some(started));
        model.updated_at = Set(now);
        model.update(conn).await?;
    }
    // Live events kept for instances to read (SQLite) quote messages.
    for case in &case_ids {
        super::live::entity::Entity::delete_many()
            .filter(super::live::entity::Column::Payload.contains(case.to_string()))
            .exec(conn)
            .await?;
    }
    for case in &cases {
        let case = super::case::get(conn, None, case.id).await?;
        super::live::publish_in(conn, super::case::live_event("case.updated", &case, None)).await?;
    }
    record(conn, &Actor::System, "contact.erased", id, serde_json::to_value(&report).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(report)
}

/// What identifies the people being erased: every name and identity value.
pub(super) fn identifying_words(people: &[crate::domain::Contact]) -> Vec<String> {
    let mut words = vec![];
    for p in people {
        words.extend(p.name.clone());
        words.extend(p.identities.iter().map(|i| i.value.clone()));
    }
    words
}

/// One case: the person's messages become [`ERASED`], staff's messages
/// and notes lose the person's data, files are dropped from the messages,
/// survey comments and the subject go, and the web-chat visitor's token no
/// longer reads it.
pub(super) async fn erase_case(conn: &impl ConnectionTrait, id: CaseId, names: &[&str]) -> Result<()> {
    for m in message::of_case(conn, id).await? {
        let body = if m.author_kind == AuthorKind::Contact { ERASED.to_owned() } else { erase_from(&m.body, names) };
        let mut model: message::entity::ActiveModel =
            message::entity::Entity::find_by_id(m.id.0).one(conn).await?.ok_or(Error::NotFound("message"))?.into();
        model.search_text = Set(Some(search_text::fold(&body)));
        model.body = Set(body);
        model.attachments = Set(serde_json::json!([]));
        model.context = Set(None);
        model.selected_option = Set(None);
        model.update(conn).await?;
    }
    let mut model: super::case::entity::ActiveModel =
        super::case::entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("case"))?.into();
    model.subject = Set(ERASED.to_owned());
    model.search_text = Set(Some(search_text::fold(ERASED)));
    model.webchat_visitor = Set(None);
    // Changed: the warehouse export carries the anonymised case again.
    model.updated_at = Set(super::now());
    model.update(conn).await?;
    for note in message::note::Entity::find().filter(message::note::Column::CaseId.eq(id.0)).all(conn).await? {
        let body = erase_from(&note.body, names);
        let mut model: message::note::ActiveModel = note.into();
        model.body = Set(body);
        model.update(conn).await?;
    }
    super::survey::entity::Entity::update_many()
        .col_expr(super::survey::entity::Column::Comment, Expr::value(Option::<String>::None))
        .filter(super::survey::entity::Column::CaseId.eq(id.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Gives up an erasure a legal hold set since it started stops: the
/// person's data stays until someone asks again.
pub async fn cancel(store: &Store, id: ContactId, reason: &str) -> Result<()> {
    let tx = store.begin().await?;
    contact::entity::Entity::update_many()
        .col_expr(contact::entity::Column::ErasureStartedAt, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(contact::entity::Column::Id.eq(id.0))
        .filter(contact::entity::Column::ErasedAt.is_null())
        .exec(&*tx)
        .await?;
    record(&*tx, &Actor::System, "contact.erasure_stopped", id, serde_json::json!({ "reason": reason })).await?;
    tx.commit().await
}

/// Puts the person's data under legal hold (or lifts it with `None`).
pub async fn hold_contact(store: &Store, actor: &Actor, id: ContactId, reason: Option<String>) -> Result<()> {
    let tx = store.begin().await?;
    let person = contact::entity::Entity::find_by_id(id.0).one(&*tx).await?.ok_or(Error::NotFound("contact"))?;
    if person.erased_at.is_some() {
        return Err(Error::conflict("legal_hold", "the person's data was already erased"));
    }
    let mut model: contact::entity::ActiveModel = person.into();
    model.legal_hold = Set(reason.clone());
    model.update(&*tx).await?;
    record_hold(&*tx, actor, "contact", id.to_string(), reason).await?;
    tx.commit().await
}

/// Puts a case under legal hold (or lifts it with `None`).
pub async fn hold_case(store: &Store, actor: &Actor, id: CaseId, reason: Option<String>) -> Result<()> {
    let tx = store.begin().await?;
    let case = super::case::entity::Entity::find_by_id(id.0).one(&*tx).await?.ok_or(Error::NotFound("case"))?;
    let mut model: super::case::entity::ActiveModel = case.into();
    model.legal_hold = Set(reason.clone());
    model.update(&*tx).await?;
    record_hold(&*tx, actor, "case", id.to_string(), reason).await?;
    tx.commit().await
}

/// Why a case is held, if it is.
pub async fn case_hold(conn: &impl ConnectionTrait, id: CaseId) -> Result<Option<String>> {
    let case = super::case::entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("case"))?;
    Ok(case.legal_hold)
}

async fn record_hold(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    kind: &str,
    id: String,
    reason: Option<String>,
) -> Result<()> {
    let action = if reason.is_some() { "legal_hold.set" } else { "legal_hold.lifted" };
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: kind,
            target_id: id,
            unit_id: None,
            details: serde_json::json!({ "reason": reason }),
        },
    )
    .await
}
