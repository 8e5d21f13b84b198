//! Plugins' outbound HTTP: one client bound to the network policy in
//! [`super::net`] (names resolved by the host and refused if any address is
//! private, redirects only to the same host), with size and time caps, and
//! credentials filled from secrets the plugin only names.

use std::sync::Arc;
use std::time::Duration;

use super::connector::http_wit as wit;
use super::host::HostState;
use super::net::{self, Denied};
use super::{Error, Limits};

/// A redirect to another host, or from https to http.
#[derive(Debug, thiserror::Error)]
#[error("redirect to another host or from https to http refused")]
struct RedirectRefused;

/// The client every plugin request goes through.
pub(super) fn client(limits: &Limits) -> Result<reqwest::Client, Error> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else { return attempt.follow() };
        let next = attempt.url();
        let same_host = first.host_str() == next.host_str()
            && first.port_or_known_default() == next.port_or_known_default()
            || (first.scheme() == "http" && next.scheme() == "https" && first.host_str() == next.host_str());
        let downgrade = first.scheme() == "https" && next.scheme() == "http";
        if !same_host || downgrade {
            attempt.error(RedirectRefused)
        } else if attempt.previous().len() >= 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    policy_client(limits, redirects)
}

/// A client bound to the network policy, with the given redirect policy.
pub(super) fn policy_client(limits: &Limits, redirects: reqwest::redirect::Policy) -> Result<reqwest::Client, Error> {
    let private_hosts = limits
        .private_hosts
        .iter()
        .map(|h| h.rsplit_once(':').map_or(h.as_str(), |(host, _)| host).to_ascii_lowercase())
        .collect();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(net::PublicResolver { private_hosts }))
        .redirect(redirects)
        .no_proxy()
        .connect_timeout(Duration::from_millis(limits.http_timeout_ms.min(5_000)))
        .user_agent(concat!("Ventanilla/", env!("CARGO_PKG_VERSION"), " (plugin)"))
        .build()
        .map_err(|e| Error::Cache(format!("http client: {e}")))
}

/// Headers a plugin may not set: the host decides them.
const RESERVED: [&str; 6] = ["host", "content-length", "transfer-encoding", "connection", "upgrade", "te"];

fn find_in_chain<'a, T: std::error::Error + 'static>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Checks a URL against granted hosts (and the operator's private hosts).
pub(super) fn allowed(http_hosts: &[String], limits: &Limits, url: &str) -> Result<(), wit::HttpError> {
    if http_hosts.is_empty() {
        return Err(wit::HttpError::Denied("this plugin was not granted http".into()));
    }
    let target = net::parse_target(url).map_err(|e| wit::HttpError::Denied(e.to_string()))?;
    let private_ok = limits.private_hosts.iter().any(|h| *h == format!("{}:{}", target.host, target.port));
    match net::check_grant(url, http_hosts) {
        Ok(_) => Ok(()),
        Err(Denied::Port(_)) if private_ok => Ok(()),
        Err(e) => Err(wit::HttpError::Denied(e.to_string())),
    }
}

impl HostState {
    /// Checks the URL against the install's grant.
    pub(super) fn allowed(&self, url: &str) -> Result<(), wit::HttpError> {
        allowed(&self.grants.http_hosts, &self.limits, url)
    }

    /// The bytes of the secret a credential is made from, to hide them in
    /// whatever comes back.
    pub(super) fn credential_secret(&self, auth: &wit::Auth) -> Option<Vec<u8>> {
        let name = match auth {
            wit::Auth::Header(h) => &h.secret,
            wit::Auth::Basic(b) => &b.secret,
        };
        self.secrets.get(name).map(|s| s.bytes().to_vec())
    }

    pub(super) fn credential(&self, auth: &wit::Auth) -> Result<(String, String), wit::HttpError> {
        use base64::Engine as _;
        let secret = |name: &str| {
            if !self.grants.secrets.iter().any(|s| s == name) {
                return Err(wit::HttpError::Denied(format!("secret `{name}` was not granted")));
            }
            self.secrets
                .get(name)
                .ok_or_else(|| wit::HttpError::InvalidRequest(format!("secret `{name}` is not set for this install")))
        };
        match auth {
            wit::Auth::Header(h) => {
                let value = secret(&h.secret)?;
                let text = std::str::from_utf8(value.bytes())
                    .map_err(|_| wit::HttpError::InvalidRequest("the secret is not text".into()))?;
                Ok((h.name.clone(), format!("{}{text}", h.prefix)))
            }
            wit::Auth::Basic(b) => {
                let value = secret(&b.secret)?;
                let mut pair = format!("{}:", b.user).into_bytes();
                pair.extend_from_slice(value.bytes());
                Ok((
                    "authorization".into(),
                    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)),
                ))
            }
        }
    }
}

impl wit::Host for HostState {
    async fn fetch(&mut self, request: wit::Request) -> Result<wit::Response, wit::HttpError> {
        self.fetch_journaled(request, None).await
    }

    async fn fetch_with_secret_in_url(
        &mut self,
        request: wit::Request,
        secret: String,
    ) -> Result<wit::Response, wit::HttpError> {
        self.fetch_journaled(request, Some(secret)).await
    }
}

/// Where a secret goes in a URL given to `fetch-with-secret-in-url`.
const URL_SECRET: &str = "{secret}";

impl HostState {
    /// Sends a request, answering a retried send from the journal. With
    /// `url_secret`, the named secret replaces `{secret}` in the URL's path
    /// or query; the journal and every error only ever see the placeholder.
    async fn fetch_journaled(
        &mut self,
        mut request: wit::Request,
        url_secret: Option<String>,
    ) -> Result<wit::Response, wit::HttpError> {
        self.allowed(&request.url)?;
        let filled = match &url_secret {
            Some(name) => Some(self.fill_url(&request.url, name)?),
            None => None,
        };
        // A local run answers from its file, after the same checks.
        if let Some(canned) = &self.canned_http {
            if let Some(auth) = &request.auth {
                self.credential(auth)?;
            }
            return canned.answer(&request);
        }
        let journal = match (&self.send_key, &self.db) {
            (Some(key), Some(db)) => Some((key.clone(), digest(&request), db.clone())),
            _ => None,
        };
        if let Some((key, digest, db)) = &journal {
            match crate::store::send_journal::find(&db.db, key, digest).await {
                Ok(Some((status, headers, body))) => return Ok(wit::Response { status, headers, body }),
                Ok(None) => {}
                // Without the journal a send could go out twice: wait for the database.
                Err(e) => return Err(wit::HttpError::Transport(format!("cannot read the send journal: {e}"))),
            }
        }
        let mut hidden = vec![];
        if let Some((url, secret)) = filled {
            hidden.push(percent_encode(&String::from_utf8_lossy(&secret)).into_bytes());
            hidden.push(secret);
            request.url = url;
        }
        let response = self.fetch_now(request, hidden).await?;
        if let Some((key, digest, db)) = journal
            && (200..300).contains(&response.status)
        {
            let answer = (response.status, response.headers.clone(), response.body.clone());
            // Through the writer like every write (SQLite has one at a time).
            let journaled = async {
                let tx = db.begin().await?;
                crate::store::send_journal::record(&*tx, &key, &digest, &answer).await?;
                tx.commit().await
            };
            if let Err(e) = journaled.await {
                tracing::warn!(install = %self.install, error = %e, "cannot journal a provider's answer");
            }
        }
        Ok(response)
    }

    /// `url` with the secret `name` in place of `{secret}`, and the secret's
    /// bytes (to hide them from whatever comes back). The placeholder may
    /// only stand after the host, so a secret can never pick where it goes.
    pub(super) fn fill_url(&self, url: &str, name: &str) -> Result<(String, Vec<u8>), wit::HttpError> {
        if !self.grants.secrets.iter().any(|s| s == name) {
            return Err(wit::HttpError::Denied(format!("secret `{name}` was not granted")));
        }
        let value = self
            .secrets
            .get(name)
            .ok_or_else(|| wit::HttpError::InvalidRequest(format!("secret `{name}` is not set for this install")))?;
        let text = std::str::from_utf8(value.bytes())
            .map_err(|_| wit::HttpError::InvalidRequest("the secret is not text".into()))?;
        Ok((place_secret(url, text).map_err(wit::HttpError::InvalidRequest)?, value.bytes().to_vec()))
    }
}

/// `url` with `secret` percent-encoded in place of every `{secret}`, which
/// may only stand after the host.
fn place_secret(url: &str, secret: &str) -> Result<String, String> {
    let authority_end =
        url.find("://").map(|i| i + 3).and_then(|start| url[start..].find(['/', '?']).map(|end| start + end));
    match (authority_end, url.find(URL_SECRET)) {
        (Some(end), Some(at)) if at > end => Ok(url.replace(URL_SECRET, &percent_encode(secret))),
        (_, None) => Err(format!("the URL has no `{URL_SECRET}` placeholder")),
        _ => Err(format!("`{URL_SECRET}` may only follow the host")),
    }
}

/// Everything but RFC 3986's unreserved characters (and `:`, which bot
/// tokens carry and paths allow) percent-encoded.
pub(super) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What identifies one request of a send: method, URL and body.
fn digest(request: &wit::Request) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new();
    hash.update(request.method.to_ascii_uppercase().as_bytes());
    hash.update(b"\n");
    hash.update(request.url.as_bytes());
    hash.update(b"\n");
    hash.update(&request.body);
    hex::encode(hash.finalize())
}

impl HostState {
    /// Sends `request` now. Whatever comes back (headers, body, errors) has
    /// the credential and every value in `hidden` replaced by `[redacted]`.
    async fn fetch_now(
        &mut self,
        request: wit::Request,
        mut hidden: Vec<Vec<u8>>,
    ) -> Result<wit::Response, wit::HttpError> {
        let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| wit::HttpError::InvalidRequest(format!("`{}` is not an HTTP method", request.method)))?;
        if request.body.len() > self.limits.max_output_bytes {
            return Err(wit::HttpError::TooLarge);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        let mut pairs = request.headers;
        if let Some(auth) = &request.auth {
            pairs.push(self.credential(auth)?);
            hidden.extend(self.credential_secret(auth));
        }
        // Short values would redact ordinary text; nobody uses such a secret.
        hidden.retain(|s| s.len() >= 4);
        let hide = |text: String| {
            hidden.iter().filter_map(|s| std::str::from_utf8(s).ok()).fold(text, |t, s| t.replace(s, "[redacted]"))
        };
        for (name, value) in pairs {
            if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| wit::HttpError::InvalidRequest(format!("`{name}` is not a header name")))?;
            let value = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| wit::HttpError::InvalidRequest(format!("the value of `{name}` is not a header value")))?;
            headers.append(name, value);
        }
        let left = self.deadline.saturating_duration_since(std::time::Instant::now());
        let asked = request.timeout_ms.map_or(u64::MAX, u64::from);
        let timeout = Duration::from_millis(asked.min(self.limits.http_timeout_ms)).min(left);
        if timeout.is_zero() {
            return Err(wit::HttpError::Timeout);
        }
        let sent = self.http.request(method, &request.url).headers(headers).body(request.body).timeout(timeout).send();
        let mut response = match tokio::time::timeout(timeout, sent).await {
            Err(_) => return Err(wit::HttpError::Timeout),
            Ok(Err(e)) => return Err(hide_in_error(transport_error(&e), &hide)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let response_headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), hide(v.to_str().ok()?.to_owned()))))
            .collect();
        let max = self.limits.max_http_response_bytes;
        if response.content_length().is_some_and(|n| n as usize > max) {
            return Err(wit::HttpError::TooLarge);
        }
        let mut body = Vec::new();
        loop {
            let left = self.deadline.saturating_duration_since(std::time::Instant::now()).min(timeout);
            match tokio::time::timeout(left, response.chunk()).await {
                Err(_) => return Err(wit::HttpError::Timeout),
                Ok(Err(e)) => return Err(hide_in_error(transport_error(&e), &hide)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    if body.len() + chunk.len() > max {
                        return Err(wit::HttpError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
        // A host that echoes the credential back must not hand it to the plugin.
        for secret in &hidden {
            body = redact(&body, secret);
        }
        Ok(wit::Response { status, headers: response_headers, body })
    }
}

/// `error` with hidden values taken out of its text (a transport error
/// names the URL, which may carry a secret).
fn hide_in_error(error: wit::HttpError, hide: &impl Fn(String) -> String) -> wit::HttpError {
    match error {
        wit::HttpError::Denied(text) => wit::HttpError::Denied(hide(text)),
        wit::HttpError::InvalidRequest(text) => wit::HttpError::InvalidRequest(hide(text)),
        wit::HttpError::Transport(text) => wit::HttpError::Transport(hide(text)),
        other => other,
    }
}

pub(super) fn transport_error(e: &reqwest::Error) -> wit::HttpError {
    if e.is_timeout() {
        return wit::HttpError::Timeout;
    }
    if let Some(denied) = find_in_chain::<Denied>(e) {
        return wit::HttpError::Denied(denied.to_string());
    }
    if find_in_chain::<RedirectRefused>(e).is_some() {
        return wit::HttpError::Denied(RedirectRefused.to_string());
    }
    // The error names the URL, never the headers: the caller hides a
    // secret put in the URL.
    wit::HttpError::Transport(e.to_string())
}

/// `haystack` with every occurrence of `needle` replaced by `[redacted]`.
fn redact(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(b"[redacted]");
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_secret_goes_only_after_the_host() {
        let token = "7123:AAH/x y";
        assert_eq!(
            super::place_secret("https://api.telegram.org/bot{secret}/sendMessage", token).unwrap(),
            "https://api.telegram.org/bot7123:AAH%2Fx%20y/sendMessage"
        );
        assert!(super::place_secret("https://{secret}.example.com/x", token).is_err());
        assert!(super::place_secret("https://api.telegram.org/sendMessage", token).is_err());
        assert_eq!(super::place_secret("http://h?key={secret}", "a&b").unwrap(), "http://h?key=a%26b");
    }

    #[test]
    fn redacts_every_occurrence() {
        assert_eq!(super::redact(b"a-s3cr3t-b-s3cr3t", b"s3cr3t"), b"a-[redacted]-b-[redacted]".to_vec());
        assert_eq!(super::redact(b"nothing", b"s3cr3t"), b"nothing".to_vec());
    }
}
