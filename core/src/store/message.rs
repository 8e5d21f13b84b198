//! Messages and internal notes on a case.

use super::{Result, Store, audit, case::Scope, job, pagination::Page, stored};
use crate::domain::{
    Actor, AuthorKind, Case, CaseId, CaseStatus, Channel, DeliveryStatus, Direction, Message, MessageId, Note, NoteId,
    UserId, consent,
    message::{Attachment, NewMessage},
};
use chrono::{DateTime, Utc};
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
        pub channel_install_id: Option<Uuid>,
        pub options: Json,
        pub delivery_error: Option<String>,
        pub selected_option: Option<String>,
        pub template: Option<Json>,
        pub context: Option<Json>,
        /// The body folded for search (see `store::search_text`).
        pub search_text: Option<String>,
        pub delivery_attempts: i32,
        pub next_attempt_at: Option<DateTimeUtc>,
        pub waiting_for: Option<Uuid>,
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
        delivery_error: m.delivery_error,
        delivery_attempts: m.delivery_attempts,
        next_attempt_at: m.next_attempt_at,
        waiting_for: m.waiting_for.map(MessageId),
        options: serde_json::from_value(m.options).unwrap_or_default(),
        selected_option: m.selected_option,
        channel_install_id: m.channel_install_id,
        template: m.template.and_then(|t| serde_json::from_value(t).ok()),
        context: m.context.and_then(|c| serde_json::from_value(c).ok()),
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

/// Whether any message names the kept file `hash` among its attachments.
pub async fn refers_to_file(conn: &impl ConnectionTrait, hash: &str) -> Result<bool> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
    let pattern = format!("%{}{hash}%", crate::domain::message::REFERENCE_PREFIX);
    let as_text = Func::cast_as(Expr::col(entity::Column::Attachments), Alias::new("TEXT"));
    let found = entity::Entity::find().filter(Expr::expr(as_text).like(pattern)).one(conn).await?;
    Ok(found.is_some())
}

/// Replaces a message's attachments (a file downloaded, or given up on).
pub async fn set_attachments_in(conn: &impl ConnectionTrait, id: MessageId, attachments: &[Attachment]) -> Result<()> {
    let Some(row) = entity::Entity::find_by_id(id.0).one(conn).await? else {
        return Err(super::Error::NotFound("message"));
    };
    let mut active: entity::ActiveModel = row.into();
    active.attachments = Set(serde_json::to_value(attachments).unwrap_or_default());
    let row = active.update(conn).await?;
    publish_updated(conn, &row).await
}

/// Tells the consoles showing the case that one of its messages changed:
/// a file downloaded (or given up on), a delivery report.
async fn publish_updated(conn: &impl ConnectionTrait, row: &entity::Model) -> Result<()> {
    let case = match super::case::get(conn, None, CaseId(row.case_id)).await {
        Ok(case) => case,
        Err(super::Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let data = serde_json::json!({
        "message_id": row.id,
        "number": case.number,
        "delivery_status": row.delivery_status,
        "files": row.attachments.as_array().map_or(0, Vec::len),
    });
    let mut event = super::live::LiveEvent::new("message.updated", vec![case.unit_id.0], Some(case.id.0), data);
    event.users.extend(case.assignee_id.map(|u| u.0));
    super::live::publish_in(conn, event).await
}

/// Adds a message inside the caller's transaction and updates the case:
/// the first agent reply sets `first_response_at`; a contact answering a
/// case that waits on them hands it back to its agent. An outbound message
/// leaves a delivery job in the same transaction (transactional outbox).
/// A person's answer to the survey of a resolved case is recorded as such
/// and does not reopen it. What a person who declined the processing of
/// their data writes is stored without the personal data in it.
pub async fn add_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    case: &mut Case,
    mut new: NewMessage,
) -> Result<Message> {
    // A person who declined the processing of their data: what they write
    // is kept without the personal data in it.
    if new.author_kind == AuthorKind::Contact
        && crate::domain::privacy::looks_personal(&new.body)
        && super::contact::declined_data(conn, case.contact_id).await?
    {
        new.body = crate::domain::privacy::redact(&new.body);
    }
    let survey_reply = match new.author_kind {
        AuthorKind::Contact if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) => {
            super::survey::reply_in(conn, case, new.selected_option.as_deref(), &new.body).await?
        }
        _ => None,
    };
    let (author_kind, selected_option) = (new.author_kind, new.selected_option.clone());
    if author_kind == AuthorKind::Agent {
        ask_consent_first_in(conn, case).await?;
    }
    let message = insert_in(conn, actor, case, new).await?;
    if let Some((survey, reply)) = survey_reply {
        super::survey::record_in(conn, case, &survey, reply).await?;
        return Ok(message);
    }
    let now = message.created_at;
    let status_before = case.status;
    let snoozed_before = case.snoozed_until;
    if author_kind == AuthorKind::Agent && case.first_response_at.is_none() {
        case.first_response_at = Some(now);
    }
    // The person wrote: a snoozed case is back.
    if author_kind == AuthorKind::Contact && case.snoozed_until.is_some() {
        case.snoozed_until = None;
    }
    if author_kind == AuthorKind::Contact && case.status == CaseStatus::WaitingOnContact {
        case.transition(CaseStatus::Assigned, None, now)?;
    }
    // A person writing again on a resolved case (an e-mail reply) reopens
    // it: back to whoever worked it, or to the queue.
    if author_kind == AuthorKind::Contact && case.status == CaseStatus::Resolved {
        let to = if case.assignee_id.is_some() { CaseStatus::Assigned } else { CaseStatus::Queued };
        case.transition(to, None, now)?;
    }
    case.updated_at = now;
    super::case::save_in(conn, case).await?;
    if case.status != status_before {
        // The person's message moved the case (back to its agent, or
        // reopened): a step of its timeline like any other change.
        audit::record(
            conn,
            audit::Entry {
                actor,
                action: "case.status_changed",
                target_kind: "case",
                target_id: case.id.to_string(),
                unit_id: Some(case.unit_id),
                details: serde_json::json!({ "from": status_before.as_str(), "to": case.status.as_str() }),
            },
        )
        .await?;
        let before = Case { status: status_before, ..case.clone() };
        super::case::notify_subscribers_in(conn, case, Some(&before)).await?;
    }
    if case.status != status_before || snoozed_before != case.snoozed_until {
        super::live::publish_in(conn, super::case::live_event("case.updated", case, None)).await?;
    }
    if author_kind == AuthorKind::Contact
        && let Some(answer) = selected_option.as_deref().and_then(consent::answer_of)
    {
        // A consent answer (the buttons the host offers, a form's checkbox)
        // is recorded against the version of the text the person was shown
        // (the newest if the question did not say); `default` is the
        // built-in text, before admins wrote one.
        let shown = match answer.version {
            Some(v) => super::consent_text::version(conn, answer.purpose, v).await?,
            None => None,
        };
        let text = match shown {
            Some(text) => Some(text),
            None => super::consent_text::latest(conn, answer.purpose).await?,
        };
        // Answered on a form, to the bot, or to the host's own question.
        let source = match (case.channel, case.status) {
            (Channel::Webform, _) => "web_form",
            (_, CaseStatus::Bot) => "bot",
            _ => "channel",
        };
        let unconfirmed = !case.channel.proves_sender()
            && answer.action == crate::domain::ConsentAction::Grant
            && super::contact::declined(conn, case.contact_id, answer.purpose).await?;
        let answer = consent::NewConsent {
            purpose: answer.purpose.to_owned(),
            action: answer.action,
            text_version: text.map_or_else(|| "default".to_owned(), |t| t.label()),
            channel: case.channel,
            source: source.to_owned(),
            reference: None,
            given_at: None,
        };
        if unconfirmed {
            // Someone ticked a form's box in the name of a person who had
            // said no: their no stands until they confirm themselves.
            hold_unconfirmed_consent(conn, actor, case, &answer).await?;
        } else {
            super::contact::add_consent_in(conn, actor, case.contact_id, answer).await?;
        }
    }
    // The host answers a "BAJA" itself; bots and protocols are not asked to.
    // Only from the person's own number or account: a web form's sender is
    // whoever typed the address.
    let opted_out = author_kind == AuthorKind::Contact
        && selected_option.is_none()
        && case.channel.proves_sender()
        && consent::asks_to_opt_out(&message.body);
    if opted_out {
        opt_out_in(conn, actor, case, &message).await?;
    }
    match author_kind {
        AuthorKind::Contact if opted_out => {}
        AuthorKind::Contact => {
            super::event::emit(conn, actor, case, super::event::CaseEvent::MessageIn { message_id: message.id.0 })
                .await?
        }
        AuthorKind::Agent => {
            super::event::emit(conn, actor, case, super::event::CaseEvent::Replied { message_id: message.id.0 }).await?
        }
        AuthorKind::Bot | AuthorKind::System => {}
    }
    Ok(message)
}

/// A person asked to stop receiving messages ("BAJA", "STOP"): in the same
/// transaction as their message, so before any next send, every purpose
/// they granted but the processing of their data is revoked (with none,
/// [`consent::BROADCASTS_PURPOSE`], so an older list cannot sign them up
/// again), and the host confirms on the same conversation. Each revocation
/// names the message it came from.
async fn opt_out_in(conn: &impl ConnectionTrait, actor: &Actor, case: &Case, message: &Message) -> Result<()> {
    let records = super::contact::consents(conn, &super::contact::Visibility::All, case.contact_id).await?;
    let mut revoke: Vec<(String, String)> = consent::standing_grants(&records)
        .into_iter()
        .filter(|r| r.purpose != crate::domain::privacy::DATA_PURPOSE)
        .map(|r| (r.purpose.clone(), r.text_version.clone()))
        .collect();
    let answered_broadcasts = records.iter().any(|r| r.purpose == consent::BROADCASTS_PURPOSE);
    if revoke.is_empty() && !answered_broadcasts {
        revoke.push((consent::BROADCASTS_PURPOSE.to_owned(), "default".to_owned()));
    }
    for (purpose, text_version) in revoke {
        let answer = consent::NewConsent {
            purpose,
            action: crate::domain::ConsentAction::Revoke,
            text_version,
            channel: case.channel,
            source: "opt_out".to_owned(),
            reference: Some(format!("message {}", message.id)),
            given_at: None,
        };
        super::contact::add_consent_in(conn, actor, case.contact_id, answer).await?;
    }
    // Campaigns sent to them lately show it (those still to reach them
    // skip them: their latest answer is now a no).
    super::campaign::opted_out_in(conn, case.contact_id, super::now() - chrono::Duration::days(30)).await?;
    let confirmation = crate::i18n::t(crate::i18n::LOCALES[0], "consent.opted_out", &[]);
    insert_in(conn, &Actor::System, case, NewMessage::text(AuthorKind::System, confirmation)).await?;
    Ok(())
}

/// Before the first reply a person of the unit sends on a case, the host
/// asks a contact who never answered for the authorisation to process their
/// data, when the unit asks on the case's channel, whether or not a bot
/// runs. Once per case: a question already on it (the bot's) is enough. The
/// question is delivered before the reply (one case's messages go out in
/// order); the person's answer is recorded like any consent answer.
async fn ask_consent_first_in(conn: &impl ConnectionTrait, case: &Case) -> Result<()> {
    use crate::domain::privacy::DATA_PURPOSE;
    if case.first_response_at.is_some() {
        return Ok(());
    }
    let unit = super::unit::get(conn, case.unit_id).await?;
    if !unit.privacy.asks_on(case.channel)
        || super::contact::answered(conn, case.contact_id, DATA_PURPOSE).await?
        || asked_on_case(conn, case.id, DATA_PURPOSE).await?
    {
        return Ok(());
    }
    let question = super::consent_text::question(conn, DATA_PURPOSE, crate::i18n::LOCALES[0]).await?;
    insert_in(conn, &Actor::System, case, question).await?;
    Ok(())
}

/// Whether a message of the case already asks for consent to `purpose`.
async fn asked_on_case(conn: &impl ConnectionTrait, case: CaseId, purpose: &str) -> Result<bool> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
    let grant = consent::answer_option(crate::domain::ConsentAction::Grant, purpose, None);
    let as_text = Func::cast_as(Expr::col(entity::Column::Options), Alias::new("TEXT"));
    let found = entity::Entity::find()
        .filter(entity::Column::CaseId.eq(case.0))
        .filter(entity::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(Expr::expr(as_text).like(format!("%\"{grant}%")))
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// The tag a case gets when a consent given on it waits for the person's confirmation.
pub const CONSENT_TO_CONFIRM_TAG: &str = "autorización-por-confirmar";

/// Leaves a grant that cannot be believed unrecorded, and says so: a tag
/// on the case for the agent, and an audit entry with what was ticked.
async fn hold_unconfirmed_consent(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    case: &mut Case,
    answer: &consent::NewConsent,
) -> Result<()> {
    let tag = CONSENT_TO_CONFIRM_TAG.to_owned();
    if !case.tags.contains(&tag) {
        let mut tags = case.tags.clone();
        tags.push(tag);
        let patch = crate::domain::case::CasePatch { tags: Some(tags), ..Default::default() };
        super::case::update_in(conn, actor, case, patch).await?;
    }
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: "consent.unconfirmed",
            target_kind: "contact",
            target_id: case.contact_id.to_string(),
            unit_id: Some(case.unit_id),
            details: serde_json::json!({
                "purpose": answer.purpose,
                "text_version": answer.text_version,
                "channel": answer.channel.as_str(),
                "case_id": case.id,
            }),
        },
    )
    .await
}

/// Stores a message and what it must set off (a download of the files it
/// references, its delivery, the audit entry), without touching the case.
pub async fn insert_in(conn: &impl ConnectionTrait, actor: &Actor, case: &Case, new: NewMessage) -> Result<Message> {
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
        search_text: Set(Some(super::search_text::fold(&new.body))),
        body: Set(new.body),
        attachments: Set(serde_json::to_value(&new.attachments).unwrap_or_default()),
        provider_message_id: Set(new.provider_message_id),
        delivery_status: Set(delivery_status.as_str().to_owned()),
        created_at: Set(now),
        channel_install_id: Set(new.channel_install_id.or(case.channel_install_id)),
        options: Set(serde_json::to_value(&new.options).unwrap_or_default()),
        delivery_error: Set(None),
        delivery_attempts: Set(0),
        next_attempt_at: Set(None),
        waiting_for: Set(None),
        selected_option: Set(new.selected_option),
        template: Set(new.template.as_ref().and_then(|t| serde_json::to_value(t).ok())),
        context: Set(new.context.as_ref().and_then(|c| serde_json::to_value(c).ok())),
    }
    .insert(conn)
    .await?;
    let message = to_message(model)?;
    super::live::publish_in(conn, live_message(case, &message)).await?;
    if direction == Direction::Inbound && message.attachments.iter().any(Attachment::awaits_download) {
        job::enqueue(
            conn,
            job::NewJob {
                kind: super::job::JobKind::MediaFetch,
                payload: serde_json::json!({ "message_id": message.id }),
                idempotency_key: Some(format!("media:{}", message.id)),
            },
        )
        .await?;
    }
    if direction == Direction::Outbound {
        let job = job::NewJob {
            kind: super::job::JobKind::MessageDeliver,
            payload: serde_json::json!({ "message_id": message.id, "case_id": case.id, "channel": case.channel.as_str() }),
            idempotency_key: Some(format!("deliver:{}", message.id)),
        };
        // One conversation's messages are delivered in order.
        job::enqueue_in_group(conn, job, super::now(), Some(format!("deliver:{}", case.id))).await?;
    }
    let data = serde_json::json!({
        "case": super::subscription::case_data(case),
        "message": {
            "id": message.id,
            "direction": message.direction.as_str(),
            "author_kind": message.author_kind.as_str(),
            "author_user_id": message.author_user_id,
            "body": message.body,
            "attachments": message.attachments.len(),
            "created_at": message.created_at,
        },
    });
    let event = crate::domain::subscription::EventType::MessageCreated;
    super::subscription::emit_in(conn, event, &[case.unit_id], Some(case.id.0), data).await?;
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

/// The live note about a new message: who wrote, and the start of it.
fn live_message(case: &Case, message: &Message) -> super::live::LiveEvent {
    let preview: String = message.body.chars().take(140).collect();
    let data = serde_json::json!({
        "message_id": message.id.0,
        "number": case.number,
        "direction": message.direction.as_str(),
        "author_kind": message.author_kind.as_str(),
        "preview": preview,
        "status": case.status.as_str(),
    });
    let mut event = super::live::LiveEvent::new("message.created", vec![case.unit_id.0], Some(case.id.0), data);
    event.users.extend(case.assignee_id.map(|u| u.0));
    event
}

fn live_note(case: &Case, note: &Note) -> super::live::LiveEvent {
    let data = serde_json::json!({ "note_id": note.id.0, "number": case.number, "author_user_id": note.author_user_id.map(|u| u.0) });
    let mut event = super::live::LiveEvent::new("note.created", vec![case.unit_id.0], Some(case.id.0), data);
    event.users.extend(case.assignee_id.map(|u| u.0));
    event
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

/// Adds the host's own note (hand-offs, fail-safes) inside the caller's transaction.
pub async fn add_note_in(conn: &impl ConnectionTrait, case_id: CaseId, body: String) -> Result<Note> {
    let case = super::case::get(conn, None, case_id).await?;
    note_in(conn, &Actor::System, &case, None, body).await
}

/// Adds a note to `case` inside the caller's transaction, with its audit
/// entry and live event.
pub async fn note_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    case: &Case,
    author: Option<UserId>,
    body: String,
) -> Result<Note> {
    let model = note::ActiveModel {
        id: Set(NoteId::new().0),
        case_id: Set(case.id.0),
        author_user_id: Set(author.map(|u| u.0)),
        body: Set(body),
        created_at: Set(super::now()),
    }
    .insert(conn)
    .await?;
    let note = to_note(model);
    if author.is_some() {
        audit::record(
            conn,
            audit::Entry {
                actor,
                action: "note.created",
                target_kind: "case",
                target_id: case.id.to_string(),
                unit_id: Some(case.unit_id),
                details: serde_json::json!({ "note_id": note.id }),
            },
        )
        .await?;
    }
    super::live::publish_in(conn, live_note(case, &note)).await?;
    if let Some(author) = author {
        notify_mentions_in(conn, case, author, &note.body).await?;
    }
    Ok(note)
}

/// The `@name` handles in a note: the part of a colleague's e-mail address
/// before the `@` (`@laura.gomez`), lowercase.
pub fn mentions(body: &str) -> Vec<String> {
    let mut out = vec![];
    for (i, _) in body.match_indices('@') {
        // An address (`ana@uni.edu`) is not a mention.
        if body[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let handle: String =
            body[i + 1..].chars().take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')).collect();
        let handle = handle.trim_end_matches(['.', '-']).to_lowercase();
        if !handle.is_empty() && !out.contains(&handle) {
            out.push(handle);
        }
    }
    out
}

/// Tells the colleagues a note mentions who may see its case.
async fn notify_mentions_in(conn: &impl ConnectionTrait, case: &Case, author: UserId, body: &str) -> Result<()> {
    let handles = mentions(body);
    if handles.is_empty() {
        return Ok(());
    }
    let writer = super::user::get(conn, author).await?;
    let excerpt: String = body.chars().take(140).collect();
    for user in super::user::by_handles(conn, &handles).await? {
        let sees_case = user.is_admin || user.memberships.iter().any(|m| m.unit_id == case.unit_id);
        if user.id == author || !user.active || !sees_case {
            continue;
        }
        let number = case.number.to_string();
        let text = crate::i18n::t(
            &user.locale,
            "note.mention.notification",
            &[("author", &writer.display_name), ("number", &number), ("excerpt", &excerpt)],
        );
        super::notification::notify_in(conn, &[user.id], Some(case.id.0), "mention", &text).await?;
    }
    Ok(())
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
    let note = note_in(&*tx, actor, &case, author, body).await?;
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

/// The latest `limit` messages of a case, oldest first (no scope: for the
/// host, which has already decided the reader may see the case).
pub async fn recent(conn: &impl ConnectionTrait, case_id: CaseId, limit: u64) -> Result<Vec<Message>> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut rows = entity::Entity::find()
        .filter(entity::Column::CaseId.eq(case_id.0))
        .order_by_desc(entity::Column::CreatedAt)
        .order_by_desc(entity::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    rows.reverse();
    rows.into_iter().map(to_message).collect()
}

/// Outbound messages that could not be delivered (the dead letters), on
/// cases the caller may see, newest first.
pub async fn failed(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    page: &Page,
) -> Result<(Vec<Message>, Option<String>)> {
    use entity::Column;
    use sea_orm::sea_query::Query;
    let mut query = entity::Entity::find()
        .filter(Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(Column::DeliveryStatus.eq(DeliveryStatus::Failed.as_str()));
    if let Some(units) = scope {
        let visible = Query::select()
            .column(super::case::entity::Column::Id)
            .from(super::case::entity::Entity)
            .and_where(super::case::entity::Column::UnitId.is_in(units.iter().map(|u| u.0)))
            .to_owned();
        query = query.filter(Column::CaseId.in_subquery(visible));
    }
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::CreatedAt, Column::Id),
        super::pagination::Order::Descending,
        page,
        |r| (r.created_at, r.id),
    )
    .await?;
    Ok((rows.into_iter().map(to_message).collect::<Result<_>>()?, next))
}

/// Sends an outbound message again, in one transaction with its audit
/// entry: a failed one is queued anew (same idempotency key, behind what
/// its case has waiting); a pending one waiting out a retry is tried now.
pub async fn retry_delivery(
    store: &Store,
    actor: &Actor,
    scope: Scope<'_>,
    case_id: CaseId,
    id: MessageId,
) -> Result<Message> {
    let tx = store.begin().await?;
    let case = super::case::get(&*tx, scope, case_id).await?;
    let row = entity::Entity::find_by_id(id.0)
        .filter(entity::Column::CaseId.eq(case.id.0))
        .one(&*tx)
        .await?
        .ok_or(super::Error::NotFound("message"))?;
    let key = format!("deliver:{}", row.id);
    let status = row.delivery_status.clone();
    let retrying = status == DeliveryStatus::Pending.as_str() && row.delivery_attempts > 0;
    if let Some(behind) = row.waiting_for.filter(|_| status == DeliveryStatus::Pending.as_str()) {
        return Err(super::Error::conflict(
            "waiting_for",
            format!("this message waits behind message {behind} of the same case; send that one again first"),
        ));
    }
    let mut active: entity::ActiveModel = row.into();
    if retrying {
        if !job::run_now_by_key_in(&*tx, &key).await? {
            return Err(super::Error::conflict("delivery_status", "this message is being sent right now"));
        }
        active.next_attempt_at = Set(Some(super::now()));
    } else if status == DeliveryStatus::Failed.as_str() {
        active.delivery_status = Set(DeliveryStatus::Pending.as_str().to_owned());
        active.delivery_error = Set(None);
        active.delivery_attempts = Set(0);
        active.next_attempt_at = Set(None);
        job::remove_by_key_in(&*tx, &key).await?;
        let job = job::NewJob {
            kind: super::job::JobKind::MessageDeliver,
            payload: serde_json::json!({ "message_id": id, "case_id": case.id, "channel": case.channel.as_str() }),
            idempotency_key: Some(key),
        };
        job::enqueue_in_group(&*tx, job, super::now(), Some(format!("deliver:{}", case.id))).await?;
    } else {
        return Err(super::Error::conflict(
            "delivery_status",
            format!(
                "only failed messages, or pending ones waiting to be tried again, are sent again; this one is {status}"
            ),
        ));
    }
    let message = to_message(active.update(&*tx).await?)?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "message.retried",
            target_kind: "case",
            target_id: case.id.to_string(),
            unit_id: Some(case.unit_id),
            details: serde_json::json!({ "message_id": message.id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(message)
}

/// When the person last wrote on a case, if ever.
pub async fn last_inbound_at(
    conn: &impl ConnectionTrait,
    case_id: CaseId,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    use sea_orm::{QueryOrder, QuerySelect};
    Ok(entity::Entity::find()
        .select_only()
        .column(entity::Column::CreatedAt)
        .filter(entity::Column::CaseId.eq(case_id.0))
        .filter(entity::Column::Direction.eq(Direction::Inbound.as_str()))
        .order_by_desc(entity::Column::CreatedAt)
        .limit(1)
        .into_tuple()
        .one(conn)
        .await?)
}

/// When `contact` last wrote to channel account `install`, on any of
/// their cases: whether its reply window is open, and whether the person
/// has ever written there.
pub async fn last_inbound_from(
    conn: &impl ConnectionTrait,
    contact: crate::domain::ContactId,
    install: uuid::Uuid,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    use super::case::entity as cases;
    use sea_orm::{Condition, QueryOrder, QuerySelect, QueryTrait};
    let cases_of = |on_install: bool| {
        let mut query = cases::Entity::find()
            .select_only()
            .column(cases::Column::Id)
            .filter(cases::Column::ContactId.eq(contact.0));
        if on_install {
            query = query.filter(cases::Column::ChannelInstallId.eq(install));
        }
        query.into_query()
    };
    // A message names its account, or (written before messages did) its
    // case's account.
    let on_install = Condition::any()
        .add(
            Condition::all()
                .add(entity::Column::ChannelInstallId.eq(install))
                .add(entity::Column::CaseId.in_subquery(cases_of(false))),
        )
        .add(
            Condition::all()
                .add(entity::Column::ChannelInstallId.is_null())
                .add(entity::Column::CaseId.in_subquery(cases_of(true))),
        );
    Ok(entity::Entity::find()
        .select_only()
        .column(entity::Column::CreatedAt)
        .filter(entity::Column::Direction.eq(Direction::Inbound.as_str()))
        .filter(on_install)
        .order_by_desc(entity::Column::CreatedAt)
        .limit(1)
        .into_tuple()
        .one(conn)
        .await?)
}

/// Messages of a case written after `after` (time and id of the last one
/// seen), oldest first; the web chat's live updates.
pub async fn after(
    conn: &impl ConnectionTrait,
    case_id: CaseId,
    after: Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)>,
    limit: u64,
) -> Result<Vec<Message>> {
    use entity::Column;
    use sea_orm::{Condition, QueryOrder, QuerySelect};
    let mut query = entity::Entity::find().filter(Column::CaseId.eq(case_id.0));
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any()
                .add(Column::CreatedAt.gt(at))
                .add(Condition::all().add(Column::CreatedAt.eq(at)).add(Column::Id.gt(id))),
        );
    }
    let rows = query.order_by_asc(Column::CreatedAt).order_by_asc(Column::Id).limit(limit).all(conn).await?;
    rows.into_iter().map(to_message).collect()
}

/// One message by id, without scope (jobs and the host).
/// Every message of a case, oldest first.
pub async fn of_case(conn: &impl ConnectionTrait, case: CaseId) -> Result<Vec<Message>> {
    use sea_orm::QueryOrder;
    entity::Entity::find()
        .filter(entity::Column::CaseId.eq(case.0))
        .order_by_asc(entity::Column::CreatedAt)
        .order_by_asc(entity::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_message)
        .collect()
}

pub async fn get_unscoped(conn: &impl ConnectionTrait, id: MessageId) -> Result<Message> {
    entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(super::Error::NotFound("message")).and_then(to_message)
}

/// Whether a channel account already delivered this provider message.
pub async fn exists_from_provider(conn: &impl ConnectionTrait, install: uuid::Uuid, provider_id: &str) -> Result<bool> {
    Ok(entity::Entity::find()
        .filter(entity::Column::ChannelInstallId.eq(install))
        .filter(entity::Column::ProviderMessageId.eq(provider_id))
        .one(conn)
        .await?
        .is_some())
}

/// The case of the message a channel account knows by `provider_id`.
pub async fn case_of_provider_message(
    conn: &impl ConnectionTrait,
    install: uuid::Uuid,
    provider_id: &str,
) -> Result<Option<CaseId>> {
    Ok(entity::Entity::find()
        .filter(entity::Column::ChannelInstallId.eq(install))
        .filter(entity::Column::ProviderMessageId.eq(provider_id))
        .one(conn)
        .await?
        .map(|m| CaseId(m.case_id)))
}

/// How a try to deliver an outbound message ended.
pub struct Delivery {
    pub status: DeliveryStatus,
    pub provider_message_id: Option<String>,
    pub error: Option<String>,
    /// Tries made, this one included.
    pub attempts: i32,
}

/// Records how delivery of an outbound message went (sent, or failed for
/// good): it no longer waits for anything.
pub async fn set_delivery(conn: &impl ConnectionTrait, id: MessageId, delivery: Delivery) -> Result<()> {
    let Some(row) = entity::Entity::find_by_id(id.0).one(conn).await? else {
        return Err(super::Error::NotFound("message"));
    };
    let mut active: entity::ActiveModel = row.into();
    active.delivery_status = Set(delivery.status.as_str().to_owned());
    if delivery.provider_message_id.is_some() {
        active.provider_message_id = Set(delivery.provider_message_id);
    }
    active.delivery_error = Set(delivery.error);
    active.delivery_attempts = Set(delivery.attempts);
    active.next_attempt_at = Set(None);
    active.waiting_for = Set(None);
    let row = active.update(conn).await?;
    publish_updated(conn, &row).await
}

/// Records a try that failed but will be made again at `next`: the message
/// stays pending and says why and when, for the agent and the API.
pub async fn note_retry_in(
    conn: &impl ConnectionTrait,
    id: MessageId,
    attempts: i32,
    error: &str,
    next: DateTime<Utc>,
) -> Result<()> {
    let Some(row) = entity::Entity::find_by_id(id.0).one(conn).await? else {
        return Err(super::Error::NotFound("message"));
    };
    let mut active: entity::ActiveModel = row.into();
    active.delivery_error = Set(Some(error.chars().take(2000).collect()));
    active.delivery_attempts = Set(attempts);
    active.next_attempt_at = Set(Some(next));
    active.waiting_for = Set(None);
    let row = active.update(conn).await?;
    publish_updated(conn, &row).await
}

/// Records that a pending message waits behind `behind`, an earlier
/// message of its case (or no longer waits: `None`), until about `next`.
/// Writes (and tells consoles) only when what it waits for changed.
pub async fn note_waiting(
    conn: &impl ConnectionTrait,
    id: MessageId,
    behind: Option<MessageId>,
    next: Option<DateTime<Utc>>,
) -> Result<()> {
    let Some(row) = entity::Entity::find_by_id(id.0).one(conn).await? else {
        return Ok(());
    };
    let behind = behind.map(|m| m.0);
    let same_time = match (row.next_attempt_at, next) {
        (Some(a), Some(b)) => (a - b).num_seconds().abs() < 1,
        (a, b) => a.is_none() == b.is_none(),
    };
    if row.waiting_for == behind && same_time {
        return Ok(());
    }
    if row.delivery_status != DeliveryStatus::Pending.as_str() {
        return Ok(());
    }
    let mut active: entity::ActiveModel = row.into();
    active.waiting_for = Set(behind);
    active.next_attempt_at = Set(next);
    let row = active.update(conn).await?;
    publish_updated(conn, &row).await
}

/// Applies a provider's status report to the outbound message it names;
/// reports never move a message backwards (read stays read). False if no
/// message of that account has the id.
pub async fn apply_status(
    conn: &impl ConnectionTrait,
    install: uuid::Uuid,
    provider_id: &str,
    status: DeliveryStatus,
    error: Option<String>,
) -> Result<bool> {
    let Some(row) = entity::Entity::find()
        .filter(entity::Column::ChannelInstallId.eq(install))
        .filter(entity::Column::ProviderMessageId.eq(provider_id))
        .filter(entity::Column::Direction.eq(Direction::Outbound.as_str()))
        .one(conn)
        .await?
    else {
        return Ok(false);
    };
    let rank = |s: &str| match s {
        "pending" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        _ => 4,
    };
    // A report never moves a message backwards, and a failure is news only
    // while the message is on its way: a replayed (or late) failure must
    // not mark failed what the person has already received or read.
    let current = rank(&row.delivery_status);
    let stale = match status {
        DeliveryStatus::Failed => current >= rank("delivered"),
        _ => rank(status.as_str()) <= current,
    };
    if stale {
        return Ok(true);
    }
    let mut active: entity::ActiveModel = row.into();
    active.delivery_status = Set(status.as_str().to_owned());
    active.delivery_error = Set(error);
    let row = active.update(conn).await?;
    publish_updated(conn, &row).await?;
    Ok(true)
}
