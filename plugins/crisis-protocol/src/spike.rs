//! Spikes: many different cases about one topic within a time window (the
//! platform is down, a payment deadline failed, a rumour spreads) raise an
//! alert, once per topic and window.

use serde::{Deserialize, Serialize};
use ventanilla_sdk::text::{find_phrase, words};

/// A topic the unit watches: a name and the phrases that mean it.
#[derive(Debug, Clone, Deserialize)]
pub struct Topic {
    pub name: String,
    pub phrases: Vec<String>,
}

/// Words too common to be a topic on their own.
const STOPWORDS: &[&str] = &[
    "hola",
    "buenas",
    "buenos",
    "tardes",
    "noches",
    "gracias",
    "favor",
    "quiero",
    "quisiera",
    "necesito",
    "tengo",
    "puedo",
    "pueden",
    "podrian",
    "ayuda",
    "ayudar",
    "saber",
    "porque",
    "cuando",
    "donde",
    "sobre",
    "tiene",
    "tienen",
    "hacer",
    "estoy",
    "estan",
    "mucho",
    "todos",
    "todas",
    "desde",
    "hasta",
    "entre",
    "tambien",
    "ahora",
    "pregunta",
    "consulta",
    "informacion",
    "cordial",
    "saludo",
    "saludos",
    "señor",
    "senor",
    "senora",
    "buen",
    "usted",
    "ustedes",
    "nosotros",
    "alguien",
    "cuanto",
    "cuantos",
    "estaba",
    "estamos",
    "sigue",
    "todavia",
    "aunque",
    "mismo",
    "otra",
    "otro",
    "nunca",
    "siempre",
    "puede",
    "hacen",
];

/// Topics of a message: the watched topics it mentions, and (when
/// `automatic`) its content words, without plural endings.
pub fn topics_of(text: &str, watched: &[Topic], automatic: bool) -> Vec<String> {
    let words = words(text);
    let mut topics: Vec<String> = watched
        .iter()
        .filter(|t| t.phrases.iter().any(|p| find_phrase(&words, &p.split_whitespace().collect::<Vec<_>>()).is_some()))
        .map(|t| t.name.clone())
        .collect();
    if automatic {
        for word in words.iter().filter(|w| w.chars().count() >= 5 && !w.chars().all(|c| c.is_ascii_digit())) {
            if STOPWORDS.contains(&word.as_str()) {
                continue;
            }
            let stem = word.strip_suffix("es").filter(|s| s.len() >= 5).or(word.strip_suffix('s')).unwrap_or(word);
            let topic = format!("~{stem}");
            if !topics.contains(&topic) && topics.len() < 12 {
                topics.push(topic);
            }
        }
    }
    topics
}

/// What the protocol remembers of recent messages (kept in kv).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recent {
    /// (topic, the end of the case id, when).
    #[serde(rename = "s")]
    pub seen: Vec<(String, String, i64)>,
    /// (topic, when it was last alerted).
    #[serde(rename = "a")]
    pub alerted: Vec<(String, i64)>,
}

/// Most entries kept, so the record stays well under a kv value's 64 KiB;
/// the oldest go first.
const MAX_SEEN: usize = 800;

/// A topic that reached the threshold: its name and how many cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spike {
    pub topic: String,
    pub cases: usize,
}

/// Notes that `case` spoke of `topics` at `now`; returns the spikes to
/// alert about (a topic alerts again only after a whole window).
pub fn observe(
    recent: &mut Recent,
    topics: &[String],
    case: &str,
    now: i64,
    window_ms: i64,
    threshold: usize,
) -> Vec<Spike> {
    // The random end of a case id tells cases apart and keeps entries short.
    let case = &case[case.len().saturating_sub(12)..];
    let since = now - window_ms;
    recent.seen.retain(|(_, _, at)| *at >= since);
    recent.alerted.retain(|(_, at)| *at >= since);
    let mut spikes = vec![];
    for topic in topics {
        if !recent.seen.iter().any(|(t, c, _)| t == topic && c == case) {
            recent.seen.push((topic.clone(), case.to_owned(), now));
        }
        let cases = recent.seen.iter().filter(|(t, ..)| t == topic).count();
        if cases >= threshold.max(2) && !recent.alerted.iter().any(|(t, _)| t == topic) {
            recent.alerted.push((topic.clone(), now));
            spikes.push(Spike { topic: topic.trim_start_matches('~').to_owned(), cases });
        }
    }
    if recent.seen.len() > MAX_SEEN {
        let extra = recent.seen.len() - MAX_SEEN;
        recent.seen.drain(..extra);
    }
    spikes
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn many_cases_on_one_topic_alert_once_per_window() {
        let watched =
            [Topic { name: "plataforma".into(), phrases: vec!["campus virtual".into(), "plataforma".into()] }];
        let mut recent = Recent::default();
        let mut alerts = vec![];
        for i in 0..6 {
            let topics = topics_of("El campus virtual no carga desde esta mañana", &watched, false);
            assert_eq!(topics, ["plataforma"]);
            alerts.extend(observe(&mut recent, &topics, &format!("case-{i}"), i * MIN, 30 * MIN, 5));
        }
        assert_eq!(alerts, vec![Spike { topic: "plataforma".into(), cases: 5 }]);
        // The same case writing again counts once.
        let again = observe(&mut recent, &["plataforma".into()], "case-0", 7 * MIN, 30 * MIN, 5);
        assert!(again.is_empty());
        // A window later, a new wave alerts again.
        let mut later = vec![];
        for i in 0..5 {
            later.extend(observe(&mut recent, &["plataforma".into()], &format!("new-{i}"), 60 * MIN + i, 30 * MIN, 5));
        }
        assert_eq!(later.len(), 1);
    }

    #[test]
    fn automatic_topics_are_content_words() {
        let topics = topics_of("Hola, necesito ayuda: los pagos de matrículas fallan", &[], true);
        assert_eq!(topics, ["~pago", "~matricula", "~fallan"]);
        // Cases spread over topics do not spike.
        let mut recent = Recent::default();
        let mut alerts = vec![];
        for (i, text) in
            ["horario biblioteca", "certificado notas", "becas deportivas", "carné estudiantil"].iter().enumerate()
        {
            alerts.extend(observe(&mut recent, &topics_of(text, &[], true), &format!("c{i}"), 0, 30 * MIN, 3));
        }
        assert!(alerts.is_empty(), "{alerts:?}");
    }
}
