//! Reading Messenger Platform webhooks.

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::http::{self, Auth, HeaderFromSecret, Request};
use ventanilla_sdk::connector::{ContactProfile, DeliveryState, InboundMessage, ParseError, Parsed, StatusUpdate};
use ventanilla_sdk::connector_kit::location;
use ventanilla_sdk::types::Attachment;
use ventanilla_sdk::{kv, log};

use crate::{Platform, Settings};

pub fn parse(platform: &Platform, settings: &Settings, body: &Value, parsed: &mut Parsed) -> Result<(), ParseError> {
    if body["object"] != platform.object {
        return Err(ParseError::Malformed(format!("`object` is not {}", platform.object)));
    }
    let entries = body["entry"].as_array().ok_or_else(|| ParseError::Malformed("`entry` is missing".into()))?;
    for entry in entries {
        let account = entry["id"].as_str().unwrap_or_default();
        // Several accounts can share one app's webhook: each install takes its own.
        if !settings.account_id.is_empty() && account != settings.account_id {
            continue;
        }
        // `standby` events belong to another app in control of the thread.
        for event in entry["messaging"].as_array().into_iter().flatten() {
            event_of(platform, account, event, parsed)?;
        }
    }
    let senders: Vec<String> = parsed.messages.iter().map(|m| m.sender.clone()).collect();
    for sender in dedup(senders) {
        if let Some(name) = name_of(platform, settings, &sender) {
            for message in parsed.messages.iter_mut().filter(|m| m.sender == sender) {
                message.sender_name = Some(name.clone());
            }
            parsed.profiles.push(ContactProfile { sender, name: Some(name) });
        }
    }
    Ok(())
}

fn dedup(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

fn event_of(platform: &Platform, account: &str, event: &Value, parsed: &mut Parsed) -> Result<(), ParseError> {
    let sender = event["sender"]["id"].as_str().unwrap_or_default();
    if sender.is_empty() {
        return Err(ParseError::Malformed("a messaging event without `sender.id`".into()));
    }
    let sent_at = event["timestamp"].as_i64().unwrap_or(0);
    if let Some(message) = event.get("message") {
        // Echoes are the account's own messages (ours, or typed in Meta's inbox).
        if message["is_echo"] == true || sender == account || message["is_deleted"] == true {
            return Ok(());
        }
        parsed.messages.push(message_of(message, sender, sent_at)?);
    } else if let Some(postback) = event.get("postback") {
        let payload = postback["payload"].as_str().unwrap_or_default();
        let id = postback["mid"].as_str().map_or_else(|| format!("postback:{sender}:{sent_at}"), str::to_owned);
        parsed.messages.push(InboundMessage {
            provider_message_id: id,
            sender: sender.to_owned(),
            sender_name: None,
            body: postback["title"].as_str().unwrap_or(payload).to_owned(),
            attachments: vec![],
            selected_option: (!payload.is_empty()).then(|| payload.to_owned()),
            sent_at,
            thread_keys: vec![],
        });
    } else if let Some(delivery) = event.get("delivery") {
        for mid in delivery["mids"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            parsed.statuses.push(StatusUpdate {
                provider_message_id: mid.to_owned(),
                state: DeliveryState::Delivered,
                error: None,
            });
        }
    } else if let Some(read) = event.get("read") {
        match read["mid"].as_str() {
            Some(mid) if platform.read_has_mid => parsed.statuses.push(StatusUpdate {
                provider_message_id: mid.to_owned(),
                state: DeliveryState::Read,
                error: None,
            }),
            // A watermark says "everything before this time": the host
            // keeps states by message, so it is left out.
            _ => log::log(log::Level::Debug, "read watermark ignored"),
        }
    } else {
        // Reactions, referrals, opt-ins, edits: nothing for a case.
        let kind = event
            .as_object()
            .and_then(|o| o.keys().find(|k| !["sender", "recipient", "timestamp"].contains(&k.as_str())).cloned());
        log::log(log::Level::Debug, &format!("event {} ignored", kind.as_deref().unwrap_or("?")));
    }
    Ok(())
}

fn message_of(m: &Value, sender: &str, sent_at: i64) -> Result<InboundMessage, ParseError> {
    let Some(mid) = m["mid"].as_str() else {
        return Err(ParseError::Malformed("a message without `mid`".into()));
    };
    let mut inbound = InboundMessage {
        provider_message_id: mid.to_owned(),
        sender: sender.to_owned(),
        sender_name: None,
        body: m["text"].as_str().unwrap_or_default().to_owned(),
        attachments: vec![],
        selected_option: m["quick_reply"]["payload"].as_str().map(str::to_owned),
        sent_at,
        thread_keys: vec![],
    };
    if let Some(replied) = m["reply_to"]["mid"].as_str() {
        inbound.thread_keys.push(replied.to_owned());
    }
    let mut notes = vec![];
    for (n, item) in m["attachments"].as_array().into_iter().flatten().enumerate() {
        let kind = item["type"].as_str().unwrap_or_default();
        let payload = &item["payload"];
        match kind {
            "location" => {
                let at = &payload["coordinates"];
                let title: Vec<&str> = item["title"].as_str().into_iter().collect();
                notes.push(location(at["lat"].as_f64().unwrap_or(0.0), at["long"].as_f64().unwrap_or(0.0), &title));
            }
            "image" | "video" | "audio" | "file" => {
                let Some(url) = payload["url"].as_str() else {
                    return Err(ParseError::Malformed(format!("a {kind} attachment without a URL")));
                };
                let (name, content_type) = match kind {
                    "image" => ("imagen.jpg", "image/jpeg"),
                    "video" => ("video.mp4", "video/mp4"),
                    "audio" => ("audio.mp4", "audio/mp4"),
                    _ => ("archivo", "application/octet-stream"),
                };
                inbound.attachments.push(Attachment {
                    file_name: if n == 0 { name.to_owned() } else { format!("{}-{name}", n + 1) },
                    content_type: content_type.to_owned(),
                    size_bytes: 0,
                    reference: format!("{}{url}", crate::MEDIA_PREFIX),
                });
            }
            // Shared posts, stories, reels, links: the link is what an agent can open.
            other => {
                let link = payload["url"].as_str().unwrap_or_default();
                let title = item["title"].as_str().or(payload["title"].as_str()).unwrap_or_default();
                notes.push(format!("[{other}] {title} {link}").split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
    }
    if !notes.is_empty() {
        if !inbound.body.is_empty() {
            notes.insert(0, std::mem::take(&mut inbound.body));
        }
        inbound.body = notes.join("\n");
    }
    Ok(inbound)
}

/// A person's name from the Graph API, asked once per person; `None` when
/// it cannot be had (the conversation goes on without it).
fn name_of(platform: &Platform, settings: &Settings, sender: &str) -> Option<String> {
    let key = format!("name:{sender}");
    if let Ok(Some(known)) = kv::get(&key) {
        return String::from_utf8(known).ok();
    }
    let request = Request {
        method: "GET".into(),
        url: settings.url(&format!("{sender}?fields={}", platform.profile_fields)),
        headers: vec![],
        body: vec![],
        auth: Some(Auth::Header(HeaderFromSecret {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
            secret: "access_token".into(),
        })),
        timeout_ms: Some(3_000),
    };
    let response = match http::fetch(&request) {
        Ok(response) if response.status == 200 => response,
        Ok(response) => {
            log::log(log::Level::Info, &format!("profile of a sender: {} answered {}", platform.name, response.status));
            return None;
        }
        Err(e) => {
            log::log(log::Level::Info, &format!("profile of a sender: {e:?}"));
            return None;
        }
    };
    let profile: Value = serde_json::from_slice(&response.body).ok()?;
    let parts: Vec<&str> = ["first_name", "last_name"].iter().filter_map(|f| profile[*f].as_str()).collect();
    let name = match (parts.is_empty(), profile["name"].as_str(), profile["username"].as_str()) {
        (false, _, _) => parts.join(" "),
        (true, Some(name), _) => name.to_owned(),
        (true, None, username) => username?.to_owned(),
    };
    let _ = kv::set(&key, name.as_bytes());
    Some(name)
}
