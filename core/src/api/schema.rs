//! API mirrors of domain enums, so the OpenAPI document lists their values
//! while the domain stays free of utoipa.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain;

macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident => $domain:ident { $($variant:ident = $text:tt),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),*
        }

        impl From<domain::$domain> for $name {
            fn from(value: domain::$domain) -> Self {
                match value {
                    $(domain::$domain::$variant => $name::$variant),*
                }
            }
        }

        impl From<$name> for domain::$domain {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => domain::$domain::$variant),*
                }
            }
        }
    };
}

mirror_enum!(
    /// A channel people write in on.
    Channel => Channel {
        Whatsapp = "whatsapp", Messenger = "messenger", Instagram = "instagram", Telegram = "telegram",
        Email = "email", Sms = "sms", Webchat = "webchat", Webform = "webform", Phone = "phone", Api = "api",
        Other = "other",
    }
);
mirror_enum!(
    /// Where a case is in its life.
    CaseStatus => CaseStatus {
        Bot = "bot", Queued = "queued", Assigned = "assigned", WaitingOnContact = "waiting_on_contact",
        Resolved = "resolved", Closed = "closed",
    }
);
mirror_enum!(
    /// How urgent a case is.
    Priority => Priority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" }
);
mirror_enum!(
    /// A role in a unit.
    Role => Role { Supervisor = "supervisor", Agent = "agent" }
);
mirror_enum!(
    /// Whether consent was given or withdrawn.
    ConsentAction => ConsentAction { Grant = "grant", Revoke = "revoke" }
);
mirror_enum!(
    /// What a data-subject request asks for.
    DataRequestKind => DataRequestKind {
        Access = "access", Rectification = "rectification", Erasure = "erasure", Revocation = "revocation",
    }
);
mirror_enum!(
    /// Where a data-subject request is.
    DataRequestStatus => DataRequestStatus { Open = "open", Done = "done", Refused = "refused" }
);
mirror_enum!(
    /// Who wrote a message.
    AuthorKind => AuthorKind { Contact = "contact", Agent = "agent", Bot = "bot", System = "system" }
);
mirror_enum!(
    /// Which way a message travels.
    Direction => Direction { Inbound = "inbound", Outbound = "outbound" }
);
mirror_enum!(
    /// Delivery state of a message.
    DeliveryStatus => DeliveryStatus {
        Received = "received", Pending = "pending", Sent = "sent", Delivered = "delivered", Read = "read",
        Failed = "failed",
    }
);
mirror_enum!(
    /// What an API token may do.
    Scope => Scope {
        CasesRead = "cases:read", CasesWrite = "cases:write", ContactsRead = "contacts:read",
        ContactsWrite = "contacts:write", UnitsRead = "units:read", UnitsWrite = "units:write",
        UsersRead = "users:read", UsersWrite = "users:write", KbRead = "kb:read", KbWrite = "kb:write",
        AuditRead = "audit:read",
    }
);

/// A list page: `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> ListResponse<T> {
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        ListResponse { items, next_cursor }
    }
}

/// Tells an absent field (`None`) from an explicit null (`Some(None)`).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
