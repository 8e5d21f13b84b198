//! Reading the Cloud API's webhook notifications: messages, the senders'
//! profile names and delivery statuses.

use serde_json::Value;
use ventanilla_sdk::connector::{ContactProfile, DeliveryState, InboundMessage, ParseError, Parsed, StatusUpdate};
use ventanilla_sdk::connector_kit::location;
use ventanilla_sdk::types::Attachment;

/// Media message types and the file extension used when no name is given.
const MEDIA: [(&str, &str); 5] =
    [("image", "jpg"), ("video", "mp4"), ("audio", "ogg"), ("document", "bin"), ("sticker", "webp")];

/// Adds what `body` carries for `phone_number_id` to `parsed`; changes for
/// other numbers of the same business account belong to other installs.
pub fn parse(body: &Value, phone_number_id: &str, parsed: &mut Parsed) -> Result<(), ParseError> {
    if body["object"] != "whatsapp_business_account" {
        return Err(ParseError::Malformed("`object` is not whatsapp_business_account".into()));
    }
    let entries = body["entry"].as_array().ok_or_else(|| ParseError::Malformed("`entry` is missing".into()))?;
    for (e, entry) in entries.iter().enumerate() {
        let changes = entry["changes"]
            .as_array()
            .ok_or_else(|| ParseError::Malformed(format!("entry[{e}].changes is missing")))?;
        for change in changes {
            if change["field"] != "messages" {
                continue;
            }
            let value = &change["value"];
            let number = value["metadata"]["phone_number_id"].as_str().unwrap_or_default();
            if !phone_number_id.is_empty() && number != phone_number_id {
                continue;
            }
            for contact in value["contacts"].as_array().into_iter().flatten() {
                if let (Some(wa_id), Some(name)) = (contact["wa_id"].as_str(), contact["profile"]["name"].as_str()) {
                    parsed.profiles.push(ContactProfile { sender: wa_id.to_owned(), name: Some(name.to_owned()) });
                }
            }
            let name_of = |wa_id: &str| {
                value["contacts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["wa_id"] == wa_id)
                    .and_then(|c| c["profile"]["name"].as_str())
                    .map(str::to_owned)
            };
            for message in value["messages"].as_array().into_iter().flatten() {
                if let Some(inbound) = message_of(message, &name_of)? {
                    parsed.messages.push(inbound);
                }
            }
            for status in value["statuses"].as_array().into_iter().flatten() {
                if let Some(update) = status_of(status) {
                    parsed.statuses.push(update);
                }
            }
        }
    }
    Ok(())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn millis(timestamp: &Value) -> i64 {
    let seconds = timestamp.as_str().and_then(|s| s.parse::<i64>().ok()).or_else(|| timestamp.as_i64());
    seconds.unwrap_or(0).saturating_mul(1000)
}

/// One message, or `None` for what is not a message to keep (reactions,
/// system notices).
fn message_of(m: &Value, name_of: &dyn Fn(&str) -> Option<String>) -> Result<Option<InboundMessage>, ParseError> {
    let (Some(id), Some(from)) = (m["id"].as_str(), m["from"].as_str()) else {
        return Err(ParseError::Malformed("a message without `id` or `from`".into()));
    };
    let kind = m["type"].as_str().unwrap_or_default();
    let mut inbound = InboundMessage {
        provider_message_id: id.to_owned(),
        sender: from.to_owned(),
        sender_name: name_of(from),
        body: String::new(),
        attachments: vec![],
        selected_option: None,
        sent_at: millis(&m["timestamp"]),
        thread_keys: vec![],
    };
    // A reply to one of our messages names it: threading by what it answers.
    if let Some(replied) = m["context"]["id"].as_str() {
        inbound.thread_keys.push(replied.to_owned());
    }
    match kind {
        "text" => inbound.body = text(&m["text"]["body"]),
        "interactive" => {
            let reply = &m["interactive"];
            let choice = match reply["type"].as_str() {
                Some("button_reply") => &reply["button_reply"],
                Some("list_reply") => &reply["list_reply"],
                _ => &Value::Null,
            };
            if choice.is_null() {
                inbound.body = format!("[interactive: {}]", reply["type"].as_str().unwrap_or("?"));
            } else {
                inbound.body = text(&choice["title"]);
                inbound.selected_option = choice["id"].as_str().map(str::to_owned);
            }
        }
        // A quick-reply button of a template.
        "button" => {
            inbound.body = text(&m["button"]["text"]);
            inbound.selected_option = m["button"]["payload"].as_str().map(str::to_owned);
        }
        "location" => {
            let place = &m["location"];
            let (lat, lon) = (place["latitude"].as_f64().unwrap_or(0.0), place["longitude"].as_f64().unwrap_or(0.0));
            let label: Vec<&str> = [place["name"].as_str(), place["address"].as_str()].into_iter().flatten().collect();
            inbound.body = location(lat, lon, &label);
        }
        "contacts" => {
            let cards: Vec<String> = m["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let phones: Vec<&str> =
                        c["phones"].as_array().into_iter().flatten().filter_map(|p| p["phone"].as_str()).collect();
                    format!("👤 {} {}", c["name"]["formatted_name"].as_str().unwrap_or("?"), phones.join(", "))
                })
                .collect();
            inbound.body = cards.join("\n");
        }
        "reaction" | "system" | "ephemeral" => return Ok(None),
        media if MEDIA.iter().any(|(k, _)| *k == media) => {
            let item = &m[media];
            let Some(media_id) = item["id"].as_str() else {
                return Err(ParseError::Malformed(format!("a {media} message without a media id")));
            };
            let extension = MEDIA.iter().find(|(k, _)| *k == media).map_or("bin", |(_, e)| e);
            inbound.body = text(&item["caption"]);
            inbound.attachments.push(Attachment {
                file_name: item["filename"].as_str().map_or_else(|| format!("{media}.{extension}"), str::to_owned),
                content_type: item["mime_type"].as_str().unwrap_or("application/octet-stream").to_owned(),
                size_bytes: 0,
                reference: format!("{}{media_id}", crate::media::PREFIX),
            });
        }
        // "unsupported" and types newer than this connector: keep that
        // something arrived, so an agent can ask for it another way.
        other => {
            let detail = m["errors"][0]["title"].as_str().unwrap_or_default();
            inbound.body = format!("[{other}] {detail}").trim_end().to_owned();
        }
    }
    Ok(Some(inbound))
}

fn status_of(s: &Value) -> Option<StatusUpdate> {
    let state = match s["status"].as_str()? {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        _ => return None,
    };
    let error = s["errors"].as_array().and_then(|e| e.first()).map(|e| {
        let detail = e["error_data"]["details"].as_str().or(e["message"].as_str()).unwrap_or_default();
        format!("{} {}: {detail}", e["code"], e["title"].as_str().unwrap_or_default()).trim_end_matches(": ").to_owned()
    });
    Some(StatusUpdate { provider_message_id: s["id"].as_str()?.to_owned(), state, error })
}
