//! The files people send (WIT 1.2 `locate-media`): the connector says where the
//! file a reference names can be downloaded, and the host downloads it
//! itself — under the install's http grant and the private-address rules,
//! with its credential added by the host, a size cap, and redirects
//! followed by hand so each hop is checked and a credential never follows
//! the file to another host. The bytes never pass through the plugin.

use std::time::Duration;

use wasmtime::component::InstancePre;

use super::connector::http_wit as wit;
use super::host::HostState;
use super::{CallContext, Error, PluginHost};

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        world: "media-connector",
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
        },
    });
}

use bindings::ventanilla::plugin::media::{MediaError, MediaLocation};

/// The `locate-media` export of a connector built for WIT 1.2 or later.
#[derive(Clone)]
pub struct MediaPlugin {
    pre: bindings::MediaConnectorPre<HostState>,
}

impl MediaPlugin {
    /// The media export of an instantiable connector; none when the
    /// component predates WIT 1.2 (its files stay with the provider).
    pub(super) fn of(pre: &InstancePre<HostState>) -> Option<MediaPlugin> {
        bindings::MediaConnectorPre::new(pre.clone()).ok().map(|pre| MediaPlugin { pre })
    }
}

/// A downloaded file.
#[derive(Debug)]
pub struct Downloaded {
    pub bytes: Vec<u8>,
    /// The type the connector gave when locating the file, if any.
    pub located_type: Option<String>,
    /// The type the provider served it as, unless a generic one.
    pub served_type: Option<String>,
}

/// Why a file was not downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotFetched {
    /// It never will be: the provider lost it, the host refused the
    /// address, or it is larger than allowed.
    Gone(String),
    /// Another try later may work.
    Retry(String),
}

/// What locating and downloading came to, with the lines the plugin logged.
pub type FetchOutcome = (Result<Downloaded, NotFetched>, Vec<(String, String)>);

/// Most redirects followed for one download.
const MAX_REDIRECTS: usize = 5;

impl PluginHost {
    /// Asks the connector where `reference` is and downloads it, keeping at
    /// most `max_bytes`, within `timeout` for the download.
    pub async fn run_fetch_media(
        &self,
        media: &MediaPlugin,
        ctx: CallContext,
        reference: String,
        settings: String,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<FetchOutcome, Error> {
        let (host, media) = (self.clone(), media.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            let (located, logs) = host.locate(&media, &mut store, &reference, &settings).await?;
            let outcome = match located {
                Ok(location) => {
                    let state = store.data();
                    let prepared = prepare(state, location, max_bytes);
                    let policy = (state.grants.http_hosts.clone(), state.limits.clone());
                    // The instance's pool slot is not held through a long download.
                    drop(store);
                    let download = download(host.downloads.clone(), policy, prepared, max_bytes);
                    match tokio::time::timeout(timeout, download).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(NotFetched::Retry(format!("the download took longer than {timeout:?}"))),
                    }
                }
                Err(MediaError::Gone(why)) => Err(NotFetched::Gone(why)),
                Err(MediaError::Retry(why)) => Err(NotFetched::Retry(why)),
            };
            Ok((outcome, logs))
        })
        .await
    }
}

impl PluginHost {
    /// Asks the connector where `reference` is, without downloading it (a
    /// local run): the answer as JSON, any secret in it by name only.
    pub async fn run_locate_media(
        &self,
        media: &MediaPlugin,
        ctx: CallContext,
        reference: String,
        settings: String,
    ) -> Result<(serde_json::Value, Vec<(String, String)>), Error> {
        let (host, media) = (self.clone(), media.clone());
        self.on_executor(async move {
            let mut store = host.store(&ctx);
            let (located, logs) = host.locate(&media, &mut store, &reference, &settings).await?;
            let json = match located {
                Ok(location) => {
                    let credential = location.auth.as_ref().map(|auth| match auth {
                        wit::Auth::Header(h) => format!("{}: {}‹{}›", h.name, h.prefix, h.secret),
                        wit::Auth::Basic(b) => format!("authorization: Basic {}:‹{}›", b.user, b.secret),
                    });
                    serde_json::json!({ "ok": {
                        "url": location.url,
                        "credential": credential,
                        "secret_in_url": location.secret_in_url,
                        "content_type": location.content_type,
                    } })
                }
                Err(MediaError::Gone(why)) => serde_json::json!({ "error": { "gone": why } }),
                Err(MediaError::Retry(why)) => serde_json::json!({ "error": { "retry": why } }),
            };
            Ok((json, logs))
        })
        .await
    }
}

impl PluginHost {
    /// Calls the connector's `locate-media` in a fresh instance on `store`.
    async fn locate(
        &self,
        media: &MediaPlugin,
        store: &mut wasmtime::Store<HostState>,
        reference: &str,
        settings: &str,
    ) -> Result<(Result<MediaLocation, MediaError>, Vec<(String, String)>), Error> {
        let call = async {
            let instance = media.pre.instantiate_async(&mut *store).await?;
            instance.call_locate_media(&mut *store, reference, settings).await
        };
        let result = self.within_wall(call).await;
        PluginHost::settle(store, result)
    }
}

/// A download made ready with what only the call's state knows: the URL
/// with any secret in place, the credential, and what to hide in errors.
struct Prepared {
    url: String,
    credential: Option<(String, String)>,
    hidden: Vec<Vec<u8>>,
    content_type: Option<String>,
}

/// What an HTTP failure means for a download: passing, or final.
fn refused(e: wit::HttpError, max_bytes: usize) -> NotFetched {
    match e {
        wit::HttpError::Timeout => NotFetched::Retry("the provider did not answer in time".into()),
        wit::HttpError::Transport(why) => NotFetched::Retry(why),
        wit::HttpError::TooLarge => NotFetched::Gone(format!("larger than {max_bytes} bytes")),
        wit::HttpError::Denied(why) | wit::HttpError::InvalidRequest(why) => NotFetched::Gone(why),
    }
}

fn prepare(state: &HostState, location: MediaLocation, max_bytes: usize) -> Result<Prepared, NotFetched> {
    let refused = |e| refused(e, max_bytes);
    state.allowed(&location.url).map_err(refused)?;
    let mut hidden: Vec<Vec<u8>> = vec![];
    let url = match &location.secret_in_url {
        Some(name) => {
            let (url, secret) = state.fill_url(&location.url, name).map_err(refused)?;
            hidden.push(super::http::percent_encode(&String::from_utf8_lossy(&secret)).into_bytes());
            hidden.push(secret);
            url
        }
        None => location.url.clone(),
    };
    let credential = match &location.auth {
        Some(auth) => {
            hidden.extend(state.credential_secret(auth));
            Some(state.credential(auth).map_err(refused)?)
        }
        None => None,
    };
    // Short values would redact ordinary text; nobody uses such a secret.
    hidden.retain(|s| s.len() >= 4);
    Ok(Prepared { url, credential, hidden, content_type: location.content_type })
}

/// Downloads what `location` points at, checking every hop against the
/// grant; the credential goes only to the host the connector named.
async fn download(
    client: reqwest::Client,
    (http_hosts, limits): (Vec<String>, super::Limits),
    prepared: Result<Prepared, NotFetched>,
    max_bytes: usize,
) -> Result<Downloaded, NotFetched> {
    let Prepared { mut url, credential, hidden, content_type } = prepared?;
    let refused = |e| refused(e, max_bytes);
    let hide = |text: String| {
        hidden.iter().filter_map(|s| std::str::from_utf8(s).ok()).fold(text, |t, s| t.replace(s, "[redacted]"))
    };
    let first_host = super::net::parse_target(&url).map(|t| t.host).unwrap_or_default();
    for _ in 0..=MAX_REDIRECTS {
        let mut request = client.get(&url);
        let same_host = super::net::parse_target(&url).is_ok_and(|t| t.host == first_host);
        if let (Some((name, value)), true) = (&credential, same_host) {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response =
            request.send().await.map_err(|e| refused(super::http::transport_error(&e)).map_text(&hide))?;
        let status = response.status();
        if status.is_redirection() {
            let next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|to| reqwest::Url::parse(&url).ok()?.join(to).ok())
                .ok_or_else(|| NotFetched::Gone(format!("a {status} redirect without a usable Location")))?;
            if url.starts_with("https://") && next.scheme() != "https" {
                return Err(NotFetched::Gone("a redirect from https to http".into()));
            }
            super::http::allowed(&http_hosts, &limits, next.as_str()).map_err(refused)?;
            url = next.to_string();
            continue;
        }
        if !status.is_success() {
            let why = format!("the provider answered {status}");
            let again = status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error();
            return Err(if again { NotFetched::Retry(why) } else { NotFetched::Gone(why) });
        }
        if response.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(refused(wit::HttpError::TooLarge));
        }
        let served = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .filter(|t| !t.starts_with("application/octet-stream"));
        let mut bytes = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| refused(super::http::transport_error(&e)).map_text(&hide))?
        {
            if bytes.len() + chunk.len() > max_bytes {
                return Err(refused(wit::HttpError::TooLarge));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Downloaded { bytes, located_type: content_type, served_type: served });
    }
    Err(NotFetched::Gone(format!("more than {MAX_REDIRECTS} redirects")))
}

/// The client downloads go through: the plugins' network policy, and no
/// redirects of its own (each hop is checked above).
pub(super) fn client(limits: &super::Limits) -> Result<reqwest::Client, Error> {
    super::http::policy_client(limits, reqwest::redirect::Policy::none())
}

impl NotFetched {
    fn map_text(self, f: &impl Fn(String) -> String) -> NotFetched {
        match self {
            NotFetched::Gone(why) => NotFetched::Gone(f(why)),
            NotFetched::Retry(why) => NotFetched::Retry(f(why)),
        }
    }
}
