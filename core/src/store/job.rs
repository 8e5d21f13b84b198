//! Durable jobs (transactional outbox): a command that must trigger work
//! writes a job row in its own transaction, so nothing is lost on a crash.
//! Workers claim due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, under the
//! single writer on SQLite) for a lease; a job whose worker died is claimed
//! again once its lease runs out.

use super::{Result, Store, is_postgres};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{LockBehavior, LockType},
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub payload: Json,
        pub status: String,
        pub run_at: DateTimeUtc,
        pub attempts: i32,
        pub locked_until: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub idempotency_key: Option<String>,
        pub created_at: DateTimeUtc,
        /// Jobs of one group run one at a time, oldest first.
        pub group_key: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as Job;

/// Every kind of job, with how often it is tried before it is given up on.
/// The database keeps the kind's name; a name this version does not know
/// (written by another version) is buried with a clear reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Run an install's plugin on a case event (`store::event`).
    PluginEvent,
    /// Send an outbound message through its channel's connector.
    MessageDeliver,
    /// Download a file a provider's message references.
    MediaFetch,
    /// Bring the search index in step with changed articles.
    KbIndex,
    /// Read the mailbox of an e-mail channel account.
    MailPoll,
    /// Remove kept files nothing refers to.
    FilesGc,
    /// Offer a resolved case's satisfaction survey.
    SurveyOffer,
    /// Hand out a unit's queue.
    QueueRoute,
    /// Mark inactive agents away, then offline.
    PresenceSweep,
    /// Bring back a snoozed case.
    CaseWake,
    /// Put together everything held about a person (an access request).
    PrivacyExport,
    /// Erase a person's data (an erasure request).
    PrivacyErase,
    /// Apply the units' retention policies.
    Retention,
    /// Send one event to a subscriber's webhook.
    WebhookDeliver,
    /// Write the rows changed since the last export for the data warehouse.
    WarehouseExport,
    /// Mail the scheduled reports that are due.
    ReportsSend,
    /// Send a campaign, a slice at a time (`core/src/campaigns.rs`).
    CampaignRun,
    /// Read a channel account's message templates from its provider.
    TemplatesSync,
    /// Read the LDAP directories and bring their people's accounts in step.
    DirectorySync,
}

impl JobKind {
    pub const ALL: [JobKind; 19] = [
        JobKind::PluginEvent,
        JobKind::MessageDeliver,
        JobKind::MediaFetch,
        JobKind::KbIndex,
        JobKind::MailPoll,
        JobKind::FilesGc,
        JobKind::SurveyOffer,
        JobKind::QueueRoute,
        JobKind::PresenceSweep,
        JobKind::CaseWake,
        JobKind::PrivacyExport,
        JobKind::PrivacyErase,
        JobKind::Retention,
        JobKind::WebhookDeliver,
        JobKind::WarehouseExport,
        JobKind::ReportsSend,
        JobKind::CampaignRun,
        JobKind::TemplatesSync,
        JobKind::DirectorySync,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::PluginEvent => "plugin.event",
            JobKind::MessageDeliver => "message.deliver",
            JobKind::MediaFetch => "media.fetch",
            JobKind::KbIndex => "kb.index",
            JobKind::MailPoll => "mail.poll",
            JobKind::FilesGc => "files.gc",
            JobKind::SurveyOffer => "survey.offer",
            JobKind::QueueRoute => "queue.route",
            JobKind::PresenceSweep => "presence.sweep",
            JobKind::CaseWake => "case.wake",
            JobKind::PrivacyExport => "privacy.export",
            JobKind::PrivacyErase => "privacy.erase",
            JobKind::Retention => "privacy.retention",
            JobKind::WebhookDeliver => "webhook.deliver",
            JobKind::WarehouseExport => "warehouse.export",
            JobKind::ReportsSend => "reports.send",
            JobKind::CampaignRun => "campaign.run",
            JobKind::TemplatesSync => "templates.sync",
            JobKind::DirectorySync => "directory.sync",
        }
    }

    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Runs a job of this kind gets before it is buried: a send is worth
    /// trying for longer (10 attempts, about 17 minutes with backoff; the
    /// `[channels.delivery]` setting changes it) than a download (8) or the
    /// host's own work (5).
    pub fn max_attempts(self) -> i32 {
        match self {
            JobKind::MessageDeliver => 10,
            JobKind::MediaFetch => 8,
            // A provider that is down for a while must not end a campaign.
            JobKind::CampaignRun => 50,
            _ => 5,
        }
    }
}

/// What running a job came to (a handler's answer to the worker).
#[derive(Debug)]
pub enum Outcome {
    /// The work is done (and the job completed in the handler's transaction).
    Done,
    /// Try again later; after its kind's `max_attempts` the job is buried.
    Retry(String),
    /// It cannot succeed; keep it as dead.
    Dead(String),
    /// Not now (a rate limit, or earlier work of its group): run it again
    /// after this long, without counting this as an attempt.
    Later(std::time::Duration),
    /// The handler put the job back itself, with what the failure means
    /// for its work, in one transaction (see [`retry_at_in`]).
    Rescheduled,
}

pub struct NewJob {
    pub kind: JobKind,
    pub payload: serde_json::Value,
    /// Jobs with the same key are enqueued once.
    pub idempotency_key: Option<String>,
}

/// Enqueues a job to run now.
pub async fn enqueue(conn: &impl ConnectionTrait, job: NewJob) -> Result<()> {
    enqueue_at(conn, job, super::now()).await
}

/// Jobs enqueued by this process so far: a commit wakes the workers only
/// when this moved while its transaction was open.
static ENQUEUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) fn enqueued() -> u64 {
    ENQUEUED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Enqueues a job to run at `run_at`.
pub async fn enqueue_at(conn: &impl ConnectionTrait, job: NewJob, run_at: DateTime<Utc>) -> Result<()> {
    enqueue_in_group(conn, job, run_at, None).await
}

/// Enqueues a job of a group: it runs after the group's earlier due jobs
/// (see [`earlier_in_group`]).
pub async fn enqueue_in_group(
    conn: &impl ConnectionTrait,
    job: NewJob,
    run_at: DateTime<Utc>,
    group: Option<String>,
) -> Result<()> {
    ENQUEUED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let now = super::now();
    entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        kind: Set(job.kind.as_str().to_owned()),
        payload: Set(job.payload),
        status: Set("pending".to_owned()),
        run_at: Set(run_at),
        attempts: Set(0),
        locked_until: Set(None),
        last_error: Set(None),
        idempotency_key: Set(job.idempotency_key),
        created_at: Set(now),
        group_key: Set(group),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Removes a job that has not started, by its key; true if there was one.
pub async fn cancel_by_key(conn: &impl ConnectionTrait, key: &str) -> Result<bool> {
    let deleted = entity::Entity::delete_many()
        .filter(entity::Column::IdempotencyKey.eq(key))
        .filter(entity::Column::Status.eq("pending"))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Removes a finished-with job (pending or dead) by its key, so the key can
/// be used again; a running job is left to its worker.
pub async fn remove_by_key_in(conn: &impl ConnectionTrait, key: &str) -> Result<()> {
    entity::Entity::delete_many()
        .filter(entity::Column::IdempotencyKey.eq(key))
        .filter(entity::Column::Status.ne("running"))
        .exec(conn)
        .await?;
    Ok(())
}

/// Makes the pending job under `key` due now (an agent asks for a retry
/// without waiting out its backoff); false if there is none pending.
pub async fn run_now_by_key_in(conn: &impl ConnectionTrait, key: &str) -> Result<bool> {
    use sea_orm::sea_query::Expr;
    let updated = entity::Entity::update_many()
        .col_expr(entity::Column::RunAt, Expr::value(super::now()))
        .filter(entity::Column::IdempotencyKey.eq(key))
        .filter(entity::Column::Status.eq("pending"))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Makes the group's pending jobs that were held back (not yet tried) due
/// now: called when the job they waited behind ends, so they do not sit
/// out the wait they were given. Each checks its turn again when it runs.
pub async fn hurry_group_in(conn: &impl ConnectionTrait, group: &str) -> Result<()> {
    use sea_orm::sea_query::Expr;
    let now = super::now();
    let updated = entity::Entity::update_many()
        .col_expr(entity::Column::RunAt, Expr::value(now))
        .filter(entity::Column::GroupKey.eq(group))
        .filter(entity::Column::Status.eq("pending"))
        .filter(entity::Column::Attempts.eq(0))
        .filter(entity::Column::RunAt.gt(now))
        .exec(conn)
        .await?;
    if updated.rows_affected > 0 {
        ENQUEUED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(())
}

/// Makes every pending job of the group due now, whatever it waited for
/// (a campaign's run sleeping through quiet hours, when the hours or the
/// campaign change).
pub async fn run_group_now_in(conn: &impl ConnectionTrait, group: &str) -> Result<()> {
    use sea_orm::sea_query::Expr;
    let updated = entity::Entity::update_many()
        .col_expr(entity::Column::RunAt, Expr::value(super::now()))
        .filter(entity::Column::GroupKey.eq(group))
        .filter(entity::Column::Status.eq("pending"))
        .exec(conn)
        .await?;
    if updated.rows_affected > 0 {
        ENQUEUED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(())
}

/// Enqueues a job under `key` unless one with that key is running now:
/// a pending or dead one is replaced. For work that a running job will
/// (or already did) cover, such as offering a case's survey.
pub async fn enqueue_once(conn: &impl ConnectionTrait, job: NewJob, key: &str) -> Result<()> {
    remove_by_key_in(conn, key).await?;
    let running = entity::Entity::find().filter(entity::Column::IdempotencyKey.eq(key)).one(conn).await?;
    if running.is_some() {
        return Ok(());
    }
    enqueue(conn, NewJob { idempotency_key: Some(key.to_owned()), ..job }).await
}

fn due(now: DateTime<Utc>) -> Condition {
    use entity::Column;
    Condition::any()
        .add(Condition::all().add(Column::Status.eq("pending")).add(Column::RunAt.lte(now)))
        .add(Condition::all().add(Column::Status.eq("running")).add(Column::LockedUntil.lt(now)))
}

/// Claims the next due job for `lease`, or `None` when nothing is due.
pub async fn claim(store: &Store, lease: std::time::Duration) -> Result<Option<Job>> {
    let now = super::now();
    // A cheap read first: every commit wakes the workers, and an idle queue
    // should then cost one plain query, not a transaction (and, on SQLite,
    // not the writer).
    if entity::Entity::find().filter(due(now)).one(&store.db).await?.is_none() {
        return Ok(None);
    }
    let tx = store.begin().await?;
    let mut query = entity::Entity::find().filter(due(now)).order_by_asc(entity::Column::RunAt).limit(1);
    if is_postgres(&*tx) {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let Some(job) = query.one(&*tx).await? else {
        return Ok(None);
    };
    let attempts = job.attempts + 1;
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let mut active: entity::ActiveModel = job.into();
    active.status = Set("running".to_owned());
    active.attempts = Set(attempts);
    active.locked_until = Set(Some(now + lease));
    let claimed = active.update(&*tx).await?;
    tx.commit().await?;
    Ok(Some(claimed))
}

/// Removes a finished job; call it in the transaction that did its work, so
/// the work and the job's end commit together.
pub async fn complete_in(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<()> {
    entity::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// Puts a job back to run again at `run_at`, remembering why it failed.
pub async fn retry_at(store: &Store, id: uuid::Uuid, error: &str, run_at: DateTime<Utc>) -> Result<()> {
    let tx = store.begin().await?;
    retry_at_in(&*tx, id, error, run_at).await?;
    tx.commit().await?;
    Ok(())
}

/// [`retry_at`] inside the caller's transaction, for a handler that writes
/// what the failure means for its work in the same commit.
pub async fn retry_at_in(
    conn: &impl ConnectionTrait,
    id: uuid::Uuid,
    error: &str,
    run_at: DateTime<Utc>,
) -> Result<()> {
    if let Some(job) = entity::Entity::find_by_id(id).one(conn).await? {
        let mut active: entity::ActiveModel = job.into();
        active.status = Set("pending".to_owned());
        active.run_at = Set(run_at);
        active.locked_until = Set(None);
        active.last_error = Set(Some(error.chars().take(2000).collect()));
        active.update(conn).await?;
    }
    Ok(())
}

/// Puts a job back to run at `run_at` without counting the attempt it was
/// claimed for (it was held back, not tried).
pub async fn postpone(store: &Store, id: uuid::Uuid, run_at: DateTime<Utc>) -> Result<()> {
    let tx = store.begin().await?;
    if let Some(job) = entity::Entity::find_by_id(id).one(&*tx).await? {
        let attempts = (job.attempts - 1).max(0);
        let mut active: entity::ActiveModel = job.into();
        active.status = Set("pending".to_owned());
        active.run_at = Set(run_at);
        active.locked_until = Set(None);
        active.attempts = Set(attempts);
        active.update(&*tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Gives up on a job: it stays, marked `dead` with its last error, for an operator to see.
pub async fn bury(store: &Store, id: uuid::Uuid, error: &str) -> Result<()> {
    let tx = store.begin().await?;
    if let Some(job) = entity::Entity::find_by_id(id).one(&*tx).await? {
        let mut active: entity::ActiveModel = job.into();
        active.status = Set("dead".to_owned());
        active.locked_until = Set(None);
        active.last_error = Set(Some(error.chars().take(2000).collect()));
        active.update(&*tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Option<Job>> {
    Ok(entity::Entity::find_by_id(id).one(conn).await?)
}

/// Jobs of one kind in one status, oldest first (tests and operators).
pub async fn list(conn: &impl ConnectionTrait, kind: JobKind, status: &str) -> Result<Vec<Job>> {
    Ok(entity::Entity::find()
        .filter(entity::Column::Kind.eq(kind.as_str()))
        .filter(entity::Column::Status.eq(status))
        .order_by_asc(entity::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// Jobs waiting to run, for /metrics.
pub async fn pending_count(conn: &impl ConnectionTrait) -> Result<u64> {
    Ok(entity::Entity::find().filter(entity::Column::Status.eq("pending")).count(conn).await?)
}

/// Whether any job with one of these keys is still to run (pending or running).
pub async fn any_unfinished(conn: &impl ConnectionTrait, keys: &[String]) -> Result<bool> {
    if keys.is_empty() {
        return Ok(false);
    }
    let found = entity::Entity::find()
        .filter(entity::Column::IdempotencyKey.is_in(keys.iter().cloned()))
        .filter(entity::Column::Status.is_in(["pending", "running"]))
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// Whether a job of `job`'s group written before it is still to run: then
/// `job` waits its turn. What holds the group up: a running job and a due
/// one; with `strict` (deliveries, whose order the person sees) also one
/// waiting for its pace or its next try after failures: a case's later
/// message never overtakes an earlier one, it waits until that one is sent
/// or given up. Without `strict`, jobs scheduled for later (timers) do not
/// hold it up.
pub async fn earlier_in_group(conn: &impl ConnectionTrait, job: &Job, strict: bool) -> Result<bool> {
    Ok(first_earlier_in_group(conn, job, strict).await?.is_some())
}

/// The oldest job of `job`'s group that holds it up (see [`earlier_in_group`]).
pub async fn first_earlier_in_group(conn: &impl ConnectionTrait, job: &Job, strict: bool) -> Result<Option<Job>> {
    let Some(group) = &job.group_key else {
        return Ok(None);
    };
    use entity::Column;
    let earlier = Condition::any()
        .add(Column::CreatedAt.lt(job.created_at))
        .add(Condition::all().add(Column::CreatedAt.eq(job.created_at)).add(Column::Id.lt(job.id)));
    let pending = if strict {
        Condition::all().add(Column::Status.eq("pending"))
    } else {
        Condition::all().add(Column::Status.eq("pending")).add(Column::RunAt.lte(super::now()))
    };
    let unfinished = Condition::any().add(Column::Status.eq("running")).add(pending);
    Ok(entity::Entity::find()
        .filter(Column::GroupKey.eq(group.as_str()))
        .filter(Column::Id.ne(job.id))
        .filter(earlier)
        .filter(unfinished)
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .one(conn)
        .await?)
}

/// Jobs that gave up, for /metrics.
pub async fn dead_count(conn: &impl ConnectionTrait) -> Result<u64> {
    Ok(entity::Entity::find().filter(entity::Column::Status.eq("dead")).count(conn).await?)
}
