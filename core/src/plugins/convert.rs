//! Domain values as plugins see them (the WIT types), and back.

use super::bot::{AuthorKind, CaseStatus, CaseSummary, Channel, ContactSummary, Message, Priority};
use crate::domain;
use crate::store::{self, Result};

pub fn channel(c: domain::Channel) -> Channel {
    use domain::Channel as D;
    match c {
        D::Whatsapp => Channel::Whatsapp,
        D::Messenger => Channel::Messenger,
        D::Instagram => Channel::Instagram,
        D::Telegram => Channel::Telegram,
        D::Email => Channel::Email,
        D::Sms => Channel::Sms,
        D::Webchat => Channel::Webchat,
        D::Webform => Channel::Webform,
        D::Phone => Channel::Phone,
        // The plugin interface's channel list is fixed within 1.x (a
        // component checks every case of it): a channel it has no name for
        // reaches plugins as `api`, a channel with no rendering of its own.
        D::Api | D::Other => Channel::Api,
    }
}

pub fn status(s: domain::CaseStatus) -> CaseStatus {
    use domain::CaseStatus as D;
    match s {
        D::Bot => CaseStatus::Bot,
        D::Queued => CaseStatus::Queued,
        D::Assigned => CaseStatus::Assigned,
        D::WaitingOnContact => CaseStatus::WaitingOnContact,
        D::Resolved => CaseStatus::Resolved,
        D::Closed => CaseStatus::Closed,
    }
}

pub fn status_from_text(text: &str) -> CaseStatus {
    domain::CaseStatus::parse("status", text).map(status).unwrap_or(CaseStatus::Queued)
}

pub fn priority(p: domain::Priority) -> Priority {
    use domain::Priority as D;
    match p {
        D::Low => Priority::Low,
        D::Normal => Priority::Normal,
        D::High => Priority::High,
        D::Urgent => Priority::Urgent,
    }
}

pub fn priority_back(p: Priority) -> domain::Priority {
    use domain::Priority as D;
    match p {
        Priority::Low => D::Low,
        Priority::Normal => D::Normal,
        Priority::High => D::High,
        Priority::Urgent => D::Urgent,
    }
}

pub fn author_kind(a: domain::AuthorKind) -> AuthorKind {
    use domain::AuthorKind as D;
    match a {
        D::Contact => AuthorKind::Contact,
        D::Agent => AuthorKind::Agent,
        D::Bot => AuthorKind::Bot,
        D::System => AuthorKind::System,
    }
}

pub fn message(m: &domain::Message) -> Message {
    Message {
        id: m.id.to_string(),
        case_id: m.case_id.to_string(),
        author_kind: author_kind(m.author_kind),
        body: m.body.clone(),
        attachments: m
            .attachments
            .iter()
            .map(|a| super::bot::Attachment {
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size_bytes: a.size_bytes,
                reference: a.reference.clone(),
            })
            .collect(),
        selected_option: m.selected_option.clone(),
        created_at: m.created_at.timestamp_millis(),
    }
}

/// A case as plugins see it (its unit by slug).
pub async fn case_summary(conn: &impl sea_orm::ConnectionTrait, case: &domain::Case) -> Result<CaseSummary> {
    let unit = store::unit::get(conn, case.unit_id).await?;
    Ok(CaseSummary {
        id: case.id.to_string(),
        number: case.number,
        subject: case.subject.clone(),
        channel: channel(case.channel),
        unit_slug: unit.slug.as_str().to_owned(),
        status: status(case.status),
        priority: priority(case.priority),
        tags: case.tags.clone(),
        assignee_id: case.assignee_id.map(|u| u.to_string()),
        contact_id: case.contact_id.to_string(),
        created_at: case.created_at.timestamp_millis(),
    })
}

/// A contact as a bot sees it: a name and the purposes consented to now.
pub async fn contact_summary(conn: &impl sea_orm::ConnectionTrait, id: domain::ContactId) -> Result<ContactSummary> {
    let visibility = store::contact::Visibility::All;
    let contact = store::contact::get(conn, &visibility, id).await?;
    let records = store::contact::consents(conn, &visibility, id).await?;
    let mut purposes: Vec<String> = records.iter().map(|r| r.purpose.clone()).collect();
    purposes.sort();
    purposes.dedup();
    purposes.retain(|p| domain::consent::is_granted(&records, p));
    Ok(ContactSummary { id: id.to_string(), name: contact.name, consents: purposes })
}
