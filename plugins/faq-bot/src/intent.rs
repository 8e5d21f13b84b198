//! What a message asks for, read the way people write in chats: without
//! accents, with typos.

/// Lowercase words without accents or punctuation.
pub fn words(text: &str) -> Vec<String> {
    let plain: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    plain.split_whitespace().map(str::to_owned).collect()
}

/// Edits between two short words: insert, delete, substitute, or swap two
/// neighbours ("asesro" is one slip from "asesor").
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A word that is `target` or a typo of it (one edit; two for long words).
fn like(word: &str, target: &str) -> bool {
    let allowed = match target.chars().count() {
        0..=4 => 0,
        5..=7 => 1,
        _ => 2,
    };
    distance(word, target) <= allowed
}

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
    PERSON_PHRASES.iter().any(|phrase| {
        words.windows(phrase.len()).any(|window| window.iter().zip(phrase.iter()).all(|(w, p)| like(w, p)))
    })
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
