//! Informes and the wallboard in the console: a supervisor sees the
//! period's figures as cards, SVG charts with their tables and downloads;
//! the wallboard shows the queue and moves when a case arrives.

use super::console::{js, open, screenshot, sign_in, until};
use super::{Driver, assert_accessible};
use serde_json::json;
use std::time::Duration;
use ventanilla_tests::{Backend, eventually, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_reads_the_reports_and_watches_the_wallboard() -> anyhow::Result<()> {
    let app = spawn_app(Backend::Sqlite).await?;
    let unit = app.create_unit("admisiones").await?;
    app.create_member("sara@uni.test", &unit, "supervisor").await?;
    let (ana_id, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
    // Two cases answered and resolved by Ana, one waiting in the queue.
    for subject in ["Certificado", "Matrícula"] {
        let case = app.create_case(&ana, &unit, subject).await?;
        let id = case["id"].as_str().unwrap_or_default().to_owned();
        app.patch(&format!("/api/v1/cases/{id}"), &ana, json!({"assignee_id": ana_id})).await?;
        app.post_ok(&format!("/api/v1/cases/{id}/messages"), &ana, json!({"body": "Con gusto"}), 201).await?;
        app.patch(&format!("/api/v1/cases/{id}"), &ana, json!({"status": "resolved"})).await?;
    }
    app.create_case(&app.admin_token, &unit, "Horario").await?;
    let counted = eventually(Duration::from_secs(20), || async {
        let body = app.get("/api/v1/reports/volume", &app.admin_token).await.ok()?.body;
        (body["pending_cases"] == 0 && body["rows"][0][0] == 3).then_some(())
    })
    .await;
    anyhow::ensure!(counted.is_some(), "the figures were never worked out");

    let driver = Driver::start()?;
    let sara = driver.client().await?;
    let outcome = async {
        sign_in(&sara, &app, "sara@uni.test").await?;
        until(&sara, "Informes is in the menu", "document.querySelector('.top nav a[href=\"#/reports\"]')").await?;
        open(&sara, "#/reports", "document.querySelector('#report-cards [data-figure=cases] strong')").await?;
        let cases =
            js(&sara, "return document.querySelector('#report-cards [data-figure=cases] strong').innerText;").await?;
        anyhow::ensure!(cases == "3", "cases card: {cases}");
        // A chart per section, drawn as SVG with a name, and its table.
        let charts =
            js(&sara, "return [...document.querySelectorAll('svg.chart[role=img][aria-label]')].length;").await?;
        anyhow::ensure!(charts.as_u64().unwrap_or(0) >= 3, "charts: {charts}");
        let channel = js(&sara, "return document.querySelector('#report-channels table').innerText;").await?;
        anyhow::ensure!(channel.as_str().is_some_and(|t| t.contains("WhatsApp")), "{channel}");
        let agent = js(&sara, "return document.querySelector('#report-agents table').innerText;").await?;
        anyhow::ensure!(agent.as_str().is_some_and(|t| t.contains("ana@uni.test")), "{agent}");
        anyhow::ensure!(
            js(&sara, "return document.querySelectorAll('button[data-download]').length;").await?.as_u64() >= Some(10),
            "download buttons"
        );
        assert_accessible(&sara, "reports").await?;
        screenshot(&sara, "console-reports").await?;

        // Mailed every Monday to the rector's office.
        super::console::click(&sara, "#schedule-report").await?;
        js(&sara, "document.querySelector('#schedule-recipients').value = 'rectoria@uni.test'; return true;").await?;
        super::console::click(&sara, "#schedule-go").await?;
        let scheduled = eventually(Duration::from_secs(10), || async {
            let token = app.login("sara@uni.test", ventanilla_tests::PASSWORD).await.ok()?;
            let list = app.get("/api/v1/report-schedules", &token).await.ok()?.body;
            let first = list["items"].get(0)?.clone();
            (first["frequency"] == "weekly" && first["recipients"] == json!(["rectoria@uni.test"])).then_some(())
        })
        .await;
        anyhow::ensure!(scheduled.is_some(), "the schedule was not created");

        // The wallboard: one waiting; a new case moves it live.
        open(&sara, "#/wallboard", "document.querySelector('#wallboard-cards [data-figure=waiting] strong')").await?;
        let waiting =
            js(&sara, "return document.querySelector('#wallboard-cards [data-figure=waiting] strong').innerText;")
                .await?;
        anyhow::ensure!(waiting == "1", "waiting: {waiting}");
        assert_accessible(&sara, "wallboard").await?;
        app.create_case(&app.admin_token, &unit, "Beca").await?;
        until(
            &sara,
            "the wallboard hears of the new case",
            "document.querySelector('#wallboard-cards [data-figure=waiting] strong')?.innerText === '2'",
        )
        .await?;
        screenshot(&sara, "console-wallboard").await?;
        Ok(())
    }
    .await;
    sara.close().await?;
    outcome
}
