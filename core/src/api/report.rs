//! Reports over the API: `GET /reports/{report}` as JSON, CSV or XLSX, the
//! same cells in each. Admins and `cases:read` tokens see every unit;
//! supervisors their units; agents their own cases.

use actix_web::{HttpResponse, get, http::header, web};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, require};
use crate::api::AppState;
use crate::domain::{self, Channel, Principal, Priority, UnitId, UserId};
use crate::reports::{self, Dim, Report, Request, Table};
use crate::store::report::FactFilter;

/// Longest period one report covers.
const MAX_DAYS: i64 = 3 * 366;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
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
#[derive(Serialize, ToSchema)]
pub struct ReportDto {
    /// e.g. `response`.
    pub report: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: String,
    pub group_by: Vec<String>,
    /// Dimension columns first (`week`, `unit_id`, `unit`...), then measures.
    pub columns: Vec<String>,
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Cases whose latest changes are not counted yet, and how old the
    /// oldest such change is, in seconds: how far the figures lag.
    pub pending_cases: u64,
    pub pending_secs: Option<i64>,
}

/// Comma-separated values, each parsed (at most 100).
fn list<T>(check: &mut Checker, raw: &Option<String>, parse: impl Fn(&str) -> Result<T, domain::Error>) -> Vec<T> {
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

enum Format {
    Json,
    Csv,
    Xlsx,
}

/// The request a query asks for, checked field by field.
fn request_of(
    state: &AppState,
    principal: &Principal,
    report: Report,
    q: &ReportQuery,
) -> Result<(Request, Format), ApiError> {
    let mut check = Checker::default();
    let tz_name = q.timezone.clone().unwrap_or_else(|| state.config.reports.timezone.clone());
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
    let scope = reports::scope_of(principal);
    let mut group_by = if group_by.is_empty() { report.default_group() } else { group_by };
    // Targets are never added up together.
    if report == Report::Sla && !group_by.contains(&Dim::Target) {
        group_by.push(Dim::Target);
    }
    Ok((Request { report, group_by, tz, scope, filter }, format))
}

/// A report on the cases opened in a period: `volume`, `response`,
/// `resolution`, `agents`, `sla`, `satisfaction`, `bot` or `topics`
/// (docs/reports.md defines every measure). Admins and `cases:read` tokens
/// see every unit, supervisors their units, agents their own cases.
#[utoipa::path(
    tag = "reports",
    params(("report" = String, Path, description = "volume, response, resolution, agents, sla, satisfaction, bot or topics"), ReportQuery),
    responses(
        (status = 200, body = ReportDto, description = "JSON; with format=csv or xlsx the same header and cells as a file"),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/reports/{report}")]
pub async fn get_report(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    require_report_reader(&auth.0)?;
    let report = Report::parse(&path.into_inner()).ok_or(ApiError::NotFound("report"))?;
    let (request, format) = request_of(&state, &auth.0, report, &query)?;
    let table = reports::run(&state.store, &request).await?;
    let name = format!(
        "{}-{}",
        report.as_str(),
        request.filter.from.map(|f| f.format("%Y%m%d").to_string()).unwrap_or_default()
    );
    match format {
        Format::Json => {
            let (pending_cases, oldest) = crate::store::report::backlog(&state.store.db).await?;
            let Table { columns, rows } = table;
            Ok(HttpResponse::Ok().json(ReportDto {
                report: report.as_str().to_owned(),
                from: request.filter.from.unwrap_or_default(),
                to: request.filter.to.unwrap_or_default(),
                timezone: request.tz.name().to_owned(),
                group_by: request.group_by.iter().map(Dim::name).collect(),
                columns,
                rows,
                pending_cases,
                pending_secs: oldest.map(|t| (Utc::now() - t).num_seconds().max(0)),
            }))
        }
        Format::Csv => {
            let bytes = reports::to_csv(&table, |cell| crate::spreadsheet::export_cell(cell).into_owned());
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")))
                .body(bytes))
        }
        Format::Xlsx => {
            let bytes = reports::xlsx::workbook(&table, report.as_str())
                .map_err(|e| ApiError::internal(format!("xlsx: {e}")))?;
            Ok(HttpResponse::Ok()
                .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.xlsx\"")))
                .body(bytes))
        }
    }
}

/// Staff, and tokens with `cases:read`.
fn require_report_reader(principal: &Principal) -> Result<(), ApiError> {
    let token_without_scope =
        matches!(principal, Principal::Token { .. }) && !principal.token_has(domain::Scope::CasesRead);
    require(!token_without_scope, "this needs the cases:read scope")
}

/// One unit's queue on one channel.
#[derive(Serialize, ToSchema)]
pub struct QueueDto {
    pub unit_id: uuid::Uuid,
    pub channel: String,
    /// Cases waiting for a person.
    pub waiting: i64,
    /// When the oldest of them was opened.
    pub oldest_since: Option<DateTime<Utc>>,
}

/// An open case whose service-level target is at risk or breached.
#[derive(Serialize, ToSchema)]
pub struct AtRiskDto {
    pub case_id: uuid::Uuid,
    pub number: i64,
    pub subject: String,
    pub unit_id: uuid::Uuid,
    pub assignee_id: Option<uuid::Uuid>,
    /// e.g. `first_response`.
    pub target: String,
    /// `warning` or `breached`.
    pub state: String,
    pub due_at: Option<DateTime<Utc>>,
}

/// What a wallboard shows besides agents (`GET /agents`) and today's
/// figures (the reports from today).
#[derive(Serialize, ToSchema)]
pub struct WallboardDto {
    pub queues: Vec<QueueDto>,
    /// Soonest due first, at most 50.
    pub at_risk: Vec<AtRiskDto>,
    pub generated_at: DateTime<Utc>,
}

/// The queues and the cases at risk of the caller's units, now: what a
/// supervisor's wallboard shows, read again when the live stream says a
/// case changed.
#[utoipa::path(
    tag = "reports",
    responses((status = 200, body = WallboardDto), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/wallboard")]
pub async fn wallboard(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require_report_reader(&auth.0)?;
    let scope = auth.0.case_units();
    let queues = crate::store::report::queues(&state.store.db, scope.as_deref()).await?;
    let at_risk = crate::store::report::at_risk(&state.store.db, scope.as_deref(), 50).await?;
    Ok(HttpResponse::Ok().json(WallboardDto {
        queues: queues
            .into_iter()
            .map(|q| QueueDto { unit_id: q.unit_id, channel: q.channel, waiting: q.waiting, oldest_since: q.oldest })
            .collect(),
        at_risk: at_risk
            .into_iter()
            .map(|r| AtRiskDto {
                case_id: r.case_id,
                number: r.number,
                subject: r.subject,
                unit_id: r.unit_id,
                assignee_id: r.assignee_id,
                target: r.target,
                state: r.state,
                due_at: r.due_at,
            })
            .collect(),
        generated_at: Utc::now(),
    }))
}
