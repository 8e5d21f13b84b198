//! Liveness, readiness and Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::metrics::DbCounts;
use crate::api::AppState;
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<String>,
}

/// The process is alive.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into(), database: None, migrations: None })
}

/// Ready to serve: the database answers and its migrations are current.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.store.ping().await;
    let migrations = match &database {
        Ok(()) => state.store.migrations_current().await.ok(),
        Err(_) => None,
    };
    let ready = database.is_ok() && migrations == Some(true);
    let body = Health {
        status: if ready { "ok" } else { "unavailable" }.into(),
        database: Some(if database.is_ok() { "ok" } else { "unreachable" }.into()),
        migrations: Some(
            match migrations {
                Some(true) => "current",
                Some(false) => "pending",
                None => "unknown",
            }
            .into(),
        ),
    };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus text format: requests by route and status with latency
/// histograms, the database pool, and the job queue. Served to a scraper on
/// this machine (loopback), or to one presenting `http.metrics_token` as a
/// bearer token; the database figures are read at most every ten seconds.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
        (status = 401, body = super::error::Problem)
    ),
    security(())
)]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, super::error::ApiError> {
    if !may_scrape(&state, &req) {
        return Err(super::error::ApiError::Unauthorized);
    }
    let (open, idle) = state.store.pool_stats();
    let counts = match state.metrics.cached_counts() {
        Some(counts) => counts,
        None => {
            let db = &state.store.db;
            let counts = DbCounts {
                jobs_pending: store::job::pending_count(db).await.map_or(-1.0, |n| n as f64),
                jobs_dead: store::job::dead_count(db).await.map_or(-1.0, |n| n as f64),
                cases_open: store::case::count_open(db).await.map_or(-1.0, |n| n as f64),
            };
            state.metrics.remember_counts(counts);
            counts
        }
    };
    let (pending, dead, open_cases) = (counts.jobs_pending, counts.jobs_dead, counts.cases_open);
    let (grouped, split) = state.ingest.grouped();
    let counters = [
        (
            "ventanilla_webhooks_grouped_total",
            "Webhooks committed in one transaction with others (SQLite).",
            grouped as f64,
        ),
        ("ventanilla_webhook_groups_split_total", "Groups of webhooks written again one by one.", split as f64),
    ];
    let text = state.metrics.render(
        &counters,
        &[
            (
                "ventanilla_webhooks_waiting",
                "Webhooks waiting for or in their commit.",
                state.ingest.in_flight() as f64,
            ),
            ("ventanilla_db_pool_connections", "Open database connections.", f64::from(open)),
            ("ventanilla_db_pool_idle_connections", "Idle database connections.", idle as f64),
            ("ventanilla_jobs_pending", "Jobs waiting to run.", pending),
            ("ventanilla_jobs_dead", "Jobs that gave up after their last attempt.", dead),
            ("ventanilla_cases_open", "Cases not yet resolved.", open_cases),
        ],
    );
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text))
}

/// A scraper on this machine (the socket's peer, never a forwarded
/// address), or one with the configured token.
fn may_scrape(state: &AppState, req: &actix_web::HttpRequest) -> bool {
    may_scrape_with(state.config.http.metrics_token.as_ref(), req)
}

fn may_scrape_with(token: Option<&crate::config::Secret>, req: &actix_web::HttpRequest) -> bool {
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (token, presented) {
        (Some(token), Some(presented)) => crate::auth::same_secret(token.expose(), presented),
        (Some(_), None) | (None, _) => req.peer_addr().is_some_and(|peer| peer.ip().is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_this_machine_or_the_token_scrapes() {
        let scrape = |peer: &str, token: Option<&str>, bearer: Option<&str>| {
            let mut req = TestRequest::default().peer_addr(peer.parse().expect("test peer"));
            if let Some(bearer) = bearer {
                req = req.insert_header(("authorization", format!("Bearer {bearer}")));
            }
            let configured = token.map(crate::config::Secret::new);
            may_scrape_with(configured.as_ref(), &req.to_http_request())
        };
        assert!(scrape("127.0.0.1:5000", None, None));
        assert!(scrape("[::1]:5000", None, None));
        assert!(!scrape("203.0.113.9:5000", None, None), "the public is refused");
        assert!(!scrape("203.0.113.9:5000", None, Some("anything")), "no token configured, none accepted");
        assert!(scrape("203.0.113.9:5000", Some("s3cret-token"), Some("s3cret-token")));
        assert!(!scrape("203.0.113.9:5000", Some("s3cret-token"), Some("guess")));
        assert!(!scrape("127.0.0.1:5000", Some("s3cret-token"), Some("guess")), "a wrong token is wrong anywhere");
    }
}
