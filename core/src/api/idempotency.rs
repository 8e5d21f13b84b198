//! `Idempotency-Key` for creating POSTs: the first response is stored and
//! replayed for retries with the same key and body.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, http::StatusCode};
use std::future::Future;

use super::error::ApiError;
use super::extract::BodyHash;
use crate::api::AppState;
use crate::domain::Principal;
use crate::store::idempotency::{self, Reservation};

pub const HEADER: &str = "Idempotency-Key";

fn principal_key(principal: &Principal) -> String {
    match principal {
        Principal::User { id, .. } => format!("user:{id}"),
        Principal::Token { id, .. } => format!("token:{id}"),
    }
}

/// Runs `work` at most once per (caller, key); without the header it just runs.
pub async fn run<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    principal: &Principal,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = req.headers().get(HEADER) else {
        let (status, body) = work().await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| ApiError::field(HEADER, "must be 1 to 255 visible ASCII characters"))?
        .to_owned();
    let body_hash = req.extensions().get::<BodyHash>().map(|h| h.0.clone()).unwrap_or_default();
    let fingerprint = crate::auth::hash_secret(&format!("{} {} {}", req.method(), req.path(), body_hash));
    let who = principal_key(principal);
    match idempotency::reserve(&state.store.db, &who, &key, &fingerprint).await? {
        Reservation::New => {}
        Reservation::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok(HttpResponse::build(status)
                .content_type("application/json")
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body));
        }
        Reservation::Mismatch => return Err(ApiError::IdempotencyMismatch),
        Reservation::InProgress => return Err(ApiError::IdempotencyInProgress),
    }
    match work().await {
        Ok((status, body)) => {
            let text = body.to_string();
            idempotency::complete(&state.store.db, &who, &key, status.as_u16(), text.clone()).await?;
            Ok(HttpResponse::build(status).content_type("application/json").body(text))
        }
        Err(err) => {
            idempotency::release(&state.store.db, &who, &key).await?;
            Err(err)
        }
    }
}

/// Serialises a created resource for [`run`].
pub fn created<T: serde::Serialize>(value: &T) -> Result<(StatusCode, serde_json::Value), ApiError> {
    Ok((StatusCode::CREATED, serde_json::to_value(value).map_err(ApiError::internal)?))
}
