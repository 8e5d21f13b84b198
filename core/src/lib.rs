//! Ventanilla: a self-hosted omnichannel helpdesk for institutions that serve
//! the public. See `docs/ARCHITECTURE.md` for the map of this crate.

pub mod api;
pub mod app;
pub mod attachments;
pub mod auth;
pub mod automation;
pub mod breached;
pub mod campaigns;
pub mod channels;
pub mod config;
/// The plain types and rules (the `ventanilla-domain` crate).
pub use ventanilla_domain as domain;
pub mod console;
pub mod demo;
pub mod directory;
pub mod export;
pub mod help;
pub mod i18n;
pub mod jobs;
pub mod live;
pub mod markdown;
pub mod oidc;
pub mod plugins;
pub mod privacy;
pub mod private_fs;
pub mod reports;
pub mod routing;
pub mod search;
pub mod secrets;
pub mod services;
pub mod spreadsheet;
pub mod store;
pub mod subscriptions;
pub mod system_mail;
pub mod tls;
pub mod two_factor;
