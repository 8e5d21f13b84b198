//! The evaluation set (`tests/data/kb_eval_es.json`): FAQ articles with the
//! ways people really ask for them, the accuracy of a ranking on it, the
//! plain keyword-matching baseline, and a generated corpus for benchmarks.

use std::collections::HashSet;

use serde::Deserialize;

use super::{IndexDoc, Query, Search};
use crate::domain::kb::{Locale, SynonymGroup};
use crate::domain::{ArticleId, KbId};

#[derive(Debug, Clone, Deserialize)]
pub struct EvalSet {
    pub synonyms: Vec<SynonymGroup>,
    pub articles: Vec<EvalArticle>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EvalArticle {
    pub id: String,
    pub category: String,
    pub title: String,
    pub keywords: Vec<String>,
    pub short_answer: String,
    /// Markdown.
    pub body: String,
    pub queries: Vec<String>,
}

impl EvalSet {
    pub fn parse(json: &str) -> serde_json::Result<Self> {
        serde_json::from_str(json)
    }

    pub fn n_queries(&self) -> usize {
        self.articles.iter().map(|a| a.queries.len()).sum()
    }
}

/// How often the expected article came first, or in the first three.
#[derive(Debug, Clone, Default)]
pub struct Accuracy {
    pub queries: usize,
    pub top1: usize,
    pub top3: usize,
    /// (query, expected article, article ranked first) for every top-1 miss.
    pub misses: Vec<(String, String, Option<String>)>,
}

impl Accuracy {
    /// Scores one query given the ranked article ids.
    pub fn record(&mut self, query: &str, expected: &str, ranked: &[String]) {
        self.queries += 1;
        if ranked.first().is_some_and(|r| r == expected) {
            self.top1 += 1;
        } else {
            self.misses.push((query.to_owned(), expected.to_owned(), ranked.first().cloned()));
        }
        if ranked.iter().take(3).any(|r| r == expected) {
            self.top3 += 1;
        }
    }

    pub fn top1_rate(&self) -> f64 {
        self.top1 as f64 / self.queries.max(1) as f64
    }

    pub fn top3_rate(&self) -> f64 {
        self.top3 as f64 / self.queries.max(1) as f64
    }
}

impl std::fmt::Display for Accuracy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "top-1 {:.1}% ({}/{}), top-3 {:.1}% ({}/{})",
            self.top1_rate() * 100.0,
            self.top1,
            self.queries,
            self.top3_rate() * 100.0,
            self.top3,
            self.queries
        )
    }
}

/// The baseline: rank articles by how many of the query's words (lowercased,
/// nothing else) appear in them.
pub fn keyword_baseline(set: &EvalSet) -> Accuracy {
    let words = |text: &str| -> HashSet<String> {
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
    };
    let articles: Vec<(String, HashSet<String>)> = set
        .articles
        .iter()
        .map(|a| {
            let text = format!("{} {} {} {}", a.title, a.keywords.join(" "), a.short_answer, a.body);
            (a.id.clone(), words(&text))
        })
        .collect();
    let mut accuracy = Accuracy::default();
    for article in &set.articles {
        for query in &article.queries {
            let query_words = words(query);
            let mut ranked: Vec<(usize, &String)> = articles
                .iter()
                .map(|(id, text)| (query_words.iter().filter(|w| text.contains(*w)).count(), id))
                .filter(|(n, _)| *n > 0)
                .collect();
            ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
            let ids: Vec<String> = ranked.into_iter().map(|(_, id)| id.clone()).collect();
            accuracy.record(query, &article.id, &ids);
        }
    }
    accuracy
}

/// Index documents for the set's articles in one knowledge base; the
/// article ids are returned in the set's order.
pub fn documents(set: &EvalSet, kb: KbId) -> Vec<IndexDoc> {
    set.articles
        .iter()
        .map(|a| IndexDoc {
            article_id: ArticleId::new(),
            kb_id: kb,
            unit_id: None,
            category_ids: vec![],
            locale: Locale::Es,
            slug: a.id.clone(),
            title: a.title.clone(),
            keywords: a.keywords.clone(),
            body_text: crate::markdown::to_text(&a.body),
            short_answer: a.short_answer.clone(),
            version: 1,
        })
        .collect()
}

/// Runs every query of the set against `search` (whose index holds
/// [`documents`] for `kb`) and scores the ranking by slug.
pub async fn accuracy(search: &Search, set: &EvalSet, kb: KbId) -> super::Result<Accuracy> {
    let mut accuracy = Accuracy::default();
    for article in &set.articles {
        for text in &article.queries {
            let mut query = Query::new(text.clone(), vec![kb], Locale::Es);
            query.synonyms = set.synonyms.clone();
            query.limit = 3;
            let ranked: Vec<String> = search.query(&query).await?.into_iter().map(|h| h.slug).collect();
            accuracy.record(text, &article.id, &ranked);
        }
    }
    Ok(accuracy)
}

/// `n` realistic Spanish articles for load: each mixes sentences of the
/// set's articles with numbered variants of their titles, so the vocabulary,
/// word frequencies and lengths look like a real FAQ base.
pub fn generated_corpus(set: &EvalSet, kb: KbId, n: usize) -> Vec<IndexDoc> {
    let sentences: Vec<String> = set
        .articles
        .iter()
        .flat_map(|a| {
            crate::markdown::to_text(&a.body).split(['.', '\n']).map(str::trim).map(str::to_owned).collect::<Vec<_>>()
        })
        .filter(|s| s.len() > 20)
        .collect();
    let qualifiers = ["para pregrado", "para posgrado", "sede norte", "sede centro", "modalidad virtual", "nocturno"];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        // xorshift: repeatable without a dependency.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    (0..n)
        .map(|i| {
            let base = &set.articles[next() % set.articles.len()];
            let title = format!("{} {} ({})", base.title, qualifiers[next() % qualifiers.len()], i);
            let body: Vec<&str> = (0..6 + next() % 10).map(|_| sentences[next() % sentences.len()].as_str()).collect();
            IndexDoc {
                article_id: ArticleId::new(),
                kb_id: kb,
                unit_id: None,
                category_ids: vec![],
                locale: Locale::Es,
                slug: format!("{}-{i}", base.id),
                title,
                keywords: base.keywords.clone(),
                body_text: body.join(". "),
                short_answer: base.short_answer.clone(),
                version: 1,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> EvalSet {
        EvalSet::parse(include_str!("../../../tests/data/kb_eval_es.json")).expect("the evaluation set parses")
    }

    #[test]
    fn the_set_is_big_enough_and_consistent() {
        let set = set();
        assert!(set.articles.len() >= 40, "{} articles", set.articles.len());
        assert!(set.articles.iter().all(|a| a.queries.len() >= 8));
        let ids: HashSet<&str> = set.articles.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids.len(), set.articles.len(), "article ids are unique");
    }

    #[test]
    fn generated_corpus_is_repeatable_in_shape() {
        let set = set();
        let docs = generated_corpus(&set, KbId::new(), 50);
        assert_eq!(docs.len(), 50);
        assert!(docs.iter().all(|d| !d.body_text.is_empty() && d.title.contains('(')));
    }
}
