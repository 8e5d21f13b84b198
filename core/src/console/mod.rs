//! The console for agents, supervisors and admins: a page, its ES modules
//! (one per view, and the shared `lib.js` and `live.js`) and one
//! stylesheet embedded in the binary (no build step, no CDN), and the
//! console's texts from the locale files. Everything it shows it reads from
//! the REST API with the signed-in user's token, and `/api/v1/stream`
//! keeps it live.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use std::sync::OnceLock;

const INDEX: &str = include_str!("assets/index.html");
const STYLE: &str = include_str!("assets/app.css");

/// The script's modules: `app.js` is the entry the page loads; it imports
/// the others by relative path.
const MODULES: [(&str, &str); 15] = [
    ("app.js", include_str!("assets/app.js")),
    ("lib.js", include_str!("assets/lib.js")),
    ("live.js", include_str!("assets/live.js")),
    ("inbox.js", include_str!("assets/inbox.js")),
    ("case.js", include_str!("assets/case.js")),
    ("consent.js", include_str!("assets/consent.js")),
    ("contact.js", include_str!("assets/contact.js")),
    ("unit.js", include_str!("assets/unit.js")),
    ("templates.js", include_str!("assets/templates.js")),
    ("campaigns.js", include_str!("assets/campaigns.js")),
    ("admin.js", include_str!("assets/admin.js")),
    ("privacy.js", include_str!("assets/privacy.js")),
    ("reports.js", include_str!("assets/reports.js")),
    ("security.js", include_str!("assets/security.js")),
    ("audit.js", include_str!("assets/audit.js")),
];

/// Scripts and styles from this server only; data only from its API.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home)).service(
        // Sent compressed to browsers that accept it: a first load is small.
        web::scope("/console")
            .wrap(actix_web::middleware::Compress::default())
            .route("", web::get().to(page))
            .route("/", web::get().to(page))
            .route("/app.css", web::get().to(style))
            .route("/{module}.js", web::get().to(script))
            .route("/i18n/{locale}.json", web::get().to(texts)),
    );
}

/// A short digest of the assets, so a new release is fetched again.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new().chain_update(STYLE);
        for (_, source) in MODULES {
            digest.update(source);
        }
        digest.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
    })
}

/// The modules as served: each import names the release (`./lib.js?v=…`),
/// so a browser keeps them for good and a new release is fetched anew.
fn served_modules() -> &'static [(&'static str, String)] {
    static SERVED: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    SERVED.get_or_init(|| {
        let version = version();
        MODULES
            .iter()
            .map(|(name, source)| {
                let mut text = (*source).to_owned();
                for (other, _) in MODULES {
                    text = text.replace(&format!("from './{other}';"), &format!("from './{other}?v={version}';"));
                }
                (*name, text)
            })
            .collect()
    })
}

async fn home() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/console/")).finish()
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("content-security-policy", POLICY))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(INDEX.replace("{version}", version()))
}

fn asset(body: &'static str, kind: &str, req: &HttpRequest) -> HttpResponse {
    asset_owned(body.to_owned(), kind, req)
}

fn asset_owned(body: String, kind: &str, req: &HttpRequest) -> HttpResponse {
    // Versioned links may be kept a long time; unversioned ones revalidate.
    let cache = if req.query_string().is_empty() { "no-cache" } else { "public, max-age=31536000, immutable" };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body)
}

async fn script(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let wanted = format!("{}.js", path.into_inner());
    match served_modules().iter().find(|(name, _)| *name == wanted) {
        Some((_, text)) => asset_owned(text.clone(), "text/javascript; charset=utf-8", &req),
        None => actix_web::ResponseError::error_response(&crate::api::error::ApiError::NotFound("script")),
    }
}

async fn style(req: HttpRequest) -> HttpResponse {
    asset(STYLE, "text/css; charset=utf-8", &req)
}

async fn texts(path: web::Path<String>) -> HttpResponse {
    let locale = path.into_inner();
    if !crate::i18n::LOCALES.contains(&locale.as_str()) {
        return actix_web::ResponseError::error_response(&crate::api::error::ApiError::NotFound("locale"));
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(crate::i18n::with_prefix(&locale, "console."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_the_script_names_is_in_the_locale_files() {
        let known = crate::i18n::with_prefix("es", "console.");
        let mut missing = vec![];
        for ((_, script), quote) in MODULES.iter().flat_map(|m| [(m, '\''), (m, '`')]) {
            let opener = format!("t({quote}");
            for (at, _) in script.match_indices(&opener) {
                // `set('q', ...)` is not `t('q')`.
                if script[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let rest = &script[at + opener.len()..];
                let key: String = rest.chars().take_while(|c| *c != quote && *c != '$').collect();
                // A template key such as `status.${c.status}` is checked by its prefix.
                let dynamic = rest[key.len()..].starts_with('$');
                let found = if dynamic { known.keys().any(|k| k.starts_with(&key)) } else { known.contains_key(&key) };
                if !found {
                    missing.push(key);
                }
            }
        }
        assert!(missing.is_empty(), "texts missing from core/locales/*.toml (as `console.<key>`): {missing:?}");
    }

    #[test]
    fn no_module_is_a_monolith_and_every_import_is_served() {
        for (name, source) in MODULES {
            let lines = source.lines().count();
            assert!(lines <= 600, "{name} has {lines} lines; split it by view or concern");
            for import in source.lines().filter(|l| l.starts_with("import ")) {
                let target = import.split("from './").nth(1).and_then(|r| r.split('\'').next()).unwrap_or_default();
                assert!(MODULES.iter().any(|(m, _)| *m == target), "{name} imports {target}, which is not served");
            }
        }
        assert!(served_modules().iter().all(|(_, text)| !text.contains(".js';") || text.contains("?v=")));
    }
}
