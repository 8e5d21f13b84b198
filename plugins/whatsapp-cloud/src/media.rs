//! Files people send: a `whatsapp-media:<id>` reference is looked up on the
//! Graph API (`GET /{version}/{media-id}`), which answers a short-lived URL
//! that the host downloads with the same bearer credential.

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::http;
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector_kit::{media_error, media_status_error};

use crate::Settings;

/// The prefix of the references this connector puts in attachments.
pub const PREFIX: &str = "whatsapp-media:";

fn bearer() -> http::Auth {
    http::Auth::Header(http::HeaderFromSecret {
        name: "authorization".into(),
        prefix: "Bearer ".into(),
        secret: "access_token".into(),
    })
}

pub fn locate(settings: &Settings, reference: &str) -> Result<MediaLocation, MediaError> {
    let Some(id) = reference.strip_prefix(PREFIX).filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric())) else {
        return Err(MediaError::Gone(format!("`{reference}` is not a WhatsApp media reference")));
    };
    let mut url = format!("{}/{}/{id}", settings.api_base_url, settings.api_version);
    if !settings.phone_number_id.is_empty() {
        url.push_str(&format!("?phone_number_id={}", settings.phone_number_id));
    }
    let request = http::Request {
        method: "GET".into(),
        url,
        headers: vec![],
        body: vec![],
        auth: Some(bearer()),
        timeout_ms: Some(10_000),
    };
    let response = http::fetch(&request).map_err(media_error)?;
    if !(200..300).contains(&response.status) {
        return Err(media_status_error(response.status, "looking up the media"));
    }
    let found: Value = serde_json::from_slice(&response.body)
        .map_err(|e| MediaError::Retry(format!("the media lookup is not JSON: {e}")))?;
    let Some(url) = found["url"].as_str().filter(|u| u.starts_with("https://") || u.starts_with("http://")) else {
        return Err(MediaError::Gone("the media lookup carries no URL".into()));
    };
    Ok(MediaLocation {
        url: url.to_owned(),
        auth: Some(bearer()),
        secret_in_url: None,
        content_type: found["mime_type"].as_str().map(str::to_owned),
    })
}
