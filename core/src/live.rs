//! The live hub: each instance hears every committed live event once
//! (PostgreSQL `LISTEN`, or SQLite's `live_events` in id order) and fans it
//! out to the consoles connected to it, each of which keeps what its
//! caller may see. See `store::live` for how events are published.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::domain::Principal;
use crate::store::Store;
use crate::store::live::{self, LiveEvent};

/// Events a slow console may fall behind by before it is told to resync.
const BACKLOG: usize = 4096;

/// How long SQLite's stored events are kept (a console that reconnects
/// later reads the state again anyway).
const KEEP: Duration = Duration::from_secs(600);

/// The instance's fan-out of live events.
pub struct Hub {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { tx: broadcast::channel(BACKLOG).0 }
    }
}

impl Hub {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }

    /// Consoles connected to this instance.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    fn send(&self, event: LiveEvent) {
        // No console connected is not an error.
        let _ = self.tx.send(Arc::new(event));
    }

    /// Tells every console to read the state again (events may be lost).
    fn resync(&self) {
        self.send(LiveEvent::new("resync", vec![], None, serde_json::Value::Null));
    }
}

/// Whether `principal` may see `event`.
pub fn visible(principal: &Principal, event: &LiveEvent) -> bool {
    if event.kind == "resync" {
        return true;
    }
    if principal.user_id().is_some_and(|me| event.users.contains(&me.0)) {
        return true;
    }
    if event.units.is_empty() {
        return false;
    }
    match principal.case_units() {
        None => true,
        Some(mine) => event.units.iter().any(|u| mine.iter().any(|m| m.0 == *u)),
    }
}

/// Starts the instance's listener, feeding `hub`.
pub fn spawn(store: Store, hub: Arc<Hub>) {
    tokio::spawn(async move {
        if crate::store::is_postgres(&store.db) {
            listen_postgres(store, hub).await
        } else {
            read_sqlite(store, hub).await
        }
    });
}

async fn listen_postgres(store: Store, hub: Arc<Hub>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let pool = store.db.get_postgres_connection_pool().clone();
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for live events; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(live::CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for live events; trying again");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Whatever happened while not listening is unknown to consoles.
        hub.resync();
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<LiveEvent>(n.payload()) {
                    Ok(event) => hub.send(event),
                    Err(e) => tracing::warn!(error = %e, "unreadable live event"),
                },
                // The connection dropped; the next call reconnects.
                Ok(None) => hub.resync(),
                Err(e) => {
                    tracing::warn!(error = %e, "live events connection lost");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn read_sqlite(store: Store, hub: Arc<Hub>) {
    let wake = store.live_wake.clone();
    let mut cursor = match live::last_id(&store.db).await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read live events");
            0
        }
    };
    let mut pruned = std::time::Instant::now();
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match live::after(&store.db, cursor, 500).await {
            Ok(events) if !events.is_empty() => {
                for (id, event) in events {
                    cursor = id;
                    hub.send(event);
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read live events"),
        }
        if pruned.elapsed() > Duration::from_secs(60) {
            pruned = std::time::Instant::now();
            prune(&store).await;
        }
        // A commit wakes the hub; the timeout covers a wake that raced.
        let _ = tokio::time::timeout(Duration::from_millis(250), notified).await;
    }
}

async fn prune(store: &Store) {
    let before = crate::store::now() - chrono::Duration::from_std(KEEP).unwrap_or_default();
    let pruned = async {
        let tx = store.begin().await?;
        live::prune(&*tx, before).await?;
        tx.commit().await
    };
    if let Err(e) = pruned.await {
        tracing::debug!(error = %e, "old live events not pruned");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Membership, Role, UnitId, UserId};

    #[test]
    fn consoles_see_their_units_and_their_own() {
        let unit = UnitId::new();
        let me = UserId::new();
        let agent = Principal::User {
            id: me,
            is_admin: false,
            memberships: vec![Membership { unit_id: unit, role: Role::Agent }],
        };
        let admin = Principal::User { id: UserId::new(), is_admin: true, memberships: vec![] };
        let other_unit = LiveEvent::new("case.updated", vec![UnitId::new().0], None, serde_json::Value::Null);
        let mine = LiveEvent::new("case.updated", vec![unit.0], None, serde_json::Value::Null);
        let to_me = LiveEvent::to_users("notification", vec![me.0], None, serde_json::Value::Null);
        assert!(!visible(&agent, &other_unit));
        assert!(visible(&agent, &mine));
        assert!(visible(&agent, &to_me));
        assert!(visible(&admin, &other_unit));
        assert!(!visible(&admin, &to_me));
    }
}
