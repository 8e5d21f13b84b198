//! Plugins as the rest of the domain sees them: the world a plugin lives in
//! (what it is called for) and the capabilities it asks for and is granted.
//! The manifest's parsing and the sandbox live in the host (`plugins`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Bot,
    Protocol,
    Connector,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Bot => "bot",
            World::Protocol => "protocol",
            World::Connector => "connector",
        }
    }
}

/// What a plugin asks to use; the admin grants all or part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    pub kv: bool,
    pub kb_search: bool,
    pub case_read: bool,
    pub http_hosts: Vec<String>,
    /// Mail servers (SMTP, IMAP) an e-mail connector may reach, by DNS name;
    /// `*` asks for whichever the admin grants (the institution's own).
    pub mail_hosts: Vec<String>,
    pub secrets: Vec<String>,
}

/// What an install may use: the manifest's request intersected with the admin's grant.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub kv: bool,
    pub kb_search: bool,
    pub case_read: bool,
    pub http_hosts: Vec<String>,
    pub mail_hosts: Vec<String>,
    pub secrets: Vec<String>,
}

impl Capabilities {
    /// What the install may use: requested here and granted by the admin.
    pub fn intersect(&self, granted: &Capabilities) -> Grants {
        Grants {
            kv: self.kv && granted.kv,
            kb_search: self.kb_search && granted.kb_search,
            case_read: self.case_read && granted.case_read,
            http_hosts: self.http_hosts.iter().filter(|h| granted.http_hosts.contains(h)).cloned().collect(),
            mail_hosts: if self.mail_hosts.iter().any(|h| h == "*") {
                granted.mail_hosts.iter().filter(|h| valid_host(h)).cloned().collect()
            } else {
                self.mail_hosts.iter().filter(|h| granted.mail_hosts.contains(h)).cloned().collect()
            },
            secrets: self.secrets.iter().filter(|s| granted.secrets.contains(s)).cloned().collect(),
        }
    }
}

/// A granted host name: a DNS name (or `*.` and one), or `localhost`,
/// which only the operator can make reachable (plugins.private_hosts).
pub fn valid_host(host: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    host == "localhost"
        || !host.is_empty()
            && host.len() <= 253
            && host.split('.').count() >= 2
            && host.split('.').all(|label| {
                !label.is_empty() && label.len() <= 63 && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && !host.chars().all(|c| c.is_ascii_digit() || c == '.')
}
