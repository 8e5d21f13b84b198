//! The Meilisearch backend, for operators who run it (and for several
//! instances sharing one index).
//!
//! Out of the box Meilisearch does no stemming and drops query words from
//! the end, where a Spanish question puts its topic. So the adapter sends it
//! what the shared analysis makes: documents carry their words as stems (and
//! six-letter prefixes) beside the original text, queries are sent as the
//! stems of their topic and synonym words, stop words are configured, the
//! matching strategy is `frequency` (rare words count, common ones may be
//! missing), and typos follow the same rule as the embedded backend: one
//! from five letters, two from nine. Attribute order gives the title boost.

use std::time::Duration;

use meilisearch_sdk::client::Client;
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::MatchingStrategies;
use meilisearch_sdk::settings::{MinWordSizeForTypos, Settings, TypoToleranceSettings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};

use super::analysis::{Word, language};
use super::plan::QueryPlan;
use super::{Change, Error, Fingerprint, Found, IndexDoc, KbSearch, Query, Result};
use crate::domain::kb::Locale;
use crate::domain::{ArticleId, CategoryId, KbId, UnitId};

/// How long to wait for Meilisearch to apply a change.
const TASK_TIMEOUT: Duration = Duration::from_secs(30);
const TASK_POLL: Duration = Duration::from_millis(20);
const PAGE: usize = 1000;

pub struct MeiliIndex {
    client: Client,
    index: Index,
}

/// One article as Meilisearch stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Document {
    id: String,
    kb: String,
    unit: Option<String>,
    categories: Vec<String>,
    locale: String,
    slug: String,
    title: String,
    keywords: Vec<String>,
    body: String,
    short_answer: String,
    version: i32,
    /// Hex of [`IndexDoc::digest`]: JSON numbers lose bits past 2^53.
    digest: String,
    /// The analysed words, searched instead of the text (not displayed,
    /// so absent from search answers).
    #[serde(default)]
    title_words: String,
    #[serde(default)]
    keyword_words: String,
    #[serde(default)]
    body_words: String,
    #[serde(default)]
    prefix_words: String,
}

fn backend<E: std::fmt::Display>(e: E) -> Error {
    Error::Backend(format!("meilisearch: {e}"))
}

/// The index settings, from the shared analysis' word lists.
pub fn settings() -> Settings {
    let mut stop_words: Vec<String> = vec![];
    for locale in Locale::ALL {
        stop_words.extend(language(locale).stop_words().map(str::to_owned));
    }
    stop_words.sort();
    stop_words.dedup();
    Settings::new()
        .with_searchable_attributes(["title_words", "keyword_words", "body_words", "prefix_words"])
        .with_filterable_attributes(["id", "kb", "unit", "categories", "locale"])
        .with_displayed_attributes([
            "id",
            "kb",
            "unit",
            "categories",
            "locale",
            "slug",
            "title",
            "keywords",
            "body",
            "short_answer",
            "version",
            "digest",
        ])
        .with_stop_words(stop_words)
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            disable_on_attributes: Some(vec![]),
            disable_on_words: Some(vec![]),
            min_word_size_for_typos: Some(MinWordSizeForTypos { one_typo: Some(5), two_typos: Some(9) }),
            disable_on_numbers: Some(true),
        })
}

impl MeiliIndex {
    /// Connects, creates the index if needed and applies [`settings`].
    pub async fn open(url: &str, key: Option<&str>, uid: &str) -> Result<Self> {
        let client = Client::new(url, key).map_err(backend)?;
        let index = client.index(uid);
        let this = MeiliIndex { client, index };
        let created = this.client.create_index(uid, Some("id")).await.map_err(backend)?;
        // Creating an index that exists fails the task, which is fine here.
        this.wait(created, true).await?;
        let task = this.index.set_settings(&settings()).await.map_err(backend)?;
        this.wait(task, false).await?;
        Ok(this)
    }

    async fn wait(&self, task: TaskInfo, may_fail: bool) -> Result<()> {
        match task.wait_for_completion(&self.client, Some(TASK_POLL), Some(TASK_TIMEOUT)).await.map_err(backend)? {
            Task::Succeeded { .. } => Ok(()),
            Task::Failed { .. } if may_fail => Ok(()),
            Task::Failed { content } => Err(backend(format!("task failed: {:?}", content.error))),
            other => Err(backend(format!("task did not finish: {other:?}"))),
        }
    }

    async fn upsert(&self, docs: &[Document]) -> Result<()> {
        for chunk in docs.chunks(PAGE) {
            let task = self.index.add_or_replace(chunk, Some("id")).await.map_err(backend)?;
            self.wait(task, false).await?;
        }
        Ok(())
    }
}

fn words(words: &[Word], form: fn(&Word) -> &str) -> String {
    words.iter().map(form).collect::<Vec<_>>().join(" ")
}

fn document(doc: &IndexDoc) -> Document {
    let language = language(doc.locale);
    let title = language.words(&doc.title);
    let keywords: Vec<Word> = doc.keywords.iter().flat_map(|k| language.words(k)).collect();
    let body: Vec<Word> = language.words(&doc.short_answer).into_iter().chain(language.words(&doc.body_text)).collect();
    let all: Vec<Word> = title.iter().chain(&keywords).chain(&body).cloned().collect();
    Document {
        id: doc.article_id.to_string(),
        kb: doc.kb_id.to_string(),
        unit: doc.unit_id.map(|u| u.to_string()),
        categories: doc.category_ids.iter().map(CategoryId::to_string).collect(),
        locale: doc.locale.as_str().to_owned(),
        slug: doc.slug.clone(),
        title: doc.title.clone(),
        keywords: doc.keywords.clone(),
        body: doc.body_text.clone(),
        short_answer: doc.short_answer.clone(),
        version: doc.version,
        digest: format!("{:016x}", IndexDoc::digest(doc.article_id, doc.version)),
        title_words: words(&title, |w| &w.stem),
        keyword_words: words(&keywords, |w| &w.stem),
        body_words: words(&body, |w| &w.stem),
        prefix_words: words(&all, |w| &w.trunc),
    }
}

impl TryFrom<Document> for IndexDoc {
    type Error = Error;
    fn try_from(d: Document) -> Result<Self> {
        let corrupt = |what: &str| backend(format!("stored document has no valid {what}"));
        Ok(IndexDoc {
            article_id: d.id.parse::<ArticleId>().map_err(|_| corrupt("id"))?,
            kb_id: d.kb.parse::<KbId>().map_err(|_| corrupt("kb"))?,
            unit_id: d.unit.and_then(|u| u.parse::<UnitId>().ok()),
            category_ids: d.categories.iter().filter_map(|c| c.parse().ok()).collect(),
            locale: Locale::parse("locale", &d.locale).map_err(|_| corrupt("locale"))?,
            slug: d.slug,
            title: d.title,
            keywords: d.keywords,
            body_text: d.body,
            short_answer: d.short_answer,
            version: d.version,
        })
    }
}

/// The query Meilisearch gets: the stems of every word of every alternative
/// (synonyms included), each once.
pub fn query_text(plan: &QueryPlan) -> String {
    let mut stems: Vec<&str> = vec![];
    for word in plan.words() {
        if !stems.contains(&word.stem.as_str()) {
            stems.push(&word.stem);
        }
    }
    stems.join(" ")
}

/// The filter expression for a query's knowledge bases, unit, category and locale.
pub fn filter(query: &Query) -> String {
    let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let kbs: Vec<String> = query.kb_ids.iter().map(|k| quote(&k.to_string())).collect();
    let mut parts = vec![format!("kb IN [{}]", kbs.join(", "))];
    if let Some(unit) = query.unit_id {
        parts.push(format!("unit = {}", quote(&unit.to_string())));
    }
    if let Some(category) = query.category_id {
        parts.push(format!("categories = {}", quote(&category.to_string())));
    }
    if let Some(locale) = query.locale {
        parts.push(format!("locale = {}", quote(locale.as_str())));
    }
    if let Some(exclude) = query.exclude {
        parts.push(format!("id != {}", quote(&exclude.to_string())));
    }
    parts.join(" AND ")
}

#[async_trait::async_trait]
impl KbSearch for MeiliIndex {
    fn name(&self) -> &'static str {
        "meilisearch"
    }

    async fn search(&self, query: &Query, plan: &QueryPlan) -> Result<Vec<Found>> {
        let text = query_text(plan);
        let filter = filter(query);
        let results = self
            .index
            .search()
            .with_query(&text)
            .with_filter(&filter)
            .with_limit(query.limit)
            .with_matching_strategy(MatchingStrategies::FREQUENCY)
            .with_show_ranking_score(true)
            .execute::<Document>()
            .await
            .map_err(backend)?;
        results
            .hits
            .into_iter()
            .map(|hit| Ok(Found { score: hit.ranking_score.unwrap_or_default() as f32, doc: hit.result.try_into()? }))
            .collect()
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<()> {
        let mut upserts = vec![];
        let mut removals = vec![];
        for change in changes {
            match change {
                Change::Upsert(doc) => upserts.push(document(&doc)),
                Change::Remove(id) => removals.push(id.to_string()),
            }
        }
        self.upsert(&upserts).await?;
        if !removals.is_empty() {
            let task = self.index.delete_documents(&removals).await.map_err(backend)?;
            self.wait(task, false).await?;
        }
        Ok(())
    }

    async fn replace_all(&self, docs: Vec<IndexDoc>) -> Result<()> {
        let task = self.index.delete_all_documents().await.map_err(backend)?;
        self.wait(task, false).await?;
        let docs: Vec<Document> = docs.iter().map(document).collect();
        self.upsert(&docs).await
    }

    async fn fingerprint(&self) -> Result<Fingerprint> {
        #[derive(Deserialize)]
        struct Digest {
            digest: String,
        }
        let mut fingerprint = Fingerprint::default();
        let mut offset = 0;
        loop {
            let page = meilisearch_sdk::documents::DocumentsQuery::new(&self.index)
                .with_offset(offset)
                .with_limit(PAGE)
                .with_fields(["digest"])
                .execute::<Digest>()
                .await
                .map_err(backend)?;
            for doc in &page.results {
                let digest = u64::from_str_radix(&doc.digest, 16).map_err(backend)?;
                fingerprint.count += 1;
                fingerprint.digest ^= digest;
            }
            offset += page.results.len();
            if page.results.len() < PAGE {
                break;
            }
        }
        Ok(fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_sent_as_stems_with_synonyms() {
        let synonyms = vec![vec!["beca".to_owned(), "ayuda económica".to_owned()]];
        let plan = QueryPlan::new(language(Locale::Es), "¿Dónde pido ayuda económica para estudiar?", &synonyms, false);
        assert_eq!(query_text(&plan), "pid ayud econom bec estudi");
    }

    #[test]
    fn filters_quote_every_value() {
        let kb = KbId::new();
        let mut query = Query::new("x", vec![kb], Locale::Es);
        query.locale = Some(Locale::Pt);
        assert_eq!(filter(&query), format!("kb IN [\"{kb}\"] AND locale = \"pt\""));
    }
}
