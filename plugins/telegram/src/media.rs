//! Files people send: a `telegram-file:<file_id>` reference is resolved with
//! `getFile`, which answers the file's path; the host downloads
//! `{api}/file/bot<token>/<path>` with the token put in the URL itself.
//! The Bot API serves files up to 20 MB this way.

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::http;
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector_kit::{media_error, media_status_error};

use crate::Settings;

/// The prefix of the references this connector puts in attachments.
pub const PREFIX: &str = "telegram-file:";

pub fn locate(settings: &Settings, reference: &str) -> Result<MediaLocation, MediaError> {
    let Some(id) = reference
        .strip_prefix(PREFIX)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    else {
        return Err(MediaError::Gone(format!("`{reference}` is not a Telegram file reference")));
    };
    let request = http::Request {
        method: "GET".into(),
        url: format!("{}/bot{{secret}}/getFile?file_id={id}", settings.api_base_url),
        headers: vec![],
        body: vec![],
        auth: None,
        timeout_ms: Some(10_000),
    };
    let response = http::fetch_with_secret_in_url(&request, "bot_token").map_err(media_error)?;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    if !(200..300).contains(&response.status) || answer["ok"] != Value::Bool(true) {
        let why = answer["description"].as_str().unwrap_or("getFile failed");
        return Err(media_status_error(response.status, why));
    }
    let Some(path) = answer["result"]["file_path"].as_str().filter(|p| !p.is_empty() && !p.contains("..")) else {
        return Err(MediaError::Gone("Telegram has no path for the file (larger than 20 MB?)".into()));
    };
    Ok(MediaLocation {
        url: format!("{}/file/bot{{secret}}/{path}", settings.api_base_url),
        auth: None,
        secret_in_url: Some("bot_token".into()),
        content_type: None,
    })
}
