//! Credentials: argon2 password hashes, JWT access tokens, and opaque random
//! tokens (refresh and API tokens) that are stored only as SHA-256 hashes.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::UserId;

/// Prefix of API tokens, so a leaked one is easy to recognise in logs and scanners.
pub const API_TOKEN_PREFIX: &str = "vnt_";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("token signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Hashes a password with argon2id and a fresh salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, Error> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| Error::Hash(e.to_string()))
}

/// Checks a password against a stored PHC hash; any malformed hash is a mismatch.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A hash to compare against when the account does not exist, so a wrong
/// e-mail costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("ventanilla-timing-equaliser").unwrap_or_default())
}

/// A new random secret with `prefix`, and the hash to store for it.
pub fn new_secret(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let raw = format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_secret(&raw);
    (raw, hash)
}

/// SHA-256 of a high-entropy secret; enough because the secret is random.
pub fn hash_secret(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// Whether two secrets are the same, comparing their digests so the time
/// taken says nothing about where they first differ.
pub fn same_secret(expected: &str, presented: &str) -> bool {
    let (a, b) = (Sha256::digest(expected.as_bytes()), Sha256::digest(presented.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Claims of an access token.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    pub sub: uuid::Uuid,
    pub exp: i64,
    pub iat: i64,
    pub typ: String,
    /// The sign-in session the token belongs to: ending it ends the token.
    /// (Tokens issued before sessions existed carry none.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<uuid::Uuid>,
}

/// Who an access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer {
    pub user: UserId,
    pub session: Option<uuid::Uuid>,
}

/// Signs and checks access tokens with one HMAC key shared by all instances.
#[derive(Clone)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub ttl_secs: i64,
}

impl Jwt {
    pub fn new(secret: &[u8], ttl_secs: i64) -> Self {
        Jwt { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), ttl_secs }
    }

    /// An access token for `user` within the sign-in `session`.
    pub fn issue(&self, user: UserId, session: uuid::Uuid) -> Result<String, Error> {
        let now = chrono::Utc::now().timestamp();
        let claims =
            Claims { sub: user.0, iat: now, exp: now + self.ttl_secs, typ: "access".into(), sid: Some(session) };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The user (and session) of a valid, unexpired access token.
    pub fn verify(&self, token: &str) -> Option<Bearer> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        (data.claims.typ == "access").then_some(Bearer { user: UserId(data.claims.sub), session: data.claims.sid })
    }
}

/// Claims of a web chat visitor's token: one anonymous visitor, one unit.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct VisitorClaims {
    sub: uuid::Uuid,
    unit: uuid::Uuid,
    exp: i64,
    iat: i64,
    typ: String,
}

/// How long a web chat visitor keeps their conversation without writing.
pub const VISITOR_TTL_SECS: i64 = 30 * 24 * 3600;

impl Jwt {
    /// A token for an anonymous web chat visitor: it reaches that visitor's
    /// own conversation with `unit` and nothing else.
    pub fn issue_visitor(&self, visitor: uuid::Uuid, unit: crate::domain::UnitId) -> Result<String, Error> {
        let now = chrono::Utc::now().timestamp();
        let claims =
            VisitorClaims { sub: visitor, unit: unit.0, iat: now, exp: now + VISITOR_TTL_SECS, typ: "visitor".into() };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The visitor and unit of a valid visitor token.
    pub fn verify_visitor(&self, token: &str) -> Option<(uuid::Uuid, crate::domain::UnitId)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<VisitorClaims>(token, &self.decoding, &validation).ok()?;
        (data.claims.typ == "visitor").then_some((data.claims.sub, crate::domain::UnitId(data.claims.unit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_tokens_are_not_access_tokens() {
        let jwt = Jwt::new(b"0123456789abcdef0123456789abcdef", 60);
        let (visitor, unit) = (uuid::Uuid::now_v7(), crate::domain::UnitId::new());
        let token = jwt.issue_visitor(visitor, unit).unwrap();
        assert_eq!(jwt.verify_visitor(&token), Some((visitor, unit)));
        assert_eq!(jwt.verify(&token), None, "a visitor cannot call the staff API");
        let staff = jwt.issue(UserId::new(), uuid::Uuid::now_v7()).unwrap();
        assert_eq!(jwt.verify_visitor(&staff), None);
    }

    #[test]
    fn passwords_verify() {
        let hash = hash_password("una clave larga").unwrap();
        assert!(verify_password("una clave larga", &hash));
        assert!(!verify_password("otra clave", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn jwt_round_trip_and_tamper() {
        let jwt = Jwt::new(b"0123456789abcdef0123456789abcdef", 60);
        let (user, session) = (UserId::new(), uuid::Uuid::now_v7());
        let token = jwt.issue(user, session).unwrap();
        assert_eq!(jwt.verify(&token), Some(Bearer { user, session: Some(session) }));
        let other = Jwt::new(b"another key, another key, another", 60);
        assert_eq!(other.verify(&token), None);
        let expired = Jwt::new(b"0123456789abcdef0123456789abcdef", -60);
        assert_eq!(jwt.verify(&expired.issue(user, session).unwrap()), None);
    }

    #[test]
    fn secrets_are_prefixed_and_hashed() {
        let (raw, hash) = new_secret(API_TOKEN_PREFIX);
        assert!(raw.starts_with(API_TOKEN_PREFIX));
        assert_eq!(hash, hash_secret(&raw));
        assert_ne!(new_secret("").0, new_secret("").0);
    }
}
