//! Data-subject requests: filed on a contact by whoever attends the person,
//! answered from the designated unit's queue before a deadline counted in
//! that unit's business days, every step audited.

use chrono::{Datelike, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use ventanilla_tests::{eventually, on_both, spawn_app_with};

on_both! {
    async fn requests_get_legal_deadlines_and_a_queue(backend) {
        let app = spawn_app_with(backend, |c| c.privacy.requests_unit = Some("proteccion-datos".into())).await?;
        // The data protection office works every day, 08:00 to 17:00 in Bogotá.
        let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter()
            .map(|d| json!({"day": d, "open": "08:00", "close": "17:00"})).collect();
        let office = app.post_ok("/api/v1/units", &app.admin_token,
            json!({"slug": "proteccion-datos", "name": "Protección de datos", "business_hours": {"weekly": every_day}}), 201).await?;
        let office = office["id"].as_str().unwrap_or_default().to_owned();
        let admisiones = app.create_unit("admisiones").await?;
        let (_, officer) = app.create_member("oficial@uni.edu.co", &office, "supervisor").await?;
        let (_, agent) = app.create_member("agente@uni.edu.co", &admisiones, "agent").await?;
        let (_, stranger) = app.create_member("otra@uni.edu.co", &app.create_unit("bienestar").await?, "agent").await?;
        let case = app.create_case(&agent, &admisiones, "Quiero saber qué datos tienen").await?;
        let contact = case["contact_id"].as_str().unwrap_or_default().to_owned();
        let file = format!("/api/v1/contacts/{contact}/requests");

        // Bad input names each field.
        let future = (Utc::now() + Duration::days(3)).to_rfc3339();
        let bad = app.post(&file, &agent, json!({"kind": "borrar", "received_at": future})).await?;
        anyhow::ensure!(bad.status == 422 || bad.status == 400, "{}", bad.text);
        let bad = app.post(&file, &agent, json!({"kind": "access", "received_at": future})).await?;
        anyhow::ensure!(bad.status == 422 && bad.body["errors"][0]["field"] == "received_at", "{}", bad.text);
        // Someone who cannot see the person cannot file for them.
        anyhow::ensure!(app.post(&file, &stranger, json!({"kind": "access"})).await?.status == 404);

        // Filed by the agent attending the person; answered by the office.
        let received = Utc::now() - Duration::days(2);
        let access = app.post_ok(&file, &agent,
            json!({"kind": "access", "details": "Copia de todo lo que tienen de mí", "received_at": received.to_rfc3339()}), 201).await?;
        anyhow::ensure!(access["unit_id"] == office.as_str() && access["status"] == "open" && access["urgency"] == "on_time", "{access}");
        // Ten business days after the day received, at the office's close.
        let bogota = chrono_tz::America::Bogota;
        let day = received.with_timezone(&bogota).date_naive() + chrono::Days::new(10);
        let due = bogota.with_ymd_and_hms(day.year(), day.month(), day.day(), 17, 0, 0).single()
            .map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let got: chrono::DateTime<Utc> = serde_json::from_value(access["due_at"].clone())?;
        anyhow::ensure!(got == due, "due {got}, expected {due}");
        let erasure = app.post_ok(&file, &agent, json!({"kind": "erasure", "received_at": received.to_rfc3339()}), 201).await?;
        let got: chrono::DateTime<Utc> = serde_json::from_value(erasure["due_at"].clone())?;
        anyhow::ensure!(got == due + Duration::days(5), "fifteen business days for a claim: {got}");
        let late = app.post_ok(&file, &agent,
            json!({"kind": "revocation", "received_at": (Utc::now() - Duration::days(20)).to_rfc3339()}), 201).await?;
        anyhow::ensure!(late["urgency"] == "overdue", "{late}");

        // The office's queue: soonest deadline first. Others see none of it.
        let queue = app.get("/api/v1/data-requests", &officer).await?;
        let ids: Vec<&str> = queue.body["items"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str()).collect();
        anyhow::ensure!(ids == [late["id"].as_str().unwrap_or_default(), access["id"].as_str().unwrap_or_default(),
            erasure["id"].as_str().unwrap_or_default()], "{}", queue.text);
        let elsewhere = app.get("/api/v1/data-requests", &stranger).await?;
        anyhow::ensure!(elsewhere.body["items"].as_array().is_some_and(Vec::is_empty), "{}", elsewhere.text);
        let one = format!("/api/v1/data-requests/{}", access["id"].as_str().unwrap_or_default());
        anyhow::ensure!(app.get(&one, &stranger).await?.status == 404);
        // The person's record shows what they asked, to whoever attends them.
        let mine = app.get(&file, &agent).await?;
        anyhow::ensure!(mine.body["items"].as_array().map_or(0, Vec::len) == 3, "{}", mine.text);
        // The office's supervisor was told.
        let told = app.get("/api/v1/notifications", &officer).await?;
        anyhow::ensure!(told.text.contains("vence"), "{}", told.text);

        // Answering: only the office; once; a revocation done withdraws the authorisation.
        let revoke = format!("/api/v1/data-requests/{}", late["id"].as_str().unwrap_or_default());
        let answer = json!({"status": "done", "resolution": "Se revocó la autorización."});
        anyhow::ensure!(app.patch(&revoke, &agent, answer.clone()).await?.status == 404);
        let missing = app.patch(&revoke, &officer, json!({"status": "done", "resolution": " "})).await?;
        anyhow::ensure!(missing.status == 422 && missing.text.contains("resolution"), "{}", missing.text);
        let done = app.patch(&revoke, &officer, answer.clone()).await?;
        anyhow::ensure!(done.status == 200 && done.body["status"] == "done" && done.body["urgency"].is_null(), "{}", done.text);
        anyhow::ensure!(app.patch(&revoke, &officer, answer).await?.status == 409);
        let consents = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        anyhow::ensure!(consents.body["items"][0]["action"] == "revoke" && consents.body["items"][0]["source"] == "request", "{}", consents.text);
        let refused = app.patch(&one, &officer, json!({"status": "refused", "resolution": "No se acreditó la identidad."})).await?;
        anyhow::ensure!(refused.status == 200, "{}", refused.text);
        let open = app.get("/api/v1/data-requests", &officer).await?;
        anyhow::ensure!(open.body["items"].as_array().map_or(0, Vec::len) == 1, "{}", open.text);
        let answered = app.get("/api/v1/data-requests?status=refused", &officer).await?;
        anyhow::ensure!(answered.body["items"][0]["resolution"] == "No se acreditó la identidad.", "{}", answered.text);

        // Every step is in the audit trail.
        let audit = app.get(&format!("/api/v1/audit-events?target_id={contact}"), &app.admin_token).await?;
        for action in ["data_request.created", "data_request.done", "data_request.refused", "consent.revoked"] {
            anyhow::ensure!(audit.text.contains(action), "{action}: {}", audit.text);
        }
        Ok(())
    }
}

/// A case of a new person, named `name`, reachable on WhatsApp at `phone`.
async fn person_case(
    app: &ventanilla_tests::TestApp,
    unit: &str,
    name: &str,
    phone: &str,
    subject: &str,
) -> anyhow::Result<Value> {
    app.post_ok(
        "/api/v1/cases",
        &app.admin_token,
        json!({"subject": subject, "channel": "whatsapp", "unit_id": unit,
               "contact": {"name": name, "identities": [{"channel": "whatsapp", "value": phone}]},
               "first_message": {"body": format!("Hola: {subject}")}}),
        201,
    )
    .await
}

on_both! {
    async fn an_access_export_holds_the_person_and_nobody_else(backend) {
        use std::io::Read;
        let app = spawn_app_with(backend, |c| c.privacy.requests_unit = Some("admisiones".into())).await?;
        let unit = app.create_unit("admisiones").await?;
        let ana = person_case(&app, &unit, "Ana Gómez", "+573001110001", "Certificado de notas").await?;
        let ana_case = ana["id"].as_str().unwrap_or_default().to_owned();
        let contact = ana["contact_id"].as_str().unwrap_or_default().to_owned();
        app.contact_says(&ana_case, "Mi documento es 1020304050").await?;
        app.send_file(&ana_case, "Aquí está su certificado", "application/pdf", "certificado notas.pdf",
            b"%PDF-1.4 certificado de Ana".to_vec()).await?;
        app.post_ok(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token,
            json!({"purpose": "data_processing", "action": "grant", "text_version": "v1", "channel": "phone", "source": "phone"}), 201).await?;
        // Someone else with a similar name, in the same unit; and an older
        // record of Ana's merged into hers.
        let other = person_case(&app, &unit, "Ana María Gómez", "+573009990009", "Beca").await?;
        app.contact_says(other["id"].as_str().unwrap_or_default(), "Secreto de Ana María").await?;
        let old = app.post_ok("/api/v1/cases", &app.admin_token,
            json!({"subject": "Inscripción", "channel": "email", "unit_id": unit,
                   "contact": {"name": "Ana G.", "identities": [{"channel": "email", "value": "ana@correo.test"}]},
                   "first_message": {"body": "Hola: Inscripción"}}), 201).await?;
        app.post_ok(&format!("/api/v1/contacts/{contact}/merge"), &app.admin_token,
            json!({"source_contact_id": old["contact_id"]}), 200).await?;

        let request = app.post_ok(&format!("/api/v1/contacts/{contact}/requests"), &app.admin_token, json!({"kind": "access"}), 201).await?;
        let id = request["id"].as_str().unwrap_or_default().to_owned();
        // Only an access request exports.
        let erasure = app.post_ok(&format!("/api/v1/contacts/{contact}/requests"), &app.admin_token, json!({"kind": "erasure"}), 201).await?;
        let refused = app.post(&format!("/api/v1/data-requests/{}/export", erasure["id"].as_str().unwrap_or_default()), &app.admin_token, json!({})).await?;
        anyhow::ensure!(refused.status == 409, "{}", refused.text);

        let asked = app.post(&format!("/api/v1/data-requests/{id}/export"), &app.admin_token, json!({})).await?;
        anyhow::ensure!(asked.status == 202 && asked.body["export"]["status"] == "pending", "{}", asked.text);
        let ready = eventually(std::time::Duration::from_secs(30), || async {
            let r = app.get(&format!("/api/v1/data-requests/{id}"), &app.admin_token).await.ok()?;
            (r.body["export"]["status"] == "ready").then_some(r.body)
        }).await;
        let Some(ready) = ready else {
            anyhow::bail!("{}", app.get(&format!("/api/v1/data-requests/{id}"), &app.admin_token).await?.text)
        };
        let link = ready["export"]["download_url"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(link.starts_with(&format!("/api/v1/data-exports/{id}?")), "{ready}");

        // A forged link is refused; the real one works once.
        let forged = app.client.get(app.url(&link.replace("&s=", "&s=00"))).send().await?;
        anyhow::ensure!(forged.status() == 403, "{}", forged.status());
        let got = app.client.get(app.url(&link)).send().await?;
        anyhow::ensure!(got.status() == 200, "{}", got.status());
        anyhow::ensure!(got.headers().get("content-type").is_some_and(|v| v == "application/zip"));
        let bytes = got.bytes().await?.to_vec();
        let again = app.client.get(app.url(&link)).send().await?;
        anyhow::ensure!(again.status() == 410, "once only: {}", again.status());
        let after = app.get(&format!("/api/v1/data-requests/{id}"), &app.admin_token).await?;
        anyhow::ensure!(after.body["export"]["status"] == "downloaded" && after.body["export"]["download_url"].is_null(), "{}", after.text);
        // The download is on the record, once, with where it came from.
        let record = app.get(&format!("/api/v1/audit-events?action=data_export.downloaded&target_id={id}"), &app.admin_token).await?;
        let record = record.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(record.len() == 1 && record[0]["details"]["bytes"] == bytes.len()
            && record[0]["details"]["ip"].as_str().is_some_and(|ip| !ip.is_empty()), "{record:?}");

        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
        let mut read = |name: &str| -> anyhow::Result<Vec<u8>> {
            let mut entry = zip.by_name(name)?;
            let mut out = vec![];
            entry.read_to_end(&mut out)?;
            Ok(out)
        };
        let data: Value = serde_json::from_slice(&read("datos.json")?)?;
        let summary = String::from_utf8(read("resumen.html")?)?;
        let text = data.to_string();
        anyhow::ensure!(data["contact"]["name"] == "Ana Gómez", "{data}");
        anyhow::ensure!(text.contains("+573001110001") && text.contains("ana@correo.test"), "identities, the merged one too: {data}");
        anyhow::ensure!(data["merged_records"][0]["name"] == "Ana G.", "{data}");
        anyhow::ensure!(data["consents"][0]["source"] == "phone", "{data}");
        let subjects: Vec<&str> = data["cases"].as_array().into_iter().flatten().filter_map(|c| c["subject"].as_str()).collect();
        anyhow::ensure!(subjects.contains(&"Certificado de notas") && subjects.contains(&"Inscripción") && subjects.len() == 2, "{subjects:?}");
        anyhow::ensure!(text.contains("Mi documento es 1020304050") && text.contains("Aquí está su certificado"), "{data}");
        anyhow::ensure!(data["requests"].as_array().map_or(0, Vec::len) == 2, "{data}");
        anyhow::ensure!(!text.contains("Ana María") && !text.contains("Secreto") && !text.contains("+573009990009") && !text.contains("Beca"),
            "nobody else's data: {data}");
        anyhow::ensure!(!summary.contains("Ana María") && summary.contains("Sus datos personales") && summary.contains("Mi documento es"), "{summary}");
        let file = data["cases"].as_array().into_iter().flatten()
            .flat_map(|c| c["messages"].as_array().cloned().unwrap_or_default())
            .find_map(|m| m["attachments"][0]["file"].as_str().map(str::to_owned))
            .unwrap_or_default();
        anyhow::ensure!(read(&file)? == b"%PDF-1.4 certificado de Ana", "the file is in the archive at {file}");

        let audit = app.get(&format!("/api/v1/audit-events?target_id={contact}"), &app.admin_token).await?;
        for action in ["data_request.export_requested", "data_request.exported", "data_request.export_downloaded"] {
            anyhow::ensure!(audit.text.contains(action), "{action}: {}", audit.text);
        }
        Ok(())
    }
}

on_both! {
    async fn erasure_anonymises_the_person_keeps_the_counts_and_respects_holds(backend) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let app = spawn_app_with(backend, |c| c.privacy.requests_unit = Some("admisiones".into())).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, agent) = app.create_member("agente@uni.edu.co", &unit, "agent").await?;
        let ana = person_case(&app, &unit, "Ana Gómez", "+573001110001", "Certificado de Ana Gómez").await?;
        let case = ana["id"].as_str().unwrap_or_default().to_owned();
        let contact = ana["contact_id"].as_str().unwrap_or_default().to_owned();
        app.contact_says(&case, "Mi documento es 1020304050, escríbanme a ana@correo.co").await?;
        app.post_ok(&format!("/api/v1/cases/{case}/messages"), &app.admin_token,
            json!({"body": "Hola Ana Gómez, recibimos su documento 1020304050."}), 201).await?;
        let sent = app.send_file(&case, "Su certificado", "application/pdf", "certificado.pdf", b"%PDF-1.4 de Ana".to_vec()).await?;
        let url = sent["attachments"][0]["url"].as_str().unwrap_or_default().to_owned();
        let hash = url.split("/attachments/").nth(1).and_then(|rest| rest.split('?').next()).unwrap_or_default().to_owned();
        anyhow::ensure!(hash.len() == 64, "{sent}");
        let kept = app.data_dir().join("attachments").join(&hash[..2]).join(&hash);
        anyhow::ensure!(kept.exists(), "the file is kept at {}", kept.display());
        app.post_ok(&format!("/api/v1/cases/{case}/notes"), &app.admin_token, json!({"body": "Ana Gómez llamó dos veces"}), 201).await?;
        let bea = person_case(&app, &unit, "Beatriz Ruiz", "+573002220002", "Beca de Beatriz").await?;
        app.contact_says(bea["id"].as_str().unwrap_or_default(), "Soy Beatriz, mi correo es bea@correo.co").await?;
        let found = app.get("/api/v1/cases?q=Ana", &app.admin_token).await?;
        anyhow::ensure!(found.body["items"].as_array().map_or(0, Vec::len) == 1, "{}", found.text);

        let request = app.post_ok(&format!("/api/v1/contacts/{contact}/requests"), &app.admin_token, json!({"kind": "erasure"}), 201).await?;
        let erase = format!("/api/v1/data-requests/{}/erase", request["id"].as_str().unwrap_or_default());

        // A case under legal hold stops it; only admins place holds.
        let hold = format!("/api/v1/cases/{case}/legal-hold");
        anyhow::ensure!(app.call(reqwest::Method::PUT, &hold, Some(&agent), Some(&json!({"reason": "x"}))).await?.status == 403);
        let held = app.call(reqwest::Method::PUT, &hold, Some(&app.admin_token), Some(&json!({"reason": "Proceso judicial 123"}))).await?;
        anyhow::ensure!(held.status == 200 && held.body["legal_hold"] == "Proceso judicial 123", "{}", held.text);
        let refused = app.post(&erase, &app.admin_token, json!({})).await?;
        anyhow::ensure!(refused.status == 409 && refused.text.contains("legal_hold"), "{}", refused.text);
        let dry = app.post(&erase, &app.admin_token, json!({"dry_run": true})).await?;
        anyhow::ensure!(dry.status == 200 && dry.body["status"] == "dry_run" && dry.body["legal_hold"].as_str().is_some_and(|r| r.contains("Proceso judicial")), "{}", dry.text);
        anyhow::ensure!(dry.body["cases"] == 1 && dry.body["messages"] == 4 && dry.body["files"] == 1 && dry.body["notes"] == 1
            && dry.body["identities"] == 1, "{}", dry.text);
        let person = app.get(&format!("/api/v1/contacts/{contact}"), &app.admin_token).await?;
        anyhow::ensure!(person.body["name"] == "Ana Gómez", "a dry run changes nothing: {}", person.text);
        let lifted = app.call(reqwest::Method::DELETE, &hold, Some(&app.admin_token), None).await?;
        anyhow::ensure!(lifted.status == 200 && lifted.body["legal_hold"].is_null(), "{}", lifted.text);

        let started = app.post(&erase, &app.admin_token, json!({})).await?;
        anyhow::ensure!(started.status == 202 && started.body["status"] == "started", "{}", started.text);
        let erased = eventually(std::time::Duration::from_secs(30), || async {
            let c = app.get(&format!("/api/v1/contacts/{contact}"), &app.admin_token).await.ok()?;
            c.body["erased_at"].is_string().then_some(c.body)
        }).await;
        let Some(erased) = erased else { anyhow::bail!("never erased: {}", app.get(&format!("/api/v1/contacts/{contact}"), &app.admin_token).await?.text) };
        anyhow::ensure!(erased["name"].is_null() && erased["identities"].as_array().is_some_and(Vec::is_empty), "{erased}");

        // Nothing of hers in the database, the files or the search.
        let messages = app.messages(&case).await?;
        let text = serde_json::to_string(&messages)?;
        for gone in ["Ana", "1020304050", "ana@correo.co", "certificado.pdf"] {
            anyhow::ensure!(!text.contains(gone), "{gone} is still in {text}");
        }
        anyhow::ensure!(messages.iter().any(|m| m["author_kind"] == "contact" && m["body"] == "[dato suprimido]"), "{text}");
        anyhow::ensure!(!kept.exists(), "the file is gone from the disk");
        let notes = app.get(&format!("/api/v1/cases/{case}/notes"), &app.admin_token).await?;
        anyhow::ensure!(!notes.text.contains("Ana") && notes.text.contains("llamó dos veces"), "{}", notes.text);
        let found = app.get("/api/v1/cases?q=Ana", &app.admin_token).await?;
        anyhow::ensure!(found.body["items"].as_array().is_some_and(Vec::is_empty), "{}", found.text);
        let by_text = app.get("/api/v1/cases?text=1020304050", &app.admin_token).await?;
        anyhow::ensure!(by_text.body["items"].as_array().is_some_and(Vec::is_empty), "{}", by_text.text);
        use ventanilla::store::live::entity as live;
        let quoted = live::Entity::find().filter(live::Column::Payload.contains("Mi documento")).all(&app.store.db).await?;
        anyhow::ensure!(quoted.is_empty(), "live events quoting her are gone");

        // The case stays for the figures, and Beatriz is untouched.
        let all = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(all.body["items"].as_array().map_or(0, Vec::len) == 2, "{}", all.text);
        let kept_case = app.case(&case).await?;
        anyhow::ensure!(kept_case["number"] == ana["number"] && kept_case["created_at"] == ana["created_at"] && kept_case["unit_id"] == unit.as_str(), "{kept_case}");
        let beatriz = app.messages(bea["id"].as_str().unwrap_or_default()).await?;
        anyhow::ensure!(serde_json::to_string(&beatriz)?.contains("bea@correo.co"), "{beatriz:?}");

        // Again: nothing more to do; a hold on an erased person is refused.
        let again = app.post(&erase, &app.admin_token, json!({})).await?;
        anyhow::ensure!(again.status == 200 && again.body["status"] == "erased", "{}", again.text);
        let late = app.call(reqwest::Method::PUT, &format!("/api/v1/contacts/{contact}/legal-hold"), Some(&app.admin_token),
            Some(&json!({"reason": "tarde"}))).await?;
        anyhow::ensure!(late.status == 409, "{}", late.text);
        let audit = app.get(&format!("/api/v1/audit-events?target_id={contact}"), &app.admin_token).await?;
        anyhow::ensure!(audit.text.contains("contact.erased") && audit.text.contains("contact.erasure_started"), "{}", audit.text);
        Ok(())
    }
}

on_both! {
    async fn erasure_empties_the_bucket_of_the_persons_files_and_exports(backend) {
        let bucket = ventanilla_tests::s3::FakeS3::start("ventanilla", "VENTANILLA-TEST").await?;
        let app = spawn_app_with(backend, |c| {
            c.attachments = bucket.attachments_config();
            c.privacy.requests_unit = Some("admisiones".into());
        }).await?;
        let unit = app.create_unit("admisiones").await?;
        let ana = person_case(&app, &unit, "Ana Gómez", "+573001110001", "Certificado").await?;
        let case = ana["id"].as_str().unwrap_or_default().to_owned();
        let contact = ana["contact_id"].as_str().unwrap_or_default().to_owned();
        app.send_file(&case, "Su certificado", "application/pdf", "certificado.pdf", b"%PDF-1.4 de Ana".to_vec()).await?;
        let other = person_case(&app, &unit, "Beatriz Ruiz", "+573002220002", "Beca").await?;
        app.send_file(other["id"].as_str().unwrap_or_default(), "Su beca", "application/pdf", "beca.pdf", b"%PDF-1.4 de Bea".to_vec()).await?;
        // An export made and not downloaded waits in the bucket too.
        let access = app.post_ok(&format!("/api/v1/contacts/{contact}/requests"), &app.admin_token, json!({"kind": "access"}), 201).await?;
        let access = access["id"].as_str().unwrap_or_default().to_owned();
        app.post(&format!("/api/v1/data-requests/{access}/export"), &app.admin_token, json!({})).await?;
        let ready = eventually(std::time::Duration::from_secs(30), || async {
            let r = app.get(&format!("/api/v1/data-requests/{access}"), &app.admin_token).await.ok()?;
            (r.body["export"]["status"] == "ready").then_some(())
        }).await;
        anyhow::ensure!(ready.is_some(), "the export was never made");
        anyhow::ensure!(bucket.objects().len() == 3, "two files and the export: {:?}", bucket.objects().keys());

        let erasure = app.post_ok(&format!("/api/v1/contacts/{contact}/requests"), &app.admin_token, json!({"kind": "erasure"}), 201).await?;
        let started = app.post(&format!("/api/v1/data-requests/{}/erase", erasure["id"].as_str().unwrap_or_default()), &app.admin_token, json!({})).await?;
        anyhow::ensure!(started.status == 202 && started.body["files"] == 1 && started.body["exports"] == 1, "her file and her export: {}", started.text);
        let gone = eventually(std::time::Duration::from_secs(30), || async {
            (bucket.objects().len() == 1).then_some(())
        }).await;
        anyhow::ensure!(gone.is_some(), "left in the bucket: {:?}", bucket.objects().keys());
        // Files go first; the database follows in one transaction.
        let erased = eventually(std::time::Duration::from_secs(30), || async {
            let c = app.get(&format!("/api/v1/contacts/{contact}"), &app.admin_token).await.ok()?;
            c.body["erased_at"].is_string().then_some(())
        }).await;
        anyhow::ensure!(erased.is_some(), "the erasure never finished");
        let left: Vec<Vec<u8>> = bucket.objects().into_values().collect();
        anyhow::ensure!(left == [b"%PDF-1.4 de Bea".to_vec()], "only Beatriz's file stays");
        let export = app.get(&format!("/api/v1/data-requests/{access}"), &app.admin_token).await?;
        anyhow::ensure!(export.body["export"]["status"] == "failed" && export.body["export"]["download_url"].is_null(), "{}", export.text);
        Ok(())
    }
}

on_both! {
    async fn retention_anonymises_old_cases_and_files_except_what_is_held(backend) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        use ventanilla::store::{case::entity as case_rows, message::entity as message_rows};
        let app = spawn_app_with(backend, |c| c.privacy.retention_every_secs = 0).await?;
        let unit = app.create_unit("admisiones").await?;
        let bad = app.patch(&format!("/api/v1/units/{unit}"), &app.admin_token,
            json!({"privacy": {"retention": {"anonymise_after_months": 0}}})).await?;
        anyhow::ensure!(bad.status == 422 && bad.text.contains("privacy.retention"), "{}", bad.text);
        let set = app.patch(&format!("/api/v1/units/{unit}"), &app.admin_token, json!({"privacy": {
            "retention": {"anonymise_after_months": 12, "files_after_months": 6},
            "channel_retention": {"sms": {"anonymise_after_months": 1}}}})).await?;
        anyhow::ensure!(set.status == 200 && set.body["privacy"]["retention"]["files_after_months"] == 6, "{}", set.text);

        // A scripted history: when each case ended, when a file was sent.
        let ended = |id: String, months: i64| {
            let db = app.store.db.clone();
            let at = Utc::now() - Duration::days(months * 31);
            async move {
                case_rows::Entity::update_many()
                    .col_expr(case_rows::Column::ResolvedAt, Expr::value(at))
                    .col_expr(case_rows::Column::CreatedAt, Expr::value(at - Duration::days(2)))
                    .filter(case_rows::Column::Id.eq(uuid::Uuid::parse_str(&id)?))
                    .exec(&db).await?;
                anyhow::Ok(())
            }
        };
        let mut ids = vec![];
        for (name, phone, subject) in [("Olga Pérez", "+573000000001", "Viejo"), ("Rita Díaz", "+573000000002", "Reciente"),
            ("Hugo Sanz", "+573000000003", "Retenido"), ("Ivo Mora", "+573000000004", "Abierto")] {
            let case = person_case(&app, &unit, name, phone, subject).await?;
            ids.push(case["id"].as_str().unwrap_or_default().to_owned());
        }
        let sms = app.post_ok("/api/v1/cases", &app.admin_token, json!({"subject": "Por SMS", "channel": "sms", "unit_id": unit,
            "contact": {"name": "Sara Gil", "identities": [{"channel": "sms", "value": "+573000000005"}]},
            "first_message": {"body": "Soy Sara Gil"}}), 201).await?;
        ids.push(sms["id"].as_str().unwrap_or_default().to_owned());
        let file = app.send_file(&ids[1], "Su recibo", "application/pdf", "recibo.pdf", b"%PDF-1.4 recibo de Rita".to_vec()).await?;
        message_rows::Entity::update_many()
            .col_expr(message_rows::Column::CreatedAt, Expr::value(Utc::now() - Duration::days(7 * 31)))
            .filter(message_rows::Column::Id.eq(uuid::Uuid::parse_str(file["id"].as_str().unwrap_or_default())?))
            .exec(&app.store.db).await?;
        for (i, months) in [(0, 13), (1, 11), (2, 13), (4, 2)] {
            let resolved = app.patch(&format!("/api/v1/cases/{}", ids[i]), &app.admin_token, json!({"status": "resolved"})).await?;
            anyhow::ensure!(resolved.status == 200, "{}", resolved.text);
            ended(ids[i].clone(), months).await?;
        }
        app.call(reqwest::Method::PUT, &format!("/api/v1/cases/{}/legal-hold", ids[2]), Some(&app.admin_token),
            Some(&json!({"reason": "Tutela en curso"}))).await?;

        // A dry run says what a run would do, and does nothing.
        let expected = |body: &Value| {
            let unit = &body["units"][0];
            (unit["cases_anonymised"].clone(), unit["files_removed"].clone(), unit["held"].clone())
        };
        let dry = app.post_ok("/api/v1/retention/run", &app.admin_token, json!({"dry_run": true}), 200).await?;
        anyhow::ensure!(expected(&dry) == (json!(2), json!(1), json!(1)), "old + sms anonymised, Rita's file, Hugo held: {dry}");
        anyhow::ensure!(serde_json::to_string(&app.messages(&ids[0]).await?)?.contains("Hola: Viejo"), "a dry run changes nothing");
        let (_, agent) = app.create_member("agente@uni.edu.co", &unit, "agent").await?;
        anyhow::ensure!(app.post("/api/v1/retention/run", &agent, json!({})).await?.status == 403);

        let run = app.post_ok("/api/v1/retention/run", &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(expected(&run) == expected(&dry), "{run}");
        let text = |i: usize| {
            let ids = ids.clone();
            let app = &app;
            async move { anyhow::Ok(serde_json::to_string(&app.messages(&ids[i]).await?)?) }
        };
        anyhow::ensure!(!text(0).await?.contains("Viejo") && app.case(&ids[0]).await?["subject"] == "[dato suprimido]", "anonymised");
        anyhow::ensure!(!text(4).await?.contains("Sara"), "the SMS rule: a month");
        let recent = text(1).await?;
        anyhow::ensure!(recent.contains("Hola: Reciente") && recent.contains("Su recibo") && !recent.contains("\"url\":\"/api"), "only the file goes: {recent}");
        anyhow::ensure!(text(2).await?.contains("Hola: Retenido") && text(3).await?.contains("Hola: Abierto"), "held and open cases stay");
        let all = app.get("/api/v1/cases?limit=100", &app.admin_token).await?;
        anyhow::ensure!(all.body["items"].as_array().map_or(0, Vec::len) == 5, "every case stays for the figures");

        // Run again: nothing more is due.
        let again = app.post_ok("/api/v1/retention/run", &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(expected(&again) == (json!(0), json!(0), json!(1)), "{again}");
        let audit = app.get("/api/v1/audit-events?action=retention.applied", &app.admin_token).await?;
        anyhow::ensure!(audit.body["items"].as_array().map_or(0, Vec::len) >= 1, "{}", audit.text);
        Ok(())
    }
}
