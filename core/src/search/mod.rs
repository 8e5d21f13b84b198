//! Knowledge-base search: the one [`Search`] service behind the REST API, the
//! help center, the agent console and the plugins' `kb.search` import.
//!
//! A backend ([`KbSearch`]: embedded Tantivy or Meilisearch) finds and ranks
//! published articles. Everything a person or a bot sees on top of the
//! ranking (the confidence of each hit and its highlighted snippet) is
//! computed here from the article's text with the shared [`analysis`], so both
//! backends answer alike. The index is derived data: the database is the
//! truth, [`sync`] brings the index up to date from it, and a start-up check
//! rebuilds it when the two disagree.

pub mod analysis;
pub mod assess;
pub mod eval;
pub mod meilisearch;
pub mod plan;
pub mod sync;
pub mod tantivy;

use std::sync::Arc;

use sha2::Digest;

use crate::domain::kb::{Locale, SynonymGroup};
use crate::domain::{ArticleId, CategoryId, KbId, UnitId};
use crate::store::kb_analytics::SearchEntry;
use assess::ArticleWords;
use plan::QueryPlan;

/// Errors of the search layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend failed; the cause is logged, the caller may retry.
    #[error("search backend: {0}")]
    Backend(String),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the index holds of one published article.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDoc {
    pub article_id: ArticleId,
    pub kb_id: KbId,
    pub unit_id: Option<UnitId>,
    /// The article's category and that category's parent.
    pub category_ids: Vec<CategoryId>,
    pub locale: Locale,
    pub slug: String,
    pub title: String,
    pub keywords: Vec<String>,
    /// The body as plain text (Markdown removed).
    pub body_text: String,
    pub short_answer: String,
    pub version: i32,
}

impl IndexDoc {
    /// A stable hash of the article and its version; the XOR over every
    /// document fingerprints an index.
    pub fn digest(article_id: ArticleId, version: i32) -> u64 {
        let mut hash = sha2::Sha256::new();
        hash.update(article_id.0.as_bytes());
        hash.update(version.to_be_bytes());
        let bytes = hash.finalize();
        u64::from_be_bytes(bytes[..8].try_into().unwrap_or_default())
    }
}

/// How many documents an index holds and the XOR of their digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fingerprint {
    pub count: u64,
    pub digest: u64,
}

impl Fingerprint {
    pub fn add(&mut self, article_id: ArticleId, version: i32) {
        self.count += 1;
        self.digest ^= IndexDoc::digest(article_id, version);
    }
}

/// A change to apply to the index.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert(Box<IndexDoc>),
    Remove(ArticleId),
}

/// A search as a surface asks it.
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    /// Knowledge bases to search; never empty.
    pub kb_ids: Vec<KbId>,
    pub unit_id: Option<UnitId>,
    /// A category; its subcategories are included.
    pub category_id: Option<CategoryId>,
    /// Only articles in this locale.
    pub locale: Option<Locale>,
    /// The language the query is analysed in.
    pub analysis: Locale,
    pub synonyms: Vec<SynonymGroup>,
    pub limit: usize,
    /// The last word may be unfinished (suggestions while typing).
    pub prefix: bool,
    /// Leave this article out (related articles).
    pub exclude: Option<ArticleId>,
}

impl Query {
    pub fn new(text: impl Into<String>, kb_ids: Vec<KbId>, analysis: Locale) -> Self {
        Query {
            text: text.into(),
            kb_ids,
            unit_id: None,
            category_id: None,
            locale: None,
            analysis,
            synonyms: vec![],
            limit: 10,
            prefix: false,
            exclude: None,
        }
    }
}

/// An article a backend found, with its raw score.
#[derive(Debug, Clone)]
pub struct Found {
    pub doc: IndexDoc,
    pub score: f32,
}

/// One search result as every surface shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub article_id: ArticleId,
    pub kb_id: KbId,
    pub locale: Locale,
    pub slug: String,
    pub title: String,
    pub short_answer: String,
    /// HTML: escaped text with the query's words in `<mark>`.
    pub snippet: String,
    /// The backend's ranking score; only its order means something.
    pub score: f32,
    /// 0.0 to 1.0: how much of the query the article covers.
    pub confidence: f32,
}

/// A search backend. Implementations rank; [`Search`] does the rest.
#[async_trait::async_trait]
pub trait KbSearch: Send + Sync {
    /// `tantivy` or `meilisearch`.
    fn name(&self) -> &'static str;
    /// Published articles matching `plan` within the query's filters, best first.
    async fn search(&self, query: &Query, plan: &QueryPlan) -> Result<Vec<Found>>;
    /// Applies changes and makes them visible to the next search.
    async fn apply(&self, changes: Vec<Change>) -> Result<()>;
    /// Replaces everything the index holds with `docs`.
    async fn replace_all(&self, docs: Vec<IndexDoc>) -> Result<()>;
    async fn fingerprint(&self) -> Result<Fingerprint>;
}

/// The search service: a backend plus the shared query analysis and assessment.
pub struct Search {
    pub backend: Arc<dyn KbSearch>,
    /// Index changes are read from the database and applied one batch at a
    /// time, so an older state can never overwrite a newer one.
    sync_lock: tokio::sync::Mutex<()>,
    /// Searches on their way to the analytics table.
    log: std::sync::OnceLock<tokio::sync::mpsc::Sender<SearchEntry>>,
}

/// Searches waiting to be written; beyond this, new ones are dropped rather
/// than slowing searches down.
const LOG_QUEUE: usize = 10_000;

impl Search {
    pub fn new(backend: Arc<dyn KbSearch>) -> Self {
        Search { backend, sync_lock: tokio::sync::Mutex::new(()), log: std::sync::OnceLock::new() }
    }

    /// Starts writing recorded searches to the database, in batches at most
    /// a second apart. A crash loses at most that second of analytics.
    pub fn start_log(&self, store: crate::store::Store) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<SearchEntry>(LOG_QUEUE);
        if self.log.set(tx).is_err() {
            return;
        }
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                let until = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
                while batch.len() < 500 {
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(entry)) => batch.push(entry),
                        Ok(None) | Err(_) => break,
                    }
                }
                if let Err(e) = crate::store::kb_analytics::log_searches(&store, batch).await {
                    tracing::warn!(error = %e, "cannot record searches for analytics");
                }
            }
        });
    }

    /// Records a search for the analytics of each knowledge base it covered.
    pub fn record(&self, query: &Query, source: &'static str, hits: &[Hit]) {
        let Some(log) = self.log.get() else { return };
        for kb in &query.kb_ids {
            let mine: Vec<&Hit> = hits.iter().filter(|h| h.kb_id == *kb).collect();
            let entry = SearchEntry {
                kb_id: *kb,
                query: query.text.trim().to_lowercase(),
                locale: query.locale.map(|l| l.as_str().to_owned()),
                source,
                n_hits: mine.len(),
                top_article_id: mine.first().map(|h| h.article_id),
                top_confidence: mine.first().map(|h| h.confidence),
                at: crate::store::now(),
            };
            let _ = log.try_send(entry);
        }
    }

    /// Runs a search; no hits for a query without a meaningful word.
    pub async fn query(&self, query: &Query) -> Result<Vec<Hit>> {
        let language = analysis::language(query.analysis);
        let plan = QueryPlan::new(language, &query.text, &query.synonyms, query.prefix);
        if plan.is_empty() || query.kb_ids.is_empty() || query.limit == 0 {
            return Ok(vec![]);
        }
        let found = self.backend.search(query, &plan).await?;
        Ok(found.into_iter().map(|f| assess_hit(&plan, f)).collect())
    }
}

/// Confidence and snippet for one found article, from its own text in its own language.
fn assess_hit(plan: &QueryPlan, found: Found) -> Hit {
    let doc = found.doc;
    let language = analysis::language(doc.locale);
    let keywords = doc.keywords.join(" ");
    let heading = ArticleWords::new(language.words(&doc.title).into_iter().chain(language.words(&keywords)));
    let all = ArticleWords::new(
        [doc.title.as_str(), &keywords, &doc.short_answer, &doc.body_text].into_iter().flat_map(|t| language.words(t)),
    );
    let confidence = assess::confidence(plan, &heading, &all);
    let text = if doc.body_text.trim().is_empty() { &doc.short_answer } else { &doc.body_text };
    let snippet = assess::snippet(language, plan, text);
    Hit {
        article_id: doc.article_id,
        kb_id: doc.kb_id,
        locale: doc.locale,
        slug: doc.slug,
        title: doc.title,
        short_answer: doc.short_answer,
        snippet,
        score: found.score,
        confidence,
    }
}
