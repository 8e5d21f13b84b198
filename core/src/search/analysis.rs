//! Text analysis shared by indexing, queries and snippets, so every backend
//! and every surface agrees on what a word is.
//!
//! A word is lowercased and accent-folded (`Inscripción` → `inscripcion`),
//! stemmed with the locale's Snowball stemmer (`inscripciones` →
//! `inscripcion`, `preinscribirme` → `preinscrib`) and truncated to a short
//! prefix (`preinscrib…` and `preinscripcion` share `preins`), which catches
//! derived forms the stemmer keeps apart. Stop words are dropped. Question
//! filler ("puedo", "consultar", "trámite") is kept but marked, so a query's
//! topic outweighs its phrasing. Folding happens before the stop and filler
//! lists are consulted, and the lists are written folded, so a query typed
//! without accents is analysed exactly like one typed with them.

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::domain::kb::Locale;

/// Words of at least this many characters are also indexed by their prefix.
const TRUNCATE_FROM: usize = 7;
const TRUNCATE_TO: usize = 6;

/// One analysed word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub folded: String,
    pub stem: String,
    pub trunc: String,
    /// Part of how a question is asked rather than what it is about.
    pub filler: bool,
    /// Byte range in the original text.
    pub start: usize,
    pub end: usize,
}

/// The stop words, filler and stemmer of one locale.
pub struct Language {
    stop: HashSet<String>,
    filler_stems: HashSet<String>,
    stemmer: rust_stemmers::Stemmer,
}

static LANGUAGES: LazyLock<[Language; 3]> = LazyLock::new(|| {
    [
        Language::new(include_str!("lang/es.txt"), rust_stemmers::Algorithm::Spanish),
        Language::new(include_str!("lang/en.txt"), rust_stemmers::Algorithm::English),
        Language::new(include_str!("lang/pt.txt"), rust_stemmers::Algorithm::Portuguese),
    ]
});

/// The analysis for `locale`.
pub fn language(locale: Locale) -> &'static Language {
    let index = match locale {
        Locale::Es => 0,
        Locale::En => 1,
        Locale::Pt => 2,
    };
    &LANGUAGES[index]
}

impl Language {
    fn new(lists: &str, algorithm: rust_stemmers::Algorithm) -> Self {
        let stemmer = rust_stemmers::Stemmer::create(algorithm);
        let (mut stop, mut filler) = (HashSet::new(), vec![]);
        let mut section = "";
        for line in lists.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if line.starts_with('[') {
                section = line;
                continue;
            }
            for word in line.split_whitespace().map(fold) {
                match section {
                    "[stop]" => {
                        stop.insert(word);
                    }
                    _ => filler.push(word),
                }
            }
        }
        let filler_stems = filler.iter().map(|w| stemmer.stem(w).into_owned()).collect();
        Language { stop, filler_stems, stemmer }
    }

    /// The words of `text` that carry meaning, in order.
    pub fn words(&self, text: &str) -> Vec<Word> {
        tokens(text).filter_map(|(start, end, token)| self.word(token, start, end)).collect()
    }

    /// Analyses one token; `None` for stop words and stray letters.
    pub fn word(&self, token: &str, start: usize, end: usize) -> Option<Word> {
        let folded = fold(token);
        let n_chars = folded.chars().count();
        let numeric = folded.chars().all(|c| c.is_ascii_digit());
        if (n_chars < 2 && !numeric) || self.stop.contains(&folded) {
            return None;
        }
        let stem = if numeric { folded.clone() } else { self.stem(&folded) };
        let trunc = truncate(&folded, &stem);
        let filler = self.filler_stems.contains(&stem);
        Some(Word { folded, stem, trunc, filler, start, end })
    }

    /// The stem of an already folded word.
    pub fn stem(&self, folded: &str) -> String {
        self.stemmer.stem(folded).into_owned()
    }

    /// The stop words, folded: other backends are configured with them.
    pub fn stop_words(&self) -> impl Iterator<Item = &str> {
        self.stop.iter().map(String::as_str)
    }
}

/// The truncated form of a word: a prefix for long words, the stem otherwise.
pub fn truncate(folded: &str, stem: &str) -> String {
    if folded.chars().count() >= TRUNCATE_FROM { folded.chars().take(TRUNCATE_TO).collect() } else { stem.to_owned() }
}

pub use crate::domain::kb::fold;

/// Splits text into runs of letters and digits, with their byte ranges.
pub fn tokens(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while chars.peek().is_some_and(|(_, c)| !c.is_alphanumeric()) {
            chars.next();
        }
        let (start, _) = *chars.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            chars.next();
        }
        Some((start, end, &text[start..end]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(text: &str) -> Vec<String> {
        language(Locale::Es).words(text).into_iter().map(|w| w.stem).collect()
    }

    #[test]
    fn folding_and_stemming_meet_in_the_middle() {
        assert_eq!(stems("Inscripción"), stems("inscripciones"));
        assert_eq!(stems("BECAS"), stems("beca"));
        assert_eq!(stems("matrícula"), stems("matricula"));
        assert_eq!(stems("certificados"), stems("certificado"));
    }

    #[test]
    fn derived_forms_share_a_prefix() {
        let es = language(Locale::Es);
        let verb = es.words("preinscribirme").remove(0);
        let noun = es.words("preinscripción").remove(0);
        assert_eq!(verb.trunc, noun.trunc);
        assert_ne!(verb.stem, noun.stem, "the stemmer alone keeps them apart");
    }

    #[test]
    fn stop_words_go_and_filler_is_marked() {
        let words = language(Locale::Es).words("¿Dónde puedo consultar sobre el trámite de la matrícula?");
        let kept: Vec<(&str, bool)> = words.iter().map(|w| (w.folded.as_str(), w.filler)).collect();
        assert_eq!(kept, vec![("puedo", true), ("consultar", true), ("tramite", true), ("matricula", false)]);
    }

    #[test]
    fn accents_do_not_change_what_is_filler() {
        let with = language(Locale::Es).words("¿Cómo solicito información?");
        let without = language(Locale::Es).words("como solicito informacion");
        assert_eq!(
            with.iter().map(|w| (&w.stem, w.filler)).collect::<Vec<_>>(),
            without.iter().map(|w| (&w.stem, w.filler)).collect::<Vec<_>>()
        );
        assert!(with.iter().all(|w| w.filler));
    }

    #[test]
    fn tokens_keep_byte_ranges() {
        let text = "¿Qué es la años-2027?";
        let found: Vec<_> = tokens(text).map(|(s, e, t)| (t, &text[s..e])).collect();
        assert_eq!(found, vec![("Qué", "Qué"), ("es", "es"), ("la", "la"), ("años", "años"), ("2027", "2027")]);
    }

    #[test]
    fn other_locales_have_their_own_rules() {
        let pt: Vec<_> = language(Locale::Pt).words("Como faço a matrícula?").into_iter().map(|w| w.folded).collect();
        assert_eq!(pt, vec!["faco", "matricula"]);
        let en: Vec<_> =
            language(Locale::En).words("How do I apply for scholarships?").into_iter().map(|w| w.stem).collect();
        assert_eq!(en, vec!["how", "appli", "scholarship"]);
    }
}
