//! Reports: each measure on a scripted history with known answers (cases
//! opened and answered at chosen times, across business hours and a
//! holiday, a bot hand-off, a transfer, a reopening, a wait on the person),
//! the same cells as JSON, CSV and XLSX, and who sees which figures.
//!
//! The history is made through the API, so the timeline is the one the
//! server records; after each call its entries are moved to the chosen
//! moment, and the figures are then worked out again from the timeline.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use ventanilla_tests::{TestApp, eventually, on_both, spawn_app};

/// Monday to Friday, 08:00 to 17:00 in Bogotá; closed on Monday 23 March 2026.
fn office_hours() -> Value {
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "open": "08:00", "close": "17:00"}))
        .collect();
    json!({"weekly": weekly, "holidays": ["2026-03-23"]})
}

/// A moment of March 2026 in Bogotá.
fn bog(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    chrono_tz::America::Bogota.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap().with_timezone(&Utc)
}

/// Moves what the last call wrote about `case` (its audit entries newer
/// than `since`; its creation too, when `created`) to `at`.
async fn at(app: &TestApp, case: &str, since: DateTime<Utc>, when: DateTime<Utc>, created: bool) -> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use ventanilla::store::{audit, case as cases};
    audit::entity::Entity::update_many()
        .col_expr(audit::entity::Column::At, Expr::value(when))
        .filter(audit::entity::Column::TargetKind.eq("case"))
        .filter(audit::entity::Column::TargetId.eq(case))
        .filter(audit::entity::Column::At.gt(since))
        .exec(&app.store.db)
        .await?;
    if created {
        cases::entity::Entity::update_many()
            .col_expr(cases::entity::Column::CreatedAt, Expr::value(when))
            .filter(cases::entity::Column::Id.eq(uuid::Uuid::parse_str(case)?))
            .exec(&app.store.db)
            .await?;
    }
    Ok(())
}

struct Scripted {
    app: TestApp,
    /// Everything the test wrote is newer than this.
    since: DateTime<Utc>,
}

impl Scripted {
    /// Opens a case at `when` with the person's first message.
    async fn open(
        &self,
        token: &str,
        unit: &str,
        channel: &str,
        status: &str,
        when: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let case = self
            .app
            .post_ok(
                "/api/v1/cases",
                token,
                json!({"subject": "Consulta", "channel": channel, "unit_id": unit, "status": status,
                       "contact": {"name": "Persona", "identities": [{"channel": "email",
                           "value": format!("p{}@correo.co", uuid::Uuid::new_v4().simple())}]},
                       "first_message": {"body": "Hola, tengo una pregunta"}}),
                201,
            )
            .await?;
        let id = case["id"].as_str().unwrap_or_default().to_owned();
        at(&self.app, &id, self.since, when, true).await?;
        Ok(id)
    }

    async fn patch(&self, token: &str, case: &str, body: Value, when: DateTime<Utc>) -> anyhow::Result<()> {
        let reply = self.app.patch(&format!("/api/v1/cases/{case}"), token, body).await?;
        anyhow::ensure!(reply.status == 200, "{}", reply.text);
        at(&self.app, case, self.since, when, false).await
    }

    async fn say(&self, token: &str, case: &str, author: &str, when: DateTime<Utc>) -> anyhow::Result<()> {
        let body = json!({"body": "Mensaje", "author_kind": author});
        self.app.post_ok(&format!("/api/v1/cases/{case}/messages"), token, body, 201).await?;
        at(&self.app, case, self.since, when, false).await
    }

    async fn note(&self, token: &str, case: &str, when: DateTime<Utc>) -> anyhow::Result<()> {
        self.app.post_ok(&format!("/api/v1/cases/{case}/notes"), token, json!({"body": "Revisado"}), 201).await?;
        at(&self.app, case, self.since, when, false).await
    }
}

/// The report's rows as maps of column to cell.
fn rows(report: &Value) -> Vec<serde_json::Map<String, Value>> {
    let columns: Vec<String> =
        report["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_owned)).collect();
    report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| columns.iter().cloned().zip(row.as_array().cloned().unwrap_or_default()).collect())
        .collect()
}

fn row_where<'a>(
    rows: &'a [serde_json::Map<String, Value>],
    column: &str,
    value: &str,
) -> anyhow::Result<&'a serde_json::Map<String, Value>> {
    rows.iter()
        .find(|r| r.get(column).and_then(Value::as_str) == Some(value))
        .ok_or_else(|| anyhow::anyhow!("no row with {column} = {value} in {rows:?}"))
}

async fn report(app: &TestApp, token: &str, query: &str) -> anyhow::Result<Value> {
    let reply = app.get(&format!("/api/v1/reports/{query}"), token).await?;
    anyhow::ensure!(reply.status == 200, "{query}: {}", reply.text);
    Ok(reply.body)
}

on_both! {
    async fn each_measure_on_a_scripted_history(backend) {
        let app = spawn_app(backend).await?;
        let admin = app.admin_token.clone();
        let hours = office_hours();
        let unit = app.post_ok("/api/v1/units", &admin,
            json!({"slug": "admisiones", "name": "Admisiones", "business_hours": hours}), 201).await?;
        let unit = unit["id"].as_str().unwrap_or_default().to_owned();
        let other = app.post_ok("/api/v1/units", &admin,
            json!({"slug": "tesoreria", "name": "=Tesorería", "business_hours": office_hours()}), 201).await?;
        let other = other["id"].as_str().unwrap_or_default().to_owned();
        let (ana_id, ana) = app.create_member("ana@uni.edu.co", &unit, "agent").await?;
        let (_, sara) = app.create_member("sara@uni.edu.co", &unit, "supervisor").await?;
        let (_, teo) = app.create_member("teo@uni.edu.co", &other, "agent").await?;
        let bot = app.create_token(&["cases:write"]).await?;
        let s = Scripted { since: Utc::now() - chrono::Duration::seconds(1), app };
        let app = &s.app;

        // A: Friday 20 March 16:30, answered on Tuesday 24 (Monday is a
        // holiday), waits on the person two hours, resolved at 11:00.
        let a = s.open(&admin, &unit, "whatsapp", "queued", bog(20, 16, 30)).await?;
        s.patch(&admin, &a, json!({"assignee_id": ana_id, "tags": ["-urgente"]}), bog(24, 8, 5)).await?;
        s.say(&ana, &a, "agent", bog(24, 8, 15)).await?;
        s.patch(&ana, &a, json!({"status": "waiting_on_contact"}), bog(24, 8, 15)).await?;
        s.say(&ana, &a, "contact", bog(24, 10, 15)).await?;
        s.note(&ana, &a, bog(24, 10, 45)).await?;
        s.patch(&ana, &a, json!({"status": "resolved"}), bog(24, 11, 0)).await?;
        // B: by e-mail, Wednesday 18 at 9:00, closed unanswered at 9:20.
        let b = s.open(&admin, &unit, "email", "queued", bog(18, 9, 0)).await?;
        s.patch(&admin, &b, json!({"status": "closed"}), bog(18, 9, 20)).await?;
        // C: the bot answers, hands off at 9:10, Ana takes it at 9:25 and
        // answers at 9:30; still open.
        let c = s.open(&admin, &unit, "webchat", "bot", bog(18, 9, 0)).await?;
        s.say(&bot, &c, "bot", bog(18, 9, 1)).await?;
        s.patch(&admin, &c, json!({"status": "queued"}), bog(18, 9, 10)).await?;
        s.patch(&admin, &c, json!({"assignee_id": ana_id}), bog(18, 9, 25)).await?;
        s.say(&ana, &c, "agent", bog(18, 9, 30)).await?;
        // D: answered in five minutes, resolved, reopened by the person at
        // 10:00, transferred to Tesorería, resolved there at 11:00.
        let d = s.open(&admin, &unit, "whatsapp", "queued", bog(18, 9, 0)).await?;
        s.say(&admin, &d, "agent", bog(18, 9, 5)).await?;
        s.patch(&admin, &d, json!({"status": "resolved"}), bog(18, 9, 10)).await?;
        s.say(&admin, &d, "contact", bog(18, 10, 0)).await?;
        s.patch(&admin, &d, json!({"unit_id": other}), bog(18, 10, 5)).await?;
        s.patch(&admin, &d, json!({"status": "resolved"}), bog(18, 11, 0)).await?;

        let rebuilt = ventanilla::store::report::rebuild(&app.store).await?;
        anyhow::ensure!(rebuilt >= 4, "rebuilt {rebuilt}");
        let period = "from=2026-03-16&to=2026-03-24";

        // Volumes by channel.
        let volume = report(app, &admin, &format!("volume?{period}&group_by=channel")).await?;
        let v = rows(&volume);
        let whatsapp = row_where(&v, "channel", "whatsapp")?;
        let expect = json!({"cases": 2, "ended": 2, "reopened": 1, "reopen_rate": 0.5, "transferred": 1,
            "transfers": 1, "abandoned": 0, "abandon_rate": 0.0, "bot_started": 0, "bot_contained": 0,
            "containment_rate": null, "agent_replies": 2, "notes": 1});
        for (k, want) in expect.as_object().into_iter().flatten() {
            anyhow::ensure!(whatsapp.get(k) == Some(want), "whatsapp {k}: {:?} != {want}", whatsapp.get(k));
        }
        let email = row_where(&v, "channel", "email")?;
        anyhow::ensure!(email["abandoned"] == 1 && email["abandon_rate"] == 1.0, "{email:?}");
        let webchat = row_where(&v, "channel", "webchat")?;
        anyhow::ensure!(webchat["bot_started"] == 1 && webchat["ended"] == 0 && webchat["containment_rate"] == 0.0, "{webchat:?}");

        // Response times, all cases together.
        let response = report(app, &admin, &format!("response?{period}")).await?;
        let r = &rows(&response)[0];
        // First responses: A 3 days 15:45 (45 business minutes), C 20 min
        // from the hand-off, D 5 min.
        let friday_to_tuesday = (bog(24, 8, 15) - bog(20, 16, 30)).num_seconds();
        let expect = json!({"cases": 4, "first_response_count": 3,
            "first_response_median_s": 1200, "first_response_p90_s": friday_to_tuesday,
            "first_response_mean_s": ((friday_to_tuesday + 1500) as f64 / 3.0).round() as i64,
            "first_response_business_median_s": 1200, "first_response_business_p90_s": 2700,
            "first_response_business_mean_s": 1400,
            "assignment_count": 2, "assignment_business_median_s": 900, "assignment_business_p90_s": 2100,
            "handoff_wait_count": 1, "handoff_wait_median_s": 900});
        for (k, want) in expect.as_object().into_iter().flatten() {
            anyhow::ensure!(r.get(k) == Some(want), "response {k}: {:?} != {want}", r.get(k));
        }

        // Resolution by week: all in ISO week 12 (A opened on the 20th).
        let resolution = report(app, &admin, &format!("resolution?{period}&group_by=week")).await?;
        let w = rows(&resolution);
        anyhow::ensure!(w.len() == 1 && w[0]["week"] == "2026-W12", "{w:?}");
        let friday_to_resolved = (bog(24, 11, 0) - bog(20, 16, 30)).num_seconds();
        let expect = json!({"ended": 3, "reopen_rate": 0.3333, "resolution_count": 3,
            "resolution_median_s": 7200, "resolution_p90_s": friday_to_resolved,
            "resolution_business_median_s": 7200, "resolution_business_p90_s": 12600,
            "handling_count": 3, "handling_business_p90_s": 3300,
            "waiting_business_p90_s": 7200});
        for (k, want) in expect.as_object().into_iter().flatten() {
            anyhow::ensure!(w[0].get(k) == Some(want), "resolution {k}: {:?} != {want}", w[0].get(k));
        }

        // By agent: Ana owned A and C.
        let agents = report(app, &admin, &format!("agents?{period}")).await?;
        let by_agent = rows(&agents);
        let ana_row = row_where(&by_agent, "agent_id", &ana_id)?;
        anyhow::ensure!(ana_row["cases"] == 2 && ana_row["ended"] == 1 && ana_row["agent_replies"] == 2
            && ana_row["notes"] == 1 && ana_row["agent"] == "ana@uni.edu.co", "{ana_row:?}");

        // By unit, the transferred case counts in its last unit.
        let by_unit = rows(&report(app, &admin, &format!("volume?{period}&group_by=unit")).await?);
        anyhow::ensure!(row_where(&by_unit, "unit_id", &other)?["cases"] == 1, "{by_unit:?}");
        anyhow::ensure!(row_where(&by_unit, "unit_id", &unit)?["cases"] == 3, "{by_unit:?}");

        // Targets, surveys and the bot's outcomes, counted for the cases of
        // the period (written here as protocols, the survey and the bot do).
        {
            use ventanilla::domain::sla::{SlaState, SlaTarget};
            use ventanilla::store::{bot_outcome, case as cases, sla, survey};
            let db = &app.store.db;
            let get = |id: &str| cases::get(db, None, ventanilla::domain::CaseId(uuid::Uuid::parse_str(id).unwrap_or_default()));
            let (case_a, case_c, case_d) = (get(&a).await?, get(&c).await?, get(&d).await?);
            let target = |name: &str, state| SlaTarget { name: name.into(), state, due_at: None, settled_at: None };
            let install = uuid::Uuid::now_v7();
            sla::replace_in(db, case_a.id, install,
                &[target("first_response", SlaState::Breached), target("resolution", SlaState::Met)]).await?;
            sla::replace_in(db, case_d.id, install, &[target("first_response", SlaState::Met)]).await?;
            let slas = rows(&report(app, &admin, &format!("sla?{period}")).await?);
            let first = row_where(&slas, "target", "first_response")?;
            anyhow::ensure!(first["targets"] == 2 && first["met"] == 1 && first["breached"] == 1 && first["met_rate"] == 0.5, "{slas:?}");
            anyhow::ensure!(row_where(&slas, "target", "resolution")?["met_rate"] == 1.0, "{slas:?}");

            let asked = survey::offer_in(db, &case_a, ventanilla::domain::survey::Scale::Five, "es").await?;
            let asked = asked.ok_or_else(|| anyhow::anyhow!("no survey offered"))?;
            survey::record_in(db, &case_a, &asked, ventanilla::domain::survey::Reply::Score(4)).await?;
            survey::offer_in(db, &case_d, ventanilla::domain::survey::Scale::Five, "es").await?;
            let satisfaction = rows(&report(app, &admin, &format!("satisfaction?{period}&group_by=attended_by")).await?);
            let people = row_where(&satisfaction, "attended_by", "human")?;
            let expect = json!({"sent": 2, "answered": 1, "response_rate": 0.5, "mean": 4.0, "score_4": 1, "score_5": 0});
            for (k, want) in expect.as_object().into_iter().flatten() {
                anyhow::ensure!(people.get(k) == Some(want), "satisfaction {k}: {:?} != {want}", people.get(k));
            }
            let agents = rows(&report(app, &admin, &format!("agents?{period}")).await?);
            let ana_row = row_where(&agents, "agent_id", &ana_id)?;
            anyhow::ensure!(ana_row["surveys_answered"] == 1 && ana_row["satisfaction_mean"] == 4.0, "{ana_row:?}");

            bot_outcome::record(&app.store, &case_c, install, "answered", None, Some(0.75)).await?;
            let bot = rows(&report(app, &admin, &format!("bot?{period}")).await?);
            let expect = json!({"bot_started": 1, "handed_off": 1, "contained": 0, "containment_rate": 0.0,
                "answered": 1, "unanswered": 0, "confidence_mean": 0.75});
            for (k, want) in expect.as_object().into_iter().flatten() {
                anyhow::ensure!(bot[0].get(k) == Some(want), "bot {k}: {:?} != {want}", bot[0].get(k));
            }
        }

        // A filter and a second dimension.
        let filtered = rows(&report(app, &admin, &format!("volume?{period}&channel=whatsapp&group_by=day,unit")).await?);
        anyhow::ensure!(filtered.len() == 2 && filtered.iter().all(|r| r.contains_key("day")), "{filtered:?}");

        // Who sees what: Ana her cases, Sara her unit, Teo none of them.
        let count = |body: Value| rows(&body).first().and_then(|r| r["cases"].as_i64()).unwrap_or(0);
        anyhow::ensure!(count(report(app, &ana, &format!("volume?{period}")).await?) == 2);
        anyhow::ensure!(count(report(app, &sara, &format!("volume?{period}")).await?) == 3);
        anyhow::ensure!(count(report(app, &teo, &format!("volume?{period}")).await?) == 0);
        let nosy = report(app, &teo, &format!("volume?{period}&unit_id={unit}")).await?;
        anyhow::ensure!(count(nosy) == 0);

        // CSV and XLSX carry the cells of the JSON; formula-like cells are text.
        for query in [format!("response?{period}&group_by=channel"), format!("topics?{period}"),
                      format!("volume?{period}&group_by=unit")] {
            let json = report(app, &admin, &query).await?;
            let csv = app.get(&format!("/api/v1/reports/{query}&format=csv"), &admin).await?;
            anyhow::ensure!(csv.status == 200, "{}", csv.text);
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(csv.text.as_bytes());
            let csv_rows: Vec<Vec<String>> = reader.records().map(|r| r.map(|r| r.iter().map(str::to_owned).collect())).collect::<Result<_, _>>()?;
            let xlsx = app.client.get(app.url(&format!("/api/v1/reports/{query}&format=xlsx"))).bearer_auth(&admin).send().await?;
            anyhow::ensure!(xlsx.status() == 200, "xlsx {}", xlsx.status());
            let sheet = read_xlsx(&xlsx.bytes().await?)?;
            anyhow::ensure!(csv_rows.len() == sheet.len(), "{} csv rows, {} sheet rows", csv_rows.len(), sheet.len());
            let columns = json["columns"].as_array().cloned().unwrap_or_default();
            anyhow::ensure!(csv_rows[0].len() == columns.len() && sheet[0] == csv_rows[0], "{:?} / {:?}", csv_rows[0], sheet[0]);
            for (i, row) in json["rows"].as_array().into_iter().flatten().enumerate() {
                for (j, cell) in row.as_array().into_iter().flatten().enumerate() {
                    let (in_csv, in_sheet) = (&csv_rows[i + 1][j], &sheet[i + 1][j]);
                    match cell {
                        Value::Null => anyhow::ensure!(in_csv.is_empty() && in_sheet.is_empty(), "{query} {i},{j}"),
                        Value::Number(n) => {
                            let n = n.as_f64().unwrap_or_default();
                            anyhow::ensure!(in_csv.parse::<f64>()? == n && in_sheet.parse::<f64>()? == n,
                                "{query} {i},{j}: {n} vs {in_csv} / {in_sheet}");
                        }
                        Value::String(text) if text.starts_with(['=', '+', '-', '@']) => {
                            anyhow::ensure!(*in_csv == format!("'{text}"), "{query}: unsafe cell {in_csv}");
                            anyhow::ensure!(in_sheet == text, "{query}: {in_sheet}");
                        }
                        Value::String(text) => anyhow::ensure!(in_csv == text && in_sheet == text, "{query} {i},{j}"),
                        other => anyhow::bail!("unexpected cell {other}"),
                    }
                }
            }
        }
        // By an attribute of the person.
        let a_contact = app.case(&a).await?["contact_id"].as_str().unwrap_or_default().to_owned();
        let reply = app.patch(&format!("/api/v1/contacts/{a_contact}"), &admin, json!({"custom_attributes": {"programa": "Medicina"}})).await?;
        anyhow::ensure!(reply.status == 200, "{}", reply.text);
        let by_program = rows(&report(app, &admin, &format!("volume?{period}&group_by=contact.programa")).await?);
        anyhow::ensure!(row_where(&by_program, "contact.programa", "Medicina")?["cases"] == 1, "{by_program:?}");
        anyhow::ensure!(by_program.iter().any(|r| r["contact.programa"].is_null() && r["cases"] == 3), "{by_program:?}");
        let topics = rows(&report(app, &admin, &format!("topics?{period}")).await?);
        anyhow::ensure!(row_where(&topics, "tag", "-urgente")?["cases"] == 1, "{topics:?}");

        // Bad input names the field; an unknown report is 404.
        let bad = app.get("/api/v1/reports/volume?from=ayer&group_by=week,day,unit&format=pdf", &admin).await?;
        let fields: Vec<&str> = bad.body["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
        anyhow::ensure!(bad.status == 422 && ["from", "group_by", "format"].iter().all(|f| fields.contains(f)), "{}", bad.text);
        anyhow::ensure!(app.get("/api/v1/reports/ganancias", &admin).await?.status == 404);
        Ok(())
    }

    async fn figures_follow_changes_as_they_happen(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("bienestar").await?;
        let (_, ana) = app.create_member("ana@uni.edu.co", &unit, "agent").await?;
        let case = app.create_case(&ana, &unit, "Cita").await?;
        let id = case["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/cases/{id}/messages"), &ana, json!({"body": "Con gusto"}), 201).await?;
        // The refresher works the new facts out within moments.
        let seen = eventually(std::time::Duration::from_secs(20), || async {
            let body = report(&app, &app.admin_token, "response").await.ok()?;
            let r = rows(&body).into_iter().next()?;
            (r["first_response_count"] == 1 && body["pending_cases"] == 0).then_some(r)
        }).await;
        anyhow::ensure!(seen.is_some(), "{}", report(&app, &app.admin_token, "response").await?);
        app.patch(&format!("/api/v1/cases/{id}"), &ana, json!({"status": "resolved"})).await?;
        let ended = eventually(std::time::Duration::from_secs(20), || async {
            let body = report(&app, &app.admin_token, "volume").await.ok()?;
            (rows(&body).first()?["ended"] == 1).then_some(())
        }).await;
        anyhow::ensure!(ended.is_some(), "{}", report(&app, &app.admin_token, "volume").await?);
        Ok(())
    }
}

/// The cells of an XLSX file's first sheet, as text (numbers as written).
fn read_xlsx(bytes: &[u8]) -> anyhow::Result<Vec<Vec<String>>> {
    use calamine::{Data, Reader, Xlsx};
    let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec()))?;
    let name = book.sheet_names().first().cloned().ok_or_else(|| anyhow::anyhow!("no sheet"))?;
    let range = book.worksheet_range(&name)?;
    Ok(range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(f) => f.to_string(),
                    Data::Int(i) => i.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect())
}

on_both! {
    async fn scheduled_reports_are_mailed_with_their_csv(backend) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let smtp = ventanilla_tests::mail::FakeSmtp::start("clave-smtp").await?;
        let port = smtp.port;
        let app = ventanilla_tests::spawn_app_with(backend, move |c| {
            c.mail.smtp_url = Some(ventanilla::config::Secret::new(format!("smtp://informes:clave-smtp@127.0.0.1:{port}")));
            c.mail.from = Some("Ventanilla <informes@uni.test>".into());
            c.reports.send_every_secs = 1;
            c.public_url = Some("https://ayuda.uni.test".into());
        }).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, sara) = app.create_member("sara@uni.edu.co", &unit, "supervisor").await?;
        let (_, teo) = app.create_member("teo@uni.edu.co", &app.create_unit("tesoreria").await?, "agent").await?;

        let bad = app.post("/api/v1/report-schedules", &sara, json!({"name": "x", "report": "ganancias",
            "frequency": "hourly", "recipients": ["sin-arroba"], "filters": {"color": "rojo"}})).await?;
        let fields: Vec<&str> = bad.body["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
        anyhow::ensure!(bad.status == 422 && ["report", "frequency", "recipients[0]", "filters.color"].iter().all(|f| fields.contains(f)), "{}", bad.text);
        let token = app.create_token(&["cases:read"]).await?;
        let by_token = app.post("/api/v1/report-schedules", &token, json!({"name": "x", "report": "volume", "frequency": "daily"})).await?;
        anyhow::ensure!(by_token.status == 403, "{}", by_token.text);

        let schedule = app.post_ok("/api/v1/report-schedules", &sara, json!({"name": "Volumen diario", "report": "volume",
            "group_by": ["channel"], "filters": {"channel": "whatsapp"}, "frequency": "daily",
            "recipients": ["rectoria@uni.edu.co"]}), 201).await?;
        let id = schedule["id"].as_str().unwrap_or_default().to_owned();
        let next: chrono::DateTime<Utc> = serde_json::from_value(schedule["next_run_at"].clone())?;
        anyhow::ensure!(next > Utc::now(), "{schedule}");
        // Someone else's schedule is not theirs to see or cancel.
        let theirs = app.get("/api/v1/report-schedules", &teo).await?;
        anyhow::ensure!(theirs.body["items"].as_array().is_some_and(Vec::is_empty), "{}", theirs.text);
        let cancel = app.call(reqwest::Method::DELETE, &format!("/api/v1/report-schedules/{id}"), Some(&teo), None).await?;
        anyhow::ensure!(cancel.status == 404, "{}", cancel.text);

        // Its time comes: it is mailed once, with the CSV and the link.
        ventanilla::store::schedule::entity::Entity::update_many()
            .col_expr(ventanilla::store::schedule::entity::Column::NextRunAt, Expr::value(Utc::now() - chrono::Duration::minutes(1)))
            .filter(ventanilla::store::schedule::entity::Column::Id.eq(uuid::Uuid::parse_str(&id)?))
            .exec(&app.store.db)
            .await?;
        let mail = eventually(std::time::Duration::from_secs(20), || async { smtp.submitted().into_iter().next() }).await;
        let Some(mail) = mail else { anyhow::bail!("the report was never mailed") };
        anyhow::ensure!(mail.recipients.iter().any(|r| r.contains("rectoria@uni.edu.co")), "{:?}", mail.recipients);
        // Quoted-printable: soft line breaks joined.
        let text = mail.data.replace("=\r\n", "").replace("=\n", "");
        anyhow::ensure!(text.contains("Volumen diario") && text.contains("https://ayuda.uni.test/console/#/reports"), "{text}");
        anyhow::ensure!(text.contains("text/csv") && text.contains("filename*0=\"volume-") && text.contains("channel,cases,ended"), "{text}");
        // The schedule moves on in the commit after the mail went (a moment later).
        let row = eventually(std::time::Duration::from_secs(10), || async {
            let listed = app.get("/api/v1/report-schedules", &sara).await.ok()?;
            let row = listed.body["items"][0].clone();
            row["last_sent_at"].is_string().then_some(row)
        })
        .await;
        let Some(row) = row else { anyhow::bail!("the schedule never recorded its sending") };
        let moved: chrono::DateTime<Utc> = serde_json::from_value(row["next_run_at"].clone())?;
        anyhow::ensure!(moved > Utc::now() && row["last_error"].is_null(), "{row}");
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        anyhow::ensure!(smtp.submitted().len() == 1, "mailed more than once");
        let gone = app.call(reqwest::Method::DELETE, &format!("/api/v1/report-schedules/{id}"), Some(&sara), None).await?;
        anyhow::ensure!(gone.status == 204, "{}", gone.text);
        Ok(())
    }
}

on_both! {
    async fn a_report_over_more_cases_than_one_read_counts_each_once(backend) {
        // More facts than SQLite reads in one pack (50,000), seven opened in
        // each second, so a read resumes inside a run of equal times.
        use sea_orm::{EntityTrait, Set};
        use ventanilla::store::report::entity as facts;
        let app = spawn_app(backend).await?;
        let unit = uuid::Uuid::parse_str(&app.create_unit("masiva").await?)?;
        let n = 120_007usize;
        let base = (Utc::now() - chrono::Duration::days(10)).with_timezone(&chrono_tz::America::Bogota)
            .date_naive().and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
        let mut answered: Vec<i64> = vec![];
        for start in (0..n).step_by(900) {
            let rows: Vec<facts::ActiveModel> = (start..n.min(start + 900)).map(|k| {
                let first = (k % 3 != 0).then_some((k % 1000) as i64);
                answered.extend(first);
                facts::ActiveModel {
                    case_id: Set(uuid::Uuid::new_v4()), unit_id: Set(unit),
                    channel: Set(["whatsapp", "email"][k % 2].into()), channel_install_id: Set(None),
                    agent_id: Set(None), priority: Set("normal".into()), status: Set("queued".into()),
                    created_at: Set(base + chrono::Duration::seconds((k / 7) as i64)), started_in_bot: Set(false),
                    handoff_at: Set(None), first_assigned_at: Set(None), first_response_at: Set(None), resolved_at: Set(None),
                    reopens: Set(0), transfers: Set(0), agent_replies: Set(0), notes: Set(0),
                    bot_contained: Set(false), abandoned: Set(false),
                    first_response_s: Set(first), first_response_bs: Set(first),
                    handoff_wait_s: Set(None), handoff_wait_bs: Set(None), assignment_s: Set(None), assignment_bs: Set(None),
                    resolution_s: Set(None), resolution_bs: Set(None),
                    handling_s: Set(0), handling_bs: Set(0), waiting_s: Set(0), waiting_bs: Set(0),
                    computed_at: Set(base),
                }
            }).collect();
            facts::Entity::insert_many(rows).exec_without_returning(&app.store.db).await?;
        }
        let day = |d: chrono::Duration| (base + d).format("%Y-%m-%d").to_string();
        let period = format!("from={}&to={}", day(chrono::Duration::days(-1)), day(chrono::Duration::days(3)));
        let total = rows(&report(&app, &app.admin_token, &format!("response?{period}")).await?);
        answered.sort_unstable();
        let median = answered[answered.len().div_ceil(2) - 1];
        let mean = (answered.iter().sum::<i64>() as f64 / answered.len() as f64).round() as i64;
        let expect = json!({"cases": n, "first_response_count": answered.len(), "first_response_median_s": median,
            "first_response_mean_s": mean, "first_response_business_median_s": median});
        for (k, want) in expect.as_object().into_iter().flatten() {
            anyhow::ensure!(total[0].get(k) == Some(want), "{k}: {:?} != {want}", total[0].get(k));
        }
        let by_channel = rows(&report(&app, &app.admin_token, &format!("volume?{period}&group_by=channel,day")).await?);
        let counted: i64 = by_channel.iter().filter_map(|r| r["cases"].as_i64()).sum();
        anyhow::ensure!(counted == n as i64, "{counted} cases counted of {n}");
        let email: i64 = by_channel.iter().filter(|r| r["channel"] == "email").filter_map(|r| r["cases"].as_i64()).sum();
        anyhow::ensure!(email == (n / 2) as i64, "{email} e-mail cases");
        Ok(())
    }
}
