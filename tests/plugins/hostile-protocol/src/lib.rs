//! A protocol for tests, chosen by `{"mode": ...}` in its settings: it
//! escalates urgent words, plays with timers, reads its case, closes it, or
//! fails.

use ventanilla_sdk::actions::{add_tag, notify_supervisors, reply, schedule_timer, set_priority};
use ventanilla_sdk::protocol::ventanilla::plugin::cases;
use ventanilla_sdk::protocol::{EventKind, Guest, ProtocolEvent};
use ventanilla_sdk::types::{Action, PluginError, Priority};

struct Protocol;

impl Guest for Protocol {
    fn on_event(event: ProtocolEvent) -> Result<Vec<Action>, PluginError> {
        let settings: serde_json::Value = serde_json::from_str(&event.settings).unwrap_or_default();
        let case = &event.case;
        match settings["mode"].as_str().unwrap_or("crisis") {
            "loop" => loop {
                std::hint::black_box(0u8);
            },
            "panic" => panic!("the protocol fell over"),
            "error" => Err(PluginError { message: "no puedo".into() }),
            // Asks for something impossible: the batch must not be applied.
            "invalid" => Ok(vec![add_tag("aplicado"), Action::Assign("not-a-user".into())]),
            // Tags every event with its kind, so tests can count them.
            "record" => {
                let kind = match &event.kind {
                    EventKind::CaseCreated => "created".to_owned(),
                    EventKind::MessageIn(_) => "message".to_owned(),
                    EventKind::StatusChanged((_, to)) => format!("status-{to:?}").to_lowercase(),
                    EventKind::Assigned(_) => "assigned".to_owned(),
                    EventKind::TimerFired((name, _)) => format!("timer-{name}"),
                };
                Ok(vec![add_tag(format!("ev-{kind}"))])
            }
            // Schedules a short timer on creation; when it fires, escalates.
            "timer" => match &event.kind {
                EventKind::CaseCreated => Ok(vec![schedule_timer("sla", 200, "primera-respuesta")]),
                EventKind::TimerFired((name, payload)) => Ok(vec![
                    set_priority(Priority::Urgent),
                    add_tag(format!("{name}-{payload}")),
                    notify_supervisors(&case.unit_slug, format!("Caso #{} sin respuesta", case.number)),
                ]),
                _ => Ok(vec![]),
            },
            // Reads its own case and another one.
            "read" => {
                let own = match cases::get(&case.id) {
                    Ok(c) => format!("own={}", c.number),
                    Err(e) => format!("own={e:?}"),
                };
                let other = match cases::get("00000000-0000-7000-8000-000000000000") {
                    Ok(_) => "other=ok".to_owned(),
                    Err(e) => format!("other={e:?}"),
                };
                let recent = cases::recent_messages(&case.id, 5).map(|m| m.len()).unwrap_or(0);
                Ok(vec![reply(format!("{own} {other} recent={recent}"))])
            }
            // Closes the case whenever the person writes "listo": the host
            // applies the same rules as for an agent (required fields).
            "close" => match &event.kind {
                EventKind::MessageIn(message) if message.body.to_lowercase().contains("listo") => {
                    Ok(vec![Action::Close])
                }
                _ => Ok(vec![]),
            },
            // Crisis protocol: urgent words raise priority and tell supervisors.
            _ => match &event.kind {
                EventKind::MessageIn(message) => {
                    let text = message.body.to_lowercase();
                    if ["suicid", "hacerme daño", "emergencia"].iter().any(|w| text.contains(w)) {
                        Ok(vec![
                            set_priority(Priority::Urgent),
                            add_tag("crisis"),
                            notify_supervisors(&case.unit_slug, format!("Posible crisis en el caso #{}", case.number)),
                        ])
                    } else {
                        Ok(vec![])
                    }
                }
                _ => Ok(vec![]),
            },
        }
    }
}

ventanilla_sdk::protocol::export_protocol!(Protocol);
