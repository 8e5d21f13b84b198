//! Text people see, from the locale files in `core/locales/` (Spanish by
//! default, English and Portuguese available). Code names a key; the file
//! holds the words.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Locales with a file; the first is the fallback.
pub use crate::domain::user::LOCALES;

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

/// When something happens, as people say it: "hoy a las 08:00", "mañana a
/// las 08:00", "el martes 1 de diciembre a las 08:00".
pub fn when(locale: &str, at: chrono::DateTime<chrono_tz::Tz>, now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike;
    let time = at.format("%H:%M").to_string();
    let today = now.with_timezone(&at.timezone()).date_naive();
    let date = at.date_naive();
    if date == today {
        return t(locale, "when.today", &[("time", &time)]);
    }
    if today.succ_opt() == Some(date) {
        return t(locale, "when.tomorrow", &[("time", &time)]);
    }
    let weekday = t(locale, &format!("weekday.{}", at.weekday().number_from_monday()), &[]);
    let month = t(locale, &format!("month.{}", at.month()), &[]);
    t(locale, "when.date", &[("weekday", &weekday), ("day", &at.day().to_string()), ("month", &month), ("time", &time)])
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
    fn moments_read_as_people_say_them() {
        use chrono::TimeZone;
        let tz = chrono_tz::America::Bogota;
        let now = tz.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap().with_timezone(&chrono::Utc);
        let at = |d: u32| tz.with_ymd_and_hms(2026, if d > 27 { 11 } else { 12 }, d, 8, 0, 0).unwrap();
        assert_eq!(when("es", tz.with_ymd_and_hms(2026, 11, 27, 21, 30, 0).unwrap(), now), "hoy a las 21:30");
        assert_eq!(when("es", at(28), now), "mañana a las 08:00");
        assert_eq!(when("es", at(1), now), "el martes 1 de diciembre a las 08:00");
        assert_eq!(when("en", at(1), now), "on Tuesday, December 1 at 08:00");
    }

    #[test]
    fn fills_arguments_and_falls_back() {
        assert_eq!(t("en", "bot.handoff.note", &[("reason", "x")]), "The assistant handed the case over: x");
        assert!(t("fr", "consent.accept", &[]).starts_with("Sí"));
        assert_eq!(t("es", "no.such.key", &[]), "no.such.key");
    }
}
