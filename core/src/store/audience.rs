//! Audiences: contacts brought in from the institution's own systems by
//! external id, one at a time (the upsert API) or a file at a time, with
//! the consent each person gave and where it came from.

use super::contact::{self, consent, entity, identity};
use super::{Error, Result, Store, audit};
use crate::domain::{
    self, Actor, Channel, ConsentAction, ContactId,
    audience::{ContactUpsert, consent_changes},
    contact::NewContact,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

/// What an upsert did with one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted {
    pub contact: ContactId,
    pub created: bool,
    /// Whether anything of theirs changed (name, identities, attributes, consent).
    pub changed: bool,
    /// Per answer given, in order: what became of it.
    pub consents: Vec<(String, ConsentOutcome)>,
}

/// What became of an answer to consent given with an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentOutcome {
    Recorded,
    /// The same answer already stands.
    AlreadySo,
    /// The person answered otherwise after this answer was given; theirs stands.
    LaterAnswerStands,
}

impl ConsentOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentOutcome::Recorded => "recorded",
            ConsentOutcome::AlreadySo => "already_so",
            ConsentOutcome::LaterAnswerStands => "later_answer_stands",
        }
    }
}

/// The contact with this external id, following a merge to the person it
/// was merged into.
pub async fn find(conn: &impl ConnectionTrait, external_id: &str) -> Result<Option<ContactId>> {
    let found = entity::Entity::find().filter(entity::Column::ExternalId.eq(external_id)).one(conn).await?;
    Ok(found.map(|m| ContactId(m.merged_into.unwrap_or(m.id))))
}

/// Creates or brings up to date the person with `row.external_id` inside
/// the caller's transaction. Found by external id, else by the one contact
/// without an external id that already holds one of the row's identities
/// (someone who wrote in before the import), else created. An identity
/// held by another person is a conflict on that channel's field: imports
/// never move a number or an address from one person to another.
pub async fn upsert_in(conn: &impl ConnectionTrait, actor: &Actor, row: &ContactUpsert) -> Result<Upserted> {
    let mut holders = Vec::with_capacity(row.identities.len());
    for (channel, value) in &row.identities {
        holders.push(holders_of(conn, *channel, value).await?);
    }
    let existing = match find(conn, &row.external_id).await? {
        Some(id) => Some(id),
        None => adoptable(conn, row, &holders).await?,
    };
    let Some(id) = existing else {
        let new = NewContact {
            name: row.name.clone(),
            external_id: Some(row.external_id.clone()),
            identities: row.identities.clone(),
            custom_attributes: row.attributes.clone(),
        };
        // Two requests creating the same person at once: one wins, the other is told.
        let id = contact::create_in(conn, actor, new)
            .await
            .map_err(|e| match e {
                Error::Db(db) => {
                    Error::unique(db, "external_id", "this person was just created by another request; send it again")
                }
                other => other,
            })?
            .id;
        let consents = record_consents(conn, actor, id, row).await?;
        return Ok(Upserted { contact: id, created: true, changed: true, consents });
    };
    let model = entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("contact"))?;
    if model.erased_at.is_some() {
        return Err(Error::conflict("external_id", "this person's data was erased; they are not brought back"));
    }
    let mut changed = false;
    for ((channel, value), holders) in row.identities.iter().zip(&holders) {
        if let Some(other) = holders.iter().find(|(holder, _)| *holder != id) {
            return Err(Error::conflict(channel.as_str(), held_by(conn, other.0, value).await?));
        }
        if !holders.iter().any(|(_, on)| on == channel) {
            contact::insert_identity(conn, id, *channel, value, channel.as_str()).await?;
            changed = true;
        }
    }
    let mut attributes = super::json_map(model.custom_attributes.clone());
    let before = attributes.clone();
    attributes.extend(row.attributes.clone());
    let renamed = row.name.is_some() && row.name != model.name;
    let adopted = model.external_id.is_none();
    if renamed || adopted || attributes != before {
        let mut active: entity::ActiveModel = model.into();
        if renamed {
            active.name = Set(row.name.clone());
        }
        active.external_id = Set(Some(row.external_id.clone()));
        active.custom_attributes = Set(serde_json::Value::Object(attributes));
        active.updated_at = Set(super::now());
        active.update(conn).await?;
        changed = true;
    }
    if changed {
        audit::record(
            conn,
            audit::Entry {
                actor,
                action: "contact.updated",
                target_kind: "contact",
                target_id: id.to_string(),
                unit_id: None,
                details: serde_json::json!({ "external_id": row.external_id, "adopted": adopted }),
            },
        )
        .await?;
    }
    let consents = record_consents(conn, actor, id, row).await?;
    changed |= consents.iter().any(|(_, o)| *o == ConsentOutcome::Recorded);
    Ok(Upserted { contact: id, created: false, changed, consents })
}

/// [`upsert_in`] in a transaction of its own.
pub async fn upsert(store: &Store, actor: &Actor, row: &ContactUpsert) -> Result<Upserted> {
    let tx = store.begin().await?;
    let upserted = upsert_in(&*tx, actor, row).await?;
    tx.commit().await?;
    Ok(upserted)
}

/// Who holds an identity: on its channel, and for phone numbers and e-mail
/// addresses on the channels that share them (one number is one person on
/// WhatsApp, SMS and the phone).
async fn holders_of(conn: &impl ConnectionTrait, channel: Channel, value: &str) -> Result<Vec<(ContactId, Channel)>> {
    let mut channels = contact::same_kind(channel);
    channels.push(channel);
    identity::Entity::find()
        .filter(identity::Column::Channel.is_in(channels.iter().map(|c| c.as_str())))
        .filter(identity::Column::Value.eq(value))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| Ok((ContactId(r.contact_id), super::stored(Channel::parse("channel", &r.channel))?)))
        .collect()
}

/// A person without an external id who already holds the row's identities
/// (they wrote in before their institution's file arrived): the row is them.
async fn adoptable(
    conn: &impl ConnectionTrait,
    row: &ContactUpsert,
    holders: &[Vec<(ContactId, Channel)>],
) -> Result<Option<ContactId>> {
    let mut people: Vec<ContactId> = holders.iter().flatten().map(|(id, _)| *id).collect();
    people.sort_by_key(|id| id.0);
    people.dedup();
    match people.as_slice() {
        [] => Ok(None),
        [one] => {
            let model = entity::Entity::find_by_id(one.0).one(conn).await?.ok_or(Error::NotFound("contact"))?;
            match model.external_id {
                None => Ok(Some(*one)),
                Some(_) => {
                    let (channel, value) = first_held(row, holders, *one);
                    Err(Error::conflict(channel.as_str(), held_by(conn, *one, value).await?))
                }
            }
        }
        [first, ..] => Err(Error::conflict(
            first_held(row, holders, *first).0.as_str(),
            "the row's numbers and addresses belong to different people; merge them first or correct the row",
        )),
    }
}

/// The first of the row's identities that `who` holds.
fn first_held<'a>(row: &'a ContactUpsert, holders: &[Vec<(ContactId, Channel)>], who: ContactId) -> (Channel, &'a str) {
    row.identities
        .iter()
        .zip(holders)
        .find(|(_, h)| h.iter().any(|(id, _)| *id == who))
        .or_else(|| row.identities.iter().zip(holders).next())
        .map_or((Channel::Api, ""), |((channel, value), _)| (*channel, value.as_str()))
}

/// Says who holds `value`, by external id when there is one (never by name).
async fn held_by(conn: &impl ConnectionTrait, holder: ContactId, value: &str) -> Result<String> {
    let external = entity::Entity::find_by_id(holder.0).one(conn).await?.and_then(|m| m.external_id);
    Ok(match external {
        Some(other) => format!("{value} belongs to the person with external id {other}"),
        None => format!("{value} belongs to another person (contact {holder})"),
    })
}

/// Records the row's answers that change what stands (see
/// [`consent_changes`]); each one recorded is audited and announced like
/// any consent answer.
async fn record_consents(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: ContactId,
    row: &ContactUpsert,
) -> Result<Vec<(String, ConsentOutcome)>> {
    let mut outcomes = vec![];
    for answer in &row.consents {
        let latest = consent::Entity::find()
            .filter(consent::Column::ContactId.eq(id.0))
            .filter(consent::Column::Purpose.eq(&answer.purpose))
            .order_by_desc(consent::Column::RecordedAt)
            .order_by_desc(consent::Column::Id)
            .one(conn)
            .await?;
        let standing = match &latest {
            Some(r) => {
                Some((super::stored(ConsentAction::parse("action", &r.action))?, r.given_at.unwrap_or(r.recorded_at)))
            }
            None => None,
        };
        let given_at = answer.given_at.unwrap_or_else(super::now);
        let outcome = if consent_changes(standing, answer.action, given_at) {
            contact::add_consent_in(conn, actor, id, answer.clone()).await?;
            ConsentOutcome::Recorded
        } else if standing.is_some_and(|(action, _)| action == answer.action) {
            ConsentOutcome::AlreadySo
        } else {
            ConsentOutcome::LaterAnswerStands
        };
        outcomes.push((answer.purpose.clone(), outcome));
    }
    Ok(outcomes)
}

/// One row of a file that could not be imported, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub detail: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub consents_recorded: u64,
    /// Answers not recorded because the same one stands or the person's later one does.
    pub consents_kept: u64,
    pub errors: Vec<RowError>,
    /// Errors beyond the ones listed.
    pub errors_left_out: u64,
}

/// The most row errors an import lists; the rest are counted.
pub const MAX_LISTED_ERRORS: usize = 1000;
/// Rows per transaction: a file of any size holds the write lock a few
/// milliseconds at a time and keeps nothing but the current batch.
const BATCH: usize = 500;

/// Imports rows (a line number, the row or why it could not be read), each
/// in a savepoint so a bad row is reported and the others land. A dry run
/// does all the work and rolls it back, so what it reports is what an
/// import would do, conflicts included.
pub async fn import(
    store: &Store,
    actor: &Actor,
    rows: impl Iterator<Item = (u64, std::result::Result<ContactUpsert, Vec<domain::Error>>)>,
    dry_run: bool,
    reference: Option<&str>,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let tx = store.begin().await?;
        for (line, row) in rows.by_ref().take(BATCH) {
            report.rows += 1;
            let row = match row {
                Ok(row) => row,
                Err(errors) => {
                    for e in errors {
                        let (field, detail) = match e {
                            domain::Error::Invalid { field, message } => (field, message),
                            other => (String::new(), other.to_string()),
                        };
                        note(&mut report, RowError { line, field, detail });
                    }
                    continue;
                }
            };
            let savepoint = tx.begin().await?;
            match upsert_in(&savepoint, actor, &row).await {
                Ok(done) => {
                    savepoint.commit().await?;
                    match (done.created, done.changed) {
                        (true, _) => report.created += 1,
                        (false, true) => report.updated += 1,
                        (false, false) => report.unchanged += 1,
                    }
                    for (_, outcome) in &done.consents {
                        match outcome {
                            ConsentOutcome::Recorded => report.consents_recorded += 1,
                            _ => report.consents_kept += 1,
                        }
                    }
                }
                Err(Error::Conflict { field, message }) => {
                    savepoint.rollback().await?;
                    note(&mut report, RowError { line, field, detail: message });
                }
                Err(Error::Domain(domain::Error::Invalid { field, message })) => {
                    savepoint.rollback().await?;
                    note(&mut report, RowError { line, field, detail: message });
                }
                Err(other) => return Err(other),
            }
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
    }
    if !dry_run {
        let tx = store.begin().await?;
        audit::record(
            &*tx,
            audit::Entry {
                actor,
                action: "contacts.imported",
                target_kind: "contact",
                target_id: String::new(),
                unit_id: None,
                details: serde_json::json!({
                    "reference": reference,
                    "rows": report.rows, "created": report.created, "updated": report.updated,
                    "unchanged": report.unchanged, "errors": report.errors.len() as u64 + report.errors_left_out,
                    "consents_recorded": report.consents_recorded,
                }),
            },
        )
        .await?;
        tx.commit().await?;
    }
    Ok(report)
}

fn note(report: &mut ImportReport, error: RowError) {
    if report.errors.len() < MAX_LISTED_ERRORS {
        report.errors.push(error);
    } else {
        report.errors_left_out += 1;
    }
}
