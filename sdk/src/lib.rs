//! Ventanilla plugin SDK: Rust bindings for the `ventanilla:plugin@1.0.0`
//! contract (see `wit/plugin.wit`) and helpers to build actions.
//!
//! A bot plugin implements [`bot::Guest`] and exports it:
//!
//! ```ignore
//! use ventanilla_sdk::bot::{self, BotEvent, Guest};
//! use ventanilla_sdk::bot::ventanilla::plugin::types::{Action, PluginError};
//!
//! struct Echo;
//! impl Guest for Echo {
//!     fn on_message(event: BotEvent) -> Result<Vec<Action>, PluginError> {
//!         Ok(vec![Action::Reply(format!("Dijiste: {}", event.message.body))])
//!     }
//! }
//! ventanilla_sdk::bot::export_bot!(Echo);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm`
//! file is the component to install, next to its `plugin.toml`.
#![deny(missing_docs)]

/// The WIT version this SDK implements.
pub const WIT_VERSION: &str = "1.0.0";

/// Bindings for the `bot` world: a bot answers the messages of the cases it owns.
#[allow(missing_docs, clippy::all)]
pub mod bot {
    wit_bindgen::generate!({
        world: "bot",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_bot",
        default_bindings_module: "ventanilla_sdk::bot",
    });
}

/// Builders for the actions a bot returns.
pub mod actions {
    use crate::bot::ventanilla::plugin::types::{Action, Choice, HandOff, ReplyWithOptions};

    /// A plain text reply.
    pub fn reply(text: impl Into<String>) -> Action {
        Action::Reply(text.into())
    }

    /// A reply with quick-reply options, given as `(id, label)` pairs.
    pub fn reply_with_options<'a>(
        text: impl Into<String>,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Action {
        Action::ReplyWithOptions(ReplyWithOptions {
            text: text.into(),
            options: options.into_iter().map(|(id, label)| Choice { id: id.into(), label: label.into() }).collect(),
        })
    }

    /// Hands the case to the queue of the unit with `unit_slug`.
    pub fn hand_off(unit_slug: impl Into<String>, reason: impl Into<String>) -> Action {
        Action::HandOff(HandOff { unit_slug: unit_slug.into(), reason: reason.into() })
    }
}
