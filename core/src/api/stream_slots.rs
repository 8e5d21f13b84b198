//! How many live event streams may be open at once: per web-chat visitor
//! token, per signed-in user or token, per client address, and in all.
//! An open stream holds a task, a socket and a subscription to the live
//! hub; anonymous callers must not be able to open them without end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::StreamsConfig;

/// Open streams per key, and in all.
pub struct StreamSlots {
    limits: StreamsConfig,
    open: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_key: HashMap<String, usize>,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The caller (a token, a user) holds as many as it may.
    Caller,
    /// The client address holds as many as it may.
    Address,
    /// The instance holds as many as it may.
    Instance,
}

impl Full {
    pub fn message(self) -> &'static str {
        match self {
            Full::Caller => "too many live streams are open for this session; close one first",
            Full::Address => "too many live streams are open from this address",
            Full::Instance => "the server has as many live streams open as it takes; try again soon",
        }
    }
}

/// A held slot; dropping it (the stream ended or the client left) frees it.
pub struct Slot {
    slots: Arc<StreamSlots>,
    keys: [String; 2],
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        open.total = open.total.saturating_sub(1);
        for key in &self.keys {
            if let Some(n) = open.by_key.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    open.by_key.remove(key);
                }
            }
        }
    }
}

/// Who is opening a stream.
pub enum Holder<'a> {
    Visitor(&'a uuid::Uuid),
    Principal(String),
}

impl StreamSlots {
    pub fn new(limits: StreamsConfig) -> Arc<Self> {
        Arc::new(StreamSlots { limits, open: Mutex::new(Counts::default()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        match self.open.lock() {
            Ok(open) => open,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Takes a slot for `holder` from `address`, or says which limit is full.
    pub fn take(self: &Arc<Self>, holder: Holder<'_>, address: &str) -> Result<Slot, Full> {
        let (caller, caller_max) = match holder {
            Holder::Visitor(id) => (format!("visitor {id}"), self.limits.per_visitor),
            Holder::Principal(key) => (format!("principal {key}"), self.limits.per_principal),
        };
        let address = format!("address {address}");
        let mut open = self.lock();
        if open.total >= self.limits.total {
            return Err(Full::Instance);
        }
        if open.by_key.get(&caller).copied().unwrap_or(0) >= caller_max {
            return Err(Full::Caller);
        }
        if open.by_key.get(&address).copied().unwrap_or(0) >= self.limits.per_address {
            return Err(Full::Address);
        }
        open.total += 1;
        *open.by_key.entry(caller.clone()).or_default() += 1;
        *open.by_key.entry(address.clone()).or_default() += 1;
        drop(open);
        Ok(Slot { slots: self.clone(), keys: [caller, address] })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_and_slots_come_back() {
        let slots = StreamSlots::new(StreamsConfig { per_visitor: 2, per_address: 3, total: 4, ..Default::default() });
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let first = slots.take(Holder::Visitor(&a), "1.1.1.1");
        let second = slots.take(Holder::Visitor(&a), "1.1.1.1");
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(slots.take(Holder::Visitor(&a), "2.2.2.2").err(), Some(Full::Caller));
        let third = slots.take(Holder::Visitor(&b), "1.1.1.1");
        assert!(third.is_ok());
        assert_eq!(slots.take(Holder::Visitor(&b), "1.1.1.1").err(), Some(Full::Address));
        let fourth = slots.take(Holder::Visitor(&b), "2.2.2.2");
        assert!(fourth.is_ok());
        assert_eq!(slots.take(Holder::Principal("u".into()), "3.3.3.3").err(), Some(Full::Instance));
        drop(first);
        assert_eq!(slots.open(), 3);
        assert!(slots.take(Holder::Visitor(&a), "1.1.1.1").is_ok(), "a closed stream frees its slot");
    }
}
