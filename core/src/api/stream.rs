//! `GET /stream`: live events for a console, as server-sent events. Each
//! event says what changed (`case.created`, `case.updated`, `case.sla`,
//! `message.created`, `note.created`, `presence.changed`, `notification`,
//! and `resync` when events may have been missed) and the console reads
//! anything more through the API. A console's open stream counts as its
//! agent's activity (see presence).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, get, http::header, web};
use serde::Serialize;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::error::{ApiError, Problem};
use super::extract::Auth;
use crate::app::AppState;
use crate::domain::Principal;
use crate::store::live::LiveEvent;

/// A comment line this often keeps proxies from closing a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// How often an open console counts as its agent's activity.
const TOUCH: Duration = Duration::from_secs(60);

/// A stream ends after this; the console reconnects with a fresh token.
const LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What a console receives per event.
#[derive(Serialize)]
struct Sent<'a> {
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    case_id: Option<uuid::Uuid>,
    data: &'a serde_json::Value,
    at: chrono::DateTime<chrono::Utc>,
}

fn frame(event: &LiveEvent) -> String {
    let sent = Sent { kind: &event.kind, case_id: event.case_id, data: &event.data, at: event.at };
    format!("event: {}\ndata: {}\n\n", event.kind, serde_json::to_string(&sent).unwrap_or_default())
}

struct Stream {
    state: web::Data<AppState>,
    principal: Principal,
    events: Receiver<Arc<LiveEvent>>,
    started: Instant,
    touched: Instant,
    first: bool,
}

impl Stream {
    /// The next chunk to send: events, a heartbeat, or the end.
    async fn next(&mut self) -> Option<String> {
        if self.first {
            self.first = false;
            return Some(format!(
                "retry: 2000\nevent: ready\ndata: {{\"at\":\"{}\"}}\n\n",
                chrono::Utc::now().to_rfc3339()
            ));
        }
        if self.started.elapsed() > LIFETIME {
            return None;
        }
        if self.touched.elapsed() > TOUCH {
            self.touched = Instant::now();
            self.touch().await;
        }
        let received = tokio::time::timeout(HEARTBEAT, self.events.recv()).await;
        Some(match received {
            Err(_) => ": \n\n".to_owned(),
            Ok(Ok(event)) => {
                let mut chunk = String::new();
                if crate::live::visible(&self.principal, &event) {
                    chunk.push_str(&frame(&event));
                }
                // Whatever else is waiting goes in the same chunk.
                while let Ok(event) = self.events.try_recv() {
                    if crate::live::visible(&self.principal, &event) {
                        chunk.push_str(&frame(&event));
                    }
                }
                if chunk.is_empty() { ": \n\n".to_owned() } else { chunk }
            }
            Ok(Err(RecvError::Lagged(_))) => frame(&LiveEvent::new("resync", vec![], None, serde_json::Value::Null)),
            Ok(Err(RecvError::Closed)) => return None,
        })
    }

    async fn touch(&self) {
        if let Some(user) = self.principal.user_id()
            && let Err(e) = crate::store::agent::touch(&self.state.store, user).await
        {
            tracing::debug!(error = %e, "console activity not recorded");
        }
    }
}

/// Live events for the caller's units and for the caller, as server-sent
/// events. Read with an `Authorization` header (e.g. `fetch` with a
/// streaming body); the stream ends after 15 minutes and the client
/// reconnects.
#[utoipa::path(
    tag = "routing",
    responses((status = 200, description = "text/event-stream"), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/stream")]
pub async fn stream(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    super::case::require_case_reader(&auth.0)?;
    let events = state.live.subscribe();
    let start = Stream {
        state: state.clone(),
        principal: auth.0,
        events,
        started: Instant::now(),
        touched: Instant::now(),
        first: true,
    };
    start.touch().await;
    let body = futures_util::stream::unfold(start, |mut s| async move {
        let chunk = s.next().await?;
        Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), s))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}
