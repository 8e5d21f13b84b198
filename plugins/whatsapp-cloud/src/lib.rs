//! WhatsApp Cloud API connector.
//!
//! Inbound: Meta calls the install's webhook with `X-Hub-Signature-256`
//! (HMAC-SHA256 of the body with the app secret); the subscription
//! handshake is a GET with `hub.verify_token` and `hub.challenge`.
//! Outbound: `POST {api}/{version}/{phone_number_id}/messages` with the
//! access token as a bearer credential the host adds.
//! Files: see [`media`]. Templates: see [`templates`].

mod inbound;
mod media;
mod outbound;
mod templates;

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector::ventanilla::plugin::templates::{AccountStanding, ProviderTemplate, TemplateError};
use ventanilla_sdk::connector::{Guest, InboundRequest, OutboundMessage, ParseError, Parsed, SendError, SendReceipt};
use ventanilla_sdk::connector_kit::{answer, meta_handshake, meta_signature};

struct WhatsApp;

/// The install's settings with their defaults.
pub(crate) struct Settings {
    pub phone_number_id: String,
    pub business_account_id: String,
    pub api_version: String,
    pub api_base_url: String,
    pub list_button: String,
}

impl Settings {
    fn parse(text: &str) -> Settings {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let get = |key: &str, default: &str| value[key].as_str().unwrap_or(default).to_owned();
        Settings {
            phone_number_id: get("phone_number_id", ""),
            business_account_id: get("business_account_id", ""),
            api_version: get("api_version", "v21.0"),
            api_base_url: get("api_base_url", "https://graph.facebook.com").trim_end_matches('/').to_owned(),
            list_button: get("list_button", "Ver opciones"),
        }
    }
}

impl Guest for WhatsApp {
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        if request.method.eq_ignore_ascii_case("GET") {
            return meta_handshake(&request, "verify_token");
        }
        meta_signature(&request, "app_secret")?;
        let body: Value =
            serde_json::from_slice(&request.body).map_err(|e| ParseError::Malformed(format!("not JSON: {e}")))?;
        let settings = Settings::parse(&request.settings);
        let mut parsed = answer(200, "text/plain", "EVENT_RECEIVED");
        inbound::parse(&body, &settings.phone_number_id, &mut parsed)?;
        Ok(parsed)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let settings = Settings::parse(&message.settings);
        outbound::send(&settings, &message)
    }

    fn list_templates(settings: String) -> Result<Vec<ProviderTemplate>, TemplateError> {
        templates::list(&Settings::parse(&settings))
    }

    fn account_standing(settings: String) -> Result<AccountStanding, TemplateError> {
        templates::standing(&Settings::parse(&settings))
    }

    fn locate_media(reference: String, settings: String) -> Result<MediaLocation, MediaError> {
        media::locate(&Settings::parse(&settings), &reference)
    }
}

ventanilla_sdk::connector::export_connector!(WhatsApp);
