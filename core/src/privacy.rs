//! Data-subject work that runs in the background: the export of everything
//! held about a person for their access request (`privacy.export` jobs),
//! a ZIP with the data as JSON, a readable summary in the institution's
//! language, and the files their messages carry. The ZIP waits in the file
//! store (disk or bucket, so any instance serves it) until its one download.
//! And the erasure of a person (`privacy.erase` jobs): their files are
//! removed from the file store first, then everything else is anonymised
//! in one transaction, so a run killed at any point is finished by the
//! next (the job's lease runs out and it is taken again).

use crate::domain::data_request::EXPORT_DAYS;
use crate::services::Services;
use crate::store::job::{Job, JobKind, Outcome};
use crate::store::{self, person::PersonData};
use serde_json::Value;
use std::io::Write;

/// Runs one `privacy.export` job.
pub async fn export(services: &Services, job: &Job) -> Outcome {
    let Some(id) = job.payload["request_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return Outcome::Dead("payload: no request_id".into());
    };
    let last_try = job.attempts + 1 >= JobKind::PrivacyExport.max_attempts();
    match make(services, id).await {
        Ok(()) => Outcome::Done,
        Err(store::Error::NotFound(_)) => Outcome::Done,
        Err(e) if last_try => {
            if let Err(mark) = store::data_request::export_failed(&services.store, id, &e.to_string()).await {
                tracing::warn!(request = %id, error = %mark, "cannot mark an export failed");
            }
            Outcome::Dead(e.to_string())
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// Applies every unit's retention policy (the daily `privacy.retention`
/// job, or an admin's run): files leave the file store first, then the
/// database changes in one transaction, so a killed run is finished by the
/// next. A dry run changes nothing.
pub async fn retention(
    store: &store::Store,
    files: &crate::attachments::Attachments,
    dry_run: bool,
) -> Result<Vec<store::retention::UnitReport>, store::Error> {
    let due = store::retention::due(&store.db, store::now()).await?;
    if dry_run {
        return Ok(due.reports);
    }
    for hash in store::retention::removable(&store.db, &due).await? {
        files.remove(&hash).await.map_err(|e| store::Error::Corrupt(format!("removing a file: {e}")))?;
    }
    store::retention::apply(store, &due).await?;
    Ok(due.reports)
}

/// Removes audit entries older than `months` (but cases' timeline steps),
/// when the institution sets a retention for them; how many went (or, in
/// a dry run, would go).
pub async fn audit_retention(store: &store::Store, months: Option<u32>, dry_run: bool) -> Result<u64, store::Error> {
    let Some(months) = months else { return Ok(0) };
    let before = store::now()
        .checked_sub_months(chrono::Months::new(months))
        .ok_or_else(|| store::Error::Corrupt("the audit retention reaches before the calendar".into()))?;
    if dry_run {
        return store::audit::count_prunable(&store.db, before).await;
    }
    store::audit::prune(store, before).await
}

/// Runs one `privacy.erase` job.
pub async fn erase(services: &Services, job: &Job) -> Outcome {
    let Some(id) = job.payload["contact_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return Outcome::Dead("payload: no contact_id".into());
    };
    let id = crate::domain::ContactId(id);
    match erase_person(services, id).await {
        Ok(()) | Err(store::Error::NotFound(_)) => Outcome::Done,
        // Held since it was asked: it stops, and can be asked again later.
        Err(store::Error::Conflict { message, .. }) => {
            match store::erasure::cancel(&services.store, id, &message).await {
                Ok(()) => Outcome::Dead(message),
                Err(e) => Outcome::Retry(e.to_string()),
            }
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

async fn erase_person(services: &Services, id: crate::domain::ContactId) -> Result<(), store::Error> {
    let db = &services.store.db;
    if !store::erasure::pending(db, id).await? {
        return Ok(());
    }
    if let Some(reason) = store::erasure::hold_of(db, id).await? {
        return Err(store::Error::conflict("legal_hold", format!("the person's data is under legal hold ({reason})")));
    }
    let (_, files) = store::erasure::plan(db, id).await?;
    for hash in &files {
        services.attachments.remove(hash).await.map_err(|e| store::Error::Corrupt(format!("removing a file: {e}")))?;
    }
    store::erasure::finish(&services.store, id).await?;
    Ok(())
}

async fn make(services: &Services, id: uuid::Uuid) -> Result<(), store::Error> {
    let db = &services.store.db;
    let request = store::data_request::get_unscoped(db, id).await?;
    if request.export.as_ref().is_none_or(|e| e.status != crate::domain::data_request::ExportStatus::Pending) {
        return Ok(());
    }
    let person = store::person::gather(db, request.contact_id).await?;
    let mut files = Vec::with_capacity(person.files.len());
    for file in &person.files {
        // A file the store no longer has is named in the data without its bytes.
        match services.attachments.read(&file.hash).await {
            Ok(bytes) => files.push((store::person::export_path(file), bytes)),
            Err(e) => tracing::warn!(hash = %file.hash, error = %e, "a file of the export is missing"),
        }
    }
    let zip = archive(&person, &files, &services.config.locale).map_err(|e| store::Error::Corrupt(e.to_string()))?;
    let size = zip.len() as u64;
    let hash =
        services.attachments.put(zip).await.map_err(|e| store::Error::Corrupt(format!("keeping the export: {e}")))?;
    let expires = store::now() + chrono::Duration::days(EXPORT_DAYS);
    if let Some(old) = store::data_request::export_ready(&services.store, id, &hash, size, expires).await?
        && let Err(e) = services.attachments.remove(&old).await
    {
        tracing::warn!(request = %id, error = %e, "cannot remove a replaced export");
    }
    Ok(())
}

/// The ZIP: `datos.json`, `resumen.html` and `archivos/...`.
pub fn archive(person: &PersonData, files: &[(String, Vec<u8>)], locale: &str) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("datos.json", options)?;
    zip.write_all(serde_json::to_string_pretty(&person.document).unwrap_or_default().as_bytes())?;
    zip.start_file("resumen.html", options)?;
    zip.write_all(summary(&person.document, locale).as_bytes())?;
    for (path, bytes) in files {
        zip.start_file(path.as_str(), options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

/// A page a person can read: who they are to the institution, their
/// authorisations, and every conversation.
pub fn summary(doc: &Value, locale: &str) -> String {
    let t = |key: &str| escape(&crate::i18n::t(locale, &format!("export.{key}"), &[]));
    let mut html = format!(
        "<!doctype html><html lang=\"{locale}\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}}\
         .m{{margin:.3rem 0;padding:.4rem .6rem;border-radius:.4rem;background:#f3f4f6;white-space:pre-wrap}}.in{{background:#e0ecff}}</style>\
         </head><body><h1>{title}</h1><p>{intro}</p>",
        title = t("title"),
        intro = t("intro"),
    );
    let contact = &doc["contact"];
    html += &format!("<h2>{}</h2><table>", t("contact"));
    html += &format!("<tr><th>{}</th><td>{}</td></tr>", t("name"), text(&contact["name"]));
    if !contact["external_id"].is_null() {
        html += &format!("<tr><th>{}</th><td>{}</td></tr>", t("external_id"), text(&contact["external_id"]));
    }
    for identity in contact["identities"].as_array().into_iter().flatten() {
        html += &format!("<tr><th>{}</th><td>{}</td></tr>", text(&identity["channel"]), text(&identity["value"]));
    }
    for (key, value) in contact["custom_attributes"].as_object().into_iter().flatten() {
        html += &format!("<tr><th>{}</th><td>{}</td></tr>", escape(key), text(value));
    }
    html += "</table>";
    html += &format!("<h2>{}</h2>", t("consents"));
    let consents = doc["consents"].as_array().cloned().unwrap_or_default();
    if consents.is_empty() {
        html += &format!("<p>{}</p>", t("none"));
    } else {
        html += &format!(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            t("purpose"),
            t("answer"),
            t("how"),
            t("when")
        );
        for c in &consents {
            let answer = if c["action"] == "grant" { t("granted") } else { t("revoked") };
            html += &format!(
                "<tr><td>{}</td><td>{answer} ({})</td><td>{} · {}</td><td>{}</td></tr>",
                text(&c["purpose"]),
                text(&c["text_version"]),
                text(&c["channel"]),
                text(&c["source"]),
                text(&c["recorded_at"])
            );
        }
        html += "</table>";
    }
    html += &format!("<h2>{}</h2>", t("cases"));
    for case in doc["cases"].as_array().into_iter().flatten() {
        html += &format!(
            "<h3>#{} · {}</h3><p>{} · {} · {}</p>",
            text(&case["number"]),
            text(&case["subject"]),
            text(&case["unit"]),
            text(&case["channel"]),
            text(&case["created_at"])
        );
        for m in case["messages"].as_array().into_iter().flatten() {
            let class = if m["direction"] == "inbound" { "m in" } else { "m" };
            let who = if m["direction"] == "inbound" { t("you") } else { t("institution") };
            html += &format!(
                "<div class=\"{class}\"><strong>{who}</strong> ({}): {}",
                text(&m["created_at"]),
                text(&m["body"])
            );
            for a in m["attachments"].as_array().into_iter().flatten() {
                match a["file"].as_str() {
                    Some(path) => html += &format!("<br>📎 <a href=\"{}\">{}</a>", escape(path), text(&a["name"])),
                    None => html += &format!("<br>📎 {}", text(&a["name"])),
                }
            }
            html += "</div>";
        }
    }
    let requests = doc["requests"].as_array().cloned().unwrap_or_default();
    html += &format!("<h2>{}</h2>", t("requests"));
    for r in &requests {
        html += &format!("<p>{} · {} · {}</p>", text(&r["kind"]), text(&r["status"]), text(&r["received_at"]));
    }
    html += &format!("<p><small>{}</small></p></body></html>", t("json"));
    html
}
