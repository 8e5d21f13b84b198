//! Sending event subscriptions' webhooks (`webhook.deliver` jobs).
//!
//! Each event is POSTed as JSON with its type, delivery id, a timestamp
//! and an HMAC-SHA256 signature of `"{timestamp}.{body}"` under the
//! subscription's secret:
//!
//! ```text
//! X-Ventanilla-Event: case.created
//! X-Ventanilla-Delivery: 0193…
//! X-Ventanilla-Timestamp: 1767225600
//! X-Ventanilla-Signature: v1=5f2c…
//! ```
//!
//! A 2xx answer delivers it; anything else (or no answer in time) is tried
//! again with backoff until `[webhooks] attempts`, then kept as a dead
//! letter an admin can send again. A subscription's events about one case
//! go out in order: a later one waits while an earlier one is retried.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{self, job::Job, subscription::Attempt};

/// `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// Where a receiver's address may point: public `https://` hosts by name,
/// unless the operator allows private addresses.
fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let target = crate::plugins::net::parse_target(url).map_err(|e| e.to_string())?;
    if !target.https {
        return Err("only https:// receivers are allowed".into());
    }
    Ok(())
}

/// The client webhooks go out through: public addresses only (unless
/// allowed otherwise), no redirects, no proxy.
fn client(services: &Services) -> reqwest::Result<reqwest::Client> {
    let config = &services.config.webhooks;
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(config.timeout_secs))
        .user_agent(concat!("Ventanilla/", env!("CARGO_PKG_VERSION"), " (webhooks)"));
    if !config.allow_private_addresses {
        builder = builder.dns_resolver(Arc::new(crate::plugins::net::PublicResolver { private_hosts: vec![] }));
    }
    builder.build()
}

/// Runs a `webhook.deliver` job; `max_attempts` is when it becomes dead.
pub async fn deliver(services: &Services, job: &Job, max_attempts: i32) -> Outcome {
    let Some(id) = job.payload.get("delivery_id").and_then(|v| v.as_str()).and_then(|v| v.parse().ok()) else {
        return Outcome::Dead("the job names no delivery".into());
    };
    let db = &services.store;
    let delivery = match store::subscription::delivery(&db.db, id).await {
        Ok(d) => d,
        // The subscription was removed, and its deliveries with it.
        Err(store::Error::NotFound(_)) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    if delivery.status == "delivered" {
        return Outcome::Done;
    }
    // Events of one case go out in order.
    match store::job::first_earlier_in_group(&db.db, job, true).await {
        Ok(Some(earlier)) => {
            let wait = (earlier.run_at - store::now()).to_std().unwrap_or_default();
            return Outcome::Later(wait.clamp(Duration::from_millis(200), Duration::from_secs(60)));
        }
        Ok(None) => {}
        Err(e) => return Outcome::Retry(e.to_string()),
    }
    let subscription = match store::subscription::get(&db.db, delivery.subscription_id).await {
        Ok(s) => s,
        Err(store::Error::NotFound(_)) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let sealed = match store::subscription::sealed_secret(&db.db, subscription.id).await {
        Ok(s) => s,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let last = job.attempts >= max_attempts;
    let failed = |status: Option<u16>, error: String| async move {
        let attempt = Attempt::Failed { status: status.map(i32::from), error: error.clone(), last };
        if let Err(e) = store::subscription::record_attempt(db, id, job.id, job.attempts, attempt).await {
            return Outcome::Retry(e.to_string());
        }
        if last { Outcome::Dead(error) } else { Outcome::Retry(error) }
    };
    let Some(secret) = services.secrets.open_text(subscription.id, store::subscription::SECRET_NAME, &sealed) else {
        return failed(None, "the signing secret cannot be opened with this server's key".into()).await;
    };
    if let Err(e) = check_target(&subscription.url, services.config.webhooks.allow_private_addresses) {
        return failed(None, e).await;
    }
    let body = serde_json::to_vec(&delivery.payload).unwrap_or_default();
    let timestamp = store::now().timestamp();
    let client = match client(services) {
        Ok(c) => c,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let sent = client
        .post(&subscription.url)
        .header("content-type", "application/json")
        .header("x-ventanilla-event", &delivery.event_type)
        .header("x-ventanilla-delivery", delivery.id.to_string())
        .header("x-ventanilla-timestamp", timestamp.to_string())
        .header("x-ventanilla-signature", signature(&secret, timestamp, &body))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {
            let status = i32::from(response.status().as_u16());
            let attempt = Attempt::Delivered { status };
            match store::subscription::record_attempt(db, id, job.id, job.attempts, attempt).await {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::Retry(e.to_string()),
            }
        }
        Ok(response) => {
            let status = response.status().as_u16();
            failed(Some(status), format!("the receiver answered {status}")).await
        }
        Err(e) => {
            let error = if e.is_timeout() { "the receiver did not answer in time".to_owned() } else { e.to_string() };
            failed(None, error).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_time_and_the_body() {
        let a = signature("whsec_x", 1_767_225_600, b"{\"a\":1}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, signature("whsec_x", 1_767_225_601, b"{\"a\":1}"));
        assert_ne!(a, signature("whsec_x", 1_767_225_600, b"{\"a\":2}"));
        assert_ne!(a, signature("whsec_y", 1_767_225_600, b"{\"a\":1}"));
        assert!(new_secret().starts_with("whsec_") && new_secret() != new_secret());
    }

    #[test]
    fn receivers_must_be_public_https_names() {
        assert!(check_target("https://crm.uni.edu.co/hook", false).is_ok());
        assert!(check_target("http://crm.uni.edu.co/hook", false).is_err());
        assert!(check_target("https://10.0.0.5/hook", false).is_err());
        assert!(check_target("http://127.0.0.1:9000/hook", true).is_ok());
    }
}
