//! Everything held about one person, for their access request: the contact
//! record (and the records merged into it), identities, consent history,
//! cases with their messages and files, satisfaction answers, bot
//! conversations and their data-subject requests. Staff's internal notes
//! are working notes about the case, not the person's data, and stay out.
//! Only rows tied to this contact are read, so nobody else's data can
//! slip in.

use super::contact::Visibility;
use super::{Result, bot_outcome, contact, survey};
use crate::domain::{Case, ContactId, Message, UnitId, message::hash_of};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A kept file one of the person's messages carries.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub hash: String,
    pub name: String,
    pub content_type: String,
    pub size_bytes: u64,
}

/// The person's data as one JSON document, and the files it names.
#[derive(Debug, Clone)]
pub struct PersonData {
    pub document: Value,
    pub files: Vec<FileRef>,
}

fn time(at: chrono::DateTime<chrono::Utc>) -> Value {
    json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn message_json(m: &Message, files: &mut Vec<FileRef>) -> Value {
    let attachments: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| {
            let kept = hash_of(&a.reference).map(|hash| {
                let file = FileRef {
                    hash: hash.to_owned(),
                    name: a.file_name.clone(),
                    content_type: a.content_type.clone(),
                    size_bytes: a.size_bytes,
                };
                let path = export_path(&file);
                if !files.iter().any(|f| f.hash == file.hash) {
                    files.push(file);
                }
                path
            });
            json!({ "name": a.file_name, "content_type": a.content_type, "size_bytes": a.size_bytes, "file": kept })
        })
        .collect();
    json!({
        "id": m.id.0,
        "direction": m.direction.as_str(),
        "author": m.author_kind.as_str(),
        "body": m.body,
        "selected_option": m.selected_option,
        "attachments": attachments,
        "created_at": time(m.created_at),
    })
}

/// Where a file goes inside the export.
pub fn export_path(file: &FileRef) -> String {
    let safe: String = file
        .name
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(80)
        .collect();
    format!("archivos/{}-{safe}", &file.hash[..12.min(file.hash.len())])
}

async fn unit_name(conn: &impl ConnectionTrait, cache: &mut HashMap<UnitId, String>, id: UnitId) -> Result<String> {
    if let Some(name) = cache.get(&id) {
        return Ok(name.clone());
    }
    let name = super::unit::get(conn, id).await.map(|u| u.name).unwrap_or_default();
    cache.insert(id, name.clone());
    Ok(name)
}

async fn case_json(
    conn: &impl ConnectionTrait,
    case: &Case,
    units: &mut HashMap<UnitId, String>,
    files: &mut Vec<FileRef>,
) -> Result<Value> {
    let messages = super::message::of_case(conn, case.id).await?;
    Ok(json!({
        "id": case.id.0,
        "number": case.number,
        "subject": case.subject,
        "channel": case.channel.as_str(),
        "unit": unit_name(conn, units, case.unit_id).await?,
        "status": case.status.as_str(),
        "tags": case.tags,
        "custom_fields": case.custom_fields,
        "created_at": time(case.created_at),
        "resolved_at": case.resolved_at.map(time),
        "closed_at": case.closed_at.map(time),
        "messages": messages.iter().map(|m| message_json(m, files)).collect::<Vec<_>>(),
    }))
}

/// Reads everything held about `id`.
pub async fn gather(conn: &impl ConnectionTrait, id: ContactId) -> Result<PersonData> {
    let person = contact::get(conn, &Visibility::All, id).await?;
    let merged = contact::merged_into(conn, id).await?;
    let consents = contact::consents(conn, &Visibility::All, id).await?;
    let cases = super::case::of_contact(conn, id).await?;
    let mut units = HashMap::new();
    let mut files = vec![];
    let mut case_docs = Vec::with_capacity(cases.len());
    for case in &cases {
        case_docs.push(case_json(conn, case, &mut units, &mut files).await?);
    }
    let surveys = survey::entity::Entity::find()
        .filter(survey::entity::Column::ContactId.eq(id.0))
        .order_by_asc(survey::entity::Column::SentAt)
        .all(conn)
        .await?;
    let case_ids: Vec<uuid::Uuid> = cases.iter().map(|c| c.id.0).collect();
    let bots = bot_outcome::entity::Entity::find()
        .filter(bot_outcome::entity::Column::CaseId.is_in(case_ids))
        .order_by_asc(bot_outcome::entity::Column::CreatedAt)
        .all(conn)
        .await?;
    let filter = super::data_request::Filter { contact_id: Some(id), ..Default::default() };
    let requests = super::data_request::list(conn, &None, &filter, 1000).await?;
    let identities = |c: &crate::domain::Contact| -> Vec<Value> {
        c.identities.iter().map(|i| json!({ "channel": i.channel.as_str(), "value": i.value })).collect()
    };
    let document = json!({
        "contact": {
            "id": person.id.0,
            "name": person.name,
            "external_id": person.external_id,
            "identities": identities(&person),
            "custom_attributes": person.custom_attributes,
            "created_at": time(person.created_at),
            "updated_at": time(person.updated_at),
        },
        "merged_records": merged.iter().map(|c| json!({
            "id": c.id.0, "name": c.name, "created_at": time(c.created_at),
        })).collect::<Vec<_>>(),
        "consents": consents.iter().map(|r| json!({
            "purpose": r.purpose,
            "action": r.action.as_str(),
            "text_version": r.text_version,
            "channel": r.channel.as_str(),
            "source": r.source,
            "given_at": r.given_at.map(time),
            "recorded_at": time(r.recorded_at),
        })).collect::<Vec<_>>(),
        "cases": case_docs,
        "surveys": surveys.iter().map(|s| json!({
            "case_id": s.case_id,
            "channel": s.channel,
            "status": s.status,
            "score": s.score,
            "comment": s.comment,
            "sent_at": time(s.sent_at),
            "answered_at": s.answered_at.map(time),
        })).collect::<Vec<_>>(),
        "bot_conversations": bots.iter().map(|b| json!({
            "case_id": b.case_id,
            "channel": b.channel,
            "outcome": b.outcome,
            "created_at": time(b.created_at),
        })).collect::<Vec<_>>(),
        "requests": requests.iter().map(|r| json!({
            "id": r.id,
            "kind": r.kind.as_str(),
            "status": r.status.as_str(),
            "details": r.details,
            "received_at": time(r.received_at),
            "due_at": time(r.due_at),
            "resolution": r.resolution,
        })).collect::<Vec<_>>(),
    });
    Ok(PersonData { document, files })
}
