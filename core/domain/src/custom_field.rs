//! The custom fields a unit defines for its cases ("motivo de contacto",
//! "programa académico"...): their kinds, how values are checked, and which
//! must be filled before a case is resolved. Keys a unit does not define
//! are kept as given (integrations store their own).

use super::Error;
use serde::{Deserialize, Serialize};

/// What a field holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    /// `YYYY-MM-DD`.
    Date,
    Checkbox,
    /// One of `options`.
    Select {
        options: Vec<String>,
    },
}

/// One field a unit defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// The key in a case's `custom_fields`: lowercase letters, digits, `_`.
    pub key: String,
    /// What people see.
    pub label: String,
    #[serde(flatten)]
    pub kind: FieldKind,
    /// Must be filled before the case is resolved.
    #[serde(default)]
    pub required: bool,
}

/// Checks a unit's definitions.
pub fn check_defs(field: &str, defs: &[FieldDef]) -> Result<(), Error> {
    if defs.len() > 50 {
        return Err(Error::invalid(field, "at most 50 fields"));
    }
    for (i, def) in defs.iter().enumerate() {
        let at = |name: &str| format!("{field}[{i}].{name}");
        let key_ok = !def.key.is_empty()
            && def.key.len() <= 40
            && def.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(Error::invalid(at("key"), "1 to 40 lowercase letters, digits or `_`, e.g. `motivo`"));
        }
        if defs[..i].iter().any(|d| d.key == def.key) {
            return Err(Error::invalid(at("key"), format!("`{}` is defined twice", def.key)));
        }
        super::required_text(&at("label"), &def.label, 100)?;
        if let FieldKind::Select { options } = &def.kind {
            if options.is_empty() || options.len() > 100 {
                return Err(Error::invalid(at("options"), "1 to 100 options"));
            }
            if options.iter().any(|o| o.trim().is_empty() || o.chars().count() > 100) {
                return Err(Error::invalid(at("options"), "each option must be 1 to 100 characters"));
            }
        }
    }
    Ok(())
}

/// Checks the values given for defined fields (`null` removes a value).
pub fn check_values(
    field: &str,
    defs: &[FieldDef],
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Error> {
    use serde_json::Value;
    for def in defs {
        let Some(value) = values.get(&def.key).filter(|v| !v.is_null()) else { continue };
        let at = format!("{field}.{}", def.key);
        let fits = match (&def.kind, value) {
            (FieldKind::Text, Value::String(s)) => s.chars().count() <= 2000,
            (FieldKind::Number, Value::Number(_)) => true,
            (FieldKind::Date, Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
            (FieldKind::Checkbox, Value::Bool(_)) => true,
            (FieldKind::Select { options }, Value::String(s)) => options.contains(s),
            _ => false,
        };
        if !fits {
            let expected = match &def.kind {
                FieldKind::Text => "text of at most 2000 characters".to_owned(),
                FieldKind::Number => "a number".to_owned(),
                FieldKind::Date => "a date as YYYY-MM-DD".to_owned(),
                FieldKind::Checkbox => "true or false".to_owned(),
                FieldKind::Select { options } => format!("one of: {}", options.join(", ")),
            };
            return Err(Error::invalid(at, format!("{} must be {expected}", def.label)));
        }
    }
    Ok(())
}

/// The first required field without a value, to name when resolving.
pub fn missing_required<'a>(
    defs: &'a [FieldDef],
    values: &serde_json::Map<String, serde_json::Value>,
) -> Option<&'a FieldDef> {
    defs.iter().filter(|d| d.required).find(|d| match values.get(&d.key) {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Vec<FieldDef> {
        serde_json::from_value(json!([
            {"key": "motivo", "label": "Motivo", "kind": "select", "options": ["Matrícula", "Certificados"], "required": true},
            {"key": "semestre", "label": "Semestre", "kind": "number"},
            {"key": "cita", "label": "Cita", "kind": "date"},
        ]))
        .unwrap_or_default()
    }

    #[test]
    fn values_are_checked_by_kind() {
        let map = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        assert!(
            check_values("custom_fields", &defs(), &map(json!({"motivo": "Matrícula", "semestre": 3, "otro": "x"})))
                .is_ok()
        );
        let err = check_values("custom_fields", &defs(), &map(json!({"motivo": "Becas"}))).unwrap_err();
        assert!(err.to_string().starts_with("custom_fields.motivo:"), "{err}");
        assert!(check_values("custom_fields", &defs(), &map(json!({"cita": "31/12/2026"}))).is_err());
        assert!(check_values("custom_fields", &defs(), &map(json!({"semestre": null}))).is_ok());
        assert_eq!(missing_required(&defs(), &map(json!({"semestre": 3}))).map(|d| d.key.as_str()), Some("motivo"));
        assert!(missing_required(&defs(), &map(json!({"motivo": "Certificados"}))).is_none());
    }

    #[test]
    fn definitions_are_checked() {
        assert!(check_defs("custom_fields", &defs()).is_ok());
        let mut twice = defs();
        twice.push(twice[0].clone());
        assert!(check_defs("custom_fields", &twice).is_err());
        let bad: Vec<FieldDef> =
            serde_json::from_value(json!([{"key": "Con Espacio", "label": "X", "kind": "text"}])).unwrap_or_default();
        assert!(check_defs("custom_fields", &bad).is_err());
    }
}
