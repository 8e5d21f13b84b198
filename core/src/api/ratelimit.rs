//! Keyed rate limits for public endpoints (per instance), on `governor`'s
//! GCRA limiter: constant memory per key, a sharded map instead of one
//! lock, and keys that stopped sending are dropped as the map is swept.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Hits between two sweeps of keys that have recovered their full quota.
const SWEEP_EVERY: u64 = 4096;

/// At most `max` hits per `window` per key, with bursts up to `max`.
pub struct RateLimiter {
    window: Duration,
    max: u32,
    limiter: DefaultKeyedRateLimiter<String>,
    /// Limiters for keys with a limit of their own ([`RateLimiter::hit_within`]), by limit.
    others: Mutex<HashMap<u32, Arc<DefaultKeyedRateLimiter<String>>>>,
    hits: AtomicU64,
    clock: DefaultClock,
}

fn keyed(max: u32, window: Duration) -> DefaultKeyedRateLimiter<String> {
    let burst = NonZeroU32::new(max).unwrap_or(NonZeroU32::MIN);
    let period = (window / burst.get()).max(Duration::from_nanos(1));
    let quota = Quota::with_period(period).map_or_else(|| Quota::per_second(burst), |q| q.allow_burst(burst));
    governor::RateLimiter::keyed(quota)
}

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        RateLimiter {
            window,
            max,
            limiter: keyed(max, window),
            others: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            clock: DefaultClock::default(),
        }
    }

    /// Counts a hit for `key`; `Err(seconds)` to wait when over the limit.
    pub fn hit(&self, key: &str) -> Result<(), u64> {
        self.sweep_now_and_then();
        self.check(&self.limiter, key)
    }

    /// Like [`RateLimiter::hit`] with a limit of its own for this key (e.g.
    /// a connector's own posts per hour), over the same window.
    pub fn hit_within(&self, key: &str, max: u32) -> Result<(), u64> {
        if max == self.max {
            return self.hit(key);
        }
        self.sweep_now_and_then();
        let limiter = {
            let mut others = match self.others.lock() {
                Ok(others) => others,
                Err(poisoned) => poisoned.into_inner(),
            };
            others.entry(max).or_insert_with(|| Arc::new(keyed(max, self.window))).clone()
        };
        self.check(&limiter, key)
    }

    fn check(&self, limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), u64> {
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Keys back at their full quota hold nothing worth keeping: forget
    /// them every few thousand hits, so a flood of distinct addresses costs
    /// memory only while it lasts.
    fn sweep_now_and_then(&self) {
        if self.hits.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
            if let Ok(others) = self.others.lock() {
                for limiter in others.values() {
                    limiter.retain_recent();
                }
            }
        }
    }

    /// Keys held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_ok());
        let wait = limiter.hit("a").expect_err("a third hit within the window is refused");
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limiter.hit("b").is_ok());
    }

    #[test]
    fn a_key_with_its_own_limit() {
        let limiter = RateLimiter::new(100, Duration::from_secs(3600));
        assert!(limiter.hit_within("install 1.2.3.4", 1).is_ok());
        assert!(limiter.hit_within("install 1.2.3.4", 1).is_err());
        assert!(limiter.hit("install 1.2.3.4").is_ok(), "the general limit is counted apart");
    }

    #[test]
    fn recovered_keys_are_forgotten() {
        let limiter = RateLimiter::new(1000, Duration::from_millis(10));
        for n in 0..SWEEP_EVERY - 1 {
            let _ = limiter.hit(&format!("addr-{n}"));
        }
        std::thread::sleep(Duration::from_millis(30));
        let _ = limiter.hit("one more");
        assert!(limiter.len() < 10, "swept: {} keys left", limiter.len());
    }
}
