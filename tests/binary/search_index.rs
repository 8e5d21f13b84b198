//! The search index is derived data: thrown away or left behind, it is
//! rebuilt from the database at start-up or by `ventanilla reindex`.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{Backend, Server, TestDb, binary_path, create_admin_with_binary, eventually, login_at};

const EMAIL: &str = "admin@indice.test";
const PASSWORD: &str = "clave del indice 123";

async fn hits(client: &reqwest::Client, base: &str, kb: &str, q: &str) -> anyhow::Result<usize> {
    let body: Value = client
        .get(format!("{base}/api/v1/knowledge-bases/{kb}/search"))
        .query(&[("q", q)])
        .send()
        .await?
        .json()
        .await?;
    Ok(body["hits"].as_array().map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_stale_index_is_rebuilt() -> anyhow::Result<()> {
    let db = TestDb::new(Backend::Sqlite).await?;
    let dir = db.dir.display().to_string();
    let envs = [("VENTANILLA_DATA_DIR", dir.as_str()), ("VENTANILLA_DATABASE_URL", db.url.as_str())];
    create_admin_with_binary(&envs, EMAIL, PASSWORD)?;
    let client = reqwest::Client::new();
    let mut server = Server::start(&[], &envs).await?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let post =
        |path: &str, body: Value| client.post(format!("{}{path}", server.base)).bearer_auth(&token).json(&body).send();
    let kb: Value = post("/api/v1/knowledge-bases", json!({"name": "FAQ", "slug": "faq"})).await?.json().await?;
    let kb = kb["id"].as_str().unwrap_or_default().to_owned();
    let article = json!({"title": "Horario de la biblioteca", "body": "Abre a las 7.", "status": "published"});
    post(&format!("/api/v1/knowledge-bases/{kb}/articles"), article).await?.error_for_status()?;
    let indexed = eventually(Duration::from_secs(5), || async {
        (hits(&client, &server.base, &kb, "biblioteca").await.ok()? == 1).then_some(())
    })
    .await;
    anyhow::ensure!(indexed.is_some(), "the article is searchable");
    server.kill();

    // Lost: the index folder is gone; start-up rebuilds it.
    std::fs::remove_dir_all(db.dir.join("search"))?;
    let mut server = Server::start(&[], &envs).await?;
    anyhow::ensure!(hits(&client, &server.base, &kb, "biblioteca").await? == 1, "rebuilt at start-up");
    server.kill();

    // Stale: an article published while the index was elsewhere.
    std::fs::rename(db.dir.join("search"), db.dir.join("search-old"))?;
    let mut server = Server::start(&[], &envs).await?;
    let token = login_at(&client, &server.base, EMAIL, PASSWORD).await?;
    let article = json!({"title": "Pago de matrícula", "body": "Por PSE.", "status": "published"});
    client
        .post(format!("{}/api/v1/knowledge-bases/{kb}/articles", server.base))
        .bearer_auth(&token)
        .json(&article)
        .send()
        .await?
        .error_for_status()?;
    eventually(Duration::from_secs(5), || async {
        (hits(&client, &server.base, &kb, "matricula").await.ok()? == 1).then_some(())
    })
    .await;
    server.kill();
    std::fs::remove_dir_all(db.dir.join("search"))?;
    std::fs::rename(db.dir.join("search-old"), db.dir.join("search"))?;
    let server = Server::start(&[], &envs).await?;
    anyhow::ensure!(
        hits(&client, &server.base, &kb, "matricula").await? == 1,
        "a stale index is caught up at start-up"
    );
    drop(server);

    // `ventanilla reindex` by hand, with the server stopped.
    std::fs::remove_dir_all(db.dir.join("search"))?;
    let out = std::process::Command::new(binary_path()?).arg("reindex").envs(envs).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success() && stdout.contains("2 articles"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
