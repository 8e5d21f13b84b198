//! Audiences: people brought in from the institution's own systems by their
//! external id (student or applicant number), one by one or a file at a
//! time, with the consent each gave and where it came from.

use actix_web::{HttpRequest, HttpResponse, get, http::header, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contact::{
    ContactDto, IdentityInput, RecordConsent, check_attributes, consent_of, parse_identities, visibility,
};
use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require_admin_or};
use crate::api::AppState;
use crate::domain::{
    self, Actor, Scope,
    audience::{Columns, ContactUpsert, ImportConsent, parse_date, parse_external_id},
    required_text,
};
use crate::store;

/// The largest file an import takes (about 300,000 rows of a dozen columns).
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// The most columns (or JSON keys) a file may have: the attributes a
/// contact keeps and the columns the import reads.
const MAX_COLUMNS: usize = 200;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertContact {
    /// Replaces the name when given.
    #[schema(example = "Laura Gómez")]
    pub name: Option<String>,
    /// Added to the person's identities.
    #[serde(default)]
    pub identities: Vec<IdentityInput>,
    /// Merged into the person's attributes (program, campus, cohort...);
    /// keys not named stay as they are.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
    /// Answers to consent, recorded unless the same answer stands or the
    /// person answered otherwise after `given_at`.
    #[serde(default)]
    pub consents: Vec<RecordConsent>,
}

#[derive(Serialize, ToSchema)]
pub struct UpsertResponse {
    pub contact: ContactDto,
    pub created: bool,
    /// What became of each answer to consent, in the order given.
    pub consents: Vec<ConsentOutcomeDto>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentOutcomeDto {
    pub purpose: String,
    /// `recorded`, `already_so` (the same answer stands) or
    /// `later_answer_stands` (the person answered otherwise since).
    pub outcome: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The file's name, kept on every consent record it brings.
    pub file_name: Option<String>,
    /// The version of the consent text the people saw; needed when the file
    /// has `consent.<purpose>` columns.
    pub text_version: Option<String>,
    /// When the people gave their consent, for rows without a `consent_date`.
    pub given_at: Option<String>,
    /// Do everything and keep nothing: the report says what an import would do.
    pub dry_run: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ContactImportResponse {
    pub dry_run: bool,
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub consents_recorded: u64,
    /// Answers not recorded: the same one stands, or the person's later one does.
    pub consents_kept: u64,
    /// The attribute keys the file's columns set.
    pub attributes: Vec<String>,
    /// Rows left out and why (at most 1,000; `errors_left_out` counts the rest).
    pub errors: Vec<RowErrorDto>,
    pub errors_left_out: u64,
}

#[derive(Serialize, ToSchema)]
pub struct RowErrorDto {
    /// The row's line in the file; the header is line 1.
    pub line: u64,
    /// The column (`external_id`, `whatsapp`, `consent.broadcasts`...).
    pub field: String,
    pub detail: String,
}

fn external_id_of(path: &str) -> Result<String, ApiError> {
    Ok(parse_external_id("external_id", path)?)
}

/// The person with this external id.
#[utoipa::path(
    tag = "contacts",
    params(("external_id" = String, Path)),
    responses((status = 200, body = ContactDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/contacts/external/{external_id}")]
pub async fn get_by_external_id(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let visibility = visibility(&auth.0)?;
    let external_id = external_id_of(&path)?;
    let id = store::audience::find(&state.store.db, &external_id).await?.ok_or(ApiError::NotFound("contact"))?;
    let contact = store::contact::get(&state.store.db, &visibility, id).await?;
    Ok(HttpResponse::Ok().json(ContactDto::from(contact)))
}

/// Creates or brings up to date the person with this external id: 201 when
/// created, 200 when found (by the id, or by a number or address of theirs
/// when they wrote in before and have no external id yet). A number or
/// address held by someone else is a 409 on that channel. For admins and
/// tokens with `contacts:write`.
#[utoipa::path(
    tag = "contacts",
    params(("external_id" = String, Path)),
    request_body = UpsertContact,
    responses(
        (status = 200, body = UpsertResponse), (status = 201, body = UpsertResponse),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[put("/contacts/external/{external_id}")]
pub async fn upsert_contact(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    body: Json<UpsertContact>,
) -> Result<HttpResponse, ApiError> {
    require_admin_or(&auth.0, Scope::ContactsWrite)?;
    let body = body.0;
    let mut check = Checker::default();
    let external_id = check.check(parse_external_id("external_id", &path));
    let name = body.name.as_deref().and_then(|n| check.check(required_text("name", n, 200)));
    let identities = parse_identities(&body.identities, &mut check);
    check_attributes("custom_attributes", &body.custom_attributes, &mut check);
    if body.consents.len() > 50 {
        check.push("consents", "at most 50 answers at once");
    }
    let consents: Vec<_> = body
        .consents
        .iter()
        .enumerate()
        .filter_map(|(i, c)| consent_of(&auth.0, c, &format!("consents[{i}]."), None, &mut check))
        .collect();
    check.finish()?;
    let external_id = external_id.ok_or_else(|| ApiError::internal("checked values missing"))?;
    let row = ContactUpsert { external_id, name, identities, attributes: body.custom_attributes, consents };
    let done = store::audience::upsert(&state.store, &Actor::from(&auth.0), &row).await?;
    let contact = store::contact::get(&state.store.db, &store::contact::Visibility::All, done.contact).await?;
    let response = UpsertResponse {
        contact: ContactDto::from(contact),
        created: done.created,
        consents: done
            .consents
            .into_iter()
            .map(|(purpose, outcome)| ConsentOutcomeDto { purpose, outcome: outcome.as_str().to_owned() })
            .collect(),
    };
    Ok(if done.created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(response))
}

/// Imports people from a CSV file (`text/csv`, UTF-8, `,` or `;`) or a
/// JSON array of objects with the same keys: one row
/// per person with an `external_id` column; `name`; a number or address
/// per channel (`whatsapp`, `sms`, `phone`, `email`, `telegram`); answers
/// to consent as `consent.<purpose>` (sí/no, yes/no, 1/0) with the day
/// each was given in `consent_date` (or `given_at` for the whole file);
/// every other column is an attribute (`program`, `campus`, `cohort`...).
/// Rows that cannot be imported are listed with their line and column; the
/// others land. For admins and tokens with `contacts:write`.
#[utoipa::path(
    post,
    path = "/contacts/import",
    tag = "contacts",
    params(ImportParams),
    request_body(content = Vec<Object>, description = "CSV (text/csv) with a header row, or a JSON array of objects with the same keys", content_type = "application/json"),
    responses(
        (status = 200, body = ContactImportResponse), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
pub async fn import_contacts(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    params: web::Query<ImportParams>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require_admin_or(&auth.0, Scope::ContactsWrite)?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let now = Utc::now();
    let mut check = Checker::default();
    let reference = params.file_name.as_deref().and_then(|f| check.check(required_text("file_name", f, 300)));
    let text_version = params.text_version.as_deref().and_then(|v| check.check(required_text("text_version", v, 64)));
    let given_at: Option<DateTime<Utc>> =
        params.given_at.as_deref().and_then(|d| check.check(parse_date("given_at", d, now)));
    let table = if content_type.starts_with("text/csv") {
        Table::csv(&body)?
    } else if content_type.starts_with("application/json") {
        Table::json(&body)?
    } else {
        return Err(ApiError::BadRequest("send the rows as text/csv or application/json".into()));
    };
    let columns = match Columns::parse(&table.headers) {
        Ok(columns) => Some(columns),
        Err(errors) => {
            for e in errors {
                check.check::<()>(Err(e));
            }
            None
        }
    };
    if columns.as_ref().is_some_and(Columns::has_consents) && text_version.is_none() {
        check.push("text_version", "needed with consent columns: the version of the text the people saw");
    }
    check.finish()?;
    let columns = columns.ok_or_else(|| ApiError::internal("checked values missing"))?;
    let defaults = ImportConsent { text_version, given_at, reference: reference.clone() };
    let rows = table.rows.map(|(line, cells)| match cells {
        Ok(cells) => {
            let cell = |i: usize| crate::spreadsheet::import_cell(cells.get(i).map_or("", String::as_str));
            (line, columns.row(cell, &defaults, now))
        }
        Err(e) => (line, Err(vec![e])),
    });
    let dry_run = params.dry_run.unwrap_or(false);
    let report =
        store::audience::import(&state.store, &Actor::from(&auth.0), rows, dry_run, reference.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ContactImportResponse {
        dry_run,
        rows: report.rows,
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        consents_recorded: report.consents_recorded,
        consents_kept: report.consents_kept,
        attributes: columns.attribute_keys(),
        errors: report
            .errors
            .into_iter()
            .map(|e| RowErrorDto { line: e.line, field: e.field, detail: e.detail })
            .collect(),
        errors_left_out: report.errors_left_out,
    }))
}

/// The rows of an upload as text cells under a header row, read one at a
/// time from a CSV file, or from a JSON array of objects (each key a
/// column; a row's "line" is then its position from 1).
struct Table<'a> {
    headers: Vec<String>,
    rows: Box<dyn Iterator<Item = Cells> + 'a>,
}

/// A row's line and its cells, or why it could not be read.
type Cells = (u64, Result<Vec<String>, domain::Error>);

impl<'a> Table<'a> {
    fn csv(body: &'a [u8]) -> Result<Table<'a>, ApiError> {
        let mut reader = crate::spreadsheet::csv_reader(body).map_err(|e| ApiError::field("file", e))?;
        let headers = reader
            .headers()
            .map_err(|e| ApiError::field("file", format!("cannot read the header row: {e}")))?
            .iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        if headers.len() > MAX_COLUMNS {
            return Err(ApiError::field("file", format!("at most {MAX_COLUMNS} columns")));
        }
        let rows = reader.into_records().map(|record| match record {
            Ok(record) => {
                (record.position().map_or(0, csv::Position::line), Ok(record.iter().map(str::to_owned).collect()))
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                (line, Err(domain::Error::invalid("", format!("unreadable row: {e}"))))
            }
        });
        Ok(Table { headers, rows: Box::new(rows) })
    }

    fn json(body: &[u8]) -> Result<Table<'a>, ApiError> {
        let objects: Vec<serde_json::Map<String, serde_json::Value>> = super::extract::parse_json(body)?;
        let mut headers: Vec<String> = vec![];
        let mut seen = std::collections::HashSet::new();
        for key in objects.iter().flat_map(|o| o.keys()) {
            if seen.insert(key.as_str()) {
                headers.push(key.clone());
                if headers.len() > MAX_COLUMNS {
                    return Err(ApiError::field("file", format!("at most {MAX_COLUMNS} different keys")));
                }
            }
        }
        let names = headers.clone();
        let rows = objects.into_iter().zip(1..).map(move |(object, line)| {
            let cells = names
                .iter()
                .map(|name| match object.get(name) {
                    None | Some(serde_json::Value::Null) => Ok(String::new()),
                    Some(serde_json::Value::String(text)) => Ok(text.clone()),
                    Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => Ok(v.to_string()),
                    Some(_) => Err(domain::Error::invalid(name.clone(), "must be text, a number or true/false")),
                })
                .collect();
            (line, cells)
        });
        Ok(Table { headers, rows: Box::new(rows) })
    }
}
