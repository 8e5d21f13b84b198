//! Instagram Direct connector: an Instagram professional account's
//! conversations through Meta's Messenger Platform (see the
//! `meta-messaging` crate).

use meta_messaging::Platform;
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector::ventanilla::plugin::templates::{AccountStanding, ProviderTemplate, TemplateError};
use ventanilla_sdk::connector::{Guest, InboundRequest, OutboundMessage, ParseError, Parsed, SendError, SendReceipt};

const INSTAGRAM: Platform = Platform {
    object: "instagram",
    account_setting: "instagram_account_id",
    name: "Instagram",
    profile_fields: "name,username",
    // Instagram caps a text at 1000 bytes; 500 characters always fit.
    max_text: 500,
    read_has_mid: true,
};

struct Instagram;

impl Guest for Instagram {
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        INSTAGRAM.verify_and_parse(request)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        INSTAGRAM.send(message)
    }

    /// The provider keeps no message templates, nor a messaging limit.
    fn list_templates(_settings: String) -> Result<Vec<ProviderTemplate>, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn account_standing(_settings: String) -> Result<AccountStanding, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn locate_media(reference: String, _settings: String) -> Result<MediaLocation, MediaError> {
        INSTAGRAM.locate(&reference)
    }
}

ventanilla_sdk::connector::export_connector!(Instagram);
