//! Plain types and rules of the helpdesk: no I/O, no framework types.
//!
//! Everything here can be unit-tested without a database, a server or a
//! runtime; `store` and `api` convert to and from these types. It is a crate
//! of its own so the compiler, not a convention, keeps frameworks out: its
//! `Cargo.toml` names no actix, sea-orm, utoipa, tokio, wasmtime or tantivy.

pub mod audience;
pub mod audit;
pub mod campaign;
pub mod canned;
pub mod case;
pub mod channel_rules;
pub mod consent;
pub mod contact;
pub mod custom_field;
pub mod data_request;
pub mod id;
pub mod kb;
pub mod message;
pub mod plugin;
pub mod principal;
pub mod privacy;
pub mod report;
pub mod routing;
pub mod schedule;
pub mod segment;
pub mod sla;
pub mod subscription;
pub mod survey;
pub mod template;
pub mod unit;
pub mod user;

pub use audit::{Actor, AuditEvent};
pub use case::{Case, CaseStatus, Priority};
pub use consent::{ConsentAction, ConsentRecord};
pub use contact::{Channel, Contact, Identity};
pub use data_request::{RequestKind as DataRequestKind, RequestStatus as DataRequestStatus};
pub use id::*;
pub use message::{AuthorKind, DeliveryStatus, Direction, Message, Note};
pub use principal::{Principal, Scope};
pub use unit::{BusinessHours, Slug, Unit};
pub use user::{Email, Membership, Role, User};

/// A rule of the domain was broken; each variant names what and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A value failed validation; `field` is the JSON path the client sent.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A case cannot move from one status to another.
    #[error("a case cannot go from {from} to {to}")]
    Transition { from: CaseStatus, to: CaseStatus },
    /// The caller may not do this, whatever the values; says what is missing.
    #[error("{0}")]
    Forbidden(&'static str),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }
}

/// Trims a required free-text value and checks its length in characters.
pub fn required_text(field: &str, value: &str, max_chars: usize) -> Result<String, Error> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(Error::invalid(field, format!("must be at most {max_chars} characters")));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    /// The domain layer must stay free of I/O frameworks; this keeps the rule honest.
    #[test]
    fn required_text_trims_and_limits() {
        assert_eq!(super::required_text("name", "  Ana  ", 10), Ok("Ana".into()));
        assert!(super::required_text("name", "   ", 10).is_err());
        assert!(super::required_text("name", "abcdefghijk", 10).is_err());
        assert!(super::required_text("name", "a\u{0}b", 10).is_err());
    }
}
