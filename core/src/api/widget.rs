//! `/widget.js`: the web chat widget any site embeds with one script tag.
//! One small file with no dependencies and no requests to anyone but this
//! server; its texts are filled in from the locale files when first served.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

const SOURCE: &str = include_str!("widget.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/widget.js", web::get().to(script));
}

/// The script with every locale's widget texts in it.
pub fn script_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let strings: serde_json::Map<String, serde_json::Value> = crate::i18n::LOCALES
            .iter()
            .map(|locale| {
                let texts = crate::i18n::with_prefix(locale, "widget.");
                ((*locale).to_owned(), serde_json::to_value(texts).unwrap_or_default())
            })
            .collect();
        SOURCE.replace("__STRINGS__", &serde_json::Value::Object(strings).to_string())
    })
}

/// A strong validator for caches: the script changes only with the binary.
fn etag() -> &'static str {
    static ETAG: OnceLock<String> = OnceLock::new();
    ETAG.get_or_init(|| {
        use sha2::{Digest, Sha256};
        format!("\"{}\"", &hex::encode(Sha256::digest(script_text().as_bytes()))[..16])
    })
}

async fn script(req: HttpRequest) -> HttpResponse {
    if req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag()) {
        return HttpResponse::NotModified().finish();
    }
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ETAG, etag()))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(script_text())
}
