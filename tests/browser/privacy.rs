//! Data-subject requests in the console: an agent files a person's access
//! request from their contact page; the data protection office sees it in
//! its queue with its deadline, prepares the person's data, gets the
//! one-time link, and answers the request; then erases a person after
//! seeing what would go.

use super::console::{click, js, open, screenshot, sign_in, type_in, until};
use super::{Driver, assert_accessible};
use serde_json::json;
use std::time::Duration;
use ventanilla_tests::{Backend, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_office_answers_requests_from_its_queue() -> anyhow::Result<()> {
    let app = spawn_app_with(Backend::Sqlite, |c| c.privacy.requests_unit = Some("proteccion-datos".into())).await?;
    let office = app.create_unit("proteccion-datos").await?;
    let admisiones = app.create_unit("admisiones").await?;
    app.create_member("oficial@uni.test", &office, "supervisor").await?;
    let (_, agent) = app.create_member("ana@uni.test", &admisiones, "agent").await?;
    let case = app.create_case(&agent, &admisiones, "Quiero saber qué datos tienen de mí").await?;
    let contact = case["contact_id"].as_str().unwrap_or_default().to_owned();
    let driver = Driver::start()?;
    let ana = driver.client().await?;
    let officer = driver.client().await?;
    let outcome = async {
        // The agent files the person's access request from the contact page.
        sign_in(&ana, &app, "ana@uni.test").await?;
        open(&ana, &format!("#/contacts/{contact}"), "document.querySelector('#file-request')").await?;
        click(&ana, "#file-request").await?;
        type_in(&ana, "#request-details", "Pidió por teléfono copia de sus datos").await?;
        click(&ana, "#request-go").await?;
        until(&ana, "the request is listed", "document.querySelector('table.requests tbody tr')").await?;

        // The office's supervisor has it in the queue, on time.
        sign_in(&officer, &app, "oficial@uni.test").await?;
        until(&officer, "the queue is in the menu", "document.querySelector('.top nav a[href=\"#/privacy\"]')").await?;
        open(&officer, "#/privacy", "document.querySelector('table.requests tbody tr')").await?;
        let row = js(&officer, "return document.querySelector('table.requests tbody tr').innerText;").await?;
        let row = row.as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(
            row.contains("Acceso") && row.contains("a tiempo") && row.contains("Pidió por teléfono"),
            "{row}"
        );
        assert_accessible(&officer, "data requests queue").await?;

        // Prepare the person's data: the one-time link appears.
        click(&officer, "button[data-export]").await?;
        let linked = ventanilla_tests::eventually(Duration::from_secs(20), || async {
            js(&officer, "location.hash = '#/inbox/mine'; return true;").await.ok()?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            js(&officer, "location.hash = '#/privacy'; return true;").await.ok()?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let href = js(
                &officer,
                "const a = document.querySelector('a.export-link'); return a ? a.getAttribute('href') : null;",
            )
            .await
            .ok()?;
            href.as_str().map(str::to_owned)
        })
        .await;
        let Some(link) = linked else { anyhow::bail!("the export never became ready") };
        anyhow::ensure!(link.starts_with("/api/v1/data-exports/"), "{link}");
        screenshot(&officer, "console-privacy").await?;

        // Answer it: done, with what was done; the open queue is empty.
        click(&officer, "button[data-answer=done]").await?;
        type_in(&officer, "#request-resolution", "Se envió el archivo con sus datos.").await?;
        click(&officer, "#answer-go").await?;
        until(&officer, "the queue empties", "document.querySelector('#requests .empty')").await?;
        let requests = app.get(&format!("/api/v1/contacts/{contact}/requests"), &app.admin_token).await?;
        let first = &requests.body["items"][0];
        anyhow::ensure!(
            first["status"] == "done" && first["resolution"] == "Se envió el archivo con sus datos.",
            "{}",
            requests.text
        );
        anyhow::ensure!(first["export"]["status"] == json!("ready"), "{}", requests.text);

        // An erasure request: the dialog says what would go; confirmed, it goes.
        app.post_ok(&format!("/api/v1/contacts/{contact}/requests"), &app.admin_token, json!({"kind": "erasure"}), 201)
            .await?;
        open(&officer, "#/inbox/mine", "document.querySelector('main')").await?;
        open(&officer, "#/privacy", "document.querySelector('button[data-erase]')").await?;
        click(&officer, "button[data-erase]").await?;
        let plan = until(&officer, "the dry run shows", "document.querySelector('#erase-plan')?.innerText").await?;
        anyhow::ensure!(plan.as_str().is_some_and(|p| p.contains("Mensajes: 1") && p.contains("Casos")), "{plan}");
        click(&officer, "#erase-confirm").await?;
        click(&officer, "#erase-go").await?;
        let erased = ventanilla_tests::eventually(Duration::from_secs(20), || async {
            let person = app.get(&format!("/api/v1/contacts/{contact}"), &app.admin_token).await.ok()?;
            person.body["erased_at"].is_string().then_some(person.body)
        })
        .await;
        anyhow::ensure!(erased.is_some_and(|p| p["name"].is_null()), "the person was never erased");
        Ok(())
    }
    .await;
    ana.close().await?;
    officer.close().await?;
    outcome
}
