//! Runs `survey.offer` jobs: once a case is resolved (or a bot closed its
//! conversation), the person is asked how it went, on the case's channel,
//! if its unit surveys that channel, the person did not opt out, the case
//! has no survey yet and has not been reopened, and the channel takes a
//! message now (a WhatsApp case past its window gets none).

use crate::domain::{AuthorKind, CaseId, CaseStatus};
use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{self, job::Job};

pub async fn offer(services: &Services, job: &Job) -> Outcome {
    let Some(case_id) = job.payload["case_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return Outcome::Dead("payload: no case_id".into());
    };
    let db = &services.store;
    let case = match store::case::get(&db.db, None, CaseId(case_id)).await {
        Ok(case) => case,
        Err(store::Error::NotFound(_)) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let ended = |status| matches!(status, CaseStatus::Resolved | CaseStatus::Closed);
    if !ended(case.status) {
        return Outcome::Done;
    }
    let unit = match store::unit::get(&db.db, case.unit_id).await {
        Ok(unit) => unit,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let Some((scale, _)) = unit.survey.for_channel(case.channel) else {
        return Outcome::Done;
    };
    match store::survey::opted_out(&db.db, case.contact_id).await {
        Ok(false) => {}
        Ok(true) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    }
    if let Err(e) = super::check_outbound(services, &case, None, AuthorKind::System).await {
        tracing::debug!(case = %case.id, reason = ?e, "no survey: the channel takes no message now");
        return Outcome::Done;
    }
    let offered = async {
        let tx = db.begin().await?;
        store::job::complete_in(&*tx, job.id).await?;
        store::case::lock_in(&*tx, case.id).await?;
        let case = store::case::get(&*tx, None, case.id).await?;
        if ended(case.status) {
            store::survey::offer_in(&*tx, &case, scale, &services.config.locale).await?;
        }
        tx.commit().await
    };
    match offered.await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}
