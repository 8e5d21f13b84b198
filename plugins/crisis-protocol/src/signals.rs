//! Crisis signals in Spanish: phrases, not single alarming words, matched
//! without accents, with common misspellings and held-down letters; and
//! the everyday expressions that only sound alarming ("me muero de risa").

use ventanilla_sdk::text::{find_phrase, words};

/// What kind of crisis a signal points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Suicide,
    SelfHarm,
    Violence,
    Abuse,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Suicide, Kind::SelfHarm, Kind::Violence, Kind::Abuse];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Suicide => "suicide",
            Kind::SelfHarm => "self_harm",
            Kind::Violence => "violence",
            Kind::Abuse => "abuse",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Built-in signals per kind; words ending in `*` are stems.
const SUICIDE: &[&str] = &[
    "suicid*",
    "quitarme la vida",
    "quitarme mi vida",
    "me quiero morir",
    "quiero morirme",
    "quisiera morirme",
    "quisiera estar muert*",
    "ojala estuviera muert*",
    "mejor muert*",
    "no quiero vivir",
    "no quiero seguir viviendo",
    "ya no quiero estar aqui",
    "no le veo sentido a la vida",
    "no tiene sentido vivir",
    "acabar con mi vida",
    "terminar con mi vida",
    "acabar con todo",
    "matarme",
    "me voy a matar",
    "me quiero matar",
    "quitarme del medio",
    "desaparecer para siempre",
    "despedirme de todos",
    "ya no aguanto mas",
    "no puedo mas con mi vida",
];

const SELF_HARM: &[&str] = &[
    "hacerme dano",
    "me hago dano",
    "hacerme danio",
    "lastimarme",
    "me lastimo",
    "cortarme",
    "me corto",
    "me estoy cortando",
    "autolesion*",
    "me autolesiono",
    "quemarme",
    "golpearme",
];

const VIOLENCE: &[&str] = &[
    "me golpea",
    "me golpeo",
    "me pega",
    "me pego",
    "me amenaz*",
    "amenaza de muerte",
    "amenazas de muerte",
    "me quiere matar",
    "me va a matar",
    "me van a matar",
    "me agredi*",
    "me maltrat*",
    "violencia intrafamiliar",
    "violencia domestica",
    "violencia de genero",
    "tengo miedo de volver a casa",
    "me tiene encerrad*",
];

const ABUSE: &[&str] = &[
    "abuso sexual",
    "abusaron de mi",
    "abuso de mi",
    "me abusa",
    "me violaron",
    "me violo",
    "victima de violacion",
    "victima de una violacion",
    "me acosa",
    "acoso sexual",
    "me toca sin",
    "tocamientos",
    "me obligo a tener relaciones",
];

/// Expressions that only sound alarming: a signal is ignored when one of
/// these starts at or right after it ("me va a matar de risa").
const NOT_A_CRISIS: &[&str] = &[
    "de risa",
    "de la risa",
    "de hambre",
    "de sueno",
    "de ganas",
    "de calor",
    "de frio",
    "de aburrimiento",
    "de la verguenza",
    "de verguenza",
    "de amor",
    "por verte",
    "jaja*",
    "jsjs*",
    "estudiando",
    "trabajando",
    "con esta tarea",
    "con tanta tarea",
    "con los parciales",
    "con el calor",
    "el pelo",
    "el cabello",
    "las unas",
];

fn builtin(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Suicide => SUICIDE,
        Kind::SelfHarm => SELF_HARM,
        Kind::Violence => VIOLENCE,
        Kind::Abuse => ABUSE,
    }
}

/// A signal found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    pub phrase: String,
}

/// Signals per kind: the built-in ones unless switched off, plus the
/// unit's own; `ignore` adds everyday expressions to leave alone.
#[derive(Debug, Default, Clone)]
pub struct Signals {
    pub kinds: Vec<Kind>,
    pub extra: Vec<(Kind, String)>,
    pub ignore: Vec<String>,
}

impl Signals {
    /// The first signal in `text`, unless only an everyday expression.
    pub fn find(&self, text: &str) -> Option<Found> {
        let words = words(text);
        let ignore: Vec<Vec<&str>> = NOT_A_CRISIS
            .iter()
            .map(|p| p.split_whitespace().collect())
            .chain(self.ignore.iter().map(|p| p.split_whitespace().collect()))
            .collect();
        let candidates = self
            .kinds
            .iter()
            .flat_map(|k| builtin(*k).iter().map(move |p| (*k, p.to_string())))
            .chain(self.extra.iter().cloned());
        for (kind, phrase) in candidates {
            let pattern: Vec<&str> = phrase.split_whitespace().collect();
            let mut from = 0;
            while from < words.len() {
                let Some(at) = find_phrase(&words[from..], &pattern).map(|i| i + from) else {
                    break;
                };
                let end = at + pattern.len();
                // "me muero de risa": what follows makes it everyday talk.
                let everyday = ignore
                    .iter()
                    .any(|p| (end..=(end + 2).min(words.len())).any(|i| find_phrase(&words[i..], p) == Some(0)));
                if !everyday {
                    return Some(Found { kind, phrase });
                }
                from = at + 1;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Signals {
        Signals { kinds: Kind::ALL.to_vec(), ..Signals::default() }
    }

    #[test]
    fn crisis_messages_are_recognised_as_people_write_them() {
        let cases = [
            ("Ya no quiero vivir, estoy cansada de todo", Kind::Suicide),
            ("he pensado en suicidarme", Kind::Suicide),
            ("pienso en el suisidio todos los dias", Kind::Suicide),
            ("QUIERO QUITARME LA VIDA", Kind::Suicide),
            ("me quiero moriiir", Kind::Suicide),
            ("quiero matarme", Kind::Suicide),
            ("no le veo sentido a la vida", Kind::Suicide),
            ("a veces me corto los brazos", Kind::SelfHarm),
            ("Tengo pensamientos de hacerme daño", Kind::SelfHarm),
            ("mi pareja me golpea", Kind::Violence),
            ("me amenazó con un cuchillo", Kind::Violence),
            ("un profesor me acosa", Kind::Abuse),
            ("sufrí abuso sexual", Kind::Abuse),
        ];
        for (text, kind) in cases {
            let found = all().find(text);
            assert_eq!(found.as_ref().map(|f| f.kind), Some(kind), "{text}: {found:?}");
        }
    }

    #[test]
    fn everyday_expressions_are_not_a_crisis() {
        for text in [
            "me muero de risa",
            "jajaja me muero",
            "me muero de hambre, ¿a qué hora abre la cafetería?",
            "esta tarea me va a matar jajaja",
            "me quiero morir de la vergüenza, olvidé la cita",
            "me voy a matar estudiando para el parcial",
            "¿cómo pago la matrícula?",
            "necesito el certificado de notas",
            "mi computador murió, ¿me prestan uno?",
            "no quiero seguir con el trámite",
            "me corto el pelo antes de la foto del carné",
            "me obligo a estudiar todos los días",
        ] {
            assert_eq!(all().find(text), None, "{text}");
        }
    }

    #[test]
    fn units_add_their_own_signals_and_exceptions() {
        let mut signals = Signals { kinds: vec![Kind::Violence], ..Signals::default() };
        assert_eq!(signals.find("quiero matarme"), None, "suicide signals are off");
        signals.extra.push((Kind::Violence, "me persigue".into()));
        assert_eq!(signals.find("alguien me persigue a la salida").map(|f| f.kind), Some(Kind::Violence));
        signals.ignore.push("en el juego".into());
        assert_eq!(signals.find("me persigue en el juego"), None);
    }
}
