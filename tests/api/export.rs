//! The bulk export for a data warehouse: every table's changed rows in a
//! window, NDJSON and CSV, incremental by change time, and the scheduled
//! export into an S3-compatible bucket.

use serde_json::{Value, json};
use ventanilla::export::{Format, Sink};
use ventanilla_tests::s3::FakeS3;
use ventanilla_tests::{TestApp, eventually, on_both, spawn_app, spawn_app_with};

fn lines(path: &std::path::Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?)
}

/// The only export folder under `dir`.
fn folder(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let found: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
    anyhow::ensure!(found.len() == 1, "{found:?}");
    Ok(found[0].clone())
}

async fn settled(app: &TestApp) -> anyhow::Result<()> {
    let done = eventually(std::time::Duration::from_secs(20), || async {
        let body = app.get("/api/v1/reports/volume", &app.admin_token).await.ok()?.body;
        (body["pending_cases"] == 0).then_some(())
    })
    .await;
    anyhow::ensure!(done.is_some(), "report figures never settled");
    Ok(())
}

on_both! {
    async fn changed_rows_go_out_table_by_table(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let first = app.create_case(&app.admin_token, &unit, "=HYPERLINK(\"http://x\")").await?;
        app.create_case(&app.admin_token, &unit, "Matrícula").await?;
        settled(&app).await?;
        let work = tempfile_dir()?;

        // Everything up to now, as NDJSON.
        let mid = ventanilla::store::now();
        let all = work.join("all");
        let manifest = ventanilla::export::run(&app.store, None, mid, Format::Ndjson, &Sink::Dir(all.clone())).await?;
        let out = folder(&all)?;
        let cases = lines(&out.join("cases.ndjson"))?;
        anyhow::ensure!(cases.len() == 2, "{cases:?}");
        // Every bulk export of people's data is on the record.
        let record = app.get("/api/v1/audit-events?action=export.written", &app.admin_token).await?;
        let written = out.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        anyhow::ensure!(record.body["items"][0]["target_id"] == written.as_str()
            && record.body["items"][0]["details"]["format"] == "ndjson", "{}", record.text);
        anyhow::ensure!(cases.iter().any(|c| c["id"] == first["id"] && c["tags"] == json!([])), "{cases:?}");
        anyhow::ensure!(lines(&out.join("messages.ndjson"))?.len() == 2);
        anyhow::ensure!(lines(&out.join("contacts.ndjson"))?.len() == 2);
        anyhow::ensure!(lines(&out.join("case_facts.ndjson"))?.len() == 2);
        anyhow::ensure!(lines(&out.join("units.ndjson"))?.len() == 1);
        let written: Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json"))?)?;
        anyhow::ensure!(written["tables"].as_array().is_some_and(|t| t.len() == manifest.tables.len()), "{written}");

        // Only what changed since: one new case, and the first one updated.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        app.create_case(&app.admin_token, &unit, "Beca").await?;
        let id = first["id"].as_str().unwrap_or_default();
        app.patch(&format!("/api/v1/cases/{id}"), &app.admin_token, json!({"priority": "high"})).await?;
        settled(&app).await?;
        let later = work.join("later");
        ventanilla::export::run(&app.store, Some(mid), ventanilla::store::now(), Format::Ndjson, &Sink::Dir(later.clone())).await?;
        let out = folder(&later)?;
        let cases = lines(&out.join("cases.ndjson"))?;
        anyhow::ensure!(cases.len() == 2 && cases.iter().any(|c| c["id"] == first["id"] && c["priority"] == "high"), "{cases:?}");
        anyhow::ensure!(lines(&out.join("messages.ndjson"))?.len() == 1);
        anyhow::ensure!(lines(&out.join("units.ndjson"))?.is_empty());

        // CSV: the documented columns, formula-like text made safe.
        let csv_dir = work.join("csv");
        ventanilla::export::run(&app.store, None, ventanilla::store::now(), Format::Csv, &Sink::Dir(csv_dir.clone())).await?;
        let out = folder(&csv_dir)?;
        let mut reader = csv::Reader::from_path(out.join("cases.csv"))?;
        let headers: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        anyhow::ensure!(headers.first().map(String::as_str) == Some("id") && headers.contains(&"tags".to_owned()), "{headers:?}");
        let subjects: Vec<String> = reader.records().filter_map(Result::ok).map(|r| r[2].to_owned()).collect();
        anyhow::ensure!(subjects.contains(&"'=HYPERLINK(\"http://x\")".to_owned()), "{subjects:?}");
        let _ = std::fs::remove_dir_all(&work);
        Ok(())
    }

    async fn the_scheduled_export_fills_a_bucket(backend) {
        let s3 = FakeS3::start("almacen", "VENTANILLA-TEST").await?;
        let mut bucket = s3.attachments_config().s3;
        if let Some(b) = bucket.as_mut() {
            b.prefix = "bodega/".into();
        }
        let app = spawn_app_with(backend, move |c| {
            c.export.every_secs = 1;
            c.export.s3 = bucket;
        }).await?;
        let unit = app.create_unit("admisiones").await?;
        app.create_case(&app.admin_token, &unit, "Certificado").await?;
        let found = eventually(std::time::Duration::from_secs(30), || async {
            let objects = s3.objects();
            // Each run writes a folder; the one after the case holds it.
            objects.keys().filter(|k| k.starts_with("bodega/export-") && k.ends_with("/manifest.json")).find_map(|k| {
                let cases = objects.get(&format!("{}cases.ndjson", k.trim_end_matches("manifest.json")))?;
                let text = String::from_utf8_lossy(cases).into_owned();
                text.contains("Certificado").then_some(text)
            })
        }).await;
        let Some(cases) = found else { anyhow::bail!("no export in the bucket: {:?}", s3.objects().keys().collect::<Vec<_>>()) };
        anyhow::ensure!(cases.contains("Certificado"), "{cases}");
        Ok(())
    }
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ventanilla-export-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
