//! Host imports every world shares: log, kv and clock.

use super::bot::bindings::ventanilla::plugin::{clock, kv, log, types};
use super::host::HostState;
use super::kv::{KvError, KvFailure};

impl types::Host for HostState {}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) {
        if self.log_budget == 0 {
            return;
        }
        let mut text = message;
        if text.len() > self.log_budget {
            let mut cut = self.log_budget;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        self.log_budget -= text.len();
        let level = match level {
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        tracing::info!(target: "ventanilla::plugin", install = %self.install, level, message = %text, "plugin log");
        self.logs.push((level.to_owned(), text));
    }
}

fn kv_error(install: &str, failure: KvFailure) -> kv::KvError {
    match failure {
        KvFailure::Limit(KvError::TooLarge) => kv::KvError::TooLarge,
        KvFailure::Limit(KvError::QuotaExceeded) => kv::KvError::QuotaExceeded,
        KvFailure::Unavailable => {
            // WIT 1.0 has no "unavailable"; the plugin sees a full namespace
            // and the operator sees why.
            tracing::warn!(install, "plugin key-value storage unavailable (database error)");
            kv::KvError::QuotaExceeded
        }
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        if !self.grants.kv {
            return Err(kv::KvError::Denied);
        }
        self.kv.get(&self.install, &key).await.map_err(|e| kv_error(&self.install, e))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::KvError> {
        if !self.grants.kv {
            return Err(kv::KvError::Denied);
        }
        self.kv.set(&self.install, &key, value).await.map_err(|e| kv_error(&self.install, e))
    }

    async fn swap(&mut self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, kv::KvError> {
        if !self.grants.kv {
            return Err(kv::KvError::Denied);
        }
        self.kv.swap(&self.install, &key, expected, value).await.map_err(|e| kv_error(&self.install, e))
    }

    async fn delete(&mut self, key: String) -> Result<(), kv::KvError> {
        if !self.grants.kv {
            return Err(kv::KvError::Denied);
        }
        self.kv.delete(&self.install, &key).await.map_err(|e| kv_error(&self.install, e))
    }
}

impl clock::Host for HostState {
    async fn now_ms(&mut self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}
