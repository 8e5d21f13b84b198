//! A plugin on its author's machine (`ventanilla plugin run`): the real
//! host runs one call of any world — a bot or protocol on an event, a
//! connector's `verify-and-parse` on a request, its `send` on a message,
//! its `locate-media` on a reference — without a server or a database.
//! Secrets come from the command line (and are never printed); the
//! connector's HTTP goes to the network, to local addresses the author
//! allows, or is answered from a file, and what it asked is printed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::connector::http_wit as wit;
use super::manifest::{Manifest, World};
use super::runtime::Prepared;
use super::{CallContext, Grants, Limits, PluginHost};
use crate::secrets::SecretValue;

/// What to run.
pub enum Call {
    /// A bot's or protocol's event (JSON; see `plugins/example-bot/event.json`).
    Event(serde_json::Value),
    /// A connector's webhook request (see [`RequestFile`]).
    Request(RequestFile),
    /// A connector's send (see [`MessageFile`]).
    Send(MessageFile),
    /// A connector's `locate-media` on a file reference.
    LocateMedia(String),
}

impl Call {
    fn name(&self) -> &'static str {
        match self {
            Call::Event(_) => "event",
            Call::Request(_) => "verify-and-parse",
            Call::Send(_) => "send",
            Call::LocateMedia(_) => "locate-media",
        }
    }
}

/// One local run.
pub struct LocalRun {
    pub component: Vec<u8>,
    /// The plugin's `plugin.toml`, when there is one: its world is checked
    /// and its capabilities granted.
    pub manifest: Option<Manifest>,
    /// The install's settings, as the host hands them to the plugin.
    pub settings: serde_json::Value,
    /// Secrets by name.
    pub secrets: HashMap<String, String>,
    /// `host:port` pairs on private addresses the plugin may reach (a local
    /// stand-in of the provider).
    pub private_hosts: Vec<String>,
    /// Answers to the plugin's HTTP requests, in order, instead of the network.
    pub http_replies: Option<Vec<CannedReply>>,
    /// Extra grants when there is no manifest.
    pub grant_kv: bool,
    pub grant_kb: bool,
    pub call: Call,
}

/// A webhook request as a file: what the provider would POST.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    #[serde(default = "post")]
    pub method: String,
    /// Path and query after the install's webhook address.
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub query: Pairs,
    /// Header values may hold `{hmac-sha256-hex:NAME}` or
    /// `{hmac-sha256-base64:NAME}`: the signature of the body with secret
    /// NAME, as a provider would compute it.
    #[serde(default)]
    pub headers: Pairs,
    /// The body as text, or any JSON (sent as its text).
    #[serde(default)]
    pub body: serde_json::Value,
    /// The body as base64, for bytes that are not text.
    #[serde(default)]
    pub body_base64: Option<String>,
}

fn post() -> String {
    "POST".into()
}

/// Name-value pairs, written as an object or as a list of pairs.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum Pairs {
    #[default]
    None,
    Map(std::collections::BTreeMap<String, String>),
    List(Vec<(String, String)>),
}

impl Pairs {
    fn into_vec(self) -> Vec<(String, String)> {
        match self {
            Pairs::None => vec![],
            Pairs::Map(map) => map.into_iter().collect(),
            Pairs::List(list) => list,
        }
    }
}

/// A message to send, as a file: only `recipient` is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageFile {
    pub recipient: String,
    #[serde(default)]
    pub body: String,
    /// Quick replies: `[{"id": "si", "label": "Sí"}]`.
    #[serde(default)]
    pub options: Vec<ChoiceFile>,
    /// Files, each with a `reference` the provider can fetch (a URL).
    #[serde(default)]
    pub attachments: Vec<AttachmentFile>,
    #[serde(default)]
    pub template: Option<TemplateFile>,
    #[serde(default = "local_key")]
    pub idempotency_key: String,
    #[serde(default)]
    pub thread_keys: Vec<String>,
}

fn local_key() -> String {
    "local-run".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceFile {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentFile {
    pub file_name: String,
    pub content_type: String,
    #[serde(default)]
    pub size_bytes: u64,
    pub reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// One answer to a plugin's HTTP request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedReply {
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Text, or any JSON (answered as its text).
    #[serde(default)]
    pub body: serde_json::Value,
}

fn ok() -> u16 {
    200
}

/// A request the plugin made while its answers came from a file. Secrets
/// appear by name only.
#[derive(Debug, Clone, Serialize)]
pub struct AskedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The credential the host would add, e.g. `authorization: Bearer ‹api_token›`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Answers a plugin's HTTP from a list, recording what it asked.
#[derive(Clone, Default)]
pub struct CannedHttp(Arc<Mutex<(VecDeque<CannedReply>, Vec<AskedRequest>)>>);

impl CannedHttp {
    pub fn new(replies: Vec<CannedReply>) -> Self {
        CannedHttp(Arc::new(Mutex::new((replies.into(), vec![]))))
    }

    /// What the plugin asked so far.
    pub fn asked(&self) -> Vec<AskedRequest> {
        self.0.lock().map(|state| state.1.clone()).unwrap_or_default()
    }

    /// Records `request` and gives the next answer (a transport error once
    /// the list is used up).
    pub(super) fn answer(&self, request: &wit::Request) -> Result<wit::Response, wit::HttpError> {
        let credential = request.auth.as_ref().map(|auth| match auth {
            wit::Auth::Header(h) => format!("{}: {}‹{}›", h.name, h.prefix, h.secret),
            wit::Auth::Basic(b) => format!("authorization: Basic {}:‹{}›", b.user, b.secret),
        });
        let asked = AskedRequest {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: String::from_utf8_lossy(&request.body).into_owned(),
            credential,
        };
        let mut state = self.0.lock().map_err(|_| wit::HttpError::Transport("the replies are unreadable".into()))?;
        state.1.push(asked);
        let Some(reply) = state.0.pop_front() else {
            return Err(wit::HttpError::Transport("no answer left in the replies file".into()));
        };
        let body = match reply.body {
            serde_json::Value::String(text) => text.into_bytes(),
            serde_json::Value::Null => vec![],
            json => json.to_string().into_bytes(),
        };
        Ok(wit::Response { status: reply.status, headers: reply.headers.into_iter().collect(), body })
    }
}

/// What a local run came to, printed as JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub world: &'static str,
    pub call: &'static str,
    /// What the plugin returned (an `ok` or an `error`).
    pub result: serde_json::Value,
    pub logs: Vec<(String, String)>,
    /// The HTTP requests it made, when their answers came from a file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<AskedRequest>,
}

/// Why a local run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Plugin(#[from] super::Error),
}

/// The worlds this host runs, for messages.
const WORLDS: &str = "bot, protocol and connector (ventanilla:plugin@1.x)";

/// Finds which world the component implements (the manifest's, when
/// given), with a message naming the worlds supported when none fits.
fn detect(host: &PluginHost, compiled: &super::Compiled, manifest: Option<&Manifest>) -> Result<Prepared, LocalError> {
    if let Some(manifest) = manifest {
        return host.prepare(compiled, manifest.world).map_err(|e| {
            LocalError::Usage(format!(
                "plugin.toml says this is a {} plugin, but the component does not fit that world: {e}",
                manifest.world.as_str()
            ))
        });
    }
    let mut reasons = vec![];
    for world in [World::Connector, World::Protocol, World::Bot] {
        match host.prepare(compiled, world) {
            Ok(prepared) => return Ok(prepared),
            Err(super::Error::WrongWorld { reason, .. }) => {
                reasons.push(format!("as a {}: {}", world.as_str(), first_line(&reason)))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(LocalError::Usage(format!(
        "the component implements none of the worlds this host runs, {WORLDS}; {}",
        reasons.join("; ")
    )))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn world_of(prepared: &Prepared) -> World {
    match prepared {
        Prepared::Bot(_) => World::Bot,
        Prepared::Protocol(_) => World::Protocol,
        Prepared::Connector(_) => World::Connector,
    }
}

/// What each world can be asked from the command line.
fn calls_of(world: World) -> &'static str {
    match world {
        World::Bot | World::Protocol => "--event FILE",
        World::Connector => "--request FILE, --send FILE or --locate-media REFERENCE",
    }
}

/// Runs one call and reports what the plugin did.
pub async fn run(local: LocalRun) -> Result<Report, LocalError> {
    let limits = Limits { private_hosts: local.private_hosts.clone(), ..Limits::default() };
    let host = PluginHost::new(None, limits)?;
    let compiled = host.compile(&local.component)?;
    let prepared = detect(&host, &compiled, local.manifest.as_ref())?;
    let world = world_of(&prepared);
    let grants = match &local.manifest {
        Some(manifest) => manifest.capabilities.intersect(&manifest.capabilities),
        None => Grants {
            kv: local.grant_kv,
            kb_search: local.grant_kb,
            secrets: local.secrets.keys().cloned().collect(),
            http_hosts: local.private_hosts.iter().map(|h| h.split(':').next().unwrap_or(h).to_owned()).collect(),
            ..Grants::default()
        },
    };
    let mut ctx = CallContext::new("local", grants);
    ctx.secrets =
        local.secrets.iter().map(|(name, value)| (name.clone(), SecretValue::new(value.as_bytes().to_vec()))).collect();
    let canned = local.http_replies.map(CannedHttp::new);
    ctx.canned_http = canned.clone();
    let given_settings = !local.settings.is_null();
    let settings = if given_settings { local.settings.to_string() } else { "{}".to_owned() };
    let call = local.call.name();
    let mismatch =
        || LocalError::Usage(format!("this is a {} plugin: run it with {}", world.as_str(), calls_of(world)));
    let (result, logs) = match (prepared, local.call) {
        (Prepared::Bot(bot), Call::Event(event)) => {
            let mut event: super::bot::BotEvent = serde_json::from_value(event)
                .map_err(|e| LocalError::Usage(format!("the event is not a bot event: {e}")))?;
            if event.settings.is_empty() || given_settings {
                event.settings = settings;
            }
            let (actions, logs) = host.run_bot_on_current_thread(&bot, &ctx, &event).await?;
            (serde_json::json!({ "ok": actions }), logs)
        }
        (Prepared::Protocol(protocol), Call::Event(event)) => {
            let mut event: super::protocol::ProtocolEvent = serde_json::from_value(event)
                .map_err(|e| LocalError::Usage(format!("the event is not a protocol event: {e}")))?;
            if event.settings.is_empty() || given_settings {
                event.settings = settings;
            }
            match host.run_protocol(&protocol, ctx, &event).await {
                Ok(outcome) => {
                    let sla = outcome.sla.map(|targets| {
                        let json = |t: &crate::domain::sla::SlaTarget| {
                            serde_json::json!({ "name": t.name, "state": t.state, "due_at": t.due_at, "settled_at": t.settled_at })
                        };
                        targets.iter().map(json).collect::<Vec<_>>()
                    });
                    (serde_json::json!({ "ok": outcome.actions, "sla": sla }), outcome.logs)
                }
                Err(super::Error::Plugin(message)) => (serde_json::json!({ "error": message }), vec![]),
                Err(e) => return Err(e.into()),
            }
        }
        (Prepared::Connector(connector), Call::Request(file)) => {
            let request = inbound_request(file, &local.secrets, settings)?;
            let (parsed, logs) = host.run_parse(&connector, ctx, request).await?;
            let mut json = outcome_json(parsed);
            // The answer the provider gets, as text rather than bytes.
            if let Some(body) = json.pointer_mut("/ok/response_body") {
                let bytes: Vec<u8> = serde_json::from_value(body.take()).unwrap_or_default();
                *body = serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned());
            }
            (json, logs)
        }
        (Prepared::Connector(connector), Call::Send(file)) => {
            let message = outbound_message(file, settings);
            let (sent, logs) = host.run_send(&connector, ctx, message).await?;
            (outcome_json(sent), logs)
        }
        (Prepared::Connector(connector), Call::LocateMedia(reference)) => {
            let Some(media) = &connector.media else {
                return Err(LocalError::Usage(
                    "this connector has no locate-media (it was built for WIT before 1.2)".into(),
                ));
            };
            let (located, logs) = host.run_locate_media(media, ctx, reference, settings).await?;
            (located, logs)
        }
        _ => return Err(mismatch()),
    };
    Ok(Report { world: world.as_str(), call, result, logs, http: canned.map(|c| c.asked()).unwrap_or_default() })
}

fn outcome_json<T: Serialize, E: Serialize>(result: Result<T, E>) -> serde_json::Value {
    match result {
        Ok(value) => serde_json::json!({ "ok": value }),
        Err(error) => serde_json::json!({ "error": error }),
    }
}

/// The request as the host hands it to `verify-and-parse`, with signature
/// placeholders in header values filled from the secrets.
fn inbound_request(
    file: RequestFile,
    secrets: &HashMap<String, String>,
    settings: String,
) -> Result<super::connector::InboundRequest, LocalError> {
    use base64::Engine as _;
    let body = match (file.body_base64, file.body) {
        (Some(encoded), _) => base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| LocalError::Usage(format!("body_base64 is not base64: {e}")))?,
        (None, serde_json::Value::String(text)) => text.into_bytes(),
        (None, serde_json::Value::Null) => vec![],
        (None, json) => json.to_string().into_bytes(),
    };
    let mut headers = vec![];
    for (name, value) in file.headers.into_vec() {
        headers.push((name.to_ascii_lowercase(), sign_placeholders(&value, &body, secrets)?));
    }
    Ok(super::connector::InboundRequest {
        method: file.method.to_ascii_uppercase(),
        path: file.path,
        query: file.query.into_vec(),
        headers,
        body,
        settings,
    })
}

/// Replaces `{hmac-sha256-hex:NAME}` and `{hmac-sha256-base64:NAME}` in a
/// header value by the signature of `body` with secret NAME.
fn sign_placeholders(value: &str, body: &[u8], secrets: &HashMap<String, String>) -> Result<String, LocalError> {
    use base64::Engine as _;
    let mut out = value.to_owned();
    for (tag, base64) in [("{hmac-sha256-hex:", false), ("{hmac-sha256-base64:", true)] {
        while let Some(start) = out.find(tag) {
            let Some(end) = out[start..].find('}').map(|e| start + e) else {
                return Err(LocalError::Usage(format!("`{value}`: a placeholder is not closed with }}")));
            };
            let name = &out[start + tag.len()..end];
            let Some(secret) = secrets.get(name) else {
                return Err(LocalError::Usage(format!(
                    "`{value}` signs with secret `{name}`: give it with --secret {name}=..."
                )));
            };
            let signature = if base64 {
                use hmac::Mac as _;
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
                    .map_err(|e| LocalError::Usage(e.to_string()))?;
                mac.update(body);
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            } else {
                crate::secrets::hmac_sha256_hex(secret.as_bytes(), body)
            };
            out.replace_range(start..=end, &signature);
        }
    }
    Ok(out)
}

fn outbound_message(file: MessageFile, settings: String) -> super::connector::OutboundMessage {
    super::connector::OutboundMessage {
        recipient: file.recipient,
        body: file.body,
        options: file.options.into_iter().map(|o| super::bot::Choice { id: o.id, label: o.label }).collect(),
        attachments: file
            .attachments
            .into_iter()
            .map(|a| super::bot::Attachment {
                file_name: a.file_name,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
                reference: a.reference,
            })
            .collect(),
        template: file.template.map(|t| super::connector::Template {
            name: t.name,
            language: t.language,
            parameters: t.parameters,
        }),
        idempotency_key: file.idempotency_key,
        thread_keys: file.thread_keys,
        settings,
    }
}

/// Parses `NAME=VALUE` (a `--secret`).
pub fn secret_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_placeholders_are_filled_from_secrets() {
        let secrets = HashMap::from([("app_secret".to_owned(), "s3cret".to_owned())]);
        let body = br#"{"a":1}"#;
        let hex = sign_placeholders("sha256={hmac-sha256-hex:app_secret}", body, &secrets).unwrap_or_default();
        assert_eq!(hex, format!("sha256={}", crate::secrets::hmac_sha256_hex(b"s3cret", body)));
        let b64 = sign_placeholders("{hmac-sha256-base64:app_secret}", body, &secrets).unwrap_or_default();
        assert_eq!(b64.len(), 44);
        let missing = sign_placeholders("{hmac-sha256-hex:other}", body, &secrets);
        assert!(missing.is_err_and(|e| e.to_string().contains("--secret other=")));
    }

    #[test]
    fn requests_take_maps_or_pairs_and_json_bodies() {
        let file: RequestFile =
            serde_json::from_str(r#"{"headers": {"X-Sig": "1"}, "query": [["a", "b"]], "body": {"k": "v"}}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let request = inbound_request(file, &HashMap::new(), "{}".into()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.method, "POST");
        assert_eq!(request.headers, vec![("x-sig".to_owned(), "1".to_owned())]);
        assert_eq!(request.query, vec![("a".to_owned(), "b".to_owned())]);
        assert_eq!(request.body, br#"{"k":"v"}"#);
    }
}
