//! The `connector` world: bindings, the `secrets` import, and its two calls
//! (parse a provider's webhook; send a message).

use wasmtime::component::{HasSelf, Linker};

use super::host::HostState;
use super::{CallContext, Compiled, Error, PluginHost};

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        world: "connector",
        path: "../sdk/wit",
        imports: { default: async },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "ventanilla:plugin/types": crate::plugins::bot::bindings::ventanilla::plugin::types,
            "ventanilla:plugin/log": crate::plugins::bot::bindings::ventanilla::plugin::log,
            "ventanilla:plugin/kv": crate::plugins::bot::bindings::ventanilla::plugin::kv,
            "ventanilla:plugin/clock": crate::plugins::bot::bindings::ventanilla::plugin::clock,
        },
    });
}

pub(super) use bindings::ventanilla::plugin::http as http_wit;
use bindings::ventanilla::plugin::{consent, outbound, secrets, templates};
pub use bindings::{
    ContactProfile, DeliveryState, InboundMessage, InboundRequest, OutboundMessage, ParseError, Parsed, SendError,
    SendReceipt, StatusUpdate, Template,
};
pub use outbound::SendContext;
pub use templates::{HeaderValue as TemplateHeaderValue, TemplateParts};

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<(), Error> {
    bindings::Connector::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
        .map_err(|e| Error::Cache(format!("connector linker: {e}")))
}

/// A connector ready to run: imports resolved once, instantiated per call.
#[derive(Clone)]
pub struct ConnectorPlugin {
    pub hash: String,
    pre: bindings::ConnectorPre<HostState>,
    /// How the host downloads the files people send (WIT 1.2 and later).
    pub media: Option<super::media::MediaPlugin>,
    /// The e-mail exports (WIT 1.3 `mail-connector`).
    pub mail: Option<super::mail::MailPlugin>,
    /// How the host reads the provider's message templates (WIT 1.5).
    pub templates: Option<std::sync::Arc<super::message_templates::TemplatePlugin>>,
}

/// What parsing a webhook came to, with the lines the plugin logged.
pub type ParseOutcome = (Result<Parsed, ParseError>, Vec<(String, String)>);
/// What sending came to, with the lines the plugin logged.
pub type SendOutcome = (Result<SendReceipt, SendError>, Vec<(String, String)>);

/// Most messages, statuses or profiles one webhook may carry.
const MAX_ITEMS: usize = 1000;

impl PluginHost {
    /// Checks that `compiled` implements the connector world (WIT 1.x).
    pub fn prepare_connector(&self, compiled: &Compiled) -> Result<ConnectorPlugin, Error> {
        let wrong = |e: wasmtime::Error| Error::WrongWorld { world: "connector", reason: format!("{e:#}") };
        let instance = self.linkers.connector.instantiate_pre(&compiled.component).map_err(wrong)?;
        let media = super::media::MediaPlugin::of(&instance);
        let mail = super::mail::MailPlugin::of(&instance);
        let templates = super::message_templates::TemplatePlugin::of(&instance).map(std::sync::Arc::new);
        let pre = bindings::ConnectorPre::new(instance).map_err(wrong)?;
        Ok(ConnectorPlugin { hash: compiled.hash.clone(), pre, media, mail, templates })
    }

    /// Verifies and parses one webhook request, on the plugin executor.
    pub async fn run_parse(
        &self,
        connector: &ConnectorPlugin,
        ctx: CallContext,
        request: InboundRequest,
    ) -> Result<ParseOutcome, Error> {
        if request.body.len() + request.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            > self.limits.max_input_bytes
        {
            return Err(Error::InputTooLarge(self.limits.max_input_bytes));
        }
        let (host, connector) = (self.clone(), connector.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            let call = async {
                let instance = connector.pre.instantiate_async(&mut store).await?;
                instance.call_verify_and_parse(&mut store, &request).await
            };
            let result = host.within_wall(call).await;
            let (parsed, logs) = PluginHost::settle(&mut store, result)?;
            if let Ok(parsed) = &parsed {
                check_parsed(parsed, host.limits.max_output_bytes)?;
            }
            Ok((parsed, logs))
        })
        .await
    }

    /// Sends one message through a connector, on the plugin executor.
    pub async fn run_send(
        &self,
        connector: &ConnectorPlugin,
        ctx: CallContext,
        message: OutboundMessage,
    ) -> Result<SendOutcome, Error> {
        let (host, connector) = (self.clone(), connector.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            let call = async {
                let instance = connector.pre.instantiate_async(&mut store).await?;
                instance.call_send(&mut store, &message).await
            };
            let result = host.within_wall(call).await;
            PluginHost::settle(&mut store, result)
        })
        .await
    }
}

pub(super) fn check_parsed(parsed: &Parsed, max_bytes: usize) -> Result<(), Error> {
    let items = parsed.messages.len() + parsed.statuses.len() + parsed.profiles.len();
    if items > MAX_ITEMS {
        return Err(Error::InvalidOutput(format!("{items} items in one webhook; at most {MAX_ITEMS}")));
    }
    let size = parsed.response_body.len()
        + parsed.messages.iter().map(|m| m.body.len() + m.sender.len() + m.provider_message_id.len()).sum::<usize>();
    if size > max_bytes {
        return Err(Error::InvalidOutput(format!("{size} bytes parsed; at most {max_bytes}")));
    }
    if !(200..600).contains(&parsed.response_status) {
        return Err(Error::InvalidOutput(format!("{} is not an HTTP status", parsed.response_status)));
    }
    Ok(())
}

impl HostState {
    fn secret(&self, name: &str) -> Result<&crate::secrets::SecretValue, secrets::SecretError> {
        if !self.grants.secrets.iter().any(|s| s == name) {
            return Err(secrets::SecretError::Denied);
        }
        self.secrets.get(name).ok_or(secrets::SecretError::NotFound)
    }
}

impl secrets::Host for HostState {
    async fn verify_hmac_sha256(
        &mut self,
        secret: String,
        message: Vec<u8>,
        signature_hex: String,
    ) -> Result<bool, secrets::SecretError> {
        let value = self.secret(&secret)?;
        Ok(crate::secrets::verify_hmac_sha256_hex(value, &message, &signature_hex))
    }

    async fn verify_hmac_sha1_base64(
        &mut self,
        secret: String,
        message: Vec<u8>,
        signature_base64: String,
    ) -> Result<bool, secrets::SecretError> {
        let value = self.secret(&secret)?;
        Ok(crate::secrets::verify_hmac_sha1_base64(value, &message, &signature_base64))
    }

    async fn equals(&mut self, secret: String, presented: String) -> Result<bool, secrets::SecretError> {
        let value = self.secret(&secret)?;
        Ok(crate::secrets::equals(value, presented.as_bytes()))
    }
}

impl outbound::Host for HostState {
    async fn context(&mut self) -> Option<SendContext> {
        self.send_context
    }

    async fn template_values(&mut self) -> Option<templates::TemplateParts> {
        self.template_parts.clone()
    }
}

impl templates::Host for HostState {}

impl consent::Host for HostState {
    async fn current(&mut self, purpose: String, locale: String) -> Option<consent::ConsentText> {
        let db = self.db.clone()?;
        match crate::store::consent_text::current(&db.db, &purpose, &locale).await {
            Ok(text) => text.map(|t| consent::ConsentText {
                purpose: t.purpose,
                version: t.version,
                locale: t.locale,
                text: t.text,
                policy_url: t.policy_url,
            }),
            Err(e) => {
                tracing::warn!(install = %self.install, error = %e, "cannot read the consent text");
                None
            }
        }
    }
}
