//! Canned responses: answers kept per unit or per person, inserted from the
//! composer by a short name, with variables filled for the case at hand.

use super::Error;
use std::collections::BTreeMap;

/// The variables a canned response may use, as `{{contact.name}}`.
pub const VARIABLES: [&str; 6] =
    ["contact.name", "contact.first_name", "agent.name", "unit.name", "case.number", "case.subject"];

/// A response's short name: what the agent types after `/` in the composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortcut(String);

impl Shortcut {
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        let value = value.trim().trim_start_matches('/').to_lowercase();
        let ok = !value.is_empty()
            && value.chars().count() <= 40
            && value.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(Error::invalid(field, "1 to 40 letters, digits, `-` or `_`, e.g. `horario-atencion`"));
        }
        Ok(Shortcut(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `{{name}}` placeholders in `body`, in order, without spaces.
pub fn placeholders(body: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    out
}

/// Checks that `body` only uses known variables.
pub fn check_body(field: &str, body: &str) -> Result<(), Error> {
    let unknown: Vec<String> = placeholders(body).into_iter().filter(|p| !VARIABLES.contains(&p.as_str())).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "unknown variable {}; use {}",
            unknown.iter().map(|u| format!("{{{{{u}}}}}")).collect::<Vec<_>>().join(", "),
            VARIABLES.iter().map(|v| format!("{{{{{v}}}}}")).collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// `body` with each known variable replaced by its value (an unknown one,
/// or one without a value, by nothing), and the spaces that leaves tidied.
pub fn fill(body: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&rest[..start]);
        out.push_str(values.get(after[..end].trim()).map_or("", String::as_str));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    // "Hola , ..." when a name is missing reads as "Hola, ...".
    out.replace(" ,", ",").replace("  ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_variables_and_tidies_missing_ones() {
        let values: BTreeMap<&str, String> =
            [("contact.first_name", "Ana".to_owned()), ("agent.name", "Laura Gómez".to_owned())].into();
        assert_eq!(fill("Hola {{ contact.first_name }}, soy {{agent.name}}.", &values), "Hola Ana, soy Laura Gómez.");
        assert_eq!(fill("Hola {{contact.name}}, ¿cómo vas?", &BTreeMap::new()), "Hola, ¿cómo vas?");
        assert_eq!(fill("Sin cierre {{contact.name", &values), "Sin cierre {{contact.name");
    }

    #[test]
    fn unknown_variables_are_named() {
        assert!(check_body("body", "Hola {{contact.name}}").is_ok());
        let err = check_body("body", "Hola {{contacto}}").unwrap_err().to_string();
        assert!(err.contains("{{contacto}}") && err.contains("{{contact.name}}"), "{err}");
    }

    #[test]
    fn shortcuts_are_short_names() {
        assert_eq!(Shortcut::parse("s", "/Horario").unwrap().as_str(), "horario");
        assert!(Shortcut::parse("s", "dos palabras").is_err());
        assert!(Shortcut::parse("s", "").is_err());
    }
}
