//! The unsubscribe link of campaign e-mails: `/unsubscribe/{campaign}/{contact}/{signature}`.
//! Opening it asks; the button records the person's "no" for the
//! campaign's purpose at once (a consent revocation with source
//! `unsubscribe_link`) and says so. The signature (the attachments key,
//! purpose `unsubscribe`) makes each link one person's; every request is
//! rate-limited per address. Plain HTML, no script, in the institution's language.

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use super::page::esc;
use crate::api::AppState;
use crate::i18n::{LOCALES, t};
use crate::store;

type Path = web::Path<(uuid::Uuid, uuid::Uuid, String)>;

fn page(status: actix_web::http::StatusCode, title: &str, main: &str) -> HttpResponse {
    super::page::notice(status, LOCALES[0], title, "class=\"unsubscribe\"", main, true)
}

fn message(status: actix_web::http::StatusCode, key: &str) -> HttpResponse {
    let l = LOCALES[0];
    page(status, &t(l, "unsubscribe.title", &[]), &format!("<p>{}</p>", esc(&t(l, key, &[]))))
}

/// The campaign a valid link names, or the page to answer with.
async fn checked(
    state: &AppState,
    req: &HttpRequest,
    (campaign, contact, signature): &(uuid::Uuid, uuid::Uuid, String),
) -> Result<crate::domain::campaign::Campaign, HttpResponse> {
    use actix_web::http::StatusCode;
    let ip = crate::api::auth::client_ip(req, state);
    if let Err(seconds) = state.public_by_ip.hit(&ip) {
        let mut limited = message(StatusCode::TOO_MANY_REQUESTS, "help.limited");
        if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
            limited.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Err(limited);
    }
    if !crate::campaigns::unsubscribe_signed(state, *campaign, *contact, signature) {
        return Err(message(StatusCode::NOT_FOUND, "unsubscribe.invalid"));
    }
    match store::campaign::get(&state.store.db, *campaign).await {
        Ok(found) => Ok(found),
        Err(store::Error::NotFound(_)) => Err(message(StatusCode::NOT_FOUND, "unsubscribe.invalid")),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe page");
            Err(message(StatusCode::SERVICE_UNAVAILABLE, "unsubscribe.unavailable"))
        }
    }
}

/// Asks before recording anything (mail scanners open links).
async fn ask(state: web::Data<AppState>, req: HttpRequest, path: Path) -> HttpResponse {
    let link = path.into_inner();
    let campaign = match checked(&state, &req, &link).await {
        Ok(campaign) => campaign,
        Err(page) => return page,
    };
    let l = LOCALES[0];
    let unit = store::unit::get(&state.store.db, campaign.unit_id).await.map(|u| u.name).unwrap_or_default();
    let main = format!(
        "<p>{question}</p>\n<form method=\"post\"><button type=\"submit\">{confirm}</button></form>",
        question = esc(&t(l, "unsubscribe.question", &[("unit", &unit)])),
        confirm = esc(&t(l, "unsubscribe.confirm", &[])),
    );
    page(actix_web::http::StatusCode::OK, &t(l, "unsubscribe.title", &[]), &main)
}

/// Records the person's "no" for the campaign's purpose, at once.
async fn confirm(state: web::Data<AppState>, req: HttpRequest, path: Path) -> HttpResponse {
    use actix_web::http::StatusCode;
    let link = path.into_inner();
    let campaign = match checked(&state, &req, &link).await {
        Ok(campaign) => campaign,
        Err(page) => return page,
    };
    // A test send to staff names nobody.
    if link.1.is_nil() {
        return message(StatusCode::OK, "unsubscribe.test");
    }
    match store::campaign::unsubscribe(&state.store, &campaign, crate::domain::ContactId(link.1)).await {
        Ok(()) => message(StatusCode::OK, "unsubscribe.done"),
        Err(store::Error::NotFound(_)) => message(StatusCode::NOT_FOUND, "unsubscribe.invalid"),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe");
            message(StatusCode::SERVICE_UNAVAILABLE, "unsubscribe.unavailable")
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/unsubscribe/{campaign}/{contact}/{signature}", web::get().to(ask))
        .route("/unsubscribe/{campaign}/{contact}/{signature}", web::post().to(confirm));
}
