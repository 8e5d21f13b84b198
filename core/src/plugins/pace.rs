//! Per channel account send pacing: providers cap how fast one account may
//! send (WhatsApp, Twilio), and a burst of replies must not be refused for
//! it. Each account gets evenly spaced slots at its manifest's
//! `max_sends_per_second`; a send waits briefly for its slot, or goes back
//! to the queue when the next free slot is further away. Counted per
//! instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a job worker waits in place for a slot.
pub const MAX_WAIT: Duration = Duration::from_millis(250);

#[derive(Default)]
pub struct Pacer {
    /// The earliest time each account's next send may go.
    next: Mutex<HashMap<uuid::Uuid, Instant>>,
}

impl Pacer {
    /// Reserves the next slot of `install` at `per_second` and returns how
    /// long to wait for it; `Err(wait)` reserves nothing when the slot is
    /// more than [`MAX_WAIT`] away.
    pub fn reserve(&self, install: uuid::Uuid, per_second: u32) -> Result<Duration, Duration> {
        let interval = Duration::from_secs(1) / per_second.max(1);
        let now = Instant::now();
        let mut next = match self.next.lock() {
            Ok(next) => next,
            Err(poisoned) => poisoned.into_inner(),
        };
        let slot = next.get(&install).copied().unwrap_or(now).max(now);
        let wait = slot - now;
        if wait > MAX_WAIT {
            return Err(wait);
        }
        next.insert(install, slot + interval);
        if next.len() > 10_000 {
            next.retain(|_, at| *at > now);
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_and_far_ones_refused() {
        let pacer = Pacer::default();
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        assert_eq!(pacer.reserve(a, 10), Ok(Duration::ZERO));
        let second = pacer.reserve(a, 10).unwrap();
        assert!(second > Duration::from_millis(90) && second <= Duration::from_millis(100), "{second:?}");
        assert_eq!(pacer.reserve(b, 10), Ok(Duration::ZERO), "accounts are paced apart");
        assert!(pacer.reserve(a, 10).is_ok());
        assert!(pacer.reserve(a, 10).is_err(), "the fourth slot is 300 ms away");
    }
}
