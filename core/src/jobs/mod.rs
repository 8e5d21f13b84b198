//! Job workers: claim due jobs from the database and run them.
//!
//! Each kind has one handler. A handler that finishes its work completes the
//! job in the same transaction (see [`crate::store::job::complete_in`]), so a
//! crash either leaves both undone or both done; a handler that hits a
//! passing problem asks for a retry with backoff; one that cannot succeed
//! buries the job, which stays `dead` with its error for operators.

use std::time::Duration;

use crate::services::Services;
pub use crate::store::job::Outcome;
use crate::store::job::{self, Job, JobKind};

/// How often an idle worker looks for due jobs (commits wake it sooner).
const POLL: Duration = Duration::from_millis(500);

/// Backoff before attempt `attempts + 1` of the host's own work: 2 s, 4 s,
/// 8 s ... capped at one hour, with jitter (deliveries follow
/// `[channels.delivery]`).
pub fn backoff(attempts: i32) -> Duration {
    crate::config::RetrySchedule::default().wait(attempts)
}

/// Runs a job of `kind` gets before it is buried.
fn max_attempts(services: &Services, kind: JobKind) -> i32 {
    match kind {
        JobKind::MessageDeliver => services.config.channels.delivery.attempts.max(1),
        JobKind::WebhookDeliver => services.config.webhooks.attempts.max(1),
        kind => kind.max_attempts(),
    }
}

/// Starts `workers` job loops on the current runtime.
pub fn spawn(services: std::sync::Arc<Services>, workers: usize) {
    for n in 0..workers.max(1) {
        let services = services.clone();
        tokio::spawn(async move { work(services, n).await });
    }
}

async fn work(services: std::sync::Arc<Services>, worker: usize) {
    let wake = services.store.jobs_wake.clone();
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let lease = Duration::from_secs(services.config.http.job_lease_secs.max(1));
        match job::claim(&services.store, lease).await {
            Ok(Some(job)) => run(&services, job).await,
            Ok(None) => {
                let _ = tokio::time::timeout(POLL, notified).await;
            }
            Err(e) => {
                tracing::warn!(worker, error = %e, "cannot claim a job");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Enqueues a `kind` job every `secs` seconds (0: never), keyed by the
/// period so however many instances run, one job per period does the work.
pub fn every(services: std::sync::Arc<Services>, secs: u64, kind: JobKind) {
    if secs == 0 {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let period = crate::store::now().timestamp() / secs as i64;
            let key = format!("{}:{period}", kind.as_str());
            let new = job::NewJob { kind, payload: serde_json::json!({}), idempotency_key: Some(key) };
            let enqueued = async {
                let tx = services.store.begin().await?;
                job::enqueue(&*tx, new).await?;
                tx.commit().await
            };
            // Another instance enqueued this period's run already: fine.
            if let Err(e) = enqueued.await {
                tracing::debug!(kind = kind.as_str(), error = %e, "periodic job not enqueued");
            }
        }
    });
}

/// Runs one claimed job and records how it ended.
pub async fn run(services: &Services, job: Job) {
    let (id, kind, attempts) = (job.id, job.kind.clone(), job.attempts);
    let started = std::time::Instant::now();
    let known = JobKind::parse(&kind);
    let outcome = match known {
        Some(JobKind::PluginEvent) => crate::automation::handle(services, &job).await,
        Some(JobKind::MessageDeliver) => crate::channels::deliver(services, &job).await,
        Some(JobKind::MediaFetch) => crate::channels::media::fetch(services, &job).await,
        Some(JobKind::KbIndex) => crate::search::sync::handle(&services.search, &services.store, &job).await,
        Some(JobKind::MailPoll) => crate::channels::mailbox::poll(services, &job).await,
        Some(JobKind::FilesGc) => crate::attachments::gc_job(&services.store, &services.attachments).await,
        Some(JobKind::SurveyOffer) => crate::channels::survey::offer(services, &job).await,
        Some(JobKind::QueueRoute) => crate::routing::route(services, &job).await,
        Some(JobKind::PresenceSweep) => crate::routing::sweep(services).await,
        Some(JobKind::CaseWake) => crate::routing::wake(services, &job).await,
        Some(JobKind::PrivacyExport) => crate::privacy::export(services, &job).await,
        Some(JobKind::PrivacyErase) => crate::privacy::erase(services, &job).await,
        Some(JobKind::WarehouseExport) => crate::export::scheduled(services).await,
        Some(JobKind::ReportsSend) => crate::reports::schedule::send_due(services).await,
        Some(JobKind::CampaignRun) => crate::campaigns::run(services, &job).await,
        Some(JobKind::TemplatesSync) => crate::channels::templates::run(services, &job).await,
        Some(JobKind::DirectorySync) => crate::directory::sync_all(services).await,
        Some(JobKind::WebhookDeliver) => {
            crate::subscriptions::deliver(services, &job, max_attempts(services, JobKind::WebhookDeliver)).await
        }
        Some(JobKind::Retention) => {
            let months = services.config.privacy.audit_retention_months;
            let done = async {
                crate::privacy::retention(&services.store, &services.attachments, false).await?;
                crate::privacy::audit_retention(&services.store, months, false).await
            };
            match done.await {
                Ok(_) => Outcome::Done,
                Err(e) => Outcome::Retry(e.to_string()),
            }
        }
        None => Outcome::Dead(format!("no handler for job kind `{kind}`")),
    };
    let max_attempts = known.map_or(1, |kind| max_attempts(services, kind));
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let result = match outcome {
        Outcome::Done => {
            tracing::debug!(job = %id, kind, elapsed_ms, "job done");
            // Handlers complete their job in their own transaction; this
            // only removes what a handler had nothing to write for.
            match services.store.begin().await {
                Ok(tx) => match job::complete_in(&*tx, id).await {
                    Ok(()) => tx.commit().await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
        Outcome::Rescheduled => Ok(()),
        Outcome::Later(delay) => {
            let at = crate::store::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1));
            job::postpone(&services.store, id, at).await
        }
        Outcome::Retry(error) if attempts < max_attempts => {
            let delay = backoff(attempts);
            tracing::warn!(job = %id, kind, attempts, error, retry_in_ms = delay.as_millis() as u64, "job will be retried");
            let at = crate::store::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
            job::retry_at(&services.store, id, &error, at).await
        }
        Outcome::Retry(error) | Outcome::Dead(error) => {
            tracing::error!(job = %id, kind, attempts, error, "job gave up");
            job::bury(&services.store, id, &error).await
        }
    };
    if let Err(e) = result {
        // The lease runs out and another attempt follows; nothing is lost.
        tracing::warn!(job = %id, kind, error = %e, "cannot record a job's outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let first = backoff(1);
        assert!(first >= Duration::from_secs(2) && first <= Duration::from_millis(2500));
        assert!(backoff(3) >= Duration::from_secs(8));
        assert!(backoff(40) <= Duration::from_secs(3600 + 900));
    }
}
