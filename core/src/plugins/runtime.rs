//! Running installs: prepared plugins cached by (plugin, version), per-install
//! health figures, and the failure count that suspends a failing install.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::bot::BotPlugin;
use super::connector::ConnectorPlugin;
use super::manifest::{Manifest, World};
use super::protocol::ProtocolPlugin;
use super::{Error, PluginHost};

/// Recent call durations kept per install for p50/p99.
const WINDOW: usize = 1000;

/// Health of one install on this instance since start.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub calls: u64,
    /// Calls that failed: the plugin trapped or refused, or (for a
    /// connector's sends) the provider did not take the message.
    pub failures: u64,
    /// Of those, sends the provider did not take (each retried try counts).
    pub send_failures: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    durations: VecDeque<Duration>,
}

impl Health {
    /// The `p`-th percentile of recent call durations.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let mut sorted: Vec<_> = self.durations.iter().copied().collect();
        sorted.sort();
        let last = sorted.len().checked_sub(1)?;
        sorted.get(((last as f64) * p).round() as usize).copied()
    }
}

/// A plugin version compiled and linked for its world.
#[derive(Clone)]
pub enum Prepared {
    Bot(BotPlugin),
    Protocol(ProtocolPlugin),
    Connector(ConnectorPlugin),
}

impl PluginHost {
    /// Checks that `compiled` implements `world` and prepares it.
    pub fn prepare(&self, compiled: &super::Compiled, world: World) -> Result<Prepared, Error> {
        Ok(match world {
            World::Bot => Prepared::Bot(self.prepare_bot(compiled)?),
            World::Protocol => Prepared::Protocol(self.prepare_protocol(compiled)?),
            World::Connector => Prepared::Connector(self.prepare_connector(compiled)?),
        })
    }
}

/// Prepared plugins and health, shared by the handlers of one instance.
#[derive(Clone, Default)]
pub struct Runtime {
    prepared: Arc<RwLock<HashMap<(String, String), Prepared>>>,
    /// Parsed manifests by (plugin, version): a stored version never
    /// changes, so each is read and checked once, not on every webhook.
    manifests: Arc<RwLock<HashMap<(String, String), Manifest>>>,
    health: Arc<Mutex<HashMap<uuid::Uuid, Health>>>,
    /// When each install's stored failure count was last seen at zero by
    /// this instance: successes after that need not read it again for a
    /// while (a webhook is a few statements; this was one of them).
    clean: Arc<Mutex<HashMap<uuid::Uuid, std::time::Instant>>>,
    /// Channel accounts as webhooks use them: the install and its call
    /// context (grants, opened secrets), trusted for a moment so a burst of
    /// webhooks does not read them for every request. Changes made through
    /// this instance forget them at once; other instances see a change
    /// within `ACCOUNT_FOR`.
    accounts: Arc<Mutex<HashMap<uuid::Uuid, Account>>>,
}

type Account = (std::time::Instant, crate::store::plugin_install::Install, super::CallContext);

/// How long a stored failure count seen at zero is trusted.
const CLEAN_FOR: Duration = Duration::from_secs(5);

/// How long a channel account's install and secrets are trusted.
const ACCOUNT_FOR: Duration = Duration::from_secs(1);

impl Runtime {
    pub fn prepared(&self, plugin_id: &str, version: &str) -> Option<Prepared> {
        self.prepared.read().ok()?.get(&(plugin_id.to_owned(), version.to_owned())).cloned()
    }

    /// The stored manifest of a plugin version, parsed once per instance; a
    /// stored manifest that no longer parses is `Corrupt`.
    pub async fn manifest(
        &self,
        db: &crate::store::Store,
        plugin_id: &str,
        version: &str,
    ) -> Result<Manifest, crate::store::Error> {
        let key = (plugin_id.to_owned(), version.to_owned());
        if let Some(manifest) = self.manifests.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(manifest);
        }
        let text = crate::store::plugin::manifest(&db.db, plugin_id, version).await?;
        let manifest = Manifest::parse(&text)
            .map_err(|e| crate::store::Error::Corrupt(format!("stored manifest of {plugin_id} {version}: {e}")))?;
        if let Ok(mut cache) = self.manifests.write() {
            cache.insert(key, manifest.clone());
        }
        Ok(manifest)
    }

    /// Drops what this instance cached of a version: it was deleted, or
    /// uploaded again (a deleted version number may come back with other
    /// content). Other instances forget it on restart.
    pub fn forget(&self, plugin_id: &str, version: &str) {
        let key = (plugin_id.to_owned(), version.to_owned());
        if let Ok(mut cache) = self.prepared.write() {
            cache.remove(&key);
        }
        if let Ok(mut cache) = self.manifests.write() {
            cache.remove(&key);
        }
    }

    pub fn remember(&self, plugin_id: &str, version: &str, prepared: Prepared) {
        if let Ok(mut cache) = self.prepared.write() {
            cache.insert((plugin_id.to_owned(), version.to_owned()), prepared);
        }
    }

    /// The prepared plugin of a stored version, compiled (or loaded from the
    /// disk cache) on first use, off the async threads.
    pub async fn load(
        &self,
        db: &crate::store::Store,
        host: &PluginHost,
        plugin_id: &str,
        version: &str,
        world: World,
    ) -> Result<Prepared, Error> {
        if let Some(prepared) = self.prepared(plugin_id, version) {
            return Ok(prepared);
        }
        let wasm = crate::store::plugin::wasm(&db.db, plugin_id, version)
            .await
            .map_err(|e| Error::Cache(format!("cannot read {plugin_id} {version}: {e}")))?;
        let host = host.clone();
        let prepared = tokio::task::spawn_blocking(move || host.compile(&wasm).and_then(|c| host.prepare(&c, world)))
            .await
            .map_err(|e| Error::Cache(format!("compile task: {e}")))??;
        self.remember(plugin_id, version, prepared.clone());
        Ok(prepared)
    }

    /// The channel account's install and call context, if read within `ACCOUNT_FOR`.
    pub fn account(&self, install: uuid::Uuid) -> Option<(crate::store::plugin_install::Install, super::CallContext)> {
        let accounts = self.accounts.lock().ok()?;
        let (at, install, ctx) = accounts.get(&install)?;
        (at.elapsed() < ACCOUNT_FOR).then(|| (install.clone(), ctx.clone()))
    }

    pub fn remember_account(&self, install: crate::store::plugin_install::Install, ctx: super::CallContext) {
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.retain(|_, (at, _, _)| at.elapsed() < ACCOUNT_FOR);
            accounts.insert(install.id, (std::time::Instant::now(), install, ctx));
        }
    }

    /// Forgets what is known of an install that changed (settings, grants,
    /// secrets, enabled, suspended, removed).
    pub fn forget_account(&self, install: uuid::Uuid) {
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.remove(&install);
        }
    }

    /// Whether the install's stored failure count was seen at zero lately.
    pub fn recently_clean(&self, install: uuid::Uuid) -> bool {
        self.clean.lock().ok().and_then(|c| c.get(&install).copied()).is_some_and(|at| at.elapsed() < CLEAN_FOR)
    }

    /// Notes what the stored failure count was after an outcome was recorded.
    pub fn note_failures(&self, install: uuid::Uuid, failures: i32) {
        let Ok(mut clean) = self.clean.lock() else { return };
        if failures == 0 {
            clean.insert(install, std::time::Instant::now());
        } else {
            clean.remove(&install);
        }
    }

    pub fn record(&self, install: uuid::Uuid, elapsed: Duration, error: Option<String>) {
        let Ok(mut health) = self.health.lock() else { return };
        let entry = health.entry(install).or_default();
        entry.calls += 1;
        if entry.durations.len() == WINDOW {
            entry.durations.pop_front();
        }
        entry.durations.push_back(elapsed);
        if let Some(error) = error {
            entry.failures += 1;
            entry.last_error = Some(error);
            entry.last_error_at = Some(chrono::Utc::now());
        }
    }

    /// Records a webhook whose parsed content could not be stored (a
    /// failure in the install's health, with no call duration).
    pub fn record_refused(&self, install: uuid::Uuid, error: &str) {
        let Ok(mut health) = self.health.lock() else { return };
        let entry = health.entry(install).or_default();
        entry.failures += 1;
        entry.last_error = Some(error.to_owned());
        entry.last_error_at = Some(chrono::Utc::now());
    }

    /// Records a send the plugin made but its provider did not take.
    pub fn record_send_failure(&self, install: uuid::Uuid, elapsed: Duration, error: &str) {
        self.record(install, elapsed, Some(error.to_owned()));
        if let Ok(mut health) = self.health.lock() {
            health.entry(install).or_default().send_failures += 1;
        }
    }

    pub fn health(&self, install: uuid::Uuid) -> Health {
        self.health.lock().ok().and_then(|h| h.get(&install).cloned()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_counts_and_percentiles() {
        let runtime = Runtime::default();
        let id = uuid::Uuid::now_v7();
        for ms in 1..=100 {
            runtime.record(id, Duration::from_millis(ms), (ms == 100).then(|| "trap".to_owned()));
        }
        let health = runtime.health(id);
        assert_eq!((health.calls, health.failures), (100, 1));
        assert_eq!(health.percentile(0.5), Some(Duration::from_millis(51)));
        assert_eq!(health.percentile(0.99), Some(Duration::from_millis(99)));
        assert_eq!(health.last_error.as_deref(), Some("trap"));
        assert_eq!(runtime.health(uuid::Uuid::now_v7()).percentile(0.5), None);
    }
}
