//! Accent- and case-insensitive text search over cases and messages.
//!
//! Each case's subject and each message's body is kept a second time,
//! lowercased and without accents (`search_text`), and searched with `LIKE`
//! against the folded needle: the same on SQLite (whose `lower` only knows
//! ASCII) and PostgreSQL, with no extension. Rows written before the column
//! existed are folded by [`spawn_backfill`]; until then they are matched on
//! their raw text.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};

use super::{Result, Store};

/// Lowercased, without accents: what is stored and what is searched.
pub fn fold(text: &str) -> String {
    crate::domain::kb::fold(text)
}

/// `folded LIKE %needle%`, or, on a row not folded yet, the raw text.
pub fn contains(folded: impl ColumnTrait, raw: impl ColumnTrait, needle: &str) -> Condition {
    let pattern = |text: &str| LikeExpr::new(super::like_pattern(text)).escape('\\');
    Condition::any()
        .add(folded.like(pattern(&fold(needle))))
        .add(Condition::all().add(folded.is_null()).add(Expr::expr(Func::lower(Expr::col(raw))).like(pattern(needle))))
}

/// Rows folded per transaction.
const BATCH: u64 = 500;

/// Folds the rows written before search text existed, a batch at a time,
/// then stops. Instances running at once only repeat each other's work.
pub async fn backfill(store: &Store) -> Result<u64> {
    let mut done = 0;
    loop {
        let n = backfill_messages(store).await? + backfill_cases(store).await?;
        if n == 0 {
            return Ok(done);
        }
        done += n;
    }
}

/// Folds up to `BATCH` rows of `$entity` whose `search_text` is missing,
/// from `$raw`; how many.
macro_rules! fold_batch {
    ($store:expr, $entity:path, $raw:ident) => {{
        use $entity::{Column, Entity};
        let rows: Vec<(uuid::Uuid, String)> = Entity::find()
            .select_only()
            .columns([Column::Id, Column::$raw])
            .filter(Column::SearchText.is_null())
            .limit(BATCH)
            .into_tuple()
            .all(&$store.db)
            .await?;
        let tx = $store.begin().await?;
        for (id, text) in &rows {
            Entity::update_many()
                .col_expr(Column::SearchText, Expr::value(fold(text)))
                .filter(Column::Id.eq(*id))
                .exec(&*tx)
                .await?;
        }
        tx.commit().await?;
        rows.len() as u64
    }};
}

async fn backfill_messages(store: &Store) -> Result<u64> {
    Ok(fold_batch!(store, super::message::entity, Body))
}

async fn backfill_cases(store: &Store) -> Result<u64> {
    Ok(fold_batch!(store, super::case::entity, Subject))
}

/// Runs [`backfill`] once in the background after start.
pub fn spawn_backfill(store: Store) {
    tokio::spawn(async move {
        match backfill(&store).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "search text folded for earlier rows"),
            Err(e) => tracing::warn!(error = %e, "cannot fold earlier rows for search; they are matched on raw text"),
        }
    });
}
