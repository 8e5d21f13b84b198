//! Import and export of question/answer spreadsheets (CSV or JSON), the way
//! institutions keep their FAQs. An import checks every row first and
//! reports each failing row; then it writes all rows or none.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, FieldError, Problem};
use super::extract::{Auth, require};
use super::kb::readable;
use crate::api::AppState;
use crate::domain::kb::{
    ArticleStatus, Locale, MAX_BODY, MAX_TITLE, NewArticle, short_answer_or_default, validate_keywords,
};
use crate::domain::{KbId, required_text};
use crate::store::{self, kb_import::ImportRow};

/// Most rows one import may carry.
const MAX_ROWS: usize = 5000;
/// Largest import body.
pub const MAX_IMPORT_BYTES: usize = 8 << 20;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Status of the imported articles: `published` (default) or `draft`.
    pub status: Option<String>,
    /// Locale of rows that do not say (default: the base's).
    pub locale: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResponse {
    pub created: usize,
    /// Rows whose question was already an article's title: a new version of it.
    pub updated: usize,
    pub categories_created: usize,
}

/// One row as written in the file, in English or Spanish column names.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ImportRowDto {
    #[serde(alias = "pregunta", alias = "title", alias = "titulo")]
    pub question: Option<String>,
    #[serde(alias = "respuesta", alias = "body")]
    pub answer: Option<String>,
    #[serde(alias = "respuesta_corta")]
    pub short_answer: Option<String>,
    #[serde(alias = "categoria")]
    pub category: Option<String>,
    /// A list, or one text separated by `;` or `,`.
    #[serde(alias = "palabras_clave", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub keywords: Option<Keywords>,
    #[serde(alias = "idioma")]
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Keywords {
    List(Vec<String>),
    Text(String),
}

impl Keywords {
    fn into_vec(self) -> Vec<String> {
        match self {
            Keywords::List(list) => list,
            Keywords::Text(text) => {
                text.split([';', ',']).map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
            }
        }
    }
}

/// Imports a spreadsheet: `text/csv` with a header row (question, answer,
/// category, keywords, short_answer, locale — or pregunta, respuesta,
/// categoria, palabras_clave, respuesta_corta, idioma) or `application/json`
/// (a list of such objects). Missing categories are created.
#[utoipa::path(
    post,
    path = "/knowledge-bases/{kb_id}/import",
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ImportParams),
    request_body(content = Vec<ImportRowDto>, description = "CSV (text/csv) or JSON rows", content_type = "application/json"),
    responses((status = 200, body = ImportResponse), (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn import_articles(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<ImportParams>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    let status = ArticleStatus::parse("status", params.status.as_deref().unwrap_or("published"))?;
    let default_locale = match params.locale.as_deref() {
        Some(l) => Locale::parse("locale", l)?,
        None => kb.locale,
    };
    if !auth.0.can_manage_kb(kb.unit_id) {
        require(
            status == ArticleStatus::Draft && auth.0.can_propose_kb_drafts(kb.unit_id),
            "only the unit's supervisors and admins may publish; agents may import drafts",
        )?;
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let raw = if content_type.starts_with("text/csv") {
        parse_csv(&body)?
    } else if content_type.starts_with("application/json") {
        super::extract::parse_json::<Vec<ImportRowDto>>(&body)?
    } else {
        return Err(ApiError::BadRequest("send the rows as text/csv or application/json".into()));
    };
    if raw.is_empty() {
        return Err(ApiError::field("rows", "the file has no rows"));
    }
    if raw.len() > MAX_ROWS {
        return Err(ApiError::field("rows", format!("at most {MAX_ROWS} rows per import")));
    }
    let mut errors = vec![];
    let mut rows = Vec::with_capacity(raw.len());
    for (i, row) in raw.into_iter().enumerate() {
        match check_row(row, status, default_locale) {
            Ok(row) => rows.push(row),
            Err(crate::domain::Error::Invalid { field, message }) => {
                errors.push(FieldError { field: format!("rows[{i}].{field}"), message })
            }
            Err(other) => errors.push(FieldError { field: format!("rows[{i}]"), message: other.to_string() }),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let report = store::kb_import::import(&state.store, Some(&auth.0), &kb, rows).await?;
    Ok(HttpResponse::Ok().json(ImportResponse {
        created: report.created,
        updated: report.updated,
        categories_created: report.categories_created,
    }))
}

fn check_row(
    row: ImportRowDto,
    status: ArticleStatus,
    default_locale: Locale,
) -> Result<ImportRow, crate::domain::Error> {
    let title = required_text("question", row.question.as_deref().unwrap_or_default(), MAX_TITLE)?;
    let body = required_text("answer", row.answer.as_deref().unwrap_or_default(), MAX_BODY)?;
    let short_answer = short_answer_or_default(row.short_answer.as_deref(), &body)
        .map_err(|e| crate::domain::Error::invalid("short_answer", e.to_string()))?;
    let keywords = validate_keywords("keywords", &row.keywords.map(Keywords::into_vec).unwrap_or_default())?;
    let locale = match row.locale.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => Locale::parse("locale", l)?,
        None => default_locale,
    };
    let category = match row.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(required_text("category", c, 200)?),
        None => None,
    };
    let article =
        NewArticle { category_id: None, translation_of: None, locale, title, body, short_answer, keywords, status };
    Ok(ImportRow { category, article })
}

/// CSV with a header row; column names are matched without case or accents.
fn parse_csv(bytes: &[u8]) -> Result<Vec<ImportRowDto>, ApiError> {
    let mut reader = crate::spreadsheet::csv_reader(bytes).map_err(|e| ApiError::field("rows", e))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::field("rows", format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| crate::search::analysis::fold(h).replace(' ', "_"))
        .collect();
    if !headers.iter().any(|h| matches!(h.as_str(), "question" | "pregunta" | "title" | "titulo")) {
        return Err(ApiError::field("rows", "the header row needs a question (or pregunta) column"));
    }
    let mut rows = vec![];
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ApiError::field(format!("rows[{i}]"), format!("unreadable CSV: {e}")))?;
        let mut row = ImportRowDto::default();
        for (header, value) in headers.iter().zip(record.iter()) {
            let value = Some(crate::spreadsheet::import_cell(value).to_owned()).filter(|v| !v.is_empty());
            match header.as_str() {
                "question" | "pregunta" | "title" | "titulo" => row.question = value,
                "answer" | "respuesta" | "body" => row.answer = value,
                "short_answer" | "respuesta_corta" => row.short_answer = value,
                "category" | "categoria" => row.category = value,
                "keywords" | "palabras_clave" => row.keywords = value.map(Keywords::Text),
                "locale" | "idioma" => row.locale = value,
                _ => {}
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `json`.
    pub format: Option<String>,
    /// Only articles with this status (default: all).
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExportRow {
    pub question: String,
    pub answer: String,
    pub short_answer: String,
    pub category: String,
    pub keywords: Vec<String>,
    pub status: String,
    pub locale: String,
}

/// Every article as a spreadsheet the import reads back.
#[utoipa::path(
    get,
    path = "/knowledge-bases/{kb_id}/export",
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ExportParams),
    responses((status = 200, body = Vec<ExportRow>, description = "JSON rows, or the same as CSV with format=csv"), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn export_articles(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<ExportParams>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.can_read_kb(), "this needs a staff account or the kb:read scope")?;
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    let status = params.status.as_deref().map(|s| ArticleStatus::parse("status", s)).transpose()?;
    let csv_format = match params.format.as_deref().unwrap_or("csv") {
        "csv" => true,
        "json" => false,
        _ => return Err(ApiError::field("format", "must be csv or json")),
    };
    let categories = store::kb::categories(&state.store.db, kb.id).await?;
    let articles = store::article::all_in(&state.store.db, kb.id, status).await?;
    let rows: Vec<ExportRow> = articles
        .into_iter()
        .map(|a| ExportRow {
            category: a
                .category_id
                .and_then(|id| categories.iter().find(|c| c.id == id))
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            question: a.title,
            answer: a.body,
            short_answer: a.short_answer,
            keywords: a.keywords,
            status: a.status.as_str().to_owned(),
            locale: a.locale.as_str().to_owned(),
        })
        .collect();
    if !csv_format {
        return Ok(HttpResponse::Ok().json(rows));
    }
    let mut writer = csv::Writer::from_writer(vec![]);
    let write = |writer: &mut csv::Writer<Vec<u8>>, record: &[&str]| {
        let cells = record.iter().map(|cell| crate::spreadsheet::export_cell(cell));
        writer.write_record(cells.map(|c| c.into_owned())).map_err(|e| ApiError::internal(format!("csv: {e}")))
    };
    write(&mut writer, &["question", "answer", "short_answer", "category", "keywords", "status", "locale"])?;
    for row in &rows {
        let keywords = row.keywords.join("; ");
        write(
            &mut writer,
            &[&row.question, &row.answer, &row.short_answer, &row.category, &keywords, &row.status, &row.locale],
        )?;
    }
    let bytes = writer.into_inner().map_err(|e| ApiError::internal(format!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.csv\"", kb.slug.as_str())))
        .body(bytes))
}
