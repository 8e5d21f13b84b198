//! Sending through the Cloud API: text, quick replies as buttons or a list,
//! approved templates with header, body and button values, and files by link (the host hands
//! a link WhatsApp can fetch).

use serde_json::{Value, json};
use ventanilla_sdk::connector::ventanilla::plugin::templates::{ButtonKind, HeaderValue, TemplateParts};
use ventanilla_sdk::connector::ventanilla::plugin::{http, outbound};
use ventanilla_sdk::connector::{OutboundMessage, SendError, SendReceipt};
use ventanilla_sdk::connector_kit::{numbered, post_json_bearer, retryable_status, transport_error};

use crate::Settings;

/// Error codes Meta documents as passing: throttling and outages.
const RETRYABLE_CODES: [i64; 10] = [1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004];

pub fn send(settings: &Settings, message: &OutboundMessage) -> Result<SendReceipt, SendError> {
    if settings.phone_number_id.is_empty() {
        return Err(SendError { message: "settings.phone_number_id is not set".into(), retryable: false });
    }
    if !message.attachments.is_empty() {
        if message.template.is_some() {
            return Err(SendError { message: "a template message carries no files".into(), retryable: false });
        }
        return send_files(settings, message);
    }
    post(settings, &payload(settings, message))
}

/// Each file as a media message, the text as the first one's caption (or
/// on its own first, when the first file takes no caption).
fn send_files(settings: &Settings, message: &OutboundMessage) -> Result<SendReceipt, SendError> {
    let to = message.recipient.trim_start_matches('+');
    let mut caption = Some(message.body.trim()).filter(|b| !b.is_empty());
    let mut last = None;
    for file in &message.attachments {
        let kind = media_kind(&file.content_type);
        let mut media = json!({"link": file.reference});
        if kind == "document" {
            media["filename"] = json!(file.file_name);
        }
        match (kind, caption.take()) {
            ("audio", Some(text)) => {
                let body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                    "type": "text", "text": {"preview_url": false, "body": text}});
                post(settings, &body)?;
            }
            (_, Some(text)) => media["caption"] = json!(text),
            (_, None) => {}
        }
        let body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": kind, kind: media});
        last = Some(post(settings, &body)?);
    }
    last.ok_or_else(|| SendError { message: "nothing to send".into(), retryable: false })
}

/// WhatsApp's media message type for a content type.
fn media_kind(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" | "image/png" => "image",
        "video/mp4" | "video/3gpp" => "video",
        t if t.starts_with("audio/") => "audio",
        _ => "document",
    }
}

/// Sends one message body to the Cloud API.
fn post(settings: &Settings, payload: &Value) -> Result<SendReceipt, SendError> {
    let url = format!("{}/{}/{}/messages", settings.api_base_url, settings.api_version, settings.phone_number_id);
    let request = post_json_bearer(url, payload.to_string().into_bytes(), "access_token");
    let response = http::fetch(&request).map_err(transport_error)?;
    let reply: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    if (200..300).contains(&response.status) {
        return match reply["messages"][0]["id"].as_str() {
            Some(id) => Ok(SendReceipt { provider_message_id: id.to_owned() }),
            None => Err(SendError { message: "WhatsApp accepted the message without an id".into(), retryable: false }),
        };
    }
    Err(error_of(response.status, &reply["error"]))
}

/// The request body for one message.
fn payload(settings: &Settings, message: &OutboundMessage) -> Value {
    let to = message.recipient.trim_start_matches('+');
    let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to});
    if let Some(template) = &message.template {
        let mut content = json!({"name": template.name, "language": {"code": template.language}});
        let components = template_components(&template.parameters, outbound::template_values());
        if !components.is_empty() {
            content["components"] = json!(components);
        }
        body["type"] = json!("template");
        body["template"] = content;
        return body;
    }
    let options = &message.options;
    let fits = |max: usize| options.iter().all(|o| o.label.chars().count() <= max && o.id.len() <= 200);
    let text_fits = message.body.chars().count() <= 1024 && !message.body.trim().is_empty();
    if !options.is_empty() && options.len() <= 3 && fits(20) && text_fits {
        let buttons: Vec<Value> =
            options.iter().map(|o| json!({"type": "reply", "reply": {"id": o.id, "title": o.label}})).collect();
        body["type"] = json!("interactive");
        body["interactive"] = json!({"type": "button", "body": {"text": message.body}, "action": {"buttons": buttons}});
    } else if !options.is_empty() && options.len() <= 10 && fits(24) && text_fits {
        let rows: Vec<Value> = options.iter().map(|o| json!({"id": o.id, "title": o.label})).collect();
        body["type"] = json!("interactive");
        body["interactive"] = json!({
            "type": "list",
            "body": {"text": message.body},
            "action": {"button": settings.list_button, "sections": [{"title": settings.list_button, "rows": rows}]},
        });
    } else {
        body["type"] = json!("text");
        body["text"] = json!({"preview_url": false, "body": numbered(&message.body, options)});
    }
    body
}

/// A template's header, body and button values as Cloud API components.
fn template_components(parameters: &[String], parts: Option<TemplateParts>) -> Vec<Value> {
    let mut components = vec![];
    let parts = parts.unwrap_or(TemplateParts { header: None, buttons: vec![] });
    if let Some(header) = parts.header {
        let parameter = match header {
            HeaderValue::Text(text) => json!({"type": "text", "text": text}),
            HeaderValue::Image(link) => json!({"type": "image", "image": {"link": link}}),
            HeaderValue::Document(link) => json!({"type": "document", "document": {"link": link}}),
            HeaderValue::Video(link) => json!({"type": "video", "video": {"link": link}}),
        };
        components.push(json!({"type": "header", "parameters": [parameter]}));
    }
    if !parameters.is_empty() {
        let parameters: Vec<Value> = parameters.iter().map(|p| json!({"type": "text", "text": p})).collect();
        components.push(json!({"type": "body", "parameters": parameters}));
    }
    for button in parts.buttons {
        let (sub_type, parameter) = match button.kind {
            ButtonKind::QuickReply => ("quick_reply", json!({"type": "payload", "payload": button.value})),
            ButtonKind::CopyCode => ("copy_code", json!({"type": "coupon_code", "coupon_code": button.value})),
            _ => ("url", json!({"type": "text", "text": button.value})),
        };
        components.push(json!({"type": "button", "sub_type": sub_type, "index": button.index.to_string(),
            "parameters": [parameter]}));
    }
    components
}

fn error_of(status: u16, error: &Value) -> SendError {
    let code = error["code"].as_i64().unwrap_or_default();
    let text = error["message"].as_str().unwrap_or("no error message");
    let detail = error["error_data"]["details"].as_str().map(|d| format!(" ({d})")).unwrap_or_default();
    let hint = if code == 131047 {
        " — more than 24 hours since the person last wrote; only a template can be sent"
    } else {
        ""
    };
    SendError {
        message: format!("WhatsApp answered {status}, error {code}: {text}{detail}{hint}"),
        retryable: retryable_status(status) || RETRYABLE_CODES.contains(&code),
    }
}
