//! Per-install settings, checked against the JSON Schema in the plugin's manifest.

/// Checks that `schema` is a usable JSON Schema.
pub fn check_schema(schema: &serde_json::Value) -> Result<(), String> {
    jsonschema::validator_for(schema).map(|_| ()).map_err(|e| e.to_string())
}

/// Every way `settings` fails `schema`, as (field path, message), the path
/// starting at `settings` (e.g. `settings.handoff_unit`).
pub fn validate(schema: &serde_json::Value, settings: &serde_json::Value) -> Result<(), Vec<(String, String)>> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| vec![("settings".to_owned(), format!("the plugin's schema is invalid: {e}"))])?;
    let errors: Vec<_> =
        validator.iter_errors(settings).map(|e| (path(e.instance_path().as_str()), e.to_string())).take(20).collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// `/a/0/b` becomes `settings.a[0].b`.
fn path(pointer: &str) -> String {
    let mut out = "settings".to_owned();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            out.push('.');
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_errors_name_the_field() {
        let schema = json!({
            "type": "object", "additionalProperties": false, "required": ["handoff_unit"],
            "properties": {"handoff_unit": {"type": "string"}, "threshold": {"type": "number", "maximum": 1}}
        });
        assert!(validate(&schema, &json!({"handoff_unit": "mesa"})).is_ok());
        let errors = validate(&schema, &json!({"handoff_unit": 3, "threshold": 2})).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"settings.handoff_unit") && fields.contains(&"settings.threshold"), "{errors:?}");
        assert!(validate(&schema, &json!({})).is_err(), "required fields");
        assert!(validate(&schema, &json!({"handoff_unit": "m", "other": 1})).is_err(), "no unknown keys");
        assert_eq!(path("/menu/0/label"), "settings.menu[0].label");
    }

    #[test]
    fn broken_schemas_are_refused() {
        assert!(check_schema(&json!({"type": "object"})).is_ok());
        assert!(check_schema(&json!({"type": "not-a-type"})).is_err());
    }
}
