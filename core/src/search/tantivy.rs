//! The embedded backend: a Tantivy index in `data_dir/search`.
//!
//! Documents are analysed by [`super::analysis`] before they reach Tantivy,
//! which indexes the words as given (whitespace tokenizer): one field per
//! form (folded, stemmed, truncated) and place (title, keywords, body), so a
//! query can weigh an exact title match above a truncated body match. Each
//! query word is a disjunction-max over those fields, so a word found in six
//! forms does not count six times. Typos are corrected against the index's
//! own vocabulary (a Levenshtein automaton over the term dictionary) and the
//! correction is then scored like any word, by BM25.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, Occur, Query as TQuery, TermQuery,
};
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{RemoveLongFilter, TextAnalyzer, WhitespaceTokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::analysis::{self, Word, language, truncate};
use super::assess::typo_budget;
use super::plan::{Alternative, Group, QueryPlan};
use super::{Change, Error, Fingerprint, Found, IndexDoc, KbSearch, Query, Result};
use crate::domain::kb::Locale;
use crate::domain::{ArticleId, CategoryId, KbId, UnitId};

const TOKENIZER: &str = "words";
/// Field weights: the title counts most, then keywords, then the body.
const TITLE_EXACT: f32 = 3.0;
const TITLE_STEM: f32 = 2.6;
const KEYWORD_EXACT: f32 = 2.4;
const KEYWORD_STEM: f32 = 2.2;
const BODY_EXACT: f32 = 1.0;
const BODY_STEM: f32 = 0.9;
const TRUNCATED: f32 = 0.45;
/// How much of a word's other matching forms adds to its best one.
const TIE_BREAKER: f32 = 0.25;
const TYPO_BOOST: f32 = 0.7;
const PREFIX_BOOST: f32 = 0.8;
const MAX_CORRECTIONS: usize = 3;
const MAX_COMPLETIONS: usize = 12;

pub struct TantivyIndex {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    reader: IndexReader,
    /// Made at the first write: an instance whose articles do not change
    /// keeps no writer threads and arenas (most of the time, all of them).
    writer: Mutex<Option<IndexWriter>>,
    writer_memory_bytes: usize,
    f: Fields,
    /// Typo automata, built the first time a search needs them.
    typo1: std::sync::OnceLock<LevenshteinAutomatonBuilder>,
    typo2: std::sync::OnceLock<LevenshteinAutomatonBuilder>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    kb: Field,
    unit: Field,
    category: Field,
    locale: Field,
    digest: Field,
    version: Field,
    title_x: Field,
    title_s: Field,
    kw_x: Field,
    kw_s: Field,
    body_x: Field,
    body_s: Field,
    all_t: Field,
    title: Field,
    keywords: Field,
    body: Field,
    short_answer: Field,
    slug: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::WithFreqs),
    );
    let stored = TextOptions::default().set_stored();
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kb: b.add_text_field("kb", STRING | STORED),
        unit: b.add_text_field("unit", STRING | STORED),
        category: b.add_text_field("category", STRING | STORED),
        locale: b.add_text_field("locale", STRING | STORED),
        digest: b.add_u64_field("digest", FAST),
        version: b.add_u64_field("version", STORED),
        title_x: b.add_text_field("title_x", words.clone()),
        title_s: b.add_text_field("title_s", words.clone()),
        kw_x: b.add_text_field("kw_x", words.clone()),
        kw_s: b.add_text_field("kw_s", words.clone()),
        body_x: b.add_text_field("body_x", words.clone()),
        body_s: b.add_text_field("body_s", words.clone()),
        all_t: b.add_text_field("all_t", words),
        title: b.add_text_field("title", stored.clone()),
        keywords: b.add_text_field("keywords", stored.clone()),
        body: b.add_text_field("body", stored.clone()),
        short_answer: b.add_text_field("short_answer", stored.clone()),
        slug: b.add_text_field("slug", stored),
    };
    (b.build(), f)
}

fn backend<E: std::fmt::Display>(e: E) -> Error {
    Error::Backend(e.to_string())
}

impl TantivyIndex {
    /// Opens the index at `dir` (in memory when `None`). An index written
    /// with another schema is discarded; the start-up check then rebuilds it.
    pub fn open(dir: Option<&Path>, writer_memory_bytes: usize) -> Result<Self> {
        let (schema, f) = schema();
        let index = match dir {
            None => Index::create_in_ram(schema),
            Some(dir) => open_dir(dir, schema)?,
        };
        let analyzer =
            TextAnalyzer::builder(WhitespaceTokenizer::default()).filter(RemoveLongFilter::limit(100)).build();
        index.tokenizers().register(TOKENIZER, analyzer);
        // Taking the writer once tells at start-up whether another process
        // holds the index; it is made again when something is written.
        drop(index.writer::<TantivyDocument>(writer_memory_bytes).map_err(backend)?);
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(backend)?;
        Ok(TantivyIndex {
            inner: Arc::new(Inner {
                index,
                reader,
                writer: Mutex::new(None),
                writer_memory_bytes,
                f,
                typo1: std::sync::OnceLock::new(),
                typo2: std::sync::OnceLock::new(),
            }),
        })
    }

    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce(&Inner) -> Result<T> + Send + 'static) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner)).await.map_err(backend)?
    }
}

fn open_dir(dir: &Path, schema: Schema) -> Result<Index> {
    crate::private_fs::dir(dir).map_err(backend)?;
    let directory = MmapDirectory::open(dir).map_err(backend)?;
    if Index::exists(&directory).map_err(backend)? {
        let index = Index::open(directory).map_err(backend)?;
        if index.schema() == schema {
            return Ok(index);
        }
        tracing::warn!(dir = %dir.display(), "search index has an older schema; it will be rebuilt");
        std::fs::remove_dir_all(dir).map_err(backend)?;
        crate::private_fs::dir(dir).map_err(backend)?;
    }
    let directory = MmapDirectory::open(dir).map_err(backend)?;
    Index::create(directory, schema, tantivy::IndexSettings::default()).map_err(backend)
}

#[async_trait::async_trait]
impl KbSearch for TantivyIndex {
    fn name(&self) -> &'static str {
        "tantivy"
    }

    async fn search(&self, query: &Query, plan: &QueryPlan) -> Result<Vec<Found>> {
        let (query, plan) = (query.clone(), plan.clone());
        self.blocking(move |inner| inner.search(&query, &plan)).await
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<()> {
        self.blocking(move |inner| {
            let mut held = inner.writer.lock().map_err(backend)?;
            let writer = inner.writer_in(&mut held)?;
            for change in changes {
                match change {
                    Change::Upsert(doc) => {
                        writer.delete_term(Term::from_field_text(inner.f.id, &doc.article_id.to_string()));
                        writer.add_document(inner.document(&doc)).map_err(backend)?;
                    }
                    Change::Remove(id) => {
                        writer.delete_term(Term::from_field_text(inner.f.id, &id.to_string()));
                    }
                }
            }
            writer.commit().map_err(backend)?;
            inner.reader.reload().map_err(backend)
        })
        .await
    }

    async fn replace_all(&self, docs: Vec<IndexDoc>) -> Result<()> {
        self.blocking(move |inner| {
            let mut held = inner.writer.lock().map_err(backend)?;
            let writer = inner.writer_in(&mut held)?;
            writer.delete_all_documents().map_err(backend)?;
            for doc in &docs {
                writer.add_document(inner.document(doc)).map_err(backend)?;
            }
            writer.commit().map_err(backend)?;
            inner.reader.reload().map_err(backend)
        })
        .await
    }

    async fn fingerprint(&self) -> Result<Fingerprint> {
        self.blocking(|inner| {
            let searcher = inner.reader.searcher();
            let mut fingerprint = Fingerprint::default();
            for segment in searcher.segment_readers() {
                let digests = segment.fast_fields().u64("digest").map_err(backend)?;
                for doc in segment.doc_ids_alive() {
                    if let Some(digest) = digests.first(doc) {
                        fingerprint.count += 1;
                        fingerprint.digest ^= digest;
                    }
                }
            }
            Ok(fingerprint)
        })
        .await
    }
}

impl Inner {
    /// The writer, made now if this is the first write.
    fn writer_in<'a>(&self, held: &'a mut Option<IndexWriter>) -> Result<&'a mut IndexWriter> {
        if held.is_none() {
            *held = Some(self.index.writer(self.writer_memory_bytes).map_err(backend)?);
        }
        held.as_mut().ok_or_else(|| Error::Backend("the index writer is missing".into()))
    }

    fn document(&self, doc: &IndexDoc) -> TantivyDocument {
        let f = &self.f;
        let language = language(doc.locale);
        let title = language.words(&doc.title);
        let keywords: Vec<Word> = doc.keywords.iter().flat_map(|k| language.words(k)).collect();
        let body: Vec<Word> =
            language.words(&doc.short_answer).into_iter().chain(language.words(&doc.body_text)).collect();
        let join = |words: &[Word], form: fn(&Word) -> &str| words.iter().map(form).collect::<Vec<_>>().join(" ");
        let mut d = TantivyDocument::default();
        d.add_text(f.id, doc.article_id.to_string());
        d.add_text(f.kb, doc.kb_id.to_string());
        if let Some(unit) = doc.unit_id {
            d.add_text(f.unit, unit.to_string());
        }
        for category in &doc.category_ids {
            d.add_text(f.category, category.to_string());
        }
        d.add_text(f.locale, doc.locale.as_str());
        d.add_u64(f.digest, IndexDoc::digest(doc.article_id, doc.version));
        d.add_u64(f.version, doc.version.max(0) as u64);
        d.add_text(f.title_x, join(&title, |w| &w.folded));
        d.add_text(f.title_s, join(&title, |w| &w.stem));
        d.add_text(f.kw_x, join(&keywords, |w| &w.folded));
        d.add_text(f.kw_s, join(&keywords, |w| &w.stem));
        d.add_text(f.body_x, join(&body, |w| &w.folded));
        d.add_text(f.body_s, join(&body, |w| &w.stem));
        let all: Vec<Word> = title.into_iter().chain(keywords).chain(body).collect();
        d.add_text(f.all_t, join(&all, |w| &w.trunc));
        d.add_text(f.title, &doc.title);
        d.add_text(f.keywords, doc.keywords.join("\n"));
        d.add_text(f.body, &doc.body_text);
        d.add_text(f.short_answer, &doc.short_answer);
        d.add_text(f.slug, &doc.slug);
        d
    }

    fn search(&self, query: &Query, plan: &QueryPlan) -> Result<Vec<Found>> {
        let searcher = self.reader.searcher();
        let f = &self.f;
        let language = language(query.analysis);
        let groups: Vec<(Occur, Box<dyn TQuery>)> =
            plan.groups.iter().map(|g| (Occur::Should, self.group_query(&searcher, language, plan, g))).collect();
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(groups)))];
        let filter = |field: Field, values: Vec<String>| -> (Occur, Box<dyn TQuery>) {
            let any: Vec<(Occur, Box<dyn TQuery>)> =
                values.iter().map(|v| (Occur::Should, term_query(field, v, 1.0))).collect();
            (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(any)), 0.0)))
        };
        clauses.push(filter(f.kb, query.kb_ids.iter().map(KbId::to_string).collect()));
        if let Some(unit) = query.unit_id {
            clauses.push(filter(f.unit, vec![UnitId::to_string(&unit)]));
        }
        if let Some(category) = query.category_id {
            clauses.push(filter(f.category, vec![CategoryId::to_string(&category)]));
        }
        if let Some(locale) = query.locale {
            clauses.push(filter(f.locale, vec![locale.as_str().to_owned()]));
        }
        if let Some(exclude) = query.exclude {
            clauses.push((Occur::MustNot, term_query(f.id, &exclude.to_string(), 1.0)));
        }
        let top = searcher
            .search(&BooleanQuery::new(clauses), &TopDocs::with_limit(query.limit).order_by_score())
            .map_err(backend)?;
        top.into_iter()
            .map(|(score, address)| {
                let stored: TantivyDocument = searcher.doc(address).map_err(backend)?;
                Ok(Found { doc: self.stored(&stored)?, score })
            })
            .collect()
    }

    fn stored(&self, d: &TantivyDocument) -> Result<IndexDoc> {
        let f = &self.f;
        let text = |field: Field| d.get_first(field).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let corrupt = |what: &str| Error::Backend(format!("stored document has no valid {what}"));
        Ok(IndexDoc {
            article_id: text(f.id).parse::<ArticleId>().map_err(|_| corrupt("id"))?,
            kb_id: text(f.kb).parse::<KbId>().map_err(|_| corrupt("kb"))?,
            unit_id: text(f.unit).parse::<UnitId>().ok(),
            category_ids: d
                .get_all(f.category)
                .filter_map(|v| v.as_str().and_then(|s| s.parse::<CategoryId>().ok()))
                .collect(),
            locale: Locale::parse("locale", &text(f.locale)).map_err(|_| corrupt("locale"))?,
            slug: text(f.slug),
            title: text(f.title),
            keywords: text(f.keywords).lines().map(str::to_owned).filter(|k| !k.is_empty()).collect(),
            body_text: text(f.body),
            short_answer: text(f.short_answer),
            version: d.get_first(f.version).and_then(|v| v.as_u64()).unwrap_or_default() as i32,
        })
    }

    /// A group scores its best alternative.
    fn group_query(
        &self,
        searcher: &Searcher,
        language: &analysis::Language,
        plan: &QueryPlan,
        group: &Group,
    ) -> Box<dyn TQuery> {
        let alternatives: Vec<Box<dyn TQuery>> =
            group.alternatives.iter().map(|alt| self.alternative_query(searcher, language, plan, alt)).collect();
        boost(Box::new(DisjunctionMaxQuery::new(alternatives)), group.weight)
    }

    /// An alternative sums its words.
    fn alternative_query(
        &self,
        searcher: &Searcher,
        language: &analysis::Language,
        plan: &QueryPlan,
        alternative: &Alternative,
    ) -> Box<dyn TQuery> {
        let words: Vec<(Occur, Box<dyn TQuery>)> = alternative
            .words
            .iter()
            .map(|word| {
                let mut forms = vec![self.word_query(word, 1.0)];
                if plan.last_word().is_some_and(|last| std::ptr::eq(last, word)) {
                    for completion in self.completions(searcher, &word.folded) {
                        forms.push(self.word_query(&word_from(language, &completion), PREFIX_BOOST));
                    }
                }
                for correction in self.corrections(searcher, word) {
                    forms.push(self.word_query(&word_from(language, &correction), TYPO_BOOST));
                }
                (Occur::Should, Box::new(DisjunctionMaxQuery::new(forms)) as Box<dyn TQuery>)
            })
            .collect();
        boost(Box::new(BooleanQuery::new(words)), alternative.boost)
    }

    /// One word in every field, the best field counting most.
    fn word_query(&self, word: &Word, weight: f32) -> Box<dyn TQuery> {
        let f = &self.f;
        let fields = vec![
            term_query(f.title_x, &word.folded, TITLE_EXACT),
            term_query(f.title_s, &word.stem, TITLE_STEM),
            term_query(f.kw_x, &word.folded, KEYWORD_EXACT),
            term_query(f.kw_s, &word.stem, KEYWORD_STEM),
            term_query(f.body_x, &word.folded, BODY_EXACT),
            term_query(f.body_s, &word.stem, BODY_STEM),
            term_query(f.all_t, &word.trunc, TRUNCATED),
        ];
        boost(Box::new(DisjunctionMaxQuery::with_tie_breaker(fields, TIE_BREAKER)), weight)
    }

    /// Words of the index one or two typos away from a word the index does
    /// not know, most frequent first.
    fn corrections(&self, searcher: &Searcher, word: &Word) -> Vec<String> {
        let budget = typo_budget(&word.folded);
        let numeric = word.folded.chars().all(|c| c.is_ascii_digit());
        if budget == 0 || numeric || self.is_known(searcher, word) {
            return vec![];
        }
        let (automata, distance) = if budget == 1 { (&self.typo1, 1) } else { (&self.typo2, 2) };
        let dfa = automata.get_or_init(|| LevenshteinAutomatonBuilder::new(distance, true)).build_dfa(&word.folded);
        let mut found: HashMap<String, (u8, u64)> = HashMap::new();
        for segment in searcher.segment_readers() {
            for field in [self.f.title_x, self.f.kw_x, self.f.body_x] {
                let Ok(inverted) = segment.inverted_index(field) else { continue };
                let Ok(mut terms) = inverted.terms().search(Automaton(&dfa)).into_stream() else { continue };
                while terms.advance() {
                    let Ok(term) = std::str::from_utf8(terms.key()) else { continue };
                    let distance = match dfa.eval(term) {
                        Distance::Exact(d) => d,
                        Distance::AtLeast(_) => continue,
                    };
                    let entry = found.entry(term.to_owned()).or_insert((distance, 0));
                    entry.1 += u64::from(terms.value().doc_freq);
                }
            }
        }
        let mut ranked: Vec<(String, (u8, u64))> = found.into_iter().collect();
        ranked.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)).then(a.0.cmp(&b.0)));
        ranked.into_iter().take(MAX_CORRECTIONS).map(|(term, _)| term).collect()
    }

    fn is_known(&self, searcher: &Searcher, word: &Word) -> bool {
        let f = &self.f;
        let checks = [
            (f.title_x, &word.folded),
            (f.kw_x, &word.folded),
            (f.body_x, &word.folded),
            (f.title_s, &word.stem),
            (f.body_s, &word.stem),
        ];
        checks.into_iter().any(|(field, text)| searcher.doc_freq(&Term::from_field_text(field, text)).unwrap_or(0) > 0)
    }

    /// Words of titles and bodies that start with `prefix`, most frequent first.
    fn completions(&self, searcher: &Searcher, prefix: &str) -> Vec<String> {
        let mut found: HashMap<String, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            for field in [self.f.title_x, self.f.kw_x, self.f.body_x] {
                let Ok(inverted) = segment.inverted_index(field) else { continue };
                let Ok(mut terms) = inverted.terms().range().ge(prefix.as_bytes()).into_stream() else { continue };
                let mut n = 0;
                while terms.advance() && n < 500 {
                    if !terms.key().starts_with(prefix.as_bytes()) {
                        break;
                    }
                    if let Ok(term) = std::str::from_utf8(terms.key())
                        && term != prefix
                    {
                        *found.entry(term.to_owned()).or_default() += u64::from(terms.value().doc_freq);
                    }
                    n += 1;
                }
            }
        }
        let mut ranked: Vec<(String, u64)> = found.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.into_iter().take(MAX_COMPLETIONS).map(|(term, _)| term).collect()
    }
}

/// A word of the index (already folded) in all its forms.
fn word_from(language: &analysis::Language, folded: &str) -> Word {
    let stem = language.stem(folded);
    Word { trunc: truncate(folded, &stem), stem, folded: folded.to_owned(), filler: false, start: 0, end: 0 }
}

fn term_query(field: Field, text: &str, weight: f32) -> Box<dyn TQuery> {
    boost(Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs)), weight)
}

fn boost(query: Box<dyn TQuery>, weight: f32) -> Box<dyn TQuery> {
    if weight == 1.0 { query } else { Box::new(BoostQuery::new(query, weight)) }
}

/// The Levenshtein DFA as an automaton over the term dictionary.
struct Automaton<'a>(&'a DFA);

impl tantivy_fst::Automaton for Automaton<'_> {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != levenshtein_automata::SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}
