//! SMS through Twilio's Programmable Messaging (or a compatible API).
//!
//! Inbound: Twilio posts a form to the install's webhook and signs it in
//! `X-Twilio-Signature`: base64 HMAC-SHA1, with the auth token, of the URL
//! Twilio called followed by every form field's name and value sorted by
//! name. The same address receives delivery reports (`MessageStatus`).
//! Outbound: `POST {api}/2010-04-01/Accounts/{sid}/Messages.json`, a form,
//! with HTTP basic auth (account SID and the auth token the host adds).
//! Files people send (MMS) come as media URLs under the API, which the host
//! downloads with the same credential (Twilio then redirects to its CDN;
//! the credential does not follow).

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::http::{self, Auth, BasicFromSecret, Request};
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector::ventanilla::plugin::secrets;
use ventanilla_sdk::connector::ventanilla::plugin::templates::{AccountStanding, ProviderTemplate, TemplateError};
use ventanilla_sdk::connector::{
    DeliveryState, Guest, InboundMessage, InboundRequest, OutboundMessage, ParseError, Parsed, SendError, SendReceipt,
    StatusUpdate,
};
use ventanilla_sdk::connector_kit::{answer, header, numbered, retryable_status, transport_error};
use ventanilla_sdk::types::Attachment;

struct Twilio;

struct Settings {
    account_sid: String,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    webhook_url: String,
    api_base_url: String,
}

impl Settings {
    fn parse(text: &str) -> Settings {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let get = |key: &str| value[key].as_str().map(str::to_owned);
        Settings {
            account_sid: get("account_sid").unwrap_or_default(),
            from: get("from"),
            messaging_service_sid: get("messaging_service_sid"),
            webhook_url: get("webhook_url").unwrap_or_default(),
            api_base_url: get("api_base_url")
                .unwrap_or_else(|| "https://api.twilio.com".into())
                .trim_end_matches('/')
                .to_owned(),
        }
    }
}

/// An empty TwiML answer: nothing to reply right away (agents and bots
/// answer through the API).
const TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

impl Guest for Twilio {
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        let settings = Settings::parse(&request.settings);
        let form = parse_form(&request.body).ok_or_else(|| ParseError::Malformed("not a form".into()))?;
        let signature = header(&request, "x-twilio-signature").unwrap_or_default();
        if signature.is_empty() {
            return Err(ParseError::Unauthorized("missing X-Twilio-Signature".into()));
        }
        let mut sorted = form.clone();
        sorted.sort();
        let mut signed = settings.webhook_url.clone();
        for (key, value) in &sorted {
            signed.push_str(key);
            signed.push_str(value);
        }
        match secrets::verify_hmac_sha1_base64("auth_token", signed.as_bytes(), signature) {
            Ok(true) => {}
            Ok(false) => {
                return Err(ParseError::Unauthorized(
                    "X-Twilio-Signature does not match (is settings.webhook_url the URL configured in Twilio?)".into(),
                ));
            }
            Err(e) => return Err(ParseError::Unauthorized(format!("cannot check the signature: {e:?}"))),
        }
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let sid = field("MessageSid").or_else(|| field("SmsSid"));
        let Some(sid) = sid.filter(|s| !s.is_empty()) else {
            return Err(ParseError::Malformed("MessageSid is missing".into()));
        };
        if field("AccountSid").is_some_and(|a| a != settings.account_sid) {
            return Err(ParseError::Unauthorized("the request is for another Twilio account".into()));
        }
        let mut parsed = answer(200, "text/xml", TWIML);
        if let (Some(state), None) = (field("MessageStatus"), field("Body")) {
            let state = match state.as_str() {
                "sent" => DeliveryState::Sent,
                "delivered" => DeliveryState::Delivered,
                "read" => DeliveryState::Read,
                "failed" | "undelivered" => DeliveryState::Failed,
                // queued, sending, accepted, scheduled: nothing new for the person.
                _ => return Ok(parsed),
            };
            let error = field("ErrorCode").filter(|c| !c.is_empty()).map(|code| {
                let text = field("ErrorMessage").unwrap_or_default();
                format!("Twilio error {code} {text}").trim_end().to_owned()
            });
            parsed.statuses.push(StatusUpdate { provider_message_id: sid, state, error });
            return Ok(parsed);
        }
        let Some(from) = field("From").filter(|f| !f.is_empty()) else {
            return Err(ParseError::Malformed("From is missing".into()));
        };
        let media: usize = field("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0).min(10);
        let attachments = (0..media)
            .filter_map(|i| {
                let url = field(&format!("MediaUrl{i}"))?;
                let content_type =
                    field(&format!("MediaContentType{i}")).unwrap_or_else(|| "application/octet-stream".into());
                let name = url.rsplit('/').next().unwrap_or("media").to_owned();
                Some(Attachment { file_name: name, content_type, size_bytes: 0, reference: url })
            })
            .collect();
        parsed.messages.push(InboundMessage {
            provider_message_id: sid,
            sender: from,
            sender_name: None,
            body: field("Body").unwrap_or_default(),
            attachments,
            selected_option: None,
            sent_at: 0,
            thread_keys: vec![],
        });
        Ok(parsed)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let settings = Settings::parse(&message.settings);
        if message.template.is_some() {
            return Err(SendError { message: "SMS has no templates".into(), retryable: false });
        }
        // Twilio takes at most ten files with one message (MMS), by link.
        if message.attachments.len() > 10 {
            return Err(SendError { message: "an MMS carries at most 10 files".into(), retryable: false });
        }
        let mut form = vec![("To", message.recipient.clone()), ("Body", numbered(&message.body, &message.options))];
        form.extend(message.attachments.iter().map(|file| ("MediaUrl", file.reference.clone())));
        match (&settings.messaging_service_sid, &settings.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service.clone())),
            (None, Some(from)) => form.push(("From", from.clone())),
            (None, None) => {
                return Err(SendError {
                    message: "set settings.from or settings.messaging_service_sid".into(),
                    retryable: false,
                });
            }
        }
        if !settings.webhook_url.is_empty() {
            form.push(("StatusCallback", settings.webhook_url.clone()));
        }
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let request = Request {
            method: "POST".into(),
            url: format!("{}/2010-04-01/Accounts/{}/Messages.json", settings.api_base_url, settings.account_sid),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            body: body.join("&").into_bytes(),
            auth: Some(Auth::Basic(BasicFromSecret {
                user: settings.account_sid.clone(),
                secret: "auth_token".into(),
            })),
            timeout_ms: Some(10_000),
        };
        let response = http::fetch(&request).map_err(transport_error)?;
        let reply: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        if (200..300).contains(&response.status) {
            return match reply["sid"].as_str() {
                Some(sid) => Ok(SendReceipt { provider_message_id: sid.to_owned() }),
                None => {
                    Err(SendError { message: "Twilio accepted the message without a sid".into(), retryable: false })
                }
            };
        }
        let code = reply["code"].as_i64().unwrap_or_default();
        Err(SendError {
            message: format!(
                "Twilio answered {}, error {code}: {}",
                response.status,
                reply["message"].as_str().unwrap_or("no error message")
            ),
            // 20429: too many requests; 20500/20503: Twilio's own trouble.
            retryable: retryable_status(response.status) || matches!(code, 20429 | 20500 | 20503),
        })
    }

    /// The provider keeps no message templates, nor a messaging limit.
    fn list_templates(_settings: String) -> Result<Vec<ProviderTemplate>, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn account_standing(_settings: String) -> Result<AccountStanding, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn locate_media(reference: String, settings: String) -> Result<MediaLocation, MediaError> {
        let settings = Settings::parse(&settings);
        // Only Twilio's own media addresses get the account's credential.
        if !reference.starts_with(&format!("{}/", settings.api_base_url)) || !reference.contains("/Media/") {
            return Err(MediaError::Gone(format!("`{reference}` is not a Twilio media URL of this account")));
        }
        Ok(MediaLocation {
            url: reference,
            auth: Some(Auth::Basic(BasicFromSecret { user: settings.account_sid, secret: "auth_token".into() })),
            secret_in_url: None,
            content_type: None,
        })
    }
}

/// `application/x-www-form-urlencoded` into pairs; `None` if not UTF-8.
fn parse_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(key)?, decode(value)?))
        })
        .collect()
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

ventanilla_sdk::connector::export_connector!(Twilio);
