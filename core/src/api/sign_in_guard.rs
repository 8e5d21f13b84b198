//! Throttling password guesses without letting a stranger lock the real
//! person out.
//!
//! A plain "N failures lock the account" rule hands anyone who knows an
//! e-mail address a way to keep its owner out. Instead guesses are limited
//! per (account, address) — a guesser at one address stops there, the
//! owner elsewhere is untouched — and per account only from addresses the
//! account has not signed in from before: an attacker spreading guesses over
//! many addresses is stopped, while the owner, signing in from where they
//! always do, still gets in. Per instance, like every rate limit here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ratelimit::RateLimiter;
use crate::config::AuthConfig;

/// How long a successful sign-in makes its address familiar to the account.
const FAMILIAR_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Familiar addresses kept per account.
const FAMILIAR_PER_ACCOUNT: usize = 8;
/// Accounts whose familiar addresses are remembered.
const ACCOUNTS_REMEMBERED: usize = 50_000;
/// The window of the per-account limits.
const WINDOW: Duration = Duration::from_secs(15 * 60);

pub struct SignInGuard {
    /// Attempts per address, whatever the account.
    by_address: RateLimiter,
    /// Attempts per (account, address).
    by_account_address: RateLimiter,
    /// Attempts per account from addresses it never signed in from.
    by_account_unfamiliar: RateLimiter,
    familiar: Mutex<HashMap<String, Vec<(String, Instant)>>>,
}

impl SignInGuard {
    pub fn new(config: &AuthConfig) -> Self {
        SignInGuard {
            by_address: RateLimiter::new(config.login_attempts_per_ip_per_minute, Duration::from_secs(60)),
            by_account_address: RateLimiter::new(config.login_attempts_per_account, WINDOW),
            by_account_unfamiliar: RateLimiter::new(config.login_attempts_per_account_unfamiliar, WINDOW),
            familiar: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `address` that is not about one account
    /// (token refresh); `Err(seconds)` to wait.
    pub fn address(&self, address: &str) -> Result<(), u64> {
        self.by_address.hit(address)
    }

    /// Counts an attempt to prove `account`'s password from `address`
    /// (after [`SignInGuard::address`]); `Err(seconds)` when it must wait.
    pub fn attempt(&self, account: &str, address: &str) -> Result<(), u64> {
        self.by_account_address.hit(&format!("{account}\n{address}"))?;
        if !self.is_familiar(account, address) {
            self.by_account_unfamiliar.hit(account)?;
        }
        Ok(())
    }

    /// Remembers that `account` signed in from `address`.
    pub fn succeeded(&self, account: &str, address: &str) {
        let now = Instant::now();
        let mut familiar = match self.familiar.lock() {
            Ok(familiar) => familiar,
            Err(poisoned) => poisoned.into_inner(),
        };
        if familiar.len() >= ACCOUNTS_REMEMBERED && !familiar.contains_key(account) {
            familiar.retain(|_, seen| seen.iter().any(|(_, at)| now.duration_since(*at) < FAMILIAR_FOR));
            if familiar.len() >= ACCOUNTS_REMEMBERED {
                return;
            }
        }
        let seen = familiar.entry(account.to_owned()).or_default();
        seen.retain(|(known, at)| known != address && now.duration_since(*at) < FAMILIAR_FOR);
        seen.push((address.to_owned(), now));
        if seen.len() > FAMILIAR_PER_ACCOUNT {
            seen.remove(0);
        }
    }

    fn is_familiar(&self, account: &str, address: &str) -> bool {
        let familiar = match self.familiar.lock() {
            Ok(familiar) => familiar,
            Err(poisoned) => poisoned.into_inner(),
        };
        familiar
            .get(account)
            .is_some_and(|seen| seen.iter().any(|(known, at)| known == address && at.elapsed() < FAMILIAR_FOR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> SignInGuard {
        SignInGuard::new(&AuthConfig {
            login_attempts_per_ip_per_minute: 1000,
            login_attempts_per_account: 3,
            login_attempts_per_account_unfamiliar: 5,
            ..AuthConfig::default()
        })
    }

    #[test]
    fn a_guesser_is_stopped_and_the_owner_still_signs_in() {
        let guard = guard();
        guard.succeeded("admin@x", "10.0.0.1");
        for _ in 0..3 {
            assert!(guard.attempt("admin@x", "203.0.113.5").is_ok());
        }
        assert!(guard.attempt("admin@x", "203.0.113.5").is_err(), "one address gets three guesses");
        // Spread over many addresses, guesses stop at the account's limit...
        for n in 0..2 {
            assert!(guard.attempt("admin@x", &format!("198.51.100.{n}")).is_ok());
        }
        assert!(guard.attempt("admin@x", "198.51.100.77").is_err(), "five from unfamiliar addresses");
        // ...and the owner, where they always sign in, is not locked out.
        assert!(guard.attempt("admin@x", "10.0.0.1").is_ok());
        assert!(guard.attempt("other@x", "198.51.100.78").is_ok(), "other accounts are untouched");
    }
}
