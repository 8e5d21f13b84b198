//! Bulk export for a data warehouse: the rows of each table that changed in
//! a window, one file per table (NDJSON or CSV) and a `manifest.json`, in a
//! directory or an S3-compatible bucket. `ventanilla export` runs one
//! window; the `warehouse.export` job runs one every `[export] every_secs`,
//! each starting where the last ended (minus an overlap, so rows committed
//! late are not missed; warehouses load by id). docs/export.md is the schema.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::store::export::{self as rows, Table};
use crate::store::{self, Store};

pub use crate::config::ExportFormat as Format;

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "ndjson" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }
}

/// Where the files go.
#[derive(Clone)]
pub enum Sink {
    Dir(PathBuf),
    /// A bucket and the key prefix files go under.
    Bucket(Arc<dyn object_store::ObjectStore>, String),
}

/// What one export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Manifest {
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    pub format: &'static str,
    /// File name (under the export's folder) and rows, per table.
    pub tables: Vec<(String, String, u64)>,
}

/// Rows read per query.
const PAGE: u64 = 5_000;

/// Rows per file: a table larger than this is split into numbered files
/// (`messages.ndjson`, `messages-2.ndjson`...), so memory stays bounded.
const ROWS_PER_FILE: u64 = 100_000;

/// One file of a table being written.
struct Part {
    table: Table,
    format: Format,
    number: usize,
    rows: u64,
    bytes: Vec<u8>,
    csv: Option<csv::Writer<Vec<u8>>>,
}

impl Part {
    fn new(table: Table, format: Format) -> Part {
        let mut csv = (format == Format::Csv).then(|| csv::Writer::from_writer(Vec::new()));
        if let Some(writer) = csv.as_mut() {
            // Writing to memory cannot fail.
            let _ = writer.write_record(table.columns());
        }
        Part { table, format, number: 1, rows: 0, bytes: Vec::new(), csv }
    }

    /// Numbers the file after the `files` of its table already written.
    fn numbered(mut self, files: usize) -> Part {
        self.number = files + 1;
        self
    }

    fn push(&mut self, row: &serde_json::Value) -> anyhow::Result<()> {
        self.rows += 1;
        match self.csv.as_mut() {
            Some(writer) => writer.write_record(self.table.columns().iter().map(|c| cell(&row[*c])))?,
            None => {
                serde_json::to_writer(&mut self.bytes, row)?;
                self.bytes.push(b'\n');
            }
        }
        Ok(())
    }

    async fn finish(self, sink: &Sink, folder: &str) -> anyhow::Result<(String, String, u64)> {
        let bytes = match self.csv {
            Some(writer) => writer.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?,
            None => self.bytes,
        };
        let name = if self.number == 1 {
            format!("{}.{}", self.table.name(), self.format.extension())
        } else {
            format!("{}-{}.{}", self.table.name(), self.number, self.format.extension())
        };
        put(sink, folder, &name, bytes).await?;
        Ok((self.table.name().to_owned(), name, self.rows))
    }
}

/// Writes the rows changed in `(since, until]` of every table into a folder
/// named after `until` (`export-20260302T140000Z/`).
pub async fn run(
    store: &Store,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    format: Format,
    sink: &Sink,
) -> anyhow::Result<Manifest> {
    let folder = format!("export-{}", until.format("%Y%m%dT%H%M%SZ"));
    let mut manifest = Manifest { since, until, format: format.extension(), tables: vec![] };
    for table in Table::ALL {
        let mut part = Part::new(table, format);
        let mut after = None;
        loop {
            let (page, next) = rows::page(&store.db, table, since, until, after, PAGE).await?;
            for row in &page {
                part.push(row)?;
                if part.rows == ROWS_PER_FILE {
                    manifest.tables.push(part.finish(sink, &folder).await?);
                    let written = manifest.tables.iter().filter(|(t, _, _)| t == table.name()).count();
                    part = Part::new(table, format).numbered(written);
                }
            }
            match next {
                Some(mark) => after = Some(mark),
                None => break,
            }
        }
        // Every table has a file, even an empty one (a CSV keeps its header).
        if part.rows > 0 || !manifest.tables.iter().any(|(t, _, _)| t == table.name()) {
            manifest.tables.push(part.finish(sink, &folder).await?);
        }
    }
    let summary = serde_json::to_vec_pretty(&serde_json::json!({
        "since": manifest.since,
        "until": manifest.until,
        "format": manifest.format,
        "tables": manifest.tables.iter().map(|(t, f, n)| serde_json::json!({"table": t, "file": f, "rows": n})).collect::<Vec<_>>(),
    }))?;
    // Written last: a folder with a manifest is complete.
    put(sink, &folder, "manifest.json", summary).await?;
    // Every bulk export of people's data is on the record.
    let rows: u64 = manifest.tables.iter().map(|(_, _, n)| *n).sum();
    let entry = crate::store::audit::Entry {
        actor: &crate::domain::Actor::System,
        action: "export.written",
        target_kind: "export",
        target_id: folder.clone(),
        unit_id: None,
        details: serde_json::json!({ "since": since, "until": until, "format": manifest.format, "rows": rows }),
    };
    crate::store::audit::record_read(store, entry).await?;
    Ok(manifest)
}

/// A CSV cell: text as it is (formula-like text made safe for
/// spreadsheets), nothing for null, JSON for the rest.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => crate::spreadsheet::export_cell(s).into_owned(),
        other => crate::spreadsheet::export_cell(&other.to_string()).into_owned(),
    }
}

async fn put(sink: &Sink, folder: &str, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
    match sink {
        Sink::Dir(dir) => {
            let folder = dir.join(folder);
            tokio::fs::create_dir_all(&folder).await?;
            // Written whole, then renamed: a reader never sees half a file.
            let partial = folder.join(format!(".{name}.partial"));
            tokio::fs::write(&partial, &bytes).await?;
            tokio::fs::rename(&partial, folder.join(name)).await?;
        }
        Sink::Bucket(bucket, prefix) => {
            let key = object_store::path::Path::from(format!("{prefix}{folder}/{name}"));
            bucket.put(&key, bytes.into()).await?;
        }
    }
    Ok(())
}

/// The sink `[export]` names: its bucket when set, else its directory.
pub fn sink_of(config: &crate::config::Config) -> anyhow::Result<Option<Sink>> {
    let export = &config.export;
    if let Some(s3) = &export.s3 {
        let bucket = crate::attachments::bucket(s3).map_err(|e| anyhow::anyhow!("[export.s3]: {e}"))?;
        return Ok(Some(Sink::Bucket(bucket, s3.prefix.clone())));
    }
    Ok(export.dir.clone().map(Sink::Dir))
}

/// The settings key of the last scheduled export's end.
const WATERMARK: &str = "export.until";

/// Rows committed this long after their change time are still exported by
/// the next run (warehouses load by id, so a repeat is harmless).
const OVERLAP: chrono::Duration = chrono::Duration::minutes(5);

/// The `warehouse.export` job: one window from the last one's end to now.
pub async fn scheduled(services: &crate::services::Services) -> crate::store::job::Outcome {
    use crate::store::job::Outcome;
    let sink = match sink_of(&services.config) {
        Ok(Some(sink)) => sink,
        Ok(None) => return Outcome::Done,
        Err(e) => return Outcome::Dead(e.to_string()),
    };
    let db = &services.store;
    let last = match store::setting::get(&db.db, WATERMARK).await {
        Ok(v) => v.and_then(|v| DateTime::parse_from_rfc3339(&v).ok()).map(|t| t.with_timezone(&Utc)),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let until = store::now();
    let since = last.map(|t| t - OVERLAP);
    if let Err(e) = run(db, since, until, services.config.export.format, &sink).await {
        return Outcome::Retry(e.to_string());
    }
    let saved = async {
        let tx = db.begin().await?;
        store::setting::set(&*tx, WATERMARK, &until.to_rfc3339()).await?;
        tx.commit().await
    };
    match saved.await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}
