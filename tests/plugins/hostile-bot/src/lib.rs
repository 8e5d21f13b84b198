//! A bot that misbehaves on purpose, chosen by `{"mode": ...}` in its
//! settings, so the host's limits and fail-safes can be tested for real.
//! A few well-behaved modes serve the plugin benchmark.

use ventanilla_sdk::actions::reply;
use ventanilla_sdk::bot::ventanilla::plugin::{kb, kv, log};
use ventanilla_sdk::bot::{Action, BotEvent, Guest, PluginError};

struct Hostile;

impl Guest for Hostile {
    fn on_message(event: BotEvent) -> Result<Vec<Action>, PluginError> {
        let settings: serde_json::Value = serde_json::from_str(&event.settings).unwrap_or_default();
        match settings["mode"].as_str().unwrap_or("echo") {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = vec![];
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the bot fell over"),
            "huge-output" => Ok(vec![reply("x".repeat(1024 * 1024))]),
            "many-actions" => Ok((0..1000).map(|i| reply(i.to_string())).collect()),
            "log-flood" => {
                for _ in 0..1000 {
                    log::log(log::Level::Info, &"y".repeat(1024));
                }
                Ok(vec![reply("logged")])
            }
            "error" => Err(PluginError { message: "no puedo".into() }),
            // Offers as many quick replies as the message's number says, so
            // connectors' buttons, lists and numbered fallbacks can be tested.
            "options" => {
                // "N" offers N options; "N largas" gives them long labels.
                let mut words = event.message.body.split_whitespace();
                let n: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(2);
                let long = words.next() == Some("largas");
                let label = |i: usize| {
                    if long { format!("Opción {i} con una descripción larga") } else { format!("Opción {i}") }
                };
                let labels: Vec<(String, String)> = (1..=n).map(|i| (format!("opt-{i}"), label(i))).collect();
                Ok(vec![ventanilla_sdk::actions::reply_with_options(
                    "Elige una opción",
                    labels.iter().map(|(id, label)| (id.as_str(), label.as_str())),
                )])
            }
            // Asks for consent to process personal data.
            "consent" => Ok(vec![ventanilla_sdk::actions::request_consent("data_processing")]),
            // Benchmark modes: no work, plain echo, and a thousand host calls.
            "noop" => Ok(vec![]),
            "echo-plain" => Ok(vec![reply(format!("Recibí: {}", event.message.body))]),
            "clock-1000" => {
                let mut last = 0;
                for _ in 0..1000 {
                    last = std::hint::black_box(ventanilla_sdk::bot::ventanilla::plugin::clock::now_ms());
                }
                Ok(vec![reply(last.to_string())])
            }
            // Answers with the knowledge-base hits for the message: the
            // consistency tests compare them with the API and help center.
            "kb-answer" => match kb::search(&event.message.body, None, 5) {
                Ok(hits) => {
                    let titles: Vec<String> = hits.iter().map(|h| format!("{}|{}", h.title, h.url)).collect();
                    Ok(vec![reply(format!("kb:{}", titles.join(";")))])
                }
                Err(e) => Ok(vec![reply(format!("kb-error:{e:?}"))]),
            },
            "capabilities" => {
                let kv = match kv::set("k", b"v") {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => format!("{e:?}"),
                };
                let kb = match kb::search("becas", None, 1) {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => format!("{e:?}"),
                };
                Ok(vec![reply(format!("kv={kv} kb={kb}"))])
            }
            _ => {
                let count = kv::get("count")
                    .ok()
                    .flatten()
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|s| s.parse::<u32>().ok())
                    .unwrap_or(0)
                    + 1;
                let _ = kv::set("count", count.to_string().as_bytes());
                Ok(vec![reply(format!("{} #{count}", event.message.body))])
            }
        }
    }
}

ventanilla_sdk::bot::export_bot!(Hostile);
