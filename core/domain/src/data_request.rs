//! Data-subject requests (habeas data): a person asks what is held about
//! them, to correct it, to delete it, or withdraws their authorisation.
//! Each request has a legal deadline in business days of the institution's
//! calendar (the designated unit's hours and holidays), counted from the
//! business day after it was received.

use super::{BusinessHours, ContactId, Error, UnitId, UserId};
use chrono::{DateTime, Utc};

/// What the person asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// What is held about them (a "consulta" in Colombian law).
    Access,
    /// Correct or complete their data (a "reclamo").
    Rectification,
    /// Delete their data (a "reclamo" of suppression).
    Erasure,
    /// Withdraw the authorisation to process their data.
    Revocation,
}

impl RequestKind {
    pub const ALL: [RequestKind; 4] =
        [RequestKind::Access, RequestKind::Rectification, RequestKind::Erasure, RequestKind::Revocation];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Rectification => "rectification",
            RequestKind::Erasure => "erasure",
            RequestKind::Revocation => "revocation",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| Error::invalid(field, "must be access, rectification, erasure or revocation"))
    }
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Received; being answered.
    Open,
    /// Answered: what was asked was done.
    Done,
    /// Answered with a reasoned refusal (a legal duty to keep the data, say).
    Refused,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 3] = [RequestStatus::Open, RequestStatus::Done, RequestStatus::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Done => "done",
            RequestStatus::Refused => "refused",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| Error::invalid(field, "must be open, done or refused"))
    }
}

/// Business days each kind of request must be answered in, and how many
/// business days before the deadline the queue warns. The defaults are
/// Colombia's (Ley 1581 de 2012, arts. 14 and 15: ten business days for a
/// consulta, fifteen for a reclamo); other countries set their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deadlines {
    pub access_days: u32,
    pub rectification_days: u32,
    pub erasure_days: u32,
    pub revocation_days: u32,
    pub warn_days: u32,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines { access_days: 10, rectification_days: 15, erasure_days: 15, revocation_days: 15, warn_days: 3 }
    }
}

impl Deadlines {
    pub fn days(&self, kind: RequestKind) -> u32 {
        match kind {
            RequestKind::Access => self.access_days,
            RequestKind::Rectification => self.rectification_days,
            RequestKind::Erasure => self.erasure_days,
            RequestKind::Revocation => self.revocation_days,
        }
    }
}

/// Where the export of an access request's data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    /// Being put together by a job.
    Pending,
    /// Waiting to be downloaded (once) until it expires.
    Ready,
    /// Downloaded; the file is gone.
    Downloaded,
    /// It could not be made (the reason is kept); it can be asked again.
    Failed,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Pending => "pending",
            ExportStatus::Ready => "ready",
            ExportStatus::Downloaded => "downloaded",
            ExportStatus::Failed => "failed",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        [ExportStatus::Pending, ExportStatus::Ready, ExportStatus::Downloaded, ExportStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| Error::invalid(field, "must be pending, ready, downloaded or failed"))
    }
}

/// The export of everything held about the person (access requests).
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub status: ExportStatus,
    /// The ZIP in the file store while it waits to be downloaded.
    pub hash: Option<String>,
    pub size_bytes: Option<u64>,
    pub error: Option<String>,
    pub ready_at: Option<DateTime<Utc>>,
    /// After this the link no longer works and the file is removed.
    pub expires_at: Option<DateTime<Utc>>,
    pub downloaded_at: Option<DateTime<Utc>>,
}

/// How long a ready export waits to be downloaded.
pub const EXPORT_DAYS: i64 = 7;

/// A data-subject request.
#[derive(Debug, Clone, PartialEq)]
pub struct DataRequest {
    pub id: uuid::Uuid,
    pub contact_id: ContactId,
    pub kind: RequestKind,
    pub status: RequestStatus,
    /// What the person asked, in their words (what to correct, say).
    pub details: String,
    /// The unit that answers it.
    pub unit_id: UnitId,
    /// When the institution received it (by letter two days ago, say).
    pub received_at: DateTime<Utc>,
    /// The legal deadline.
    pub due_at: DateTime<Utc>,
    /// When the queue starts warning.
    pub warn_at: DateTime<Utc>,
    /// How it was answered.
    pub resolution: Option<String>,
    pub created_by: Option<UserId>,
    pub closed_by: Option<UserId>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The export of the person's data, once asked for.
    pub export: Option<Export>,
}

/// How an open request stands against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    OnTime,
    DueSoon,
    Overdue,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::OnTime => "on_time",
            Urgency::DueSoon => "due_soon",
            Urgency::Overdue => "overdue",
        }
    }
}

impl DataRequest {
    /// Where an open request stands at `now`; none once answered.
    pub fn urgency(&self, now: DateTime<Utc>) -> Option<Urgency> {
        if self.status != RequestStatus::Open {
            return None;
        }
        Some(if now >= self.due_at {
            Urgency::Overdue
        } else if now >= self.warn_at {
            Urgency::DueSoon
        } else {
            Urgency::OnTime
        })
    }
}

/// The deadline of a request received at `received`: the close of the
/// `days`-th business day after the day it was received, and when to
/// start warning (the close of the business day `warn_days` earlier).
/// None when the calendar has no business days within a year.
pub fn deadline(
    hours: &BusinessHours,
    tz: chrono_tz::Tz,
    received: DateTime<Utc>,
    days: u32,
    warn_days: u32,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let closes = hours.business_day_closes(tz, received, days.max(1) as usize)?;
    let due = *closes.last()?;
    let warn_index = (days.max(1) as usize).checked_sub(1 + warn_days as usize);
    let warn = match warn_index {
        Some(i) => closes.get(i).copied().unwrap_or(received),
        None => received,
    };
    Some((due, warn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn deadlines_count_business_days_after_the_day_received() {
        let tz = chrono_tz::America::Bogota;
        let mut hours = BusinessHours::office_default();
        // Tuesday 2026-12-08 is a public holiday in Colombia.
        hours.holidays = vec![NaiveDate::from_ymd_opt(2026, 12, 8).unwrap_or_default()];
        // Received on Friday 2026-12-04 at 16:00 (Bogotá).
        let received = tz.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).single().map(|t| t.with_timezone(&Utc));
        let received = received.unwrap_or_default();
        let (due, warn) = deadline(&hours, tz, received, 10, 3).unwrap_or_default();
        // Business days: 7, 9, 10, 11, 14, 15, 16, 17, 18, 21 (the 8th is a holiday).
        assert_eq!(due.with_timezone(&tz).date_naive(), NaiveDate::from_ymd_opt(2026, 12, 21).unwrap_or_default());
        assert_eq!(due.with_timezone(&tz).format("%H:%M").to_string(), "17:00");
        // Warned from the close of the 7th business day (the 16th).
        assert_eq!(warn.with_timezone(&tz).date_naive(), NaiveDate::from_ymd_opt(2026, 12, 16).unwrap_or_default());
        let closed = BusinessHours { weekly: vec![], holidays: vec![] };
        assert_eq!(deadline(&closed, tz, received, 10, 3), None);
    }

    #[test]
    fn urgency_follows_the_clock() {
        let at = |d| Utc.with_ymd_and_hms(2026, 12, d, 12, 0, 0).single().unwrap_or_default();
        let request = DataRequest {
            id: uuid::Uuid::nil(),
            contact_id: ContactId(uuid::Uuid::nil()),
            kind: RequestKind::Access,
            status: RequestStatus::Open,
            details: String::new(),
            unit_id: UnitId(uuid::Uuid::nil()),
            received_at: at(1),
            due_at: at(15),
            warn_at: at(10),
            resolution: None,
            created_by: None,
            closed_by: None,
            closed_at: None,
            created_at: at(1),
            updated_at: at(1),
            export: None,
        };
        assert_eq!(request.urgency(at(2)), Some(Urgency::OnTime));
        assert_eq!(request.urgency(at(11)), Some(Urgency::DueSoon));
        assert_eq!(request.urgency(at(16)), Some(Urgency::Overdue));
        assert_eq!(DataRequest { status: RequestStatus::Done, ..request }.urgency(at(16)), None);
        assert!(RequestKind::parse("kind", "erasure").is_ok() && RequestKind::parse("kind", "delete").is_err());
    }
}
