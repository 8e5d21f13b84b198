//! The console for agents, supervisors and admins: a page, one script and
//! one stylesheet embedded in the binary (no build step, no CDN), and the
//! console's texts from the locale files. Everything it shows it reads from
//! the REST API with the signed-in user's token, and `/api/v1/stream`
//! keeps it live.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use std::sync::OnceLock;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

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
            .route("/app.js", web::get().to(script))
            .route("/app.css", web::get().to(style))
            .route("/i18n/{locale}.json", web::get().to(texts)),
    );
}

/// A short digest of the assets, so a new release is fetched again.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::Digest;
        let digest = sha2::Sha256::new().chain_update(SCRIPT).chain_update(STYLE).finalize();
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
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
    // Versioned links may be kept a long time; unversioned ones revalidate.
    let cache = if req.query_string().is_empty() { "no-cache" } else { "public, max-age=31536000, immutable" };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body)
}

async fn script(req: HttpRequest) -> HttpResponse {
    asset(SCRIPT, "text/javascript; charset=utf-8", &req)
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
        for quote in ['\'', '`'] {
            let opener = format!("t({quote}");
            for (at, _) in SCRIPT.match_indices(&opener) {
                // `set('q', ...)` is not `t('q')`.
                if SCRIPT[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let rest = &SCRIPT[at + opener.len()..];
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
}
