//! Two-factor sign-in and sessions in the console: an agent turns on
//! two-step verification from the QR page (the code computed from the key
//! the page shows), keeps the recovery codes, is asked for a code at the
//! next sign-in, signs in with a recovery code once, and ends her other
//! sessions; an administrator the server requires it of sees nothing but
//! the enrolment page until enrolled, then the whole console.

use super::assert_accessible;
use super::console::{click, js, open, screenshot, type_in, until};
use fantoccini::{Client, Locator};
use serde_json::Value;
use ventanilla::two_factor::{code_at, secret_from_text, step_at};
use ventanilla_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, PASSWORD, TestApp, spawn_app, spawn_app_with};

fn code_of(secret: &[u8], step: i64) -> String {
    format!("{:06}", code_at(secret, step))
}

async fn to_sign_in(client: &Client, app: &TestApp, email: &str, password: &str) -> anyhow::Result<()> {
    client.goto(&format!("{}/console/#/login", app.base)).await?;
    client.wait().for_element(Locator::Css("#email")).await?.send_keys(email).await?;
    type_in(client, "#password", password).await?;
    click(client, "form.login button").await?;
    Ok(())
}

/// Turns two-step verification on through the page; returns the secret,
/// the step that confirmed it and the recovery codes shown.
async fn enrol_in_page(client: &Client, password: &str) -> anyhow::Result<(Vec<u8>, i64, Vec<String>)> {
    until(client, "the enrolment form", "document.querySelector('#enrol-password')").await?;
    type_in(client, "#enrol-password", password).await?;
    click(client, "#enrol button[type=submit]").await?;
    until(
        client,
        "the QR code",
        "document.querySelector('img.qr')?.complete && document.querySelector('#enrol-secret')",
    )
    .await?;
    let text = js(client, "return document.querySelector('#enrol-secret').textContent;").await?;
    let secret =
        secret_from_text(text.as_str().unwrap_or_default()).ok_or_else(|| anyhow::anyhow!("no key: {text}"))?;
    let step = step_at(chrono::Utc::now().timestamp());
    type_in(client, "#enrol-code", &code_of(&secret, step)).await?;
    click(client, "#enrol-confirm button[type=submit]").await?;
    let codes = until(client, "the recovery codes",
        "document.querySelectorAll('#recovery-codes li').length === 10 && [...document.querySelectorAll('#recovery-codes code')].map(c => c.textContent)").await?;
    let codes =
        codes.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default();
    Ok((secret, step, codes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_turns_on_two_step_verification_and_ends_her_other_sessions() -> anyhow::Result<()> {
    // She signs in many times from one address: not what the throttle is about here.
    let app = spawn_app_with(Backend::Sqlite, |c| c.auth.login_attempts_per_account = 100).await?;
    let unit = app.create_unit("bienestar").await?;
    app.create_member("ana@uni.test", &unit, "agent").await?;
    // A session elsewhere (her phone), to end later.
    let phone = app.login("ana@uni.test", PASSWORD).await?;

    let driver = super::Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        super::console::sign_in(&client, &app, "ana@uni.test").await?;
        open(&client, "#/security", "document.querySelector('#two-factor-state')").await?;
        let state = js(&client, "return document.querySelector('#two-factor-state').textContent;").await?;
        anyhow::ensure!(state.as_str().is_some_and(|s| s.starts_with("Desactivada")), "{state}");
        until(&client, "her sessions", "document.querySelectorAll('#sessions tbody tr').length >= 2").await?;
        assert_accessible(&client, "account security").await?;
        let (secret, step, codes) = enrol_in_page(&client, PASSWORD).await?;
        assert_accessible(&client, "recovery codes").await?;
        screenshot(&client, "two-factor-recovery-codes").await?;
        click(&client, "#recovery-saved").await?;
        until(&client, "it is on", "document.querySelector('#two-factor-state')?.textContent.startsWith('Activada')")
            .await?;

        // Sign out; signing in now asks for the code.
        click(&client, "#sign-out").await?;
        to_sign_in(&client, &app, "ana@uni.test", PASSWORD).await?;
        until(
            &client,
            "the code is asked for",
            "!document.querySelector('#code').closest('[hidden]') && document.activeElement?.id === 'code'",
        )
        .await?;
        assert_accessible(&client, "sign-in code").await?;
        screenshot(&client, "sign-in-code").await?;
        type_in(&client, "#code", &code_of(&secret, step)).await?;
        click(&client, "form.login button").await?;
        until(
            &client,
            "a replayed code is refused",
            "document.querySelector('form.login .error')?.textContent.includes('ya se usó')",
        )
        .await?;
        type_in(&client, "#code", &code_of(&secret, step + 1)).await?;
        click(&client, "form.login button").await?;
        until(&client, "the console connects live", "document.querySelector('#live.on')").await?;

        // A recovery code, once.
        click(&client, "#sign-out").await?;
        to_sign_in(&client, &app, "ana@uni.test", PASSWORD).await?;
        until(&client, "the code is asked for", "document.activeElement?.id === 'code'").await?;
        type_in(&client, "#code", &codes[3]).await?;
        click(&client, "form.login button").await?;
        until(&client, "the console connects live", "document.querySelector('#live.on')").await?;
        open(&client, "#/security", "document.querySelector('#two-factor-state')?.textContent.startsWith('Activada')")
            .await?;
        until(&client, "nine codes left", "document.querySelector('.security')?.textContent.includes('sin usar: 9')")
            .await?;

        // Her phone's session is listed; she ends every other one.
        until(&client, "the other session", "document.querySelectorAll('#sessions tbody tr').length >= 2").await?;
        anyhow::ensure!(app.get("/api/v1/auth/me", &phone).await?.status == 200);
        click(&client, "#end-others").await?;
        until(&client, "only this one left", "document.querySelectorAll('#sessions tbody tr').length === 1").await?;
        anyhow::ensure!(app.get("/api/v1/auth/me", &phone).await?.status == 401, "the phone's session ended");
        screenshot(&client, "account-security").await?;
        Ok(())
    }
    .await;
    client.close().await?;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_required_to_enrol_sees_only_the_enrolment_until_done() -> anyhow::Result<()> {
    let app = spawn_app_with(Backend::Sqlite, |c| c.auth.require_two_factor_for_admins = true).await?;
    let driver = super::Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        to_sign_in(&client, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        until(
            &client,
            "the enrolment page alone",
            "document.querySelector('.security .notice') && !document.querySelector('.top')",
        )
        .await?;
        assert_accessible(&client, "required enrolment").await?;
        // Another address of the console leads back to it.
        js(&client, "location.hash = '#/admin/users'; return true;").await?;
        until(
            &client,
            "still the enrolment page",
            "document.querySelector('.security .notice') && !document.querySelector('.top')",
        )
        .await?;
        enrol_in_page(&client, ADMIN_PASSWORD).await?;
        click(&client, "#recovery-saved").await?;
        until(&client, "the whole console", "document.querySelector('.top nav') && document.querySelector('#live.on')")
            .await?;
        open(&client, "#/admin/users", "document.querySelector('table.agents tbody tr')").await?;
        Ok(())
    }
    .await;
    client.close().await?;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_marks_a_unit_sensitive_and_reads_the_audit_log() -> anyhow::Result<()> {
    let app = spawn_app(Backend::Sqlite).await?;
    let unit = app.create_unit("bienestar").await?;
    let (_, ana) = app.create_member("ana@uni.test", &unit, "agent").await?;
    let case = app.create_case(&app.admin_token, &unit, "Acompañamiento").await?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let driver = super::Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        super::console::sign_in_with(&client, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        open(&client, &format!("#/units/{unit}"), "document.querySelector('#privacy-reads')").await?;
        click(&client, "#privacy-reads").await?;
        click(&client, "#save-privacy").await?;
        let saved = ventanilla_tests::eventually(std::time::Duration::from_secs(10), || async {
            let unit = app.get(&format!("/api/v1/units/{unit}"), &app.admin_token).await.ok()?;
            (unit.body["privacy"]["record_reads"] == true).then_some(())
        })
        .await;
        anyhow::ensure!(saved.is_some(), "the unit was not marked sensitive");
        // Ana opens the case; the admin finds her reading in the log.
        anyhow::ensure!(app.get(&format!("/api/v1/cases/{case}"), &ana).await?.status == 200);
        open(&client, "#/admin/audit", "document.querySelector('#audit-filters')").await?;
        js(&client, "document.querySelector('#audit-action').value = 'case.read'; return true;").await?;
        click(&client, "#audit-filters button[type=submit]").await?;
        until(
            &client,
            "Ana's reading",
            "document.querySelector('#audit-list tr[data-action=\"case.read\"]')?.textContent.includes('ana@uni.test')",
        )
        .await?;
        assert_accessible(&client, "audit log").await?;
        screenshot(&client, "audit-log").await?;
        click(&client, "#audit-csv").await?;
        let exported = ventanilla_tests::eventually(std::time::Duration::from_secs(10), || async {
            let found = app.get("/api/v1/audit-events?action=audit.exported", &app.admin_token).await.ok()?;
            found.body["items"].as_array().filter(|a| !a.is_empty()).map(|a| a[0].clone())
        })
        .await;
        anyhow::ensure!(
            exported.is_some_and(|e| e["details"]["action"] == "case.read"),
            "the download was not recorded"
        );
        // Who signs in with two-step verification, at a glance.
        open(&client, "#/admin/users", "document.querySelector('tr[data-user=\"ana@uni.test\"] td.two-factor')")
            .await?;
        let ana_2fa =
            js(&client, "return document.querySelector('tr[data-user=\"ana@uni.test\"] td.two-factor').textContent;")
                .await?;
        anyhow::ensure!(ana_2fa == "No", "{ana_2fa}");
        assert_accessible(&client, "users with their verification").await?;
        Ok(())
    }
    .await;
    client.close().await?;
    outcome
}
