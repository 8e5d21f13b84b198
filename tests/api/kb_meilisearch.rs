//! The Meilisearch backend. With `MEILISEARCH_URL` set, against that real
//! server; otherwise against the recorded exchange in
//! tests/fixtures/meilisearch/exchange.json, which checks what the adapter
//! sends: settings (stop words, typo rules, filters), stems as the query,
//! the `frequency` matching strategy, filters, and how it reads answers.

use serde_json::{Value, json};
use ventanilla::domain::kb::Locale;
use ventanilla::domain::{ArticleId, KbId};
use ventanilla::search::meilisearch::MeiliIndex;
use ventanilla::search::{Change, IndexDoc, KbSearch, Query, Search};
use ventanilla_tests::FakeProvider;

fn article() -> anyhow::Result<IndexDoc> {
    Ok(IndexDoc {
        article_id: "00000000-0000-7000-8000-000000000001".parse::<ArticleId>()?,
        kb_id: "00000000-0000-7000-8000-0000000000aa".parse::<KbId>()?,
        unit_id: None,
        category_ids: vec![],
        locale: Locale::Es,
        slug: "becas".into(),
        title: "Becas de excelencia".into(),
        keywords: vec!["beca".into()],
        body_text: "La beca cubre la matrícula.".into(),
        short_answer: "Cubre la matrícula.".into(),
        version: 2,
    })
}

/// Every field of `expected` is in `actual` with the same value (lists
/// element by element).
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|x| contains(x, v))),
        (Value::Array(a), Value::Array(e)) => a.len() == e.len() && a.iter().zip(e).all(|(x, y)| contains(x, y)),
        _ => actual == expected,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_sends_what_meilisearch_needs() -> anyhow::Result<()> {
    let doc = article()?;
    let digest = format!("{:016x}", IndexDoc::digest(doc.article_id, doc.version));
    let real = std::env::var("MEILISEARCH_URL").ok().filter(|u| !u.is_empty());
    let fake = FakeProvider::start().await?;
    let fixture = include_str!("../fixtures/meilisearch/exchange.json").replace("__DIGEST__", &digest);
    let pairs: Vec<Value> = serde_json::from_str::<Value>(&fixture)?["pairs"].as_array().cloned().unwrap_or_default();
    let url = match &real {
        Some(url) => url.clone(),
        None => {
            fake.answer_json(
                pairs
                    .iter()
                    .map(|p| (p["response"]["status"].as_u64().unwrap_or(200) as u16, p["response"]["body"].clone())),
            );
            format!("http://127.0.0.1:{}", fake.port)
        }
    };
    let key = std::env::var("MEILISEARCH_KEY").ok();
    let uid = if real.is_some() {
        format!("ventanilla_test_{}", uuid::Uuid::new_v4().simple())
    } else {
        "ventanilla_articles".into()
    };
    let index = match MeiliIndex::open(&url, key.as_deref(), &uid).await {
        Ok(index) => index,
        Err(e) => anyhow::bail!("{e}: {:#?}", fake.requests()),
    };
    if let Err(e) = index.apply(vec![Change::Upsert(Box::new(doc.clone()))]).await {
        anyhow::bail!("{e}: {:#?}", fake.requests());
    }
    let search = Search::new(std::sync::Arc::new(index));
    let mut query = Query::new("¿Cómo solicito una beca?", vec![doc.kb_id], Locale::Es);
    query.locale = Some(Locale::Es);
    query.limit = 5;
    let hits = match search.query(&query).await {
        Ok(hits) => hits,
        Err(e) => anyhow::bail!("{e}: {:#?}", fake.requests()),
    };
    anyhow::ensure!(hits.len() == 1 && hits[0].article_id == doc.article_id, "{hits:?}");
    anyhow::ensure!(hits[0].snippet.contains("<mark>beca</mark>") && hits[0].confidence > 0.6, "{:?}", hits[0]);
    let fingerprint = search.backend.fingerprint().await?;
    anyhow::ensure!(fingerprint.count == 1 && format!("{:016x}", fingerprint.digest) == digest, "{fingerprint:?}");
    search.backend.apply(vec![Change::Remove(doc.article_id)]).await?;
    if real.is_some() {
        anyhow::ensure!(search.query(&query).await?.is_empty(), "a removed article is gone");
        return Ok(());
    }

    let received = fake.requests();
    // Waiting for a task may poll more than once; the recorded exchange polls once.
    anyhow::ensure!(
        received.len() == pairs.len(),
        "{} requests, {} recorded: {received:#?}",
        received.len(),
        pairs.len()
    );
    for (i, (got, pair)) in received.iter().zip(&pairs).enumerate() {
        let want = &pair["request"];
        anyhow::ensure!(
            got.method == want["method"] && got.path == want["path"],
            "request {i}: {} {} instead of {want}",
            got.method,
            got.path
        );
        if let Some(body) = want.get("body") {
            let sent: Value = serde_json::from_str(&got.body).unwrap_or(Value::Null);
            anyhow::ensure!(contains(&sent, body), "request {i} ({}) sent {sent}\nexpected at least {body}", got.path);
        }
    }
    let settings = received.iter().find(|r| r.method == "PATCH").map(|r| r.body.as_str()).unwrap_or_default();
    let settings: Value = serde_json::from_str(settings)?;
    let stop_words = settings["stopWords"].as_array().cloned().unwrap_or_default();
    for word in ["para", "donde", "como", "the", "voce"] {
        anyhow::ensure!(stop_words.contains(&json!(word)), "stop word {word} not configured");
    }
    anyhow::ensure!(!stop_words.contains(&json!("beca")), "topic words are not stop words");
    Ok(())
}
