//! Files Ventanilla keeps itself: stored once by content hash under the
//! data directory (or in an S3-compatible bucket, `[attachments.s3]`), and
//! reachable only through links signed by the server
//! that stop working after a while. An agent's upload is checked (size,
//! an allow-list of types, and that the bytes are what the type says)
//! before it is kept; a provider fetches what an agent sent through a
//! longer-lived link.
//!
//! A message refers to a kept file as `sha256:<hex>`; anything else in an
//! attachment's reference is the provider's own (not downloaded yet).

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use crate::config::{AttachmentsConfig, S3Config};

/// Why a file was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("`{0}` is not a type this server accepts; accepted: {1}")]
    Type(String, String),
    #[error("the content does not look like {0}")]
    Mismatch(String),
    #[error("the file is empty")]
    Empty,
}

/// Why a link does not open.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadLink {
    #[error("the link is not valid")]
    Forged,
    #[error("the link has expired; ask for the conversation again for a fresh one")]
    Expired,
}

/// The file store and the key that signs links to it.
#[derive(Clone)]
pub struct Attachments {
    backend: Backend,
    key: Vec<u8>,
    pub config: AttachmentsConfig,
}

/// Where the bytes live.
#[derive(Clone)]
enum Backend {
    Dir(PathBuf),
    Bucket { store: std::sync::Arc<dyn object_store::ObjectStore>, prefix: String },
}

/// The bucket client `config` describes (no request is made).
pub(crate) fn bucket(config: &S3Config) -> Result<std::sync::Arc<dyn object_store::ObjectStore>, String> {
    use object_store::{ClientOptions, aws::AmazonS3Builder};
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_region(&config.region)
        .with_access_key_id(&config.access_key_id)
        .with_secret_access_key(config.secret_access_key.expose())
        .with_allow_http(config.allow_http)
        .with_virtual_hosted_style_request(config.virtual_hosted_style)
        .with_client_options(
            ClientOptions::new()
                .with_timeout(std::time::Duration::from_secs(60))
                .with_connect_timeout(std::time::Duration::from_secs(10))
                .with_allow_http(config.allow_http),
        );
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let store = builder.build().map_err(|e| e.to_string())?;
    Ok(std::sync::Arc::new(store))
}

/// Checks `[attachments.s3]` and builds its client, without reaching the bucket.
pub fn check_s3(config: &S3Config) -> Result<(), String> {
    config.check()?;
    bucket(config).map(|_| ())
}

/// What a signed link carries besides the hash (clients use the `url` they
/// were given as is).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Content type to serve.
    pub t: String,
    /// File name to offer.
    pub n: String,
    /// Expiry, seconds since the Unix epoch.
    pub e: i64,
    /// Signature, hex.
    pub s: String,
}

impl Attachments {
    /// `key` signs links; derive it from a secret every instance shares.
    /// Fails only on `[attachments.s3]` settings that make no client.
    pub fn new(data_dir: &Path, config: AttachmentsConfig, key: &[u8]) -> Result<Self, String> {
        let backend = match &config.s3 {
            Some(s3) => Backend::Bucket { store: bucket(s3)?, prefix: s3.prefix.clone() },
            None => Backend::Dir(config.path.clone().unwrap_or_else(|| data_dir.join("attachments"))),
        };
        let mut mac = mac(key);
        mac.update(b"ventanilla attachment links v1");
        Ok(Attachments { backend, key: mac.finalize().into_bytes().to_vec(), config })
    }

    /// Where `hash` lives: `ab/abcdef…` under the directory or the prefix.
    fn relative(hash: &str) -> String {
        format!("{}/{hash}", &hash[..2])
    }

    fn object(prefix: &str, hash: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{prefix}{}", Attachments::relative(hash)))
    }

    /// Checks a file against the allow-list and its declared type; the type
    /// to keep it under (lowercase, without parameters).
    pub fn check(&self, declared: &str, bytes: &[u8]) -> Result<String, Refused> {
        if bytes.is_empty() {
            return Err(Refused::Empty);
        }
        let essence = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let allowed = self.config.allowed_types.iter().any(|pattern| match pattern.strip_suffix("/*") {
            Some(family) => essence.split('/').next() == Some(family) && essence.contains('/'),
            None => *pattern == essence,
        });
        if !allowed || essence.is_empty() {
            return Err(Refused::Type(essence, self.config.allowed_types.join(", ")));
        }
        if !looks_like(&essence, bytes) {
            return Err(Refused::Mismatch(essence));
        }
        Ok(essence)
    }

    /// Keeps `bytes` (once per content); their hash.
    pub async fn put(&self, bytes: Vec<u8>) -> std::io::Result<String> {
        let hash = hex::encode(Sha256::digest(&bytes));
        match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join(Attachments::relative(&hash));
                tokio::task::spawn_blocking(move || write_once(&path, &bytes))
                    .await
                    .map_err(std::io::Error::other)??;
            }
            // An object appears whole or not at all; one already there is the same bytes.
            Backend::Bucket { store, prefix } => {
                let object = Attachments::object(prefix, &hash);
                match store.head(&object).await {
                    Ok(_) => {}
                    Err(object_store::Error::NotFound { .. }) => {
                        store.put(&object, bytes.into()).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(hash)
    }

    /// The bytes kept under `hash`.
    pub async fn read(&self, hash: &str) -> std::io::Result<Vec<u8>> {
        match &self.backend {
            Backend::Dir(dir) => tokio::fs::read(dir.join(Attachments::relative(hash))).await,
            Backend::Bucket { store, prefix } => {
                let got = store.get(&Attachments::object(prefix, hash)).await?;
                Ok(got.bytes().await?.to_vec())
            }
        }
    }

    /// Deletes the bytes kept under `hash`; already gone is fine.
    pub async fn remove(&self, hash: &str) -> std::io::Result<()> {
        let result = match &self.backend {
            Backend::Dir(dir) => tokio::fs::remove_file(dir.join(Attachments::relative(hash))).await,
            Backend::Bucket { store, prefix } => {
                store.delete(&Attachments::object(prefix, hash)).await.map_err(std::io::Error::from)
            }
        };
        match result {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn signing(&self, hash: &str, content_type: &str, name: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = mac(&self.key);
        for part in [hash, content_type, name, &expires.to_string()] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    /// A path (under the API) that serves the file until `ttl_secs` from now.
    pub fn link(&self, hash: &str, content_type: &str, name: &str, ttl_secs: u64) -> String {
        let expires = chrono::Utc::now().timestamp() + i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2);
        self.link_until(hash, content_type, name, expires)
    }

    /// A link for a provider sending a message written at `written_at`. It
    /// must come out the same when the send is retried (the send journal
    /// recognises a retry by its request): it expires a fixed time after the
    /// message was written or, for a message retried much later, at the
    /// next full hour after the usual lifetime.
    pub fn provider_link(
        &self,
        hash: &str,
        content_type: &str,
        name: &str,
        written_at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let ttl = i64::try_from(self.config.provider_link_ttl_secs).unwrap_or(86_400);
        let now = chrono::Utc::now().timestamp();
        let mut expires = written_at.timestamp() + ttl;
        if expires < now + ttl / 2 {
            expires = (now + ttl).div_euclid(3600) * 3600 + 3600;
        }
        self.link_until(hash, content_type, name, expires)
    }

    fn link_until(&self, hash: &str, content_type: &str, name: &str, expires: i64) -> String {
        let signature = hex::encode(self.signing(hash, content_type, name, expires).finalize().into_bytes());
        let query = serde_urlencoded::to_string([
            ("t", content_type),
            ("n", name),
            ("e", &expires.to_string()),
            ("s", &signature),
        ])
        .unwrap_or_default();
        format!("/api/v1/attachments/{hash}?{query}")
    }

    /// A signature over `parts`, for links to other things the store keeps
    /// (an export's one download); `purpose` keeps kinds of links apart.
    pub fn sign(&self, purpose: &str, parts: &[&str]) -> String {
        hex::encode(self.signed(purpose, parts).finalize().into_bytes())
    }

    /// Whether `signature` is [`Attachments::sign`]'s for `parts`.
    pub fn verify_signature(&self, purpose: &str, parts: &[&str], signature: &str) -> bool {
        let Ok(presented) = hex::decode(signature) else { return false };
        self.signed(purpose, parts).verify_slice(&presented).is_ok()
    }

    fn signed(&self, purpose: &str, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = mac(&self.key);
        mac.update(purpose.as_bytes());
        mac.update(&[1]);
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    /// Checks a link's signature and expiry.
    pub fn verify(&self, hash: &str, query: &LinkQuery) -> Result<(), BadLink> {
        let presented = hex::decode(&query.s).map_err(|_| BadLink::Forged)?;
        self.signing(hash, &query.t, &query.n, query.e).verify_slice(&presented).map_err(|_| BadLink::Forged)?;
        if query.e < chrono::Utc::now().timestamp() {
            return Err(BadLink::Expired);
        }
        Ok(())
    }
}

/// What a clean-up found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    pub files: usize,
    pub bytes: u64,
}

/// Removes kept files that no message refers to and that were kept before
/// `before`: uploads an agent never sent. Run it with a margin (a day) so
/// an upload about to be sent is not taken; `dry_run` only counts.
pub async fn collect_garbage(
    store: &crate::store::Store,
    files: &Attachments,
    before: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
) -> Result<Collected, crate::store::Error> {
    use crate::store::{attachment, message};
    let mut collected = Collected::default();
    for kept in attachment::kept_before(&store.db, before).await? {
        // Checked and deleted in one transaction, file by file: a message
        // naming the file meanwhile keeps it.
        let tx = store.begin().await?;
        if message::refers_to_file(&*tx, &kept.hash).await? {
            continue;
        }
        collected.files += 1;
        collected.bytes += kept.size_bytes;
        if dry_run {
            continue;
        }
        attachment::delete(&*tx, &kept.hash).await?;
        tx.commit().await?;
        if let Err(e) = files.remove(&kept.hash).await {
            tracing::warn!(hash = %kept.hash, error = %e, "cannot delete a kept file");
        }
    }
    Ok(collected)
}

/// Writes `bytes` to `path` unless it exists: aside, synced, then renamed
/// into place, so a crash never leaves a half file under the hash.
fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    crate::private_fs::dir(dir)?;
    if let Some(root) = dir.parent() {
        crate::private_fs::dir(root)?;
    }
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    {
        use std::io::Write;
        let mut file = crate::private_fs::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC-SHA256 takes keys of any length")
}

/// Whether `bytes` start the way files of `content_type` do. Types without
/// a fixed signature (text, audio containers, office files) are let through.
fn looks_like(content_type: &str, bytes: &[u8]) -> bool {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    match content_type {
        "image/png" => starts(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => starts(b"\xff\xd8\xff"),
        "image/gif" => starts(b"GIF87a") || starts(b"GIF89a"),
        "image/webp" => starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"),
        "application/pdf" => starts(b"%PDF-"),
        "video/mp4" | "video/3gpp" => bytes.get(4..8) == Some(b"ftyp"),
        "text/plain" | "text/csv" => std::str::from_utf8(bytes).is_ok(),
        // An executable is never any of the accepted types.
        _ => !(starts(b"MZ") || starts(b"\x7fELF")),
    }
}

/// Runs a `files.gc` job (scheduled once per `attachments.gc_every_secs`
/// across instances): removes the files no message refers to that were
/// kept more than `attachments.gc_after_hours` ago.
pub async fn gc_job(store: &crate::store::Store, files: &Attachments) -> crate::store::job::Outcome {
    let hours = i64::try_from(files.config.gc_after_hours).unwrap_or(i64::MAX / 3600);
    let before = crate::store::now() - chrono::Duration::hours(hours);
    match collect_garbage(store, files, before, false).await {
        Ok(collected) => {
            if collected.files > 0 {
                tracing::info!(files = collected.files, bytes = collected.bytes, "unsent files removed");
            }
            crate::store::job::Outcome::Done
        }
        Err(e) => crate::store::job::Outcome::Retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Attachments {
        Attachments::new(Path::new("/nonexistent"), AttachmentsConfig::default(), b"secret").expect("a directory store")
    }

    #[test]
    fn types_are_checked_against_the_list_and_the_content() {
        let store = store();
        assert_eq!(store.check("image/PNG; charset=x", b"\x89PNG\r\n\x1a\nrest"), Ok("image/png".into()));
        assert_eq!(store.check("image/png", b"GIF89a"), Err(Refused::Mismatch("image/png".into())));
        assert!(matches!(store.check("application/x-msdownload", b"MZ"), Err(Refused::Type(..))));
        assert!(matches!(store.check("image", b"x"), Err(Refused::Type(..))));
        assert_eq!(store.check("audio/ogg", b"OggS"), Ok("audio/ogg".into()));
        assert_eq!(store.check("audio/ogg", b"MZ\x90\x00"), Err(Refused::Mismatch("audio/ogg".into())));
        assert_eq!(store.check("application/pdf", b""), Err(Refused::Empty));
    }

    #[test]
    fn links_are_signed_and_expire() {
        let store = store();
        let hash = "a".repeat(64);
        let link = store.link(&hash, "image/png", "recibo de pago.png", 60);
        let query: LinkQuery = serde_urlencoded::from_str(link.split_once('?').map(|(_, q)| q).unwrap()).unwrap();
        assert_eq!(query.n, "recibo de pago.png");
        assert_eq!(store.verify(&hash, &query), Ok(()));
        assert_eq!(store.verify(&"b".repeat(64), &query), Err(BadLink::Forged));
        let renamed = LinkQuery { n: "otro.exe".into(), ..query.clone() };
        assert_eq!(store.verify(&hash, &renamed), Err(BadLink::Forged));
        let other_key =
            Attachments::new(Path::new("/x"), AttachmentsConfig::default(), b"other").expect("a directory store");
        assert_eq!(other_key.verify(&hash, &query), Err(BadLink::Forged));
        let old = store.link(&hash, "image/png", "x.png", 0);
        let mut expired: LinkQuery = serde_urlencoded::from_str(old.split_once('?').unwrap().1).unwrap();
        expired.e -= 10;
        assert_eq!(store.verify(&hash, &expired), Err(BadLink::Forged), "the expiry is signed too");
        let written = chrono::Utc::now() - chrono::Duration::minutes(5);
        assert_eq!(
            store.provider_link(&hash, "image/png", "x.png", written),
            store.provider_link(&hash, "image/png", "x.png", written),
            "a retried send asks for the same link"
        );
        let long_ago = chrono::Utc::now() - chrono::Duration::days(3);
        let late: LinkQuery = serde_urlencoded::from_str(
            store.provider_link(&hash, "image/png", "x.png", long_ago).split_once('?').unwrap().1,
        )
        .unwrap();
        assert!(late.e > chrono::Utc::now().timestamp() + 86_000 && store.verify(&hash, &late).is_ok());
        assert_eq!(crate::domain::message::hash_of(&format!("sha256:{hash}")), Some(hash.as_str()));
        assert_eq!(crate::domain::message::hash_of("whatsapp-media:123"), None);
    }

    #[test]
    fn bucket_settings_are_checked_before_any_request() {
        let mut s3 = S3Config {
            bucket: "ventanilla".into(),
            region: "us-east-1".into(),
            endpoint: Some("http://minio.uni.local:9000".into()),
            access_key_id: "key".into(),
            secret_access_key: crate::config::Secret::new("secret"),
            prefix: String::new(),
            allow_http: false,
            virtual_hosted_style: false,
        };
        assert!(check_s3(&s3).is_err_and(|e| e.contains("allow_http")));
        s3.allow_http = true;
        assert_eq!(check_s3(&s3), Ok(()));
        s3.bucket = " ".into();
        assert!(check_s3(&s3).is_err_and(|e| e.starts_with("bucket")));
    }
}
