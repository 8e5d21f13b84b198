//! Files people send, downloaded by the host after the webhook is
//! answered: through the test connector, each way a download can go
//! (kept, too large, of a refused type, at a private address, lost by the
//! provider, failing for a while, a connector that traps).

use serde_json::{Value, json};
use ventanilla_tests::{FakeProvider, TestApp, install_plugin, on_both, set_secret, spawn_app_with};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-a-small-picture";
const MAX_BYTES: usize = 4096;

fn sign(body: &str) -> String {
    ventanilla::secrets::hmac_sha256_hex(b"app-secret-123", body.as_bytes())
}

/// An app with the test connector whose files live on `provider`.
async fn connector(
    backend: ventanilla_tests::Backend,
    settings: Value,
) -> anyhow::Result<(TestApp, FakeProvider, String)> {
    let provider = FakeProvider::start().await?;
    let port = provider.port;
    let app = spawn_app_with(backend, |c| {
        c.plugins.private_hosts = vec![format!("localhost:{port}")];
        c.attachments.max_bytes = MAX_BYTES;
    })
    .await?;
    let unit = app.create_unit("admisiones").await?;
    let grants = json!({"http_hosts": ["localhost"], "secrets": ["app_secret", "api_token"]});
    let install = install_plugin(&app, "hostile-connector", settings, grants, &[unit.as_str()]).await?;
    let id = install["id"].as_str().unwrap_or_default().to_owned();
    set_secret(&app, &id, "app_secret", "app-secret-123").await?;
    set_secret(&app, &id, "api_token", "tok-MEDIA-555").await?;
    Ok((app, provider, id))
}

/// Delivers one message carrying `files` and checks it is acknowledged.
async fn send_files(app: &TestApp, install: &str, id: &str, files: Value) -> anyhow::Result<()> {
    let body =
        json!({"messages": [{"id": id, "from": "+573005550199", "text": "Adjunto", "files": files}]}).to_string();
    let reply = app.webhook(install, &body, &[("x-fake-signature", sign(&body).as_str())]).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(())
}

fn file(name: &str, content_type: &str, url: String) -> Value {
    json!({"name": name, "type": content_type, "ref": url})
}

on_both! {
    async fn files_people_send_are_downloaded_checked_and_kept(backend) {
        let (app, provider, install) = connector(backend, json!({"media_auth": true})).await?;
        let base = format!("http://localhost:{}", provider.port);
        provider.serve_file("/files/foto", "image/png", PNG);
        provider.serve_file("/files/grande", "image/png", &[PNG, &vec![b'x'; MAX_BYTES]].concat());
        provider.serve_file("/files/programa", "application/x-msdownload", b"MZ\x90\x00 an executable");
        provider.serve_file("/files/disfrazado", "image/png", b"MZ\x90\x00 not a picture");
        provider.fail_get("/files/perdido", 404);
        provider.redirect("/files/movido", 302, &format!("{base}/files/foto"));
        provider.redirect("/files/fuera", 302, "https://evil.example.com/x");
        let files = json!([
            file("foto.png", "image/png", format!("{base}/files/foto")),
            file("grande.png", "image/png", format!("{base}/files/grande")),
            file("programa.exe", "application/octet-stream", format!("{base}/files/programa")),
            file("disfrazado.png", "image/png", format!("{base}/files/disfrazado")),
            file("perdido.pdf", "application/pdf", format!("{base}/files/perdido")),
            file("movido.png", "image/png", format!("{base}/files/movido")),
            file("fuera.png", "image/png", format!("{base}/files/fuera")),
            file("interno.png", "image/png", "http://10.0.0.7/secreto.png".to_owned()),
            file("metadatos.png", "image/png", "http://169.254.169.254/latest/meta-data".to_owned()),
        ]);
        // A console is open while the files come in.
        let mut console = ventanilla_tests::console::Console::connect(&app.base, &app.admin_token).await?;
        send_files(&app, &install, "m1", files).await?;
        let kept = app.settled_files().await?;
        let by_name = |name: &str| kept.iter().find(|f| f["file_name"] == name).cloned().unwrap_or_default();

        let photo = by_name("foto.png");
        anyhow::ensure!(photo["status"] == "kept" && photo["content_type"] == "image/png", "{photo}");
        anyhow::ensure!(photo["size_bytes"] == PNG.len(), "{photo}");
        anyhow::ensure!(app.download(&photo).await? == PNG, "the kept bytes are the provider's");
        let fetches: Vec<_> = provider.requests().into_iter().filter(|r| r.path == "/files/foto").collect();
        anyhow::ensure!(!fetches.is_empty() && fetches.iter().all(|r| r.headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer tok-MEDIA-555")), "{fetches:?}");
        // Followed within the grant, and stored once by content.
        let moved = by_name("movido.png");
        anyhow::ensure!(moved["status"] == "kept" && moved["url"].as_str().unwrap_or_default().split('?').next() == photo["url"].as_str().unwrap_or_default().split('?').next(), "{moved}");

        let failed = |name: &str, needle: &str| -> anyhow::Result<()> {
            let f = by_name(name);
            anyhow::ensure!(f["status"] == "failed" && f["url"].is_null(), "{name}: {f}");
            let error = f["error"].as_str().unwrap_or_default();
            anyhow::ensure!(error.contains(needle), "{name}: `{error}` does not say `{needle}`");
            anyhow::ensure!(!error.contains("tok-MEDIA-555"), "{name}: the token leaked: {error}");
            Ok(())
        };
        failed("grande.png", "larger than")?;
        failed("programa.exe", "not a type")?;
        failed("disfrazado.png", "does not look like")?;
        failed("perdido.pdf", "404")?;
        failed("fuera.png", "evil.example.com")?;
        failed("interno.png", "not granted")?;
        failed("metadatos.png", "not granted")?;
        // The message itself is whole: its text and every file's name.
        let case = app.only_case().await?;
        let messages = app.messages(case["id"].as_str().unwrap_or_default()).await?;
        anyhow::ensure!(messages.iter().any(|m| m["body"] == "Adjunto" && m["attachments"].as_array().is_some_and(|a| a.len() == 9)));
        // The console heard of the downloads without asking.
        let case_id = case["id"].as_str().unwrap_or_default();
        let updated = console.next_about(case_id, "message.updated", std::time::Duration::from_secs(10)).await?;
        anyhow::ensure!(updated.body["data"]["files"] == 9, "{}", updated.body);
        Ok(())
    }

    async fn a_provider_failing_for_a_while_is_tried_again(backend) {
        let (app, provider, install) = connector(backend, json!({})).await?;
        let base = format!("http://localhost:{}", provider.port);
        provider.fail_get("/files/tarde", 503);
        send_files(&app, &install, "m1", json!([file("tarde.pdf", "application/pdf", format!("{base}/files/tarde"))])).await?;
        let tried = ventanilla_tests::eventually(std::time::Duration::from_secs(20), || async {
            provider.requests().iter().any(|r| r.path == "/files/tarde").then_some(())
        })
        .await;
        anyhow::ensure!(tried.is_some(), "never tried");
        let case = app.only_case().await?;
        let messages = app.messages(case["id"].as_str().unwrap_or_default()).await?;
        anyhow::ensure!(messages[0]["attachments"][0]["status"] == "pending", "{:?}", messages[0]);
        // Once the provider is back, the next try keeps it.
        provider.serve_file("/files/tarde", "application/pdf", b"%PDF-1.7 la constancia");
        let kept = app.settled_files().await?;
        anyhow::ensure!(kept[0]["status"] == "kept", "{kept:?}");
        anyhow::ensure!(app.download(&kept[0]).await? == b"%PDF-1.7 la constancia");
        // Without credentials asked for, none was sent.
        anyhow::ensure!(provider.requests().iter().all(|r| !r.headers.iter().any(|(k, _)| k == "authorization")));
        Ok(())
    }

    async fn a_connector_that_loses_or_traps_on_a_file_does_not_lose_the_message(backend) {
        let (app, provider, install) = connector(backend, json!({"mode": "media_gone"})).await?;
        let base = format!("http://localhost:{}", provider.port);
        send_files(&app, &install, "m1", json!([file("x.png", "image/png", format!("{base}/files/x"))])).await?;
        let files = app.settled_files().await?;
        anyhow::ensure!(files[0]["status"] == "failed" && files[0]["error"] == "the provider deleted it", "{files:?}");
        anyhow::ensure!(provider.requests().is_empty(), "nothing to download");
        // A trapping connector leaves the file pending for another try.
        let (app, provider, install) = connector(backend, json!({"mode": "media_trap"})).await?;
        let base = format!("http://localhost:{}", provider.port);
        send_files(&app, &install, "m1", json!([file("x.png", "image/png", format!("{base}/files/x"))])).await?;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let case = app.only_case().await?;
        let messages = app.messages(case["id"].as_str().unwrap_or_default()).await?;
        anyhow::ensure!(messages[0]["body"] == "Adjunto" && messages[0]["attachments"][0]["status"] == "pending", "{:?}", messages[0]);
        Ok(())
    }
}
