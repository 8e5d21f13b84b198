//! Text people see, from the locale files in `core/locales/` (Spanish by
//! default, English and Portuguese available). Code names a key; the file
//! holds the words.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Locales with a file; the first is the fallback.
pub const LOCALES: [&str; 3] = ["es", "en", "pt"];

const FILES: [&str; 3] =
    [include_str!("../locales/es.toml"), include_str!("../locales/en.toml"), include_str!("../locales/pt.toml")];

fn tables() -> &'static Vec<HashMap<String, String>> {
    static TABLES: OnceLock<Vec<HashMap<String, String>>> = OnceLock::new();
    TABLES.get_or_init(|| FILES.iter().map(|text| toml::from_str(text).unwrap_or_default()).collect())
}

/// The text of `key` in `locale` (falling back to Spanish, then to the key),
/// with each `{name}` replaced by its value in `args`.
pub fn t(locale: &str, key: &str, args: &[(&str, &str)]) -> String {
    let index = LOCALES.iter().position(|l| *l == locale).unwrap_or(0);
    let tables = tables();
    let template = tables
        .get(index)
        .and_then(|t| t.get(key))
        .or_else(|| tables.first().and_then(|t| t.get(key)))
        .map_or(key, String::as_str);
    let mut text = template.to_owned();
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// Every text whose key starts with `prefix`, in `locale` (Spanish where
/// the locale lacks one), keyed without the prefix: what a client-side
/// component such as the web chat widget needs.
pub fn with_prefix(locale: &str, prefix: &str) -> std::collections::BTreeMap<String, String> {
    let tables = tables();
    let mut keys: Vec<&String> =
        tables.first().map(|t| t.keys().filter(|k| k.starts_with(prefix)).collect()).unwrap_or_default();
    keys.sort();
    keys.into_iter().map(|k| (k[prefix.len()..].to_owned(), t(locale, k, &[]))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_has_every_key() {
        let tables = tables();
        assert_eq!(tables.len(), LOCALES.len());
        let spanish: std::collections::BTreeSet<_> = tables[0].keys().collect();
        assert!(!spanish.is_empty(), "es.toml did not parse");
        for (locale, table) in LOCALES.iter().zip(tables) {
            let keys: std::collections::BTreeSet<_> = table.keys().collect();
            assert_eq!(keys, spanish, "{locale}.toml has different keys");
        }
    }

    #[test]
    fn fills_arguments_and_falls_back() {
        assert_eq!(t("en", "bot.handoff.note", &[("reason", "x")]), "The assistant handed the case over: x");
        assert!(t("fr", "consent.accept", &[]).starts_with("Sí"));
        assert_eq!(t("es", "no.such.key", &[]), "no.such.key");
    }
}
