//! Typed identifiers: one newtype per entity so ids cannot be mixed up.

use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so inserts stay index-friendly.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    UnitId,
    UserId,
    ContactId,
    IdentityId,
    ConsentId,
    CaseId,
    MessageId,
    NoteId,
    ApiTokenId,
    AuditEventId,
    KbId,
    CategoryId,
    ArticleId,
);
