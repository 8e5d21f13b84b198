//! Meta's Messenger Platform, shared by the Messenger and Instagram
//! connectors: the two differ in the webhook's `object`, the setting naming
//! the account, the profile fields and the text length.
//!
//! Inbound: the GET subscription handshake (`hub.verify_token`), then
//! `X-Hub-Signature-256` over the body with the app secret; each entry's
//! `messaging` events carry messages, quick-reply and button taps, and
//! delivery and read receipts. A person's name is asked of the Graph API
//! once and remembered.
//! Files people send come as URLs on Meta's CDN, downloaded by the host.
//! Outbound: `POST {api}/{version}/me/messages` with the page access token
//! the host adds. Inside 24 hours of the person's last message a reply is a
//! `RESPONSE`; later (up to 7 days, which the host enforces, and only from a
//! person on staff) it carries the `HUMAN_AGENT` tag.

mod inbound;
mod outbound;

/// The prefix of the references this crate puts in attachments: the
/// attachment's URL on Meta's CDN, which the host downloads as is.
const MEDIA_PREFIX: &str = "meta-url:";

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector::{InboundRequest, OutboundMessage, ParseError, Parsed, SendError, SendReceipt};
use ventanilla_sdk::connector_kit::{answer, meta_handshake, meta_signature};

/// What sets one Meta messaging product apart.
pub struct Platform {
    /// The webhook's `object`: `page` or `instagram`.
    pub object: &'static str,
    /// The setting with the account id (the entries' `id`).
    pub account_setting: &'static str,
    /// The product's name, in error messages.
    pub name: &'static str,
    /// Profile fields asked of the Graph API for a person's name.
    pub profile_fields: &'static str,
    /// Longest text of one message, in characters.
    pub max_text: usize,
    /// Whether read receipts name the message (Instagram) rather than a
    /// watermark time (Messenger).
    pub read_has_mid: bool,
}

/// The install's settings with their defaults.
pub(crate) struct Settings {
    pub account_id: String,
    pub api_version: String,
    pub api_base_url: String,
}

impl Settings {
    fn parse(platform: &Platform, text: &str) -> Settings {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let get = |key: &str, default: &str| value[key].as_str().unwrap_or(default).to_owned();
        Settings {
            account_id: get(platform.account_setting, ""),
            api_version: get("api_version", "v21.0"),
            api_base_url: get("api_base_url", "https://graph.facebook.com").trim_end_matches('/').to_owned(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.api_base_url, self.api_version)
    }
}

impl Platform {
    /// Where the file a `meta-url:` reference names is: the URL itself.
    pub fn locate(&self, reference: &str) -> Result<MediaLocation, MediaError> {
        let Some(url) =
            reference.strip_prefix(MEDIA_PREFIX).filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        else {
            return Err(MediaError::Gone(format!("`{reference}` is not a {} file reference", self.name)));
        };
        Ok(MediaLocation { url: url.to_owned(), auth: None, secret_in_url: None, content_type: None })
    }

    pub fn verify_and_parse(&self, request: InboundRequest) -> Result<Parsed, ParseError> {
        if request.method.eq_ignore_ascii_case("GET") {
            return meta_handshake(&request, "verify_token");
        }
        meta_signature(&request, "app_secret")?;
        let body: Value =
            serde_json::from_slice(&request.body).map_err(|e| ParseError::Malformed(format!("not JSON: {e}")))?;
        let settings = Settings::parse(self, &request.settings);
        let mut parsed = answer(200, "text/plain", "EVENT_RECEIVED");
        inbound::parse(self, &settings, &body, &mut parsed)?;
        Ok(parsed)
    }

    pub fn send(&self, message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let settings = Settings::parse(self, &message.settings);
        outbound::send(self, &settings, &message)
    }
}
