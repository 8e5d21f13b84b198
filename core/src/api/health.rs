//! Liveness, readiness and Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
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
/// histograms, the database pool, and the job queue.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (open, idle) = state.store.pool_stats();
    let pending = store::job::pending_count(&state.store.db).await.map_or(-1.0, |n| n as f64);
    let dead = store::job::dead_count(&state.store.db).await.map_or(-1.0, |n| n as f64);
    let open_cases = store::case::count_open(&state.store.db).await.map_or(-1.0, |n| n as f64);
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
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
