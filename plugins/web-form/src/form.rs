//! The form itself: its texts in three languages, what a submission holds
//! and what makes it acceptable, and the pages (plain HTML, no scripts).

use serde_json::Value;
use ventanilla_sdk::mail_connector::ParseError;
use ventanilla_sdk::mail_connector::ventanilla::plugin::consent::ConsentText;

use crate::Settings;

/// The form's texts in one language (`strings.json`).
pub struct Strings {
    pub locale: &'static str,
    table: Value,
}

impl Strings {
    pub fn of(locale: &str) -> Strings {
        let all: Value = serde_json::from_str(include_str!("strings.json")).unwrap_or_default();
        let locale = match locale.get(..2) {
            Some("en") => "en",
            Some("pt") => "pt",
            _ => "es",
        };
        Strings { locale, table: all[locale].clone() }
    }

    pub fn get(&self, key: &str) -> String {
        self.table[key].as_str().unwrap_or(key).to_owned()
    }
}

/// What was sent.
#[derive(Debug, Default, Clone)]
pub struct Submission {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub subject: String,
    pub message: String,
    pub consent: bool,
    pub consent_version: Option<i32>,
    /// The field people do not see; robots fill it.
    pub trap: String,
    pub lang: Option<String>,
}

/// A field that is wrong, and why, in the form's language.
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

impl Submission {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "name" => self.name = value,
            "email" => self.email = value,
            "phone" => self.phone = value,
            "subject" => self.subject = value,
            "message" => self.message = value,
            "consent" => self.consent = matches!(value.as_str(), "yes" | "on" | "true" | "1"),
            "consent_version" => self.consent_version = value.trim().parse().ok(),
            "website" => self.trap = value,
            "lang" => self.lang = Some(value).filter(|l| !l.is_empty()),
            _ => {}
        }
    }

    /// A browser's form post (`application/x-www-form-urlencoded`).
    pub fn from_form(body: &[u8]) -> Submission {
        let mut submission = Submission::default();
        for pair in String::from_utf8_lossy(body).split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            submission.set(&decode(key), decode(value));
        }
        submission
    }

    /// A JSON post from the institution's own page.
    pub fn from_json(body: &[u8]) -> Result<Submission, ParseError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| ParseError::Malformed(format!("the body is not JSON: {e}")))?;
        let Some(fields) = value.as_object() else {
            return Err(ParseError::Malformed("the body must be a JSON object".into()));
        };
        let mut submission = Submission::default();
        for (key, value) in fields {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            submission.set(key, text);
        }
        Ok(submission)
    }

    /// What is wrong with it, field by field.
    pub fn check(&self, strings: &Strings, subjects: &[String]) -> Vec<Problem> {
        let mut problems = vec![];
        let mut fail = |field: &'static str, key: &str| problems.push(Problem { field, message: strings.get(key) });
        let name = self.name.trim();
        if name.is_empty() {
            fail("name", "need_name");
        } else if name.chars().count() > 200 {
            fail("name", "too_long");
        }
        if !looks_like_email(self.email.trim()) {
            fail("email", "need_email");
        }
        let phone = self.phone.trim();
        if phone.chars().count() > 30 || !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            fail("phone", "bad_phone");
        }
        if self.subject.chars().count() > 200
            || !subjects.is_empty()
                && !self.subject.trim().is_empty()
                && !subjects.iter().any(|s| s == self.subject.trim())
        {
            fail("subject", "too_long");
        }
        let message = self.message.trim();
        if message.is_empty() || message.chars().count() > 5000 {
            fail("message", "need_message");
        }
        if !self.consent {
            fail("consent", "need_consent");
        }
        problems
    }
}

fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else { return false };
    !local.is_empty()
        && text.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

/// Undoes `application/x-www-form-urlencoded`.
fn decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(high), Some(low)) => {
                out.push(high * 16 + low);
                i += 2;
            }
            (byte, _, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Text made safe inside HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#1b1b1b;background:#fff}\
main{max-width:36rem;margin:auto}label{display:block;margin-top:1rem;font-weight:600}\
input,select,textarea{width:100%;box-sizing:border-box;padding:.6rem;font:inherit;border:1px solid #767676;border-radius:4px}\
textarea{min-height:8rem}.consent{display:flex;gap:.5rem;align-items:flex-start;margin-top:1rem}\
.consent input{width:auto;margin-top:.3rem}.consent label{margin:0;font-weight:400}\
button{margin-top:1.2rem;padding:.7rem 1.4rem;font:inherit;font-weight:600;color:#fff;background:#0b5cad;border:0;border-radius:4px}\
.errors{border:2px solid #b00020;padding:.5rem 1rem;border-radius:4px}.trap{position:absolute;left:-10000px}";

fn document(lang: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
<style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// The form, filled with what was sent and the problems found, if any.
pub fn page(
    settings: &Settings,
    strings: &Strings,
    text: Option<&ConsentText>,
    sent: Option<&Submission>,
    problems: &[Problem],
) -> String {
    let title = settings.title.clone().unwrap_or_else(|| strings.get("title"));
    let sent = sent.cloned().unwrap_or_default();
    let mut body = format!("<h1>{}</h1>", escape(&title));
    if let Some(intro) = &settings.intro {
        body.push_str(&format!("<p>{}</p>", escape(intro)));
    }
    if !problems.is_empty() {
        body.push_str(&format!("<div class=\"errors\" role=\"alert\"><p>{}</p><ul>", escape(&strings.get("errors"))));
        for problem in problems {
            body.push_str(&format!("<li>{}</li>", escape(&problem.message)));
        }
        body.push_str("</ul></div>");
    }
    let field = |id: &str, kind: &str, label: &str, value: &str, extra: &str| {
        format!(
            "<label for=\"{id}\">{}</label><input id=\"{id}\" name=\"{id}\" type=\"{kind}\" value=\"{}\" {extra}>",
            escape(label),
            escape(value)
        )
    };
    body.push_str("<form method=\"post\" accept-charset=\"utf-8\">");
    body.push_str(&field(
        "name",
        "text",
        &strings.get("name"),
        &sent.name,
        "required maxlength=\"200\" autocomplete=\"name\"",
    ));
    body.push_str(&field(
        "email",
        "email",
        &strings.get("email"),
        &sent.email,
        "required maxlength=\"254\" autocomplete=\"email\"",
    ));
    body.push_str(&field("phone", "tel", &strings.get("phone"), &sent.phone, "maxlength=\"30\" autocomplete=\"tel\""));
    if settings.subjects.is_empty() {
        body.push_str(&field("subject", "text", &strings.get("subject"), &sent.subject, "maxlength=\"200\""));
    } else {
        body.push_str(&format!(
            "<label for=\"subject\">{}</label><select id=\"subject\" name=\"subject\"><option value=\"\">{}</option>",
            escape(&strings.get("subject")),
            escape(&strings.get("choose"))
        ));
        for subject in &settings.subjects {
            let selected = if *subject == sent.subject { " selected" } else { "" };
            body.push_str(&format!("<option{selected}>{}</option>", escape(subject)));
        }
        body.push_str("</select>");
    }
    body.push_str(&format!(
        "<label for=\"message\">{}</label><textarea id=\"message\" name=\"message\" required maxlength=\"5000\">{}</textarea>",
        escape(&strings.get("message")),
        escape(&sent.message)
    ));
    body.push_str(&format!(
        "<div class=\"trap\" aria-hidden=\"true\"><label for=\"website\">{}</label>\
<input id=\"website\" name=\"website\" tabindex=\"-1\" autocomplete=\"off\"></div>",
        escape(&strings.get("trap"))
    ));
    let consent = text.map(|t| t.text.clone()).unwrap_or_else(|| strings.get("consent_default"));
    if let Some(version) = text.map(|t| t.version) {
        body.push_str(&format!("<input type=\"hidden\" name=\"consent_version\" value=\"{version}\">"));
    }
    body.push_str(&format!("<input type=\"hidden\" name=\"lang\" value=\"{}\">", strings.locale));
    body.push_str(&format!(
        "<div class=\"consent\"><input type=\"checkbox\" id=\"consent\" name=\"consent\" value=\"yes\" required{}>\
<label for=\"consent\">{}</label></div>",
        if sent.consent { " checked" } else { "" },
        escape(&consent)
    ));
    if let Some(url) = text.and_then(|t| t.policy_url.as_deref()) {
        body.push_str(&format!("<p><a href=\"{}\">{}</a></p>", escape(url), escape(&strings.get("policy"))));
    }
    body.push_str(&format!("<button type=\"submit\">{}</button></form>", escape(&strings.get("send"))));
    document(strings.locale, &title, &body)
}

/// The page after a submission.
pub fn thanks_page(strings: &Strings, email: &str) -> String {
    let title = strings.get("thanks_title");
    let body = format!(
        "<h1>{}</h1><p role=\"status\">{}</p>",
        escape(&title),
        escape(&strings.get("thanks").replace("{email}", email.trim()))
    );
    document(strings.locale, &title, &body)
}

/// A problem+json answer naming each field that is wrong.
pub fn problem(problems: &[Problem]) -> String {
    let errors: Vec<Value> =
        problems.iter().map(|p| serde_json::json!({ "field": p.field, "message": p.message })).collect();
    serde_json::json!({
        "type": "about:blank",
        "title": "Validation failed",
        "status": 422,
        "detail": "some fields are missing or wrong",
        "code": "validation_failed",
        "errors": errors,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_posts_are_decoded() {
        let s =
            Submission::from_form(b"name=Mar%C3%ADa+P%C3%A9rez&email=maria%40example.com&consent=yes&website=&bad%");
        assert_eq!(s.name, "María Pérez");
        assert_eq!(s.email, "maria@example.com");
        assert!(s.consent && s.trap.is_empty());
    }

    #[test]
    fn submissions_are_checked_field_by_field() {
        let strings = Strings::of("es");
        let empty = Submission::default().check(&strings, &[]);
        let fields: Vec<&str> = empty.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "email", "message", "consent"]);
        let good = Submission {
            name: "Ana".into(),
            email: "ana@uni.edu.co".into(),
            message: "Hola".into(),
            consent: true,
            ..Default::default()
        };
        assert!(good.check(&strings, &[]).is_empty());
        let off_list = Submission { subject: "Otro".into(), ..good.clone() };
        assert_eq!(off_list.check(&strings, &["Pagos".into()]).len(), 1);
        assert!(!looks_like_email("ana@localhost") && !looks_like_email("a b@x.co"));
    }

    #[test]
    fn what_people_typed_is_escaped() {
        assert_eq!(escape("<script>\"x\"&'"), "&lt;script&gt;&quot;x&quot;&amp;&#39;");
    }
}
