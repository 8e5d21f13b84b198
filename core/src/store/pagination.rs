//! Keyset (cursor) pagination: stable under inserts, cheap at any depth.
//!
//! A cursor is the (timestamp, id) of the last row of a page, base64-encoded;
//! clients treat it as opaque.

use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

/// Largest page a client may ask for.
pub const MAX_LIMIT: u64 = 100;
pub const DEFAULT_LIMIT: u64 = 25;

/// A page request: how many rows, and after which cursor.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: u64,
    pub after: Option<Cursor>,
}

impl Default for Page {
    fn default() -> Self {
        Page { limit: DEFAULT_LIMIT, after: None }
    }
}

/// Position of the last row seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: uuid::Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!("{}|{}", self.at.timestamp_micros(), self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (micros, id) = raw.split_once('|')?;
        let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(Cursor { at, id: id.parse().ok()? })
    }
}

impl Page {
    /// Given `limit + 1` rows, keeps `limit` and makes the next cursor if more exist.
    pub fn split<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (DateTime<Utc>, uuid::Uuid),
    ) -> (Vec<T>, Option<String>) {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if rows.len() <= limit {
            return (rows, None);
        }
        rows.truncate(limit);
        let next = rows.last().map(|row| {
            let (at, id) = key(row);
            Cursor { at, id }.encode()
        });
        (rows, next)
    }
}

/// Which way a keyset list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// Fetches one page of `query` ordered by (`at`, `id`), after the page's
/// cursor, and makes the cursor of the next page.
pub async fn fetch<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    (at, id): (E::Column, E::Column),
    order: Order,
    page: &Page,
    key: impl Fn(&E::Model) -> (DateTime<Utc>, uuid::Uuid),
) -> Result<(Vec<E::Model>, Option<String>), DbErr> {
    let mut query = query;
    if let Some(cursor) = &page.after {
        query = query.filter(match order {
            Order::Ascending => after_condition(at, id, cursor),
            Order::Descending => before_condition(at, id, cursor),
        });
    }
    query = match order {
        Order::Ascending => query.order_by_asc(at).order_by_asc(id),
        Order::Descending => query.order_by_desc(at).order_by_desc(id),
    };
    let rows = query.limit(page.limit + 1).all(conn).await?;
    Ok(page.split(rows, key))
}

/// Rows strictly after `cursor` in descending (at, id) order.
pub fn before_condition(at: impl ColumnTrait, id: impl ColumnTrait, cursor: &Cursor) -> Condition {
    Condition::any().add(at.lt(cursor.at)).add(Condition::all().add(at.eq(cursor.at)).add(id.lt(cursor.id)))
}

/// Rows strictly after `cursor` in ascending (at, id) order.
pub fn after_condition(at: impl ColumnTrait, id: impl ColumnTrait, cursor: &Cursor) -> Condition {
    Condition::any().add(at.gt(cursor.at)).add(Condition::all().add(at.eq(cursor.at)).add(id.gt(cursor.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let cursor =
            Cursor { at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(), id: uuid::Uuid::now_v7() };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
