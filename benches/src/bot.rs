//! `ventanilla-bench bot`: the FAQ bot's figures with the real plugin,
//! host, job workers and search (SQLite, embedded index). Each evaluation
//! query opens a web-chat conversation with the bot:
//!
//! - accuracy: what the bot did with the query, as it reported it
//!   (`outcomes.report`): answered with the right article, with a wrong
//!   one, offered options or asked to rephrase, handed off;
//! - latency: from the person's message committed to the bot's reply
//!   committed with its delivery job (queued for sending), both as stored;
//! - throughput: a burst of conversations at once, bot replies per second.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{ms, pct};
use ventanilla::domain::kb::{ArticleStatus, Locale, NewArticle, NewKnowledgeBase, Theme, Visibility};
use ventanilla::domain::{Actor, AuthorKind, CaseId, CaseStatus, Channel, Slug, UnitId, message::NewMessage};
use ventanilla::search::eval::EvalSet;
use ventanilla::store;

/// What to measure.
pub struct Options {
    /// faq_bot.wasm, built for wasm32-wasip2 in release mode.
    pub wasm: PathBuf,
    pub manifest: PathBuf,
    /// The knowledge base's evaluation set.
    pub eval: PathBuf,
    /// Conversations opened at once for the throughput figure.
    pub burst: usize,
    pub work_dir: PathBuf,
}

/// Where `--wasm` and `--manifest` default to, from the workspace root.
pub fn default_paths() -> (PathBuf, PathBuf) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    (Path::new(&target).join("wasm32-wasip2/release/faq_bot.wasm"), PathBuf::from("plugins/faq-bot/plugin.toml"))
}

pub async fn run(options: &Options) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(&options.eval).with_context(|| format!("cannot read {}", options.eval.display()))?;
    let set = EvalSet::parse(&text).context("the evaluation set does not parse")?;
    let dir = options.work_dir.join(format!("bot-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    let config = ventanilla::config::Config { data_dir: dir.clone(), ..Default::default() };
    let workers = config.http.job_workers;
    let store = ventanilla::app::open_store(&config).await?;
    let state = actix_web::web::Data::new(ventanilla::app::state(config, store).await?);
    ventanilla::jobs::spawn(state.services.clone(), workers);

    let articles = knowledge_base(&state, &set).await?;
    let unit = super::unit(&state, super::always_open()).await?;
    let manifest = std::fs::read_to_string(&options.manifest)
        .with_context(|| format!("cannot read {}", options.manifest.display()))?;
    let settings = serde_json::json!({"bot_name": "Vale"});
    super::install_plugin(&state, &options.wasm, manifest, settings, unit).await?;

    let mut out = String::new();
    // One conversation at a time: accuracy and latency.
    let mut tally: HashMap<&str, usize> = HashMap::new();
    let mut latencies = vec![];
    let mut n = 0;
    for article in &set.articles {
        for query in &article.queries {
            let case = open_conversation(&state.store, unit, query, n).await?;
            n += 1;
            let (latency, outcome) = answered(&state.store, case).await?;
            latencies.push(latency);
            let verdict = match (outcome.outcome.as_str(), outcome.article_id) {
                ("answered", Some(id)) if articles.get(&article.id) == Some(&id) => "right",
                ("answered", _) => "wrong",
                ("handed_off", _) => "handed_off",
                _ => "options_or_rephrase",
            };
            *tally.entry(verdict).or_default() += 1;
        }
    }
    latencies.sort();
    let share = |k: &str| {
        let v = tally.get(k).copied().unwrap_or(0);
        format!("{v} ({:.0}%)", 100.0 * v as f64 / n.max(1) as f64)
    };
    writeln!(out, "FAQ bot on the evaluation set ({} articles, {n} queries, default threshold):", set.articles.len())?;
    writeln!(
        out,
        "  answered with the right article {}, a wrong article {}, offered options or asked to rephrase {}, handed off {}",
        share("right"),
        share("wrong"),
        share("options_or_rephrase"),
        share("handed_off")
    )?;
    writeln!(
        out,
        "  message to reply queued for sending, one conversation at a time: p50 {:.1} ms, p99 {:.1} ms",
        ms(pct(&latencies, 0.5)),
        ms(pct(&latencies, 0.99))
    )?;

    // A burst: many conversations at once.
    let queries: Vec<&String> = set.articles.iter().flat_map(|a| a.queries.iter()).collect();
    let started = Instant::now();
    let mut cases = Vec::with_capacity(options.burst);
    for i in 0..options.burst {
        cases.push(open_conversation(&state.store, unit, queries[i % queries.len()], n + i).await?);
    }
    let mut burst = vec![];
    for case in cases {
        burst.push(answered(&state.store, case).await?.0);
    }
    let elapsed = started.elapsed();
    burst.sort();
    writeln!(
        out,
        "  {} conversations at once ({workers} job workers, {} cores): all answered in {:.2} s, {:.0} bot replies/s; \
         message to reply queued p50 {:.1} ms, p99 {:.1} ms",
        options.burst,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        elapsed.as_secs_f64(),
        options.burst as f64 / elapsed.as_secs_f64(),
        ms(pct(&burst, 0.5)),
        ms(pct(&burst, 0.99))
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// Publishes the evaluation set's articles and waits until each is found;
/// returns the stored id of each evaluation article.
async fn knowledge_base(
    state: &ventanilla::api::AppState,
    set: &EvalSet,
) -> anyhow::Result<HashMap<String, uuid::Uuid>> {
    let kb = store::kb::create(
        &state.store,
        &Actor::System,
        NewKnowledgeBase {
            unit_id: None,
            slug: Slug::parse("slug", "faq")?,
            name: "Preguntas frecuentes".into(),
            locale: Locale::Es,
            visibility: Visibility::Public,
            theme: Theme::default(),
            synonyms: set.synonyms.clone(),
        },
    )
    .await?;
    let mut ids = HashMap::new();
    for article in &set.articles {
        let new = NewArticle {
            category_id: None,
            translation_of: None,
            locale: Locale::Es,
            title: article.title.clone(),
            body: article.body.clone(),
            short_answer: article.short_answer.clone(),
            keywords: article.keywords.clone(),
            status: ArticleStatus::Published,
        };
        let stored = store::article::create(&state.store, &Actor::System, &kb, new).await?;
        ids.insert(article.id.clone(), stored.id.0);
    }
    let started = Instant::now();
    while store::job::pending_count(&state.store.db).await? > 0 {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "the articles were never indexed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(ids)
}

/// A new web-chat conversation with the bot, opened by `text`.
async fn open_conversation(store: &store::Store, unit: UnitId, text: &str, k: usize) -> anyhow::Result<CaseId> {
    let actor = Actor::System;
    let contact = store::contact::create(
        store,
        &actor,
        &store::contact::Visibility::All,
        ventanilla::domain::contact::NewContact {
            name: None,
            identities: vec![(Channel::Webchat, format!("bench-visitor-{k}"))],
            ..Default::default()
        },
    )
    .await?;
    let new = ventanilla::domain::case::NewCase {
        subject: text.chars().take(80).collect(),
        channel: Channel::Webchat,
        contact_id: contact.id,
        unit_id: unit,
        status: CaseStatus::Bot,
        assignee_id: None,
        priority: ventanilla::domain::Priority::Normal,
        tags: vec![],
        custom_fields: Default::default(),
        channel_install_id: None,
    };
    let first = NewMessage::text(AuthorKind::Contact, text.to_owned());
    Ok(store::case::create(store, &actor, new, Some(first)).await?.id)
}

/// Waits for the bot's turn on a conversation: the time from the person's
/// message to the bot's first reply (as stored), and what the bot reported.
async fn answered(store: &store::Store, case: CaseId) -> anyhow::Result<(Duration, store::bot_outcome::BotOutcome)> {
    use store::message::entity as message;
    let started = Instant::now();
    loop {
        let outcome = store::bot_outcome::entity::Entity::find_by_id(case.0).one(&store.db).await?;
        let messages = message::Entity::find().filter(message::Column::CaseId.eq(case.0)).all(&store.db).await?;
        let asked = messages.iter().find(|m| m.author_kind == AuthorKind::Contact.as_str()).map(|m| m.created_at);
        let replied = messages.iter().find(|m| m.author_kind == AuthorKind::Bot.as_str()).map(|m| m.created_at);
        if let (Some(outcome), Some(asked), Some(replied)) = (outcome, asked, replied) {
            return Ok(((replied - asked).to_std().unwrap_or_default(), outcome));
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the bot never answered case {case}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
