//! Files agents send: uploaded to a case (size, type and content checked),
//! attached to a message, and downloaded only through links the server
//! signed, which expire.

use serde_json::json;
use ventanilla_tests::{TestApp, on_both, spawn_app_with};

/// The smallest PNG there is: one transparent pixel.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\x01\x01\x01\0\x18\xdd\x8d\xb0\0\0\0\0IEND\xaeB`\x82";

async fn download(app: &TestApp, path: &str) -> anyhow::Result<reqwest::Response> {
    Ok(app.client.get(app.url(path)).send().await?)
}

on_both! {
    async fn files_are_checked_kept_and_served_through_expiring_links(backend) {
        let app = spawn_app_with(backend, |c| {
            c.attachments.max_bytes = 4096;
            // Long enough for a loaded CI machine to use the link, short enough to wait out.
            c.attachments.link_ttl_secs = 6;
        }).await?;
        let unit = app.create_unit("tesoreria").await?;
        let case = app.create_case(&app.admin_token, &unit, "Recibo de pago").await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();

        let uploaded = app.upload_file(&case_id, &app.admin_token, "image/png", "recibo%20de%20pago.png", PNG.to_vec()).await?;
        anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
        let reference = uploaded.body["reference"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(reference.starts_with("sha256:") && reference.len() == 71, "{}", uploaded.text);
        anyhow::ensure!(uploaded.body["content_type"] == "image/png" && uploaded.body["size_bytes"] == PNG.len()
            && uploaded.body["file_name"] == "recibo de pago.png", "{}", uploaded.text);
        let url = uploaded.body["url"].as_str().unwrap_or_default().to_owned();

        // The link serves the bytes, safely, without a token.
        let served = download(&app, &url).await?;
        anyhow::ensure!(served.status() == 200, "{}", served.status());
        let header = |name: &str| served.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        anyhow::ensure!(header("content-type") == "image/png" && header("x-content-type-options") == "nosniff");
        anyhow::ensure!(header("content-security-policy").contains("sandbox"));
        anyhow::ensure!(header("content-disposition").starts_with("inline;") && header("content-disposition").contains("recibo%20de%20pago.png"));
        anyhow::ensure!(served.bytes().await?.as_ref() == PNG);

        // A link changed in any way does not open.
        let renamed = url.replace("n=recibo", "n=virus");
        anyhow::ensure!(download(&app, &renamed).await?.status() == 403);
        let retyped = url.replace("t=image%2Fpng", "t=text%2Fhtml");
        anyhow::ensure!(download(&app, &retyped).await?.status() == 403);
        let later = url.replace("&e=", "&e=9");
        anyhow::ensure!(download(&app, &later).await?.status() == 403);

        // What is refused, with the field that is wrong.
        let exe = app.upload_file(&case_id, &app.admin_token, "application/x-msdownload", "setup.exe", b"MZ\x90\0".to_vec()).await?;
        anyhow::ensure!(exe.status == 422 && exe.body["errors"][0]["field"] == "content_type", "{}", exe.text);
        let fake = app.upload_file(&case_id, &app.admin_token, "image/png", "x.png", b"<html>not a png</html>".to_vec()).await?;
        anyhow::ensure!(fake.status == 422 && fake.text.contains("does not look like image/png"), "{}", fake.text);
        let big = app.upload_file(&case_id, &app.admin_token, "text/plain", "big.txt", vec![b'a'; 5000]).await?;
        anyhow::ensure!(big.status == 413, "{}", big.text);
        let empty = app.upload_file(&case_id, &app.admin_token, "text/plain", "vacio.txt", vec![]).await?;
        anyhow::ensure!(empty.status == 422, "{}", empty.text);
        let anonymous = app.client.post(app.url(&format!("/api/v1/cases/{case_id}/attachments")))
            .header("content-type", "image/png").body(PNG.to_vec()).send().await?;
        anyhow::ensure!(anonymous.status() == 401);
        // Someone from another unit does not see the case at all.
        let other = app.create_unit("admisiones").await?;
        let (_, outsider) = app.create_member("otra@uni.edu.co", &other, "agent").await?;
        anyhow::ensure!(app.upload_file(&case_id, &outsider, "image/png", "x.png", PNG.to_vec()).await?.status == 404);

        // A message carries the file; its link is fresh each time it is read.
        let path = format!("/api/v1/cases/{case_id}/messages");
        let sent = app.post_ok(&path, &app.admin_token,
            json!({"attachments": [{"reference": reference, "file_name": "../../recibo.png"}]}), 201).await?;
        anyhow::ensure!(sent["body"] == "" && sent["attachments"][0]["file_name"] == "recibo.png", "{sent}");
        anyhow::ensure!(sent["attachments"][0]["content_type"] == "image/png" && sent["attachments"][0]["url"].is_string(), "{sent}");
        let unknown = app.post(&path, &app.admin_token, json!({"attachments": [{"reference": format!("sha256:{}", "0".repeat(64))}]})).await?;
        anyhow::ensure!(unknown.status == 422 && unknown.body["errors"][0]["field"] == "attachments[0].reference", "{}", unknown.text);
        let foreign = app.post(&path, &app.admin_token, json!({"attachments": [{"reference": "whatsapp-media:123"}]})).await?;
        anyhow::ensure!(foreign.status == 422, "{}", foreign.text);

        // Links expire.
        tokio::time::sleep(std::time::Duration::from_millis(7500)).await;
        let expired = TestApp::reply(download(&app, &url).await?).await?;
        anyhow::ensure!(expired.status == 403 && expired.text.contains("expired"), "{}", expired.text);
        Ok(())
    }
}
