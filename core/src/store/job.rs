//! Durable jobs (transactional outbox): a command that must trigger work
//! writes a job row in its own transaction, so nothing is lost on a crash.
//! Workers that run each kind arrive with the features that need them.

use super::Result;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

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
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub struct NewJob {
    pub kind: &'static str,
    pub payload: serde_json::Value,
    /// Jobs with the same key are enqueued once.
    pub idempotency_key: Option<String>,
}

pub async fn enqueue(conn: &impl ConnectionTrait, job: NewJob) -> Result<()> {
    let now = super::now();
    entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        kind: Set(job.kind.to_owned()),
        payload: Set(job.payload),
        status: Set("pending".to_owned()),
        run_at: Set(now),
        attempts: Set(0),
        locked_until: Set(None),
        last_error: Set(None),
        idempotency_key: Set(job.idempotency_key),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Jobs waiting to run, for /metrics.
pub async fn pending_count(conn: &impl ConnectionTrait) -> Result<u64> {
    Ok(entity::Entity::find().filter(entity::Column::Status.eq("pending")).count(conn).await?)
}
