//! FAQ bot: answers from the institution's knowledge base through the
//! host's search (the same ranking as the help center).
//!
//! - It greets saying it is a bot (name and texts are settings).
//! - One confident hit: the article's short answer, a link to it, and
//!   "¿Resolvió tu duda?" with Sí / No / Hablar con una persona.
//! - Several close hits: they are offered as options.
//! - Nothing good: it asks to rephrase once, then offers the units menu or
//!   a person.
//! - A request for a person ("asesor", "humano", "agente", with typos and
//!   without accents) hands off at once, to `handoff_unit` or the case's unit.
//! - "Sí" closes the conversation with the closing text; "No" offers the
//!   units menu or a person.
//!
//! What it offered a conversation is kept in kv under the case.

mod intent;

use serde::Deserialize;
use serde_json::Value;
use ventanilla_sdk::actions::{close, hand_off, reply, reply_with_options};
use ventanilla_sdk::bot::ventanilla::plugin::kb::{self, Hit};
use ventanilla_sdk::bot::ventanilla::plugin::{kv, log};
use ventanilla_sdk::bot::{Action, BotEvent, Guest, PluginError};

#[derive(Deserialize, Default)]
struct Settings {
    bot_name: Option<String>,
    greeting: Option<String>,
    closing: Option<String>,
    threshold: Option<f32>,
    margin: Option<f32>,
    handoff_unit: Option<String>,
    #[serde(default)]
    units_menu: Vec<MenuUnit>,
    #[serde(default)]
    knowledge_bases: Vec<String>,
}

#[derive(Deserialize, Clone)]
struct MenuUnit {
    slug: String,
    label: String,
}

/// The bot's texts in the conversation's language (`strings.json`).
struct Strings(Value);

impl Strings {
    fn of(locale: &str) -> Strings {
        let all: Value = serde_json::from_str(include_str!("strings.json")).unwrap_or_default();
        let locale = match locale.get(..2) {
            Some("en") => "en",
            Some("pt") => "pt",
            _ => "es",
        };
        Strings(all[locale].clone())
    }

    fn get(&self, key: &str) -> String {
        self.0[key].as_str().unwrap_or(key).to_owned()
    }
}

/// What the conversation has been offered, kept between messages.
#[derive(serde::Serialize, Deserialize, Default)]
struct Memory {
    greeted: bool,
    /// It already asked to rephrase once.
    rephrased: bool,
    /// Articles offered as options: id, title, answer, link.
    offered: Vec<(String, String, String, String)>,
}

fn memory_key(case: &str) -> String {
    format!("conversation:{case}")
}

struct FaqBot;

impl Guest for FaqBot {
    fn on_message(event: BotEvent) -> Result<Vec<Action>, PluginError> {
        let settings: Settings = serde_json::from_str(&event.settings)
            .map_err(|e| PluginError { message: format!("invalid settings: {e}") })?;
        let strings = Strings::of(&event.locale);
        let key = memory_key(&event.case.id);
        let mut memory: Memory =
            kv::get(&key).ok().flatten().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        let mut actions = vec![];
        if !memory.greeted {
            let name = settings.bot_name.clone().unwrap_or_else(|| strings.get("name"));
            let greeting = settings.greeting.clone().unwrap_or_else(|| strings.get("greeting"));
            actions.push(reply(greeting.replace("{name}", &name)));
            memory.greeted = true;
        }
        let handoff_unit = settings.handoff_unit.clone().unwrap_or_else(|| event.case.unit_slug.clone());
        // The host tells the person where their case went and how long it
        // may take (the unit's queue and business hours).
        let person = |actions: &mut Vec<Action>, unit: &str, why: &str| actions.push(hand_off(unit, why));
        let menu = |text: &str| {
            let mut options: Vec<(String, String)> =
                settings.units_menu.iter().map(|u| (format!("unit:{}", u.slug), u.label.clone())).collect();
            options.push(("faq:human".into(), strings.get("human")));
            reply_with_options(text, options.iter().map(|(id, label)| (id.as_str(), label.as_str())))
        };
        let chosen = event.message.selected_option.clone().unwrap_or_default();
        let body = event.message.body.clone();
        if chosen == "faq:yes" {
            actions.push(reply(settings.closing.clone().unwrap_or_else(|| strings.get("closing"))));
            actions.push(close());
        } else if chosen == "faq:no" {
            actions.push(menu(&strings.get("sorry")));
        } else if chosen == "faq:human" || intent::wants_a_person(&body) {
            log::log(log::Level::Info, "a person was asked for");
            person(&mut actions, &handoff_unit, "the person asked for a person");
        } else if let Some(unit) = chosen.strip_prefix("unit:") {
            let known = settings.units_menu.iter().any(|u| u.slug == unit);
            person(&mut actions, if known { unit } else { &handoff_unit }, "chosen from the bot's units menu");
        } else if let Some(id) = chosen.strip_prefix("article:") {
            match memory.offered.iter().find(|(offered, ..)| offered == id) {
                Some((_, _, answer, url)) => answer_with(&mut actions, &strings, answer, url),
                None => actions.push(reply(strings.get("ask"))),
            }
        } else if chosen.starts_with("consent:") {
            // The host records consent answers; nothing to say.
        } else if intent::only_greets(&body) {
            actions.push(reply(strings.get("ask")));
        } else {
            let searched = if settings.knowledge_bases.is_empty() {
                kb::search(&body, Some(&event.locale), 5)
            } else {
                kb::search_in(&body, Some(&event.locale), 5, &settings.knowledge_bases)
            };
            let hits = match searched {
                Ok(hits) => hits,
                Err(e) => {
                    // Without its knowledge base the bot cannot help: a person can.
                    log::log(log::Level::Warn, &format!("knowledge base search failed: {e:?}"));
                    vec![]
                }
            };
            let threshold = settings.threshold.unwrap_or(0.5);
            let margin = settings.margin.unwrap_or(0.08);
            let good: Vec<&Hit> = hits.iter().filter(|h| h.confidence >= threshold).collect();
            match good.as_slice() {
                [] if !memory.rephrased => {
                    memory.rephrased = true;
                    actions.push(reply(strings.get("rephrase")));
                }
                [] => actions.push(menu(&strings.get("menu"))),
                [best, rest @ ..] => {
                    let close: Vec<&&Hit> = rest.iter().filter(|h| best.confidence - h.confidence <= margin).collect();
                    if close.is_empty() {
                        answer_with(&mut actions, &strings, &best.short_answer, &best.url);
                    } else {
                        let options: Vec<&Hit> =
                            std::iter::once(*best).chain(close.into_iter().copied()).take(3).collect();
                        memory.offered = options
                            .iter()
                            .map(|h| (h.article_id.clone(), h.title.clone(), h.short_answer.clone(), h.url.clone()))
                            .collect();
                        let mut choices: Vec<(String, String)> =
                            options.iter().map(|h| (format!("article:{}", h.article_id), h.title.clone())).collect();
                        choices.push(("faq:human".into(), strings.get("human")));
                        actions.push(reply_with_options(
                            strings.get("several"),
                            choices.iter().map(|(id, label)| (id.as_str(), label.as_str())),
                        ));
                    }
                }
            }
        }
        if let Ok(bytes) = serde_json::to_vec(&memory)
            && let Err(e) = kv::set(&key, &bytes)
        {
            log::log(log::Level::Warn, &format!("cannot remember the conversation: {e:?}"));
        }
        Ok(actions)
    }
}

/// An article's short answer with its link, and the question whether it helped.
fn answer_with(actions: &mut Vec<Action>, strings: &Strings, answer: &str, url: &str) {
    let text = if url.is_empty() { answer.to_owned() } else { format!("{answer}\n{}: {url}", strings.get("more")) };
    actions.push(reply(text));
    actions.push(reply_with_options(
        strings.get("confirm"),
        [("faq:yes", strings.get("yes")), ("faq:no", strings.get("no")), ("faq:human", strings.get("human"))]
            .iter()
            .map(|(id, label)| (*id, label.as_str())),
    ));
}

ventanilla_sdk::bot::export_bot!(FaqBot);
