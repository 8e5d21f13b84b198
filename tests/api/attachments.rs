//! Files agents send: uploaded to a case (size, type and content checked),
//! attached to a message, and downloaded only through links the server
//! signed, which expire.

use serde_json::{Value, json};
use ventanilla_tests::s3::FakeS3;
use ventanilla_tests::{TestApp, eventually, on_both, spawn_app_with};

/// The smallest PNG there is: one transparent pixel.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\x01\x01\x01\0\x18\xdd\x8d\xb0\0\0\0\0IEND\xaeB`\x82";

async fn download(app: &TestApp, path: &str) -> anyhow::Result<reqwest::Response> {
    Ok(app.client.get(app.url(path)).send().await?)
}

/// `[attachments.s3]` for `bucket`, under the prefix `kept/`.
fn in_bucket(bucket: &FakeS3) -> ventanilla::attachments::AttachmentsConfig {
    bucket.attachments_config()
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

    async fn files_never_sent_are_collected_after_a_while(backend) {
        let app = spawn_app_with(backend, |_| {}).await?;
        let unit = app.create_unit("tesoreria").await?;
        let case = app.create_case(&app.admin_token, &unit, "Recibo").await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let unsent = app.upload_file(&case_id, &app.admin_token, "text/plain", "borrador.txt", b"nunca enviado".to_vec()).await?;
        let sent = app.send_file(&case_id, "Su recibo", "image/png", "recibo.png", PNG.to_vec()).await?;
        let fresh = app.upload_file(&case_id, &app.admin_token, "text/plain", "nuevo.txt", b"recien subido".to_vec()).await?;
        // The first two were kept two days ago; the last one just now.
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        use ventanilla::store::attachment::entity;
        let old: Vec<String> = [&unsent.body["reference"], &sent["attachments"][0]["url"]]
            .iter()
            .map(|v| v.as_str().unwrap_or_default().trim_start_matches("sha256:").trim_start_matches("/api/v1/attachments/").split('?').next().unwrap_or_default().to_owned())
            .collect();
        entity::Entity::update_many()
            .col_expr(entity::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::days(2)))
            .filter(entity::Column::Hash.is_in(old.clone()))
            .exec(&app.store.db)
            .await?;
        let files = ventanilla::attachments::Attachments::new(app.data_dir(), Default::default(), b"").map_err(anyhow::Error::msg)?;
        let day_ago = chrono::Utc::now() - chrono::Duration::days(1);
        let counted = ventanilla::attachments::collect_garbage(&app.store, &files, day_ago, true).await?;
        anyhow::ensure!(counted.files == 1 && counted.bytes == 13, "{counted:?}");
        anyhow::ensure!(files.read(&old[0]).await.is_ok(), "a dry run deletes nothing");
        let collected = ventanilla::attachments::collect_garbage(&app.store, &files, day_ago, false).await?;
        anyhow::ensure!(collected == counted, "{collected:?}");
        // The unsent upload is gone, on disk and as a reference; the rest stay.
        anyhow::ensure!(files.read(&old[0]).await.is_err());
        let reuse = app.post(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token,
            json!({"attachments": [{"reference": unsent.body["reference"]}]})).await?;
        anyhow::ensure!(reuse.status == 422, "{}", reuse.text);
        anyhow::ensure!(files.read(&old[1]).await? == PNG, "a sent file stays");
        let fresh_hash = fresh.body["reference"].as_str().unwrap_or_default().trim_start_matches("sha256:").to_owned();
        anyhow::ensure!(files.read(&fresh_hash).await.is_ok(), "a recent upload stays");
        let again = ventanilla::attachments::collect_garbage(&app.store, &files, day_ago, false).await?;
        anyhow::ensure!(again.files == 0, "{again:?}");
        Ok(())
    }

    async fn the_server_collects_unsent_files_on_its_own(backend) {
        let app = spawn_app_with(backend, |c| c.attachments.gc_every_secs = 1).await?;
        let unit = app.create_unit("tesoreria").await?;
        let case = app.create_case(&app.admin_token, &unit, "Recibo").await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();
        let unsent = app.upload_file(&case_id, &app.admin_token, "text/plain", "borrador.txt", b"nunca enviado".to_vec()).await?;
        let sent = app.send_file(&case_id, "Su recibo", "image/png", "recibo.png", PNG.to_vec()).await?;
        use sea_orm::{EntityTrait, sea_query::Expr};
        use ventanilla::store::attachment::entity;
        // Both kept two days ago: past the 24 hours an upload may wait.
        entity::Entity::update_many()
            .col_expr(entity::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::days(2)))
            .exec(&app.store.db)
            .await?;
        let hash = |v: &Value| {
            v.as_str().unwrap_or_default().trim_start_matches("sha256:").trim_start_matches("/api/v1/attachments/")
                .split('?').next().unwrap_or_default().to_owned()
        };
        let (unsent, sent) = (hash(&unsent.body["reference"]), hash(&sent["attachments"][0]["url"]));
        let files = ventanilla::attachments::Attachments::new(app.data_dir(), Default::default(), b"").map_err(anyhow::Error::msg)?;
        let gone = eventually(std::time::Duration::from_secs(20), || async { files.read(&unsent).await.is_err().then_some(()) }).await;
        anyhow::ensure!(gone.is_some(), "the unsent upload was never collected");
        anyhow::ensure!(files.read(&sent).await? == PNG, "a sent file stays");
        Ok(())
    }

    async fn files_live_in_an_s3_bucket_when_one_is_configured(backend) {
        let bucket = FakeS3::start("ventanilla", "VENTANILLA-TEST").await?;
        let config = in_bucket(&bucket);
        let app = spawn_app_with(backend, |c| c.attachments = config.clone()).await?;
        let unit = app.create_unit("tesoreria").await?;
        let case = app.create_case(&app.admin_token, &unit, "Recibo").await?;
        let case_id = case["id"].as_str().unwrap_or_default().to_owned();

        // Kept in the bucket under its hash, signed with the access key; nothing on disk.
        let uploaded = app.upload_file(&case_id, &app.admin_token, "image/png", "recibo.png", PNG.to_vec()).await?;
        anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
        let hash = uploaded.body["reference"].as_str().unwrap_or_default().trim_start_matches("sha256:").to_owned();
        let key = format!("kept/{}/{hash}", &hash[..2]);
        anyhow::ensure!(bucket.objects().get(&key).map(Vec::as_slice) == Some(PNG), "{:?}", bucket.objects().keys());
        anyhow::ensure!(!app.data_dir().join("attachments").exists(), "a file was kept on disk too");
        // The same bytes again: found there, not sent twice.
        app.upload_file(&case_id, &app.admin_token, "image/png", "copia.png", PNG.to_vec()).await?;
        let puts = bucket.requests().iter().filter(|r| r.method == "PUT").count();
        anyhow::ensure!(puts == 1, "{:?}", bucket.requests());

        // Agents and providers read it through the server's signed links.
        let url = uploaded.body["url"].as_str().unwrap_or_default().to_owned();
        let served = download(&app, &url).await?;
        anyhow::ensure!(served.status() == 200, "{}", served.status());
        anyhow::ensure!(served.bytes().await?.as_ref() == PNG);

        // Unsent uploads are collected from the bucket too.
        let draft = app.upload_file(&case_id, &app.admin_token, "text/plain", "borrador.txt", b"nunca enviado".to_vec()).await?;
        let draft_hash = draft.body["reference"].as_str().unwrap_or_default().trim_start_matches("sha256:").to_owned();
        app.post_ok(&format!("/api/v1/cases/{case_id}/messages"), &app.admin_token,
            json!({"attachments": [{"reference": uploaded.body["reference"]}]}), 201).await?;
        use sea_orm::{EntityTrait, sea_query::Expr};
        use ventanilla::store::attachment::entity;
        entity::Entity::update_many()
            .col_expr(entity::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::days(2)))
            .exec(&app.store.db)
            .await?;
        let files = ventanilla::attachments::Attachments::new(app.data_dir(), config, b"").map_err(anyhow::Error::msg)?;
        let day_ago = chrono::Utc::now() - chrono::Duration::days(1);
        let collected = ventanilla::attachments::collect_garbage(&app.store, &files, day_ago, false).await?;
        anyhow::ensure!(collected.files == 1, "{collected:?}");
        let left: Vec<String> = bucket.objects().keys().cloned().collect();
        anyhow::ensure!(left == vec![key.clone()], "the sent file stays, the draft goes: {left:?}");
        anyhow::ensure!(!left.iter().any(|k| k.ends_with(&draft_hash)));
        anyhow::ensure!(files.read(&draft_hash).await.is_err() && files.read(&hash).await? == PNG);

        // A request the bucket refuses (a wrong key) is an error, not a lost file.
        let mut wrong = in_bucket(&bucket);
        if let Some(s3) = wrong.s3.as_mut() {
            s3.access_key_id = "SOMEONE-ELSE".into();
        }
        let stranger = ventanilla::attachments::Attachments::new(app.data_dir(), wrong, b"").map_err(anyhow::Error::msg)?;
        anyhow::ensure!(stranger.put(b"otro".to_vec()).await.is_err());
        anyhow::ensure!(bucket.objects().len() == 1);
        Ok(())
    }
}
