//! Per-request plumbing: a request id on every request, response and error;
//! a tracing span; and the request figures for /metrics.

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use std::time::Instant;
use tracing::Instrument;

use crate::api::AppState;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being handled, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".to_owned())
}

/// Accepts a caller's request id when it is short and printable; else makes one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(&req);
    let started = Instant::now();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id, %method, path = %req.path());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let result = REQUEST_ID.scope(id.clone(), next.call(req).instrument(span.clone())).await;
    let mut response = result?;
    let status = response.status().as_u16();
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.observe_request(&method, &route, status, elapsed);
    }
    span.in_scope(|| tracing::info!(status, route = %route, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "served"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    // API answers carry people's data: no proxy or browser cache keeps
    // them unless a handler said otherwise (files, public assets).
    let headers = response.headers_mut();
    if route.starts_with("/api/v1") && !headers.contains_key(actix_web::http::header::CACHE_CONTROL) {
        headers.insert(actix_web::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
