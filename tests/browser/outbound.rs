//! Staff write first: from a person's page an agent starts a conversation
//! on one of their unit's channel accounts (SMS here, sent to a local
//! stand-in of Twilio), and lands on the new case.

use super::console::{click, js, open, sign_in, type_in, until};
use super::{Driver, assert_accessible};
use serde_json::json;
use std::time::Duration;
use ventanilla_tests::{Backend, FakeProvider, eventually, install_plugin_with, set_secret, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_starts_a_conversation_from_a_persons_page() -> anyhow::Result<()> {
    let provider = FakeProvider::start().await?;
    provider.succeed_with(r#"{"sid": "SMout{n}", "status": "queued"}"#);
    let port = provider.port;
    let app = spawn_app_with(Backend::Sqlite, |c| c.plugins.private_hosts = vec![format!("localhost:{port}")]).await?;
    let unit = app.create_unit("admisiones").await?;
    let (_, ana_token) = app.create_member("ana@uni.test", &unit, "agent").await?;
    let settings = json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "from": "+15005550006",
        "webhook_url": "https://ventanilla.example.edu/api/v1/webhooks/sms", "api_base_url": format!("http://localhost:{port}")});
    let grants = json!({"http_hosts": ["api.twilio.com", "localhost"], "secrets": ["auth_token"]});
    let install = install_plugin_with(&app, "sms-twilio", settings, grants, &[unit.as_str()], |m| {
        m.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
    })
    .await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    set_secret(&app, &install, "auth_token", "twilio-auth-token-123").await?;
    // Someone Ana registered (an agent sees the people they register).
    let contact = app
        .post_ok(
            "/api/v1/contacts",
            &ana_token,
            json!({"name": "Luisa Gómez", "identities": [{"channel": "sms", "value": "+573001234567"}]}),
            201,
        )
        .await?;
    let contact = contact["id"].as_str().unwrap_or_default().to_owned();
    let driver = Driver::start()?;
    let ana = driver.client().await?;
    let outcome = async {
        sign_in(&ana, &app, "ana@uni.test").await?;
        open(&ana, &format!("#/contacts/{contact}"), "document.querySelector('#contact-start')").await?;
        click(&ana, "#contact-start").await?;
        until(
            &ana,
            "the unit's SMS account is offered",
            "document.querySelector('#start-account option[value]')?.value",
        )
        .await?;
        let offered = js(&ana, "return document.querySelector('#start-account').value;").await?;
        anyhow::ensure!(offered == install.as_str(), "{offered}");
        assert_accessible(&ana, "start a conversation").await?;
        type_in(&ana, "#start-subject", "Documentos pendientes").await?;
        type_in(&ana, "#start-body", "Hola Luisa, te falta el certificado de notas.").await?;
        click(&ana, "#start-go").await?;
        let hash = until(&ana, "the new case opens", "location.hash.startsWith('#/cases/') && location.hash").await?;
        let case = hash.as_str().unwrap_or_default().trim_start_matches("#/cases/").to_owned();
        let sent = eventually(Duration::from_secs(30), || async {
            provider.requests().into_iter().find(|r| r.path.ends_with("/Messages.json"))
        })
        .await;
        let sent = sent.ok_or_else(|| anyhow::anyhow!("nothing sent to the provider"))?;
        anyhow::ensure!(sent.body.contains("To=%2B573001234567") && sent.body.contains("certificado"), "{}", sent.body);
        let created = app.get(&format!("/api/v1/cases/{case}"), &app.admin_token).await?;
        anyhow::ensure!(
            created.body["channel_install_id"] == install.as_str()
                && created.body["subject"] == "Documentos pendientes",
            "{}",
            created.text
        );
        Ok(())
    }
    .await;
    ana.close().await?;
    outcome
}
