//! The WebAssembly plugin host: one wasmtime engine, components compiled once
//! and cached by content hash, a fresh instance per event, and per-call
//! limits (CPU by epoch, wall clock, memory, input, output and log volume).
//!
//! Plugins never touch the database: they return actions that the host
//! validates and applies. Imports a plugin was not granted answer `denied`.

pub mod actions;
pub mod bot;
pub mod bundled;
pub mod connector;
pub mod convert;
pub mod host;
mod http;
mod imports;
pub mod kv;
pub mod local;
pub mod mail;
pub mod manifest;
pub mod media;
pub mod message_templates;
pub mod net;
pub mod pace;
pub mod protocol;
pub mod runtime;
pub mod scaffold;
pub mod settings;

pub use connector::SendContext;
pub use host::{CallContext, Compiled, Grants, Limits, PluginHost};

/// Why a plugin call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a valid component: {0}")]
    InvalidComponent(String),
    #[error("the component does not implement the `{world}` world of ventanilla:plugin@1.x: {reason}")]
    WrongWorld { world: &'static str, reason: String },
    #[error("the plugin ran past its CPU deadline")]
    Deadline,
    #[error("the plugin ran past its wall-clock timeout")]
    Timeout,
    #[error("the plugin exceeded its memory limit")]
    MemoryExceeded,
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the event is larger than {0} bytes")]
    InputTooLarge(usize),
    #[error("the plugin's output is invalid: {0}")]
    InvalidOutput(String),
    #[error("the plugin reported an error: {0}")]
    Plugin(String),
    #[error("plugin cache: {0}")]
    Cache(String),
}

impl Error {
    /// A short stable label, for metrics and health.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidComponent(_) => "invalid_component",
            Error::WrongWorld { .. } => "wrong_world",
            Error::Deadline => "deadline",
            Error::Timeout => "timeout",
            Error::MemoryExceeded => "memory",
            Error::Trap(_) => "trap",
            Error::InputTooLarge(_) => "input_too_large",
            Error::InvalidOutput(_) => "invalid_output",
            Error::Plugin(_) => "plugin_error",
            Error::Cache(_) => "cache",
        }
    }
}
