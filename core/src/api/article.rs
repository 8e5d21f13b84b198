//! Knowledge-base articles: write, publish, archive, versions, restore.
//!
//! The unit's supervisors and admins manage articles; the unit's agents may
//! propose drafts and edit drafts, never what is published.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, PageParams, require};
use super::kb::readable;
use super::schema::{ListResponse, double_option};
use crate::api::AppState;
use crate::domain::kb::{
    Article, ArticlePatch, ArticleStatus, ArticleVersion, KnowledgeBase, Locale, MAX_BODY, MAX_TITLE, NewArticle,
    short_answer_or_default, validate_keywords,
};
use crate::domain::{Actor, ArticleId, CategoryId, KbId, Principal, required_text};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct ArticleDto {
    pub id: uuid::Uuid,
    pub kb_id: uuid::Uuid,
    pub category_id: Option<uuid::Uuid>,
    /// Articles that translate each other share it.
    pub translation_group: uuid::Uuid,
    pub locale: String,
    pub slug: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The body rendered to HTML (raw HTML in the Markdown is shown as text).
    pub body_html: String,
    /// What the bot answers with.
    pub short_answer: String,
    pub keywords: Vec<String>,
    /// `draft`, `published` or `archived`.
    pub status: String,
    /// Grows by one with every change; send it back to guard against lost updates.
    pub version: i32,
    pub views: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    /// The article in the help center.
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl ArticleDto {
    pub fn new(kb: &KnowledgeBase, a: Article) -> Self {
        ArticleDto {
            url: article_path(kb, a.locale, &a.slug),
            id: a.id.0,
            kb_id: a.kb_id.0,
            category_id: a.category_id.map(|c| c.0),
            translation_group: a.translation_group,
            locale: a.locale.as_str().to_owned(),
            slug: a.slug,
            title: a.title,
            body_html: crate::markdown::to_html(&a.body),
            body: a.body,
            short_answer: a.short_answer,
            keywords: a.keywords,
            status: a.status.as_str().to_owned(),
            version: a.version,
            views: a.views,
            helpful_yes: a.helpful_yes,
            helpful_no: a.helpful_no,
            created_at: a.created_at,
            updated_at: a.updated_at,
            published_at: a.published_at,
        }
    }
}

pub use crate::domain::kb::article_path;

#[derive(Serialize, ToSchema)]
pub struct ArticleVersionDto {
    pub version: i32,
    pub title: String,
    pub body: String,
    pub short_answer: String,
    pub keywords: Vec<String>,
    pub category_id: Option<uuid::Uuid>,
    pub status: String,
    /// `user:<id>`, `api_token:<id>`, `plugin:<id@version>` or `system:system`.
    pub author: String,
    pub created_at: DateTime<Utc>,
}

impl From<ArticleVersion> for ArticleVersionDto {
    fn from(v: ArticleVersion) -> Self {
        ArticleVersionDto {
            version: v.version,
            title: v.title,
            body: v.body,
            short_answer: v.short_answer,
            keywords: v.keywords,
            category_id: v.category_id.map(|c| c.0),
            status: v.status.as_str().to_owned(),
            author: v.author,
            created_at: v.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArticle {
    #[schema(example = "¿Cómo solicito una beca?")]
    pub title: String,
    /// Markdown.
    pub body: String,
    /// `draft` (default), `published` or `archived`.
    pub status: Option<String>,
    /// Defaults to the knowledge base's locale.
    pub locale: Option<String>,
    pub category_id: Option<uuid::Uuid>,
    pub keywords: Option<Vec<String>>,
    /// Defaults to the body's first paragraph.
    pub short_answer: Option<String>,
    /// The article this one translates (another locale).
    pub translation_of: Option<uuid::Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArticle {
    pub title: Option<String>,
    pub body: Option<String>,
    pub short_answer: Option<String>,
    pub keywords: Option<Vec<String>>,
    /// Null removes the category.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub category_id: Option<Option<uuid::Uuid>>,
    pub status: Option<String>,
    /// The version this change is based on; 409 if the article moved on.
    pub version: Option<i32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreArticle {
    /// The version whose content comes back.
    pub version: i32,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    /// `draft`, `published` or `archived`.
    pub status: Option<String>,
    pub locale: Option<String>,
    /// A category; its subcategories are included.
    pub category_id: Option<uuid::Uuid>,
    /// Words in the title.
    pub q: Option<String>,
}

/// May the caller write an article with this status before and after?
fn may_write(
    caller: &Principal,
    kb: &KnowledgeBase,
    before: Option<ArticleStatus>,
    after: ArticleStatus,
) -> Result<(), ApiError> {
    Ok(caller.may_write_article(kb.unit_id, before, after)?)
}

/// Articles, recently changed first.
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ArticleQuery, PageParams),
    responses((status = 200, body = ListResponse<ArticleDto>), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/knowledge-bases/{kb_id}/articles")]
pub async fn list_articles(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    query: web::Query<ArticleQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.can_read_kb(), "this needs a staff account or the kb:read scope")?;
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    let page = page.page()?;
    let mut check = Checker::default();
    let status = query.status.as_deref().and_then(|s| check.check(ArticleStatus::parse("status", s)));
    let locale = query.locale.as_deref().and_then(|l| check.check(Locale::parse("locale", l)));
    check.finish()?;
    let category_ids = match query.category_id {
        Some(id) => Some(category_with_children(&state, kb.id, CategoryId(id)).await?),
        None => None,
    };
    let filter = store::article::ArticleFilter { status, locale, category_ids, q: query.q.clone() };
    let (articles, next) = store::article::list(&state.store.db, kb.id, &filter, &page).await?;
    let items = articles.into_iter().map(|a| ArticleDto::new(&kb, a)).collect();
    Ok(HttpResponse::Ok().json(ListResponse::new(items, next)))
}

/// A category's id and its subcategories' ids.
pub async fn category_with_children(state: &AppState, kb: KbId, id: CategoryId) -> Result<Vec<CategoryId>, ApiError> {
    let categories = store::kb::categories(&state.store.db, kb).await?;
    if !categories.iter().any(|c| c.id == id) {
        return Err(ApiError::field("category_id", "no such category in this knowledge base"));
    }
    Ok(categories.into_iter().filter(|c| c.id == id || c.parent_id == Some(id)).map(|c| c.id).collect())
}

/// Writes an article. Publishing makes it searchable everywhere within a second.
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateArticle,
    responses((status = 201, body = ArticleDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/knowledge-bases/{kb_id}/articles")]
pub async fn create_article(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateArticle>,
) -> Result<HttpResponse, ApiError> {
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    let body = body.0;
    let mut check = Checker::default();
    let title = check.check(required_text("title", &body.title, MAX_TITLE));
    let status = check.check(ArticleStatus::parse("status", body.status.as_deref().unwrap_or("draft")));
    let locale = match body.locale.as_deref() {
        Some(l) => check.check(Locale::parse("locale", l)),
        None => Some(kb.locale),
    };
    let article_body = check.check(body_text(&body.body, status == Some(ArticleStatus::Draft)));
    let keywords = check.check(validate_keywords("keywords", &body.keywords.unwrap_or_default()));
    let short_answer = check.check(short_answer_or_default(body.short_answer.as_deref(), &body.body));
    check.finish()?;
    let (Some(title), Some(status), Some(locale), Some(article_body), Some(keywords), Some(short_answer)) =
        (title, status, locale, article_body, keywords, short_answer)
    else {
        return Err(ApiError::internal("checked values missing"));
    };
    may_write(&auth.0, &kb, None, status)?;
    let new = NewArticle {
        category_id: body.category_id.map(CategoryId),
        translation_of: body.translation_of.map(ArticleId),
        locale,
        title,
        body: article_body,
        short_answer,
        keywords,
        status,
    };
    super::idempotency::run(&state, &req, &auth.0, || async {
        let article = store::article::create(&state.store, &Actor::from(&auth.0), &kb, new).await?;
        super::idempotency::created(&ArticleDto::new(&kb, article))
    })
    .await
}

/// An article and its knowledge base, if the caller may read the base and
/// the article is in it.
async fn article_in(
    state: &AppState,
    caller: &Principal,
    kb_id: uuid::Uuid,
    article_id: uuid::Uuid,
) -> Result<(KnowledgeBase, Article), ApiError> {
    let kb = readable(state, Some(caller), KbId(kb_id)).await?;
    let article = store::article::get(&state.store.db, ArticleId(article_id)).await?;
    if article.kb_id != kb.id {
        return Err(ApiError::NotFound("article"));
    }
    Ok((kb, article))
}

/// A body may be empty only in a draft.
fn body_text(body: &str, draft: bool) -> Result<String, crate::domain::Error> {
    if draft && body.trim().is_empty() {
        return Ok(String::new());
    }
    required_text("body", body, MAX_BODY)
}

#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ("article_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ArticleDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/knowledge-bases/{kb_id}/articles/{article_id}")]
pub async fn get_article(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (kb_id, article_id) = path.into_inner();
    require(auth.0.can_read_kb(), "this needs a staff account or the kb:read scope")?;
    let (kb, article) = article_in(&state, &auth.0, kb_id, article_id).await?;
    Ok(HttpResponse::Ok().json(ArticleDto::new(&kb, article)))
}

/// Edits, publishes or archives an article; every change is a new version.
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ("article_id" = uuid::Uuid, Path)),
    request_body = UpdateArticle,
    responses((status = 200, body = ArticleDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/knowledge-bases/{kb_id}/articles/{article_id}")]
pub async fn update_article(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<UpdateArticle>,
) -> Result<HttpResponse, ApiError> {
    let (kb_id, article_id) = path.into_inner();
    let (kb, current) = article_in(&state, &auth.0, kb_id, article_id).await?;
    let body = body.0;
    let mut check = Checker::default();
    let status = body.status.as_deref().and_then(|s| check.check(ArticleStatus::parse("status", s)));
    let after = status.unwrap_or(current.status);
    let patch = ArticlePatch {
        category_id: body.category_id.map(|c| c.map(CategoryId)),
        title: body.title.as_deref().and_then(|t| check.check(required_text("title", t, MAX_TITLE))),
        body: body.body.as_deref().and_then(|b| check.check(body_text(b, after == ArticleStatus::Draft))),
        short_answer: body
            .short_answer
            .as_deref()
            .and_then(|s| check.check(required_text("short_answer", s, crate::domain::kb::MAX_SHORT_ANSWER))),
        keywords: body.keywords.as_deref().and_then(|k| check.check(validate_keywords("keywords", k))),
        status,
    };
    if after == ArticleStatus::Published && patch.body.as_deref().unwrap_or(&current.body).trim().is_empty() {
        check.check::<()>(Err(crate::domain::Error::invalid("body", "must not be empty to publish")));
    }
    check.finish()?;
    if patch.is_empty() {
        return Err(ApiError::field("", "change at least one field"));
    }
    may_write(&auth.0, &kb, Some(current.status), after)?;
    let article =
        store::article::update(&state.store, &Actor::from(&auth.0), &kb, current.id, patch, body.version).await?;
    Ok(HttpResponse::Ok().json(ArticleDto::new(&kb, article)))
}

/// Every saved version, newest first.
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ("article_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ListResponse<ArticleVersionDto>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/knowledge-bases/{kb_id}/articles/{article_id}/versions")]
pub async fn list_article_versions(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (kb_id, article_id) = path.into_inner();
    require(auth.0.can_read_kb(), "this needs a staff account or the kb:read scope")?;
    let (_, article) = article_in(&state, &auth.0, kb_id, article_id).await?;
    let versions = store::article::versions(&state.store.db, article.id).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(versions.into_iter().map(ArticleVersionDto::from).collect(), None)))
}

/// Brings back an old version's content as a new version (the status stays).
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ("article_id" = uuid::Uuid, Path)),
    request_body = RestoreArticle,
    responses((status = 200, body = ArticleDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[post("/knowledge-bases/{kb_id}/articles/{article_id}/restore")]
pub async fn restore_article(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<RestoreArticle>,
) -> Result<HttpResponse, ApiError> {
    let (kb_id, article_id) = path.into_inner();
    let (kb, current) = article_in(&state, &auth.0, kb_id, article_id).await?;
    may_write(&auth.0, &kb, Some(current.status), current.status)?;
    let article = store::article::restore(&state.store, &Actor::from(&auth.0), &kb, current.id, body.0.version).await?;
    Ok(HttpResponse::Ok().json(ArticleDto::new(&kb, article)))
}
