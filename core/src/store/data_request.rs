//! Data-subject requests: filed against a contact the caller may see,
//! answered by the designated unit before a legal deadline computed in its
//! business days. Every step is in the audit trail.

use super::contact::Visibility;
use super::{Error, Result, Store, audit, stored};
use crate::domain::data_request::{self, DataRequest, Deadlines, Export, ExportStatus, RequestKind, RequestStatus};
use crate::domain::{Actor, ConsentAction, ContactId, UnitId, UserId, consent::NewConsent};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "data_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub contact_id: Uuid,
        pub kind: String,
        pub status: String,
        pub details: String,
        pub unit_id: Uuid,
        pub received_at: DateTimeUtc,
        pub due_at: DateTimeUtc,
        pub warn_at: DateTimeUtc,
        pub resolution: Option<String>,
        pub created_by: Option<Uuid>,
        pub closed_by: Option<Uuid>,
        pub closed_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub export_status: Option<String>,
        pub export_hash: Option<String>,
        pub export_bytes: Option<i64>,
        pub export_error: Option<String>,
        pub export_ready_at: Option<DateTimeUtc>,
        pub export_expires_at: Option<DateTimeUtc>,
        pub export_downloaded_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn from_model(m: entity::Model) -> Result<DataRequest> {
    let export = match &m.export_status {
        None => None,
        Some(status) => Some(Export {
            status: stored(ExportStatus::parse("export_status", status))?,
            hash: m.export_hash.clone(),
            size_bytes: m.export_bytes.and_then(|b| u64::try_from(b).ok()),
            error: m.export_error.clone(),
            ready_at: m.export_ready_at,
            expires_at: m.export_expires_at,
            downloaded_at: m.export_downloaded_at,
        }),
    };
    Ok(DataRequest {
        export,
        id: m.id,
        contact_id: ContactId(m.contact_id),
        kind: stored(RequestKind::parse("kind", &m.kind))?,
        status: stored(RequestStatus::parse("status", &m.status))?,
        details: m.details,
        unit_id: UnitId(m.unit_id),
        received_at: m.received_at,
        due_at: m.due_at,
        warn_at: m.warn_at,
        resolution: m.resolution,
        created_by: m.created_by.map(UserId),
        closed_by: m.closed_by.map(UserId),
        closed_at: m.closed_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// A request to file, checked by the caller.
#[derive(Debug, Clone)]
pub struct NewDataRequest {
    pub kind: RequestKind,
    pub details: String,
    pub unit_id: UnitId,
    pub received_at: DateTime<Utc>,
}

/// Which requests a caller may see: those of some units, or all.
pub type Units = Option<Vec<UnitId>>;

/// Files a request about a contact the caller may see; its deadline is
/// counted in the answering unit's business days. The unit's supervisors
/// are told.
pub async fn create(
    store: &Store,
    actor: &Actor,
    visibility: &Visibility,
    contact: ContactId,
    new: NewDataRequest,
    deadlines: &Deadlines,
) -> Result<DataRequest> {
    let tx = store.begin().await?;
    super::contact::get(&*tx, visibility, contact).await?;
    let unit = super::unit::get(&*tx, new.unit_id).await?;
    let days = deadlines.days(new.kind);
    let (due, warn) =
        data_request::deadline(&unit.business_hours, unit.timezone, new.received_at, days, deadlines.warn_days)
            .ok_or_else(|| Error::conflict("unit_id", "the unit has no business days to count a deadline in"))?;
    let now = super::now();
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        contact_id: Set(contact.0),
        kind: Set(new.kind.as_str().to_owned()),
        status: Set(RequestStatus::Open.as_str().to_owned()),
        details: Set(new.details),
        unit_id: Set(unit.id.0),
        received_at: Set(new.received_at),
        due_at: Set(due),
        warn_at: Set(warn),
        resolution: Set(None),
        created_by: Set(user_of(actor)),
        closed_by: Set(None),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        export_status: Set(None),
        export_hash: Set(None),
        export_bytes: Set(None),
        export_error: Set(None),
        export_ready_at: Set(None),
        export_expires_at: Set(None),
        export_downloaded_at: Set(None),
    }
    .insert(&*tx)
    .await?;
    let request = from_model(model)?;
    record(&*tx, actor, &request, "data_request.created").await?;
    let supervisors = super::notification::supervisors(&*tx, unit.id).await?;
    for user in supervisors {
        let locale = super::user::get(&*tx, user).await.map(|u| u.locale).unwrap_or_else(|_| "es".into());
        let kind = crate::i18n::t(&locale, &format!("data_request.kind.{}", request.kind.as_str()), &[]);
        let due = due.with_timezone(&unit.timezone).format("%Y-%m-%d %H:%M").to_string();
        let text = crate::i18n::t(&locale, "data_request.new", &[("kind", &kind), ("due", &due)]);
        super::notification::notify_in(&*tx, &[user], None, "data_request", &text).await?;
    }
    tx.commit().await?;
    Ok(request)
}

fn user_of(actor: &Actor) -> Option<uuid::Uuid> {
    match actor {
        Actor::User(user) => Some(user.0),
        _ => None,
    }
}

async fn record(conn: &impl ConnectionTrait, actor: &Actor, request: &DataRequest, action: &str) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "contact",
            target_id: request.contact_id.to_string(),
            unit_id: Some(request.unit_id),
            details: serde_json::json!({
                "request_id": request.id,
                "kind": request.kind.as_str(),
                "status": request.status.as_str(),
                "due_at": request.due_at,
            }),
        },
    )
    .await
}

/// What the queue is filtered by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<RequestStatus>,
    pub unit_id: Option<UnitId>,
    pub contact_id: Option<ContactId>,
    pub kind: Option<RequestKind>,
}

/// Requests the caller may see, soonest deadline first.
pub async fn list(conn: &impl ConnectionTrait, units: &Units, filter: &Filter, limit: u64) -> Result<Vec<DataRequest>> {
    use entity::Column;
    let mut query = entity::Entity::find();
    if let Some(units) = units {
        query = query.filter(Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(unit) = filter.unit_id {
        query = query.filter(Column::UnitId.eq(unit.0));
    }
    if let Some(contact) = filter.contact_id {
        query = query.filter(Column::ContactId.eq(contact.0));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(Column::Kind.eq(kind.as_str()));
    }
    query
        .order_by_asc(Column::DueAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

/// One request the caller may see.
pub async fn get(conn: &impl ConnectionTrait, units: &Units, id: uuid::Uuid) -> Result<DataRequest> {
    let model = entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("data request"))?;
    if units.as_ref().is_some_and(|units| !units.contains(&UnitId(model.unit_id))) {
        return Err(Error::NotFound("data request"));
    }
    from_model(model)
}

/// Answers an open request: done or refused, with what was done or why.
/// A revocation done records the person's revocation of the processing of
/// their data in the same transaction.
pub async fn close(
    store: &Store,
    actor: &Actor,
    units: &Units,
    id: uuid::Uuid,
    status: RequestStatus,
    resolution: String,
) -> Result<DataRequest> {
    let tx = store.begin().await?;
    let request = get(&*tx, units, id).await?;
    if request.status != RequestStatus::Open {
        return Err(Error::conflict("status", "the request was already answered"));
    }
    if status == RequestStatus::Open {
        return Err(Error::conflict("status", "an answer is `done` or `refused`"));
    }
    let now = super::now();
    let mut model: entity::ActiveModel =
        entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("data request"))?.into();
    model.status = Set(status.as_str().to_owned());
    model.resolution = Set(Some(resolution));
    model.closed_by = Set(user_of(actor));
    model.closed_at = Set(Some(now));
    model.updated_at = Set(now);
    let request = from_model(model.update(&*tx).await?)?;
    if request.kind == RequestKind::Revocation && status == RequestStatus::Done {
        let purpose = crate::domain::privacy::DATA_PURPOSE;
        let version =
            super::consent_text::latest(&*tx, purpose).await?.map_or_else(|| "default".to_owned(), |t| t.label());
        let revoke = NewConsent {
            purpose: purpose.to_owned(),
            action: ConsentAction::Revoke,
            text_version: version,
            channel: crate::domain::Channel::Api,
            source: "request".to_owned(),
            reference: None,
            given_at: Some(request.received_at),
        };
        super::contact::add_consent_in(&*tx, actor, request.contact_id, revoke).await?;
    }
    record(&*tx, actor, &request, &format!("data_request.{}", status.as_str())).await?;
    tx.commit().await?;
    Ok(request)
}

/// Asks for the export of an access request's data: marked pending, with
/// the job that makes it in the same transaction. Asked again, it is made
/// again (a new file replaces one not downloaded yet).
pub async fn request_export(store: &Store, actor: &Actor, units: &Units, id: uuid::Uuid) -> Result<DataRequest> {
    let tx = store.begin().await?;
    let request = get(&*tx, units, id).await?;
    if request.kind != RequestKind::Access {
        return Err(Error::conflict("kind", "only an access request exports the person's data"));
    }
    if request.export.as_ref().is_some_and(|e| e.status == ExportStatus::Pending) {
        return Ok(request);
    }
    let mut model: entity::ActiveModel =
        entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("data request"))?.into();
    model.export_status = Set(Some(ExportStatus::Pending.as_str().to_owned()));
    model.export_error = Set(None);
    model.updated_at = Set(super::now());
    let request = from_model(model.update(&*tx).await?)?;
    super::job::enqueue(
        &*tx,
        super::job::NewJob {
            kind: super::job::JobKind::PrivacyExport,
            payload: serde_json::json!({ "request_id": id }),
            idempotency_key: Some(format!("export:{id}:{}", uuid::Uuid::now_v7())),
        },
    )
    .await?;
    record(&*tx, actor, &request, "data_request.export_requested").await?;
    tx.commit().await?;
    Ok(request)
}

/// Any request, whoever asks (the export job, a download link).
pub async fn get_unscoped(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<DataRequest> {
    get(conn, &None, id).await
}

/// The export job's end: the file is ready until `expires_at`. Returns the
/// file of an earlier export it replaces, for the caller to remove.
pub async fn export_ready(
    store: &Store,
    id: uuid::Uuid,
    hash: &str,
    size_bytes: u64,
    expires_at: DateTime<Utc>,
) -> Result<Option<String>> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("data request"))?;
    let replaced = current.export_hash.clone().filter(|old| old != hash);
    let now = super::now();
    let mut model: entity::ActiveModel = current.into();
    model.export_status = Set(Some(ExportStatus::Ready.as_str().to_owned()));
    model.export_hash = Set(Some(hash.to_owned()));
    model.export_bytes = Set(Some(i64::try_from(size_bytes).unwrap_or(i64::MAX)));
    model.export_ready_at = Set(Some(now));
    model.export_expires_at = Set(Some(expires_at));
    model.export_downloaded_at = Set(None);
    model.updated_at = Set(now);
    let request = from_model(model.update(&*tx).await?)?;
    record(&*tx, &Actor::System, &request, "data_request.exported").await?;
    tx.commit().await?;
    Ok(replaced)
}

/// The export job gave up: the reason is shown, and it can be asked again.
pub async fn export_failed(store: &Store, id: uuid::Uuid, error: &str) -> Result<()> {
    let tx = store.begin().await?;
    entity::Entity::update_many()
        .col_expr(entity::Column::ExportStatus, sea_orm::sea_query::Expr::value(ExportStatus::Failed.as_str()))
        .col_expr(
            entity::Column::ExportError,
            sea_orm::sea_query::Expr::value(error.chars().take(500).collect::<String>()),
        )
        .filter(entity::Column::Id.eq(id))
        .exec(&*tx)
        .await?;
    tx.commit().await
}

/// Takes a ready export for its one download: true if this caller got it
/// (it was ready, unexpired and still this file); it is then downloaded,
/// and no second caller gets it.
pub async fn take_export(store: &Store, id: uuid::Uuid, hash: &str) -> Result<bool> {
    let tx = store.begin().await?;
    let now = super::now();
    let taken = entity::Entity::update_many()
        .col_expr(entity::Column::ExportStatus, sea_orm::sea_query::Expr::value(ExportStatus::Downloaded.as_str()))
        .col_expr(entity::Column::ExportDownloadedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(entity::Column::ExportHash, sea_orm::sea_query::Expr::value(Option::<String>::None))
        .filter(entity::Column::Id.eq(id))
        .filter(entity::Column::ExportStatus.eq(ExportStatus::Ready.as_str()))
        .filter(entity::Column::ExportHash.eq(hash))
        .filter(entity::Column::ExportExpiresAt.gt(now))
        .exec(&*tx)
        .await?;
    if taken.rows_affected == 1 {
        let request = get(&*tx, &None, id).await?;
        record(&*tx, &Actor::System, &request, "data_request.export_downloaded").await?;
    }
    tx.commit().await?;
    Ok(taken.rows_affected == 1)
}
