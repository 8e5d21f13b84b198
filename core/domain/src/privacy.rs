//! Habeas data: what a person who declined the processing of their data
//! writes is stored without the personal data in it (e-mail addresses,
//! phone and document numbers, a name they give), so the conversation can
//! go on (FAQ answers need none of it).

/// The consent purpose that covers keeping a person's data.
pub const DATA_PURPOSE: &str = "data_processing";

/// What stands in for what was left out.
pub const OMITTED: &str = "[dato omitido]";

/// What stands in for a person's data once erased.
pub const ERASED: &str = "[dato suprimido]";

/// `text` without the personal data of a person being erased: what
/// [`redact`] leaves out, and every word of their name and every value of
/// their identities (phones, addresses), matched without regard to case,
/// replaced by [`ERASED`].
pub fn erase_from(text: &str, names: &[&str]) -> String {
    let mut out = redact(text).replace(OMITTED, ERASED);
    let mut words: Vec<String> = names
        .iter()
        .flat_map(|n| std::iter::once(n.to_string()).chain(n.split_whitespace().map(str::to_owned)))
        .filter(|w| w.chars().count() >= 3)
        .collect();
    // Longest first, so a full name goes before its parts.
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words.dedup();
    for word in words {
        out = replace_ignoring_case(&out, &word, ERASED);
    }
    out
}

fn replace_ignoring_case(text: &str, word: &str, with: &str) -> String {
    let lower_text = text.to_lowercase();
    let lower_word = word.to_lowercase();
    // Lowercasing can change lengths (rare letters); then match exactly only.
    if lower_text.len() != text.len() || lower_word.len() != word.len() || lower_word.is_empty() {
        return text.replace(word, with);
    }
    // Whole words only: "Ana" is not taken out of "semana".
    let boundary = |at: Option<char>| at.is_none_or(|c| !c.is_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from) = (0, 0);
    while let Some(found) = lower_text[from..].find(&lower_word) {
        let at = from + found;
        let end = at + lower_word.len();
        if boundary(text[..at].chars().next_back()) && boundary(text[end..].chars().next()) {
            out.push_str(&text[copied..at]);
            out.push_str(with);
            copied = end;
        }
        from = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// A unit's data-protection settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySettings {
    /// The host itself asks a contact with no recorded answer for the
    /// authorisation to process their data ([`DATA_PURPOSE`]) before the
    /// first reply a person of the unit sends, whether or not a bot runs;
    /// the web chat asks before the visitor's first message.
    pub ask_consent: bool,
    /// Overrides of `ask_consent` per channel, e.g. `{"email": false}`.
    pub channels: std::collections::BTreeMap<String, bool>,
    /// How long the unit's cases keep people's data.
    pub retention: Retention,
    /// Overrides of `retention` per channel.
    pub channel_retention: std::collections::BTreeMap<String, Retention>,
    /// A sensitive unit (psychological support, a complaints office): every
    /// time someone opens one of its cases, its messages, notes or files,
    /// the audit log records who and when.
    pub record_reads: bool,
}

/// How long cases keep people's data; none keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Cases resolved or closed this many months ago are anonymised.
    pub anonymise_after_months: Option<u32>,
    /// Files messages carry are removed this many months after they were sent.
    pub files_after_months: Option<u32>,
}

impl PrivacySettings {
    pub fn validate(&self, field: &str) -> Result<(), super::Error> {
        for name in self.channels.keys() {
            super::Channel::parse(&format!("{field}.channels"), name)?;
        }
        for name in self.channel_retention.keys() {
            super::Channel::parse(&format!("{field}.channel_retention"), name)?;
        }
        let rules = std::iter::once(&self.retention).chain(self.channel_retention.values());
        for months in rules.flat_map(|r| [r.anonymise_after_months, r.files_after_months]).flatten() {
            if !(1..=1200).contains(&months) {
                return Err(super::Error::invalid(format!("{field}.retention"), "months must be 1 to 1200"));
            }
        }
        Ok(())
    }

    /// The retention of the unit's cases on `channel`.
    pub fn retention_on(&self, channel: super::Channel) -> Retention {
        self.channel_retention.get(channel.as_str()).copied().unwrap_or(self.retention)
    }

    /// Whether the host asks for the authorisation on `channel`.
    pub fn asks_on(&self, channel: super::Channel) -> bool {
        self.channels.get(channel.as_str()).copied().unwrap_or(self.ask_consent)
    }
}

/// Fewest digits in a run that makes it a phone or document number.
const MIN_DIGITS: usize = 7;

/// Whether `text` may hold personal data worth leaving out (cheap; the
/// caller then looks at the person's consent).
pub fn looks_personal(text: &str) -> bool {
    text.contains('@') || text.chars().filter(char::is_ascii_digit).count() >= MIN_DIGITS || names_given(text)
}

fn names_given(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("me llamo") || lower.contains("mi nombre es") || lower.contains("my name is")
}

/// `text` with e-mail addresses, long digit runs (phones, documents) and
/// names after "me llamo" / "mi nombre es" replaced by [`OMITTED`].
pub fn redact(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut skip_names = 0usize;
    for (i, word) in words.iter().enumerate() {
        if skip_names > 0 {
            let capitalised = word.chars().next().is_some_and(char::is_uppercase);
            if capitalised {
                skip_names -= 1;
                if out.last().map(String::as_str) != Some(OMITTED) {
                    out.push(OMITTED.to_owned());
                }
                continue;
            }
            skip_names = 0;
        }
        if word.contains('@') && word.split('@').nth(1).is_some_and(|d| d.contains('.')) {
            out.push(OMITTED.to_owned());
            continue;
        }
        out.push((*word).to_owned());
        let lower: Vec<String> = words[..=i].iter().rev().take(3).map(|w| w.to_lowercase()).collect();
        let said =
            |phrase: &[&str]| phrase.iter().rev().zip(lower.iter()).all(|(p, w)| w.trim_end_matches([',', ':']) == *p);
        if said(&["me", "llamo"]) || said(&["nombre", "es"]) || said(&["name", "is"]) {
            skip_names = 3;
        }
    }
    redact_numbers(&out.join(" "))
}

/// Replaces runs of digits and separators holding at least [`MIN_DIGITS`]
/// digits, except a span of two years ("2024-2025").
fn redact_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts =
            chars[i].is_ascii_digit() || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < chars.len() && (chars[end].is_ascii_digit() || " -.()".contains(chars[end])) {
            end += 1;
        }
        // Trailing separators belong to the text around.
        while end > i && !chars[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let run: String = chars[i..end].iter().collect();
        let digits = run.chars().filter(char::is_ascii_digit).count();
        if digits >= MIN_DIGITS && !years(&run) {
            out.push_str(OMITTED);
        } else {
            out.push_str(&run);
        }
        i = end;
    }
    out
}

fn years(run: &str) -> bool {
    let groups: Vec<&str> = run.split(['-', ' ', '/']).filter(|g| !g.is_empty()).collect();
    groups.len() == 2 && groups.iter().all(|g| g.len() == 4 && (g.starts_with("19") || g.starts_with("20")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erasure_takes_out_names_and_identities() {
        let text = "Hola Ana, le escribimos a ana.gomez@correo.co y al 3001234567. Saludos, Ana GÓMEZ.";
        let erased = erase_from(text, &["Ana Gómez", "ana.gomez@correo.co"]);
        assert!(!erased.to_lowercase().contains("ana"), "{erased}");
        assert!(!erased.contains("3001234567") && !erased.contains("correo"), "{erased}");
        assert!(erased.contains("le escribimos") && erased.contains(ERASED), "{erased}");
        assert_eq!(erase_from("Sin datos", &["Al"]), "Sin datos", "short names are not matched everywhere");
        assert_eq!(erase_from("Esta semana, Ana", &["Ana"]), format!("Esta semana, {ERASED}"), "whole words only");
    }

    #[test]
    fn channels_override_the_units_choice() {
        let mut settings = PrivacySettings { ask_consent: true, ..Default::default() };
        settings.channels.insert("email".into(), false);
        assert!(settings.asks_on(crate::Channel::Whatsapp));
        assert!(!settings.asks_on(crate::Channel::Email));
        settings.channels.insert("fax".into(), true);
        assert!(settings.validate("privacy").is_err());
    }

    #[test]
    fn personal_data_is_left_out() {
        assert_eq!(
            redact("mi correo es ana.perez@correo.com y mi cédula 1.020.304.050"),
            "mi correo es [dato omitido] y mi cédula [dato omitido]"
        );
        assert_eq!(redact("llámame al +57 300 123 4567, gracias"), "llámame al [dato omitido], gracias");
        assert_eq!(
            redact("Hola, me llamo Ana María Pérez y quiero inscribirme"),
            "Hola, me llamo [dato omitido] y quiero inscribirme"
        );
        assert_eq!(redact("Mi nombre es: Luis"), "Mi nombre es: [dato omitido]");
    }

    #[test]
    fn ordinary_text_stays() {
        for text in [
            "¿cuánto cuesta la matrícula del periodo 2024-2025?",
            "el salón 305 del bloque 2",
            "¿abren el 15 de enero a las 8:00?",
            "",
        ] {
            assert_eq!(redact(text), text);
        }
        assert!(!looks_personal("¿cómo pago la matrícula?"));
        assert!(looks_personal("mi número es 3001234567"));
    }
}
