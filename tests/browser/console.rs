//! The agent console in a real browser: an agent signs in, sees a web chat
//! case arrive live, takes it, replies (the visitor's widget shows it),
//! adds a note and a tag and transfers it to another unit, whose agent sees
//! it arrive live and resolves it; a supervisor changes the unit's business
//! hours. Then the rest of a working day: a WhatsApp case past its 24-hour
//! window answered with a template, the contact's page, a saved view, a
//! supervisor handing out cases in bulk and tuning the unit's SLA protocol
//! and knowledge base. Screenshots of the main views go to docs/screenshots.

use super::webchat::{in_widget, site, until_shown, write};
use super::{Driver, assert_accessible};
use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, FakeProvider, PASSWORD, TestApp, eventually, install_plugin,
    install_plugin_with, plugin_wasm, set_secret, spawn_app, spawn_app_with,
};

const WAIT: Duration = Duration::from_secs(20);

pub(crate) async fn js(client: &Client, script: &str) -> anyhow::Result<Value> {
    Ok(client.execute(script, vec![]).await?)
}

/// Waits until `script` (an expression) is truthy, returning its value.
pub(crate) async fn until(client: &Client, what: &str, script: &str) -> anyhow::Result<Value> {
    let body = format!("return {script};");
    let found = eventually(WAIT, || async {
        let value = client.execute(&body, vec![]).await.ok()?;
        let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!("") && value != json!(0);
        truthy.then_some(value)
    })
    .await;
    match found {
        Some(value) => Ok(value),
        None => {
            let page = js(client, "return document.body.innerText;").await?;
            anyhow::bail!("{what}: never happened; the page shows:\n{}", page.as_str().unwrap_or_default())
        }
    }
}

/// Clicks the element `css` finds; a live redraw between finding and
/// clicking it (a stale element) is tried again.
pub(crate) async fn click(client: &Client, css: &str) -> anyhow::Result<()> {
    for _ in 0..10 {
        match client.find(Locator::Css(css)).await?.click().await {
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return Ok(other?),
        }
    }
    anyhow::bail!("{css} kept being redrawn")
}

/// Types into the element `css` finds, like [`click`].
pub(crate) async fn type_in(client: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    for _ in 0..10 {
        match client.find(Locator::Css(css)).await?.send_keys(text).await {
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return Ok(other?),
        }
    }
    anyhow::bail!("{css} kept being redrawn")
}

pub(crate) async fn sign_in(client: &Client, app: &TestApp, email: &str) -> anyhow::Result<()> {
    sign_in_with(client, app, email, PASSWORD).await
}

pub(crate) async fn sign_in_with(client: &Client, app: &TestApp, email: &str, password: &str) -> anyhow::Result<()> {
    client.goto(&format!("{}/console/", app.base)).await?;
    client.wait().for_element(Locator::Css("#email")).await?.send_keys(email).await?;
    type_in(client, "#password", password).await?;
    click(client, "form.login button").await?;
    until(client, "the console connects live", "document.querySelector('#live.on')").await?;
    Ok(())
}

pub(crate) async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir)?;
    // The top of the view, without passing notices.
    js(client, "window.scrollTo(0, 0); document.querySelectorAll('.toast').forEach(t => t.remove()); return true;")
        .await?;
    std::fs::write(dir.join(format!("{name}.png")), client.screenshot().await?)?;
    Ok(())
}

/// Goes to a hash route of the console and waits for it to draw.
pub(crate) async fn open(client: &Client, hash: &str, ready: &str) -> anyhow::Result<()> {
    js(client, &format!("location.hash = {}; return true;", json!(hash))).await?;
    until(client, &format!("{hash} shows"), ready).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_work_a_web_chat_case_from_the_console() -> anyhow::Result<()> {
    let app = spawn_app(Backend::Sqlite).await?;
    let admisiones = app.create_unit("admisiones").await?;
    let bienestar = app.create_unit("bienestar").await?;
    app.create_member("ana@uni.test", &admisiones, "agent").await?;
    app.create_member("laura@uni.test", &bienestar, "agent").await?;
    let (_, sofia) = app.create_member("sofia@uni.test", &admisiones, "supervisor").await?;
    let greeting = "Con gusto te ayudo. Soy {{agent.name}}, de {{unit.name}}. ¿Para qué trámite lo necesitas?";
    let canned = json!({"unit_id": admisiones, "shortcut": "saludo", "title": "Saludo", "body": greeting});
    app.post_ok("/api/v1/canned-responses", &sofia, canned, 201).await?;
    let page = format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>Admisiones</title></head>\
         <body><h1>Admisiones</h1><script src=\"{}/widget.js\" data-unit=\"admisiones\" async></script></body></html>",
        app.base
    );
    // Bienestar asks for the reason of every case before it is resolved.
    let reason = json!({"custom_fields": [{"key": "motivo", "label": "Motivo", "kind": "select", "options": ["Beca", "Salud mental"], "required": true}]});
    let defined = app.patch(&format!("/api/v1/units/{bienestar}"), &app.admin_token, reason).await?;
    anyhow::ensure!(defined.status == 200, "{}", defined.text);
    let (site_url, _site) = site(page).await?;
    let driver = Driver::start()?;
    let ana = driver.client().await?;
    let visitor = driver.client().await?;
    let laura = driver.client().await?;
    let outcome = async {
        // Ana signs in (and is online) and watches the unassigned queue.
        sign_in(&ana, &app, "ana@uni.test").await?;
        until(&ana, "Ana is online", "document.querySelector('#presence').value === 'online'").await?;
        open(&ana, "#/inbox/unassigned", "document.querySelector('ul.cases')").await?;
        assert_accessible(&ana, "console inbox").await?;
        js(&ana, "window.stillHere = true; return true;").await?;

        // A visitor writes on the web chat; the case appears without a reload.
        visitor.goto(&site_url).await?;
        let bubble = eventually(WAIT, || async {
            in_widget(&visitor, "return !!w.querySelector('.bubble');").await.ok().filter(|v| v == &json!(true))
        })
        .await;
        anyhow::ensure!(bubble.is_some(), "the widget never appeared");
        in_widget(&visitor, "w.querySelector('.bubble').click(); return true;").await?;
        write(&visitor, "Hola, necesito un certificado de notas").await?;
        until(&ana, "the new case is listed", "[...document.querySelectorAll('.case-row a.subject')].find(a => a.textContent.includes('certificado'))?.textContent").await?;
        anyhow::ensure!(js(&ana, "return window.stillHere === true;").await? == json!(true), "the page reloaded");
        screenshot(&ana, "console-inbox").await?;

        // She opens it, takes it and replies.
        js(&ana, "[...document.querySelectorAll('.case-row a.subject')].find(a => a.textContent.includes('certificado')).click(); return true;").await?;
        until(&ana, "the case opens", "document.querySelector('#claim')").await?;
        click(&ana, "#claim").await?;
        until(&ana, "the case is Ana's", "document.querySelector('#case-assignee')?.textContent === 'ana@uni.test'").await?;
        // The reply is the unit's canned greeting, found by typing `/salu`.
        type_in(&ana, "#composer", "/salu").await?;
        until(&ana, "the canned response is offered", "document.querySelector('#canned-picks li')?.textContent.includes('/saludo')").await?;
        type_in(&ana, "#composer", &char::from(Key::Enter).to_string()).await?;
        until(&ana, "the greeting is filled in", "document.querySelector('#composer').value.includes('Soy ana@uni.test, de admisiones')").await?;
        click(&ana, "#send").await?;
        until_shown(&visitor, "agent", "Con gusto te ayudo. Soy ana@uni.test, de admisiones.").await?;
        write(&visitor, "Para una beca").await?;
        until(&ana, "the visitor's answer arrives live", "[...document.querySelectorAll('.msg.inbound .body')].some(p => p.textContent === 'Para una beca')").await?;

        // A note and a tag.
        click(&ana, "input[name=mode][value=note]").await?;
        type_in(&ana, "#composer", "Pide certificado para beca; pasa a bienestar").await?;
        click(&ana, "#send").await?;
        until(&ana, "the note shows", "[...document.querySelectorAll('.note .body')].some(p => p.textContent.includes('pasa a bienestar'))").await?;
        type_in(&ana, "#tag-input", "certificados").await?;
        click(&ana, ".tag-form button").await?;
        until(&ana, "the tag shows", "[...document.querySelectorAll('.tags li')].some(li => li.textContent.startsWith('certificados'))").await?;
        assert_accessible(&ana, "console case").await?;
        screenshot(&ana, "console-case").await?;
        // On a tablet held upright the case fits the screen's width.
        ana.set_window_size(820, 1180).await?;
        until(&ana, "the case fits a tablet", "document.documentElement.scrollWidth <= window.innerWidth").await?;
        screenshot(&ana, "console-case-tablet").await?;
        ana.set_window_size(1280, 900).await?;
        let case_id = js(&ana, "return location.hash.split('/')[2];").await?.as_str().unwrap_or_default().to_owned();
        let notes = app.get(&format!("/api/v1/cases/{case_id}/notes"), &app.admin_token).await?;
        anyhow::ensure!(notes.text.contains("pasa a bienestar"), "{}", notes.text);

        // Laura watches her unit's queue; Ana transfers the case there.
        sign_in(&laura, &app, "laura@uni.test").await?;
        open(&laura, &format!("#/inbox/unit-{bienestar}"), "document.querySelector('ul.cases')").await?;
        click(&ana, "#transfer").await?;
        js(&ana, &format!("document.querySelector('#transfer-unit').value = {}; return true;", json!(bienestar))).await?;
        type_in(&ana, "#transfer-note", "Necesita orientación para la beca").await?;
        click(&ana, "#transfer-go").await?;
        until(&ana, "Ana is back in her inbox", "location.hash === '#/inbox/mine'").await?;
        until(&laura, "the case arrives in Laura's queue", &format!("document.querySelector('[data-case=\"{case_id}\"]')")).await?;

        // Laura takes it and resolves it.
        open(&laura, &format!("#/cases/{case_id}"), "document.querySelector('#claim')").await?;
        anyhow::ensure!(
            js(&laura, "return [...document.querySelectorAll('.note .body')].map(p => p.textContent).join('|');").await?
                .as_str().unwrap_or_default().contains("Necesita orientación"),
            "the transfer note is on the case"
        );
        click(&laura, "#claim").await?;
        until(&laura, "the case is Laura's", "document.querySelector('#case-assignee')?.textContent === 'laura@uni.test'").await?;
        // The person authorises the processing of their data by phone; Laura records it.
        app.post_ok("/api/v1/consent-texts", &app.admin_token,
            json!({"purpose": "data_processing", "text": "Autorizo a la Universidad a tratar mis datos según la Ley 1581 de 2012."}), 201).await?;
        until(&laura, "the case shows the authorisation", "document.querySelector('#consent-status')").await?;
        click(&laura, "#record-consent").await?;
        until(&laura, "the text in force is shown", "document.querySelector('#consent-text')?.textContent.includes('Ley 1581')").await?;
        click(&laura, "#consent-go").await?;
        until(&laura, "the case shows it granted", "document.querySelector('#consent-status.granted')").await?;
        let contact = app.case(&case_id).await?["contact_id"].as_str().unwrap_or_default().to_owned();
        let consents = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        let last = consents.body["items"].as_array().and_then(|items| items.last().cloned()).unwrap_or_default();
        anyhow::ensure!(last["action"] == "grant" && last["source"] == "phone" && last["channel"] == "phone" && last["text_version"] == "v1", "{}", consents.text);
        // The unit's required field comes first.
        click(&laura, "#resolve").await?;
        until(&laura, "resolving without the reason is refused", "[...document.querySelectorAll('.toast.error')].some(t => t.textContent.includes('Motivo'))").await?;
        js(&laura, "document.querySelector('#field-motivo').value = 'Beca'; return true;").await?;
        click(&laura, "#fields-save").await?;
        until(&laura, "the reason is saved", "document.querySelector('#field-motivo')?.value === 'Beca' && [...document.querySelectorAll('.toast.ok')].length > 0").await?;
        click(&laura, "#resolve").await?;
        until(&laura, "the case is resolved", "document.querySelector('#case-status')?.textContent === 'Resuelto'").await?;
        let stored = app.case(&case_id).await?;
        anyhow::ensure!(stored["status"] == "resolved" && stored["unit_id"] == bienestar.as_str(), "{stored}");
        anyhow::ensure!(stored["tags"] == json!(["certificados"]), "{stored}");
        anyhow::ensure!(stored["custom_fields"] == json!({"motivo": "Beca"}), "{stored}");

        // Sofía, a supervisor, opens her unit and opens it at 07:00 on Mondays.
        js(&ana, "localStorage.clear(); return true;").await?;
        sign_in(&ana, &app, "sofia@uni.test").await?;
        click(&ana, ".top nav a[href^='#/units/']").await?;
        until(&ana, "the unit view", "document.querySelector('#save-hours')").await?;
        until(&ana, "her agent is listed", "[...document.querySelectorAll('.agents td')].some(td => td.textContent === 'ana@uni.test')").await?;
        js(&ana, "document.querySelector('#open-mon').value = '07:00'; document.querySelector('#day-sat').checked = true; document.querySelector('#open-sat').value = '09:00'; document.querySelector('#close-sat').value = '12:00'; return true;").await?;
        click(&ana, "#save-hours").await?;
        let hours = eventually(WAIT, || async {
            let unit = app.get(&format!("/api/v1/units/{admisiones}"), &app.admin_token).await.ok()?;
            let weekly = unit.body["business_hours"]["weekly"].as_array()?.clone();
            let monday = weekly.iter().find(|d| d["day"] == "mon")?;
            (monday["open"] == "07:00").then_some(weekly)
        })
        .await;
        let Some(weekly) = hours else { anyhow::bail!("the business hours were not saved") };
        anyhow::ensure!(weekly.iter().any(|d| d["day"] == "sat" && d["open"] == "09:00" && d["close"] == "12:00"), "{weekly:?}");
        type_in(&ana, "#canned-shortcut", "horario").await?;
        type_in(&ana, "#canned-title", "Horario de atención").await?;
        type_in(&ana, "#canned-body", "Atendemos de lunes a viernes de 7:00 a 17:00, {{contact.first_name}}.").await?;
        click(&ana, "#canned-save").await?;
        until(&ana, "the new response is listed", "[...document.querySelectorAll('.canned strong')].some(s => s.textContent === '/horario')").await?;
        assert_accessible(&ana, "console unit").await?;
        screenshot(&ana, "console-unit").await?;
        // Signing out is going offline.
        click(&ana, "#sign-out").await?;
        until(&ana, "the sign-in form", "document.querySelector('#email')").await?;
        let offline = eventually(WAIT, || async {
            let me = app.get("/api/v1/agents/me", &sofia).await.ok()?;
            (me.body["presence"] == "offline").then_some(())
        })
        .await;
        anyhow::ensure!(offline.is_some(), "signing out left Sofía online");

        // An admin uploads a plugin and installs it through the form its
        // settings schema describes.
        js(&laura, "localStorage.clear(); return true;").await?;
        sign_in_with(&laura, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        click(&laura, ".top nav a[href='#/admin/plugins']").await?;
        until(&laura, "the plugins page", "document.querySelector('#plugin-upload')").await?;
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/example-bot/plugin.toml").canonicalize()?;
        type_in(&laura, "#plugin-manifest", &manifest.display().to_string()).await?;
        type_in(&laura, "#plugin-component", &plugin_wasm("example-bot")?.display().to_string()).await?;
        click(&laura, "#plugin-upload").await?;
        until(&laura, "the uploaded plugin is listed", "document.querySelector('[data-plugin=\"example-bot\"] button')").await?;
        click(&laura, "[data-plugin='example-bot'] button").await?;
        until(&laura, "the settings form", "document.querySelector('#s-example-bot-handoff_unit')").await?;
        type_in(&laura, "#s-example-bot-handoff_unit", "admisiones").await?;
        js(&laura, "document.querySelector('#s-example-bot-greeting').value = 'Hola, soy Vale.'; return true;").await?;
        assert_accessible(&laura, "console admin").await?;
        screenshot(&laura, "console-admin").await?;
        click(&laura, "#install-save").await?;
        until(&laura, "the install is listed", "document.querySelector('[data-install]')").await?;
        let installs = app.get("/api/v1/plugin-installs", &app.admin_token).await?;
        let install = &installs.body["items"][0];
        anyhow::ensure!(install["settings"] == json!({"greeting": "Hola, soy Vale.", "handoff_unit": "admisiones"}), "{install}");
        anyhow::ensure!(install["grants"]["kv"] == true && install["grants"]["kb_search"] == true && install["enabled"] == true, "{install}");
        // And changes it later with the same form.
        click(&laura, "[data-install] button").await?;
        until(&laura, "the form shows the settings", "document.querySelector('#s-example-bot-greeting')?.value === 'Hola, soy Vale.'").await?;
        js(&laura, "document.querySelector('#s-example-bot-greeting').value = '¡Hola! Soy Vale, el asistente.'; document.querySelector('#install-enabled').checked = false; return true;").await?;
        click(&laura, "#install-save").await?;
        let changed = eventually(WAIT, || async {
            let installs = app.get("/api/v1/plugin-installs", &app.admin_token).await.ok()?;
            let install = installs.body["items"][0].clone();
            (install["settings"]["greeting"] == "¡Hola! Soy Vale, el asistente." && install["enabled"] == false).then_some(())
        })
        .await;
        anyhow::ensure!(changed.is_some(), "the install was not changed from the form");
        Ok(())
    }
    .await;
    for client in [ana, visitor, laura] {
        client.close().await?;
    }
    outcome
}

pub(crate) const PHONE_ID: &str = "106540352242922";
const APP_SECRET: &str = "wa-app-secret-0123";

/// An app whose unit `admisiones` has a WhatsApp account (its Graph API
/// played by `provider`) offering one approved template.
pub(crate) async fn whatsapp_app(provider: &FakeProvider) -> anyhow::Result<(TestApp, String, String)> {
    provider.succeed_with(
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.OUT{n}"}]}"#,
    );
    let port = provider.port;
    let app = spawn_app_with(Backend::Sqlite, |c| c.plugins.private_hosts = vec![format!("localhost:{port}")]).await?;
    let unit = app.create_unit("admisiones").await?;
    let templates = json!([{"name": "seguimiento_caso", "language": "es_CO", "text": "Hola {{1}}, ¿seguimos con tu caso {{2}}?", "parameters": 2}]);
    let settings = json!({"phone_number_id": PHONE_ID, "api_base_url": format!("http://localhost:{port}"), "templates": templates});
    let grants = json!({"http_hosts": ["graph.facebook.com", "localhost"], "secrets": ["app_secret", "verify_token", "access_token"]});
    let install = install_plugin_with(&app, "whatsapp-cloud", settings, grants, &[unit.as_str()], |manifest| {
        manifest.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
    })
    .await?;
    let install = install["id"].as_str().unwrap_or_default().to_owned();
    for (name, value) in [("app_secret", APP_SECRET), ("verify_token", "verifica"), ("access_token", "EAAG-token")] {
        set_secret(&app, &install, name, value).await?;
    }
    Ok((app, unit, install))
}

/// Kerry writes on WhatsApp (a signed webhook); returns the case.
pub(crate) async fn kerry_writes(app: &TestApp, install: &str, text: &str) -> anyhow::Result<String> {
    let message = json!({"id": "wamid.IN1", "from": "573001234567", "timestamp": "1732300000", "type": "text", "text": {"body": text}});
    let value = json!({"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "573001234567"}], "messages": [message]});
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]})
        .to_string();
    let signature = format!("sha256={}", ventanilla::secrets::hmac_sha256_hex(APP_SECRET.as_bytes(), body.as_bytes()));
    let reply = app.webhook(install, &body, &[("x-hub-signature-256", signature.as_str())]).await?;
    anyhow::ensure!(reply.status == 200, "{}: {}", reply.status, reply.text);
    Ok(app.only_case().await?["id"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_find_their_work_and_supervisors_tune_their_unit() -> anyhow::Result<()> {
    let provider = FakeProvider::start().await?;
    let (app, admisiones, install) = whatsapp_app(&provider).await?;
    let (_, ana) = app.create_member("ana@uni.test", &admisiones, "agent").await?;
    let (beto_id, _) = app.create_member("beto@uni.test", &admisiones, "agent").await?;
    app.create_member("sofia@uni.test", &admisiones, "supervisor").await?;
    let case_id = kerry_writes(&app, &install, "¿Cómo va mi homologación?").await?;
    // A day and more without a word from Kerry: the window has closed.
    app.age_inbound(&case_id, chrono::Duration::hours(25)).await?;
    // Two cases wait for the supervisor to hand them out.
    let mut waiting = vec![];
    for subject in ["Certificado de notas", "Carnet estudiantil"] {
        waiting.push(
            app.create_case(&app.admin_token, &admisiones, subject).await?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    // The unit's SLA protocol and its knowledge base.
    let policy = json!({"business_hours": false, "warn_percent": 50, "escalation": {},
        "policies": {"normal": {"first_response_minutes": 60.0, "resolution_minutes": 480.0}}});
    let sla = install_plugin(&app, "escalation-sla", policy, json!({"kv": true}), &[admisiones.as_str()]).await?;
    let sla_id = sla["id"].as_str().unwrap_or_default().to_owned();
    let kb = app
        .post_ok(
            "/api/v1/knowledge-bases",
            &app.admin_token,
            json!({"unit_id": admisiones, "slug": "admisiones", "name": "Preguntas de admisiones"}),
            201,
        )
        .await?;
    let kb_id = kb["id"].as_str().unwrap_or_default().to_owned();

    let driver = Driver::start()?;
    let agent = driver.client().await?;
    let supervisor = driver.client().await?;
    let outcome = async {
        // Ana takes the WhatsApp case; past the window her reply is a template.
        sign_in(&agent, &app, "ana@uni.test").await?;
        open(&agent, &format!("#/cases/{case_id}"), "document.querySelector('#claim')").await?;
        click(&agent, "#claim").await?;
        until(&agent, "the case is Ana's", "document.querySelector('#case-assignee')?.textContent === 'ana@uni.test'").await?;
        until(&agent, "the template picker replaces free text", "document.querySelector('#reply-template') && document.querySelector('#composer').hidden").await?;
        js(&agent, "const s = document.querySelector('#reply-template'); s.value = '0'; s.dispatchEvent(new Event('change')); return true;").await?;
        until(&agent, "a field per parameter", "document.querySelector(\"#reply-params [data-param='2']\")").await?;
        type_in(&agent, "#reply-params [data-param='1']", "Kerry").await?;
        type_in(&agent, "#reply-params [data-param='2']", "1042").await?;
        until(&agent, "the preview", "document.querySelector('#reply-preview')?.textContent === 'Hola Kerry, ¿seguimos con tu caso 1042?'").await?;
        click(&agent, "#send").await?;
        let sent = eventually(WAIT, || async {
            let sends = provider.requests();
            sends.iter().find(|r| r.body.contains("seguimiento_caso")).map(|r| r.body.clone())
        })
        .await;
        let Some(sent) = sent else { anyhow::bail!("no template went to WhatsApp") };
        let sent: Value = serde_json::from_str(&sent)?;
        anyhow::ensure!(sent["type"] == "template" && sent["template"]["components"][0]["parameters"][1]["text"] == "1042", "{sent}");

        // Kerry's page: identities, every case, consent, possible twins.
        click(&agent, "#contact-title a").await?;
        until(&agent, "the contact page", "document.querySelector('.contact h1')?.textContent === 'Kerry Fisher'").await?;
        until(&agent, "the case is listed", &format!("document.querySelector('.contact a[href=\"#/cases/{case_id}\"]')")).await?;
        anyhow::ensure!(js(&agent, "return document.querySelector('.contact').textContent;").await?.as_str().unwrap_or("").contains("573001234567"));
        assert_accessible(&agent, "console contact").await?;
        screenshot(&agent, "console-contact").await?;

        // Ana saves a view of her cases about homologations; it is kept on
        // the server, so it follows her to any browser.
        open(&agent, "#/inbox/mine", "document.querySelector('#save-view')").await?;
        type_in(&agent, ".filters input[type=search]", "homologacion").await?;
        until(&agent, "the filter finds the case", &format!("document.querySelectorAll('.case-row').length === 1 && document.querySelector('[data-case=\"{case_id}\"]')")).await?;
        click(&agent, "#save-view").await?;
        type_in(&agent, "#view-name", "Homologaciones").await?;
        click(&agent, "#view-go").await?;
        until(&agent, "the saved view opens", "location.hash.startsWith('#/inbox/saved-') && document.querySelector('nav.views a[aria-current=page]')?.textContent === 'Homologaciones'").await?;
        until(&agent, "it lists the case", &format!("document.querySelector('[data-case=\"{case_id}\"]')")).await?;
        let views = app.get("/api/v1/saved-views", &ana).await?;
        anyhow::ensure!(views.body["items"][0]["filters"]["text"] == "homologacion" && views.body["items"][0]["filters"]["assignee_id"] == "me", "{}", views.text);

        // Sofía hands the waiting cases to Beto in one go.
        sign_in(&supervisor, &app, "sofia@uni.test").await?;
        open(&supervisor, "#/inbox/unassigned", &format!("document.querySelector('[data-case=\"{}\"]') && document.querySelector('[data-case=\"{}\"]')", waiting[0], waiting[1])).await?;
        for id in &waiting {
            click(&supervisor, &format!("[data-case='{id}'] input[type=checkbox]")).await?;
        }
        click(&supervisor, "#bulk-assign").await?;
        js(&supervisor, &format!("document.querySelector('#assign-to').value = {}; return true;", json!(beto_id))).await?;
        click(&supervisor, "#assign-go").await?;
        for id in &waiting {
            let case = app.case_until(id, "assigned to Beto", |c| c["assignee_id"] == beto_id.as_str()).await?;
            anyhow::ensure!(case["status"] == "assigned", "{case}");
        }

        // In the unit's page she caps one agent's load, loosens the SLA
        // warning and writes an answer for the knowledge base.
        open(&supervisor, &format!("#/units/{admisiones}"), "document.querySelector('[data-protocol=\"escalation-sla\"]')").await?;
        // Beto: at most three cases at once, whatever the unit's figure.
        js(&supervisor, &format!("const c = document.querySelector('#cap-{beto_id}'); c.value = '3'; c.dispatchEvent(new Event('change')); return true;")).await?;
        let capped = eventually(WAIT, || async {
            let agents = app.get(&format!("/api/v1/agents?unit_id={admisiones}"), &app.admin_token).await.ok()?;
            let beto = agents.body["items"].as_array()?.iter().find(|a| a["user_id"] == beto_id.as_str())?.clone();
            (beto["capacity"]["default"] == 3).then_some(())
        })
        .await;
        anyhow::ensure!(capped.is_some(), "Beto's capacity was not saved");
        until(&supervisor, "the unit page shows it", &format!("document.querySelector('#cap-{beto_id}')?.value === '3'")).await?;
        js(&supervisor, "document.querySelector('[data-protocol=\"escalation-sla\"] input[id$=\"-warn_percent\"]').value = '70'; return true;").await?;
        click(&supervisor, "[data-protocol='escalation-sla'] button[type=submit]").await?;
        let tuned = eventually(WAIT, || async {
            let install = app.get(&format!("/api/v1/plugin-installs/{sla_id}"), &app.admin_token).await.ok()?;
            (install.body["settings"]["warn_percent"] == 70).then_some(install.body["settings"].clone())
        })
        .await;
        let Some(tuned) = tuned else { anyhow::bail!("the SLA settings were not saved") };
        anyhow::ensure!(tuned["policies"]["normal"]["resolution_minutes"] == 480.0, "the rest of the settings stay: {tuned}");
        click(&supervisor, "[data-kb='admisiones'] button.ghost").await?;
        type_in(&supervisor, "#article-title", "¿Cuánto tarda una homologación?").await?;
        type_in(&supervisor, "#article-body", "La respuesta llega en **diez días hábiles**.").await?;
        js(&supervisor, "document.querySelector('#article-status').value = 'published'; return true;").await?;
        click(&supervisor, "#article-save").await?;
        until(&supervisor, "the article is listed", "[...document.querySelectorAll('[data-kb] li button')].some(b => b.textContent.includes('homologación'))").await?;
        let articles = app.get(&format!("/api/v1/knowledge-bases/{kb_id}/articles"), &app.admin_token).await?;
        anyhow::ensure!(articles.body["items"][0]["status"] == "published" && articles.body["items"][0]["title"] == "¿Cuánto tarda una homologación?", "{}", articles.text);
        assert_accessible(&supervisor, "console unit settings").await?;
        Ok(())
    }
    .await;
    for client in [agent, supervisor] {
        client.close().await?;
    }
    outcome
}
