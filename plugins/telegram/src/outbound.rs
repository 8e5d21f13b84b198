//! Sending through the Bot API: files by link (photo, video, voice, audio,
//! document), text in pieces of at most 4096 characters, quick replies as a
//! one-time reply keyboard.

use serde_json::{Value, json};
use ventanilla_sdk::connector::ventanilla::plugin::http::{self, Request};
use ventanilla_sdk::connector::{OutboundMessage, SendError, SendReceipt};
use ventanilla_sdk::connector_kit::{pieces, retryable_status, transport_error};
use ventanilla_sdk::kv;

use crate::{Settings, options_key};

/// Longest text one `sendMessage` takes, in characters.
const MAX_TEXT: usize = 4096;
/// Longest caption of a file, in characters.
const MAX_CAPTION: usize = 1024;

/// The Bot API method and field that send a file of this type.
fn media_method(content_type: &str) -> (&'static str, &'static str) {
    match content_type {
        "image/jpeg" | "image/png" => ("sendPhoto", "photo"),
        "video/mp4" => ("sendVideo", "video"),
        "audio/ogg" => ("sendVoice", "voice"),
        "audio/mpeg" | "audio/mp4" => ("sendAudio", "audio"),
        _ => ("sendDocument", "document"),
    }
}

pub fn send(settings: &Settings, message: &OutboundMessage) -> Result<SendReceipt, SendError> {
    if message.template.is_some() {
        return Err(SendError { message: "Telegram has no message templates".into(), retryable: false });
    }
    let chat = message.recipient.as_str();
    // Files first, each by link; the text rides as the first one's caption
    // when it fits and needs no keyboard, else it follows on its own.
    let mut text = message.body.as_str();
    let mut last = None;
    for file in &message.attachments {
        let (method, field) = media_method(&file.content_type);
        let mut payload = json!({"chat_id": chat, field: file.reference});
        if !text.trim().is_empty() && text.chars().count() <= MAX_CAPTION && message.options.is_empty() {
            payload["caption"] = json!(text);
            text = "";
        }
        last = Some(call(settings, method, &payload)?);
    }
    if text.trim().is_empty()
        && let Some(id) = last
    {
        return Ok(SendReceipt { provider_message_id: format!("{chat}:{id}") });
    }
    let pieces = pieces(text, MAX_TEXT);
    let had_options = kv::get(&options_key(chat)).ok().flatten().is_some();
    if !message.options.is_empty() {
        // Remembered before the keyboard goes out, so a tap, which can only
        // come after, always finds it. Without it a tap still arrives, as
        // its label; only the id is lost.
        let offered: Vec<(&str, &str)> = message.options.iter().map(|o| (o.id.as_str(), o.label.as_str())).collect();
        let _ = kv::set(&options_key(chat), &serde_json::to_vec(&offered).unwrap_or_default());
    }
    for (n, piece) in pieces.iter().enumerate() {
        let mut payload = json!({"chat_id": chat, "text": piece});
        // Only the last piece carries the keyboard, so it sits under the question.
        if n + 1 == pieces.len() {
            if !message.options.is_empty() {
                let rows: Vec<Value> = message.options.iter().map(|o| json!([{"text": o.label}])).collect();
                payload["reply_markup"] = json!({"keyboard": rows, "one_time_keyboard": true, "resize_keyboard": true});
            } else if had_options {
                payload["reply_markup"] = json!({"remove_keyboard": true});
            }
        }
        last = Some(call(settings, "sendMessage", &payload)?);
    }
    if message.options.is_empty() && had_options {
        let _ = kv::delete(&options_key(chat));
    }
    let id =
        last.ok_or_else(|| SendError { message: "nothing to send: the text is empty".into(), retryable: false })?;
    Ok(SendReceipt { provider_message_id: format!("{chat}:{id}") })
}

/// Calls one Bot API method; the id of the message it sent.
fn call(settings: &Settings, method: &str, payload: &Value) -> Result<i64, SendError> {
    let request = Request {
        method: "POST".into(),
        url: format!("{}/bot{{secret}}/{method}", settings.api_base_url),
        headers: vec![("content-type".into(), "application/json".into())],
        body: payload.to_string().into_bytes(),
        auth: None,
        timeout_ms: Some(10_000),
    };
    let response = http::fetch_with_secret_in_url(&request, "bot_token").map_err(transport_error)?;
    let reply: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    if (200..300).contains(&response.status) && reply["ok"] == true {
        return reply["result"]["message_id"].as_i64().ok_or_else(|| SendError {
            message: "Telegram accepted the message without an id".into(),
            retryable: false,
        });
    }
    let code = reply["error_code"].as_i64().unwrap_or(i64::from(response.status));
    let text = reply["description"].as_str().unwrap_or("no description");
    let wait = reply["parameters"]["retry_after"].as_i64().map(|s| format!(" (retry after {s} s)")).unwrap_or_default();
    Err(SendError {
        message: format!("Telegram answered {code}: {text}{wait}"),
        retryable: retryable_status(response.status) || retryable_status(code.clamp(0, 999) as u16),
    })
}
