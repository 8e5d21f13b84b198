//! Reading Telegram updates: messages in private chats (and groups when the
//! install allows them) and taps on inline buttons.

use serde_json::Value;
use ventanilla_sdk::connector::{ContactProfile, InboundMessage, ParseError, Parsed};
use ventanilla_sdk::connector_kit::location;
use ventanilla_sdk::types::Attachment;
use ventanilla_sdk::{clock, kv, log};

use crate::{Settings, options_key};

/// File-carrying message kinds: the field, the file name when Telegram
/// gives none, and the content type when it gives none.
const FILES: [(&str, &str, &str); 7] = [
    ("document", "documento", "application/octet-stream"),
    ("voice", "nota-de-voz.ogg", "audio/ogg"),
    ("audio", "audio.mp3", "audio/mpeg"),
    ("video", "video.mp4", "video/mp4"),
    ("video_note", "video.mp4", "video/mp4"),
    ("animation", "animacion.mp4", "video/mp4"),
    ("sticker", "sticker.webp", "image/webp"),
];

/// Adds what one update carries to `parsed`.
pub fn parse(update: &Value, settings: &Settings, parsed: &mut Parsed) -> Result<(), ParseError> {
    if update["update_id"].as_i64().is_none() {
        return Err(ParseError::Malformed("an update without `update_id`".into()));
    }
    if let Some(message) = update.get("message").or(update.get("business_message")) {
        if let Some(inbound) = message_of(message, settings)? {
            if let Some(name) = &inbound.sender_name {
                parsed.profiles.push(ContactProfile { sender: inbound.sender.clone(), name: Some(name.clone()) });
            }
            parsed.messages.push(inbound);
        }
    } else if let Some(query) = update.get("callback_query") {
        parsed.messages.extend(callback_of(query)?);
    } else {
        // Edits, channel posts, membership changes (a person blocking the
        // bot), polls: nothing for a case. Acknowledged so Telegram stops.
        let kind = update.as_object().and_then(|o| o.keys().find(|k| *k != "update_id")).cloned();
        log::log(log::Level::Debug, &format!("update of kind {} ignored", kind.as_deref().unwrap_or("?")));
    }
    Ok(())
}

fn full_name(user: &Value) -> Option<String> {
    let parts: Vec<&str> = [user["first_name"].as_str(), user["last_name"].as_str()].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn chat_id(message: &Value) -> Result<String, ParseError> {
    message["chat"]["id"]
        .as_i64()
        .map(|id| id.to_string())
        .ok_or_else(|| ParseError::Malformed("a message without `chat.id`".into()))
}

/// One message, or `None` for a chat this install does not take.
fn message_of(m: &Value, settings: &Settings) -> Result<Option<InboundMessage>, ParseError> {
    let chat = chat_id(m)?;
    let Some(id) = m["message_id"].as_i64() else {
        return Err(ParseError::Malformed("a message without `message_id`".into()));
    };
    let private = m["chat"]["type"] == "private";
    if !private && !settings.groups {
        return Ok(None);
    }
    if m["from"]["is_bot"] == true {
        return Ok(None);
    }
    let mut inbound = InboundMessage {
        // Message ids are unique within a chat only.
        provider_message_id: format!("{chat}:{id}"),
        sender: chat.clone(),
        sender_name: full_name(&m["from"]).or_else(|| m["chat"]["title"].as_str().map(str::to_owned)),
        body: String::new(),
        attachments: vec![],
        selected_option: None,
        sent_at: m["date"].as_i64().unwrap_or(0).saturating_mul(1000),
        thread_keys: vec![],
    };
    if let Some(replied) = m["reply_to_message"]["message_id"].as_i64() {
        inbound.thread_keys.push(format!("{chat}:{replied}"));
    }
    let caption = m["caption"].as_str().unwrap_or_default().to_owned();
    if let Some(text) = m["text"].as_str() {
        inbound.body = text.to_owned();
        inbound.selected_option = chosen(&chat, text);
    } else if let Some(sizes) = m["photo"].as_array() {
        // Telegram sends every size it made; the last is the largest.
        let largest = sizes.last().ok_or_else(|| ParseError::Malformed("a photo without sizes".into()))?;
        inbound.body = caption;
        inbound.attachments.push(attachment(largest, "foto.jpg", "image/jpeg")?);
    } else if let Some((field, name, kind)) = FILES.iter().find(|(field, _, _)| m.get(*field).is_some()) {
        let file = &m[*field];
        inbound.body =
            if *field == "sticker" { file["emoji"].as_str().unwrap_or(&caption).to_owned() } else { caption };
        inbound.attachments.push(attachment(file, name, kind)?);
    } else if let Some(place) = m.get("location") {
        let venue = &m["venue"];
        let label: Vec<&str> = [venue["title"].as_str(), venue["address"].as_str()].into_iter().flatten().collect();
        let (lat, lon) = (place["latitude"].as_f64().unwrap_or(0.0), place["longitude"].as_f64().unwrap_or(0.0));
        inbound.body = location(lat, lon, &label);
    } else if let Some(card) = m.get("contact") {
        let name = full_name(card).unwrap_or_else(|| "?".into());
        inbound.body = format!("👤 {name} {}", card["phone_number"].as_str().unwrap_or_default());
    } else if m.get("new_chat_members").is_some() || m.get("left_chat_member").is_some() {
        return Ok(None);
    } else {
        // Polls, dice, games, stories: keep that something arrived.
        let kind = m.as_object().and_then(|o| {
            o.keys()
                .find(|k| !["message_id", "from", "chat", "date", "reply_to_message"].contains(&k.as_str()))
                .cloned()
        });
        inbound.body = format!("[{}]", kind.as_deref().unwrap_or("?"));
    }
    Ok(Some(inbound))
}

fn attachment(file: &Value, default_name: &str, default_type: &str) -> Result<Attachment, ParseError> {
    let Some(file_id) = file["file_id"].as_str() else {
        return Err(ParseError::Malformed("a file without `file_id`".into()));
    };
    Ok(Attachment {
        file_name: file["file_name"].as_str().unwrap_or(default_name).to_owned(),
        content_type: file["mime_type"].as_str().unwrap_or(default_type).to_owned(),
        size_bytes: file["file_size"].as_u64().unwrap_or(0),
        reference: format!("{}{file_id}", crate::media::PREFIX),
    })
}

/// The id of the option whose label is `text`, when the chat was last
/// offered options (a reply keyboard sends the label as plain text).
fn chosen(chat: &str, text: &str) -> Option<String> {
    let stored = kv::get(&options_key(chat)).ok().flatten()?;
    let options: Vec<(String, String)> = serde_json::from_slice(&stored).ok()?;
    let text = text.trim();
    options.into_iter().find(|(_, label)| label.trim().eq_ignore_ascii_case(text)).map(|(id, _)| id)
}

/// A tap on an inline button: its data is the option's id.
fn callback_of(query: &Value) -> Result<Option<InboundMessage>, ParseError> {
    let Some(id) = query["id"].as_str() else {
        return Err(ParseError::Malformed("a callback query without `id`".into()));
    };
    let message = &query["message"];
    if message.is_null() {
        return Ok(None);
    }
    let chat = chat_id(message)?;
    let data = query["data"].as_str().unwrap_or_default().to_owned();
    Ok(Some(InboundMessage {
        provider_message_id: format!("callback:{id}"),
        sender: chat,
        sender_name: full_name(&query["from"]),
        body: data.clone(),
        attachments: vec![],
        selected_option: (!data.is_empty()).then_some(data),
        // The date is the message's with the buttons, not of the tap.
        sent_at: clock::now_ms(),
        thread_keys: vec![],
    }))
}
