//! Who read what: openings of a sensitive unit's cases (the case, its
//! messages, notes and files), a person's consent history, and exports are
//! written to the audit log. A console reads a case again whenever it
//! changes, so each reader's reading of one record is written once per
//! [`WINDOW`] on an instance: the log says who read it and when, to within
//! ten minutes, without a row per redraw.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::ApiError;
use crate::api::AppState;
use crate::domain::{Actor, Principal, UnitId};
use crate::store;

/// How long one reader's reading of one record is written once.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);
/// Readings remembered at most; past it the memory starts over.
const CAPACITY: usize = 50_000;

/// How long the list of sensitive units is trusted on an instance (a
/// change made on this instance is seen at once).
const UNITS_TTL: Duration = Duration::from_secs(10);

/// When each (reader, action, record) was last written, and which units
/// are sensitive.
#[derive(Default)]
pub struct ReadLog {
    written: Mutex<HashMap<(String, &'static str, String), Instant>>,
    sensitive: Mutex<Option<(Instant, Arc<HashSet<UnitId>>)>>,
}

impl ReadLog {
    /// Forgets which units are sensitive (a unit's settings changed).
    pub fn units_changed(&self) {
        if let Ok(mut known) = self.sensitive.lock() {
            *known = None;
        }
    }

    /// The units whose case reads are recorded.
    async fn sensitive_units(&self, state: &AppState) -> Result<Arc<HashSet<UnitId>>, ApiError> {
        if let Ok(known) = self.sensitive.lock()
            && let Some((at, units)) = known.as_ref()
            && at.elapsed() < UNITS_TTL
        {
            return Ok(units.clone());
        }
        let units: HashSet<UnitId> = store::unit::list(&state.store.db)
            .await?
            .into_iter()
            .filter(|u| u.privacy.record_reads)
            .map(|u| u.id)
            .collect();
        let units = Arc::new(units);
        if let Ok(mut known) = self.sensitive.lock() {
            *known = Some((Instant::now(), units.clone()));
        }
        Ok(units)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, &'static str, String), Instant>> {
        match self.written.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn due(&self, key: &(String, &'static str, String)) -> bool {
        self.lock().get(key).is_none_or(|at| at.elapsed() >= WINDOW)
    }

    fn written(&self, key: (String, &'static str, String)) {
        let mut map = self.lock();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, Instant::now());
    }
}

/// One reading to record.
pub struct Read<'a> {
    /// `case.read`, `contact.consents_read`, `report.exported`...
    pub action: &'static str,
    pub target_kind: &'a str,
    pub target_id: String,
    pub unit: Option<UnitId>,
    pub details: serde_json::Value,
}

/// Writes `read` (once per window): a failure to write fails the request,
/// so nothing sensitive is shown that the log does not hold.
pub async fn note(state: &AppState, principal: &Principal, read: Read<'_>) -> Result<(), ApiError> {
    let actor = Actor::from(principal);
    let key = (format!("{}:{}", actor.kind(), actor.id_text()), read.action, read.target_id.clone());
    if !state.reads.due(&key) {
        return Ok(());
    }
    write(state, &actor, read).await?;
    state.reads.written(key);
    Ok(())
}

/// Writes `read` every time (an export: each file that leaves is recorded).
pub async fn export(state: &AppState, principal: &Principal, read: Read<'_>) -> Result<(), ApiError> {
    write(state, &Actor::from(principal), read).await
}

async fn write(state: &AppState, actor: &Actor, read: Read<'_>) -> Result<(), ApiError> {
    let entry = store::audit::Entry {
        actor,
        action: read.action,
        target_kind: read.target_kind,
        target_id: read.target_id,
        unit_id: read.unit,
        details: read.details,
    };
    store::audit::record_read(&state.store, entry).await?;
    Ok(())
}

/// Records that `principal` opened `case` (`part`: `case`, `messages` or
/// `notes`, whichever was read first in the window) when its unit is
/// sensitive.
pub async fn case_read(
    state: &AppState,
    principal: &Principal,
    case: &crate::domain::Case,
    part: &'static str,
) -> Result<(), ApiError> {
    if !state.reads.sensitive_units(state).await?.contains(&case.unit_id) {
        return Ok(());
    }
    let read = Read {
        action: "case.read",
        target_kind: "case",
        target_id: case.id.to_string(),
        unit: Some(case.unit_id),
        details: serde_json::json!({ "number": case.number, "first_part": part }),
    };
    note(state, principal, read).await
}

/// Like [`case_read`] for a case known by id (already checked visible):
/// reads the case only when some unit is sensitive.
pub async fn case_id_read(
    state: &AppState,
    principal: &Principal,
    case: crate::domain::CaseId,
    part: &'static str,
) -> Result<(), ApiError> {
    if state.reads.sensitive_units(state).await?.is_empty() {
        return Ok(());
    }
    let case = store::case::get(&state.store.db, None, case).await?;
    case_read(state, principal, &case, part).await
}
