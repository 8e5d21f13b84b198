//! crisis-protocol: people in crisis reach people at once.
//!
//! Each message a person writes is read for crisis signals (suicide,
//! self-harm, violence, abuse: Spanish phrases, without accents, with
//! misspellings; everyday expressions like "me muero de risa" left alone).
//! On a signal, as configured: the emergency lines are sent first, the case
//! becomes urgent and tagged, it leaves the bot for the crisis unit's queue,
//! and that unit's on-call people are told. Protocols see a message before
//! the bot does, so the bot never answers it.
//!
//! A second mode watches for spikes: many different cases about one topic
//! (a watched topic, or the same content word) within a window alert the
//! supervisors once per window.

mod signals;
mod spike;

use serde::Deserialize;
use signals::{Kind, Signals};
use ventanilla_sdk::actions::{add_tag, hand_off, notify_on_call, notify_supervisors, reply, set_priority};
use ventanilla_sdk::protocol::{EventKind, Guest, ProtocolEvent};
use ventanilla_sdk::text::Strings;
use ventanilla_sdk::types::{Action, AuthorKind, CaseStatus, PluginError, Priority};
use ventanilla_sdk::{clock, kv, log};

#[derive(Deserialize)]
#[serde(default)]
struct Settings {
    /// Kinds of crisis watched; all by default.
    kinds: Vec<String>,
    /// More phrases per kind, e.g. {"violence": ["me persigue"]}.
    signals: std::collections::BTreeMap<String, Vec<String>>,
    /// Everyday expressions to leave alone.
    ignore: Vec<String>,
    /// The psychological-support unit whose queue takes crisis cases.
    crisis_unit: Option<String>,
    /// Sent at once; by default the built-in text with national lines.
    emergency_reply: Option<String>,
    reply: bool,
    mark_urgent: bool,
    tag: String,
    bypass_bot: bool,
    notify_on_call: bool,
    spike: SpikeSettings,
    locale: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            kinds: vec![],
            signals: Default::default(),
            ignore: vec![],
            crisis_unit: None,
            emergency_reply: None,
            reply: true,
            mark_urgent: true,
            tag: "crisis".into(),
            bypass_bot: true,
            notify_on_call: true,
            spike: SpikeSettings::default(),
            locale: "es".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default)]
struct SpikeSettings {
    enabled: bool,
    window_minutes: u32,
    threshold: u32,
    topics: Vec<spike::Topic>,
    /// Also count content words, not only the watched topics.
    automatic: bool,
    /// Whose supervisors are told; by default the case's unit.
    notify_unit: Option<String>,
}

impl Default for SpikeSettings {
    fn default() -> Self {
        SpikeSettings {
            enabled: false,
            window_minutes: 30,
            threshold: 10,
            topics: vec![],
            automatic: true,
            notify_unit: None,
        }
    }
}

fn signals_of(settings: &Settings) -> Result<Signals, PluginError> {
    let invalid = |name: &str| PluginError { message: format!("invalid settings: `{name}` is not a kind of crisis") };
    let kinds = if settings.kinds.is_empty() {
        Kind::ALL.to_vec()
    } else {
        settings.kinds.iter().map(|k| Kind::parse(k).ok_or_else(|| invalid(k))).collect::<Result<_, _>>()?
    };
    let mut extra = vec![];
    for (name, phrases) in &settings.signals {
        let kind = Kind::parse(name).ok_or_else(|| invalid(name))?;
        extra.extend(phrases.iter().map(|p| (kind, p.clone())));
    }
    Ok(Signals { kinds, extra, ignore: settings.ignore.clone() })
}

/// At most `n` characters of the message, for a notification.
fn excerpt(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if text.chars().count() > n {
        out.push('…');
    }
    out
}

fn crisis_key(case: &str) -> String {
    format!("crisis:{case}")
}

const SPIKE_KEY: &str = "spike";

/// Notes the message's topics in the install's shared record (every case
/// of every unit writes it) and returns the spikes to alert about. The
/// record is replaced only if nobody changed it meanwhile (`kv::swap`), so
/// concurrent messages neither lose counts nor alert twice.
fn observe_shared(topics: &[String], case: &str, window: i64, threshold: usize) -> Vec<spike::Spike> {
    for _ in 0..8 {
        let stored = match kv::get(SPIKE_KEY) {
            Ok(stored) => stored,
            Err(e) => {
                log::log(log::Level::Warn, &format!("cannot read the recent topics: {e:?}"));
                return vec![];
            }
        };
        let mut recent: spike::Recent =
            stored.as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        let spikes = spike::observe(&mut recent, topics, case, clock::now_ms(), window, threshold);
        let bytes = serde_json::to_vec(&recent).unwrap_or_default();
        match kv::swap(SPIKE_KEY, stored.as_deref(), &bytes) {
            Ok(true) => return spikes,
            Ok(false) => continue,
            Err(e) => {
                log::log(log::Level::Warn, &format!("cannot keep the recent topics: {e:?}"));
                return vec![];
            }
        }
    }
    log::log(log::Level::Warn, "the recent topics kept changing; this message was not counted");
    vec![]
}

struct CrisisProtocol;

impl Guest for CrisisProtocol {
    fn on_event(event: ProtocolEvent) -> Result<Vec<Action>, PluginError> {
        let EventKind::MessageIn(message) = &event.kind else {
            return Ok(vec![]);
        };
        if message.author_kind != AuthorKind::Contact {
            return Ok(vec![]);
        }
        let settings: Settings = serde_json::from_str(&event.settings)
            .map_err(|e| PluginError { message: format!("invalid settings: {e}") })?;
        let case = &event.case;
        let strings = Strings::of(include_str!("strings.json"), &settings.locale);
        let number = case.number.to_string();
        let mut actions = vec![];
        let found = signals_of(&settings)?.find(&message.body);
        // One response per case: later messages of a case already handled
        // are the people's to answer.
        let handled = found.is_some() && kv::get(&crisis_key(&case.id)).ok().flatten().is_some();
        if let (Some(found), false) = (&found, handled) {
            let kind = strings.get(found.kind.name());
            log::log(log::Level::Warn, &format!("crisis signal ({}) in case #{number}", found.kind.name()));
            if settings.reply {
                let text = settings.emergency_reply.clone().unwrap_or_else(|| strings.get("emergency"));
                actions.push(reply(text));
            }
            if settings.mark_urgent && case.priority != Priority::Urgent {
                actions.push(set_priority(Priority::Urgent));
            }
            if !settings.tag.is_empty() {
                actions.push(add_tag(settings.tag.clone()));
            }
            let unit = settings.crisis_unit.clone().unwrap_or_else(|| case.unit_slug.clone());
            let with_bot = case.status == CaseStatus::Bot;
            if settings.bypass_bot && (with_bot || unit != case.unit_slug) {
                actions.push(hand_off(&unit, strings.fill("handoff", &[("kind", &kind)])));
            }
            if settings.notify_on_call {
                let vars =
                    [("kind", kind.as_str()), ("number", number.as_str()), ("excerpt", &excerpt(&message.body, 160))];
                actions.push(notify_on_call(&unit, strings.fill("alert", &vars)));
            }
            if let Err(e) = kv::set(&crisis_key(&case.id), found.kind.name().as_bytes()) {
                log::log(log::Level::Warn, &format!("cannot remember the crisis of case #{number}: {e:?}"));
            }
        }
        if settings.spike.enabled {
            let topics = spike::topics_of(&message.body, &settings.spike.topics, settings.spike.automatic);
            if !topics.is_empty() {
                let window = i64::from(settings.spike.window_minutes.max(1)) * 60_000;
                let threshold = settings.spike.threshold as usize;
                let spikes = observe_shared(&topics, &case.id, window, threshold);
                let unit = settings.spike.notify_unit.clone().unwrap_or_else(|| case.unit_slug.clone());
                for s in spikes {
                    let vars = [
                        ("cases", s.cases.to_string()),
                        ("topic", s.topic),
                        ("minutes", settings.spike.window_minutes.to_string()),
                        ("number", number.clone()),
                    ];
                    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    actions.push(notify_supervisors(&unit, strings.fill("spike", &vars)));
                }
            }
        }
        Ok(actions)
    }
}

ventanilla_sdk::protocol::export_protocol!(CrisisProtocol);
