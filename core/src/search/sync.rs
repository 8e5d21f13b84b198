//! Keeps the index equal to the published articles in the database.
//!
//! Changes reach the index through `kb.index` jobs written with the change;
//! [`Search::sync`] reads the articles' current state while holding the
//! sync lock, so whatever order jobs run in, the last one applied carries
//! the newest state. [`Search::rebuild`] starts over from the database, and
//! [`Search::check`] compares fingerprints at start-up.

use super::{Change, Fingerprint, IndexDoc, Result, Search};
use crate::domain::ArticleId;
use crate::domain::kb::Article;
use crate::store::{self, Store, article::IndexContext};

/// Articles per batch when rebuilding.
const REBUILD_BATCH: u64 = 1000;

/// What the index holds of an article.
pub fn index_doc(article: Article, context: IndexContext) -> IndexDoc {
    IndexDoc {
        article_id: article.id,
        kb_id: article.kb_id,
        unit_id: context.unit_id,
        category_ids: context.category_ids,
        locale: article.locale,
        slug: article.slug,
        title: article.title,
        keywords: article.keywords,
        body_text: crate::markdown::to_text(&article.body),
        short_answer: article.short_answer,
        version: article.version,
    }
}

/// What a rebuild or check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub documents: u64,
    pub rebuilt: bool,
}

impl Search {
    /// Brings these articles up to date in the index.
    pub async fn sync(&self, store: &Store, ids: &[ArticleId]) -> Result<()> {
        let _order = self.sync_lock.lock().await;
        let current = store::article::for_index(&store.db, ids).await?;
        let changes = current
            .into_iter()
            .map(|(id, state)| match state {
                Some((article, context)) => Change::Upsert(Box::new(index_doc(article, context))),
                None => Change::Remove(id),
            })
            .collect();
        self.backend.apply(changes).await
    }

    /// Replaces the whole index with the published articles.
    pub async fn rebuild(&self, store: &Store) -> Result<Report> {
        let _order = self.sync_lock.lock().await;
        self.rebuild_locked(store).await
    }

    async fn rebuild_locked(&self, store: &Store) -> Result<Report> {
        let mut docs = vec![];
        let mut after = None;
        loop {
            let batch = store::article::published_batch(&store.db, after, REBUILD_BATCH).await?;
            let Some((last, _)) = batch.last() else { break };
            after = Some(last.id);
            let full = batch.len() as u64 == REBUILD_BATCH;
            docs.extend(batch.into_iter().map(|(a, c)| index_doc(a, c)));
            if !full {
                break;
            }
        }
        let documents = docs.len() as u64;
        self.backend.replace_all(docs).await?;
        tracing::info!(backend = self.backend.name(), documents, "search index rebuilt");
        Ok(Report { documents, rebuilt: true })
    }

    /// Rebuilds the index when it does not hold exactly the published articles.
    pub async fn check(&self, store: &Store) -> Result<Report> {
        let _order = self.sync_lock.lock().await;
        let expected = {
            let mut fingerprint = Fingerprint::default();
            for (id, version) in store::article::published_versions(&store.db).await? {
                fingerprint.add(id, version);
            }
            fingerprint
        };
        let actual = self.backend.fingerprint().await?;
        if actual == expected {
            return Ok(Report { documents: actual.count, rebuilt: false });
        }
        tracing::warn!(
            expected = expected.count,
            indexed = actual.count,
            "search index differs from the database; rebuilding"
        );
        self.rebuild_locked(store).await
    }
}

/// Runs a `kb.index` job: `{"articles": [ids]}`.
pub async fn handle(search: &Search, store: &store::Store, job: &store::job::Job) -> crate::store::job::Outcome {
    use crate::store::job::Outcome;
    let ids: Vec<ArticleId> = match job.payload.get("articles").cloned().map(serde_json::from_value) {
        Some(Ok(ids)) => ids,
        _ => return Outcome::Dead("payload has no `articles` list".into()),
    };
    match search.sync(store, &ids).await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}
