//! A query as every backend sees it: the words that carry its topic, grouped
//! where a synonym covers several of them, each group with its alternatives.
//!
//! "ayuda económica para estudiar" with the synonym group
//! `["beca", "ayuda económica"]` becomes two groups: {ayuda económica | beca}
//! and {estudiar}. A group counts once however many alternatives match.

use super::analysis::{Language, Word};
use crate::domain::kb::SynonymGroup;

/// Weight of a filler group against a topic group.
pub const FILLER_WEIGHT: f32 = 0.25;
/// Weight of a synonym against the words the person typed.
pub const SYNONYM_BOOST: f32 = 0.95;

#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub groups: Vec<Group>,
    /// The last word may be unfinished (search as you type).
    pub prefix_last: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub weight: f32,
    pub alternatives: Vec<Alternative>,
}

/// Words that must all match for the alternative to match.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub words: Vec<Word>,
    pub boost: f32,
}

impl QueryPlan {
    /// Plans `query`; `prefix` when the person is still typing.
    pub fn new(language: &Language, query: &str, synonyms: &[SynonymGroup], prefix: bool) -> Self {
        let words = language.words(query);
        // Analysed synonym phrases, compared by stem.
        let phrases: Vec<Vec<Vec<Word>>> = synonyms
            .iter()
            .map(|group| group.iter().map(|phrase| language.words(phrase)).filter(|w| !w.is_empty()).collect())
            .collect();
        let mut groups = vec![];
        let mut i = 0;
        while i < words.len() {
            match longest_synonym_at(&words[i..], &phrases) {
                Some((len, group)) => {
                    let typed = words[i..i + len].to_vec();
                    let weight = group_weight(&typed);
                    let mut alternatives = vec![Alternative { words: typed.clone(), boost: 1.0 }];
                    for phrase in &phrases[group] {
                        if !same_stems(phrase, &typed) {
                            alternatives.push(Alternative { words: phrase.clone(), boost: SYNONYM_BOOST });
                        }
                    }
                    groups.push(Group { weight, alternatives });
                    i += len;
                }
                None => {
                    let word = words[i].clone();
                    let weight = group_weight(std::slice::from_ref(&word));
                    groups.push(Group { weight, alternatives: vec![Alternative { words: vec![word], boost: 1.0 }] });
                    i += 1;
                }
            }
        }
        let ends_mid_word = query.chars().last().is_some_and(char::is_alphanumeric);
        QueryPlan { groups, prefix_last: prefix && ends_mid_word }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The total weight of the groups: what a perfect match scores.
    pub fn total_weight(&self) -> f32 {
        self.groups.iter().map(|g| g.weight).sum()
    }

    /// Every word of every alternative.
    pub fn words(&self) -> impl Iterator<Item = &Word> {
        self.groups.iter().flat_map(|g| g.alternatives.iter().flat_map(|a| a.words.iter()))
    }

    /// The word still being typed, if any.
    pub fn last_word(&self) -> Option<&Word> {
        if !self.prefix_last {
            return None;
        }
        self.groups.last().and_then(|g| g.alternatives.first()).and_then(|a| a.words.last())
    }
}

/// A group of filler words weighs little; anything topical weighs fully.
fn group_weight(words: &[Word]) -> f32 {
    if words.iter().all(|w| w.filler) { FILLER_WEIGHT } else { 1.0 }
}

fn same_stems(a: &[Word], b: &[Word]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.stem == y.stem)
}

/// The longest synonym phrase that starts the words, and its group's index.
fn longest_synonym_at(words: &[Word], phrases: &[Vec<Vec<Word>>]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (group, group_phrases) in phrases.iter().enumerate() {
        for phrase in group_phrases {
            let len = phrase.len();
            if len <= words.len() && same_stems(phrase, &words[..len]) && best.is_none_or(|(l, _)| len > l) {
                best = Some((len, group));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kb::Locale;
    use crate::search::analysis::language;

    fn plan(query: &str, synonyms: &[&[&str]]) -> QueryPlan {
        let synonyms: Vec<SynonymGroup> = synonyms.iter().map(|g| g.iter().map(|s| s.to_string()).collect()).collect();
        QueryPlan::new(language(Locale::Es), query, &synonyms, false)
    }

    fn shape(plan: &QueryPlan) -> Vec<Vec<String>> {
        plan.groups
            .iter()
            .map(|g| {
                g.alternatives
                    .iter()
                    .map(|a| a.words.iter().map(|w| w.folded.as_str()).collect::<Vec<_>>().join(" "))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn multi_word_synonyms_make_one_group() {
        let plan = plan("ayuda económica para estudiar", &[&["beca", "ayuda económica"]]);
        assert_eq!(shape(&plan), vec![vec!["ayuda economica", "beca"], vec!["estudiar"]]);
        assert_eq!(plan.groups[0].weight, 1.0, "a synonym phrase is topical even when a word of it is filler");
    }

    #[test]
    fn single_word_synonyms_match_by_stem() {
        let plan = plan("matrículas", &[&["matrícula", "inscripción"]]);
        assert_eq!(shape(&plan), vec![vec!["matriculas", "inscripcion"]]);
    }

    #[test]
    fn filler_weighs_less_than_topic() {
        let plan = plan("¿dónde puedo consultar sobre becas?", &[]);
        let weights: Vec<f32> = plan.groups.iter().map(|g| g.weight).collect();
        assert_eq!(weights, vec![FILLER_WEIGHT, FILLER_WEIGHT, 1.0]);
    }

    #[test]
    fn only_an_unfinished_word_is_a_prefix() {
        let es = language(Locale::Es);
        assert_eq!(
            QueryPlan::new(es, "becas de excel", &[], true).last_word().map(|w| w.folded.as_str()),
            Some("excel")
        );
        assert_eq!(QueryPlan::new(es, "becas de excel ", &[], true).last_word(), None);
        assert_eq!(QueryPlan::new(es, "becas de excel", &[], false).last_word(), None);
    }
}
