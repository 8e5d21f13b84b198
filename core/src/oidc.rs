//! OpenID Connect relying party: the authorization code flow with PKCE
//! against each provider of `[[auth.oidc]]`, its discovery document and
//! signing keys fetched and kept (keys fetched again when a token names
//! one not known: the provider rotated them), and the ID token checked
//! here (signature, issuer, audience, expiry with some clock skew, nonce)
//! before anyone is signed in. What the provider's groups grant is
//! [`roles_for`]. A leaf: the HTTP side is `api::sso`.

use crate::config::{GroupMapping, OidcProvider};
use crate::domain::Role;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Clocks of the provider and this server may differ this much.
pub const CLOCK_SKEW_SECS: u64 = 120;
/// Discovery documents are read again after this long.
const DISCOVERY_TTL: Duration = Duration::from_secs(24 * 3600);
/// Keys are read again after this long, or sooner when a token names a
/// key not among them (but not more often than [`KEYS_REFETCH_GAP`]).
const KEYS_TTL: Duration = Duration::from_secs(3600);
const KEYS_REFETCH_GAP: Duration = Duration::from_secs(10);
/// Signatures accepted: asymmetric only (never `none`, never a MAC keyed
/// with the client secret).
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
];

/// Why a sign-in through a provider could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The provider could not be reached or answered nonsense.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused (the code was not good, the person said no).
    #[error("the provider refused: {0}")]
    Provider(String),
    /// The ID token is not one to believe.
    #[error("the ID token is not valid: {0}")]
    Token(String),
}

/// The parts of a provider's discovery document used here.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The provider's stable id of the person (`sub`).
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

struct Known {
    discovery: Discovery,
    discovered_at: Instant,
    keys: JwkSet,
    keys_at: Instant,
}

struct Provider {
    config: OidcProvider,
    known: RwLock<Option<Known>>,
}

/// The configured providers and what is known of each.
pub struct Oidc {
    providers: BTreeMap<String, Provider>,
    http: reqwest::Client,
}

impl Oidc {
    /// `extra_roots`: the institution's own certificate authorities (DER),
    /// for a provider inside its network.
    pub fn new(configs: &[OidcProvider], extra_roots: &[Vec<u8>]) -> reqwest::Result<Oidc> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("Ventanilla/", env!("CARGO_PKG_VERSION"), " (sign-in)"));
        for der in extra_roots {
            builder = builder.add_root_certificate(reqwest::Certificate::from_der(der)?);
        }
        let providers =
            configs.iter().map(|c| (c.id.clone(), Provider { config: c.clone(), known: RwLock::new(None) })).collect();
        Ok(Oidc { providers, http: builder.build()? })
    }

    /// The providers, in the order of their ids.
    pub fn configs(&self) -> impl Iterator<Item = &OidcProvider> {
        self.providers.values().map(|p| &p.config)
    }

    pub fn config(&self, id: &str) -> Option<&OidcProvider> {
        self.providers.get(id).map(|p| &p.config)
    }

    /// Where to send the browser to sign in: the provider's authorization
    /// endpoint with the code flow, PKCE (S256), `state` and `nonce`.
    pub async fn authorization_url(
        &self,
        id: &str,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        challenge: &str,
    ) -> Result<String, Refusal> {
        let provider = self.provider(id)?;
        let discovery = self.discovery(provider, false).await?;
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(provider.config.scopes.iter().filter(|s| s.as_str() != "openid").cloned());
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", provider.config.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", &scopes.join(" ")),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
        let separator = if discovery.authorization_endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{}{separator}{query}", discovery.authorization_endpoint))
    }

    /// Exchanges the code the provider sent back, checks the ID token and
    /// reads who signed in (with the user info endpoint's claims, where
    /// groups and e-mail often are).
    pub async fn finish(
        &self,
        id: &str,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        nonce: &str,
    ) -> Result<Identity, Refusal> {
        let provider = self.provider(id)?;
        let config = &provider.config;
        let discovery = self.discovery(provider, false).await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", config.client_id.as_str()),
        ];
        let mut request = self.http.post(&discovery.token_endpoint).header("accept", "application/json");
        request = match &config.client_secret {
            // client_secret_basic unless the provider only takes the secret in the form.
            Some(secret)
                if discovery.token_endpoint_auth_methods_supported.is_empty()
                    || discovery.token_endpoint_auth_methods_supported.iter().any(|m| m == "client_secret_basic") =>
            {
                let encode = |s: &str| serde_urlencoded::to_string([("", s)]).unwrap_or_default()[1..].to_owned();
                request.basic_auth(encode(&config.client_id), Some(encode(secret.expose()))).form(&form)
            }
            Some(secret) => {
                let mut with_secret = form.to_vec();
                with_secret.push(("client_secret", secret.expose()));
                request.form(&with_secret)
            }
            None => request.form(&form),
        };
        let response = request.send().await.map_err(|e| Refusal::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| Refusal::Unavailable(e.without_url().to_string()))?;
        if !status.is_success() {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("unknown");
            return Err(Refusal::Provider(format!("token endpoint said {status}: {error}")));
        }
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::Token("the token response holds no id_token".into()))?;
        let claims = self.verify(provider, &discovery, id_token, nonce).await?;
        let mut claims = claims;
        if let (Some(endpoint), Some(access)) =
            (&discovery.userinfo_endpoint, body.get("access_token").and_then(Value::as_str))
        {
            let info = self.user_info(endpoint, access).await?;
            // The user info must be about the same person (OIDC Core 5.3.2).
            if info.get("sub") != claims.get("sub") {
                return Err(Refusal::Token("the user info names another subject".into()));
            }
            for (name, value) in info {
                claims.entry(name).or_insert(value);
            }
        }
        identity(&claims, &config.groups_claim)
    }

    async fn user_info(&self, endpoint: &str, access_token: &str) -> Result<Map<String, Value>, Refusal> {
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| Refusal::Unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(Refusal::Provider(format!("user info endpoint said {}", response.status())));
        }
        // A signed user info response (application/jwt) is not asked for.
        response.json().await.map_err(|e| Refusal::Unavailable(format!("user info: {}", e.without_url())))
    }

    fn provider(&self, id: &str) -> Result<&Provider, Refusal> {
        self.providers.get(id).ok_or_else(|| Refusal::Provider(format!("no provider `{id}`")))
    }

    /// The provider's discovery document, and its keys kept beside it:
    /// read again when old, or the keys when `keys_stale` (a token named a
    /// key not among them).
    async fn discovery(&self, provider: &Provider, keys_stale: bool) -> Result<Discovery, Refusal> {
        let fresh =
            |k: &Known| k.discovered_at.elapsed() < DISCOVERY_TTL && k.keys_at.elapsed() < KEYS_TTL && !keys_stale;
        if let Some(k) = provider.known.read().await.as_ref().filter(|k| fresh(k)) {
            return Ok(k.discovery.clone());
        }
        let mut known = provider.known.write().await;
        // Another request may have read them meanwhile.
        if let Some(k) = known.as_ref().filter(|k| fresh(k)) {
            return Ok(k.discovery.clone());
        }
        let discovery = match known.as_ref() {
            Some(k) if k.discovered_at.elapsed() < DISCOVERY_TTL => k.discovery.clone(),
            _ => self.discover(&provider.config.issuer).await?,
        };
        let keys = self.keys(&discovery.jwks_uri).await?;
        let now = Instant::now();
        let discovered_at = known
            .as_ref()
            .filter(|k| k.discovery.issuer == discovery.issuer)
            .map_or(now, |k| if k.discovered_at.elapsed() < DISCOVERY_TTL { k.discovered_at } else { now });
        *known = Some(Known { discovery: discovery.clone(), discovered_at, keys, keys_at: now });
        Ok(discovery)
    }

    async fn discover(&self, issuer: &str) -> Result<Discovery, Refusal> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let discovery: Discovery = self.get_json(&url).await?;
        // OIDC Discovery 4.3: the document is the issuer's own.
        if discovery.issuer != issuer {
            return Err(Refusal::Unavailable(format!(
                "the discovery document names issuer `{}`, not `{issuer}`",
                discovery.issuer
            )));
        }
        for endpoint in [&discovery.authorization_endpoint, &discovery.token_endpoint, &discovery.jwks_uri] {
            if !crate::config::secure_url(endpoint) {
                return Err(Refusal::Unavailable(format!("`{endpoint}` is not an https:// address")));
            }
        }
        Ok(discovery)
    }

    async fn keys(&self, jwks_uri: &str) -> Result<JwkSet, Refusal> {
        self.get_json(jwks_uri).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, Refusal> {
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| Refusal::Unavailable(format!("{url}: {}", e.without_url())))?;
        if !response.status().is_success() {
            return Err(Refusal::Unavailable(format!("{url} answered {}", response.status())));
        }
        response.json().await.map_err(|e| Refusal::Unavailable(format!("{url}: {}", e.without_url())))
    }

    /// Checks the ID token against the provider's keys, reading them again
    /// once when it names a key not among them (keys were rotated).
    async fn verify(
        &self,
        provider: &Provider,
        discovery: &Discovery,
        token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, Refusal> {
        let kid = jsonwebtoken::decode_header(token).map_err(|e| Refusal::Token(e.to_string()))?.kid;
        let (keys, fetched) = {
            let known = provider.known.read().await;
            let k = known.as_ref().ok_or_else(|| Refusal::Unavailable("no keys yet".into()))?;
            (k.keys.clone(), k.keys_at)
        };
        let has_key = kid.as_deref().is_none_or(|kid| keys.find(kid).is_some());
        let keys = if has_key || fetched.elapsed() < KEYS_REFETCH_GAP {
            keys
        } else {
            self.discovery(provider, true).await?;
            let known = provider.known.read().await;
            known.as_ref().map(|k| k.keys.clone()).unwrap_or(keys)
        };
        verify_id_token(token, &keys, &discovery.issuer, &provider.config.client_id, nonce, now_secs())
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Checks an ID token (OIDC Core 3.1.3.7): an asymmetric signature by one
/// of `keys`, issued by `issuer` for `client_id` (and, when it names
/// several audiences, authorised for it), not expired nor issued in the
/// future beyond [`CLOCK_SKEW_SECS`], and carrying the sign-in's `nonce`.
/// Returns its claims.
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: u64,
) -> Result<Map<String, Value>, Refusal> {
    let bad = |why: &str| Refusal::Token(why.to_owned());
    let header = jsonwebtoken::decode_header(token).map_err(|e| Refusal::Token(e.to_string()))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(Refusal::Token(format!("signature algorithm {:?} is not accepted", header.alg)));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid).ok_or_else(|| bad("signed with a key the provider does not publish"))?,
        None if keys.keys.len() == 1 => &keys.keys[0],
        None => return Err(bad("the token names no key and the provider has several")),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| Refusal::Token(format!("unusable key: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = CLOCK_SKEW_SECS;
    // Expiry is checked below against `now`, so tests can move the clock.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        Refusal::Token(match e.kind() {
            ErrorKind::InvalidSignature => "the signature does not match (the token was altered)".into(),
            ErrorKind::InvalidAudience => "the token was issued to another application".into(),
            ErrorKind::InvalidIssuer => "the token was issued by another provider".into(),
            other => format!("{other:?}"),
        })
    })?;
    let claims = data.claims;
    let number = |name: &str| claims.get(name).and_then(Value::as_u64);
    let exp = number("exp").ok_or_else(|| bad("no expiry"))?;
    if exp + CLOCK_SKEW_SECS < now {
        return Err(bad("the token has expired"));
    }
    let iat = number("iat").ok_or_else(|| bad("no issue time"))?;
    if iat > now + CLOCK_SKEW_SECS {
        return Err(bad("the token was issued in the future"));
    }
    if let Some(Value::Array(audiences)) = claims.get("aud")
        && audiences.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(client_id)
    {
        return Err(bad("the token is for several applications and not authorised for this one"));
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(bad("the token belongs to another sign-in (nonce)"));
    }
    Ok(claims)
}

/// Who signed in, from the claims; groups read from `groups_claim`, which
/// may be a path (`realm_access.roles`).
pub fn identity(claims: &Map<String, Value>, groups_claim: &str) -> Result<Identity, Refusal> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned).filter(|s| !s.is_empty());
    let subject = text("sub").ok_or_else(|| Refusal::Token("no subject".into()))?;
    let mut found = Some(Value::Object(claims.clone()));
    for part in groups_claim.split('.') {
        found = found.and_then(|v| v.get(part).cloned());
    }
    let groups = match found {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(one)) => vec![one],
        _ => Vec::new(),
    };
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        // Some providers send it as a string.
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let name = text("name").or_else(|| {
        let full = [text("given_name"), text("family_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
        (!full.is_empty()).then_some(full)
    });
    Ok(Identity {
        subject,
        email: text("email").or_else(|| text("preferred_username").filter(|u| u.contains('@'))),
        email_verified,
        name,
        groups,
    })
}

/// What a person's groups grant through the mappings: administrator or
/// not, and a role per unit slug (the highest where several map to one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Granted {
    pub is_admin: bool,
    pub units: BTreeMap<String, Role>,
}

impl Granted {
    pub fn is_nothing(&self) -> bool {
        !self.is_admin && self.units.is_empty()
    }
}

/// Applies `mappings` to `groups` (a leading `/`, as Keycloak writes group
/// paths, is not part of the name).
pub fn roles_for(groups: &[String], mappings: &[GroupMapping]) -> Granted {
    let names: Vec<&str> = groups.iter().map(|g| g.trim_start_matches('/')).collect();
    let mut granted = Granted::default();
    for m in mappings.iter().filter(|m| names.contains(&m.group.trim_start_matches('/'))) {
        match (m.role.as_str(), &m.unit) {
            ("admin", _) => granted.is_admin = true,
            (role, Some(unit)) => {
                let role = if role == "supervisor" { Role::Supervisor } else { Role::Agent };
                let entry = granted.units.entry(unit.clone()).or_insert(role);
                if role == Role::Supervisor {
                    *entry = Role::Supervisor;
                }
            }
            _ => {}
        }
    }
    granted
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let (verifier, _) = crate::auth::new_secret("");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    // A P-256 key made for these tests only (PKCS#8 DER, base64).
    const PRIVATE: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeKevdOpqLaDMF69l7Q0ZLHRFoutlnKqgudW1iUPWusmhRANCAAQv863zQhLU7Z0Py+ovOYAi0cdsr2QJgOSwaR4TUbVecf4zY4a5xalzGbNP6xrugFZl8MucQALJj1R9RGVe46wg";

    fn private_key() -> EncodingKey {
        use base64::Engine;
        EncodingKey::from_ec_der(&base64::engine::general_purpose::STANDARD.decode(PRIVATE).expect("base64"))
    }

    fn keys() -> JwkSet {
        serde_json::from_value(json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": "L_Ot80IS1O2dD8vqLzmAItHHbK9kCYDksGkeE1G1XnE",
            "y": "_jNjhrnFqXMZs0_rGu6AVmXwy5xAAsmPVH1EZV7jrCA"
        }]}))
        .expect("a JWK set")
    }

    const NOW: u64 = 1_800_000_000;

    fn token(claims: Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        let key = private_key();
        encode(&header, &claims, &key).expect("signed")
    }

    fn good() -> Value {
        json!({"iss": "https://idp.test", "aud": "ventanilla", "sub": "u1", "exp": NOW + 300, "iat": NOW, "nonce": "n1"})
    }

    fn check(token: &str) -> Result<Map<String, Value>, Refusal> {
        verify_id_token(token, &keys(), "https://idp.test", "ventanilla", "n1", NOW)
    }

    fn refused(token: &str) -> String {
        match check(token) {
            Err(Refusal::Token(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_good_token_is_believed() {
        let claims = check(&token(good())).expect("valid");
        assert_eq!(claims["sub"], "u1");
    }

    #[test]
    fn within_the_clock_skew_is_still_good() {
        let mut claims = good();
        claims["exp"] = json!(NOW - 60);
        claims["iat"] = json!(NOW + 60);
        assert!(check(&token(claims)).is_ok());
    }

    #[test]
    fn an_altered_token_is_refused() {
        let signed = token(good());
        let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&engine.decode(&parts[1]).expect("b64")).expect("json");
        claims["sub"] = json!("someone-else");
        parts[1] = engine.encode(claims.to_string());
        assert!(refused(&parts.join(".")).contains("altered"));
    }

    #[test]
    fn expired_future_foreign_and_replayed_tokens_are_refused() {
        let with = |name: &str, value: Value| {
            let mut claims = good();
            claims[name] = value;
            token(claims)
        };
        assert!(refused(&with("exp", json!(NOW - CLOCK_SKEW_SECS - 1))).contains("expired"));
        assert!(refused(&with("iat", json!(NOW + CLOCK_SKEW_SECS + 1))).contains("future"));
        assert!(refused(&with("aud", json!("another-app"))).contains("another application"));
        assert!(refused(&with("iss", json!("https://evil.test"))).contains("another provider"));
        assert!(refused(&with("nonce", json!("n0"))).contains("nonce"));
        assert!(refused(&with("aud", json!(["ventanilla", "other"]))).contains("several"));
        let mut authorised = good();
        authorised["aud"] = json!(["ventanilla", "other"]);
        authorised["azp"] = json!("ventanilla");
        assert!(check(&token(authorised)).is_ok());
    }

    #[test]
    fn unsigned_mac_and_unknown_key_tokens_are_refused() {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = engine.encode(good().to_string());
        let none = format!("{}.{body}.", engine.encode(r#"{"alg":"none","kid":"k1"}"#));
        assert!(check(&none).is_err());
        let mac = encode(
            &Header { kid: Some("k1".into()), ..Header::new(Algorithm::HS256) },
            &good(),
            &EncodingKey::from_secret(b"the client secret"),
        )
        .expect("signed");
        assert!(refused(&mac).contains("not accepted"));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k9".into());
        let other = encode(&header, &good(), &private_key()).expect("signed");
        assert!(refused(&other).contains("does not publish"));
    }

    #[test]
    fn groups_map_to_the_highest_role_per_unit_and_admin() {
        let mapping = |group: &str, unit: Option<&str>, role: &str| GroupMapping {
            group: group.into(),
            unit: unit.map(str::to_owned),
            role: role.into(),
        };
        let mappings = [
            mapping("psicologia-staff", Some("bienestar"), "supervisor"),
            mapping("bienestar", Some("bienestar"), "agent"),
            mapping("admisiones", Some("admisiones"), "agent"),
            mapping("ti", None, "admin"),
        ];
        let groups = ["bienestar".to_owned(), "/psicologia-staff".to_owned()];
        let granted = roles_for(&groups, &mappings);
        assert!(!granted.is_admin);
        assert_eq!(granted.units.into_iter().collect::<Vec<_>>(), vec![("bienestar".to_owned(), Role::Supervisor)]);
        assert!(roles_for(&["otros".into()], &mappings).is_nothing());
        assert!(roles_for(&["ti".into()], &mappings).is_admin);
    }

    #[test]
    fn identity_reads_nested_groups_and_string_booleans() {
        let claims = json!({"sub": "s", "email": "a@b.co", "email_verified": "true",
            "given_name": "Ana", "family_name": "Ruiz", "realm_access": {"roles": ["x", "y"]}});
        let Value::Object(claims) = claims else { unreachable!() };
        let found = identity(&claims, "realm_access.roles").expect("identity");
        assert_eq!(found.groups, vec!["x", "y"]);
        assert!(found.email_verified);
        assert_eq!(found.name.as_deref(), Some("Ana Ruiz"));
    }
}
