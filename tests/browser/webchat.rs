//! The web chat widget in a real browser, embedded by a page of another
//! origin with one script tag: open the bubble, write, get the bot's reply
//! and its quick replies, see an agent's reply arrive live, reload and find
//! the conversation still there.

use super::{Driver, assert_accessible};
use fantoccini::Client;
use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{Backend, eventually, install_plugin, spawn_app};

const WAIT: Duration = Duration::from_secs(15);

/// Serves one HTML page (the institution's site) on its own port.
pub(crate) async fn site(page: String) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://127.0.0.1:{}/becas", listener.local_addr()?.port());
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok((url, task))
}

/// Runs `js` (a function body) against the widget's shadow root `w`.
pub(crate) async fn in_widget(client: &Client, js: &str) -> anyhow::Result<Value> {
    let script = format!(
        "const host = document.querySelector('[data-ventanilla-chat]'); if (!host) return null; const w = host.shadowRoot; {js}"
    );
    Ok(client.execute(&script, vec![]).await?)
}

/// The widget's messages as (from, text).
async fn shown(client: &Client) -> anyhow::Result<Vec<(String, String)>> {
    let list =
        in_widget(client, "return w ? [...w.querySelectorAll('.m')].map(m => [m.dataset.from, m.textContent]) : [];")
            .await?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (m[0].as_str().unwrap_or_default().to_owned(), m[1].as_str().unwrap_or_default().to_owned()))
        .collect())
}

/// Waits until the widget shows a message from `from` containing `text`.
pub(crate) async fn until_shown(client: &Client, from: &str, text: &str) -> anyhow::Result<()> {
    let found = eventually(WAIT, || async {
        shown(client).await.ok()?.into_iter().find(|(f, t)| f == from && t.contains(text)).map(|_| ())
    })
    .await;
    if found.is_none() {
        anyhow::bail!("no `{from}` message with `{text}`; the widget shows {:?}", shown(client).await?);
    }
    Ok(())
}

pub(crate) async fn write(client: &Client, text: &str) -> anyhow::Result<()> {
    let js = format!(
        "const t = w.querySelector('textarea'); t.value = {}; w.querySelector('form:not(.mail) button').click(); return true;",
        json!(text)
    );
    in_widget(client, &js).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_chats_from_another_site() -> anyhow::Result<()> {
    let app = spawn_app(Backend::Sqlite).await?;
    app.create_unit("admisiones").await?;
    // A bot that answers everything with two quick replies.
    install_plugin(&app, "hostile-bot", json!({"mode": "options"}), json!({}), &[]).await?;
    let page = format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>Becas — Universidad de Prueba</title></head>\
         <body><h1>Becas</h1><script src=\"{}/widget.js\" data-unit=\"admisiones\" data-locale=\"es\" data-color=\"#005a9c\" async></script></body></html>",
        app.base
    );
    let (url, _site) = site(page).await?;
    let driver = Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        client.goto(&url).await?;
        let ready = eventually(WAIT, || async {
            in_widget(&client, "return !!w.querySelector('.bubble');").await.ok().filter(|v| v == &json!(true))
        })
        .await;
        anyhow::ensure!(ready.is_some(), "the bubble never appeared");
        let label = in_widget(&client, "return w.querySelector('.bubble').getAttribute('aria-label');").await?;
        anyhow::ensure!(label == json!("Abrir el chat"), "Spanish by default: {label}");

        // Open the bubble and write.
        in_widget(&client, "w.querySelector('.bubble').click(); return true;").await?;
        write(&client, "Hola, quiero información de becas").await?;
        until_shown(&client, "me", "Hola, quiero información de becas").await?;
        until_shown(&client, "bot", "Elige una opción").await?;
        let status = in_widget(&client, "return w.querySelector('.status').textContent;").await?;
        anyhow::ensure!(status == json!("Te atiende el asistente virtual"), "who answers: {status}");
        assert_accessible(&client, "site with the open chat").await?;

        // The page travels with the message.
        let cases = app.get("/api/v1/cases?channel=webchat", &app.admin_token).await?;
        let case_id = cases.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();
        let messages = app.get(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token).await?;
        let first = &messages.body["items"][0];
        anyhow::ensure!(
            first["context"]["page_title"] == "Becas — Universidad de Prueba"
                && first["context"]["page_url"] == url.as_str(),
            "{first}"
        );

        // Quick replies are buttons.
        in_widget(&client, "w.querySelector('.opts button').click(); return true;").await?;
        until_shown(&client, "me", "Opción 1").await?;
        let chosen = app.get(&format!("/api/v1/cases/{case_id}/messages?limit=100"), &app.admin_token).await?;
        let picked = chosen.body["items"].as_array().into_iter().flatten().any(|m| m["selected_option"] == "opt-1");
        anyhow::ensure!(picked, "{}", chosen.text);

        // A person takes over: their reply arrives live, with their name.
        app.patch(&format!("/api/v1/cases/{case_id}"), &app.admin_token, json!({"status": "queued"})).await?;
        app.post_ok(
            &format!("/api/v1/cases/{case_id}/messages"),
            &app.admin_token,
            json!({"body": "Hola, te ayudo con tu beca."}),
            201,
        )
        .await?;
        until_shown(&client, "agent", "Hola, te ayudo con tu beca.").await?;
        let agent = shown(&client).await?.into_iter().find(|(f, _)| f == "agent").map(|(_, t)| t).unwrap_or_default();
        anyhow::ensure!(agent.starts_with("Admin"), "the agent is named: {agent}");

        // A file from the agent shows as a link the visitor can open.
        let pdf = b"%PDF-1.4 reglamento de becas".to_vec();
        app.send_file(&case_id, "Aquí está el reglamento", "application/pdf", "reglamento.pdf", pdf.clone()).await?;
        until_shown(&client, "agent", "Aquí está el reglamento").await?;
        let links = in_widget(
            &client,
            "return [...w.querySelectorAll('a.file')].map(a => [a.textContent, a.href, a.getAttribute('aria-label')]);",
        )
        .await?;
        let link = &links[0];
        anyhow::ensure!(link[0] == "📎 reglamento.pdf" && link[2] == "Archivo adjunto: reglamento.pdf", "{links}");
        let href = link[1].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(href.starts_with(&format!("{}/api/v1/attachments/", app.base)), "{href}");
        let fetched = app.client.get(&href).send().await?;
        anyhow::ensure!(fetched.status() == 200 && fetched.bytes().await?.as_ref() == pdf.as_slice(), "the link opens");
        let before = shown(&client).await?;

        // Reload: the conversation is still there, the panel still open.
        client.refresh().await?;
        let restored = eventually(WAIT, || async {
            let now = shown(&client).await.ok()?;
            (now.len() == before.len()).then_some(now)
        })
        .await;
        anyhow::ensure!(
            restored.as_ref() == Some(&before),
            "after a reload: {:?}, before: {before:?}",
            shown(&client).await?
        );
        // And it keeps working after the reload.
        write(&client, "Gracias").await?;
        until_shown(&client, "me", "Gracias").await?;
        let cases = app.get("/api/v1/cases?channel=webchat", &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().map_or(0, Vec::len) == 1, "one conversation: {}", cases.text);
        Ok(())
    }
    .await;
    client.close().await?;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_asks_for_consent_before_the_first_message() -> anyhow::Result<()> {
    let app = spawn_app(Backend::Sqlite).await?;
    let unit = app.create_unit("bienestar").await?;
    app.post_ok(
        "/api/v1/consent-texts",
        &app.admin_token,
        json!({"purpose": "data_processing", "text": "Autorizo a la Universidad a tratar mis datos personales.",
               "policy_url": "https://uni.edu.co/datos"}),
        201,
    )
    .await?;
    app.patch(&format!("/api/v1/units/{unit}"), &app.admin_token, json!({"privacy": {"ask_consent": true}})).await?;
    let page = format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>Bienestar</title></head>\
         <body><h1>Bienestar</h1><script src=\"{}/widget.js\" data-unit=\"bienestar\" async></script></body></html>",
        app.base
    );
    let (url, _site) = site(page).await?;
    let driver = Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        client.goto(&url).await?;
        let ready = eventually(WAIT, || async {
            in_widget(&client, "return !!w.querySelector('.bubble');").await.ok().filter(|v| v == &json!(true))
        })
        .await;
        anyhow::ensure!(ready.is_some(), "the bubble never appeared");
        in_widget(&client, "w.querySelector('.bubble').click(); return true;").await?;
        let asked = eventually(WAIT, || async {
            let text = in_widget(
                &client,
                "const c = w.querySelector('.consent'); return c && !c.hidden ? c.textContent : null;",
            )
            .await
            .ok()?;
            text.as_str().map(str::to_owned)
        })
        .await
        .unwrap_or_default();
        anyhow::ensure!(
            asked.contains("Autorizo a la Universidad") && asked.contains("Política de tratamiento"),
            "{asked}"
        );
        assert_accessible(&client, "the chat asking for consent").await?;

        // Writing before answering: the widget says to answer first; nothing is sent.
        write(&client, "Hola, necesito una cita").await?;
        let said = eventually(WAIT, || async {
            let note =
                in_widget(&client, "const n = w.querySelector('.note'); return n.hidden ? null : n.textContent;")
                    .await
                    .ok()?;
            note.as_str().filter(|n| n.contains("autorización")).map(str::to_owned)
        })
        .await;
        anyhow::ensure!(said.is_some(), "the widget never asked to answer first");
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().is_some_and(Vec::is_empty), "{}", cases.text);

        // Accepting, then writing: the answer goes with the first message.
        in_widget(&client, "w.querySelector('.consent button[data-consent=grant]').click(); return true;").await?;
        write(&client, "Hola, necesito una cita").await?;
        until_shown(&client, "me", "Hola, necesito una cita").await?;
        let hidden = in_widget(&client, "return w.querySelector('.consent').hidden;").await?;
        anyhow::ensure!(hidden == json!(true), "answered: the question goes away");
        let case = app.only_case().await?;
        let contact = case["contact_id"].as_str().unwrap_or_default();
        let records = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        let first = &records.body["items"][0];
        anyhow::ensure!(
            first["action"] == "grant" && first["text_version"] == "v1" && first["source"] == "web_chat",
            "{}",
            records.text
        );
        Ok(())
    }
    .await;
    client.close().await?;
    outcome
}
