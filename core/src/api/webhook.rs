//! `/webhooks/{install_id}`: where providers deliver messages and reports.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::api::AppState;
use crate::api::error::{ApiError, Problem};
use crate::channels::{CommitError, Unavailable};
use crate::plugins::connector::{InboundRequest, ParseError};

/// Hands a provider's request to the channel account's connector; answers
/// what the connector says only once everything it parsed is committed.
/// Signature failures are 401 and malformed payloads 400, with nothing
/// stored; a failing plugin or database is 503, so the provider retries.
#[utoipa::path(
    post,
    path = "/webhooks/{install_id}",
    tag = "channels",
    params(("install_id" = uuid::Uuid, Path, description = "The connector install (channel account)")),
    request_body(content = String, content_type = "application/octet-stream", description = "The provider's payload, as sent"),
    responses(
        (status = 200, description = "Accepted; the body is whatever the provider expects"),
        (status = 400, body = Problem), (status = 401, description = "Signature did not verify", body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 429, body = Problem),
        (status = 503, description = "Try again later", body = Problem),
    ),
    security(())
)]
pub async fn receive_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<uuid::Uuid>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(state, req, path.into_inner(), body).await
}

/// Verification handshakes (e.g. WhatsApp's `hub.challenge`) go to the connector too.
#[utoipa::path(
    get,
    path = "/webhooks/{install_id}",
    tag = "channels",
    params(("install_id" = uuid::Uuid, Path, description = "The connector install (channel account)")),
    responses(
        (status = 200, description = "What the provider expects"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 429, body = Problem), (status = 503, body = Problem),
    ),
    security(())
)]
pub async fn receive_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<uuid::Uuid>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(state, req, path.into_inner(), body).await
}

async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    install_id: uuid::Uuid,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ip = crate::api::auth::client_ip(&req, &state);
    state.webhooks_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
    let connector = match crate::channels::connector(&state, install_id).await {
        Ok(connector) => connector,
        Err(Unavailable::NotFound) => return Err(ApiError::NotFound("channel account")),
        Err(Unavailable::Stopped) => return Err(ApiError::Unavailable("this channel account is paused".into())),
        Err(e) => {
            tracing::warn!(%install_id, error = %e, "connector unavailable");
            return Err(ApiError::Unavailable("the channel account cannot take messages now".into()));
        }
    };
    if let Some(max) = connector.manifest.rules.max_posts_per_ip_per_hour
        && req.method() == actix_web::http::Method::POST
    {
        state.posts_by_ip.hit_within(&format!("{install_id} {ip}"), max).map_err(ApiError::RateLimited)?;
    }
    // A raw message posted to a mail connector (`message/rfc822`): the
    // connector checks the caller on the request without its body, then
    // reads the message the host decoded. It carries its files: room for
    // the largest file kept, in base64, so it is read only once the
    // connector has accepted the caller.
    let is_message = connector.plugin.mail.is_some()
        && req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("message/rfc822"));
    let mut request = InboundRequest {
        method: req.method().as_str().to_owned(),
        path: String::new(),
        query: web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: vec![],
        settings: connector.install.settings.to_string(),
    };
    let raw_mail = if is_message {
        None
    } else {
        // Whatever the connector cannot take is refused here, before it
        // runs: an oversized body is the sender's fault, never the plugin's.
        let headers: usize = request.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
        let room = state.plugins.limits.max_input_bytes.saturating_sub(headers);
        request.body = read_body(&mut payload, state.config.http.max_webhook_bytes.min(room)).await?.to_vec();
        Some(web::BytesMut::new())
    };
    let mut parsed = match crate::channels::parse(&state, &connector, request).await {
        Ok(Ok((Ok(parsed), _logs))) => parsed,
        Ok(Ok((Err(ParseError::Unauthorized(reason)), _))) => return Err(ApiError::BadSignature(reason)),
        Ok(Ok((Err(ParseError::Malformed(reason)), _))) => return Err(ApiError::BadRequest(reason)),
        Ok(Err(e)) => {
            tracing::warn!(%install_id, error = %e, "connector failed on a webhook");
            return Err(ApiError::Unavailable("the channel account failed to read this request".into()));
        }
        Err(e) => {
            tracing::warn!(%install_id, error = %e, "webhook: store unavailable");
            return Err(ApiError::Unavailable("cannot take messages now".into()));
        }
    };
    let raw_mail = match raw_mail {
        Some(_) => None,
        None if (200..300).contains(&parsed.response_status) && parsed.messages.is_empty() => {
            let max = state.config.http.max_webhook_bytes.max(state.attachments.config.max_bytes / 3 * 4 + (1 << 20));
            Some(read_body(&mut payload, max).await?)
        }
        None => None,
    };
    if let Some(raw) = raw_mail.filter(|raw| !raw.is_empty()) {
        let decoded = crate::plugins::mail::decode(&raw)
            .ok_or_else(|| ApiError::BadRequest("the body is not an RFC 822 message with a From header".into()))?;
        let read = match crate::channels::mail::read(&state, &connector, &decoded).await {
            Ok(read) => read,
            Err(why) => {
                tracing::warn!(%install_id, error = %why, "connector failed on an e-mail");
                return Err(ApiError::Unavailable("the channel account failed to read this message".into()));
            }
        };
        parsed.messages = read.messages;
        parsed.statuses.extend(read.statuses);
        parsed.profiles.extend(read.profiles);
    }
    crate::channels::ingest::clean(&mut parsed);
    let answer = std::mem::take(&mut parsed.response_body);
    let parsed = std::sync::Arc::new(parsed);
    let outcome = state.ingest.commit(connector.account(), parsed.clone()).await;
    match outcome {
        Ok(stored) => tracing::debug!(%install_id, stored, "webhook committed"),
        Err(CommitError::Invalid(reason)) => {
            // A message no connector could make storable (a sender that is
            // no phone number, nothing in it): sending it again will not
            // help, so the provider is told so (400) rather than asked to
            // retry, and the install's health shows why. It does not count
            // towards suspension: an authenticated provider's odd data must
            // not switch the account off.
            state.runtime.record_refused(install_id, &reason);
            tracing::warn!(%install_id, reason, "a webhook's content cannot be stored");
            return Err(ApiError::BadRequest(format!("cannot store this: {reason}")));
        }
        Err(CommitError::Store(e)) => {
            tracing::warn!(%install_id, error = %e, "webhook: cannot commit");
            return Err(ApiError::Unavailable("cannot take messages now".into()));
        }
    }
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(parsed.response_status).unwrap_or(actix_web::http::StatusCode::OK),
    );
    if !parsed.response_content_type.is_empty() {
        response.content_type(parsed.response_content_type.as_str());
    }
    // A page a connector serves (a web form) runs on this server's address:
    // no scripts, no same-origin access, nothing loaded from elsewhere; it
    // may only post its form back here.
    if parsed.response_content_type.to_ascii_lowercase().starts_with("text/html") {
        response.insert_header((
            "content-security-policy",
            "sandbox allow-forms; default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'",
        ));
        response.insert_header(("x-content-type-options", "nosniff"));
        response.insert_header(("referrer-policy", "no-referrer"));
    }
    Ok(response.body(answer))
}

/// Reads a request body up to `max` bytes; more is 413.
async fn read_body(payload: &mut web::Payload, max: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
