//! Start-up: configuration errors name the key; the demo is usable; the admin command works.

use serde_json::{Value, json};
use ventanilla_tests::{Server, binary_path, create_admin_with_binary, login_at};

#[test]
fn bad_config_stops_startup_naming_the_key() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let dir_text = dir.display().to_string();
    let cases: &[(&str, &str, &str)] = &[
        ("VENTANILLA_LISTEN", "not-an-address", "listen"),
        ("VENTANILLA_AUTH__ACCESS_TOKEN_TTL_SECS", "soon", "auth.access_token_ttl_secs"),
        ("VENTANILLA_DATABASE_URL", "mysql://localhost/x", "database_url"),
        ("VENTANILLA_UNKNOWN_SETTING", "1", "unknown_setting"),
    ];
    for (var, value, key) in cases {
        let output = std::process::Command::new(binary_path()?)
            .args(["serve", "--data-dir", &dir_text])
            .env(var, value)
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::ensure!(!output.status.success(), "{var}={value} must stop start-up");
        anyhow::ensure!(stderr.contains(key), "{var}: the error names `{key}`: {stderr}");
    }
    let file = dir.join("bad.toml");
    std::fs::write(&file, "listen = 8080\n")?;
    let output = std::process::Command::new(binary_path()?).args(["serve", "--config"]).arg(&file).output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(!output.status.success() && stderr.contains("listen"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn demo_has_cases_in_every_status() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let dir_text = dir.display().to_string();
    let server = Server::start(&["--demo", "--data-dir", &dir_text], &[]).await?;
    let client = reqwest::Client::new();
    let token = login_at(&client, &server.base, ventanilla::demo::DEMO_ADMIN, ventanilla::demo::DEMO_PASSWORD).await?;
    let cases: Value =
        client.get(format!("{}/api/v1/cases?limit=100", server.base)).bearer_auth(&token).send().await?.json().await?;
    let mut statuses: Vec<String> = cases["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["status"].as_str().map(str::to_owned))
        .collect();
    statuses.sort();
    statuses.dedup();
    anyhow::ensure!(
        statuses == ["assigned", "bot", "closed", "queued", "resolved", "waiting_on_contact"],
        "every status: {statuses:?}"
    );
    let units: Value =
        client.get(format!("{}/api/v1/units", server.base)).bearer_auth(&token).send().await?.json().await?;
    anyhow::ensure!(units["items"].as_array().map_or(0, Vec::len) == 5, "five demo units");
    let agent =
        login_at(&client, &server.base, "juan.pardo@demo.ventanilla.test", ventanilla::demo::DEMO_PASSWORD).await?;
    let mine: Value =
        client.get(format!("{}/api/v1/cases?limit=100", server.base)).bearer_auth(&agent).send().await?.json().await?;
    let n_mine = mine["items"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(n_mine > 0 && n_mine < cases["items"].as_array().map_or(0, Vec::len), "agents see their unit only");
    // The demo's public FAQ answers in the help center, indexed at start-up.
    let results =
        client.get(format!("{}/help/faq/es/search", server.base)).query(&[("q", "solicito una beca")]).send().await?;
    anyhow::ensure!(results.status() == 200, "help center: {}", results.status());
    anyhow::ensure!(results.text().await?.contains("Becas de excelencia académica"), "the demo FAQ is searchable");
    drop(server);
    // A second start with --demo keeps the data and adds nothing.
    let again = Server::start(&["--demo", "--data-dir", &dir_text], &[]).await?;
    let token = login_at(&client, &again.base, ventanilla::demo::DEMO_ADMIN, ventanilla::demo::DEMO_PASSWORD).await?;
    let units: Value =
        client.get(format!("{}/api/v1/units", again.base)).bearer_auth(&token).send().await?.json().await?;
    anyhow::ensure!(units["items"].as_array().map_or(0, Vec::len) == 5);
    Ok(())
}

#[tokio::test]
async fn demo_stays_on_this_machine_and_off_real_data() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let dir_text = dir.display().to_string();
    // Its passwords are public: not on an address other machines reach.
    let output = std::process::Command::new(binary_path()?)
        .args(["serve", "--demo", "--data-dir", &dir_text, "--listen", "0.0.0.0:0"])
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(!output.status.success() && stderr.contains("--demo-on-public-address"), "{stderr}");
    // A database with accounts of its own gets no demo institution.
    let envs = [("VENTANILLA_DATA_DIR", dir_text.as_str())];
    create_admin_with_binary(&envs, "jefa@universidad.test", "una clave bien larga")?;
    let server = Server::start(&["--demo"], &envs).await?;
    let client = reqwest::Client::new();
    let demo = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"email": ventanilla::demo::DEMO_ADMIN, "password": ventanilla::demo::DEMO_PASSWORD}))
        .send()
        .await?;
    anyhow::ensure!(demo.status() == 401, "no demo admin: {}", demo.status());
    let token = login_at(&client, &server.base, "jefa@universidad.test", "una clave bien larga").await?;
    let units: Value =
        client.get(format!("{}/api/v1/units", server.base)).bearer_auth(&token).send().await?.json().await?;
    anyhow::ensure!(units["items"].as_array().is_some_and(Vec::is_empty), "no demo units: {units}");
    Ok(())
}

#[tokio::test]
async fn admin_create_then_sign_in() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let dir_text = dir.display().to_string();
    let envs = [("VENTANILLA_DATA_DIR", dir_text.as_str())];
    create_admin_with_binary(&envs, "jefa@universidad.test", "una clave bien larga")?;
    let duplicate = create_admin_with_binary(&envs, "jefa@universidad.test", "una clave bien larga");
    anyhow::ensure!(duplicate.is_err(), "the same e-mail twice is refused");
    let server = Server::start(&[], &envs).await?;
    login_at(&reqwest::Client::new(), &server.base, "jefa@universidad.test", "una clave bien larga").await?;
    Ok(())
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ventanilla-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[test]
fn plugin_run_prints_the_actions() -> anyhow::Result<()> {
    let wasm = ventanilla_tests::plugin_wasm("example-bot")?;
    let event = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/example-bot/event.json");
    let output = std::process::Command::new(binary_path()?)
        .args(["plugin", "run"])
        .arg(&wasm)
        .arg("--event")
        .arg(&event)
        .output()?;
    anyhow::ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout)?;
    anyhow::ensure!(printed["world"] == "bot" && printed["call"] == "event", "{printed}");
    let hand_off = printed["result"]["ok"].as_array().into_iter().flatten().find_map(|a| a.get("HandOff"));
    anyhow::ensure!(hand_off.is_some_and(|h| h["unit_slug"] == "mesa-de-ayuda"), "{printed}");
    let not_a_plugin = std::process::Command::new(binary_path()?)
        .args(["plugin", "run"])
        .arg(&event)
        .arg("--event")
        .arg(&event)
        .output()?;
    anyhow::ensure!(!not_a_plugin.status.success(), "a JSON file is not a component");
    anyhow::ensure!(String::from_utf8_lossy(&not_a_plugin.stderr).contains("not a WebAssembly component"));
    Ok(())
}

/// Runs `ventanilla plugin run` on the test connector with `args`; the
/// printed report, or the error it printed.
fn run_connector(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<Result<Value, String>> {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/hostile-connector/plugin.toml");
    let output = std::process::Command::new(binary_path()?)
        .current_dir(dir)
        .args(["plugin", "run"])
        .arg(ventanilla_tests::plugin_wasm("hostile-connector")?)
        .arg("--manifest")
        .arg(fixture)
        .args(args)
        .output()?;
    if !output.status.success() {
        return Ok(Err(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    Ok(Ok(serde_json::from_slice(&output.stdout)?))
}

#[test]
fn plugin_run_drives_a_connector_without_a_server() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let webhook = json!({"headers": {"X-Fake-Signature": "{hmac-sha256-hex:app_secret}"},
        "body": {"messages": [{"id": "m1", "from": "+573005550199", "name": "Ana", "text": "Hola"}]}});
    std::fs::write(dir.join("req.json"), webhook.to_string())?;
    // A signed webhook is parsed into the message the host would store.
    let parsed = run_connector(&dir, &["--request", "req.json", "--secret", "app_secret=s3cret-app"])?
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(parsed["world"] == "connector" && parsed["call"] == "verify-and-parse", "{parsed}");
    let message = &parsed["result"]["ok"]["messages"][0];
    anyhow::ensure!(message["body"] == "Hola" && message["sender"] == "+573005550199", "{parsed}");
    anyhow::ensure!(parsed["result"]["ok"]["response_body"] == r#"{"ok":true}"#, "{parsed}");
    // Signed with another secret, it is refused as the server would refuse it.
    let mut forged = webhook.clone();
    forged["headers"]["X-Fake-Signature"] = json!("{hmac-sha256-hex:other}");
    std::fs::write(dir.join("forged.json"), forged.to_string())?;
    let forged = run_connector(
        &dir,
        &["--request", "forged.json", "--secret", "app_secret=s3cret-app", "--secret", "other=guess"],
    )?
    .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(forged["result"]["error"].get("Unauthorized").is_some(), "{forged}");
    // A send goes out with the credential added by the host, answered from a file.
    std::fs::write(dir.join("msg.json"), json!({"recipient": "+573005550199", "body": "Buenos días"}).to_string())?;
    std::fs::write(dir.join("replies.json"), json!([{"status": 200, "body": {"id": "prov-77"}}]).to_string())?;
    let settings = json!({"send_url": "https://localhost/messages"}).to_string();
    let args = [
        "--send",
        "msg.json",
        "--settings",
        &settings,
        "--http-replies",
        "replies.json",
        "--secret",
        "api_token=tok-SECRET-77",
    ];
    let sent = run_connector(&dir, &args)?.map_err(anyhow::Error::msg)?;
    anyhow::ensure!(sent["result"]["ok"]["provider_message_id"] == "prov-77", "{sent}");
    let asked = &sent["http"][0];
    anyhow::ensure!(
        asked["url"] == "https://localhost/messages"
            && asked["body"].as_str().is_some_and(|b| b.contains("Buenos días")),
        "{sent}"
    );
    anyhow::ensure!(asked["credential"] == "authorization: Bearer ‹api_token›", "{sent}");
    anyhow::ensure!(!sent.to_string().contains("tok-SECRET-77"), "a secret was printed: {sent}");
    // A provider that fails says whether a retry may help.
    std::fs::write(dir.join("down.json"), json!([{"status": 503}]).to_string())?;
    let args =
        ["--send", "msg.json", "--settings", &settings, "--http-replies", "down.json", "--secret", "api_token=t0k3n"];
    let down = run_connector(&dir, &args)?.map_err(anyhow::Error::msg)?;
    anyhow::ensure!(down["result"]["error"]["retryable"] == true, "{down}");
    // Where a file is, with the host's credential named.
    let media = json!({"media_auth": true}).to_string();
    let located = run_connector(&dir, &["--locate-media", "https://localhost/media/1.jpg", "--settings", &media])?
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(located["result"]["ok"]["url"] == "https://localhost/media/1.jpg", "{located}");
    anyhow::ensure!(located["result"]["ok"]["credential"] == "authorization: Bearer ‹api_token›", "{located}");
    // Asked for what its world does not do, it says what it is and what it takes.
    let wrong = run_connector(&dir, &["--event", "req.json"])?;
    let message = wrong.err().unwrap_or_default();
    anyhow::ensure!(message.contains("connector plugin") && message.contains("--request"), "{message}");
    // A bot asked to parse a webhook says the same of itself.
    let output = std::process::Command::new(binary_path()?)
        .current_dir(&dir)
        .args(["plugin", "run"])
        .arg(ventanilla_tests::plugin_wasm("example-bot")?)
        .args(["--request", "req.json"])
        .output()?;
    let message = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        !output.status.success() && message.contains("bot plugin") && message.contains("--event"),
        "{message}"
    );
    Ok(())
}

#[test]
fn plugin_new_makes_a_connector_that_passes_its_own_tests_through_the_host() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let made = std::process::Command::new(binary_path()?)
        .args(["plugin", "new", "connector", "acme-chat", "--dir"])
        .arg(&dir)
        .output()?;
    anyhow::ensure!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let root = dir.join("acme-chat");
    // Again is refused, not overwritten.
    let again = std::process::Command::new(binary_path()?)
        .args(["plugin", "new", "connector", "acme-chat", "--dir"])
        .arg(&dir)
        .output()?;
    anyhow::ensure!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Its own tests build the component and run it through this binary.
    let target = binary_path()?.parent().and_then(|p| p.parent()).map(std::path::Path::to_path_buf);
    let tested = std::process::Command::new(env!("CARGO"))
        .args(["test", "--offline"])
        .current_dir(&root)
        .env("VENTANILLA_BIN", binary_path()?)
        .env("CARGO_TARGET_DIR", target.unwrap_or_else(|| root.join("target")))
        .output()?;
    let printed = String::from_utf8_lossy(&tested.stdout);
    anyhow::ensure!(tested.status.success(), "{printed}\n{}", String::from_utf8_lossy(&tested.stderr));
    anyhow::ensure!(printed.contains("test result: ok. 4 passed"), "{printed}");
    Ok(())
}

/// Lays out `example-bot` as a bundled plugin at `version` in `dir`.
fn bundle_example_bot(dir: &std::path::Path, version: &str) -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugin = dir.join("example-bot");
    std::fs::create_dir_all(&plugin)?;
    let manifest = std::fs::read_to_string(root.join("plugins/example-bot/plugin.toml"))?
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""));
    std::fs::write(plugin.join("plugin.toml"), manifest)?;
    std::fs::copy(ventanilla_tests::plugin_wasm("example-bot")?, plugin.join("plugin.wasm"))?;
    Ok(())
}

#[tokio::test]
async fn bundled_plugins_are_installed_and_upgraded_at_start() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let data = dir.join("data").display().to_string();
    let bundled = dir.join("bundled");
    bundle_example_bot(&bundled, "1.0.0")?;
    let bundled_text = bundled.display().to_string();
    let client = reqwest::Client::new();
    let installs = |base: String, token: String| {
        let client = client.clone();
        async move {
            let reply: Value =
                client.get(format!("{base}/api/v1/plugin-installs")).bearer_auth(&token).send().await?.json().await?;
            anyhow::Ok(reply["items"].as_array().cloned().unwrap_or_default())
        }
    };
    {
        let server = Server::start(&["--demo", "--data-dir", &data, "--bundled-plugins", &bundled_text], &[]).await?;
        let token =
            login_at(&client, &server.base, ventanilla::demo::DEMO_ADMIN, ventanilla::demo::DEMO_PASSWORD).await?;
        let items = installs(server.base.clone(), token).await?;
        anyhow::ensure!(items.len() == 1, "{items:?}");
        let install = &items[0];
        // Its settings need a hand-off unit, so it waits disabled for an admin.
        anyhow::ensure!(
            install["plugin_id"] == "example-bot" && install["version"] == "1.0.0" && install["enabled"] == false,
            "{install}"
        );
        anyhow::ensure!(install["effective_grants"]["kv"] == true, "granted what it asks for: {install}");
    }
    bundle_example_bot(&bundled, "1.1.0")?;
    let server = Server::start(&["--data-dir", &data, "--bundled-plugins", &bundled_text], &[]).await?;
    let token = login_at(&client, &server.base, ventanilla::demo::DEMO_ADMIN, ventanilla::demo::DEMO_PASSWORD).await?;
    let items = installs(server.base.clone(), token).await?;
    anyhow::ensure!(
        items.len() == 1 && items[0]["version"] == "1.1.0" && items[0]["previous_version"] == "1.0.0",
        "{items:?}"
    );
    Ok(())
}
