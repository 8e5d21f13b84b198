//! Bad input of every kind gets a 4xx problem+json naming what is wrong,
//! never a 5xx, and writes nothing.

use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use ventanilla_tests::{TestApp, on_both, spawn_app};

struct Bad {
    what: &'static str,
    method: reqwest::Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    /// The field the problem must name, if any.
    field: Option<&'static str>,
}

fn bad(what: &'static str, path: &str, body: impl Into<Vec<u8>>, status: u16, field: Option<&'static str>) -> Bad {
    Bad {
        what,
        method: reqwest::Method::POST,
        path: path.into(),
        content_type: "application/json",
        body: body.into(),
        status,
        field,
    }
}

fn get(what: &'static str, path: &str, status: u16, field: Option<&'static str>) -> Bad {
    Bad {
        what,
        method: reqwest::Method::GET,
        path: path.into(),
        content_type: "application/json",
        body: vec![],
        status,
        field,
    }
}

async fn counts(app: &TestApp) -> anyhow::Result<(usize, usize)> {
    let cases = app.get("/api/v1/cases?limit=100", &app.admin_token).await?;
    let contacts = app.get("/api/v1/contacts?limit=100", &app.admin_token).await?;
    Ok((cases.body["items"].as_array().map_or(0, Vec::len), contacts.body["items"].as_array().map_or(0, Vec::len)))
}

on_both! {
    async fn bad_requests_are_clear_4xx_and_write_nothing(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let case = |extra: serde_json::Value| {
            let mut body = json!({"subject": "Consulta", "channel": "whatsapp", "unit_id": unit,
                "contact": {"name": "Ana", "identities": [{"channel": "whatsapp", "value": "+573001234567"}]}});
            if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    b.insert(k.clone(), v.clone());
                }
            }
            serde_json::to_vec(&body).unwrap_or_default()
        };
        let huge = format!("{{\"subject\": \"{}\"}}", "a".repeat(400 * 1024));
        let table = vec![
            bad("malformed JSON", "/api/v1/cases", "{\"subject\": ", 400, None),
            bad("trailing garbage", "/api/v1/cases", [case(json!({})), b"}}".to_vec()].concat(), 400, None),
            bad("not an object", "/api/v1/cases", "[1, 2, 3]", 422, None),
            bad("wrong type", "/api/v1/cases", case(json!({"subject": 42})), 422, Some("subject")),
            bad("unknown field", "/api/v1/cases", case(json!({"colour": "red"})), 422, Some("colour")),
            bad("invalid enum", "/api/v1/cases", case(json!({"channel": "fax"})), 422, Some("channel")),
            bad("invalid status", "/api/v1/cases", case(json!({"status": "resolved"})), 422, Some("status")),
            bad("empty subject", "/api/v1/cases", case(json!({"subject": "   "})), 422, Some("subject")),
            bad("control characters", "/api/v1/cases", case(json!({"subject": "a\u{0007}b"})), 422, Some("subject")),
            bad("bad phone", "/api/v1/cases", case(json!({"contact": {"identities": [{"channel": "sms", "value": "llámame"}]}})), 422, Some("contact.identities[0].value")),
            bad("empty first message (nothing half-written)", "/api/v1/cases", case(json!({"first_message": {"body": ""}})), 422, Some("first_message.body")),
            bad("both contact and contact_id", "/api/v1/cases", case(json!({"contact_id": uuid::Uuid::new_v4()})), 422, Some("contact_id")),
            bad("unknown unit", "/api/v1/cases", case(json!({"unit_id": uuid::Uuid::new_v4()})), 409, Some("unit_id")),
            bad("bad uuid in body", "/api/v1/cases", case(json!({"unit_id": "nope"})), 422, Some("unit_id")),
            bad("non-UTF-8", "/api/v1/cases", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'], 400, None),
            bad("oversized body", "/api/v1/cases", huge, 413, None),
            Bad { content_type: "text/plain", ..bad("wrong content type", "/api/v1/cases", case(json!({})), 415, None) },
            bad("bad slug", "/api/v1/units", "{\"slug\": \"Con Espacios\", \"name\": \"x\"}", 422, Some("slug")),
            bad("bad timezone", "/api/v1/units", "{\"slug\": \"x\", \"name\": \"x\", \"timezone\": \"Mars/Base\"}", 422, Some("timezone")),
            bad("short password", "/api/v1/users", "{\"email\": \"a@b.co\", \"display_name\": \"A\", \"password\": \"corta\"}", 422, Some("password")),
            bad("bad e-mail", "/api/v1/users", "{\"email\": \"no-arroba\", \"display_name\": \"A\", \"password\": \"una clave larga\"}", 422, Some("email")),
            bad("unknown scope", "/api/v1/api-tokens", "{\"name\": \"x\", \"scopes\": [\"cases:delete\"]}", 422, Some("scopes[0]")),
            get("huge page size", "/api/v1/cases?limit=100000", 422, Some("limit")),
            get("zero page size", "/api/v1/cases?limit=0", 422, Some("limit")),
            get("negative page size", "/api/v1/cases?limit=-5", 400, None),
            get("bad cursor", "/api/v1/cases?cursor=%27%3B--", 422, Some("cursor")),
            get("bad status filter", "/api/v1/cases?status=open", 422, Some("status")),
            get("bad date filter", "/api/v1/cases?created_after=yesterday", 400, None),
            get("bad sort", "/api/v1/cases?sort=subject", 422, Some("sort")),
            get("bad uuid in path", "/api/v1/cases/not-a-uuid", 404, None),
            get("unknown route", "/api/v1/nothing-here", 404, None),
        ];
        let before = counts(&app).await?;
        let mut failures = vec![];
        for case in table {
            let response = app
                .client
                .request(case.method.clone(), app.url(&case.path))
                .bearer_auth(&app.admin_token)
                .header(CONTENT_TYPE, case.content_type)
                .body(case.body.clone())
                .send()
                .await?;
            let reply = TestApp::reply(response).await?;
            let problem = reply.headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
            let field_ok = case.field.is_none_or(|f| {
                reply.body["errors"].as_array().is_some_and(|errors| errors.iter().any(|e| e["field"] == f))
            });
            if reply.status.as_u16() != case.status || !problem || !field_ok || reply.body["code"].is_null() {
                failures.push(format!("{}: {} {}", case.what, reply.status, reply.text.chars().take(300).collect::<String>()));
            }
        }
        anyhow::ensure!(failures.is_empty(), "bad input handled wrongly:\n{}", failures.join("\n"));
        anyhow::ensure!(counts(&app).await? == before, "no partial writes");
        Ok(())
    }

    async fn metacharacters_are_data(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let nasty = "'; DROP TABLE cases; -- <script>alert(1)</script> %_\\";
        let created = app.create_case(&app.admin_token, &unit, nasty).await?;
        anyhow::ensure!(created["subject"] == nasty, "stored as given: {created}");
        let found = app.get(&format!("/api/v1/cases?q={}", urlencode(nasty)), &app.admin_token).await?;
        anyhow::ensure!(found.body["items"][0]["subject"] == nasty, "{}", found.text);
        // LIKE wildcards in a search are literal characters.
        let wildcard = app.get("/api/v1/cases?q=%25", &app.admin_token).await?;
        anyhow::ensure!(wildcard.body["items"].as_array().map_or(0, Vec::len) == 1, "only the case with a % matches");
        let none = app.get("/api/v1/cases?q=%27%20OR%201%3D1%20--", &app.admin_token).await?;
        anyhow::ensure!(none.status == 200 && none.body["items"].as_array().is_some_and(|i| i.is_empty()), "{}", none.text);
        Ok(())
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
