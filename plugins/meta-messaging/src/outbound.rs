//! Sending through the Send API: files by link, text in pieces, quick replies (at most 13
//! of at most 20 characters, else a numbered list), and the `HUMAN_AGENT`
//! tag when a person on staff answers after the standard 24-hour window.

use serde_json::{Value, json};
use ventanilla_sdk::connector::ventanilla::plugin::http;
use ventanilla_sdk::connector::ventanilla::plugin::outbound;
use ventanilla_sdk::connector::{OutboundMessage, SendError, SendReceipt};
use ventanilla_sdk::connector_kit::{numbered, pieces, post_json_bearer, retryable_status, transport_error};
use ventanilla_sdk::types::AuthorKind;
use ventanilla_sdk::{clock, log};

use crate::{Platform, Settings};

/// The standard messaging window.
const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Error codes Meta documents as passing: temporary problems and rate limits.
const RETRYABLE_CODES: [i64; 7] = [1, 2, 4, 17, 32, 341, 613];

pub fn send(platform: &Platform, settings: &Settings, message: &OutboundMessage) -> Result<SendReceipt, SendError> {
    if message.template.is_some() {
        return Err(SendError { message: format!("{} has no message templates", platform.name), retryable: false });
    }
    let (messaging_type, tag) = messaging_type(outbound::context());
    let envelope = |content: Value| {
        let mut payload =
            json!({"recipient": {"id": message.recipient}, "messaging_type": messaging_type, "message": content});
        if let Some(tag) = tag {
            payload["tag"] = json!(tag);
        }
        payload
    };
    // Files first, each by link (they take no caption); then the text, with
    // the quick replies under it.
    let mut last = None;
    for file in &message.attachments {
        let family = file.content_type.split('/').next().unwrap_or_default();
        let kind = ["image", "video", "audio"].into_iter().find(|k| *k == family).unwrap_or("file");
        let content = json!({"attachment": {"type": kind, "payload": {"url": file.reference, "is_reusable": false}}});
        last = Some(call(platform, settings, &envelope(content))?);
    }
    let options = &message.options;
    let as_buttons = !options.is_empty()
        && options.len() <= 13
        && options.iter().all(|o| o.label.chars().count() <= 20 && o.id.len() <= 1000);
    let text = if as_buttons || options.is_empty() { message.body.clone() } else { numbered(&message.body, options) };
    let parts = pieces(&text, platform.max_text);
    for (n, part) in parts.iter().enumerate() {
        let mut content = json!({"text": part});
        if as_buttons && n + 1 == parts.len() {
            let replies: Vec<Value> =
                options.iter().map(|o| json!({"content_type": "text", "title": o.label, "payload": o.id})).collect();
            content["quick_replies"] = json!(replies);
        }
        last = Some(call(platform, settings, &envelope(content))?);
    }
    let id =
        last.ok_or_else(|| SendError { message: "nothing to send: the text is empty".into(), retryable: false })?;
    Ok(SendReceipt { provider_message_id: id })
}

/// `RESPONSE` inside the window; the `HUMAN_AGENT` tag after it (the host
/// has already refused what the tag does not allow).
fn messaging_type(context: Option<outbound::SendContext>) -> (&'static str, Option<&'static str>) {
    let Some(context) = context else { return ("RESPONSE", None) };
    let outside = context.last_inbound_at.is_none_or(|at| clock::now_ms() - at >= WINDOW_MS);
    if outside && context.author_kind == AuthorKind::Agent {
        log::log(log::Level::Debug, "after the standard window: sent with the HUMAN_AGENT tag");
        ("MESSAGE_TAG", Some("HUMAN_AGENT"))
    } else {
        ("RESPONSE", None)
    }
}

fn call(platform: &Platform, settings: &Settings, payload: &Value) -> Result<String, SendError> {
    let request = post_json_bearer(settings.url("me/messages"), payload.to_string().into_bytes(), "access_token");
    let response = http::fetch(&request).map_err(transport_error)?;
    let reply: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    if (200..300).contains(&response.status) {
        return reply["message_id"].as_str().map(str::to_owned).ok_or_else(|| SendError {
            message: format!("{} accepted the message without an id", platform.name),
            retryable: false,
        });
    }
    let error = &reply["error"];
    let code = error["code"].as_i64().unwrap_or_default();
    let subcode = error["error_subcode"].as_i64().unwrap_or_default();
    let text = error["message"].as_str().unwrap_or("no error message");
    let hint = match (code, subcode) {
        (10, 2018278) | (10, 2534022) => " — outside the messaging window; wait until the person writes again",
        (551, _) => " — the person cannot receive messages now",
        _ => "",
    };
    Err(SendError {
        message: format!("{} answered {}, error {code}/{subcode}: {text}{hint}", platform.name, response.status),
        retryable: retryable_status(response.status) || RETRYABLE_CODES.contains(&code),
    })
}
