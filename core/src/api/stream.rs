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
use crate::api::AppState;
use crate::domain::Principal;
use crate::store::live::LiveEvent;

/// How often an open console counts as its agent's activity, and who the
/// caller is is read again (a revoked token or a deactivated account ends
/// its stream within this, even if the change's event was missed).
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
    /// The sign-in session of the token that opened it: the stream ends with it.
    session: Option<uuid::Uuid>,
    events: Receiver<Arc<LiveEvent>>,
    started: Instant,
    touched: Instant,
    first: bool,
    /// This stream's place among the open ones, given back when it ends.
    _slot: super::stream_slots::Slot,
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
            if !self.still_allowed().await {
                return None;
            }
            self.touch().await;
        }
        // A comment line every `streams.heartbeat_secs` keeps proxies from
        // closing a quiet stream, and finds clients that left.
        let heartbeat = Duration::from_secs(self.state.config.streams.heartbeat_secs);
        let received = tokio::time::timeout(heartbeat, self.events.recv()).await;
        Some(match received {
            Err(_) => ": \n\n".to_owned(),
            Ok(Ok(first)) => {
                let mut chunk = String::new();
                let mut pending = Some(first);
                // Whatever else is waiting goes in the same chunk.
                while let Some(event) = pending.take().or_else(|| self.events.try_recv().ok()) {
                    if self.is_about_me(&event) {
                        if !self.still_allowed().await {
                            return None;
                        }
                    } else if crate::live::visible(&self.principal, &event) {
                        chunk.push_str(&frame(&event));
                    }
                }
                if chunk.is_empty() { ": \n\n".to_owned() } else { chunk }
            }
            Ok(Err(RecvError::Lagged(_))) => frame(&LiveEvent::new("resync", vec![], None, serde_json::Value::Null)),
            Ok(Err(RecvError::Closed)) => return None,
        })
    }

    /// The caller's own account changed (roles, units, deactivated).
    fn is_about_me(&self, event: &LiveEvent) -> bool {
        event.kind == crate::store::user::USER_CHANGED
            && self.principal.user_id().is_some_and(|me| event.users.contains(&me.0))
    }

    /// Reads who the caller is again; false when they may no longer listen
    /// (account removed or deactivated, its session ended, token revoked
    /// or expired, an admin held back until enrolled in two-factor). A
    /// database hiccup keeps the stream as it is until the next read.
    async fn still_allowed(&mut self) -> bool {
        let current = match &self.principal {
            Principal::User { id, .. } => super::extract::load_account(&self.state, *id).await.map(|account| {
                account
                    .filter(|a| self.session.is_none_or(|s| a.sessions.contains(&s)) && !a.must_enrol)
                    .map(|a| a.principal)
            }),
            Principal::Token { id, .. } => crate::store::api_token::live(&self.state.store.db, *id)
                .await
                .map(|t| t.map(|t| Principal::Token { id: t.id, scopes: t.scopes }))
                .map_err(ApiError::from),
        };
        match current {
            Ok(Some(principal)) if super::case::require_case_reader(&principal).is_ok() => {
                self.principal = principal;
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::debug!(error = %e, "stream: cannot read the caller again");
                true
            }
        }
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
    responses((status = 200, description = "text/event-stream"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 429, body = Problem)),
    security(("bearer" = []))
)]
#[get("/stream")]
pub async fn stream(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    super::case::require_case_reader(&auth.0)?;
    let holder = match &auth.0 {
        Principal::User { id, .. } => format!("user {id}"),
        Principal::Token { id, .. } => format!("token {id}"),
    };
    let ip = super::auth::client_ip(&req, &state);
    let slot = state.streams.take(super::stream_slots::Holder::Principal(holder), &ip)?;
    let events = state.live.subscribe();
    let session = actix_web::HttpMessage::extensions(&req).get::<super::extract::CurrentSession>().and_then(|s| s.0);
    let start = Stream {
        state: state.clone(),
        principal: auth.0,
        session,
        events,
        started: Instant::now(),
        touched: Instant::now(),
        first: true,
        _slot: slot,
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
