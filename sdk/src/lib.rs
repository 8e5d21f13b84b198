//! Ventanilla plugin SDK: Rust bindings for the `ventanilla:plugin@1.5.0`
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
pub const WIT_VERSION: &str = "1.5.0";

/// Bindings for the `bot` world: a bot answers the messages of the cases it owns.
///
/// Each world is a cargo feature (`bot`, the default; `protocol`;
/// `connector`; `mail-connector`). A plugin crate enables exactly one: the component must
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
            "ventanilla:plugin/types@1.5.0": crate::bot::ventanilla::plugin::types,
            "ventanilla:plugin/log@1.5.0": crate::bot::ventanilla::plugin::log,
            "ventanilla:plugin/kv@1.5.0": crate::bot::ventanilla::plugin::kv,
            "ventanilla:plugin/clock@1.5.0": crate::bot::ventanilla::plugin::clock,
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

/// Bindings for the `template-connector` world: a connector links a channel
/// provider (the `connector` world), tells the host where the files people
/// send can be downloaded (`Guest::locate_media`) and reads the provider's
/// message templates (`Guest::list_templates`). A connector whose channel
/// carries no files answers `MediaError::Gone`; one whose provider keeps no
/// templates, `TemplateError::Unsupported`.
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
                world: "template-connector",
                path: "wit",
                pub_export_macro: true,
                export_macro_name: "export_connector",
                default_bindings_module: "ventanilla_sdk::connector",
                export_prefix: "cm32p2||",
                $($with)*
            });
            #[cfg(not(target_family = "wasm"))]
            wit_bindgen::generate!({
                world: "template-connector",
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
        "ventanilla:plugin/types@1.5.0": crate::bot::ventanilla::plugin::types,
        "ventanilla:plugin/log@1.5.0": crate::bot::ventanilla::plugin::log,
        "ventanilla:plugin/kv@1.5.0": crate::bot::ventanilla::plugin::kv,
        "ventanilla:plugin/clock@1.5.0": crate::bot::ventanilla::plugin::clock,
    },);
    #[cfg(all(feature = "protocol", not(feature = "bot")))]
    connector_bindings!(with: {
        "ventanilla:plugin/types@1.5.0": crate::protocol::ventanilla::plugin::types,
        "ventanilla:plugin/log@1.5.0": crate::protocol::ventanilla::plugin::log,
        "ventanilla:plugin/kv@1.5.0": crate::protocol::ventanilla::plugin::kv,
        "ventanilla:plugin/clock@1.5.0": crate::protocol::ventanilla::plugin::clock,
    },);
    #[cfg(not(any(feature = "bot", feature = "protocol")))]
    connector_bindings!();
}

/// Bindings for the `mail-connector` world: a connector for e-mail. The
/// host reads the mailbox `Guest::mailbox` names and decodes each message
/// (and raw RFC 822 webhook posts) for `Guest::read_mail`; the plugin sends
/// through the host's `mail::submit`. Plugin code takes every path from
/// this module (`ventanilla_sdk::mail_connector::ventanilla::plugin::...`).
#[cfg(feature = "mail-connector")]
#[allow(missing_docs, clippy::all)]
pub mod mail_connector {
    // Like `connector`: the standard name mangling on wasm keeps the `send`
    // export apart from libc's.
    #[cfg(target_family = "wasm")]
    wit_bindgen::generate!({
        world: "mail-connector",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_mail_connector",
        default_bindings_module: "ventanilla_sdk::mail_connector",
        export_prefix: "cm32p2||",
    });
    #[cfg(not(target_family = "wasm"))]
    wit_bindgen::generate!({
        world: "mail-connector",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_mail_connector",
        default_bindings_module: "ventanilla_sdk::mail_connector",
    });
}

/// The interfaces every world shares (types, log, kv, clock), whichever
/// worlds are compiled in: use these paths in plugin code.
#[cfg(feature = "bot")]
pub use bot::ventanilla::plugin::{clock, kv, log, types};
#[cfg(all(feature = "connector", not(any(feature = "bot", feature = "protocol"))))]
pub use connector::ventanilla::plugin::{clock, kv, log, types};
#[cfg(all(feature = "mail-connector", not(any(feature = "bot", feature = "protocol", feature = "connector"))))]
pub use mail_connector::ventanilla::plugin::{clock, kv, log, types};
#[cfg(all(feature = "protocol", not(feature = "bot")))]
pub use protocol::ventanilla::plugin::{clock, kv, log, types};

pub mod text;

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

    /// Tells one user, by id, who must be an active member of the case's unit (protocols only).
    pub fn notify_user(user_id: impl Into<String>, text: impl Into<String>) -> Action {
        Action::Notify(Notification { target: NotifyTarget::User(user_id.into()), text: text.into() })
    }

    /// Tells the on-call people of a unit (protocols only).
    pub fn notify_on_call(unit_slug: impl Into<String>, text: impl Into<String>) -> Action {
        Action::Notify(Notification { target: NotifyTarget::OnCall(unit_slug.into()), text: text.into() })
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
    use crate::connector::ventanilla::plugin::media::MediaError;
    use crate::connector::ventanilla::plugin::{http, secrets};
    use crate::connector::{InboundRequest, ParseError, Parsed, SendError};
    use crate::types::Choice;

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

    /// A media error from a failed `http::fetch` while locating a file:
    /// passing trouble is worth another try, the rest is final.
    pub fn media_error(error: http::HttpError) -> MediaError {
        let failed = transport_error(error);
        if failed.retryable { MediaError::Retry(failed.message) } else { MediaError::Gone(failed.message) }
    }

    /// A media error from a provider's answer other than 2xx.
    pub fn media_status_error(status: u16, what: &str) -> MediaError {
        let why = format!("{what}: the provider answered {status}");
        if retryable_status(status) { MediaError::Retry(why) } else { MediaError::Gone(why) }
    }

    /// Quick replies a channel cannot show as buttons, written out after
    /// the text as a numbered list.
    pub fn numbered(text: &str, options: &[Choice]) -> String {
        let mut out = text.to_owned();
        for (n, option) in options.iter().enumerate() {
            out.push_str(&format!("\n{}. {}", n + 1, option.label));
        }
        out
    }

    /// A shared location as a message body: its name (or coordinates) and
    /// a map link that works without any account.
    pub fn location(latitude: f64, longitude: f64, label: &[&str]) -> String {
        let place = if label.is_empty() { format!("{latitude}, {longitude}") } else { label.join(", ") };
        format!(
            "📍 {place}\nhttps://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}"
        )
    }

    /// `text` in pieces of at most `max_chars` characters for channels that
    /// cap a message's length, cut after a line break where one fits.
    pub fn pieces(text: &str, max_chars: usize) -> Vec<String> {
        let max_chars = max_chars.max(1);
        let mut pieces = vec![];
        let mut current = String::new();
        let mut count = 0;
        for line in text.split_inclusive('\n') {
            let length = line.chars().count();
            if count + length > max_chars && !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
                count = 0;
            }
            if length > max_chars {
                let chars: Vec<char> = line.chars().collect();
                pieces.extend(chars.chunks(max_chars).map(|chunk| chunk.iter().collect::<String>()));
                continue;
            }
            current.push_str(line);
            count += length;
        }
        if !current.trim().is_empty() {
            pieces.push(current);
        }
        pieces.retain(|p| !p.trim().is_empty());
        pieces
    }

    /// A JSON `POST` to `url` with a bearer credential the host adds from
    /// the secret named `secret` (Graph API style), ten seconds at most.
    pub fn post_json_bearer(url: String, body: Vec<u8>, secret: &str) -> http::Request {
        http::Request {
            method: "POST".into(),
            url,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
            auth: Some(http::Auth::Header(http::HeaderFromSecret {
                name: "authorization".into(),
                prefix: "Bearer ".into(),
                secret: secret.into(),
            })),
            timeout_ms: Some(10_000),
        }
    }

    /// Meta's webhook subscription check (WhatsApp, Messenger, Instagram):
    /// a GET with `hub.mode=subscribe`, answered with `hub.challenge` when
    /// `hub.verify_token` equals the install's secret `secret`.
    pub fn meta_handshake(request: &InboundRequest, secret: &str) -> Result<Parsed, ParseError> {
        if query(request, "hub.mode") != Some("subscribe") {
            return Err(ParseError::Malformed("expected hub.mode=subscribe".into()));
        }
        let token = query(request, "hub.verify_token").unwrap_or_default();
        match secrets::equals(secret, token) {
            Ok(true) => {}
            Ok(false) => return Err(ParseError::Unauthorized("hub.verify_token does not match".into())),
            Err(e) => return Err(ParseError::Unauthorized(format!("cannot check the verify token: {e:?}"))),
        }
        let challenge = query(request, "hub.challenge").unwrap_or_default();
        Ok(answer(200, "text/plain", challenge.as_bytes().to_vec()))
    }

    /// Checks Meta's `X-Hub-Signature-256` (HMAC-SHA256 of the body with the
    /// app secret named `secret`).
    pub fn meta_signature(request: &InboundRequest, secret: &str) -> Result<(), ParseError> {
        let signature = header(request, "x-hub-signature-256").unwrap_or_default();
        let Some(hex) = signature.strip_prefix("sha256=") else {
            return Err(ParseError::Unauthorized("missing X-Hub-Signature-256".into()));
        };
        match secrets::verify_hmac_sha256(secret, &request.body, hex) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ParseError::Unauthorized("X-Hub-Signature-256 does not match".into())),
            Err(e) => Err(ParseError::Unauthorized(format!("cannot check the signature: {e:?}"))),
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn long_text_goes_in_pieces() {
            assert_eq!(super::pieces("hola", 10), ["hola"]);
            let long = format!("{}\n{}", "a".repeat(4000), "b".repeat(200));
            let pieces = super::pieces(&long, 4096);
            assert_eq!(pieces.len(), 2);
            assert!(pieces[0].ends_with('\n') && pieces[1] == "b".repeat(200));
            assert_eq!(super::pieces(&"c".repeat(9000), 4096).len(), 3);
            assert!(super::pieces("  ", 10).is_empty());
            assert_eq!(super::pieces("ñandú", 2), ["ña", "nd", "ú"]);
        }
    }
}
