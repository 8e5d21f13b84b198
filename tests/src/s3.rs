//! A stand-in for an S3-compatible bucket on 127.0.0.1 (path-style
//! addresses): PUT, HEAD, GET and DELETE of objects, kept in memory. Every
//! request must be signed (AWS Signature Version 4) with the access key the
//! test gave; anything else is refused with 403, as S3 would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the bucket saw it.
#[derive(Debug, Clone)]
pub struct S3Request {
    pub method: String,
    /// The object key, without the bucket.
    pub key: String,
}

pub struct FakeS3 {
    pub port: u16,
    pub bucket: String,
    objects: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<S3Request>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeS3 {
    /// A bucket that takes requests signed with `access_key`.
    pub async fn start(bucket: &str, access_key: &str) -> anyhow::Result<FakeS3> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let objects = Arc::new(Mutex::new(BTreeMap::new()));
        let requests = Arc::new(Mutex::new(vec![]));
        let (kept, seen) = (objects.clone(), requests.clone());
        let prefix = format!("/{bucket}/");
        let credential = format!("AWS4-HMAC-SHA256 Credential={access_key}/");
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (kept, seen, prefix, credential) = (kept.clone(), seen.clone(), prefix.clone(), credential.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, &kept, &seen, &prefix, &credential).await;
                });
            }
        });
        Ok(FakeS3 { port, bucket: bucket.to_owned(), objects, requests, _task: task })
    }

    /// `[attachments.s3]` for this bucket, under the prefix `kept/`.
    pub fn attachments_config(&self) -> ventanilla::attachments::AttachmentsConfig {
        ventanilla::attachments::AttachmentsConfig {
            s3: Some(ventanilla::attachments::S3Config {
                bucket: self.bucket.clone(),
                region: "us-east-1".into(),
                endpoint: Some(self.endpoint()),
                access_key_id: "VENTANILLA-TEST".into(),
                secret_access_key: ventanilla::config::Secret::new("s3-secret-key"),
                prefix: "kept/".into(),
                allow_http: true,
                virtual_hosted_style: false,
            }),
            ..Default::default()
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The objects in the bucket, by key.
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        self.objects.lock().map(|o| o.clone()).unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<S3Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Answers the requests of one connection (kept alive, as clients do).
async fn serve(
    mut socket: tokio::net::TcpStream,
    objects: &Mutex<BTreeMap<String, Vec<u8>>>,
    requests: &Mutex<Vec<S3Request>>,
    prefix: &str,
    credential: &str,
) -> anyhow::Result<()> {
    let mut buffer: Vec<u8> = vec![];
    let mut chunk = [0u8; 16384];
    loop {
        // The head, then as many body bytes as it announces.
        let end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let read = socket.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end + 4);
        let mut lines = head.lines();
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, target) =
            (first.next().unwrap_or_default().to_owned(), first.next().unwrap_or_default().to_owned());
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())))
            .collect();
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let mut body = if chunked {
            while !buffer.ends_with(b"0\r\n\r\n") {
                let read = socket.read(&mut chunk).await?;
                if read == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            let raw = std::mem::take(&mut buffer);
            crate::dechunk(&raw)
        } else {
            while buffer.len() < length {
                let read = socket.read(&mut chunk).await?;
                if read == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            buffer.drain(..length.min(buffer.len())).collect()
        };
        let path = target.split('?').next().unwrap_or_default();
        let key = path.strip_prefix(prefix).map(str::to_owned);
        if let (Ok(mut seen), Some(key)) = (requests.lock(), &key) {
            seen.push(S3Request { method: method.clone(), key: key.clone() });
        }
        let signed = header("authorization").is_some_and(|a| a.starts_with(credential))
            && header("x-amz-date").is_some()
            && header("x-amz-content-sha256").is_some();
        let error = |status: &str, code: &str| {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
            );
            (status.to_owned(), vec![("content-type".to_owned(), "application/xml".to_owned())], xml.into_bytes())
        };
        let meta = |bytes: &[u8]| {
            vec![
                (
                    "etag".to_owned(),
                    format!("\"{:x}\"", bytes.len() * 7919 + bytes.first().copied().unwrap_or(0) as usize),
                ),
                ("last-modified".to_owned(), "Mon, 30 Nov 2026 10:00:00 GMT".to_owned()),
            ]
        };
        let (status, mut extra, mut reply) = match (signed, key, method.as_str()) {
            (false, _, _) => error("403 Forbidden", "SignatureDoesNotMatch"),
            (true, None, _) => error("404 Not Found", "NoSuchBucket"),
            (true, Some(key), "PUT") => {
                let stored = std::mem::take(&mut body);
                let headers = meta(&stored);
                if let Ok(mut objects) = objects.lock() {
                    objects.insert(key, stored);
                }
                ("200 OK".to_owned(), headers, vec![])
            }
            (true, Some(key), "GET" | "HEAD") => match objects.lock().ok().and_then(|o| o.get(&key).cloned()) {
                Some(bytes) => {
                    let mut headers = meta(&bytes);
                    headers.push(("content-type".to_owned(), "application/octet-stream".to_owned()));
                    ("200 OK".to_owned(), headers, bytes)
                }
                None => error("404 Not Found", "NoSuchKey"),
            },
            (true, Some(key), "DELETE") => {
                if let Ok(mut objects) = objects.lock() {
                    objects.remove(&key);
                }
                ("204 No Content".to_owned(), vec![], vec![])
            }
            (true, Some(_), _) => error("405 Method Not Allowed", "MethodNotAllowed"),
        };
        let length = reply.len();
        if method == "HEAD" {
            reply.clear();
        }
        extra.push(("content-length".to_owned(), length.to_string()));
        let head: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        socket.write_all(format!("HTTP/1.1 {status}\r\n{head}\r\n").as_bytes()).await?;
        socket.write_all(&reply).await?;
    }
}
