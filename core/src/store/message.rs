//! Messages and internal notes on a case.

use super::{Result, Store, audit, case::Scope, job, pagination::Page, stored};
use crate::domain::{
    Actor, AuthorKind, Case, CaseId, CaseStatus, DeliveryStatus, Direction, Message, MessageId, Note, NoteId, UserId,
    message::{Attachment, NewMessage},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub case_id: Uuid,
        pub direction: String,
        pub author_kind: String,
        pub author_user_id: Option<Uuid>,
        pub body: String,
        pub attachments: Json,
        pub provider_message_id: Option<String>,
        pub delivery_status: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub case_id: Uuid,
        pub author_user_id: Option<Uuid>,
        pub body: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn to_message(m: entity::Model) -> Result<Message> {
    Ok(Message {
        id: MessageId(m.id),
        case_id: CaseId(m.case_id),
        direction: stored(Direction::parse("direction", &m.direction))?,
        author_kind: stored(AuthorKind::parse("author_kind", &m.author_kind))?,
        author_user_id: m.author_user_id.map(UserId),
        body: m.body,
        attachments: serde_json::from_value::<Vec<Attachment>>(m.attachments).unwrap_or_default(),
        provider_message_id: m.provider_message_id,
        delivery_status: stored(DeliveryStatus::parse("delivery_status", &m.delivery_status))?,
        created_at: m.created_at,
    })
}

fn to_note(m: note::Model) -> Note {
    Note {
        id: NoteId(m.id),
        case_id: CaseId(m.case_id),
        author_user_id: m.author_user_id.map(UserId),
        body: m.body,
        created_at: m.created_at,
    }
}

/// Adds a message to a case the caller may see, in one transaction.
pub async fn add(store: &Store, actor: &Actor, scope: Scope<'_>, case_id: CaseId, new: NewMessage) -> Result<Message> {
    let tx = store.begin().await?;
    let mut case = super::case::get(&*tx, scope, case_id).await?;
    let message = add_in(&*tx, actor, &mut case, new).await?;
    tx.commit().await?;
    Ok(message)
}

/// Adds a message inside the caller's transaction and updates the case:
/// the first agent reply sets `first_response_at`; a contact answering a
/// case that waits on them hands it back to its agent. An outbound message
/// leaves a delivery job in the same transaction (transactional outbox).
pub async fn add_in(conn: &impl ConnectionTrait, actor: &Actor, case: &mut Case, new: NewMessage) -> Result<Message> {
    let now = super::now();
    let direction = new.author_kind.direction();
    let delivery_status = match direction {
        Direction::Inbound => DeliveryStatus::Received,
        Direction::Outbound => DeliveryStatus::Pending,
    };
    let model = entity::ActiveModel {
        id: Set(MessageId::new().0),
        case_id: Set(case.id.0),
        direction: Set(direction.as_str().to_owned()),
        author_kind: Set(new.author_kind.as_str().to_owned()),
        author_user_id: Set(new.author_user_id.map(|u| u.0)),
        body: Set(new.body),
        attachments: Set(serde_json::to_value(&new.attachments).unwrap_or_default()),
        provider_message_id: Set(new.provider_message_id),
        delivery_status: Set(delivery_status.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    let message = to_message(model)?;
    if new.author_kind == AuthorKind::Agent && case.first_response_at.is_none() {
        case.first_response_at = Some(now);
    }
    if new.author_kind == AuthorKind::Contact && case.status == CaseStatus::WaitingOnContact {
        case.transition(CaseStatus::Assigned, None, now)?;
    }
    case.updated_at = now;
    super::case::save_in(conn, case).await?;
    if direction == Direction::Outbound {
        job::enqueue(
            conn,
            job::NewJob {
                kind: "message.deliver",
                payload: serde_json::json!({ "message_id": message.id, "case_id": case.id, "channel": case.channel.as_str() }),
                idempotency_key: Some(format!("deliver:{}", message.id)),
            },
        )
        .await?;
    }
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: "message.created",
            target_kind: "case",
            target_id: case.id.to_string(),
            unit_id: Some(case.unit_id),
            details: serde_json::json!({ "message_id": message.id, "author_kind": message.author_kind.as_str() }),
        },
    )
    .await?;
    Ok(message)
}

/// Messages of a visible case, oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    case_id: CaseId,
    page: &Page,
) -> Result<(Vec<Message>, Option<String>)> {
    use entity::Column;
    super::case::get(conn, scope, case_id).await?;
    let query = entity::Entity::find().filter(Column::CaseId.eq(case_id.0));
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::CreatedAt, Column::Id),
        super::pagination::Order::Ascending,
        page,
        |r| (r.created_at, r.id),
    )
    .await?;
    Ok((rows.into_iter().map(to_message).collect::<Result<_>>()?, next))
}

pub async fn add_note(
    store: &Store,
    actor: &Actor,
    scope: Scope<'_>,
    case_id: CaseId,
    author: Option<UserId>,
    body: String,
) -> Result<Note> {
    let tx = store.begin().await?;
    let case = super::case::get(&*tx, scope, case_id).await?;
    let model = note::ActiveModel {
        id: Set(NoteId::new().0),
        case_id: Set(case_id.0),
        author_user_id: Set(author.map(|u| u.0)),
        body: Set(body),
        created_at: Set(super::now()),
    }
    .insert(&*tx)
    .await?;
    let note = to_note(model);
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "note.created",
            target_kind: "case",
            target_id: case_id.to_string(),
            unit_id: Some(case.unit_id),
            details: serde_json::json!({ "note_id": note.id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(note)
}

pub async fn list_notes(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    case_id: CaseId,
    page: &Page,
) -> Result<(Vec<Note>, Option<String>)> {
    use note::Column;
    super::case::get(conn, scope, case_id).await?;
    let query = note::Entity::find().filter(Column::CaseId.eq(case_id.0));
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::CreatedAt, Column::Id),
        super::pagination::Order::Ascending,
        page,
        |r| (r.created_at, r.id),
    )
    .await?;
    Ok((rows.into_iter().map(to_note).collect(), next))
}
