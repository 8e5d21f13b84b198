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
///
/// Each world is a cargo feature (`bot`, the default; `protocol`;
/// `connector`). A plugin crate enables exactly one: the component must
/// implement every export of the worlds compiled into it.
#[cfg(feature = "bot")]
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

/// Bindings for the `protocol` world: a protocol follows a unit's cases and
/// reacts to what happens to them.
#[cfg(feature = "protocol")]
#[allow(missing_docs, clippy::all)]
pub mod protocol {
    // With the bot world compiled too, the shared interfaces come from it,
    // so both worlds use the same types.
    #[cfg(feature = "bot")]
    wit_bindgen::generate!({
        world: "protocol",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_protocol",
        default_bindings_module: "ventanilla_sdk::protocol",
        with: {
            "ventanilla:plugin/types@1.0.0": crate::bot::ventanilla::plugin::types,
            "ventanilla:plugin/log@1.0.0": crate::bot::ventanilla::plugin::log,
            "ventanilla:plugin/kv@1.0.0": crate::bot::ventanilla::plugin::kv,
            "ventanilla:plugin/clock@1.0.0": crate::bot::ventanilla::plugin::clock,
        },
    });
    #[cfg(not(feature = "bot"))]
    wit_bindgen::generate!({
        world: "protocol",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_protocol",
        default_bindings_module: "ventanilla_sdk::protocol",
    });
}

/// Bindings for the `connector` world: a connector links a channel provider.
#[cfg(feature = "connector")]
#[allow(missing_docs, clippy::all)]
pub mod connector {
    /// The world exports `send`, which wasm libc also defines; on wasm the
    /// standard name mangling (`cm32p2||send`) keeps the core export apart
    /// from it. Native builds (lints, tests) keep the plain names, which a
    /// native linker accepts.
    macro_rules! connector_bindings {
        ($($with:tt)*) => {
            #[cfg(target_family = "wasm")]
            wit_bindgen::generate!({
                world: "connector",
                path: "wit",
                pub_export_macro: true,
                export_macro_name: "export_connector",
                default_bindings_module: "ventanilla_sdk::connector",
                export_prefix: "cm32p2||",
                $($with)*
            });
            #[cfg(not(target_family = "wasm"))]
            wit_bindgen::generate!({
                world: "connector",
                path: "wit",
                pub_export_macro: true,
                export_macro_name: "export_connector",
                default_bindings_module: "ventanilla_sdk::connector",
                $($with)*
            });
        };
    }

    #[cfg(feature = "bot")]
    connector_bindings!(with: {
        "ventanilla:plugin/types@1.0.0": crate::bot::ventanilla::plugin::types,
        "ventanilla:plugin/log@1.0.0": crate::bot::ventanilla::plugin::log,
        "ventanilla:plugin/kv@1.0.0": crate::bot::ventanilla::plugin::kv,
        "ventanilla:plugin/clock@1.0.0": crate::bot::ventanilla::plugin::clock,
    },);
    #[cfg(all(feature = "protocol", not(feature = "bot")))]
    connector_bindings!(with: {
        "ventanilla:plugin/types@1.0.0": crate::protocol::ventanilla::plugin::types,
        "ventanilla:plugin/log@1.0.0": crate::protocol::ventanilla::plugin::log,
        "ventanilla:plugin/kv@1.0.0": crate::protocol::ventanilla::plugin::kv,
        "ventanilla:plugin/clock@1.0.0": crate::protocol::ventanilla::plugin::clock,
    },);
    #[cfg(not(any(feature = "bot", feature = "protocol")))]
    connector_bindings!();
}

/// The interfaces every world shares (types, log, kv, clock), whichever
/// worlds are compiled in: use these paths in plugin code.
#[cfg(feature = "bot")]
pub use bot::ventanilla::plugin::{clock, kv, log, types};
#[cfg(not(any(feature = "bot", feature = "protocol")))]
pub use connector::ventanilla::plugin::{clock, kv, log, types};
#[cfg(all(feature = "protocol", not(feature = "bot")))]
pub use protocol::ventanilla::plugin::{clock, kv, log, types};

/// Builders for the actions a bot or protocol returns.
#[cfg(any(feature = "bot", feature = "protocol"))]
pub mod actions {
    use crate::types::{
        Action, Choice, ConsentRequest, HandOff, Notification, NotifyTarget, Priority, ReplyWithOptions, Timer,
    };

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

    /// Asks the person for consent to a purpose such as `data_processing`.
    pub fn request_consent(purpose: impl Into<String>) -> Action {
        Action::RequestConsent(ConsentRequest { purpose: purpose.into() })
    }

    /// Sets the case's priority.
    pub fn set_priority(priority: Priority) -> Action {
        Action::SetPriority(priority)
    }

    /// Adds a tag to the case.
    pub fn add_tag(tag: impl Into<String>) -> Action {
        Action::AddTag(tag.into())
    }

    /// Assigns the case to a user (protocols only).
    pub fn assign(user_id: impl Into<String>) -> Action {
        Action::Assign(user_id.into())
    }

    /// Tells the supervisors of a unit (protocols only).
    pub fn notify_supervisors(unit_slug: impl Into<String>, text: impl Into<String>) -> Action {
        Action::Notify(Notification { target: NotifyTarget::UnitSupervisors(unit_slug.into()), text: text.into() })
    }

    /// Schedules (or reschedules) the named timer of this case (protocols only).
    pub fn schedule_timer(name: impl Into<String>, delay_ms: u64, payload: impl Into<String>) -> Action {
        Action::ScheduleTimer(Timer { name: name.into(), delay_ms, payload: payload.into() })
    }

    /// Cancels the named timer of this case (protocols only).
    pub fn cancel_timer(name: impl Into<String>) -> Action {
        Action::CancelTimer(name.into())
    }

    /// Closes the case (resolving it first when an agent works it).
    pub fn close() -> Action {
        Action::Close
    }
}

/// Helpers every connector needs: reading webhook requests, answering the
/// provider, and telling passing send failures from final ones.
#[cfg(feature = "connector")]
pub mod connector_kit {
    use crate::connector::ventanilla::plugin::http;
    use crate::connector::{InboundRequest, Parsed, SendError};

    /// The value of a request header, matched without regard to case.
    pub fn header<'a>(request: &'a InboundRequest, name: &str) -> Option<&'a str> {
        request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn query<'a>(request: &'a InboundRequest, name: &str) -> Option<&'a str> {
        request.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// An answer for the provider with nothing parsed yet.
    pub fn answer(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Parsed {
        Parsed {
            response_status: status,
            response_body: body.into(),
            response_content_type: content_type.into(),
            messages: vec![],
            statuses: vec![],
            profiles: vec![],
        }
    }

    /// Whether a provider's HTTP status means "try again later": rate
    /// limits, timeouts and server errors.
    pub fn retryable_status(status: u16) -> bool {
        status == 408 || status == 429 || status >= 500
    }

    /// A send error from a failed `http::fetch`: the host refusing the
    /// request is final (a grant or a setting must change), transport
    /// problems and timeouts are worth another try.
    pub fn transport_error(error: http::HttpError) -> SendError {
        let (message, retryable) = match error {
            http::HttpError::Denied(why) => (format!("request refused by the host: {why}"), false),
            http::HttpError::InvalidRequest(why) => (format!("invalid request: {why}"), false),
            http::HttpError::TooLarge => ("request or response too large".to_owned(), false),
            http::HttpError::Timeout => ("the provider did not answer in time".to_owned(), true),
            http::HttpError::Transport(why) => (format!("cannot reach the provider: {why}"), true),
        };
        SendError { message, retryable }
    }
}
