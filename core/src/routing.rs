//! Runs routing (`queue.route` jobs, see `store::routing`), the sweep that
//! marks agents without console activity away, then offline, and brings
//! snoozed cases back (`case.wake`).

use std::time::Duration;

use crate::domain::UnitId;
use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{self, job::Job};

/// Runs a `queue.route` job: hands out the unit's queue in one transaction
/// that also completes the job.
pub async fn route(services: &Services, job: &Job) -> Outcome {
    let Some(unit) = job.payload["unit_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return Outcome::Dead("the job names no unit".into());
    };
    let routed = async {
        let tx = services.store.begin().await?;
        // Routings run one at a time: an earlier one still running goes first.
        if store::job::earlier_in_group(&*tx, job, false).await? {
            return Ok(None);
        }
        let given = store::routing::route_in(&*tx, UnitId(unit)).await?;
        store::job::complete_in(&*tx, job.id).await?;
        tx.commit().await?;
        Ok::<_, store::Error>(Some(given))
    };
    match routed.await {
        Ok(Some(given)) => {
            if !given.is_empty() {
                tracing::debug!(%unit, cases = given.len(), "routed");
            }
            Outcome::Done
        }
        Ok(None) => Outcome::Later(Duration::from_millis(50)),
        Err(store::Error::NotFound(_)) => Outcome::Dead("the unit no longer exists".into()),
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// Runs a `case.wake` job: the case comes back (if it is still snoozed
/// until then) and its assignee is told, with the job completed in the
/// same transaction.
pub async fn wake(services: &Services, job: &Job) -> Outcome {
    let case = job.payload["case_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok());
    let at = job.payload["at"].as_str().and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
    let (Some(case), Some(at)) = (case, at) else {
        return Outcome::Dead("the job names no case or time".into());
    };
    let woke = async {
        let tx = services.store.begin().await?;
        store::case::wake_in(&*tx, crate::domain::CaseId(case), at.with_timezone(&chrono::Utc)).await?;
        store::job::complete_in(&*tx, job.id).await?;
        tx.commit().await
    };
    match woke.await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// Runs a `presence.sweep` job.
pub async fn sweep(services: &Services) -> Outcome {
    let config = &services.config.presence;
    let away = chrono::Duration::minutes(config.away_after_mins.into());
    let offline = chrono::Duration::minutes(config.offline_after_mins.max(config.away_after_mins).into());
    match store::agent::sweep(&services.store, away, offline).await {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}
