//! Reports over the API: `GET /reports/{report}` as JSON, CSV or XLSX, the
//! same cells in each. Admins and `cases:read` tokens see every unit;
//! supervisors their units; agents their own cases.

use actix_web::{HttpResponse, delete, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, require};
use crate::api::AppState;
use crate::domain::{self, Principal};
use crate::reports::{self, Dim, Report, Table};

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
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Cases whose latest changes are not counted yet, and how old the
    /// oldest such change is, in seconds: how far the figures lag.
    pub pending_cases: u64,
    pub pending_secs: Option<i64>,
}

/// A report on the cases opened in a period: `volume`, `response`,
/// `resolution`, `agents`, `sla`, `satisfaction`, `bot` or `topics`
/// (docs/reports.md defines every measure). Admins and `cases:read` tokens
/// see every unit, supervisors their units, agents their own cases.
#[utoipa::path(
    tag = "reports",
    params(("report" = String, Path, description = "volume, response, resolution, agents, sla, satisfaction, bot or topics"), reports::Query),
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
    query: web::Query<reports::Query>,
) -> Result<HttpResponse, ApiError> {
    require_report_reader(&auth.0)?;
    let report = Report::parse(&path.into_inner()).ok_or(ApiError::NotFound("report"))?;
    let (request, format) = checked(reports::parse(&state.config.reports.timezone, &auth.0, report, &query))?;
    let table = reports::run(&state.store, &request).await?;
    if !matches!(format, reports::Format::Json) {
        // Figures leaving as a file (per agent, per person's attributes) are on the record.
        let read = super::read_log::Read {
            action: "report.exported",
            target_kind: "report",
            target_id: report.as_str().to_owned(),
            unit: None,
            details: serde_json::json!({ "from": request.filter.from, "to": request.filter.to,
                "group_by": request.group_by.iter().map(Dim::name).collect::<Vec<_>>() }),
        };
        super::read_log::export(&state, &auth.0, read).await?;
    }
    let name = format!(
        "{}-{}",
        report.as_str(),
        request.filter.from.map(|f| f.format("%Y%m%d").to_string()).unwrap_or_default()
    );
    match format {
        reports::Format::Json => {
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
        reports::Format::Csv => {
            let bytes = reports::to_csv(&table, |cell| crate::spreadsheet::export_cell(cell).into_owned());
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")))
                .body(bytes))
        }
        reports::Format::Xlsx => {
            let bytes = reports::xlsx::workbook(&table, report.as_str())
                .map_err(|e| ApiError::internal(format!("xlsx: {e}")))?;
            Ok(HttpResponse::Ok()
                .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.xlsx\"")))
                .body(bytes))
        }
    }
}

/// A report's query errors as problem+json, one per field.
pub(super) fn checked<T>(parsed: Result<T, Vec<domain::Error>>) -> Result<T, ApiError> {
    parsed.or_else(|errors| {
        let mut check = Checker::default();
        for e in errors {
            check.check::<()>(Err(e));
        }
        check.finish()?;
        Err(ApiError::internal("a report query failed without saying why"))
    })
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

#[derive(Serialize, ToSchema)]
pub struct ScheduleDto {
    pub id: uuid::Uuid,
    pub owner_id: uuid::Uuid,
    pub name: String,
    pub report: String,
    pub group_by: Vec<String>,
    /// The report's filters (`unit_id`, `channel`, `tag`...), as its query takes them.
    #[schema(value_type = Object)]
    pub filters: serde_json::Value,
    /// `daily`, `weekly` (Mondays), `monthly` (the 1st) or `dates`.
    pub frequency: String,
    /// For `dates`: `MM-DD` of each close; sent the morning after.
    pub dates: Vec<String>,
    pub recipients: Vec<String>,
    pub next_run_at: DateTime<Utc>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// Why the last try failed (it is tried again in five minutes).
    pub last_error: Option<String>,
}

impl From<crate::store::schedule::Schedule> for ScheduleDto {
    fn from(s: crate::store::schedule::Schedule) -> Self {
        let list = |v: serde_json::Value| serde_json::from_value::<Vec<String>>(v).unwrap_or_default();
        ScheduleDto {
            id: s.id,
            owner_id: s.owner_id,
            name: s.name,
            report: s.report,
            group_by: list(s.group_by),
            filters: s.filters,
            frequency: s.frequency,
            dates: list(s.dates),
            recipients: list(s.recipients),
            next_run_at: s.next_run_at,
            last_sent_at: s.last_sent_at,
            last_error: s.last_error,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    #[schema(example = "Primera respuesta semanal")]
    pub name: String,
    #[schema(example = "response")]
    pub report: String,
    #[serde(default)]
    #[schema(example = json!(["channel"]))]
    pub group_by: Vec<String>,
    /// Filters as the report's query takes them, e.g. `{"channel": "whatsapp"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filters: serde_json::Map<String, serde_json::Value>,
    #[schema(example = "weekly")]
    pub frequency: String,
    #[serde(default)]
    #[schema(example = json!(["03-31", "08-31", "12-31"]))]
    pub dates: Vec<String>,
    /// Addresses to send it to; the caller's own when empty.
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// Who may schedule: staff accounts (the figures sent are theirs).
fn schedule_owner(principal: &Principal) -> Result<crate::domain::UserId, ApiError> {
    principal.user_id().ok_or(ApiError::Forbidden("reports are scheduled by staff accounts, for their own figures"))
}

/// The caller's scheduled reports (an admin's: everyone's).
#[utoipa::path(
    tag = "reports",
    responses((status = 200, body = super::schema::ListResponse<ScheduleDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/report-schedules")]
pub async fn list_schedules(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let owner = schedule_owner(&auth.0)?;
    let owner = (!auth.0.is_admin()).then_some(owner);
    let rows = crate::store::schedule::list(&state.store.db, owner).await?;
    Ok(HttpResponse::Ok()
        .json(super::schema::ListResponse::new(rows.into_iter().map(ScheduleDto::from).collect(), None)))
}

/// Subscribes the caller, or other addresses, to a report sent by e-mail
/// as CSV with a link to the console: daily (the day before), weekly (the
/// week before, on Mondays), monthly (the month before, on the 1st), or on
/// given closing dates; at 07:00 in the institution's timezone, with the
/// figures the caller sees when it is sent.
#[utoipa::path(
    tag = "reports",
    request_body = CreateSchedule,
    responses((status = 201, body = ScheduleDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/report-schedules")]
pub async fn create_schedule(
    state: web::Data<AppState>,
    auth: Auth,
    body: super::extract::Json<CreateSchedule>,
) -> Result<HttpResponse, ApiError> {
    let owner = schedule_owner(&auth.0)?;
    let body = body.0;
    let mut check = Checker::default();
    let name = check.check(domain::required_text("name", &body.name, 100));
    let report = Report::parse(&body.report);
    if report.is_none() {
        check.push("report", "use volume, response, resolution, agents, sla, satisfaction, bot or topics");
    }
    let frequency = check.check(domain::schedule::Frequency::parse("frequency", &body.frequency, &body.dates));
    // The filters and grouping are checked as a query would be.
    const FILTERS: [&str; 7] = ["unit_id", "channel", "channel_install_id", "agent_id", "priority", "tag", "field"];
    for key in body.filters.keys().filter(|k| !FILTERS.contains(&k.as_str())) {
        check.push(&format!("filters.{key}"), &format!("not a filter; use {}", FILTERS.join(", ")));
    }
    let mut query: reports::Query = match serde_json::from_value(serde_json::Value::Object(body.filters.clone())) {
        Ok(q) => q,
        Err(e) => {
            check.push("filters", &format!("{e}"));
            reports::Query::default()
        }
    };
    if query.from.is_some() || query.to.is_some() || query.format.is_some() || query.group_by.is_some() {
        check.push("filters", "the period, format and grouping are set by the schedule, not its filters");
    }
    query.group_by = (!body.group_by.is_empty()).then(|| body.group_by.join(","));
    if let Some(report) = report
        && let Err(errors) = reports::parse(&state.config.reports.timezone, &auth.0, report, &query)
    {
        for e in errors {
            check.check::<()>(Err(e));
        }
    }
    let me = crate::store::user::get(&state.store.db, owner).await?;
    let recipients = if body.recipients.is_empty() { vec![me.email.as_str().to_owned()] } else { body.recipients };
    if recipients.len() > 20 {
        check.push("recipients", "at most 20 addresses");
    }
    for (i, address) in recipients.iter().enumerate() {
        check.check(domain::Email::parse(&format!("recipients[{i}]"), address));
    }
    check.finish()?;
    let (Some(name), Some(report), Some(frequency)) = (name, report, frequency) else {
        return Err(ApiError::internal("checked values missing"));
    };
    let tz: chrono_tz::Tz = state.config.reports.timezone.parse().unwrap_or(chrono_tz::UTC);
    let new = crate::store::schedule::NewSchedule {
        owner,
        name,
        report: report.as_str().to_owned(),
        group_by: body.group_by,
        filters: body.filters,
        first_run: frequency.next_after(crate::store::now(), tz),
        frequency,
        recipients,
    };
    let created = crate::store::schedule::create(&state.store, &crate::domain::Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(ScheduleDto::from(created)))
}

/// Cancels a scheduled report (its owner, or an admin).
#[utoipa::path(
    tag = "reports",
    params(("schedule_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/report-schedules/{schedule_id}")]
pub async fn delete_schedule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let owner = schedule_owner(&auth.0)?;
    let owner = (!auth.0.is_admin()).then_some(owner);
    let actor = crate::domain::Actor::from(&auth.0);
    crate::store::schedule::delete(&state.store, &actor, owner, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
