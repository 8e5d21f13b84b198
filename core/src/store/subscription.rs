//! Event subscriptions (outbound webhooks) and their deliveries.
//!
//! A command that changes something a subscription may hear of calls
//! [`emit_in`] in its own transaction: one delivery row and one
//! `webhook.deliver` job per subscription that wants it, so an event is
//! sent if and only if its change committed. A subscription's events about
//! one case form a job group and go out in order.

use super::{Error, Result, Store, audit, job};
use crate::domain::subscription::{EventType, Subscription};
use crate::domain::{Actor, Case, UnitId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_subscriptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub url: String,
        /// Sealed with the secrets key (`SecretBox::seal_text`).
        pub secret: String,
        pub events: Json,
        pub unit_ids: Option<Json>,
        pub active: bool,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub subscription_id: Uuid,
        pub event_id: Uuid,
        pub event_type: String,
        pub case_id: Option<Uuid>,
        pub payload: Json,
        /// `pending`, `retrying`, `delivered` or `dead`.
        pub status: String,
        pub attempts: i32,
        pub response_status: Option<i32>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub last_attempt_at: Option<DateTimeUtc>,
        pub delivered_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use delivery::Model as Delivery;

/// The secret's name its sealing is bound to.
pub const SECRET_NAME: &str = "webhook signing secret";

fn to_subscription(m: &entity::Model) -> Subscription {
    let events = m
        .events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().and_then(|e| EventType::parse("events", e).ok()))
        .collect();
    let units = m
        .unit_ids
        .as_ref()
        .map(|ids| ids.as_array().into_iter().flatten().filter_map(|u| u.as_str()?.parse().ok()).map(UnitId).collect());
    Subscription {
        id: m.id,
        name: m.name.clone(),
        url: m.url.clone(),
        events,
        units,
        active: m.active,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn events_json(events: &[EventType]) -> serde_json::Value {
    serde_json::json!(events.iter().map(|e| e.as_str()).collect::<Vec<_>>())
}

fn units_json(units: &Option<Vec<UnitId>>) -> Option<serde_json::Value> {
    units.as_ref().map(|u| serde_json::json!(u.iter().map(|u| u.0).collect::<Vec<_>>()))
}

/// A subscription to create: checked, its secret already sealed for `id`.
pub struct NewSubscription {
    pub id: uuid::Uuid,
    pub name: String,
    pub url: String,
    pub sealed_secret: String,
    pub events: Vec<EventType>,
    pub units: Option<Vec<UnitId>>,
}

pub async fn create(store: &Store, actor: &Actor, new: NewSubscription) -> Result<Subscription> {
    let tx = store.begin().await?;
    let now = super::now();
    let model = entity::ActiveModel {
        id: Set(new.id),
        name: Set(new.name),
        url: Set(new.url),
        secret: Set(new.sealed_secret),
        events: Set(events_json(&new.events)),
        unit_ids: Set(units_json(&new.units)),
        active: Set(true),
        created_by: Set(match actor {
            Actor::User(u) => Some(u.0),
            _ => None,
        }),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*tx)
    .await?;
    let sub = to_subscription(&model);
    record(&*tx, actor, "webhook_subscription.created", &sub).await?;
    tx.commit().await?;
    Ok(sub)
}

async fn record(conn: &impl ConnectionTrait, actor: &Actor, action: &str, sub: &Subscription) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "webhook_subscription",
            target_id: sub.id.to_string(),
            unit_id: None,
            details: serde_json::json!({
                "name": sub.name, "url": sub.url, "events": events_json(&sub.events), "units": units_json(&sub.units),
                "active": sub.active,
            }),
        },
    )
    .await
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<Subscription>> {
    let rows = entity::Entity::find().order_by_asc(entity::Column::CreatedAt).all(conn).await?;
    Ok(rows.iter().map(to_subscription).collect())
}

pub async fn get(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Subscription> {
    let row = entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("subscription"))?;
    Ok(to_subscription(&row))
}

/// The sealed secret of a subscription, for signing.
pub async fn sealed_secret(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<String> {
    let row = entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("subscription"))?;
    Ok(row.secret)
}

/// What a change sets; `None` leaves a value.
#[derive(Default)]
pub struct SubscriptionPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub units: Option<Option<Vec<UnitId>>>,
    pub active: Option<bool>,
    /// A new secret, sealed.
    pub sealed_secret: Option<String>,
}

pub async fn update(store: &Store, actor: &Actor, id: uuid::Uuid, patch: SubscriptionPatch) -> Result<Subscription> {
    let tx = store.begin().await?;
    let row = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("subscription"))?;
    let mut active: entity::ActiveModel = row.into();
    if let Some(name) = patch.name {
        active.name = Set(name);
    }
    if let Some(url) = patch.url {
        active.url = Set(url);
    }
    if let Some(events) = patch.events {
        active.events = Set(events_json(&events));
    }
    if let Some(units) = patch.units {
        active.unit_ids = Set(units_json(&units));
    }
    if let Some(on) = patch.active {
        active.active = Set(on);
    }
    let rotated = patch.sealed_secret.is_some();
    if let Some(secret) = patch.sealed_secret {
        active.secret = Set(secret);
    }
    active.updated_at = Set(super::now());
    let sub = to_subscription(&active.update(&*tx).await?);
    let action = if rotated { "webhook_subscription.secret_rotated" } else { "webhook_subscription.updated" };
    record(&*tx, actor, action, &sub).await?;
    tx.commit().await?;
    Ok(sub)
}

/// Removes a subscription; deliveries not sent yet are dropped with it.
pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    let sub = get(&*tx, id).await?;
    entity::Entity::delete_by_id(id).exec(&*tx).await?;
    delivery::Entity::delete_many().filter(delivery::Column::SubscriptionId.eq(id)).exec(&*tx).await?;
    record(&*tx, actor, "webhook_subscription.deleted", &sub).await?;
    tx.commit().await?;
    Ok(())
}

/// What an event says about a case: enough for a receiver to act without
/// calling back (status, owner, unit, priority, tags, fields, times).
pub fn case_data(case: &Case) -> serde_json::Value {
    serde_json::json!({
        "id": case.id,
        "number": case.number,
        "subject": case.subject,
        "channel": case.channel.as_str(),
        "status": case.status.as_str(),
        "priority": case.priority.as_str(),
        "unit_id": case.unit_id,
        "assignee_id": case.assignee_id,
        "contact_id": case.contact_id,
        "tags": case.tags,
        "custom_fields": case.custom_fields,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "first_response_at": case.first_response_at,
        "resolved_at": case.resolved_at,
    })
}

/// Queues `event` (about a case of any of `units`; none for an event not
/// about a unit's case) for every subscription that wants it, once each,
/// in the caller's transaction.
pub async fn emit_in(
    conn: &impl ConnectionTrait,
    event: EventType,
    units: &[UnitId],
    case: Option<uuid::Uuid>,
    data: serde_json::Value,
) -> Result<()> {
    // One small read on every change: subscriptions are few.
    let subscriptions = entity::Entity::find().filter(entity::Column::Active.eq(true)).all(conn).await?;
    let wants = |s: &Subscription| match units {
        [] => s.wants(event, None),
        units => units.iter().any(|u| s.wants(event, Some(*u))),
    };
    let wanting: Vec<Subscription> = subscriptions.iter().map(to_subscription).filter(wants).collect();
    if wanting.is_empty() {
        return Ok(());
    }
    let now = super::now();
    let event_id = uuid::Uuid::now_v7();
    let payload = serde_json::json!({
        "id": event_id,
        "type": event.as_str(),
        "occurred_at": now,
        "data": data,
    });
    for sub in wanting {
        let id = uuid::Uuid::now_v7();
        delivery::ActiveModel {
            id: Set(id),
            subscription_id: Set(sub.id),
            event_id: Set(event_id),
            event_type: Set(event.as_str().to_owned()),
            case_id: Set(case),
            payload: Set(payload.clone()),
            status: Set("pending".to_owned()),
            attempts: Set(0),
            response_status: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            last_attempt_at: Set(None),
            delivered_at: Set(None),
        }
        .insert(conn)
        .await?;
        enqueue_in(conn, sub.id, id, case).await?;
    }
    Ok(())
}

/// The job that sends delivery `id`, in order with the subscription's other
/// events about the same case.
async fn enqueue_in(
    conn: &impl ConnectionTrait,
    subscription: uuid::Uuid,
    id: uuid::Uuid,
    case: Option<uuid::Uuid>,
) -> Result<()> {
    let group = case.map(|c| format!("webhook:{subscription}:{c}"));
    let job = job::NewJob {
        kind: job::JobKind::WebhookDeliver,
        payload: serde_json::json!({ "delivery_id": id }),
        idempotency_key: None,
    };
    job::enqueue_in_group(conn, job, super::now(), group).await
}

pub async fn delivery(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Delivery> {
    delivery::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("delivery"))
}

/// Records an attempt: delivered (with the job done, in one transaction),
/// or failed with the receiver's answer (`dead` when no try is left).
pub async fn record_attempt(
    store: &Store,
    id: uuid::Uuid,
    job_id: uuid::Uuid,
    attempts: i32,
    outcome: Attempt,
) -> Result<()> {
    let tx = store.begin().await?;
    let row = delivery(&*tx, id).await?;
    let mut active: delivery::ActiveModel = row.into();
    let now = super::now();
    active.attempts = Set(attempts);
    active.last_attempt_at = Set(Some(now));
    match outcome {
        Attempt::Delivered { status } => {
            active.status = Set("delivered".to_owned());
            active.response_status = Set(Some(status));
            active.last_error = Set(None);
            active.delivered_at = Set(Some(now));
            job::complete_in(&*tx, job_id).await?;
        }
        Attempt::Failed { status, error, last } => {
            active.status = Set(if last { "dead" } else { "retrying" }.to_owned());
            active.response_status = Set(status);
            active.last_error = Set(Some(error));
        }
    }
    active.update(&*tx).await?;
    tx.commit().await?;
    Ok(())
}

/// How one attempt went.
pub enum Attempt {
    Delivered { status: i32 },
    Failed { status: Option<i32>, error: String, last: bool },
}

/// Sends a delivery again (a dead letter, or one the receiver lost).
pub async fn redeliver(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<Delivery> {
    let tx = store.begin().await?;
    let row = delivery(&*tx, id).await?;
    if matches!(row.status.as_str(), "pending" | "retrying") {
        return Err(Error::conflict("status", "this delivery is still being tried"));
    }
    let (sub, case) = (row.subscription_id, row.case_id);
    let mut active: delivery::ActiveModel = row.into();
    active.status = Set("pending".to_owned());
    active.last_error = Set(None);
    let row = active.update(&*tx).await?;
    enqueue_in(&*tx, sub, id, case).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "webhook_delivery.redelivered",
            target_kind: "webhook_subscription",
            target_id: sub.to_string(),
            unit_id: None,
            details: serde_json::json!({ "delivery_id": id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// A subscription's deliveries, newest first, optionally of one status;
/// `before` pages back.
pub async fn deliveries(
    conn: &impl ConnectionTrait,
    subscription: uuid::Uuid,
    status: Option<&str>,
    before: Option<DateTime<Utc>>,
    limit: u64,
) -> Result<Vec<Delivery>> {
    let mut query = delivery::Entity::find().filter(delivery::Column::SubscriptionId.eq(subscription));
    if let Some(status) = status {
        query = query.filter(delivery::Column::Status.eq(status));
    }
    if let Some(before) = before {
        query = query.filter(delivery::Column::CreatedAt.lt(before));
    }
    Ok(query
        .order_by_desc(delivery::Column::CreatedAt)
        .order_by_desc(delivery::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
