//! Durable jobs: claimed once, taken over when a worker dies, retried with
//! backoff, buried when they cannot succeed.

use std::time::Duration;
use ventanilla::store::job::{self, JobKind, NewJob};
use ventanilla_tests::{TestDb, eventually, on_both, spawn_app, test_config};

on_both! {
    async fn a_dead_workers_job_is_taken_over_and_claimed_once(backend) {
        let db = TestDb::new(backend).await?;
        let store = ventanilla::app::open_store(&test_config(&db)).await?;
        let tx = store.begin().await?;
        job::enqueue(&*tx, NewJob { kind: JobKind::FilesGc, payload: serde_json::json!({}), idempotency_key: Some("k1".into()) }).await?;
        tx.commit().await?;

        // A worker claims it for a very short lease, then "dies".
        let first = job::claim(&store, Duration::from_millis(1)).await?.ok_or_else(|| anyhow::anyhow!("nothing claimed"))?;
        anyhow::ensure!(first.attempts == 1 && first.status == "running");
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Another takes it over once the lease ran out...
        let again = job::claim(&store, Duration::from_secs(60)).await?.ok_or_else(|| anyhow::anyhow!("not taken over"))?;
        anyhow::ensure!(again.id == first.id && again.attempts == 2);
        // ...and while that lease holds, nobody else gets it.
        anyhow::ensure!(job::claim(&store, Duration::from_secs(60)).await?.is_none());

        // The same key is enqueued once.
        let tx = store.begin().await?;
        let duplicate = job::enqueue(&*tx, NewJob { kind: JobKind::FilesGc, payload: serde_json::json!({}), idempotency_key: Some("k1".into()) }).await;
        anyhow::ensure!(duplicate.is_err(), "a second job with the same key");
        drop(tx);

        // A retry waits for its time; finishing removes the job.
        let later = ventanilla::store::now() + chrono::Duration::milliseconds(300);
        job::retry_at(&store, again.id, "passing trouble", later).await?;
        anyhow::ensure!(job::claim(&store, Duration::from_secs(60)).await?.is_none(), "not before its time");
        tokio::time::sleep(Duration::from_millis(350)).await;
        let third = job::claim(&store, Duration::from_secs(60)).await?.ok_or_else(|| anyhow::anyhow!("not retried"))?;
        anyhow::ensure!(third.attempts == 3 && third.last_error.as_deref() == Some("passing trouble"));
        let tx = store.begin().await?;
        job::complete_in(&*tx, third.id).await?;
        tx.commit().await?;
        anyhow::ensure!(job::get(&store.db, third.id).await?.is_none());
        Ok(())
    }

    async fn a_write_abandoned_on_an_error_does_not_lock_out_the_next(backend) {
        // A handler that fails half-way drops its transaction; the rollback
        // is still on its way when the next writer reads and then writes.
        let db = TestDb::new(backend).await?;
        let store = ventanilla::app::open_store(&test_config(&db)).await?;
        let tx = store.begin().await?;
        job::enqueue(&*tx, NewJob { kind: JobKind::FilesGc, payload: serde_json::json!({}), idempotency_key: Some("once".into()) }).await?;
        tx.commit().await?;
        let id = job::claim(&store, Duration::from_secs(60)).await?.ok_or_else(|| anyhow::anyhow!("nothing claimed"))?.id;
        for round in 0..200 {
            let tx = store.begin().await?;
            let refused = job::enqueue(&*tx, NewJob { kind: JobKind::FilesGc, payload: serde_json::json!({}), idempotency_key: Some("once".into()) }).await;
            anyhow::ensure!(refused.is_err(), "round {round}: the same key twice");
            drop(tx);
            let later = ventanilla::store::now() + chrono::Duration::seconds(60);
            job::retry_at(&store, id, &format!("round {round}"), later).await
                .map_err(|e| anyhow::anyhow!("round {round}: {e}"))?;
        }
        Ok(())
    }

    async fn a_job_nobody_handles_is_buried_with_its_reason(backend) {
        let app = spawn_app(backend).await?;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let tx = app.store.begin().await?;
        job::enqueue(&*tx, NewJob { kind: JobKind::FilesGc, payload: serde_json::json!({}), idempotency_key: Some("elsewhere".into()) }).await?;
        // A kind this version does not know, as another version may write it.
        job::entity::Entity::update_many()
            .col_expr(job::entity::Column::Kind, Expr::value("no.such.kind"))
            .filter(job::entity::Column::IdempotencyKey.eq("elsewhere"))
            .exec(&*tx).await?;
        tx.commit().await?;
        let dead = eventually(Duration::from_secs(10), || async {
            job::entity::Entity::find()
                .filter(job::entity::Column::Kind.eq("no.such.kind"))
                .filter(job::entity::Column::Status.eq("dead"))
                .one(&app.store.db).await.ok()?
        }).await;
        let Some(dead) = dead else { anyhow::bail!("not buried") };
        anyhow::ensure!(dead.last_error.as_deref().is_some_and(|e| e.contains("no handler")), "{dead:?}");
        let metrics = app.client.get(app.url("/metrics")).send().await?.text().await?;
        anyhow::ensure!(metrics.contains("ventanilla_jobs_dead 1"), "{metrics}");
        Ok(())
    }
}
