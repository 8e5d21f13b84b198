//! What a channel allows when staff or a bot write to a person: some
//! providers only take free text within a window after the person's last
//! message (WhatsApp: 24 hours), and after it only an approved template
//! (WhatsApp) or only a human agent for a few more days (Messenger and
//! Instagram's `HUMAN_AGENT` tag).

use chrono::{DateTime, Duration, Utc};

use super::{AuthorKind, Error};

/// A connector's rules, declared in its manifest's `[rules]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelRules {
    /// Free text only this many hours after the person's last message.
    pub reply_window_hours: Option<u32>,
    /// What may still be sent once the window has closed.
    pub after_window: AfterWindow,
    /// Most sends per second through one channel account.
    pub max_sends_per_second: Option<u32>,
    /// Most webhook requests one address may make to one channel account in
    /// an hour: a channel the public posts to directly (a web form).
    pub max_posts_per_ip_per_hour: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AfterWindow {
    /// Nothing: the person must write first.
    #[default]
    Nothing,
    /// An approved template (WhatsApp).
    Template,
    /// A person on staff (not a bot) may still answer for this many hours
    /// after the person's last message (Meta's `HUMAN_AGENT` tag: 7 days).
    HumanAgent { hours: u32 },
}

impl AfterWindow {
    /// `value` from a manifest; `human_agent_hours` is its
    /// `human_agent_window_hours`, which only `human_agent` takes.
    pub fn parse(field: &str, value: &str, human_agent_hours: Option<u32>) -> Result<Self, Error> {
        match (value, human_agent_hours) {
            ("nothing", None) => Ok(AfterWindow::Nothing),
            ("template", None) => Ok(AfterWindow::Template),
            ("human_agent", hours) => Ok(AfterWindow::HumanAgent { hours: hours.unwrap_or(7 * 24) }),
            ("nothing" | "template", Some(_)) => {
                Err(Error::invalid(field, "human_agent_window_hours goes only with after_window = \"human_agent\""))
            }
            (other, _) => {
                Err(Error::invalid(field, format!("`{other}` must be one of: nothing, template, human_agent")))
            }
        }
    }
}

/// An approved message template and the values of its placeholders.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Template {
    pub name: String,
    /// Language code the template was approved in, e.g. `es` or `es_CO`.
    pub language: String,
    pub parameters: Vec<String>,
    /// The header's value, for a template whose header takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<crate::template::HeaderValue>,
    /// Values of the buttons that take one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<crate::template::ButtonValue>,
}

impl Template {
    /// Checks a template named by a client; `field` is where it was sent.
    pub fn parse(field: &str, name: &str, language: &str, parameters: Vec<String>) -> Result<Template, Error> {
        let valid_name = !name.is_empty()
            && name.len() <= 512
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(Error::invalid(format!("{field}.name"), "must be the template's name: lowercase, digits, `_`"));
        }
        let valid_language = (2..=16).contains(&language.len())
            && language.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_language {
            return Err(Error::invalid(format!("{field}.language"), "must be a language code such as es or es_CO"));
        }
        if parameters.len() > 20 {
            return Err(Error::invalid(format!("{field}.parameters"), "at most 20 parameters"));
        }
        for (i, p) in parameters.iter().enumerate() {
            if p.trim().is_empty() || p.chars().count() > 1024 {
                return Err(Error::invalid(format!("{field}.parameters[{i}]"), "must be 1 to 1024 characters"));
            }
        }
        Ok(Template { name: name.to_owned(), language: language.to_owned(), parameters, header: None, buttons: vec![] })
    }

    /// The same template with header and button values, checked.
    pub fn with_parts(
        mut self,
        field: &str,
        header: Option<crate::template::HeaderValue>,
        buttons: Vec<crate::template::ButtonValue>,
    ) -> Result<Template, Error> {
        crate::template::check_parts(field, header.as_ref(), &buttons)?;
        self.header = header;
        self.buttons = buttons;
        Ok(self)
    }

    /// What the conversation shows for a template message.
    pub fn summary(&self) -> String {
        if self.parameters.is_empty() {
            format!("[{}]", self.name)
        } else {
            format!("[{}] {}", self.name, self.parameters.join(" · "))
        }
    }
}

impl ChannelRules {
    /// Whether an outbound message by `author` may go now, given when the
    /// person last wrote on this case.
    pub fn check_outbound(
        &self,
        last_inbound: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        template: Option<&Template>,
        author: AuthorKind,
    ) -> Result<(), Error> {
        let Some(hours) = self.reply_window_hours else {
            return match template {
                Some(_) if self.after_window != AfterWindow::Template => {
                    Err(Error::invalid("template", "this channel does not send templates"))
                }
                _ => Ok(()),
            };
        };
        let within = |hours: u32| last_inbound.is_some_and(|at| now - at < Duration::hours(i64::from(hours)));
        let open = within(hours);
        match (open, template, self.after_window) {
            (_, Some(_), AfterWindow::Template) => Ok(()),
            (_, Some(_), _) => Err(Error::invalid("template", "this channel does not send templates")),
            (true, None, _) => Ok(()),
            (false, None, AfterWindow::HumanAgent { hours: longer }) => match (author, within(longer)) {
                (AuthorKind::Agent, true) => Ok(()),
                (_, true) => Err(Error::invalid(
                    "body",
                    format!(
                        "more than {hours} hours have passed since the person last wrote: only a person on staff may answer now, not a bot or the system"
                    ),
                )),
                (_, false) => Err(Error::invalid(
                    "body",
                    format!(
                        "more than {longer} hours have passed since the person last wrote: wait until they write again"
                    ),
                )),
            },
            (false, None, AfterWindow::Template) => Err(Error::invalid(
                "body",
                format!(
                    "more than {hours} hours have passed since the person last wrote: only an approved template can be sent now (send `template` instead of free text)"
                ),
            )),
            (false, None, AfterWindow::Nothing) => Err(Error::invalid(
                "body",
                format!("more than {hours} hours have passed since the person last wrote: wait until they write again"),
            )),
        }
    }

    /// When free text closes, if the channel has a window.
    pub fn window_closes_at(&self, last_inbound: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let hours = self.reply_window_hours?;
        last_inbound.map(|at| at + Duration::hours(i64::from(hours)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whatsapp() -> ChannelRules {
        ChannelRules {
            reply_window_hours: Some(24),
            after_window: AfterWindow::Template,
            max_sends_per_second: None,
            max_posts_per_ip_per_hour: None,
        }
    }

    #[test]
    fn free_text_only_inside_the_window() {
        let now = Utc::now();
        let template = Template::parse("template", "aviso_cita", "es", vec!["Ana".into()]).unwrap();
        let rules = whatsapp();
        let agent = AuthorKind::Agent;
        assert!(rules.check_outbound(Some(now - Duration::hours(23)), now, None, agent).is_ok());
        let late = rules.check_outbound(Some(now - Duration::hours(25)), now, None, agent).unwrap_err();
        assert!(late.to_string().starts_with("body: more than 24 hours"), "{late}");
        assert!(rules.check_outbound(None, now, None, agent).is_err(), "the person never wrote");
        assert!(rules.check_outbound(Some(now - Duration::hours(25)), now, Some(&template), agent).is_ok());
        let plain = ChannelRules::default();
        assert!(plain.check_outbound(None, now, None, agent).is_ok());
        assert!(plain.check_outbound(None, now, Some(&template), agent).is_err(), "no templates on this channel");
        assert_eq!(rules.window_closes_at(Some(now)), Some(now + Duration::hours(24)));
    }

    #[test]
    fn after_the_window_only_a_human_agent_for_a_week() {
        let now = Utc::now();
        let rules = ChannelRules {
            reply_window_hours: Some(24),
            after_window: AfterWindow::HumanAgent { hours: 168 },
            max_sends_per_second: None,
            max_posts_per_ip_per_hour: None,
        };
        let two_days = Some(now - Duration::hours(48));
        assert!(rules.check_outbound(Some(now - Duration::hours(2)), now, None, AuthorKind::Bot).is_ok());
        assert!(rules.check_outbound(two_days, now, None, AuthorKind::Agent).is_ok());
        let bot = rules.check_outbound(two_days, now, None, AuthorKind::Bot).unwrap_err();
        assert!(bot.to_string().contains("only a person on staff"), "{bot}");
        let late = rules.check_outbound(Some(now - Duration::hours(170)), now, None, AuthorKind::Agent).unwrap_err();
        assert!(late.to_string().contains("more than 168 hours"), "{late}");
        let template = Template::parse("template", "aviso", "es", vec![]).unwrap();
        assert!(rules.check_outbound(two_days, now, Some(&template), AuthorKind::Agent).is_err());
        assert_eq!(AfterWindow::parse("f", "human_agent", None).unwrap(), AfterWindow::HumanAgent { hours: 168 });
        assert!(AfterWindow::parse("f", "template", Some(10)).is_err());
    }

    #[test]
    fn templates_are_checked() {
        assert!(Template::parse("t", "Aviso Cita", "es", vec![]).is_err());
        assert!(Template::parse("t", "aviso", "e", vec![]).is_err());
        let err = Template::parse("t", "aviso", "es", vec!["".into()]).unwrap_err();
        assert_eq!(err, Error::invalid("t.parameters[0]", "must be 1 to 1024 characters"));
        assert_eq!(Template::parse("t", "aviso", "es_CO", vec!["a".into()]).unwrap().summary(), "[aviso] a");
    }
}
