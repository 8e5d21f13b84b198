//! Sending scheduled reports (`reports.send`, every minute): each due
//! schedule's report, over the period its frequency covers, as its owner
//! would see it now, mailed as CSV with a link to the console.

use crate::domain::{Principal, schedule::Frequency};
use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{self, schedule::Schedule};

/// How long a sending that failed waits before it is tried again.
const RETRY: chrono::Duration = chrono::Duration::minutes(5);

/// Sends every due schedule once.
pub async fn send_due(services: &Services) -> Outcome {
    let db = &services.store;
    let now = store::now();
    let due = match store::schedule::due(&db.db, now).await {
        Ok(due) => due,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    for schedule in due {
        // Another instance may be sending it.
        match store::schedule::claim(db, &schedule, now + RETRY).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return Outcome::Retry(e.to_string()),
        }
        let result = send(services, &schedule).await;
        if let Err(error) = &result {
            tracing::warn!(schedule = %schedule.id, error, "a scheduled report was not sent; trying again later");
        }
        if let Err(e) = store::schedule::sent(db, schedule.id, result).await {
            return Outcome::Retry(e.to_string());
        }
    }
    Outcome::Done
}

/// Sends one schedule's report; the time of its next sending.
async fn send(services: &Services, schedule: &Schedule) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let config = &services.config;
    let tz: chrono_tz::Tz = config.reports.timezone.parse().map_err(|_| "bad [reports] timezone".to_owned())?;
    let frequency = store::schedule::frequency_of(schedule).ok_or("the schedule's frequency is not valid")?;
    let owner = store::user::get(&services.store.db, crate::domain::UserId(schedule.owner_id))
        .await
        .map_err(|e| format!("its owner: {e}"))?;
    if !owner.active {
        return Err("its owner's account is deactivated".into());
    }
    let principal = Principal::User { id: owner.id, is_admin: owner.is_admin, memberships: owner.memberships.clone() };
    let report = super::Report::parse(&schedule.report).ok_or("unknown report")?;
    let (from, to) = frequency.period(store::now(), tz);
    let mut query: super::Query = serde_json::from_value(schedule.filters.clone()).unwrap_or_default();
    query.from = Some(from.to_string());
    query.to = Some(to.to_string());
    query.timezone = None;
    let names: Vec<String> = serde_json::from_value(schedule.group_by.clone()).unwrap_or_default();
    query.group_by = (!names.is_empty()).then(|| names.join(","));
    let (request, _) = super::parse(&config.reports.timezone, &principal, report, &query)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
    let table = super::run(&services.store, &request).await.map_err(|e| e.to_string())?;
    let csv = super::to_csv(&table, |cell| crate::spreadsheet::export_cell(cell).into_owned());
    let locale = owner.locale.as_str();
    let (from, to) = (from.to_string(), to.to_string());
    let link = format!("{}/console/#/reports", config.public_url.as_deref().unwrap_or("").trim_end_matches('/'));
    let subject =
        crate::i18n::t(locale, "report.mail.subject", &[("name", &schedule.name), ("from", &from), ("to", &to)]);
    let body = crate::i18n::t(
        locale,
        "report.mail.body",
        &[
            ("name", &schedule.name),
            ("from", &from),
            ("to", &to),
            ("rows", &table.rows.len().to_string()),
            ("link", &link),
        ],
    );
    let recipients: Vec<String> = serde_json::from_value(schedule.recipients.clone()).unwrap_or_default();
    let file = crate::system_mail::File {
        name: format!("{}-{from}-{to}.csv", schedule.report),
        content_type: "text/csv; charset=utf-8".into(),
        bytes: csv,
    };
    crate::system_mail::send(&config.mail, &recipients, &subject, &body, Some(file)).await?;
    Ok(next(&frequency, tz))
}

fn next(frequency: &Frequency, tz: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
    frequency.next_after(store::now(), tz)
}
