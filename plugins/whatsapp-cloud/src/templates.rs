//! The business account's message templates, read from the Graph API's
//! template management endpoint
//! (`GET {api}/{version}/{business_account_id}/message_templates`), a page
//! of 100 at a time by its `after` cursor; and the phone number's quality
//! rating and messaging limit tier (`GET {api}/{version}/{phone_number_id}`).

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::http;
use ventanilla_sdk::connector::ventanilla::plugin::templates::{
    AccountStanding, ButtonKind, HeaderKind, ProviderTemplate, QualityRating, TemplateButton, TemplateError,
    TemplateHeader, TemplateStatus,
};
use ventanilla_sdk::connector_kit::retryable_status;

use crate::Settings;

/// Most pages read in one listing (250 templates per account is Meta's cap
/// for most accounts; 6,000 for the largest).
const MAX_PAGES: usize = 60;

const FIELDS: &str = "name,language,category,status,rejected_reason,components";

pub fn list(settings: &Settings) -> Result<Vec<ProviderTemplate>, TemplateError> {
    if settings.business_account_id.is_empty() {
        return Err(TemplateError::Refused("settings.business_account_id is not set".into()));
    }
    let base = format!(
        "{}/{}/{}/message_templates?fields={FIELDS}&limit=100",
        settings.api_base_url, settings.api_version, settings.business_account_id
    );
    let mut templates = vec![];
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let url = match &after {
            Some(cursor) => format!("{base}&after={}", encode(cursor)),
            None => base.clone(),
        };
        let page = get(url)?;
        templates.extend(page["data"].as_array().into_iter().flatten().filter_map(template_of));
        match page["paging"]["cursors"]["after"].as_str() {
            // Meta gives a `next` link only while more pages follow.
            Some(cursor) if page["paging"]["next"].is_string() => after = Some(cursor.to_owned()),
            _ => return Ok(templates),
        }
    }
    Err(TemplateError::Refused(format!("more than {MAX_PAGES} pages of templates")))
}

/// The number's quality rating and how many people it may write to first
/// in 24 hours.
pub fn standing(settings: &Settings) -> Result<AccountStanding, TemplateError> {
    if settings.phone_number_id.is_empty() {
        return Err(TemplateError::Refused("settings.phone_number_id is not set".into()));
    }
    let url = format!(
        "{}/{}/{}?fields=quality_rating,messaging_limit_tier",
        settings.api_base_url, settings.api_version, settings.phone_number_id
    );
    let number = get(url)?;
    let quality = match number["quality_rating"].as_str().unwrap_or_default().to_ascii_uppercase().as_str() {
        "GREEN" | "HIGH" => QualityRating::Green,
        "YELLOW" | "MEDIUM" => QualityRating::Yellow,
        "RED" | "LOW" => QualityRating::Red,
        _ => QualityRating::Unknown,
    };
    let daily_recipients = match number["messaging_limit_tier"].as_str().unwrap_or_default() {
        "TIER_50" => Some(50),
        "TIER_250" => Some(250),
        "TIER_1K" => Some(1_000),
        "TIER_2K" => Some(2_000),
        "TIER_10K" => Some(10_000),
        "TIER_100K" => Some(100_000),
        // TIER_UNLIMITED, or a tier this version does not know.
        _ => None,
    };
    Ok(AccountStanding { quality, daily_recipients })
}

fn get(url: String) -> Result<Value, TemplateError> {
    let request = http::Request {
        method: "GET".into(),
        url,
        headers: vec![],
        body: vec![],
        auth: Some(http::Auth::Header(http::HeaderFromSecret {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
            secret: "access_token".into(),
        })),
        timeout_ms: Some(15_000),
    };
    let response = http::fetch(&request).map_err(|e| match e {
        http::HttpError::Timeout => TemplateError::Retry("WhatsApp did not answer in time".into()),
        http::HttpError::Transport(why) => TemplateError::Retry(format!("cannot reach WhatsApp: {why}")),
        http::HttpError::Denied(why) => TemplateError::Refused(format!("request refused by the host: {why}")),
        http::HttpError::InvalidRequest(why) => TemplateError::Refused(format!("invalid request: {why}")),
        http::HttpError::TooLarge => TemplateError::Refused("the answer was too large".into()),
    })?;
    let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    if (200..300).contains(&response.status) {
        return Ok(body);
    }
    let error = &body["error"];
    let why = format!(
        "WhatsApp answered {}, error {}: {}",
        response.status,
        error["code"].as_i64().unwrap_or_default(),
        error["message"].as_str().unwrap_or("no error message")
    );
    Err(if retryable_status(response.status) { TemplateError::Retry(why) } else { TemplateError::Refused(why) })
}

/// One template as Meta describes it; none when it lacks a name, a
/// language or a body.
fn template_of(item: &Value) -> Option<ProviderTemplate> {
    let name = item["name"].as_str()?.to_owned();
    let language = item["language"].as_str()?.to_owned();
    let components = item["components"].as_array()?;
    let part =
        |kind: &str| components.iter().find(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind)));
    let body = part("BODY")?["text"].as_str()?.to_owned();
    let header = part("HEADER").and_then(header_of);
    let footer = part("FOOTER").and_then(|f| f["text"].as_str()).map(str::to_owned);
    let buttons = part("BUTTONS")
        .and_then(|b| b["buttons"].as_array())
        .map(|buttons| buttons.iter().map(button_of).collect())
        .unwrap_or_default();
    let reason = item["rejected_reason"].as_str().filter(|r| !r.is_empty() && *r != "NONE").map(str::to_owned);
    Some(ProviderTemplate {
        name,
        language,
        category: item["category"].as_str().unwrap_or("UTILITY").to_owned(),
        status: status_of(item["status"].as_str().unwrap_or_default()),
        reason,
        header,
        body_parameters: placeholders(&body),
        body,
        footer,
        buttons,
    })
}

fn status_of(status: &str) -> TemplateStatus {
    match status.to_ascii_uppercase().as_str() {
        "APPROVED" => TemplateStatus::Approved,
        "PENDING" | "IN_APPEAL" => TemplateStatus::Pending,
        "REJECTED" => TemplateStatus::Rejected,
        "PAUSED" => TemplateStatus::Paused,
        // DISABLED, PENDING_DELETION, DELETED, LIMIT_EXCEEDED and anything
        // new: not to be sent.
        _ => TemplateStatus::Disabled,
    }
}

fn header_of(header: &Value) -> Option<TemplateHeader> {
    let kind = match header["format"].as_str()?.to_ascii_uppercase().as_str() {
        "TEXT" => HeaderKind::Text,
        "IMAGE" => HeaderKind::Image,
        "DOCUMENT" => HeaderKind::Document,
        "VIDEO" => HeaderKind::Video,
        "LOCATION" => HeaderKind::Location,
        _ => return None,
    };
    let text = header["text"].as_str().map(str::to_owned);
    let parameters = text.as_deref().map(placeholders).unwrap_or_default();
    Some(TemplateHeader { kind, text, parameters })
}

fn button_of(button: &Value) -> TemplateButton {
    let text = button["text"].as_str().unwrap_or_default().to_owned();
    let (kind, takes_value) = match button["type"].as_str().unwrap_or_default().to_ascii_uppercase().as_str() {
        "QUICK_REPLY" => (ButtonKind::QuickReply, false),
        "URL" => (ButtonKind::Url, button["url"].as_str().is_some_and(|u| u.contains("{{"))),
        "PHONE_NUMBER" => (ButtonKind::PhoneNumber, false),
        "COPY_CODE" => (ButtonKind::CopyCode, true),
        _ => (ButtonKind::Other, false),
    };
    TemplateButton { kind, text, takes_value }
}

/// How many distinct `{{n}}` placeholders a text has.
fn placeholders(text: &str) -> u8 {
    let mut seen: Vec<&str> = vec![];
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else { break };
        let name = rest[start + 2..start + end].trim();
        if !name.is_empty() && !seen.contains(&name) {
            seen.push(name);
        }
        rest = &rest[start + end + 2..];
    }
    seen.len().min(u8::MAX as usize) as u8
}

/// Percent-encodes a cursor for a query string.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
