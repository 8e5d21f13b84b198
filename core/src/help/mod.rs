//! The public help center under `/help/{kb_slug}`: server-rendered pages
//! readable without JavaScript (home, category, search results, article
//! with feedback), suggestions while typing, and its two static assets.
//!
//! Only public knowledge bases are shown; every page is rate-limited per
//! address. Searches go through the same [`crate::search::Search`] as the
//! API and the bot, so all of them rank alike.

pub(crate) mod page;
mod unsubscribe;

use std::fmt::Write;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::api::AppState;
use crate::domain::kb::article_path;
use crate::domain::kb::{Article, ArticleStatus, KnowledgeBase, Locale, Visibility};
use crate::i18n::t;
use crate::search::{self, Hit};
use crate::store;
use page::{Page, article_card, esc, home_path};

pub fn configure(cfg: &mut web::ServiceConfig) {
    unsubscribe::configure(cfg);
    cfg.route("/help/_/{file}", web::get().to(asset))
        .route("/help/{kb}", web::get().to(home_default))
        .route("/help/{kb}/{locale}", web::get().to(home))
        .route("/help/{kb}/{locale}/search", web::get().to(results))
        .route("/help/{kb}/{locale}/suggest", web::get().to(suggest))
        .route("/help/{kb}/{locale}/categories/{category}", web::get().to(category))
        .route("/help/{kb}/{locale}/articles/{slug}", web::get().to(article))
        .route("/help/{kb}/{locale}/articles/{slug}/feedback", web::post().to(feedback));
}

/// Why a page cannot be shown; rendered as a small HTML page.
enum HelpError {
    NotFound,
    Limited(u64),
    Failed(String),
}

impl From<store::Error> for HelpError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound(_) => HelpError::NotFound,
            other => HelpError::Failed(other.to_string()),
        }
    }
}

impl From<search::Error> for HelpError {
    fn from(e: search::Error) -> Self {
        HelpError::Failed(e.to_string())
    }
}

type Result<T> = std::result::Result<T, HelpError>;

fn error_page(error: HelpError, locale: Locale) -> HttpResponse {
    let l = locale.as_str();
    let (mut response, text) = match error {
        HelpError::NotFound => (HttpResponse::NotFound(), t(l, "help.not_found", &[])),
        HelpError::Limited(seconds) => {
            let mut r = HttpResponse::TooManyRequests();
            r.insert_header((header::RETRY_AFTER, seconds.to_string()));
            (r, t(l, "help.limited", &[]))
        }
        HelpError::Failed(cause) => {
            tracing::error!(error = %cause, "help center page failed");
            (HttpResponse::ServiceUnavailable(), t(l, "help.limited", &[]))
        }
    };
    let body = format!(
        "<!doctype html><html lang=\"{l}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{text}</title>\
         <link rel=\"stylesheet\" href=\"/help/_/help.css\"></head><body><main class=\"wrap\"><h1>{text}</h1></main></body></html>",
        text = esc(&text)
    );
    response.content_type("text/html; charset=utf-8").body(body)
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' https:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    let (body, kind) = match path.as_str() {
        "help.css" => (include_str!("assets/help.css"), "text/css; charset=utf-8"),
        "help.js" => (include_str!("assets/help.js"), "text/javascript; charset=utf-8"),
        _ => return error_page(HelpError::NotFound, Locale::Es),
    };
    HttpResponse::Ok().content_type(kind).insert_header((header::CACHE_CONTROL, "public, max-age=3600")).body(body)
}

/// Rate limit, then the public knowledge base and the page's locale.
async fn open(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
    locale: Option<&str>,
) -> Result<(KnowledgeBase, Locale)> {
    let ip = crate::api::auth::client_ip(req, state);
    state.public_by_ip.hit(&ip).map_err(HelpError::Limited)?;
    let kb = store::kb::find_by_slug(&state.store.db, slug).await?;
    if kb.visibility != Visibility::Public {
        return Err(HelpError::NotFound);
    }
    let locale = match locale {
        Some(text) => match Locale::ALL.into_iter().find(|l| l.as_str() == text) {
            Some(locale) => locale,
            None => return Err(HelpError::NotFound),
        },
        None => kb.locale,
    };
    Ok((kb, locale))
}

/// The page around `main`, as an HTML response.
fn respond(state: &AppState, page: &Page, main: &str) -> HttpResponse {
    html(page.render(main, state.config.link_prefix()))
}

async fn home_default(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let rendered = async {
        let (kb, locale) = open(&state, &req, &path, None).await?;
        render_home(&state, kb, locale).await
    };
    rendered.await.unwrap_or_else(|e| error_page(e, Locale::Es))
}

async fn home(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (slug, locale) = path.into_inner();
    let rendered = async {
        let (kb, locale) = open(&state, &req, &slug, Some(&locale)).await?;
        render_home(&state, kb, locale).await
    };
    rendered.await.unwrap_or_else(|e| error_page(e, Locale::Es))
}

async fn render_home(state: &AppState, kb: KnowledgeBase, locale: Locale) -> Result<HttpResponse> {
    let l = locale.as_str();
    let categories = store::kb::categories(&state.store.db, kb.id).await?;
    let popular = store::article::popular(&state.store.db, kb.id, locale, 8).await?;
    let mut main = format!("<h1>{}</h1>", esc(&kb.name));
    let top: Vec<_> = categories.iter().filter(|c| c.parent_id.is_none()).collect();
    if !top.is_empty() {
        let _ = write!(
            main,
            "<section aria-labelledby=\"cats\"><h2 id=\"cats\">{}</h2><ul class=\"grid\">",
            esc(&t(l, "help.categories", &[]))
        );
        for category in top {
            let url = format!("{}/categories/{}", home_path(&kb, locale), category.slug.as_str());
            article_card(&mut main, &url, &category.name, &esc(&category.description));
        }
        main.push_str("</ul></section>");
    }
    let _ = write!(
        main,
        "<section aria-labelledby=\"popular\"><h2 id=\"popular\">{}</h2>",
        esc(&t(l, "help.popular", &[]))
    );
    if popular.is_empty() {
        let _ = write!(main, "<p>{}</p>", esc(&t(l, "help.empty", &[])));
    } else {
        main.push_str("<ul class=\"grid\">");
        for a in &popular {
            article_card(&mut main, &article_path(&kb, a.locale, &a.slug), &a.title, &esc(&a.short_answer));
        }
        main.push_str("</ul>");
    }
    main.push_str("</section>");
    let description = format!("{} — {}", kb.name, t(l, "help.title", &[]));
    let page = Page {
        alternates: Locale::ALL.into_iter().map(|loc| (loc, home_path(&kb, loc))).collect(),
        ..Page::new(&kb, locale, t(l, "help.title", &[]), description, home_path(&kb, locale))
    };
    Ok(respond(state, &page, &main))
}

#[derive(Deserialize)]
struct SearchForm {
    #[serde(default)]
    q: String,
}

async fn results(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Query<SearchForm>,
) -> HttpResponse {
    let (slug, locale) = path.into_inner();
    let rendered = async {
        let (kb, locale) = open(&state, &req, &slug, Some(&locale)).await?;
        let l = locale.as_str();
        let q: String = form.q.trim().chars().take(300).collect();
        let hits =
            if q.is_empty() { vec![] } else { run_search(&state, &kb, locale, &q, 20, false, "help_center").await? };
        let mut main = format!("<h1>{}</h1>", esc(&t(l, "help.search.results", &[("q", &q)])));
        if hits.is_empty() {
            let _ = write!(main, "<p>{}</p>", esc(&t(l, "help.search.none", &[("q", &q)])));
        } else {
            let _ = write!(
                main,
                "<p role=\"status\">{}</p><ol class=\"results\">",
                esc(&t(l, "help.search.count", &[("n", &hits.len().to_string())]))
            );
            for hit in &hits {
                let url = format!("{}?q={}", article_path(&kb, hit.locale, &hit.slug), url_encode(&q));
                let _ = write!(
                    main,
                    "<li><h2><a href=\"{}\">{}</a></h2><p>{}</p></li>",
                    esc(&url),
                    esc(&hit.title),
                    hit.snippet
                );
            }
            main.push_str("</ol>");
        }
        let title = t(l, "help.search.results", &[("q", &q)]);
        let path = format!("{}/search", home_path(&kb, locale));
        let page = Page { query: q, noindex: true, ..Page::new(&kb, locale, title, kb.name.clone(), path) };
        Ok(respond(&state, &page, &main))
    };
    rendered.await.unwrap_or_else(|e| error_page(e, Locale::Es))
}

/// Suggestions while typing: the same search with the last word as a prefix.
async fn suggest(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Query<SearchForm>,
) -> HttpResponse {
    let (slug, locale) = path.into_inner();
    let found = async {
        let (kb, locale) = open(&state, &req, &slug, Some(&locale)).await?;
        let q: String = form.q.chars().take(300).collect();
        if q.trim().is_empty() {
            return Ok(serde_json::json!({ "hits": [] }));
        }
        let hits = run_search(&state, &kb, locale, &q, 6, true, "help_center").await?;
        let hits: Vec<_> = hits
            .into_iter()
            .map(|h| serde_json::json!({ "title": h.title, "url": article_path(&kb, h.locale, &h.slug), "snippet": h.snippet }))
            .collect();
        Ok(serde_json::json!({ "hits": hits }))
    };
    match found.await {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(HelpError::Limited(seconds)) => HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, seconds.to_string()))
            .json(serde_json::json!({ "hits": [] })),
        Err(e) => error_page(e, Locale::Es),
    }
}

async fn run_search(
    state: &AppState,
    kb: &KnowledgeBase,
    locale: Locale,
    q: &str,
    limit: usize,
    prefix: bool,
    source: &'static str,
) -> Result<Vec<Hit>> {
    let mut query = search::Query::new(q, vec![kb.id], locale);
    query.locale = Some(locale);
    query.synonyms = kb.synonyms.clone();
    query.limit = limit;
    query.prefix = prefix;
    let hits = state.search.query(&query).await?;
    if !prefix {
        state.search.record(&query, source, &hits);
    }
    Ok(hits)
}

async fn category(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (slug, locale, category_slug) = path.into_inner();
    let rendered = async {
        let (kb, locale) = open(&state, &req, &slug, Some(&locale)).await?;
        let l = locale.as_str();
        let categories = store::kb::categories(&state.store.db, kb.id).await?;
        let category = categories.iter().find(|c| c.slug.as_str() == category_slug).ok_or(HelpError::NotFound)?;
        let ids: Vec<_> = categories
            .iter()
            .filter(|c| c.id == category.id || c.parent_id == Some(category.id))
            .map(|c| c.id)
            .collect();
        let articles = store::article::published_in(&state.store.db, kb.id, locale, &ids).await?;
        let mut main = crumbs(&kb, locale, &[]);
        let _ = write!(main, "<h1>{}</h1>", esc(&category.name));
        if !category.description.is_empty() {
            let _ = write!(main, "<p>{}</p>", esc(&category.description));
        }
        main.push_str("<ul class=\"grid\">");
        for a in &articles {
            article_card(&mut main, &article_path(&kb, a.locale, &a.slug), &a.title, &esc(&a.short_answer));
        }
        main.push_str("</ul>");
        if articles.is_empty() {
            let _ = write!(main, "<p>{}</p>", esc(&t(l, "help.empty", &[])));
        }
        let description =
            if category.description.is_empty() { category.name.clone() } else { category.description.clone() };
        let path = format!("{}/categories/{}", home_path(&kb, locale), category.slug.as_str());
        let page = Page::new(&kb, locale, category.name.clone(), description, path);
        Ok(respond(&state, &page, &main))
    };
    rendered.await.unwrap_or_else(|e| error_page(e, Locale::Es))
}

fn crumbs(kb: &KnowledgeBase, locale: Locale, trail: &[(String, String)]) -> String {
    let l = locale.as_str();
    let mut nav = format!(
        "<nav class=\"crumbs\" aria-label=\"breadcrumb\"><ol><li><a href=\"{}\">{}</a></li>",
        esc(&home_path(kb, locale)),
        esc(&t(l, "help.home", &[]))
    );
    for (url, name) in trail {
        let _ = write!(nav, "<li><a href=\"{}\">{}</a></li>", esc(url), esc(name));
    }
    nav.push_str("</ol></nav>");
    nav
}

#[derive(Deserialize)]
struct ArticleQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    gracias: Option<String>,
}

async fn article(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    query: web::Query<ArticleQuery>,
) -> HttpResponse {
    let (slug, locale, article_slug) = path.into_inner();
    let rendered = async {
        let (kb, locale) = open(&state, &req, &slug, Some(&locale)).await?;
        let article = store::article::find_by_slug(&state.store.db, kb.id, locale, &article_slug).await?;
        if article.status != ArticleStatus::Published {
            return Err(HelpError::NotFound);
        }
        if let Err(e) = store::article::record_view(&state.store.db, article.id).await {
            tracing::warn!(error = %e, "cannot count an article view");
        }
        let related = related(&state, &kb, &article).await.unwrap_or_default();
        let translations = store::article::translations(&state.store.db, &article).await?;
        let main = render_article(&state, &kb, &article, &related, query.q.as_deref(), query.gracias.is_some()).await?;
        let path = article_path(&kb, article.locale, &article.slug);
        let json_ld = serde_json::json!({
            "@context": "https://schema.org",
            "@type": "FAQPage",
            "inLanguage": article.locale.as_str(),
            "mainEntity": [{
                "@type": "Question",
                "name": article.title,
                "acceptedAnswer": { "@type": "Answer", "text": article.short_answer },
            }],
        });
        let description = article.short_answer.chars().take(160).collect();
        let page = Page {
            alternates: translations.iter().map(|a| (a.locale, article_path(&kb, a.locale, &a.slug))).collect(),
            json_ld: Some(json_ld),
            ..Page::new(&kb, locale, article.title.clone(), description, path)
        };
        Ok(respond(&state, &page, &main))
    };
    rendered.await.unwrap_or_else(|e| error_page(e, Locale::Es))
}

/// Other articles found by searching this one's title and keywords.
async fn related(state: &AppState, kb: &KnowledgeBase, article: &Article) -> Result<Vec<Hit>> {
    let text: String = format!("{} {}", article.title, article.keywords.join(" ")).chars().take(300).collect();
    let mut query = search::Query::new(text, vec![kb.id], article.locale);
    query.locale = Some(article.locale);
    query.synonyms = kb.synonyms.clone();
    query.limit = 4;
    query.exclude = Some(article.id);
    Ok(state.search.query(&query).await?.into_iter().filter(|h| h.confidence >= 0.15).collect())
}

async fn render_article(
    state: &AppState,
    kb: &KnowledgeBase,
    article: &Article,
    related: &[Hit],
    q: Option<&str>,
    thanked: bool,
) -> Result<String> {
    let l = article.locale.as_str();
    let mut trail = vec![];
    if let Some(category_id) = article.category_id
        && let Ok(category) = store::kb::get_category(&state.store.db, category_id).await
    {
        let url = format!("{}/categories/{}", home_path(kb, article.locale), category.slug.as_str());
        trail.push((url, category.name));
    }
    let mut main = crumbs(kb, article.locale, &trail);
    let updated = article.updated_at.format("%Y-%m-%d").to_string();
    let _ = write!(
        main,
        "<article class=\"doc\"><h1>{}</h1><p class=\"meta\">{}</p>{}</article>",
        esc(&article.title),
        esc(&t(l, "help.updated", &[("date", &updated)])),
        crate::markdown::to_html(&article.body)
    );
    main.push_str("<section class=\"feedback\" id=\"feedback\">");
    if thanked {
        let _ = write!(main, "<p class=\"notice\" role=\"status\">{}</p>", esc(&t(l, "help.feedback.thanks", &[])));
    } else {
        let action = format!("{}/feedback", article_path(kb, article.locale, &article.slug));
        let _ = write!(
            main,
            "<form method=\"post\" action=\"{action}\"><fieldset><legend>{question}</legend>\
             <input type=\"hidden\" name=\"q\" value=\"{q}\">\
             <label for=\"comment\">{comment}</label><textarea id=\"comment\" name=\"comment\" rows=\"2\" maxlength=\"1000\"></textarea>\
             <button type=\"submit\" name=\"helpful\" value=\"yes\">{yes}</button> \
             <button type=\"submit\" name=\"helpful\" value=\"no\">{no}</button></fieldset></form>",
            action = esc(&action),
            question = esc(&t(l, "help.feedback.question", &[])),
            q = esc(q.unwrap_or_default()),
            comment = esc(&t(l, "help.feedback.comment", &[])),
            yes = esc(&t(l, "help.feedback.yes", &[])),
            no = esc(&t(l, "help.feedback.no", &[])),
        );
    }
    main.push_str("</section>");
    if !related.is_empty() {
        let _ = write!(
            main,
            "<section aria-labelledby=\"related\"><h2 id=\"related\">{}</h2><ul class=\"grid\">",
            esc(&t(l, "help.related", &[]))
        );
        for hit in related {
            article_card(&mut main, &article_path(kb, hit.locale, &hit.slug), &hit.title, &esc(&hit.short_answer));
        }
        main.push_str("</ul></section>");
    }
    Ok(main)
}

#[derive(Deserialize)]
struct FeedbackForm {
    helpful: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    q: String,
}

/// "¿Te fue útil?": stores the answer and goes back to the article.
async fn feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, locale, article_slug) = path.into_inner();
    let done = async {
        let (kb, locale) = open(&state, &req, &slug, Some(&locale)).await?;
        let article = store::article::find_by_slug(&state.store.db, kb.id, locale, &article_slug).await?;
        if article.status != ArticleStatus::Published {
            return Err(HelpError::NotFound);
        }
        let Ok(form) = serde_urlencoded::from_bytes::<FeedbackForm>(&body) else {
            return Ok(HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body("helpful: must be yes or no"));
        };
        let helpful = match form.helpful.as_str() {
            "yes" => true,
            "no" => false,
            _ => {
                return Ok(HttpResponse::BadRequest()
                    .content_type("text/plain; charset=utf-8")
                    .body("helpful: must be yes or no"));
            }
        };
        let ip = crate::api::auth::client_ip(&req, &state);
        state.feedback_by_ip.hit(&ip).map_err(HelpError::Limited)?;
        let clean = |text: &str, max: usize| -> Option<String> {
            let text: String = text.trim().chars().filter(|c| !c.is_control() || *c == '\n').take(max).collect();
            (!text.is_empty()).then_some(text)
        };
        store::kb_analytics::add_feedback(
            &state.store,
            store::kb_analytics::NewFeedback {
                kb_id: kb.id,
                article_id: article.id,
                helpful,
                comment: clean(&form.comment, 1000),
                query: clean(&form.q, 300).map(|q| q.to_lowercase()),
            },
        )
        .await?;
        let back = format!("{}?gracias=1#feedback", article_path(&kb, article.locale, &article.slug));
        Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, back)).finish())
    };
    done.await.unwrap_or_else(|e| error_page(e, Locale::Es))
}

fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}
