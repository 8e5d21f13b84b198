//! Searching a knowledge base, and rebuilding the index.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, MaybeAuth, require_admin_or};
use super::kb::readable;
use crate::api::AppState;
use crate::domain::kb::{KnowledgeBase, Locale};
use crate::domain::{CategoryId, KbId, Scope};
use crate::search::{self, Hit};

/// Longest query accepted, in characters.

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What the person typed.
    pub q: String,
    /// Hits to return, 1 to 50 (default 10).
    pub limit: Option<usize>,
    /// Only articles in this locale; the query is analysed in it (default: the base's locale).
    pub locale: Option<String>,
    /// Only this category and its subcategories.
    pub category_id: Option<uuid::Uuid>,
    /// The last word is still being typed: also match words that start with it.
    pub prefix: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    pub hits: Vec<SearchHitDto>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchHitDto {
    pub article_id: uuid::Uuid,
    pub kb_id: uuid::Uuid,
    pub title: String,
    /// Ranking score; only the order means something.
    pub score: f32,
    /// HTML-escaped excerpt with the query's words in `<mark>`.
    pub snippet: String,
    /// 0 to 1: how much of the query the article covers. A bot may answer above ~0.6.
    pub confidence: f32,
    pub short_answer: String,
    pub locale: String,
    /// The article in the help center.
    pub url: String,
}

impl SearchHitDto {
    pub fn new(kb: &KnowledgeBase, hit: Hit) -> Self {
        SearchHitDto {
            url: super::article::article_path(kb, hit.locale, &hit.slug),
            article_id: hit.article_id.0,
            kb_id: hit.kb_id.0,
            title: hit.title,
            score: hit.score,
            snippet: hit.snippet,
            confidence: hit.confidence,
            short_answer: hit.short_answer,
            locale: hit.locale.as_str().to_owned(),
        }
    }
}

impl From<search::Error> for ApiError {
    fn from(err: search::Error) -> Self {
        match err {
            search::Error::Store(e) => e.into(),
            search::Error::Backend(e) => {
                tracing::error!(error = %e, "search backend failed");
                ApiError::Unavailable("search is unavailable for a moment; retry".into())
            }
        }
    }
}

/// Searches published articles, best first. Public knowledge bases answer
/// without a token (rate-limited per address); internal ones need staff.
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), SearchParams),
    responses((status = 200, body = SearchResponse), (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)),
    security((), ("bearer" = []))
)]
#[get("/knowledge-bases/{kb_id}/search")]
pub async fn search_knowledge_base(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: MaybeAuth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    if auth.0.is_none() {
        let ip = super::auth::client_ip(&req, &state);
        state.public_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
    }
    let kb = readable(&state, auth.0.as_ref(), KbId(path.into_inner())).await?;
    let params = params.into_inner();
    let (text, limit, locale) = checked(&params.q, params.limit, params.locale.as_deref())?;
    let mut query = search::Query::new(text, vec![kb.id], locale.unwrap_or(kb.locale));
    if let Some(id) = params.category_id {
        // Checks it belongs here; the index holds each article's category and
        // its parent, so a top category also finds its subcategories' articles.
        super::article::category_with_children(&state, kb.id, CategoryId(id)).await?;
        query.category_id = Some(CategoryId(id));
    }
    query.locale = locale;
    query.synonyms = kb.synonyms.clone();
    query.limit = limit;
    query.prefix = params.prefix.unwrap_or(false);
    let hits = state.search.query(&query).await?;
    if !query.prefix {
        state.search.record(&query, "api", &hits);
    }
    let hits = hits.into_iter().map(|h| SearchHitDto::new(&kb, h)).collect();
    Ok(HttpResponse::Ok().json(SearchResponse { hits }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffSearchParams {
    /// What to look for.
    pub q: String,
    /// Only this knowledge base.
    pub kb_id: Option<uuid::Uuid>,
    /// Only the knowledge bases of this unit.
    pub unit_id: Option<uuid::Uuid>,
    /// Only this category (with `kb_id`) and its subcategories.
    pub category_id: Option<uuid::Uuid>,
    /// Only articles in this locale; the query is analysed in it (default: the server's locale).
    pub locale: Option<String>,
    /// Hits to return, 1 to 50 (default 10).
    pub limit: Option<usize>,
    /// The last word is still being typed.
    pub prefix: Option<bool>,
}

/// Searches every knowledge base staff may read, internal ones included,
/// filtered by base, unit, category and locale: what the agent console
/// suggests while a case is open.
#[utoipa::path(
    tag = "knowledge-bases",
    params(StaffSearchParams),
    responses((status = 200, body = SearchResponse), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/search")]
pub async fn search_all(
    state: web::Data<AppState>,
    auth: Auth,
    params: web::Query<StaffSearchParams>,
) -> Result<HttpResponse, ApiError> {
    super::extract::require(auth.0.can_read_kb(), "this needs a staff account or the kb:read scope")?;
    let params = params.into_inner();
    let (text, limit, locale) = checked(&params.q, params.limit, params.locale.as_deref())?;
    let bases: Vec<KnowledgeBase> = crate::store::kb::list(&state.store.db)
        .await?
        .into_iter()
        .filter(|kb| params.kb_id.is_none_or(|id| kb.id.0 == id))
        .filter(|kb| params.unit_id.is_none_or(|unit| kb.unit_id.is_some_and(|u| u.0 == unit)))
        .collect();
    if params.kb_id.is_some() && bases.is_empty() {
        return Err(ApiError::NotFound("knowledge base"));
    }
    let analysis = locale.unwrap_or_else(|| Locale::parse("locale", &state.config.locale).unwrap_or_default());
    let mut query = search::Query::new(text, bases.iter().map(|kb| kb.id).collect(), analysis);
    if let Some(id) = params.category_id {
        let kb = bases
            .first()
            .filter(|_| params.kb_id.is_some())
            .ok_or_else(|| ApiError::field("category_id", "needs kb_id: categories belong to one knowledge base"))?;
        super::article::category_with_children(&state, kb.id, CategoryId(id)).await?;
        query.category_id = Some(CategoryId(id));
    }
    query.unit_id = params.unit_id.map(crate::domain::UnitId);
    query.locale = locale;
    query.synonyms = bases.iter().flat_map(|kb| kb.synonyms.iter().cloned()).collect();
    query.limit = limit;
    query.prefix = params.prefix.unwrap_or(false);
    let hits = state.search.query(&query).await?;
    if !query.prefix {
        state.search.record(&query, "console", &hits);
    }
    let hits = hits
        .into_iter()
        .filter_map(|hit| bases.iter().find(|kb| kb.id == hit.kb_id).map(|kb| SearchHitDto::new(kb, hit)))
        .collect();
    Ok(HttpResponse::Ok().json(SearchResponse { hits }))
}

/// The query text, the number of hits and the locale of a search request,
/// every bad one reported at once.
fn checked(q: &str, limit: Option<usize>, locale: Option<&str>) -> Result<(String, usize, Option<Locale>), ApiError> {
    let mut check = Checker::default();
    let text = check.check(query_text(q));
    let limit = limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        check.check::<()>(Err(crate::domain::Error::invalid("limit", "must be between 1 and 50")));
    }
    let locale = locale.and_then(|l| check.check(Locale::parse("locale", l)));
    check.finish()?;
    Ok((text.unwrap_or_default(), limit, locale))
}

use crate::domain::kb::query_text;

#[derive(Serialize, ToSchema)]
pub struct ReindexResponse {
    /// Articles now in the index.
    pub documents: u64,
    pub backend: String,
}

/// Rebuilds the search index from the database (admins, `kb:write` tokens).
#[utoipa::path(
    tag = "knowledge-bases",
    responses((status = 200, body = ReindexResponse), (status = 403, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = []))
)]
#[post("/search/reindex")]
pub async fn reindex(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require_admin_or(&auth.0, Scope::KbWrite)?;
    let report = state.search.rebuild(&state.store).await?;
    Ok(HttpResponse::Ok()
        .json(ReindexResponse { documents: report.documents, backend: state.search.backend.name().to_owned() }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Start of the period (default: 30 days before `to`).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of the period, exclusive (default: now).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries per list, 1 to 100 (default 20).
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct QueryCountDto {
    pub query: String,
    pub searches: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ArticleFeedbackDto {
    pub article_id: uuid::Uuid,
    pub helpful: i64,
    pub not_helpful: i64,
    /// Recent comments of readers who answered no.
    pub comments: Vec<String>,
    /// Searches that led readers to the article before they answered no.
    pub queries: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AnalyticsResponse {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// Searches in the period, from every surface.
    pub searches: i64,
    pub top_queries: Vec<QueryCountDto>,
    /// Queries that found nothing: what the knowledge base is missing.
    pub no_result_queries: Vec<QueryCountDto>,
    /// Articles readers said did not help, most "no" first.
    pub negative_feedback: Vec<ArticleFeedbackDto>,
}

/// What people search and what did not help them (the unit's supervisors, admins).
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), AnalyticsParams),
    responses((status = 200, body = AnalyticsResponse), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/knowledge-bases/{kb_id}/analytics")]
pub async fn knowledge_base_analytics(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<AnalyticsParams>,
) -> Result<HttpResponse, ApiError> {
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    super::extract::require(
        auth.0.can_manage_kb(kb.unit_id),
        "only the unit's supervisors and admins see its search analytics",
    )?;
    let to = params.to.unwrap_or_else(crate::store::now);
    let from = params.from.unwrap_or(to - chrono::Duration::days(30));
    if from >= to {
        return Err(ApiError::field("from", "must be before `to`"));
    }
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 100"));
    }
    let a = crate::store::kb_analytics::analytics(&state.store.db, kb.id, from, to, limit).await?;
    let counts = |list: Vec<crate::store::kb_analytics::QueryCount>| {
        list.into_iter().map(|q| QueryCountDto { query: q.query, searches: q.searches }).collect()
    };
    Ok(HttpResponse::Ok().json(AnalyticsResponse {
        from,
        to,
        searches: a.searches,
        top_queries: counts(a.top_queries),
        no_result_queries: counts(a.no_result_queries),
        negative_feedback: a
            .negative_feedback
            .into_iter()
            .map(|f| ArticleFeedbackDto {
                article_id: f.article_id.0,
                helpful: f.helpful,
                not_helpful: f.not_helpful,
                comments: f.comments,
                queries: f.queries,
            })
            .collect(),
    }))
}
