//! Running installs: prepared plugins cached by (plugin, version), per-install
//! health figures, and the failure count that suspends a failing install.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::bot::BotPlugin;

/// Recent call durations kept per install for p50/p99.
const WINDOW: usize = 1000;

/// Health of one install on this instance since start.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub calls: u64,
    pub failures: u64,
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

/// Prepared plugins and health, shared by the handlers of one instance.
#[derive(Clone, Default)]
pub struct Runtime {
    prepared: Arc<RwLock<HashMap<(String, String), BotPlugin>>>,
    health: Arc<Mutex<HashMap<uuid::Uuid, Health>>>,
}

impl Runtime {
    pub fn prepared(&self, plugin_id: &str, version: &str) -> Option<BotPlugin> {
        self.prepared.read().ok()?.get(&(plugin_id.to_owned(), version.to_owned())).cloned()
    }

    pub fn remember(&self, plugin_id: &str, version: &str, bot: BotPlugin) {
        if let Ok(mut prepared) = self.prepared.write() {
            prepared.insert((plugin_id.to_owned(), version.to_owned()), bot);
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
