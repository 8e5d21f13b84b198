//! Messages exchanged on a case, and internal notes between staff.

use super::channel_rules::Template;
use super::{CaseId, Error, MessageId, NoteId, UserId};
use chrono::{DateTime, Utc};

/// One message in a case's conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub case_id: CaseId,
    pub direction: Direction,
    pub author_kind: AuthorKind,
    pub author_user_id: Option<UserId>,
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub provider_message_id: Option<String>,
    pub delivery_status: DeliveryStatus,
    /// Why delivery failed: the final reason once `failed`; while the
    /// message is still `pending`, why the last try did not work.
    pub delivery_error: Option<String>,
    /// Tries to send it so far.
    pub delivery_attempts: i32,
    /// When a pending message is tried next, after a failed try or behind
    /// an earlier message of its case.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The earlier message of the same case this one waits behind (a
    /// case's messages go out in the order they were written).
    pub waiting_for: Option<MessageId>,
    /// Choices offered with an outbound message (quick replies, buttons).
    pub options: Vec<QuickReply>,
    /// The choice an inbound message picked, if any.
    pub selected_option: Option<String>,
    /// The channel account (connector install) the message came in or goes out on.
    pub channel_install_id: Option<uuid::Uuid>,
    /// The approved template an outbound message is sent as, if any.
    pub template: Option<Template>,
    /// Where the person wrote it from (web chat: the page).
    pub context: Option<MessageContext>,
    pub created_at: DateTime<Utc>,
}

/// The page a web chat message was written on.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct MessageContext {
    pub page_url: Option<String>,
    pub page_title: Option<String>,
}

impl MessageContext {
    /// Keeps an http(s) address and a title, each shortened; `None` when
    /// neither is usable.
    pub fn parse(page_url: Option<&str>, page_title: Option<&str>) -> Option<MessageContext> {
        let clip = |s: &str, n: usize| s.trim().chars().filter(|c| !c.is_control()).take(n).collect::<String>();
        let page_url =
            page_url.map(|u| clip(u, 2000)).filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        let page_title = page_title.map(|t| clip(t, 300)).filter(|t| !t.is_empty());
        (page_url.is_some() || page_title.is_some()).then_some(MessageContext { page_url, page_title })
    }
}

/// A choice offered with a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuickReply {
    pub id: String,
    pub label: String,
}

/// A message to add to a case.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub author_kind: AuthorKind,
    pub author_user_id: Option<UserId>,
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub provider_message_id: Option<String>,
    pub options: Vec<QuickReply>,
    pub selected_option: Option<String>,
    pub channel_install_id: Option<uuid::Uuid>,
    pub template: Option<Template>,
    pub context: Option<MessageContext>,
}

impl NewMessage {
    /// A plain text message by `author_kind`, with nothing else set.
    pub fn text(author_kind: AuthorKind, body: impl Into<String>) -> Self {
        NewMessage {
            author_kind,
            author_user_id: None,
            body: body.into(),
            attachments: vec![],
            provider_message_id: None,
            options: vec![],
            selected_option: None,
            channel_install_id: None,
            template: None,
            context: None,
        }
    }
}

/// Metadata of a file sent with a message; the bytes live elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// Where the host keeps the bytes (content hash or provider reference).
    pub reference: String,
    /// Why the host could not keep a file the provider referenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The prefix of a reference to a file this server keeps (by content hash).
pub const REFERENCE_PREFIX: &str = "sha256:";

/// The content hash a reference names, if it names a kept file.
pub fn hash_of(reference: &str) -> Option<&str> {
    reference
        .strip_prefix(REFERENCE_PREFIX)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

impl Attachment {
    /// A file still only with the provider, and not given up on.
    pub fn awaits_download(&self) -> bool {
        self.error.is_none() && hash_of(&self.reference).is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Contact,
    Agent,
    Bot,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Inbound messages are received; nothing to deliver.
    Received,
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

macro_rules! str_enum {
    ($ty:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
                match value {
                    $($text => Ok($ty::$variant),)*
                    _ => Err(Error::invalid(field, format!("`{value}` must be one of: {}", [$($text),*].join(", ")))),
                }
            }
        }
    };
}

str_enum!(Direction { Inbound => "inbound", Outbound => "outbound" });
str_enum!(AuthorKind { Contact => "contact", Agent => "agent", Bot => "bot", System => "system" });
str_enum!(DeliveryStatus {
    Received => "received",
    Pending => "pending",
    Sent => "sent",
    Delivered => "delivered",
    Read => "read",
    Failed => "failed",
});

impl AuthorKind {
    /// The only direction a message by this author can travel.
    pub fn direction(self) -> Direction {
        match self {
            AuthorKind::Contact => Direction::Inbound,
            AuthorKind::Agent | AuthorKind::Bot | AuthorKind::System => Direction::Outbound,
        }
    }
}

/// An internal note: staff only, never sent to the contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub id: NoteId,
    pub case_id: CaseId,
    pub author_user_id: Option<UserId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Longest message or note body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_decides_direction() {
        assert_eq!(AuthorKind::Contact.direction(), Direction::Inbound);
        assert_eq!(AuthorKind::Agent.direction(), Direction::Outbound);
    }

    #[test]
    fn page_context_keeps_only_web_addresses() {
        let context = MessageContext::parse(Some("https://uni.edu.co/becas"), Some(" Becas ")).unwrap();
        assert_eq!(context.page_title.as_deref(), Some("Becas"));
        assert_eq!(MessageContext::parse(Some("javascript:alert(1)"), None), None);
        assert_eq!(MessageContext::parse(None, Some("")), None);
    }

    #[test]
    fn enums_round_trip() {
        for s in ["received", "pending", "sent", "delivered", "read", "failed"] {
            assert_eq!(DeliveryStatus::parse("s", s).map(DeliveryStatus::as_str), Ok(s));
        }
        assert!(AuthorKind::parse("a", "robot").is_err());
    }
}
