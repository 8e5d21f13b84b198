//! The message templates a provider keeps (WIT 1.5 `list-templates`) and the
//! account's standing with it (`account-standing`): the connector reads them
//! from the provider under its own grants, and the host checks what it
//! answers before keeping it.

use std::time::Duration;

use wasmtime::component::InstancePre;

use super::host::HostState;
use super::{CallContext, Error, PluginHost};
use crate::domain::template as domain;

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        world: "template-connector",
        path: "../sdk/wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "ventanilla:plugin/types": crate::plugins::bot::bindings::ventanilla::plugin::types,
            "ventanilla:plugin/log": crate::plugins::bot::bindings::ventanilla::plugin::log,
            "ventanilla:plugin/kv": crate::plugins::bot::bindings::ventanilla::plugin::kv,
            "ventanilla:plugin/clock": crate::plugins::bot::bindings::ventanilla::plugin::clock,
            "ventanilla:plugin/http": crate::plugins::connector::bindings::ventanilla::plugin::http,
            "ventanilla:plugin/secrets": crate::plugins::connector::bindings::ventanilla::plugin::secrets,
            "ventanilla:plugin/outbound": crate::plugins::connector::bindings::ventanilla::plugin::outbound,
            "ventanilla:plugin/templates": crate::plugins::connector::bindings::ventanilla::plugin::templates,
            "ventanilla:plugin/consent": crate::plugins::connector::bindings::ventanilla::plugin::consent,
            "ventanilla:plugin/media": crate::plugins::media::bindings::ventanilla::plugin::media,
        },
    });
}

use super::connector::bindings::ventanilla::plugin::templates as wit;

/// The `list-templates` export of a connector built for WIT 1.5 or later.
#[derive(Clone)]
pub struct TemplatePlugin {
    pre: bindings::TemplateConnectorPre<HostState>,
}

impl TemplatePlugin {
    /// The templates export of an instantiable connector; none when the
    /// component predates WIT 1.5.
    pub(super) fn of(pre: &InstancePre<HostState>) -> Option<TemplatePlugin> {
        bindings::TemplateConnectorPre::new(pre.clone()).ok().map(|pre| TemplatePlugin { pre })
    }
}

/// Why no templates were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotListed {
    /// The provider keeps none.
    Unsupported,
    /// The provider refused: the settings need fixing.
    Refused(String),
    /// Try again later.
    Retry(String),
}

/// What a listing came to, with the lines the plugin logged.
pub type ListOutcome = (Result<Vec<domain::ProviderTemplate>, NotListed>, Vec<(String, String)>);

/// Longest a listing may take: several pages from the provider.
const WALL: Duration = Duration::from_secs(30);
/// Most templates one account may have (WhatsApp's largest accounts: 6,000).
const MAX_TEMPLATES: usize = 6000;

impl PluginHost {
    /// Asks the connector for every template of its account.
    pub async fn run_list_templates(
        &self,
        templates: &TemplatePlugin,
        ctx: CallContext,
        settings: String,
    ) -> Result<ListOutcome, Error> {
        let (host, templates) = (self.clone(), templates.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            store.data_mut().deadline = std::time::Instant::now() + WALL;
            let call = async {
                let instance = templates.pre.instantiate_async(&mut store).await?;
                instance.call_list_templates(&mut store, &settings).await
            };
            let result = tokio::time::timeout(WALL, call).await;
            let (listed, logs) = PluginHost::settle(&mut store, result)?;
            let listed = match listed {
                Ok(list) if list.len() > MAX_TEMPLATES => {
                    return Err(Error::InvalidOutput(format!("{} templates; at most {MAX_TEMPLATES}", list.len())));
                }
                Ok(list) => Ok(list.into_iter().filter_map(checked).collect()),
                Err(e) => Err(not_listed(e)),
            };
            Ok((listed, logs))
        })
        .await
    }
}

impl PluginHost {
    /// Asks the connector for the account's quality rating and messaging
    /// limit.
    pub async fn run_account_standing(
        &self,
        templates: &TemplatePlugin,
        ctx: CallContext,
        settings: String,
    ) -> Result<(Result<domain::AccountStanding, NotListed>, Vec<(String, String)>), Error> {
        let (host, templates) = (self.clone(), templates.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            let call = async {
                let instance = templates.pre.instantiate_async(&mut store).await?;
                instance.call_account_standing(&mut store, &settings).await
            };
            let result = host.within_wall(call).await;
            let (answered, logs) = PluginHost::settle(&mut store, result)?;
            let standing = match answered {
                Ok(s) => Ok(domain::AccountStanding {
                    quality: match s.quality {
                        wit::QualityRating::Green => domain::Quality::Green,
                        wit::QualityRating::Yellow => domain::Quality::Yellow,
                        wit::QualityRating::Red => domain::Quality::Red,
                        wit::QualityRating::Unknown => domain::Quality::Unknown,
                    },
                    daily_recipients: s.daily_recipients,
                }),
                Err(e) => Err(not_listed(e)),
            };
            Ok((standing, logs))
        })
        .await
    }
}

fn not_listed(e: wit::TemplateError) -> NotListed {
    match e {
        wit::TemplateError::Unsupported => NotListed::Unsupported,
        wit::TemplateError::Refused(why) => NotListed::Refused(why),
        wit::TemplateError::Retry(why) => NotListed::Retry(why),
    }
}

/// A template as the host keeps it; none when its name or language could
/// never be sent (so nobody can pick it).
fn checked(t: wit::ProviderTemplate) -> Option<domain::ProviderTemplate> {
    crate::domain::channel_rules::Template::parse("template", &t.name, &t.language, vec![]).ok()?;
    let cut = |text: String, max: usize| -> String { text.chars().take(max).collect() };
    Some(domain::ProviderTemplate {
        name: t.name,
        language: t.language,
        category: cut(t.category, 40),
        status: match t.status {
            wit::TemplateStatus::Approved => domain::TemplateStatus::Approved,
            wit::TemplateStatus::Pending => domain::TemplateStatus::Pending,
            wit::TemplateStatus::Rejected => domain::TemplateStatus::Rejected,
            wit::TemplateStatus::Paused => domain::TemplateStatus::Paused,
            wit::TemplateStatus::Disabled => domain::TemplateStatus::Disabled,
        },
        reason: t.reason.map(|r| cut(r, 500)),
        header: t.header.map(|h| domain::TemplateHeader {
            kind: match h.kind {
                wit::HeaderKind::Text => domain::HeaderKind::Text,
                wit::HeaderKind::Image => domain::HeaderKind::Image,
                wit::HeaderKind::Document => domain::HeaderKind::Document,
                wit::HeaderKind::Video => domain::HeaderKind::Video,
                wit::HeaderKind::Location => domain::HeaderKind::Location,
            },
            text: h.text.map(|t| cut(t, 120)),
            parameters: h.parameters.min(1),
        }),
        body: cut(t.body, 1100),
        body_parameters: t.body_parameters.min(20),
        footer: t.footer.map(|f| cut(f, 120)),
        buttons: t
            .buttons
            .into_iter()
            .take(10)
            .map(|b| domain::TemplateButton {
                kind: button_kind(b.kind),
                text: cut(b.text, 40),
                takes_value: b.takes_value,
            })
            .collect(),
    })
}

fn button_kind(kind: wit::ButtonKind) -> domain::ButtonKind {
    match kind {
        wit::ButtonKind::QuickReply => domain::ButtonKind::QuickReply,
        wit::ButtonKind::Url => domain::ButtonKind::Url,
        wit::ButtonKind::PhoneNumber => domain::ButtonKind::PhoneNumber,
        wit::ButtonKind::CopyCode => domain::ButtonKind::CopyCode,
        wit::ButtonKind::Other => domain::ButtonKind::Other,
    }
}

/// The header and button values of a template message, for the
/// connector's `outbound.template-values` during its send; `synced` gives
/// each button's kind.
pub fn parts_of(
    template: &crate::domain::channel_rules::Template,
    synced: Option<&domain::ProviderTemplate>,
) -> Option<wit::TemplateParts> {
    if template.header.is_none() && template.buttons.is_empty() {
        return None;
    }
    let header = template.header.as_ref().map(|h| match h {
        domain::HeaderValue::Text(v) => wit::HeaderValue::Text(v.clone()),
        domain::HeaderValue::Image(v) => wit::HeaderValue::Image(v.clone()),
        domain::HeaderValue::Document(v) => wit::HeaderValue::Document(v.clone()),
        domain::HeaderValue::Video(v) => wit::HeaderValue::Video(v.clone()),
    });
    let buttons = template
        .buttons
        .iter()
        .map(|b| wit::ButtonValue {
            index: b.index,
            kind: button_kind_out(synced.map_or(domain::ButtonKind::Url, |s| s.button_kind(b.index))),
            value: b.value.clone(),
        })
        .collect();
    Some(wit::TemplateParts { header, buttons })
}

fn button_kind_out(kind: domain::ButtonKind) -> wit::ButtonKind {
    match kind {
        domain::ButtonKind::QuickReply => wit::ButtonKind::QuickReply,
        domain::ButtonKind::Url => wit::ButtonKind::Url,
        domain::ButtonKind::PhoneNumber => wit::ButtonKind::PhoneNumber,
        domain::ButtonKind::CopyCode => wit::ButtonKind::CopyCode,
        domain::ButtonKind::Other => wit::ButtonKind::Other,
    }
}
