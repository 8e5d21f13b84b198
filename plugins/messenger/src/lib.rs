//! Facebook Messenger connector: a Facebook Page's conversations through
//! Meta's Messenger Platform (see the `meta-messaging` crate).

use meta_messaging::Platform;
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector::ventanilla::plugin::templates::{AccountStanding, ProviderTemplate, TemplateError};
use ventanilla_sdk::connector::{Guest, InboundRequest, OutboundMessage, ParseError, Parsed, SendError, SendReceipt};

const MESSENGER: Platform = Platform {
    object: "page",
    account_setting: "page_id",
    name: "Messenger",
    profile_fields: "first_name,last_name",
    max_text: 2000,
    read_has_mid: false,
};

struct Messenger;

impl Guest for Messenger {
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        MESSENGER.verify_and_parse(request)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        MESSENGER.send(message)
    }

    /// The provider keeps no message templates, nor a messaging limit.
    fn list_templates(_settings: String) -> Result<Vec<ProviderTemplate>, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn account_standing(_settings: String) -> Result<AccountStanding, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn locate_media(reference: String, _settings: String) -> Result<MediaLocation, MediaError> {
        MESSENGER.locate(&reference)
    }
}

ventanilla_sdk::connector::export_connector!(Messenger);
