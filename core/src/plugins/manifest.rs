//! `plugin.toml`: what a plugin is and what it asks for. Parsed and checked
//! on install; every problem names its key.

use serde::Deserialize;

use crate::domain::channel_rules::{AfterWindow, ChannelRules};

/// WIT versions this host can run.
pub const SUPPORTED_WIT: [&str; 6] = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"];

/// Largest manifest accepted.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

pub use crate::domain::plugin::{Capabilities, World};

/// A checked manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    pub world: World,
    pub wit: String,
    pub description: String,
    pub capabilities: Capabilities,
    /// JSON Schema of the per-install settings.
    pub settings_schema: serde_json::Value,
    /// The channel a connector links (connectors only).
    pub channel: Option<crate::domain::Channel>,
    /// What the channel allows (connectors only): reply window, sending rate.
    pub rules: ChannelRules,
}

impl Manifest {
    /// Whether the plugin was built against WIT `1.minor` or later (what
    /// the host may send it depends on that).
    pub fn wit_at_least(&self, minor: u32) -> bool {
        let mut parts = self.wit.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, wit_minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        major > 1 || (major == 1 && wit_minor >= minor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    name: String,
    version: String,
    world: String,
    wit: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    capabilities: Capabilities,
    #[serde(default)]
    settings_schema: Option<toml::Value>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    rules: Option<RawRules>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    reply_window_hours: Option<u32>,
    after_window: Option<String>,
    human_agent_window_hours: Option<u32>,
    max_sends_per_second: Option<u32>,
    max_posts_per_ip_per_hour: Option<u32>,
}

/// A problem with a manifest, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ManifestError {
    pub key: String,
    pub message: String,
}

fn fail<T>(key: &str, message: impl Into<String>) -> Result<T, ManifestError> {
    Err(ManifestError { key: key.into(), message: message.into() })
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        if text.len() > MAX_MANIFEST_BYTES {
            return fail("plugin.toml", format!("larger than {MAX_MANIFEST_BYTES} bytes"));
        }
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            let key =
                message.split('`').nth(1).filter(|_| message.contains("field")).unwrap_or("plugin.toml").to_owned();
            ManifestError { key, message }
        })?;
        let is_id = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        };
        if !is_id(&raw.id) {
            return fail("id", "must be 1 to 64 lowercase letters, digits and dashes, e.g. `faq-bot`");
        }
        if raw.name.trim().is_empty() || raw.name.chars().count() > 100 {
            return fail("name", "must be 1 to 100 characters");
        }
        if !is_version(&raw.version) {
            return fail("version", "must be a version such as 1.2.0");
        }
        let world = match raw.world.as_str() {
            "bot" => World::Bot,
            "protocol" => World::Protocol,
            "connector" => World::Connector,
            other => return fail("world", format!("`{other}` is not a world; use bot, protocol or connector")),
        };
        if !SUPPORTED_WIT.contains(&raw.wit.as_str()) {
            return fail("wit", format!("`{}` is not supported; this host runs {}", raw.wit, SUPPORTED_WIT.join(", ")));
        }
        check_capabilities(world, &raw.capabilities)?;
        let channel = match (world, raw.channel.as_deref()) {
            (World::Connector, None) => {
                return fail("channel", "a connector names the channel it links, e.g. `channel = \"whatsapp\"`");
            }
            (World::Connector, Some(text)) => Some(
                crate::domain::Channel::parse("channel", text)
                    .map_err(|e| ManifestError { key: "channel".into(), message: e.to_string() })?,
            ),
            (_, Some(_)) => return fail("channel", "only connectors name a channel"),
            (_, None) => None,
        };
        let rules = match raw.rules {
            None => ChannelRules::default(),
            Some(_) if world != World::Connector => return fail("rules", "only connectors have channel rules"),
            Some(rules) => check_rules(rules)?,
        };
        let settings_schema = match raw.settings_schema {
            None => serde_json::json!({"type": "object", "additionalProperties": false}),
            Some(value) => serde_json::to_value(value)
                .map_err(|e| ManifestError { key: "settings_schema".into(), message: e.to_string() })?,
        };
        if settings_schema.get("type").and_then(|t| t.as_str()) != Some("object") {
            return fail("settings_schema", "must be a JSON Schema with `type = \"object\"`");
        }
        if let Err(reason) = super::settings::check_schema(&settings_schema) {
            return fail("settings_schema", format!("is not a valid JSON Schema: {reason}"));
        }
        Ok(Manifest {
            id: raw.id,
            name: raw.name.trim().to_owned(),
            version: raw.version,
            world,
            wit: raw.wit,
            description: raw.description,
            capabilities: raw.capabilities,
            settings_schema,
            channel,
            rules,
        })
    }
}

fn check_rules(raw: RawRules) -> Result<ChannelRules, ManifestError> {
    if raw.reply_window_hours.is_some_and(|h| h == 0 || h > 24 * 30) {
        return fail("rules.reply_window_hours", "must be 1 to 720 hours");
    }
    if raw.max_sends_per_second.is_some_and(|n| n == 0 || n > 10_000) {
        return fail("rules.max_sends_per_second", "must be 1 to 10000");
    }
    if raw.max_posts_per_ip_per_hour.is_some_and(|n| n == 0 || n > 100_000) {
        return fail("rules.max_posts_per_ip_per_hour", "must be 1 to 100000");
    }
    if raw.human_agent_window_hours.is_some_and(|h| h == 0 || h > 24 * 30) {
        return fail("rules.human_agent_window_hours", "must be 1 to 720 hours");
    }
    let after_window = AfterWindow::parse(
        "rules.after_window",
        raw.after_window.as_deref().unwrap_or("nothing"),
        raw.human_agent_window_hours,
    )
    .map_err(|e| ManifestError { key: "rules.after_window".into(), message: e.to_string() })?;
    if let AfterWindow::HumanAgent { hours } = after_window
        && raw.reply_window_hours.is_none_or(|window| hours <= window)
    {
        return fail("rules.human_agent_window_hours", "must be longer than reply_window_hours");
    }
    Ok(ChannelRules {
        reply_window_hours: raw.reply_window_hours,
        after_window,
        max_sends_per_second: raw.max_sends_per_second,
        max_posts_per_ip_per_hour: raw.max_posts_per_ip_per_hour,
    })
}

fn is_version(text: &str) -> bool {
    let parts: Vec<_> = text.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit()))
}

/// A capability is only meaningful if the plugin's world imports it.
fn check_capabilities(world: World, caps: &Capabilities) -> Result<(), ManifestError> {
    let imports_http = world == World::Connector;
    if caps.kb_search && world != World::Bot {
        return fail("capabilities.kb_search", format!("the {} world does not import kb", world.as_str()));
    }
    if caps.case_read && world != World::Protocol {
        return fail("capabilities.case_read", format!("the {} world does not import cases", world.as_str()));
    }
    if !caps.http_hosts.is_empty() && !imports_http {
        return fail("capabilities.http_hosts", format!("the {} world does not import http", world.as_str()));
    }
    if !caps.mail_hosts.is_empty() && !imports_http {
        return fail("capabilities.mail_hosts", format!("the {} world does not import mail", world.as_str()));
    }
    if !caps.secrets.is_empty() && !imports_http {
        return fail("capabilities.secrets", format!("the {} world does not import secrets", world.as_str()));
    }
    let hosts =
        caps.http_hosts.iter().map(|h| ("http_hosts", h)).chain(caps.mail_hosts.iter().map(|h| ("mail_hosts", h)));
    for (i, (key, host)) in hosts.enumerate() {
        let i = if key == "http_hosts" { i } else { i - caps.http_hosts.len() };
        if key == "mail_hosts" && host == "*" {
            continue;
        }
        if !valid_host(host) {
            return fail(&format!("capabilities.{key}[{i}]"), "must be a DNS host name such as graph.facebook.com");
        }
    }
    for (i, name) in caps.secrets.iter().enumerate() {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return fail(&format!("capabilities.secrets[{i}]"), "must be lowercase snake_case, e.g. `app_secret`");
        }
    }
    Ok(())
}

pub use crate::domain::plugin::valid_host;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_bot_manifest_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/example-bot/plugin.toml");
        let manifest = Manifest::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!((manifest.id.as_str(), manifest.world), ("example-bot", World::Bot));
        assert!(manifest.capabilities.kv && manifest.capabilities.kb_search);
        assert_eq!(manifest.settings_schema["required"][0], "handoff_unit");
    }

    /// Each bad manifest is refused naming the key at fault.
    #[test]
    fn bad_manifests_name_the_key() {
        let base = "id = \"x-bot\"\nname = \"X\"\nversion = \"1.0.0\"\nworld = \"bot\"\nwit = \"1.0.0\"\n";
        let cases: &[(&str, &str)] = &[
            ("id = \"X Bot\"\nname = \"X\"\nversion = \"1.0.0\"\nworld = \"bot\"\nwit = \"1.0.0\"\n", "id"),
            ("id = \"x\"\nname = \"X\"\nversion = \"1.0\"\nworld = \"bot\"\nwit = \"1.0.0\"\n", "version"),
            ("id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\nworld = \"robot\"\nwit = \"1.0.0\"\n", "world"),
            ("id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\nworld = \"bot\"\nwit = \"2.0.0\"\n", "wit"),
            ("name = \"X\"\nversion = \"1.0.0\"\nworld = \"bot\"\nwit = \"1.0.0\"\n", "id"),
            (&format!("{base}colour = \"red\"\n"), "colour"),
            (&format!("{base}[capabilities]\nhttp_hosts = [\"api.example.com\"]\n"), "capabilities.http_hosts"),
            (&format!("{base}[capabilities]\ncase_read = true\n"), "capabilities.case_read"),
            (&format!("{base}[settings_schema]\ntype = \"string\"\n"), "settings_schema"),
            ("this is not toml", "plugin.toml"),
        ];
        for (text, key) in cases {
            let err = Manifest::parse(text).expect_err(text);
            assert_eq!(err.key, *key, "{text}: {err}");
        }
        let connector =
            "id = \"c\"\nname = \"C\"\nversion = \"1.0.0\"\nworld = \"connector\"\nwit = \"1.0.0\"\n[capabilities]\n";
        for (hosts, key) in
            [("[\"127.0.0.1\"]", "capabilities.http_hosts[0]"), ("[\"no_dots\"]", "capabilities.http_hosts[0]")]
        {
            let err = Manifest::parse(&format!("{connector}http_hosts = {hosts}\n")).expect_err(hosts);
            assert_eq!(err.key, key);
        }
    }

    #[test]
    fn the_whatsapp_manifest_declares_its_window() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/whatsapp-cloud/plugin.toml");
        let manifest = Manifest::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(manifest.channel, Some(crate::domain::Channel::Whatsapp));
        assert_eq!(manifest.rules.reply_window_hours, Some(24));
        assert_eq!(manifest.rules.after_window, AfterWindow::Template);
        let bot = "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\nworld = \"bot\"\nwit = \"1.0.0\"\n[rules]\n";
        assert_eq!(Manifest::parse(bot).unwrap_err().key, "rules");
    }

    #[test]
    fn grants_are_the_intersection() {
        let asked = Capabilities {
            kv: true,
            kb_search: true,
            http_hosts: vec!["graph.facebook.com".into(), "evil.example.com".into()],
            secrets: vec!["app_secret".into()],
            ..Default::default()
        };
        let granted = Capabilities { kv: true, http_hosts: vec!["graph.facebook.com".into()], ..Default::default() };
        let grants = asked.intersect(&granted);
        assert!(grants.kv && !grants.kb_search);
        assert_eq!(grants.http_hosts, ["graph.facebook.com"]);
        assert!(grants.secrets.is_empty(), "a secret the admin did not grant stays out");
    }
}
