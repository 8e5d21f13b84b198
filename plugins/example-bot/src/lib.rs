//! An example bot: says it is a bot on the first message of a case, hands
//! off when the person asks for a human, and otherwise answers from the
//! knowledge base. A starting point for plugin authors (docs/plugins.md).

use serde::Deserialize;
use ventanilla_sdk::actions::{hand_off, reply, reply_with_options};
use ventanilla_sdk::bot::ventanilla::plugin::{kb, kv, log};
use ventanilla_sdk::bot::{Action, BotEvent, Guest, PluginError};

#[derive(Deserialize)]
struct Settings {
    #[serde(default = "default_greeting")]
    greeting: String,
    handoff_unit: String,
}

fn default_greeting() -> String {
    "Hola, soy el asistente virtual.".into()
}

struct ExampleBot;

impl Guest for ExampleBot {
    fn on_message(event: BotEvent) -> Result<Vec<Action>, PluginError> {
        let settings: Settings = serde_json::from_str(&event.settings)
            .map_err(|e| PluginError { message: format!("invalid settings: {e}") })?;
        let mut actions = vec![];
        let greeted_key = format!("greeted:{}", event.case.id);
        if kv::get(&greeted_key).ok().flatten().is_none() {
            actions.push(reply(settings.greeting.clone()));
            let _ = kv::set(&greeted_key, b"1");
        }
        let text = event.message.body.to_lowercase();
        if ["humano", "persona", "asesor", "agente"].iter().any(|w| text.contains(w)) {
            log::log(log::Level::Info, "hand-off requested");
            actions.push(reply("Te comunico con una persona de nuestro equipo."));
            actions.push(hand_off(settings.handoff_unit, "requested by the contact"));
            return Ok(actions);
        }
        match kb::search(&event.message.body, Some(&event.locale), 3) {
            Ok(hits) if hits.first().is_some_and(|h| h.confidence >= 0.5) => {
                let hit = &hits[0];
                actions.push(reply(format!("{}\n{}", hit.short_answer, hit.url)));
                actions.push(reply_with_options(
                    "¿Resolvió tu duda?",
                    [("yes", "Sí"), ("no", "No"), ("human", "Hablar con una persona")],
                ));
            }
            _ => actions.push(reply_with_options(
                "No encontré una respuesta. ¿Quieres hablar con una persona?",
                [("human", "Sí, por favor"), ("rephrase", "Lo diré de otra forma")],
            )),
        }
        Ok(actions)
    }
}

ventanilla_sdk::bot::export_bot!(ExampleBot);
