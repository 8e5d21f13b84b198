//! Units: list, create, read and change settings.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require};
use super::routing::RoutingSettings;
use super::schema::ListResponse;
use super::survey::SurveySettings;
use crate::api::AppState;
use crate::domain::custom_field::{self as fields, FieldKind};
use crate::domain::privacy;
use crate::domain::{
    Actor, BusinessHours, Slug, Unit, UnitId, required_text,
    unit::{DayHours, NewUnit, UnitPatch, parse_timezone},
};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct UnitDto {
    pub id: uuid::Uuid,
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub business_hours: BusinessHoursDto,
    /// The satisfaction survey its resolved cases get.
    pub survey: SurveySettings,
    /// How its queue is handed out to agents.
    pub routing: RoutingSettings,
    /// The fields its cases carry (`custom_fields` on a case).
    pub custom_fields: Vec<CustomFieldDef>,
    /// Whether the host asks people for the authorisation to process their data.
    pub privacy: PrivacySettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A unit's data-protection settings.
#[derive(Serialize, Deserialize, ToSchema, Clone, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySettings {
    /// The host asks a contact who never answered for the authorisation to
    /// process their data (the consent text in force for `data_processing`)
    /// before the first reply a person of the unit sends, whether or not a
    /// bot runs; the web chat asks before the visitor's first message.
    pub ask_consent: bool,
    /// Overrides of `ask_consent` per channel, e.g. `{"email": false}`.
    pub channels: std::collections::BTreeMap<String, bool>,
    /// How long the unit's cases keep people's data (none: kept).
    pub retention: Retention,
    /// Overrides of `retention` per channel, e.g. `{"webchat": {"anonymise_after_months": 6}}`.
    pub channel_retention: std::collections::BTreeMap<String, Retention>,
    /// A sensitive unit: every opening of one of its cases (the case, its
    /// messages, notes, files) is recorded in the audit log (`case.read`).
    pub record_reads: bool,
}

/// How long cases keep people's data, applied daily by the retention job.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Cases resolved or closed this many months ago are anonymised.
    pub anonymise_after_months: Option<u32>,
    /// Files messages carry are removed this many months after they were sent.
    pub files_after_months: Option<u32>,
}

impl From<privacy::Retention> for Retention {
    fn from(r: privacy::Retention) -> Self {
        Retention { anonymise_after_months: r.anonymise_after_months, files_after_months: r.files_after_months }
    }
}

impl From<Retention> for privacy::Retention {
    fn from(r: Retention) -> Self {
        privacy::Retention {
            anonymise_after_months: r.anonymise_after_months,
            files_after_months: r.files_after_months,
        }
    }
}

impl From<privacy::PrivacySettings> for PrivacySettings {
    fn from(p: privacy::PrivacySettings) -> Self {
        PrivacySettings {
            ask_consent: p.ask_consent,
            channels: p.channels,
            retention: p.retention.into(),
            channel_retention: p.channel_retention.into_iter().map(|(k, r)| (k, r.into())).collect(),
            record_reads: p.record_reads,
        }
    }
}

impl PrivacySettings {
    fn parse(self, field: &str) -> Result<privacy::PrivacySettings, crate::domain::Error> {
        let settings = privacy::PrivacySettings {
            ask_consent: self.ask_consent,
            channels: self.channels,
            retention: self.retention.into(),
            channel_retention: self.channel_retention.into_iter().map(|(k, r)| (k, r.into())).collect(),
            record_reads: self.record_reads,
        };
        settings.validate(field)?;
        Ok(settings)
    }
}

/// Weekly opening hours in the unit's timezone, and closed dates.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursDto {
    pub weekly: Vec<DayHoursDto>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct DayHoursDto {
    /// `mon` to `sun`.
    #[schema(example = "mon")]
    pub day: String,
    #[schema(example = "08:00")]
    pub open: String,
    #[schema(example = "17:00")]
    pub close: String,
}

impl From<&BusinessHours> for BusinessHoursDto {
    fn from(hours: &BusinessHours) -> Self {
        BusinessHoursDto {
            weekly: hours
                .weekly
                .iter()
                .map(|h| DayHoursDto {
                    day: h.day.to_string().to_lowercase(),
                    open: h.open.format("%H:%M").to_string(),
                    close: h.close.format("%H:%M").to_string(),
                })
                .collect(),
            holidays: hours.holidays.clone(),
        }
    }
}

impl BusinessHoursDto {
    pub(super) fn parse(&self, field: &str) -> Result<BusinessHours, crate::domain::Error> {
        let mut weekly = vec![];
        for (i, day) in self.weekly.iter().enumerate() {
            let at = |name: &str| format!("{field}.weekly[{i}].{name}");
            let weekday = day
                .day
                .parse::<chrono::Weekday>()
                .map_err(|_| crate::domain::Error::invalid(at("day"), "must be mon, tue, wed, thu, fri, sat or sun"))?;
            let time = |name: &str, text: &str| {
                chrono::NaiveTime::parse_from_str(text, "%H:%M")
                    .map_err(|_| crate::domain::Error::invalid(at(name), "must be a time as HH:MM"))
            };
            weekly.push(DayHours { day: weekday, open: time("open", &day.open)?, close: time("close", &day.close)? });
        }
        let hours = BusinessHours { weekly, holidays: self.holidays.clone() };
        hours.validate(field)?;
        Ok(hours)
    }
}

impl From<Unit> for UnitDto {
    fn from(unit: Unit) -> Self {
        UnitDto {
            id: unit.id.0,
            slug: unit.slug.as_str().to_owned(),
            name: unit.name,
            timezone: unit.timezone.name().to_owned(),
            business_hours: (&unit.business_hours).into(),
            survey: unit.survey.into(),
            routing: unit.routing.into(),
            custom_fields: unit.custom_fields.into_iter().map(Into::into).collect(),
            privacy: unit.privacy.into(),
            created_at: unit.created_at,
            updated_at: unit.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    #[schema(example = "admisiones")]
    pub slug: String,
    #[schema(example = "Admisiones")]
    pub name: String,
    /// IANA timezone; defaults to America/Bogota.
    #[schema(example = "America/Bogota")]
    pub timezone: Option<String>,
    /// Defaults to Monday to Friday, 08:00 to 17:00.
    pub business_hours: Option<BusinessHoursDto>,
    /// Off by default.
    pub survey: Option<SurveySettings>,
    /// Manual by default: agents take cases from the queue.
    pub routing: Option<RoutingSettings>,
    pub custom_fields: Option<Vec<CustomFieldDef>>,
    /// The host does not ask for consent by default.
    pub privacy: Option<PrivacySettings>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnit {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub business_hours: Option<BusinessHoursDto>,
    pub survey: Option<SurveySettings>,
    pub routing: Option<RoutingSettings>,
    /// Replaces every definition.
    pub custom_fields: Option<Vec<CustomFieldDef>>,
    pub privacy: Option<PrivacySettings>,
}

/// Every unit, by name. Any staff member may list them (to transfer cases).
#[utoipa::path(
    tag = "units",
    responses((status = 200, body = ListResponse<UnitDto>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/units")]
pub async fn list_units(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require(auth.0.can_read_units(), "this needs a staff account or the units:read scope")?;
    let units = store::unit::list(&state.store.db).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(units.into_iter().map(UnitDto::from).collect(), None)))
}

/// Creates a unit (admins, `units:write` tokens).
#[utoipa::path(
    tag = "units",
    request_body = CreateUnit,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = UnitDto), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/units")]
pub async fn create_unit(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
    body: Json<CreateUnit>,
) -> Result<HttpResponse, ApiError> {
    super::extract::require_admin_or(&auth.0, crate::domain::Scope::UnitsWrite)?;
    let body = body.0;
    let mut check = Checker::default();
    let slug = check.check(Slug::parse("slug", &body.slug));
    let name = check.check(required_text("name", &body.name, 200));
    let timezone = check.check(parse_timezone("timezone", body.timezone.as_deref().unwrap_or("America/Bogota")));
    let hours = match &body.business_hours {
        Some(hours) => check.check(hours.parse("business_hours")),
        None => Some(BusinessHours::office_default()),
    };
    let survey = check.check(body.survey.unwrap_or_default().parse("survey"));
    let routing = check.check(body.routing.unwrap_or_default().parse("routing"));
    let custom_fields = check.check(parse_fields(body.custom_fields.unwrap_or_default()));
    let privacy = check.check(body.privacy.unwrap_or_default().parse("privacy"));
    check.finish()?;
    let (
        Some(slug),
        Some(name),
        Some(timezone),
        Some(business_hours),
        Some(survey),
        Some(routing),
        Some(custom_fields),
        Some(privacy),
    ) = (slug, name, timezone, hours, survey, routing, custom_fields, privacy)
    else {
        return Err(ApiError::internal("checked values missing"));
    };
    let new = NewUnit { slug, name, timezone, business_hours, survey, routing, custom_fields, privacy };
    let reply = super::idempotency::run(&state, &req, &auth.0, || async {
        let unit = store::unit::create(&state.store, &Actor::from(&auth.0), new).await?;
        super::idempotency::created(&UnitDto::from(unit))
    })
    .await;
    state.reads.units_changed();
    reply
}

#[utoipa::path(
    tag = "units",
    params(("unit_id" = uuid::Uuid, Path)),
    responses((status = 200, body = UnitDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/units/{unit_id}")]
pub async fn get_unit(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.can_read_units(), "this needs a staff account or the units:read scope")?;
    let unit = store::unit::get(&state.store.db, UnitId(path.into_inner())).await?;
    Ok(HttpResponse::Ok().json(UnitDto::from(unit)))
}

/// Changes a unit's name, timezone, hours, survey, routing, fields or
/// data-protection settings (its supervisors, admins).
#[utoipa::path(
    tag = "units",
    params(("unit_id" = uuid::Uuid, Path)),
    request_body = UpdateUnit,
    responses((status = 200, body = UnitDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/units/{unit_id}")]
pub async fn update_unit(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateUnit>,
) -> Result<HttpResponse, ApiError> {
    let id = UnitId(path.into_inner());
    let current = store::unit::get(&state.store.db, id).await?;
    require(auth.0.can_manage_unit(id), "only the unit's supervisors and admins may change it")?;
    let mut body = body.0;
    // Whether reads of a unit's cases are recorded is the admins' to decide:
    // a supervisor's settings keep what is in force.
    if let Some(privacy) = body.privacy.as_mut()
        && !auth.0.is_admin()
    {
        privacy.record_reads = current.privacy.record_reads;
    }
    let mut check = Checker::default();
    let patch = UnitPatch {
        name: body.name.as_deref().and_then(|n| check.check(required_text("name", n, 200))),
        timezone: body.timezone.as_deref().and_then(|t| check.check(parse_timezone("timezone", t))),
        business_hours: body.business_hours.as_ref().and_then(|h| check.check(h.parse("business_hours"))),
        survey: body.survey.and_then(|s| check.check(s.parse("survey"))),
        routing: body.routing.and_then(|r| check.check(r.parse("routing"))),
        custom_fields: body.custom_fields.and_then(|f| check.check(parse_fields(f))),
        privacy: body.privacy.and_then(|p| check.check(p.parse("privacy"))),
    };
    check.finish()?;
    let unit = store::unit::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    state.reads.units_changed();
    Ok(HttpResponse::Ok().json(UnitDto::from(unit)))
}

/// What a custom field holds.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldKind {
    Text,
    Number,
    /// `YYYY-MM-DD`.
    Date,
    Checkbox,
    /// One of `options`.
    Select,
}

/// A field a unit's cases carry.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldDef {
    /// The key in a case's `custom_fields`, e.g. `motivo`.
    pub key: String,
    pub label: String,
    pub kind: CustomFieldKind,
    /// The choices of a `select`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Must be filled before a case is resolved.
    #[serde(default)]
    pub required: bool,
}

impl From<fields::FieldDef> for CustomFieldDef {
    fn from(d: fields::FieldDef) -> Self {
        let (kind, options) = match d.kind {
            FieldKind::Text => (CustomFieldKind::Text, vec![]),
            FieldKind::Number => (CustomFieldKind::Number, vec![]),
            FieldKind::Date => (CustomFieldKind::Date, vec![]),
            FieldKind::Checkbox => (CustomFieldKind::Checkbox, vec![]),
            FieldKind::Select { options } => (CustomFieldKind::Select, options),
        };
        CustomFieldDef { key: d.key, label: d.label, kind, options, required: d.required }
    }
}

fn parse_fields(defs: Vec<CustomFieldDef>) -> Result<Vec<fields::FieldDef>, crate::domain::Error> {
    let parsed: Vec<fields::FieldDef> = defs
        .into_iter()
        .map(|d| fields::FieldDef {
            key: d.key,
            label: d.label,
            kind: match d.kind {
                CustomFieldKind::Text => FieldKind::Text,
                CustomFieldKind::Number => FieldKind::Number,
                CustomFieldKind::Date => FieldKind::Date,
                CustomFieldKind::Checkbox => FieldKind::Checkbox,
                CustomFieldKind::Select => FieldKind::Select { options: d.options },
            },
            required: d.required,
        })
        .collect();
    fields::check_defs("custom_fields", &parsed)?;
    Ok(parsed)
}
