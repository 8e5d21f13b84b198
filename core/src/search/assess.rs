//! How well a found article answers a query, and the snippet that shows it.
//!
//! Both are computed from the article's own text with the shared analysis,
//! so the confidence the bot thresholds and the highlights people see mean
//! the same whichever backend found the article.

use std::collections::HashSet;

use super::analysis::{Language, Word, tokens};
use super::plan::QueryPlan;

/// How a query word can match a word of the article, best first.
const EXACT: f32 = 1.0;
const PREFIX: f32 = 0.85;
const TRUNCATED: f32 = 0.8;
const TYPO: f32 = 0.75;
/// Characters of body text shown around the best match.
const SNIPPET_CHARS: usize = 220;

/// The analysed words of one article, by form.
pub struct ArticleWords {
    folded: HashSet<String>,
    stems: HashSet<String>,
    truncs: HashSet<String>,
}

impl ArticleWords {
    pub fn new(words: impl IntoIterator<Item = Word>) -> Self {
        let (mut folded, mut stems, mut truncs) = (HashSet::new(), HashSet::new(), HashSet::new());
        for word in words {
            stems.insert(word.stem);
            truncs.insert(word.trunc);
            folded.insert(word.folded);
        }
        ArticleWords { folded, stems, truncs }
    }

    /// How well `word` is found here, 0 when it is not.
    fn quality(&self, word: &Word, is_prefix: bool) -> f32 {
        if self.stems.contains(&word.stem) || self.folded.contains(&word.folded) {
            return EXACT;
        }
        if is_prefix && self.folded.iter().any(|f| f.starts_with(&word.folded)) {
            return PREFIX;
        }
        if self.truncs.contains(&word.trunc) {
            return TRUNCATED;
        }
        let allowed = typo_budget(&word.folded);
        if allowed > 0 && self.folded.iter().any(|f| within_distance(&word.folded, f, allowed)) {
            return TYPO;
        }
        0.0
    }
}

/// Typos allowed in a word: none up to 4 letters, one up to 8, then two.
pub fn typo_budget(folded: &str) -> usize {
    match folded.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// 0.0 to 1.0: the weighted share of the query's groups the article covers,
/// scaled down when none of the topic shows in the title or keywords.
pub fn confidence(plan: &QueryPlan, heading: &ArticleWords, all: &ArticleWords) -> f32 {
    let total = plan.total_weight();
    if total <= 0.0 {
        return 0.0;
    }
    let last = plan.last_word();
    let (mut covered, mut in_heading, mut topic_weight) = (0.0, 0.0, 0.0);
    for group in &plan.groups {
        let group_quality = |words: &ArticleWords| {
            group
                .alternatives
                .iter()
                .map(|alt| {
                    let qualities =
                        alt.words.iter().map(|w| words.quality(w, last.is_some_and(|l| std::ptr::eq(l, w))));
                    let (sum, n) = qualities.fold((0.0, 0), |(s, n), q| (s + q, n + 1));
                    // A multi-word alternative counts in proportion to its words found.
                    alt.boost * if n == 0 { 0.0 } else { sum / n as f32 }
                })
                .fold(0.0_f32, f32::max)
        };
        covered += group.weight * group_quality(all);
        if group.weight >= 1.0 {
            topic_weight += group.weight;
            in_heading += group.weight * group_quality(heading);
        }
    }
    let coverage = covered / total;
    let heading_share = if topic_weight > 0.0 { in_heading / topic_weight } else { 1.0 };
    (coverage * (0.7 + 0.3 * heading_share)).clamp(0.0, 1.0)
}

/// A short HTML-escaped excerpt of `text` around the densest run of query
/// words, with those words in `<mark>`.
pub fn snippet(language: &Language, plan: &QueryPlan, text: &str) -> String {
    let query_stems: HashSet<&str> = plan.words().map(|w| w.stem.as_str()).collect();
    let query_truncs: HashSet<&str> = plan.words().map(|w| w.trunc.as_str()).collect();
    let last = plan.last_word();
    // Words typed with a typo are marked where the article has the right word.
    let typed: Vec<(&str, usize)> =
        plan.words().map(|w| (w.folded.as_str(), typo_budget(&w.folded))).filter(|(_, n)| *n > 0).collect();
    let marks: Vec<(usize, usize)> = tokens(text)
        .filter_map(|(start, end, token)| language.word(token, start, end))
        .filter(|w| {
            query_stems.contains(w.stem.as_str())
                || query_truncs.contains(w.trunc.as_str())
                || last.is_some_and(|l| w.folded.starts_with(&l.folded))
                || typed.iter().any(|(q, n)| within_distance(q, &w.folded, *n))
        })
        .map(|w| (w.start, w.end))
        .collect();
    let (start, end) = window(text, &marks);
    let mut html = String::with_capacity(end - start + 64);
    if start > 0 {
        html.push('…');
    }
    let mut at = start;
    for &(s, e) in marks.iter().filter(|(s, e)| *s >= start && *e <= end) {
        escape_into(&mut html, &text[at..s]);
        html.push_str("<mark>");
        escape_into(&mut html, &text[s..e]);
        html.push_str("</mark>");
        at = e;
    }
    escape_into(&mut html, &text[at..end]);
    if end < text.len() {
        html.push('…');
    }
    html
}

/// The byte range of about [`SNIPPET_CHARS`] characters holding the most marks,
/// cut at word boundaries.
fn window(text: &str, marks: &[(usize, usize)]) -> (usize, usize) {
    let budget = SNIPPET_CHARS * 2; // bytes, roughly: accents take two
    let best_start = (0..marks.len())
        .max_by_key(|&i| {
            let n = marks[i..].iter().take_while(|(_, e)| *e - marks[i].0 <= budget).count();
            (n, std::cmp::Reverse(i))
        })
        .map(|i| marks[i].0.saturating_sub(budget / 6))
        .unwrap_or(0);
    let start = word_boundary_before(text, best_start);
    let mut end = start;
    for (n, (i, c)) in text[start..].char_indices().enumerate() {
        if n >= SNIPPET_CHARS && c.is_whitespace() {
            break;
        }
        end = start + i + c.len_utf8();
    }
    (start, end)
}

fn word_boundary_before(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    match text[..at].rfind(char::is_whitespace) {
        Some(space) if at - space < 30 => space + 1,
        _ if at == 0 => 0,
        _ => at,
    }
}

pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// Damerau-Levenshtein (adjacent transpositions) distance at most `max`.
pub fn within_distance(a: &str, b: &str, max: usize) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let width = b.len() + 1;
    let mut rows = vec![vec![0usize; width]; a.len() + 1];
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows[i][0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return false;
        }
    }
    rows[a.len()][b.len()] <= max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kb::Locale;
    use crate::search::analysis::language;

    fn words(text: &str) -> ArticleWords {
        ArticleWords::new(language(Locale::Es).words(text))
    }

    fn confidence_of(query: &str, title: &str, body: &str) -> f32 {
        let plan = QueryPlan::new(language(Locale::Es), query, &[], false);
        confidence(&plan, &words(title), &words(&format!("{title} {body}")))
    }

    #[test]
    fn a_topic_in_the_title_is_confident() {
        let sure = confidence_of("solicito una beca", "Becas de excelencia", "Cómo solicitar la beca.");
        assert!(sure > 0.95, "{sure}");
        let body_only = confidence_of("solicito una beca", "Apoyos", "Hay becas para todos.");
        assert!(body_only < sure && body_only > 0.5, "{body_only}");
    }

    #[test]
    fn an_unknown_topic_word_halves_confidence() {
        let half = confidence_of("pago del parqueadero", "Pago de matrícula", "Se paga en el banco.");
        assert!((0.3..0.6).contains(&half), "{half}");
        assert_eq!(confidence_of("horario biblioteca", "Pago de matrícula", "Se paga en el banco."), 0.0);
    }

    #[test]
    fn typos_count_a_little_less() {
        let typo = confidence_of("matricla", "Matrícula", "");
        assert!((0.7..0.8).contains(&typo), "{typo}");
        assert_eq!(confidence_of("veca", "Beca", ""), 0.0, "four letters allow no typo");
    }

    #[test]
    fn distances() {
        assert!(within_distance("matricla", "matricula", 1));
        assert!(within_distance("incripcion", "inscripcion", 1));
        assert!(within_distance("cetrificado", "certificado", 1), "a transposition is one typo");
        assert!(!within_distance("beca", "bolsa", 1));
        assert!(within_distance("horairo", "horario", 1));
        assert!(!within_distance("abcdef", "ghijkl", 2));
    }

    #[test]
    fn snippets_mark_query_words_and_escape() {
        let plan = QueryPlan::new(language(Locale::Es), "becas <b>", &[], false);
        let html = snippet(language(Locale::Es), &plan, "Las <b>becas</b> se piden en línea & gratis.");
        assert_eq!(html, "Las &lt;b&gt;<mark>becas</mark>&lt;/b&gt; se piden en línea &amp; gratis.");
    }

    #[test]
    fn long_snippets_centre_on_the_matches() {
        let plan = QueryPlan::new(language(Locale::Es), "certificado", &[], false);
        let text = format!(
            "{} El certificado de notas se descarga en el portal. {}",
            "Texto previo. ".repeat(60),
            "Más texto. ".repeat(60)
        );
        let html = snippet(language(Locale::Es), &plan, &text);
        assert!(html.starts_with('…') && html.ends_with('…'), "{html}");
        assert!(html.contains("<mark>certificado</mark>"), "{html}");
        assert!(html.chars().count() < 300, "{}", html.chars().count());
    }
}
