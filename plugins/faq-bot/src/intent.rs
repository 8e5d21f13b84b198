//! What a message asks for, read the way people write in chats: without
//! accents, with typos.

use ventanilla_sdk::text::{find_phrase, like, words};

/// Words that on their own ask for a person.
const PERSON_WORDS: [&str; 10] =
    ["asesor", "asesora", "humano", "humana", "agente", "operador", "operadora", "funcionario", "human", "atendente"];

/// Phrases (as word sequences) that ask for a person.
const PERSON_PHRASES: [&[&str]; 8] = [
    &["hablar", "con", "una", "persona"],
    &["hablar", "con", "alguien"],
    &["persona", "real"],
    &["atencion", "personalizada"],
    &["talk", "to", "a", "person"],
    &["speak", "to", "someone"],
    &["falar", "com", "uma", "pessoa"],
    &["falar", "com", "alguem"],
];

/// Whether the person asks to talk to a human.
pub fn wants_a_person(text: &str) -> bool {
    let words = words(text);
    if words.iter().any(|w| PERSON_WORDS.iter().any(|p| like(w, p))) {
        return true;
    }
    PERSON_PHRASES.iter().any(|phrase| find_phrase(&words, phrase).is_some())
}

/// Greetings that ask nothing yet.
const GREETINGS: [&str; 14] = [
    "hola", "buenas", "buenos", "dias", "tardes", "noches", "saludos", "hi", "hello", "ola", "oi", "bom", "dia", "hey",
];

/// Whether the message only greets.
pub fn only_greets(text: &str) -> bool {
    let words = words(text);
    !words.is_empty() && words.iter().all(|w| GREETINGS.iter().any(|g| like(w, g)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_for_a_person_are_recognised_as_people_write_them() {
        for text in [
            "quiero hablar con un asesor",
            "Quiero hablar con un asesro",
            "HUMANO",
            "me pasas con un agente?",
            "puedo hablar con una persona",
            "quiero hablar con alguien por favor",
            "operadora",
            "necesito atención personalizada",
            "talk to a person",
        ] {
            assert!(wants_a_person(text), "{text}");
        }
        for text in
            ["¿cómo pago la matrícula?", "horario de la biblioteca", "becas para estudiantes", "me muero de risa"]
        {
            assert!(!wants_a_person(text), "{text}");
        }
    }

    #[test]
    fn greetings_alone_ask_nothing() {
        assert!(only_greets("Hola!"));
        assert!(only_greets("buenas tardes"));
        assert!(!only_greets("hola, ¿cómo pago la matrícula?"));
        assert!(!only_greets(""));
    }
}
