//! Health, readiness, metrics, request ids, and the OpenAPI document.

use ventanilla_tests::{on_both, spawn_app};

on_both! {
    async fn health_metrics_and_request_ids(backend) {
        let app = spawn_app(backend).await?;
        let health = app.client.get(app.url("/healthz")).send().await?;
        anyhow::ensure!(health.status() == 200);
        let ready = app.client.get(app.url("/readyz")).send().await?;
        anyhow::ensure!(ready.status() == 200, "ready");
        let missing = ventanilla_tests::TestApp::reply(
            app.client.get(app.url("/api/v1/cases/00000000-0000-0000-0000-000000000000")).bearer_auth(&app.admin_token).send().await?,
        )
        .await?;
        let header = missing.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        anyhow::ensure!(!header.is_empty() && missing.body["request_id"] == header.as_str(), "errors carry the request id: {}", missing.text);
        let echoed = app.client.get(app.url("/healthz")).header("x-request-id", "trace-42").send().await?;
        anyhow::ensure!(echoed.headers().get("x-request-id").is_some_and(|v| v == "trace-42"));
        let metrics = app.client.get(app.url("/metrics")).send().await?.text().await?;
        for needle in [
            "ventanilla_http_requests_total{method=\"GET\",route=\"/api/v1/cases/{case_id}\",status=\"404\"} 1",
            "ventanilla_http_request_duration_seconds_bucket",
            "ventanilla_db_pool_connections",
            "ventanilla_jobs_pending",
            "ventanilla_jobs_dead",
        ] {
            anyhow::ensure!(metrics.contains(needle), "metrics has {needle}:\n{metrics}");
        }
        Ok(())
    }
}

/// openapi/openapi.json is generated from the code; this fails when it drifts.
/// Regenerate with `cargo run -p ventanilla -- openapi > openapi/openapi.json`.
#[test]
fn committed_openapi_matches_the_code() -> anyhow::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    let committed = std::fs::read_to_string(&path)?;
    let generated = ventanilla::api::openapi_json();
    anyhow::ensure!(
        committed.trim() == generated.trim(),
        "openapi/openapi.json is out of date: run `cargo run -p ventanilla -- openapi > openapi/openapi.json`"
    );
    let spec: serde_json::Value = serde_json::from_str(&generated)?;
    anyhow::ensure!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "OpenAPI 3.1");
    Ok(())
}

#[tokio::test]
async fn docs_are_served_without_network() -> anyhow::Result<()> {
    let app = spawn_app(ventanilla_tests::Backend::Sqlite).await?;
    let spec = app.client.get(app.url("/api/v1/openapi.json")).send().await?;
    anyhow::ensure!(spec.status() == 200);
    let spec: serde_json::Value = spec.json().await?;
    anyhow::ensure!(spec["paths"]["/cases"].is_object(), "paths are relative to the /api/v1 server");
    let page = app.client.get(app.url("/api/docs/")).send().await?;
    anyhow::ensure!(page.status() == 200);
    let html = page.text().await?;
    anyhow::ensure!(
        html.contains("swagger-ui") && !html.contains("unpkg.com") && !html.contains("cdn."),
        "docs load nothing from a CDN"
    );
    let script = app.client.get(app.url("/api/docs/swagger-ui-bundle.js")).send().await?;
    anyhow::ensure!(script.status() == 200, "the UI's JavaScript is embedded");
    Ok(())
}
