//! WhatsApp templates in the console: an admin reads the account's
//! templates from a stand-in of Meta's template API and sees their review
//! status and the account's quality; an agent past the 24-hour window picks
//! an approved template whose header is an image and whose button takes a
//! value, fills every value with the preview showing, and it goes out with
//! all of them. The admin also brings people in from a spreadsheet, a trial
//! run first.

use super::assert_accessible;
use super::console::{
    PHONE_ID, click, js, kerry_writes, open, screenshot, sign_in, sign_in_with, type_in, until, whatsapp_app,
};
use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, FakeProvider, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reads_whatsapp_templates_and_imports_people_and_an_agent_fills_every_value() -> anyhow::Result<()> {
    let provider = FakeProvider::start().await?;
    let (app, unit, install) = whatsapp_app(&provider).await?;
    let reminder = json!({"name": "recordatorio_cita", "language": "es_CO", "category": "UTILITY", "status": "APPROVED",
        "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hola {{1}}, tu cita es el {{2}}."},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Confirmo"},
                {"type": "URL", "text": "Ver cita", "url": "https://uni.example/citas/{{1}}"}]}]});
    let closing = json!({"name": "aviso_cierre", "language": "es_CO", "category": "MARKETING", "status": "PAUSED",
        "components": [{"type": "BODY", "text": "El campus cierra hoy."}]});
    provider.on_get("/message_templates", json!({"data": [reminder, closing], "paging": {"cursors": {}}}));
    provider.on_get(
        &format!("/{PHONE_ID}?fields="),
        json!({"quality_rating": "YELLOW", "messaging_limit_tier": "TIER_1K"}),
    );
    let port = provider.port;
    let settings = json!({"phone_number_id": PHONE_ID, "business_account_id": "102290129340398",
        "api_base_url": format!("http://localhost:{port}")});
    let saved = app
        .patch(&format!("/api/v1/plugin-installs/{install}"), &app.admin_token, json!({"settings": settings}))
        .await?;
    anyhow::ensure!(saved.status == 200, "{}", saved.text);
    app.create_member("ana@uni.test", &unit, "agent").await?;
    let case_id = kerry_writes(&app, &install, "¿Cuándo es mi cita?").await?;
    app.age_inbound(&case_id, chrono::Duration::hours(25)).await?;

    let driver = super::Driver::start()?;
    let admin = driver.client().await?;
    let agent = driver.client().await?;
    let outcome = async {
        sign_in_with(&admin, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        open(&admin, "#/admin/plugins", &format!("document.querySelector('[data-templates=\"{install}\"]')")).await?;
        click(&admin, &format!("[data-templates=\"{install}\"]")).await?;
        until(&admin, "the templates panel", "document.querySelector('#templates-sync')").await?;
        click(&admin, "#templates-sync").await?;
        until(&admin, "both templates with their status",
            "document.querySelector('[data-template=\"recordatorio_cita:es_CO\"]')?.textContent.includes('Aprobada') \
             && document.querySelector('[data-template=\"aviso_cierre:es_CO\"]')?.textContent.includes('Pausada')").await?;
        let standing = js(&admin, "return document.querySelector('#templates-standing').textContent;").await?;
        anyhow::ensure!(standing.as_str().is_some_and(|s| s.contains("media") && s.contains("1000")), "{standing}");
        assert_accessible(&admin, "account templates").await?;
        screenshot(&admin, "whatsapp-templates").await?;

        // People for a campaign from a spreadsheet: tried first, then imported.
        let dir = std::env::temp_dir().join(format!("ventanilla-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let csv = dir.join("aspirantes.csv");
        std::fs::write(&csv, "external_id;nombre;whatsapp;programa;consent.broadcasts\nA1;Ana;+573001110001;Medicina;sí\n;Sin id;+573001110002;Derecho;sí\nB2;Beto;+573001110003;Medicina;no\n")?;
        open(&admin, "#/campaigns", "document.querySelector('#import-people')").await?;
        click(&admin, "#import-people").await?;
        let input = admin.wait().for_element(fantoccini::Locator::Css("#import-file")).await?;
        input.send_keys(&csv.to_string_lossy()).await?;
        type_in(&admin, "#import-version", "v1").await?;
        js(&admin, "document.querySelector('#import-date').value = '2026-11-01'; return true;").await?;
        assert_accessible(&admin, "import people").await?;
        click(&admin, "#import-go").await?;
        until(&admin, "the trial's report", "document.querySelector('#import-counts')?.textContent.startsWith('3 filas: 2 personas nuevas')").await?;
        let bad = js(&admin, "return document.querySelector('#import-result tbody')?.textContent;").await?;
        anyhow::ensure!(bad.as_str().is_some_and(|t| t.contains("external_id") && t.starts_with('3')), "{bad}");
        let none = app.get("/api/v1/contacts?q=Beto", &app.admin_token).await?;
        anyhow::ensure!(none.body["items"].as_array().is_some_and(Vec::is_empty), "a trial kept {}", none.text);
        click(&admin, "#import-people").await?;
        let input = admin.wait().for_element(fantoccini::Locator::Css("#import-file")).await?;
        input.send_keys(&csv.to_string_lossy()).await?;
        type_in(&admin, "#import-version", "v1").await?;
        js(&admin, "document.querySelector('#import-date').value = '2026-11-01'; return true;").await?;
        click(&admin, "#import-trial").await?;
        click(&admin, "#import-go").await?;
        until(&admin, "the import's report", "document.querySelector('#import-result h2')?.textContent.includes('importado')").await?;
        let beto = app.get("/api/v1/contacts?q=Beto", &app.admin_token).await?;
        anyhow::ensure!(beto.body["items"][0]["custom_attributes"]["programa"] == "Medicina", "{}", beto.text);
        std::fs::remove_dir_all(&dir).ok();

        // The agent, past the 24 hours: only the approved template is offered.
        sign_in(&agent, &app, "ana@uni.test").await?;
        open(&agent, &format!("#/cases/{case_id}"), "document.querySelector('#reply-template')").await?;
        let offered = js(&agent, "return [...document.querySelectorAll('#reply-template option')].map(o => o.textContent);").await?;
        anyhow::ensure!(offered.as_array().map(Vec::len) == Some(2) && offered[1] == "recordatorio_cita (es_CO)", "{offered}");
        js(&agent, "const s = document.querySelector('#reply-template'); s.value = '0'; s.dispatchEvent(new Event('change')); return true;").await?;
        until(&agent, "a field for the image, each parameter and the link button",
            "document.querySelector(\"#reply-params [data-header='image']\") && document.querySelector(\"#reply-params [data-button='1']\")").await?;
        anyhow::ensure!(js(&agent, "return document.querySelector('#send').disabled;").await? == json!(true), "sendable without its values");
        type_in(&agent, "#reply-params [data-header='image']", "https://uni.example/cita.png").await?;
        type_in(&agent, "#reply-params [data-param='1']", "Kerry").await?;
        type_in(&agent, "#reply-params [data-param='2']", "lunes").await?;
        type_in(&agent, "#reply-params [data-button='1']", "C-1042").await?;
        until(&agent, "the preview", "document.querySelector('#reply-preview')?.textContent.includes('Hola Kerry, tu cita es el lunes.')").await?;
        assert_accessible(&agent, "template with header and buttons").await?;
        click(&agent, "#send").await?;
        let sent = eventually(Duration::from_secs(20), || async {
            provider.requests().into_iter().find(|r| r.body.contains("recordatorio_cita")).map(|r| r.body)
        })
        .await;
        let sent: Value = serde_json::from_str(&sent.ok_or_else(|| anyhow::anyhow!("no template went to WhatsApp"))?)?;
        anyhow::ensure!(sent["template"]["components"] == json!([
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://uni.example/cita.png"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Kerry"}, {"type": "text", "text": "lunes"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "C-1042"}]},
        ]), "{sent}");
        anyhow::Ok(())
    }
    .await;
    admin.close().await.ok();
    agent.close().await.ok();
    outcome
}
