//! Sealing secrets: install secrets (and instance settings such as the token
//! signing key) encrypted at rest with XChaCha20-Poly1305, bound to their
//! install and name, decrypted only inside the host to sign or verify for a
//! plugin. A secret's value never crosses into a plugin or an API response.
//! A leaf module: the store seals with it, the plugin host opens with it.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use std::path::Path;

/// A secret value in memory; `Debug` never shows it.
#[derive(Clone)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretValue(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[secret]")
    }
}

/// The key that seals and opens secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

/// A sealed secret as stored.
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl SecretBox {
    /// A key given as base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "must be base64 of 32 random bytes (e.g. `openssl rand -base64 32`)".to_owned())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| "must decode to exactly 32 bytes".to_owned())?;
        Ok(SecretBox { cipher: XChaCha20Poly1305::new(&key.into()) })
    }

    /// The key in `path`, created with fresh random bytes (owner-only) if missing.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        if !path.exists() {
            let key: [u8; 32] = rand::random();
            let text = base64::engine::general_purpose::STANDARD.encode(key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => std::io::Write::write_all(&mut file, text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?,
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
            }
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        SecretBox::from_base64(&text).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))
    }

    /// Seals an instance-wide setting (`name` is bound to it) as base64 text
    /// for the settings table.
    pub fn seal_setting(&self, name: &str, value: &str) -> String {
        self.seal_text(uuid::Uuid::nil(), name, value)
    }

    /// Opens what [`SecretBox::seal_setting`] sealed; `None` if it was sealed
    /// with another key, under another name, or changed.
    pub fn open_setting(&self, name: &str, text: &str) -> Option<String> {
        self.open_text(uuid::Uuid::nil(), name, text)
    }

    /// Seals a secret of `owner` (a webhook subscription...) as base64 text
    /// for a column; `owner` and `name` are bound to it.
    pub fn seal_text(&self, owner: uuid::Uuid, name: &str, value: &str) -> String {
        let sealed = self.seal(owner, name, value.as_bytes());
        let mut bytes = sealed.nonce;
        bytes.extend_from_slice(&sealed.ciphertext);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Opens what [`SecretBox::seal_text`] sealed for the same owner and name.
    pub fn open_text(&self, owner: uuid::Uuid, name: &str, text: &str) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let sealed = Sealed { nonce: nonce.to_vec(), ciphertext: ciphertext.to_vec() };
        let value = self.open(owner, name, &sealed)?;
        String::from_utf8(value.0).ok()
    }

    fn aad(install: uuid::Uuid, name: &str) -> Vec<u8> {
        let mut aad = install.as_bytes().to_vec();
        aad.extend_from_slice(name.as_bytes());
        aad
    }

    pub fn seal(&self, install: uuid::Uuid, name: &str, value: &[u8]) -> Sealed {
        let nonce: [u8; 24] = rand::random();
        let aad = Self::aad(install, name);
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: value, aad: &aad })
            // Encryption only fails for messages over 256 GiB.
            .unwrap_or_default();
        Sealed { nonce: nonce.to_vec(), ciphertext }
    }

    /// Opens a sealed secret; `None` if it was tampered with, moved to another
    /// install or name, or sealed with another key.
    pub fn open(&self, install: uuid::Uuid, name: &str, sealed: &Sealed) -> Option<SecretValue> {
        let nonce: [u8; 24] = sealed.nonce.as_slice().try_into().ok()?;
        let aad = Self::aad(install, name);
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: &sealed.ciphertext, aad: &aad }).ok().map(SecretValue)
    }
}

/// Constant-time equality.
pub fn equals(secret: &SecretValue, presented: &[u8]) -> bool {
    let a = secret.bytes();
    if a.len() != presented.len() {
        return false;
    }
    a.iter().zip(presented).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn verify_hmac_sha256_hex(secret: &SecretValue, message: &[u8], signature_hex: &str) -> bool {
    let hex_text = signature_hex.trim().trim_start_matches("sha256=");
    let Ok(signature) = hex::decode(hex_text) else { return false };
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.bytes()) else { return false };
    mac.update(message);
    mac.verify_slice(&signature).is_ok()
}

pub fn verify_hmac_sha1_base64(secret: &SecretValue, message: &[u8], signature_base64: &str) -> bool {
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature_base64.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.bytes()) else { return false };
    mac.update(message);
    mac.verify_slice(&signature).is_ok()
}

/// Hex HMAC-SHA256 of `message` (for tests and for signing outbound webhooks).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) else { return String::new() };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Base64 HMAC-SHA1 of `message`, as Twilio signs its requests (for tests
/// and benchmarks that play Twilio).
pub fn hmac_sha1_base64(key: &[u8], message: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key) else { return String::new() };
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretBox {
        SecretBox::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_for_their_install_and_name() {
        let install = uuid::Uuid::now_v7();
        let sealed = key().seal(install, "app_secret", b"s3cr3t");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(key().open(install, "app_secret", &sealed).unwrap().bytes(), b"s3cr3t");
        assert!(key().open(install, "other", &sealed).is_none());
        assert!(key().open(uuid::Uuid::now_v7(), "app_secret", &sealed).is_none());
        let other = SecretBox::from_base64(&base64::engine::general_purpose::STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(install, "app_secret", &sealed).is_none());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(SecretBox::from_base64("not base64!").is_err());
        assert!(SecretBox::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let secret = SecretValue::new(b"key".to_vec());
        let signature = hmac_sha256_hex(b"key", b"body");
        assert!(verify_hmac_sha256_hex(&secret, b"body", &signature));
        assert!(verify_hmac_sha256_hex(&secret, b"body", &format!("sha256={signature}")));
        assert!(!verify_hmac_sha256_hex(&secret, b"body!", &signature));
        assert!(!verify_hmac_sha256_hex(&secret, b"body", "zz"));
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(b"key").unwrap();
        mac.update(b"body");
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert!(verify_hmac_sha1_base64(&secret, b"body", &sig));
        assert!(!verify_hmac_sha1_base64(&secret, b"other", &sig));
        assert!(equals(&secret, b"key") && !equals(&secret, b"kez") && !equals(&secret, b"ke"));
        assert_eq!(format!("{secret:?}"), "[secret]");
    }
}
