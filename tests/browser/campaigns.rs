//! A supervisor runs a campaign from the console: a segment of the people
//! of one program (counted before it is saved), a campaign with the WhatsApp
//! account's approved template (its parameters filled, with a preview), a
//! test to their own number, the launch, and each person's status as it
//! changes, all against a local stand-in of the Graph API.

use super::assert_accessible;
use super::console::{click, js, open, screenshot, sign_in, type_in, until, whatsapp_app};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use ventanilla_tests::{FakeProvider, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_runs_a_campaign_from_the_console() -> anyhow::Result<()> {
    let provider = FakeProvider::start().await?;
    let (app, unit, _install) = whatsapp_app(&provider).await?;
    app.create_member("sup@uni.test", &unit, "supervisor").await?;
    let days: Vec<_> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
        .collect();
    let hours = app
        .call(
            Method::PUT,
            &format!("/api/v1/units/{unit}/outreach"),
            Some(&app.admin_token),
            Some(&json!({"sending_hours": {"weekly": days}})),
        )
        .await?;
    anyhow::ensure!(hours.status == 200, "{}", hours.text);
    // Two applicants of Medicine who agreed, one of Law; each wrote to the
    // unit once, so they are the unit's people.
    for (id, name, phone, program) in [
        ("A1", "Ana", "573001110001", "Medicina"),
        ("B2", "Beto", "573001110002", "Medicina"),
        ("C3", "Caro", "573001110003", "Derecho"),
    ] {
        let body = json!({"name": name, "identities": [{"channel": "whatsapp", "value": phone}],
            "custom_attributes": {"programa": program},
            "consents": [{"purpose": "broadcasts", "action": "grant", "text_version": "v1", "channel": "webform",
                          "source": "web_form", "given_at": "2026-11-01T10:00:00Z"}]});
        let person = app
            .call(Method::PUT, &format!("/api/v1/contacts/external/{id}"), Some(&app.admin_token), Some(&body))
            .await?;
        anyhow::ensure!(person.status.is_success(), "{}", person.text);
        let contact = person.body["contact"]["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(
            "/api/v1/cases",
            &app.admin_token,
            json!({"subject": "Inscripción", "channel": "whatsapp",
            "unit_id": unit, "contact_id": contact}),
            201,
        )
        .await?;
    }
    let driver = super::Driver::start()?;
    let sup = driver.client().await?;
    let outcome = async {
        sign_in(&sup, &app, "sup@uni.test").await?;
        open(&sup, "#/campaigns", "document.querySelector('#new-segment')").await?;

        click(&sup, "#new-segment").await?;
        type_in(&sup, "#segment-name", "Medicina con autorización").await?;
        type_in(&sup, "#segment-key", "programa").await?;
        type_in(&sup, "#segment-values", "Medicina").await?;
        click(&sup, "#segment-preview").await?;
        until(&sup, "the segment is counted", "document.querySelector('#segment-count')?.textContent.includes('2')")
            .await?;
        assert_accessible(&sup, "new segment").await?;
        click(&sup, "#segment-go").await?;
        until(&sup, "the segment is listed", "document.querySelector('[data-segment]')").await?;

        click(&sup, "#new-campaign").await?;
        until(&sup, "the account's template is offered", "document.querySelector('#campaign-template option')").await?;
        type_in(&sup, "#campaign-name", "Cierre de inscripciones").await?;
        type_in(&sup, "[data-param='2']", "Medicina").await?;
        let preview = js(&sup, "return document.querySelector('#campaign-preview').textContent;").await?;
        anyhow::ensure!(preview == "Hola {{name}}, ¿seguimos con tu caso Medicina?", "{preview}");
        assert_accessible(&sup, "new campaign").await?;
        click(&sup, "#campaign-go").await?;
        let hash =
            until(&sup, "the campaign opens", "location.hash.startsWith('#/campaigns/') && location.hash").await?;
        let id = hash.as_str().unwrap_or_default().trim_start_matches("#/campaigns/").to_owned();
        until(&sup, "it is a draft", "document.querySelector('#campaign-launch')").await?;

        click(&sup, "#campaign-test").await?;
        type_in(&sup, "#test-address", "573009999999").await?;
        click(&sup, "#test-go").await?;
        let tested = eventually(Duration::from_secs(20), || async {
            provider.requests().into_iter().find(|r| r.body.contains("573009999999"))
        })
        .await;
        let tested = tested.ok_or_else(|| anyhow::anyhow!("no test send: {:?}", provider.requests()))?;
        anyhow::ensure!(
            tested.body.contains("seguimiento_caso") && tested.body.contains("Medicina"),
            "{}",
            tested.body
        );

        click(&sup, "#campaign-launch").await?;
        until(
            &sup,
            "both people show as sent, live",
            "document.querySelectorAll('[data-recipient][data-status=sent]').length === 2 \
             && document.querySelector('[data-count=sent]').textContent === '2'",
        )
        .await?;
        until(&sup, "it finishes", "document.querySelector('#campaign-status')?.classList.contains('status-finished')")
            .await?;
        assert_accessible(&sup, "a campaign").await?;
        screenshot(&sup, "campaign").await?;
        let sent: Vec<String> = provider
            .requests()
            .into_iter()
            .filter(|r| r.body.contains("\"template\""))
            .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok()?["to"].as_str().map(str::to_owned))
            .collect();
        anyhow::ensure!(sent.len() == 3 && !sent.iter().any(|to| to == "573001110003"), "test + Ana + Beto: {sent:?}");
        let campaign = app.get(&format!("/api/v1/campaigns/{id}"), &app.admin_token).await?;
        anyhow::ensure!(campaign.body["recipients"]["sent"] == 2, "{}", campaign.text);
        Ok(())
    }
    .await;
    sup.close().await?;
    outcome
}
