//! Reading text the way people write in chats: without accents, with
//! typos, with letters held down ("ayudaaaa"). Used by bots and protocols
//! that recognise what a message asks for.

/// Lowercase words without accents or punctuation.
pub fn words(text: &str) -> Vec<String> {
    let plain: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    plain.split_whitespace().map(squeeze).collect()
}

/// Letters held down: a run of three or more becomes one ("ayudaaa" ->
/// "ayuda"); doubles stay ("leer", "carro").
fn squeeze(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| **c == chars[i]).count();
        let keep = if run >= 3 { 1 } else { run };
        out.extend(std::iter::repeat_n(chars[i], keep));
        i += run;
    }
    out
}

/// Edits between two short words: insert, delete, substitute, or swap two
/// neighbours ("asesro" is one slip from "asesor").
pub fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A word that is `target` or a typo of it (one edit; two for long words).
pub fn like(word: &str, target: &str) -> bool {
    let allowed = match target.chars().count() {
        0..=4 => 0,
        5..=7 => 1,
        _ => 2,
    };
    distance(word, target) <= allowed
}

/// Whether `word` is `pattern` or a typo of it; a pattern ending in `*`
/// is a stem ("suicid*" takes "suicidarme", "suisidio").
pub fn like_pattern(word: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(stem) => {
            let n = stem.chars().count();
            let head: String = word.chars().take(n).collect();
            head.chars().count() == n && like(&head, stem)
        }
        None => like(word, pattern),
    }
}

/// Where the phrase (words, or stems ending in `*`) starts in `words`,
/// each word allowing the typos [`like`] allows.
pub fn find_phrase(words: &[String], phrase: &[&str]) -> Option<usize> {
    if phrase.is_empty() {
        return None;
    }
    words.windows(phrase.len()).position(|window| window.iter().zip(phrase).all(|(w, p)| like_pattern(w, p)))
}

/// A plugin's texts in one language, from its `strings.json`
/// (`{"es": {...}, "en": {...}, "pt": {...}}`): Spanish unless the locale
/// is English or Portuguese. A missing text shows its key.
pub struct Strings(serde_json::Value);

impl Strings {
    /// The texts of `locale` (e.g. `es`, `pt-BR`) in `json`.
    pub fn of(json: &str, locale: &str) -> Strings {
        let all: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let locale = match locale.get(..2) {
            Some("en") => "en",
            Some("pt") => "pt",
            _ => "es",
        };
        Strings(all[locale].clone())
    }

    /// The text of `key`.
    pub fn get(&self, key: &str) -> String {
        self.0[key].as_str().unwrap_or(key).to_owned()
    }

    /// The text of `key` with each `{name}` replaced by its value.
    pub fn fill(&self, key: &str, vars: &[(&str, &str)]) -> String {
        let mut text = self.get(key);
        for (name, value) in vars {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_plain_and_squeezed() {
        assert_eq!(words("¡Ayúdenmeee, POR favor!"), ["ayudenme", "por", "favor"]);
        assert_eq!(words("leer el carro"), ["leer", "el", "carro"]);
        assert_eq!(words("  "), Vec::<String>::new());
    }

    #[test]
    fn typos_are_near() {
        assert_eq!(distance("asesro", "asesor"), 1);
        assert_eq!(distance("suisidio", "suicidio"), 1);
        assert!(like("suisidio", "suicidio"));
        assert!(like("hola", "hola"));
        assert!(!like("hoja", "hola"), "short words must match exactly");
        assert!(like_pattern("suisidarme", "suicid*"));
        assert!(!like_pattern("sui", "suicid*"));
        let w = words("ya no quiero bibir");
        assert_eq!(find_phrase(&w, &["quiero", "vivir"]), None, "two slips in a short word are too many");
        assert_eq!(find_phrase(&w, &["no", "quiero"]), Some(1));
    }

    #[test]
    fn strings_follow_the_locale() {
        let json = r#"{"es": {"hola": "Hola, {name}"}, "pt": {"hola": "Olá, {name}"}}"#;
        assert_eq!(Strings::of(json, "pt-BR").fill("hola", &[("name", "Ana")]), "Olá, Ana");
        assert_eq!(Strings::of(json, "fr").get("hola"), "Hola, {name}");
        assert_eq!(Strings::of(json, "es").get("falta"), "falta");
    }
}
