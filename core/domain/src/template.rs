//! Message templates a provider keeps under review (WhatsApp's): what the
//! host read from the provider, the values a template message carries
//! beyond its body parameters, and whether one may be sent.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::channel_rules::Template;

/// Where the provider's review of a template stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    /// Paused by the provider for low quality; it may come back.
    Paused,
    Disabled,
}

impl TemplateStatus {
    pub const ALL: [TemplateStatus; 5] = [
        TemplateStatus::Approved,
        TemplateStatus::Pending,
        TemplateStatus::Rejected,
        TemplateStatus::Paused,
        TemplateStatus::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Approved => "approved",
            TemplateStatus::Pending => "pending",
            TemplateStatus::Rejected => "rejected",
            TemplateStatus::Paused => "paused",
            TemplateStatus::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<TemplateStatus> {
        TemplateStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderKind {
    Text,
    Image,
    Document,
    Video,
    Location,
}

/// A template's header as the provider keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateHeader {
    pub kind: HeaderKind,
    /// A text header's text, with `{{1}}` where its parameter goes.
    pub text: Option<String>,
    /// How many parameters a text header takes (0 or 1).
    pub parameters: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonKind {
    QuickReply,
    Url,
    PhoneNumber,
    CopyCode,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateButton {
    pub kind: ButtonKind,
    pub text: String,
    /// Whether a value goes with it when sent (a URL's variable suffix, a
    /// code to copy).
    pub takes_value: bool,
}

/// A template as the host read it from the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderTemplate {
    pub name: String,
    pub language: String,
    /// The provider's category, e.g. `UTILITY` or `MARKETING`.
    pub category: String,
    pub status: TemplateStatus,
    /// Why it was rejected or paused, when the provider says.
    pub reason: Option<String>,
    pub header: Option<TemplateHeader>,
    /// The body, with `{{1}}`, `{{2}}`... where its parameters go.
    pub body: String,
    pub body_parameters: u8,
    pub footer: Option<String>,
    pub buttons: Vec<TemplateButton>,
}

/// How the provider rates how people receive the account's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Green,
    Yellow,
    Red,
    Unknown,
}

impl Quality {
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Green => "green",
            Quality::Yellow => "yellow",
            Quality::Red => "red",
            Quality::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Quality {
        [Quality::Green, Quality::Yellow, Quality::Red]
            .into_iter()
            .find(|q| q.as_str() == text)
            .unwrap_or(Quality::Unknown)
    }
}

/// What the provider allows an account when it writes first (WhatsApp's
/// quality rating and messaging limit tier), which campaigns keep to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStanding {
    pub quality: Quality,
    /// How many different people it may start conversations with in 24
    /// hours; none: no limit known.
    pub daily_recipients: Option<u32>,
}

impl AccountStanding {
    /// The share of its usual rate a campaign takes: half while the
    /// provider rates the account's quality yellow, so complaints do not
    /// pile up faster than they can be seen.
    pub fn slows_to(self, rate: u32) -> u32 {
        match self.quality {
            Quality::Yellow => (rate / 2).max(1),
            _ => rate,
        }
    }

    /// Why a campaign may not send at all now: the provider rates the
    /// account red.
    pub fn holds(self) -> Option<&'static str> {
        (self.quality == Quality::Red).then_some(
            "the provider rates the account's quality red: campaigns wait, so it is not restricted, until an admin resumes them",
        )
    }
}

/// The value a template's header takes when sent: its text parameter, or
/// an `https` link the provider fetches its file from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum HeaderValue {
    Text(String),
    Image(String),
    Document(String),
    Video(String),
}

impl HeaderValue {
    fn kind(&self) -> HeaderKind {
        match self {
            HeaderValue::Text(_) => HeaderKind::Text,
            HeaderValue::Image(_) => HeaderKind::Image,
            HeaderValue::Document(_) => HeaderKind::Document,
            HeaderValue::Video(_) => HeaderKind::Video,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            HeaderValue::Text(v) | HeaderValue::Image(v) | HeaderValue::Document(v) | HeaderValue::Video(v) => v,
        }
    }

    /// The same header with its value replaced (a campaign filling
    /// `{{name}}` per person).
    pub fn with_value(&self, value: String) -> HeaderValue {
        match self {
            HeaderValue::Text(_) => HeaderValue::Text(value),
            HeaderValue::Image(_) => HeaderValue::Image(value),
            HeaderValue::Document(_) => HeaderValue::Document(value),
            HeaderValue::Video(_) => HeaderValue::Video(value),
        }
    }
}

/// The value one of a template's buttons takes when sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonValue {
    /// The button's position among the template's buttons, from 0.
    pub index: u8,
    pub value: String,
}

/// Most buttons a template has (WhatsApp: 10).
const MAX_BUTTONS: usize = 10;

/// Checks the header and button values a client sent with a template;
/// `field` is where the template was sent.
pub fn check_parts(field: &str, header: Option<&HeaderValue>, buttons: &[ButtonValue]) -> Result<(), Error> {
    if let Some(header) = header {
        let value = header.value();
        match header {
            HeaderValue::Text(_) if value.trim().is_empty() || value.chars().count() > 60 => {
                return Err(Error::invalid(format!("{field}.header.value"), "must be 1 to 60 characters"));
            }
            HeaderValue::Image(_) | HeaderValue::Document(_) | HeaderValue::Video(_)
                if !value.starts_with("https://") || value.len() > 2048 || value.contains(char::is_whitespace) =>
            {
                return Err(Error::invalid(
                    format!("{field}.header.value"),
                    "must be an https link (at most 2048 characters) the provider can fetch the file from",
                ));
            }
            _ => {}
        }
    }
    if buttons.len() > MAX_BUTTONS {
        return Err(Error::invalid(format!("{field}.buttons"), format!("at most {MAX_BUTTONS} buttons")));
    }
    for (i, button) in buttons.iter().enumerate() {
        if usize::from(button.index) >= MAX_BUTTONS {
            return Err(Error::invalid(format!("{field}.buttons[{i}].index"), "must be 0 to 9"));
        }
        if buttons[..i].iter().any(|b| b.index == button.index) {
            return Err(Error::invalid(format!("{field}.buttons[{i}].index"), "names a button already given"));
        }
        if button.value.trim().is_empty() || button.value.chars().count() > 2000 {
            return Err(Error::invalid(format!("{field}.buttons[{i}].value"), "must be 1 to 2000 characters"));
        }
    }
    Ok(())
}

impl ProviderTemplate {
    /// Whether `template` may be sent as this template now: approved, and
    /// with a value for every parameter, header and button that takes one
    /// (and none for what takes none). `field` is where it was sent.
    pub fn check(&self, field: &str, template: &Template) -> Result<(), Error> {
        let named = format!("the template `{}` ({})", self.name, self.language);
        if self.status != TemplateStatus::Approved {
            let why = self.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            return Err(Error::invalid(
                field,
                format!(
                    "{named} is {} by the provider{why}: it cannot be sent until it is approved",
                    self.status.as_str()
                ),
            ));
        }
        let given = template.parameters.len();
        if given != usize::from(self.body_parameters) {
            return Err(Error::invalid(
                format!("{field}.parameters"),
                format!("{named} takes {} body parameters, not {given}", self.body_parameters),
            ));
        }
        let wanted = self.header.as_ref().and_then(|h| match h.kind {
            HeaderKind::Text if h.parameters == 0 => None,
            kind => Some(kind),
        });
        match (wanted, &template.header) {
            (None, None) => {}
            (Some(HeaderKind::Location), _) => {
                return Err(Error::invalid(
                    format!("{field}.header"),
                    format!("{named} has a location header, which the host cannot fill"),
                ));
            }
            (Some(kind), Some(value)) if value.kind() == kind => {}
            (Some(kind), _) => {
                return Err(Error::invalid(
                    format!("{field}.header"),
                    format!("{named} needs a {} header value", header_name(kind)),
                ));
            }
            (None, Some(_)) => {
                return Err(Error::invalid(format!("{field}.header"), format!("{named} takes no header value")));
            }
        }
        for (index, button) in self.buttons.iter().enumerate() {
            let given = template.buttons.iter().any(|b| usize::from(b.index) == index);
            if button.takes_value && !given {
                return Err(Error::invalid(
                    format!("{field}.buttons"),
                    format!("{named} needs a value for its button {index} (\"{}\")", button.text),
                ));
            }
        }
        if let Some(extra) =
            template.buttons.iter().find(|b| !self.buttons.get(usize::from(b.index)).is_some_and(|t| t.takes_value))
        {
            return Err(Error::invalid(
                format!("{field}.buttons"),
                format!("{named} takes no value for a button {}", extra.index),
            ));
        }
        Ok(())
    }

    /// The kind of button `index` is, for the provider's request.
    pub fn button_kind(&self, index: u8) -> ButtonKind {
        self.buttons.get(usize::from(index)).map_or(ButtonKind::Other, |b| b.kind)
    }
}

fn header_name(kind: HeaderKind) -> &'static str {
    match kind {
        HeaderKind::Text => "text",
        HeaderKind::Image => "image",
        HeaderKind::Document => "document",
        HeaderKind::Video => "video",
        HeaderKind::Location => "location",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synced(status: TemplateStatus) -> ProviderTemplate {
        ProviderTemplate {
            name: "recordatorio".into(),
            language: "es".into(),
            category: "UTILITY".into(),
            status,
            reason: None,
            header: Some(TemplateHeader { kind: HeaderKind::Image, text: None, parameters: 0 }),
            body: "Hola {{1}}".into(),
            body_parameters: 1,
            footer: None,
            buttons: vec![
                TemplateButton { kind: ButtonKind::QuickReply, text: "Sí".into(), takes_value: false },
                TemplateButton { kind: ButtonKind::Url, text: "Ver".into(), takes_value: true },
            ],
        }
    }

    fn message() -> Template {
        Template {
            name: "recordatorio".into(),
            language: "es".into(),
            parameters: vec!["Ana".into()],
            header: Some(HeaderValue::Image("https://x.example/a.png".into())),
            buttons: vec![ButtonValue { index: 1, value: "abc".into() }],
        }
    }

    #[test]
    fn only_an_approved_template_with_every_value_goes() {
        assert!(synced(TemplateStatus::Approved).check("template", &message()).is_ok());
        let paused = synced(TemplateStatus::Paused).check("template", &message()).unwrap_err();
        assert!(paused.to_string().contains("paused"), "{paused}");
        let mut no_header = message();
        no_header.header = None;
        assert!(synced(TemplateStatus::Approved).check("template", &no_header).is_err());
        let mut wrong_kind = message();
        wrong_kind.header = Some(HeaderValue::Video("https://x.example/a.mp4".into()));
        assert!(synced(TemplateStatus::Approved).check("template", &wrong_kind).is_err());
        let mut no_button = message();
        no_button.buttons.clear();
        assert!(synced(TemplateStatus::Approved).check("template", &no_button).is_err());
        let mut extra = message();
        extra.buttons.push(ButtonValue { index: 0, value: "x".into() });
        assert!(synced(TemplateStatus::Approved).check("template", &extra).is_err());
        let mut short = message();
        short.parameters.clear();
        assert!(synced(TemplateStatus::Approved).check("template", &short).is_err());
    }

    #[test]
    fn a_yellow_account_goes_at_half_speed_and_a_red_one_holds() {
        let standing = |quality| AccountStanding { quality, daily_recipients: Some(1000) };
        assert_eq!(standing(Quality::Green).slows_to(40), 40);
        assert_eq!(standing(Quality::Yellow).slows_to(40), 20);
        assert_eq!(standing(Quality::Yellow).slows_to(1), 1);
        assert!(standing(Quality::Red).holds().is_some() && standing(Quality::Unknown).holds().is_none());
        assert_eq!(Quality::parse("red"), Quality::Red);
        assert_eq!(Quality::parse("purple"), Quality::Unknown);
    }

    #[test]
    fn header_links_are_https_and_buttons_distinct() {
        assert!(check_parts("t", Some(&HeaderValue::Image("http://x/a.png".into())), &[]).is_err());
        assert!(check_parts("t", Some(&HeaderValue::Text(" ".into())), &[]).is_err());
        let twice = [ButtonValue { index: 0, value: "a".into() }, ButtonValue { index: 0, value: "b".into() }];
        assert!(check_parts("t", None, &twice).is_err());
        assert!(check_parts("t", Some(&HeaderValue::Document("https://x/a.pdf".into())), &twice[..1]).is_ok());
    }
}
