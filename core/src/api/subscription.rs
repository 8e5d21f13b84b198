//! Event subscriptions (outbound webhooks), managed by admins: which events
//! an external system is sent, for which units, and the log of every
//! delivery with its dead letters and redelivery.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::subscription::{self as rules, Subscription};
use crate::domain::{self, Actor, UnitId, required_text};
use crate::store::{self, subscription::SubscriptionPatch};

#[derive(Serialize, ToSchema)]
pub struct SubscriptionDto {
    pub id: uuid::Uuid,
    pub name: String,
    /// Where events are POSTed.
    pub url: String,
    /// `case.created`, `case.updated`, `case.resolved`, `message.created`,
    /// `survey.answered`, `consent.changed`.
    pub events: Vec<String>,
    /// Only cases of these units; null for every unit (and the only way to
    /// hear `consent.changed`, which is about a person, not a unit).
    pub unit_ids: Option<Vec<uuid::Uuid>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: shown when created or rotated, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn to_dto(s: Subscription, secret: Option<String>) -> SubscriptionDto {
    SubscriptionDto {
        id: s.id,
        name: s.name,
        url: s.url,
        events: s.events.iter().map(|e| e.as_str().to_owned()).collect(),
        unit_ids: s.units.map(|u| u.into_iter().map(|u| u.0).collect()),
        active: s.active,
        created_at: s.created_at,
        updated_at: s.updated_at,
        secret,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    #[schema(example = "CRM de admisiones")]
    pub name: String,
    #[schema(example = "https://crm.universidad.edu.co/ventanilla")]
    pub url: String,
    #[schema(example = json!(["case.created", "case.resolved"]))]
    pub events: Vec<String>,
    /// Only cases of these units; omit for every unit.
    pub unit_ids: Option<Vec<uuid::Uuid>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// A list of units, or null for every unit.
    #[serde(default, deserialize_with = "super::schema::double_option")]
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub unit_ids: Option<Option<Vec<uuid::Uuid>>>,
    /// Pauses (false) or resumes (true) the deliveries.
    pub active: Option<bool>,
    /// Makes a new signing secret, returned once; the old one stops working.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// Checks the units named exist.
async fn check_units(
    state: &AppState,
    check: &mut Checker,
    ids: &Option<Vec<uuid::Uuid>>,
) -> Result<Option<Vec<UnitId>>, ApiError> {
    let Some(ids) = ids else { return Ok(None) };
    let known: Vec<UnitId> = store::unit::list(&state.store.db).await?.into_iter().map(|u| u.id).collect();
    if ids.is_empty() {
        check.push("unit_ids", "name at least one unit, or leave it out for every unit");
    }
    for (i, id) in ids.iter().enumerate() {
        if !known.contains(&UnitId(*id)) {
            check.push(&format!("unit_ids[{i}]"), "no such unit");
        }
    }
    Ok(Some(ids.iter().copied().map(UnitId).collect()))
}

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    require(auth.0.is_admin(), "only admins manage event subscriptions")
}

/// Subscriptions, oldest first.
#[utoipa::path(
    tag = "webhooks",
    responses((status = 200, body = ListResponse<SubscriptionDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/webhook-subscriptions")]
pub async fn list_subscriptions(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let subs = store::subscription::list(&state.store.db).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(subs.into_iter().map(|s| to_dto(s, None)).collect(), None)))
}

/// Subscribes an external system to events. The answer holds the signing
/// secret, shown only now: every POST carries `X-Ventanilla-Signature:
/// v1=<hex HMAC-SHA256 of "{X-Ventanilla-Timestamp}.{body}">`.
#[utoipa::path(
    tag = "webhooks",
    request_body = CreateSubscription,
    responses((status = 201, body = SubscriptionDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/webhook-subscriptions")]
pub async fn create_subscription(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let body = body.0;
    let insecure = state.config.webhooks.allow_private_addresses;
    let mut check = Checker::default();
    let name = check.check(required_text("name", &body.name, 100));
    let url = check.check(rules::check_url("url", &body.url, insecure));
    let events = check.check(rules::check_events("events", &body.events));
    let units = check_units(&state, &mut check, &body.unit_ids).await?;
    check.finish()?;
    let (Some(name), Some(url), Some(events)) = (name, url, events) else {
        return Err(ApiError::internal("checked values missing"));
    };
    let id = uuid::Uuid::now_v7();
    let secret = crate::subscriptions::new_secret();
    let sealed_secret = state.secrets.seal_text(id, store::subscription::SECRET_NAME, &secret);
    let new = store::subscription::NewSubscription { id, name, url, sealed_secret, events, units };
    let sub = store::subscription::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(to_dto(sub, Some(secret))))
}

#[utoipa::path(
    tag = "webhooks",
    params(("subscription_id" = uuid::Uuid, Path)),
    responses((status = 200, body = SubscriptionDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/webhook-subscriptions/{subscription_id}")]
pub async fn get_subscription(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let sub = store::subscription::get(&state.store.db, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(to_dto(sub, None)))
}

/// Changes a subscription: its name, address, events, units; pauses or
/// resumes it; rotates its secret.
#[utoipa::path(
    tag = "webhooks",
    params(("subscription_id" = uuid::Uuid, Path)),
    request_body = UpdateSubscription,
    responses((status = 200, body = SubscriptionDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/webhook-subscriptions/{subscription_id}")]
pub async fn update_subscription(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateSubscription>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    store::subscription::get(&state.store.db, id).await?;
    let body = body.0;
    let insecure = state.config.webhooks.allow_private_addresses;
    let mut check = Checker::default();
    let name = body.name.as_deref().and_then(|n| check.check(required_text("name", n, 100)));
    let url = body.url.as_deref().and_then(|u| check.check(rules::check_url("url", u, insecure)));
    let events = body.events.as_deref().and_then(|e| check.check(rules::check_events("events", e)));
    let units = match &body.unit_ids {
        Some(ids) => Some(check_units(&state, &mut check, ids).await?),
        None => None,
    };
    check.finish()?;
    let secret = body.rotate_secret.then(crate::subscriptions::new_secret);
    let sealed_secret = secret.as_ref().map(|s| state.secrets.seal_text(id, store::subscription::SECRET_NAME, s));
    let patch = SubscriptionPatch { name, url, events, units, active: body.active, sealed_secret };
    let sub = store::subscription::update(&state.store, &Actor::from(&auth.0), id, patch).await?;
    Ok(HttpResponse::Ok().json(to_dto(sub, secret)))
}

/// Removes a subscription and the deliveries not yet sent.
#[utoipa::path(
    tag = "webhooks",
    params(("subscription_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/webhook-subscriptions/{subscription_id}")]
pub async fn delete_subscription(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    store::subscription::delete(&state.store, &Actor::from(&auth.0), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: uuid::Uuid,
    pub subscription_id: uuid::Uuid,
    /// The event's id: the same in every subscription's delivery of it.
    pub event_id: uuid::Uuid,
    #[schema(example = "case.created")]
    pub event_type: String,
    pub case_id: Option<uuid::Uuid>,
    /// `pending`, `retrying`, `delivered` or `dead` (a dead letter).
    pub status: String,
    pub attempts: i32,
    /// The receiver's last HTTP status, if it answered.
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// What is POSTed.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<store::subscription::Delivery> for DeliveryDto {
    fn from(d: store::subscription::Delivery) -> Self {
        DeliveryDto {
            id: d.id,
            subscription_id: d.subscription_id,
            event_id: d.event_id,
            event_type: d.event_type,
            case_id: d.case_id,
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            last_error: d.last_error,
            created_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
            delivered_at: d.delivered_at,
            payload: d.payload,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `retrying`, `delivered` or `dead`.
    pub status: Option<String>,
    /// Pages back: the `created_at` of the last one seen.
    pub before: Option<DateTime<Utc>>,
    /// 1 to 100 (25 by default).
    pub limit: Option<u64>,
}

/// A subscription's delivery log, newest first; `status=dead` for its dead letters.
#[utoipa::path(
    tag = "webhooks",
    params(("subscription_id" = uuid::Uuid, Path), DeliveryQuery),
    responses((status = 200, body = ListResponse<DeliveryDto>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/webhook-subscriptions/{subscription_id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = path.into_inner();
    let mut check = Checker::default();
    if let Some(status) = query.status.as_deref()
        && !["pending", "retrying", "delivered", "dead"].contains(&status)
    {
        check.check::<()>(Err(domain::Error::invalid("status", "must be pending, retrying, delivered or dead")));
    }
    if query.limit.is_some_and(|l| !(1..=100).contains(&l)) {
        check.check::<()>(Err(domain::Error::invalid("limit", "must be 1 to 100")));
    }
    check.finish()?;
    store::subscription::get(&state.store.db, id).await?;
    let limit = query.limit.unwrap_or(25);
    let rows =
        store::subscription::deliveries(&state.store.db, id, query.status.as_deref(), query.before, limit).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(rows.into_iter().map(DeliveryDto::from).collect(), None)))
}

/// Sends a delivery again: a dead letter, or one the receiver lost. Its
/// tries start over.
#[utoipa::path(
    tag = "webhooks",
    params(("delivery_id" = uuid::Uuid, Path)),
    responses((status = 202, body = DeliveryDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[post("/webhook-deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let delivery = store::subscription::redeliver(&state.store, &Actor::from(&auth.0), path.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(DeliveryDto::from(delivery)))
}
