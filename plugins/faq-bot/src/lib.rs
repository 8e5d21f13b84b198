//! FAQ bot: answers from the institution's knowledge base through the
//! host's search (the same ranking as the help center).
//!
//! - It greets saying it is a bot (name and texts are settings).
//! - One confident hit: the article's short answer, a link to it, and
//!   "¿Resolvió tu duda?" with Sí / No / Hablar con alguien (short enough
//!   for WhatsApp's buttons).
//! - Several close hits: they are offered as options.
//! - Nothing good: it asks to rephrase once, then offers the units menu or
//!   a person.
//! - A request for a person ("asesor", "humano", "agente", with typos and
//!   without accents) hands off at once, to `handoff_unit` or the case's unit.
//! - "Sí" closes the conversation with the closing text; "No" offers the
//!   units menu or a person.
//!
//! What it offered a conversation is kept in kv under the case; where the
//! conversation stands (the article answered with, the search's confidence,
//! answered / confirmed / handed off / unanswered) is reported to the host
//! for the bot reports (WIT 1.4 `outcomes`).

mod intent;

use serde::Deserialize;
use ventanilla_sdk::actions::{close, hand_off, reply, reply_with_options, request_consent};
use ventanilla_sdk::bot::ventanilla::plugin::kb::{self, Hit};
use ventanilla_sdk::bot::ventanilla::plugin::outcomes::{self, Outcome};
use ventanilla_sdk::bot::ventanilla::plugin::{kv, log};
use ventanilla_sdk::bot::{Action, BotEvent, Guest, PluginError};
use ventanilla_sdk::text::Strings;

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
    /// Ask for consent to this purpose (e.g. `data_processing`) at the start.
    consent_purpose: Option<String>,
}

#[derive(Deserialize, Clone)]
struct MenuUnit {
    slug: String,
    label: String,
}

/// What the conversation has been offered, kept between messages.
#[derive(serde::Serialize, Deserialize, Default)]
struct Memory {
    greeted: bool,
    /// It already asked to rephrase once.
    rephrased: bool,
    /// Articles offered as options: id, title, answer, link, confidence.
    offered: Vec<(String, String, String, String, f32)>,
    /// The article answered with last, and the search's confidence.
    #[serde(default)]
    answered: Option<(String, f32)>,
    /// It already asked for consent.
    #[serde(default)]
    consent_asked: bool,
}

fn memory_key(case: &str) -> String {
    format!("conversation:{case}")
}

struct FaqBot;

impl Guest for FaqBot {
    fn on_message(event: BotEvent) -> Result<Vec<Action>, PluginError> {
        let settings: Settings = serde_json::from_str(&event.settings)
            .map_err(|e| PluginError { message: format!("invalid settings: {e}") })?;
        let strings = Strings::of(include_str!("strings.json"), &event.locale);
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
        // Before anything personal is kept, the person is asked (habeas
        // data); the answer does not change what the bot answers.
        let mut asked_consent = false;
        if let Some(purpose) = &settings.consent_purpose
            && !memory.consent_asked
            && !event.contact.consents.contains(purpose)
        {
            actions.push(request_consent(purpose.clone()));
            memory.consent_asked = true;
            asked_consent = true;
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
        // Where the conversation stands after this message, if it moved.
        let mut outcome = None;
        if chosen == "faq:yes" {
            actions.push(reply(settings.closing.clone().unwrap_or_else(|| strings.get("closing"))));
            actions.push(close());
            outcome = Some(Outcome::Confirmed);
        } else if chosen == "faq:no" {
            actions.push(menu(&strings.get("sorry")));
            outcome = Some(Outcome::Unanswered);
        } else if chosen == "faq:human" || intent::wants_a_person(&body) {
            log::log(log::Level::Info, "a person was asked for");
            person(&mut actions, &handoff_unit, "the person asked for a person");
            outcome = Some(Outcome::HandedOff);
        } else if let Some(unit) = chosen.strip_prefix("unit:") {
            let known = settings.units_menu.iter().any(|u| u.slug == unit);
            person(&mut actions, if known { unit } else { &handoff_unit }, "chosen from the bot's units menu");
            outcome = Some(Outcome::HandedOff);
        } else if let Some(id) = chosen.strip_prefix("article:") {
            match memory.offered.iter().find(|(offered, ..)| offered == id) {
                Some((id, _, answer, url, confidence)) => {
                    answer_with(&mut actions, &strings, answer, url);
                    memory.answered = Some((id.clone(), *confidence));
                    outcome = Some(Outcome::Answered);
                }
                None => actions.push(reply(strings.get("ask"))),
            }
        } else if chosen.starts_with("consent:") {
            // The host records the answer; the bot says what it means.
            let said_no = chosen.starts_with("consent:revoke");
            actions.push(reply(strings.get(if said_no { "consent_declined" } else { "consent_thanks" })));
        } else if intent::only_greets(&body) && asked_consent {
            // The consent question is enough for a first "hola".
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
                    outcome = Some(Outcome::Unanswered);
                }
                [] => {
                    actions.push(menu(&strings.get("menu")));
                    outcome = Some(Outcome::Unanswered);
                }
                [best, rest @ ..] => {
                    let close: Vec<&&Hit> = rest.iter().filter(|h| best.confidence - h.confidence <= margin).collect();
                    if close.is_empty() {
                        answer_with(&mut actions, &strings, &best.short_answer, &best.url);
                        memory.answered = Some((best.article_id.clone(), best.confidence));
                        outcome = Some(Outcome::Answered);
                    } else {
                        outcome = Some(Outcome::Unanswered);
                        let options: Vec<&Hit> =
                            std::iter::once(*best).chain(close.into_iter().copied()).take(3).collect();
                        memory.offered = options
                            .iter()
                            .map(|h| {
                                let h = (*h).clone();
                                (h.article_id, h.title, h.short_answer, h.url, h.confidence)
                            })
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
        if let Some(outcome) = outcome {
            let (article, confidence) = match &memory.answered {
                Some((article, confidence)) => (Some(article.as_str()), Some(*confidence)),
                None => (None, None),
            };
            outcomes::report(outcome, article, confidence);
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
