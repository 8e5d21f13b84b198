//! Who a signed-in user is, kept for a few seconds per instance, so a
//! request does not read the account and its memberships again each time.
//!
//! An account change forgets the entry at once on the instance that made it
//! and, through the `user.changed` live event, on every other instance; the
//! time to live bounds what a lost event could leave behind. What ends
//! access for good (a deactivated account's console stream) reads the
//! database itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::extract::Account;
use crate::domain::UserId;

/// How long an entry is trusted without news.
const TTL: Duration = Duration::from_secs(10);
/// Entries kept at most; past it the cache starts over.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct PrincipalCache {
    entries: Mutex<HashMap<UserId, (Instant, Option<Account>)>>,
}

impl PrincipalCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (Instant, Option<Account>)>> {
        match self.entries.lock() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The cached answer for `user` (`Some(None)`: no such active account).
    pub fn get(&self, user: UserId) -> Option<Option<Account>> {
        let entries = self.lock();
        entries.get(&user).filter(|(at, _)| at.elapsed() < TTL).map(|(_, principal)| principal.clone())
    }

    pub fn put(&self, user: UserId, principal: Option<Account>) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(user, (Instant::now(), principal));
    }

    pub fn forget(&self, user: UserId) {
        self.lock().remove(&user);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Forgets accounts as the live hub says they changed (from any instance);
/// after missed events, everything.
pub fn follow(cache: std::sync::Arc<PrincipalCache>, hub: &crate::live::Hub) {
    use tokio::sync::broadcast::error::RecvError;
    let mut events = hub.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) if event.kind == crate::store::user::USER_CHANGED => {
                    for user in &event.users {
                        cache.forget(UserId(*user));
                    }
                }
                Ok(event) if event.kind == "resync" => cache.clear(),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => cache.clear(),
                Err(RecvError::Closed) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_forgotten_and_cleared() {
        let cache = PrincipalCache::default();
        let user = UserId::new();
        assert_eq!(cache.get(user), None);
        cache.put(user, None);
        assert_eq!(cache.get(user), Some(None));
        cache.forget(user);
        assert_eq!(cache.get(user), None);
        cache.put(user, None);
        cache.clear();
        assert_eq!(cache.get(user), None);
    }
}
