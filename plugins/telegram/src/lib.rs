//! Telegram Bot API connector.
//!
//! Inbound: Telegram posts each update to the install's webhook with the
//! `X-Telegram-Bot-Api-Secret-Token` header set when the webhook was
//! registered (`setWebhook` with `secret_token`); it is compared with the
//! install's `webhook_secret` by the host.
//! Outbound: `sendMessage` at `{api}/bot<token>/sendMessage`, the token put
//! in the URL by the host (`fetch-with-secret-in-url`); quick replies go as
//! a one-time reply keyboard, and the labels offered are remembered so the
//! person's tap comes back as the option's id.

mod inbound;
mod media;
mod outbound;

use serde_json::Value;
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector::ventanilla::plugin::secrets;
use ventanilla_sdk::connector::ventanilla::plugin::templates::{AccountStanding, ProviderTemplate, TemplateError};
use ventanilla_sdk::connector::{Guest, InboundRequest, OutboundMessage, ParseError, Parsed, SendError, SendReceipt};
use ventanilla_sdk::connector_kit::{answer, header};

struct Telegram;

/// The install's settings with their defaults.
pub(crate) struct Settings {
    pub api_base_url: String,
    pub groups: bool,
}

impl Settings {
    fn parse(text: &str) -> Settings {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        Settings {
            api_base_url: value["api_base_url"]
                .as_str()
                .unwrap_or("https://api.telegram.org")
                .trim_end_matches('/')
                .to_owned(),
            groups: value["groups"].as_bool().unwrap_or(false),
        }
    }
}

/// The kv key under which the options last offered in a chat are kept.
pub(crate) fn options_key(chat: &str) -> String {
    format!("options:{chat}")
}

impl Guest for Telegram {
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        if !request.method.eq_ignore_ascii_case("POST") {
            return Err(ParseError::Malformed("Telegram delivers updates with POST".into()));
        }
        let Some(token) = header(&request, "x-telegram-bot-api-secret-token") else {
            return Err(ParseError::Unauthorized("missing X-Telegram-Bot-Api-Secret-Token".into()));
        };
        match secrets::equals("webhook_secret", token) {
            Ok(true) => {}
            Ok(false) => return Err(ParseError::Unauthorized("X-Telegram-Bot-Api-Secret-Token does not match".into())),
            Err(e) => return Err(ParseError::Unauthorized(format!("cannot check the secret token: {e:?}"))),
        }
        let update: Value =
            serde_json::from_slice(&request.body).map_err(|e| ParseError::Malformed(format!("not JSON: {e}")))?;
        let settings = Settings::parse(&request.settings);
        let mut parsed = answer(200, "application/json", "{}");
        inbound::parse(&update, &settings, &mut parsed)?;
        Ok(parsed)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let settings = Settings::parse(&message.settings);
        outbound::send(&settings, &message)
    }

    /// The provider keeps no message templates, nor a messaging limit.
    fn list_templates(_settings: String) -> Result<Vec<ProviderTemplate>, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn account_standing(_settings: String) -> Result<AccountStanding, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn locate_media(reference: String, settings: String) -> Result<MediaLocation, MediaError> {
        media::locate(&Settings::parse(&settings), &reference)
    }
}

ventanilla_sdk::connector::export_connector!(Telegram);
