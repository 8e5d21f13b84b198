//! A report's query as the API (and a scheduled report) gives it: the
//! period, grouping, filters and format, checked field by field.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::{Dim, Report, Request};
use crate::domain::{self, Channel, Principal, Priority, UnitId, UserId};
use crate::store::report::FactFilter;

/// Errors found while checking a query, all reported at once.
#[derive(Default)]
struct Errors(Vec<domain::Error>);

impl Errors {
    fn check<T>(&mut self, result: Result<T, domain::Error>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    fn push(&mut self, field: &str, message: &str) {
        self.0.push(domain::Error::invalid(field, message));
    }

    fn finish(self) -> Result<(), Vec<domain::Error>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}

/// Longest period one report covers.
const MAX_DAYS: i64 = 3 * 366;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Query {
    /// Start of the period: a date (`2026-03-01`, midnight in `timezone`)
    /// or a date-time. Default: 30 days before `to`.
    pub from: Option<String>,
    /// End of the period, exclusive for a date-time; a date counts whole
    /// (through its last second). Default: now.
    pub to: Option<String>,
    /// One or two of `hour`, `day`, `week`, `month`, `unit`, `channel`,
    /// `channel_install`, `agent`, `priority`, `tag`, `field.<key>`,
    /// `contact.<key>` (a person's attribute, e.g. `contact.programa`) (and
    /// `target` for `sla`, `attended_by` for `satisfaction`), comma-separated.
    pub group_by: Option<String>,
    /// IANA timezone periods are cut in; the institution's by default.
    pub timezone: Option<String>,
    /// Only these units (comma-separated ids).
    pub unit_id: Option<String>,
    /// Only these channels, e.g. `whatsapp,email`.
    pub channel: Option<String>,
    /// Only these channel accounts (install ids).
    pub channel_install_id: Option<String>,
    /// Only cases these agents owned last.
    pub agent_id: Option<String>,
    /// Only these priorities.
    pub priority: Option<String>,
    /// Only cases carrying any of these tags.
    pub tag: Option<String>,
    /// Only cases whose custom field holds a value: `key:value`.
    pub field: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// A report: its columns, and rows of cells in that order (a string, a
/// number or null). CSV and XLSX hold the same header and cells.
/// Comma-separated values, each parsed (at most 100).
fn list<T>(check: &mut Errors, raw: &Option<String>, parse: impl Fn(&str) -> Result<T, domain::Error>) -> Vec<T> {
    let Some(raw) = raw else { return vec![] };
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).take(100).filter_map(|v| check.check(parse(v))).collect()
}

fn uuid_in(field: &'static str) -> impl Fn(&str) -> Result<uuid::Uuid, domain::Error> {
    move |v| v.parse().map_err(|_| domain::Error::invalid(field, format!("`{v}` is not an id")))
}

/// A date (midnight in `tz`; with `end`, the next midnight) or a date-time.
fn moment(field: &str, raw: &str, tz: chrono_tz::Tz, end: bool) -> Result<DateTime<Utc>, domain::Error> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| domain::Error::invalid(field, "use a date (2026-03-01) or a date-time (2026-03-01T08:00:00Z)"))?;
    let date = if end { date.succ_opt().unwrap_or(date) } else { date };
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A midnight that does not exist (a DST jump) starts at the earliest valid time.
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(midnight + chrono::Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| domain::Error::invalid(field, "this date has no midnight in the timezone"))
}

/// How a report is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

/// The request a query asks for, checked field by field (every error at
/// once); `timezone` is the institution's, for a query that names none.
pub fn parse(
    timezone: &str,
    principal: &Principal,
    report: Report,
    q: &Query,
) -> Result<(Request, Format), Vec<domain::Error>> {
    let mut check = Errors::default();
    let tz_name = q.timezone.clone().unwrap_or_else(|| timezone.to_owned());
    let tz = check.check(domain::unit::parse_timezone("timezone", &tz_name)).unwrap_or(chrono_tz::UTC);
    let to = match &q.to {
        Some(raw) => check.check(moment("to", raw, tz, true)),
        None => Some(Utc::now()),
    };
    let from = match (&q.from, to) {
        (Some(raw), _) => check.check(moment("from", raw, tz, false)),
        (None, Some(to)) => Some(to - chrono::Duration::days(30)),
        (None, None) => None,
    };
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            check.push("from", "must be before `to`");
        } else if to - from > chrono::Duration::days(MAX_DAYS) {
            check.push("from", "a report covers at most three years");
        }
    }
    let group_by: Vec<Dim> = list(&mut check, &q.group_by, |name| {
        Dim::parse(name, report).map_err(|message| domain::Error::invalid("group_by", message))
    });
    if group_by.len() > 2 {
        check.push("group_by", "group by one or two dimensions");
    }
    if group_by.iter().filter(|d| matches!(d, Dim::Period(_))).count() > 1 {
        check.push("group_by", "group by one period at most");
    }
    let field = match q.field.as_deref().map(|f| f.split_once(':')) {
        None => None,
        Some(Some((key, value))) if !key.trim().is_empty() => Some((key.trim().to_owned(), value.trim().to_owned())),
        Some(_) => {
            check.push("field", "use key:value, e.g. programa:medicina");
            None
        }
    };
    let filter = FactFilter {
        from,
        to,
        units: list(&mut check, &q.unit_id, uuid_in("unit_id")).into_iter().map(UnitId).collect(),
        channels: list(&mut check, &q.channel, |c| Channel::parse("channel", c)),
        installs: list(&mut check, &q.channel_install_id, uuid_in("channel_install_id")),
        agents: list(&mut check, &q.agent_id, uuid_in("agent_id")).into_iter().map(UserId).collect(),
        priorities: list(&mut check, &q.priority, |p| Priority::parse("priority", p)),
        tags: list(&mut check, &q.tag, |t| domain::case::parse_tag("tag", t)),
        field,
    };
    let format = match q.format.as_deref().unwrap_or("json") {
        "json" => Format::Json,
        "csv" => Format::Csv,
        "xlsx" => Format::Xlsx,
        _ => {
            check.push("format", "must be json, csv or xlsx");
            Format::Json
        }
    };
    check.finish()?;
    let scope = super::scope_of(principal);
    let mut group_by = if group_by.is_empty() { report.default_group() } else { group_by };
    // Targets are never added up together.
    if report == Report::Sla && !group_by.contains(&Dim::Target) {
        group_by.push(Dim::Target);
    }
    Ok((Request { report, group_by, tz, scope, filter }, format))
}
