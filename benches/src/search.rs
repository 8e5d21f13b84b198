//! `ventanilla-bench search`: knowledge-base search figures in one run —
//! accuracy on the evaluation set, indexing throughput and query latency at
//! several corpus sizes, and publish-to-searchable latency through the real
//! store, job worker and index.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ms, pct};

use anyhow::Context;

use ventanilla::domain::kb::{ArticleStatus, Locale, NewArticle, NewKnowledgeBase, Theme, Visibility};
use ventanilla::domain::{Actor, KbId, Slug};
use ventanilla::search::eval::{self, EvalSet};
use ventanilla::search::tantivy::TantivyIndex;
use ventanilla::search::{KbSearch, Query, Search};

const WRITER_MEMORY: usize = 64 << 20;

pub async fn run(eval_path: &Path, sizes: &[usize], publishes: usize, work_dir: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(eval_path).with_context(|| format!("cannot read {}", eval_path.display()))?;
    let set = EvalSet::parse(&text).context("the evaluation set does not parse")?;
    let mut out = String::new();

    let kb = KbId::new();
    let search = Search::new(Arc::new(TantivyIndex::open(None, WRITER_MEMORY)?));
    search.backend.replace_all(eval::documents(&set, kb)).await?;
    let accuracy = eval::accuracy(&search, &set, kb).await?;
    writeln!(out, "evaluation set: {} articles, {} queries", set.articles.len(), set.n_queries())?;
    writeln!(out, "  tantivy:          {accuracy}")?;
    writeln!(out, "  keyword baseline: {}", eval::keyword_baseline(&set))?;

    let queries: Vec<&String> = set.articles.iter().flat_map(|a| a.queries.iter()).collect();
    for &n in sizes {
        let dir = work_dir.join(format!("search-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        let index = TantivyIndex::open(Some(&dir), WRITER_MEMORY)?;
        let docs = eval::generated_corpus(&set, kb, n);
        let started = Instant::now();
        index.replace_all(docs).await?;
        let indexing = started.elapsed();
        let search = Search::new(Arc::new(index));
        let mut samples = Vec::with_capacity(queries.len() * 3);
        for round in 0..3 {
            for text in &queries {
                let mut query = Query::new((*text).clone(), vec![kb], Locale::Es);
                query.synonyms = set.synonyms.clone();
                query.prefix = round == 2;
                let started = Instant::now();
                std::hint::black_box(search.query(&query).await?);
                samples.push(started.elapsed());
            }
        }
        samples.sort();
        writeln!(
            out,
            "{n} articles: indexed in {:.2} s ({:.0} articles/s); search p50 {:.2} ms, p99 {:.2} ms over {} queries",
            indexing.as_secs_f64(),
            n as f64 / indexing.as_secs_f64(),
            ms(pct(&samples, 0.5)),
            ms(pct(&samples, 0.99)),
            samples.len()
        )?;
        let _ = std::fs::remove_dir_all(&dir);
    }

    if publishes > 0 {
        let latencies = publish_to_searchable(&set, publishes, &work_dir.join("publish")).await?;
        writeln!(
            out,
            "publish to searchable (SQLite, job worker, tantivy on disk), {} articles: p50 {:.1} ms, p99 {:.1} ms",
            latencies.len(),
            ms(pct(&latencies, 0.5)),
            ms(pct(&latencies, 0.99))
        )?;
    }
    Ok(out)
}

/// Publishes articles one by one through the store (which writes the index
/// job) and times until a search finds each.
async fn publish_to_searchable(set: &EvalSet, n: usize, dir: &Path) -> anyhow::Result<Vec<Duration>> {
    let _ = std::fs::remove_dir_all(dir);
    let config = ventanilla::config::Config { data_dir: dir.to_owned(), ..Default::default() };
    let store = ventanilla::app::open_store(&config).await?;
    let state = actix_web::web::Data::new(ventanilla::app::state(config, store).await?);
    ventanilla::jobs::spawn(state.services.clone(), state.config.http.job_workers);
    let kb = ventanilla::store::kb::create(
        &state.store,
        &Actor::System,
        NewKnowledgeBase {
            unit_id: None,
            slug: Slug::parse("slug", "bench")?,
            name: "Bench".into(),
            locale: Locale::Es,
            visibility: Visibility::Public,
            theme: Theme::default(),
            synonyms: vec![],
        },
    )
    .await?;
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let base = &set.articles[i % set.articles.len()];
        // A word no other article has, so the search finds exactly this one.
        let marker = format!("marcador{i}x");
        let new = NewArticle {
            category_id: None,
            translation_of: None,
            locale: Locale::Es,
            title: format!("{} {marker}", base.title),
            body: base.body.clone(),
            short_answer: base.short_answer.clone(),
            keywords: base.keywords.clone(),
            status: ArticleStatus::Published,
        };
        let started = Instant::now();
        ventanilla::store::article::create(&state.store, &Actor::System, &kb, new).await?;
        let query = Query::new(marker, vec![kb.id], Locale::Es);
        loop {
            if !state.search.query(&query).await?.is_empty() {
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "article {i} never became searchable");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    Ok(latencies)
}
