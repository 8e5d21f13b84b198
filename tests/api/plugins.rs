//! The plugin registry over the API: uploads are checked before they are
//! stored, versions are listed and deleted, and only admins may do any of it.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use ventanilla_tests::{TestApp, on_both, plugin_wasm, set_secret, spawn_app, upload_plugin};

fn manifest(id: &str, version: &str) -> String {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/example-bot/plugin.toml");
    std::fs::read_to_string(example)
        .unwrap_or_default()
        .replace("id = \"example-bot\"", &format!("id = \"{id}\""))
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""))
}

async fn upload(
    app: &TestApp,
    token: &str,
    manifest: Option<String>,
    component: Option<Vec<u8>>,
) -> anyhow::Result<ventanilla_tests::Reply> {
    let mut form = Form::new();
    if let Some(manifest) = manifest {
        form = form.part("manifest", Part::text(manifest).file_name("plugin.toml"));
    }
    if let Some(component) = component {
        form = form.part("component", Part::bytes(component).file_name("plugin.wasm"));
    }
    let response = app.client.post(app.url("/api/v1/plugins")).bearer_auth(token).multipart(form).send().await?;
    TestApp::reply(response).await
}

/// What an invalid upload sends, and the status and field it must get back.
type BadUpload = (&'static str, Option<String>, Option<Vec<u8>>, u16, &'static str);

on_both! {
    async fn a_connector_waits_for_its_secrets_before_it_runs(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let uploaded = upload_plugin(&app, "hostile-connector", "1.0.0").await?;
        anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
        let body = |units: Value| json!({"plugin_id": "hostile-connector", "name": "Fake", "settings": {},
            "grants": {"secrets": ["app_secret", "api_token"]}, "units": units});
        // A slug where an id goes says where ids come from.
        let by_slug = app.post("/api/v1/plugin-installs", &app.admin_token, body(json!(["admisiones"]))).await?;
        anyhow::ensure!(by_slug.status == 422 && by_slug.body["errors"][0]["field"] == "units[0]", "{}", by_slug.text);
        let message = by_slug.body["errors"][0]["message"].as_str().unwrap_or_default();
        anyhow::ensure!(message.contains("GET /api/v1/units"), "{message}");
        // A new install waits for its secrets, disabled, and says which.
        let install = app.post_ok("/api/v1/plugin-installs", &app.admin_token, body(json!([unit])), 201).await?;
        let id = install["id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(install["status"] == "setup" && install["enabled"] == false, "{install}");
        let missing: Vec<&str> = install["missing_setup"].as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).collect();
        anyhow::ensure!(missing == ["app_secret", "api_token"], "{install}");
        anyhow::ensure!(install["missing_setup"][0]["how"] == format!("PUT /api/v1/plugin-installs/{id}/secrets/app_secret"), "{install}");
        // Its webhooks are not taken meanwhile.
        let early = app.client.post(app.url(&format!("/api/v1/webhooks/{id}"))).body("{}").send().await?;
        anyhow::ensure!(early.status() != 200, "{}", early.status());
        set_secret(&app, &id, "app_secret", "s1").await?;
        let half = app.get(&format!("/api/v1/plugin-installs/{id}"), &app.admin_token).await?;
        anyhow::ensure!(half.body["status"] == "setup" && half.body["missing_setup"].as_array().map(Vec::len) == Some(1), "{}", half.text);
        // The last one enables it.
        set_secret(&app, &id, "api_token", "s2").await?;
        let ready = app.get(&format!("/api/v1/plugin-installs/{id}"), &app.admin_token).await?;
        anyhow::ensure!(ready.body["status"] == "active" && ready.body["enabled"] == true, "{}", ready.text);
        anyhow::ensure!(ready.body["missing_setup"] == json!([]), "{}", ready.text);
        // One an admin turned off before it was ready stays off.
        let other = app.post_ok("/api/v1/plugin-installs", &app.admin_token, body(json!([unit])), 201).await?;
        let other = other["id"].as_str().unwrap_or_default().to_owned();
        app.patch(&format!("/api/v1/plugin-installs/{other}"), &app.admin_token, json!({"enabled": false})).await?;
        set_secret(&app, &other, "app_secret", "s1").await?;
        set_secret(&app, &other, "api_token", "s2").await?;
        let off = app.get(&format!("/api/v1/plugin-installs/{other}"), &app.admin_token).await?;
        anyhow::ensure!(off.body["status"] == "active" && off.body["enabled"] == false, "{}", off.text);
        Ok(())
    }

    async fn upload_list_and_delete(backend) {
        let app = spawn_app(backend).await?;
        let wasm = std::fs::read(plugin_wasm("example-bot")?)?;
        let first = upload(&app, &app.admin_token, Some(manifest("faq-bot", "1.0.0")), Some(wasm.clone())).await?;
        anyhow::ensure!(first.status == 201 && first.body["world"] == "bot" && first.body["sha256"].as_str().is_some_and(|h| h.len() == 64), "{}", first.text);
        let second = upload(&app, &app.admin_token, Some(manifest("faq-bot", "1.1.0")), Some(wasm.clone())).await?;
        anyhow::ensure!(second.status == 201, "{}", second.text);
        let again = upload(&app, &app.admin_token, Some(manifest("faq-bot", "1.1.0")), Some(wasm)).await?;
        anyhow::ensure!(again.status == 409 && again.body["errors"][0]["field"] == "version", "{}", again.text);

        let listed = app.get("/api/v1/plugins", &app.admin_token).await?;
        let plugin = &listed.body["items"][0];
        anyhow::ensure!(plugin["id"] == "faq-bot" && plugin["latest_version"] == "1.1.0" && plugin["versions"].as_array().map_or(0, Vec::len) == 2, "{}", listed.text);
        let one = app.get("/api/v1/plugins/faq-bot", &app.admin_token).await?;
        anyhow::ensure!(one.status == 200 && one.body["versions"][0]["version"] == "1.0.0");

        let deleted = app.call(reqwest::Method::DELETE, "/api/v1/plugins/faq-bot/versions/1.0.0", Some(&app.admin_token), None).await?;
        anyhow::ensure!(deleted.status == 204);
        let after = app.get("/api/v1/plugins/faq-bot", &app.admin_token).await?;
        anyhow::ensure!(after.body["versions"].as_array().map_or(0, Vec::len) == 1);
        let audit = app.get("/api/v1/audit-events?action=plugin.uploaded", &app.admin_token).await?;
        anyhow::ensure!(audit.body["items"].as_array().map_or(0, Vec::len) == 2, "{}", audit.text);
        Ok(())
    }

    async fn invalid_uploads_are_clear_4xx(backend) {
        let app = spawn_app(backend).await?;
        let wasm = std::fs::read(plugin_wasm("example-bot")?)?;
        let core_module = b"\0asm\x01\0\0\0".to_vec();
        let cases: Vec<BadUpload> = vec![
            ("not wasm", Some(manifest("x", "1.0.0")), Some(b"MZ not a component".to_vec()), 422, "component"),
            ("a core module", Some(manifest("x", "1.0.0")), Some(core_module), 422, "component"),
            ("missing component", Some(manifest("x", "1.0.0")), None, 422, "component"),
            ("missing manifest", None, Some(wasm.clone()), 422, "manifest"),
            ("bad manifest", Some("this is not toml".into()), Some(wasm.clone()), 422, "manifest.plugin.toml"),
            ("bad version", Some(manifest("x", "one")), Some(wasm.clone()), 422, "manifest.version"),
            ("unsupported wit", Some(manifest("x", "1.0.0").replace("wit = \"1.0.0\"", "wit = \"9.0.0\"")), Some(wasm.clone()), 422, "manifest.wit"),
            ("connector without channel", Some(manifest("x", "1.0.0").replace("world = \"bot\"", "world = \"connector\"").replace("kb_search = true", "")), Some(wasm.clone()), 422, "manifest.channel"),
            ("wrong world", Some(manifest("x", "1.0.0").replace("world = \"bot\"", "world = \"protocol\"").replace("kb_search = true", "")), Some(wasm.clone()), 422, "component"),
        ];
        for (what, manifest, component, status, field) in cases {
            let reply = upload(&app, &app.admin_token, manifest, component).await?;
            let named = reply.body["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["field"] == field));
            anyhow::ensure!(reply.status.as_u16() == status && named, "{what}: {} {}", reply.status, reply.text);
        }
        let json = app.post("/api/v1/plugins", &app.admin_token, serde_json::json!({"wasm": "AAAA"})).await?;
        anyhow::ensure!(json.status == 400, "JSON instead of multipart: {}", json.text);
        let listed = app.get("/api/v1/plugins", &app.admin_token).await?;
        anyhow::ensure!(listed.body["items"] == Value::Array(vec![]), "nothing was stored: {}", listed.text);
        Ok(())
    }

    async fn install_configure_upgrade_and_roll_back(backend) {
        let app = spawn_app(backend).await?;
        let wasm = std::fs::read(plugin_wasm("example-bot")?)?;
        for version in ["1.0.0", "1.1.0"] {
            let reply = upload(&app, &app.admin_token, Some(manifest("faq-bot", version)), Some(wasm.clone())).await?;
            anyhow::ensure!(reply.status == 201, "{}", reply.text);
        }
        // 2.0.0 needs a setting the install does not have.
        let strict = manifest("faq-bot", "2.0.0").replace("required = [\"handoff_unit\"]", "required = [\"handoff_unit\", \"kb\"]");
        anyhow::ensure!(upload(&app, &app.admin_token, Some(strict), Some(wasm.clone())).await?.status == 201);

        let refused = [
            (json!({"plugin_id": "faq-bot", "version": "1.0.0", "name": "Bot", "settings": {}}), 422, "settings"),
            (json!({"plugin_id": "faq-bot", "version": "1.0.0", "name": "Bot", "settings": {"handoff_unit": 7}}), 422, "settings.handoff_unit"),
            (json!({"plugin_id": "faq-bot", "version": "1.0.0", "name": "Bot", "settings": {"handoff_unit": "mesa"},
                    "grants": {"http_hosts": ["evil.example.com"]}}), 422, "grants.http_hosts[0]"),
            (json!({"plugin_id": "no-such", "name": "Bot"}), 409, "plugin_id"),
            (json!({"plugin_id": "faq-bot", "version": "9.9.9", "name": "Bot"}), 409, "version"),
        ];
        for (body, status, field) in refused {
            let reply = app.post("/api/v1/plugin-installs", &app.admin_token, body).await?;
            let named = reply.body["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["field"] == field));
            anyhow::ensure!(reply.status.as_u16() == status && named, "{field}: {} {}", reply.status, reply.text);
        }

        let install = app.post_ok("/api/v1/plugin-installs", &app.admin_token, json!({
            "plugin_id": "faq-bot", "version": "1.0.0", "name": "Bot de admisiones",
            "settings": {"handoff_unit": "admisiones"}, "grants": {"kv": true}}), 201).await?;
        anyhow::ensure!(install["effective_grants"]["kv"] == true && install["effective_grants"]["kb_search"] == false, "{install}");
        let path = format!("/api/v1/plugin-installs/{}", install["id"].as_str().unwrap_or_default());

        let disabled = app.patch(&path, &app.admin_token, json!({"enabled": false})).await?;
        anyhow::ensure!(disabled.body["enabled"] == false, "{}", disabled.text);
        let bad_settings = app.patch(&path, &app.admin_token, json!({"settings": {"handoff_unit": "x", "colour": "red"}})).await?;
        anyhow::ensure!(bad_settings.status == 422, "{}", bad_settings.text);

        let no_rollback = app.post(&format!("{path}/rollback"), &app.admin_token, json!({})).await?;
        anyhow::ensure!(no_rollback.status == 409, "nothing to roll back to yet: {}", no_rollback.text);
        let upgraded = app.post_ok(&format!("{path}/upgrade"), &app.admin_token, json!({"version": "1.1.0"}), 200).await?;
        anyhow::ensure!(upgraded["version"] == "1.1.0" && upgraded["previous_version"] == "1.0.0", "{upgraded}");
        let too_strict = app.post(&format!("{path}/upgrade"), &app.admin_token, json!({"version": "2.0.0"})).await?;
        anyhow::ensure!(too_strict.status == 422 && too_strict.body["errors"][0]["field"] == "settings", "{}", too_strict.text);
        anyhow::ensure!(app.get(&path, &app.admin_token).await?.body["version"] == "1.1.0", "a refused upgrade changes nothing");
        let rolled = app.post_ok(&format!("{path}/rollback"), &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(rolled["version"] == "1.0.0" && rolled["previous_version"] == "1.1.0", "{rolled}");

        let in_use = app.call(reqwest::Method::DELETE, "/api/v1/plugins/faq-bot/versions/1.0.0", Some(&app.admin_token), None).await?;
        anyhow::ensure!(in_use.status == 409, "a version in use stays: {}", in_use.text);
        let removed = app.call(reqwest::Method::DELETE, &path, Some(&app.admin_token), None).await?;
        anyhow::ensure!(removed.status == 204);
        let freed = app.call(reqwest::Method::DELETE, "/api/v1/plugins/faq-bot/versions/1.0.0", Some(&app.admin_token), None).await?;
        anyhow::ensure!(freed.status == 204, "{}", freed.text);
        let audit = app.get("/api/v1/audit-events?action=plugin_install.version_changed", &app.admin_token).await?;
        anyhow::ensure!(audit.body["items"].as_array().map_or(0, Vec::len) == 2, "upgrade and rollback are audited");
        Ok(())
    }

    async fn a_version_uploaded_again_runs_its_new_content(backend) {
        let app = spawn_app(backend).await?;
        let manifest = "id = \"swap\"\nname = \"Swap\"\nversion = \"1.0.0\"\nworld = \"bot\"\nwit = \"1.0.0\"\n\
            [capabilities]\nkv = true\n[settings_schema]\ntype = \"object\"\n";
        let settings = json!({"handoff_unit": "mesa", "greeting": "Soy el ejemplo"});
        let run_once = |crate_name: &'static str| {
            let app = &app;
            let settings = settings.clone();
            async move {
                let uploaded = upload(app, &app.admin_token, Some(manifest.into()), Some(std::fs::read(plugin_wasm(crate_name)?)?)).await?;
                anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
                let install = app.post_ok("/api/v1/plugin-installs", &app.admin_token,
                    json!({"plugin_id": "swap", "name": crate_name, "settings": settings, "grants": {"kv": true}}), 201).await?;
                let path = format!("/api/v1/plugin-installs/{}", install["id"].as_str().unwrap_or_default());
                let run = app.post_ok(&format!("{path}/test"), &app.admin_token, json!({"message": "hola"}), 200).await?;
                anyhow::ensure!(app.call(reqwest::Method::DELETE, &path, Some(&app.admin_token), None).await?.status == 204);
                let deleted = app.call(reqwest::Method::DELETE, "/api/v1/plugins/swap/versions/1.0.0", Some(&app.admin_token), None).await?;
                anyhow::ensure!(deleted.status == 204, "{}", deleted.text);
                Ok(run["actions"][0]["Reply"].clone())
            }
        };
        // The same plugin id and version, deleted and uploaded with other
        // content: the instance runs the new component, not what it cached.
        anyhow::ensure!(run_once("example-bot").await? == "Soy el ejemplo");
        anyhow::ensure!(run_once("hostile-bot").await? == "hola #1");
        Ok(())
    }

    async fn dry_runs_count_towards_health_and_suspension(backend) {
        let app = spawn_app(backend).await?;
        let hostile = "id = \"hostile-bot\"\nname = \"Hostile\"\nversion = \"1.0.0\"\nworld = \"bot\"\nwit = \"1.0.0\"\n\
            [capabilities]\nkv = true\n[settings_schema]\ntype = \"object\"\n[settings_schema.properties.mode]\ntype = \"string\"\n";
        let wasm = std::fs::read(plugin_wasm("hostile-bot")?)?;
        let uploaded = upload(&app, &app.admin_token, Some(hostile.into()), Some(wasm)).await?;
        anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
        let install = |mode: &str| {
            app.post_ok("/api/v1/plugin-installs", &app.admin_token,
                json!({"plugin_id": "hostile-bot", "name": mode, "settings": {"mode": mode}, "grants": {"kv": true}}), 201)
        };
        let calm = install("echo").await?;
        let calm_path = format!("/api/v1/plugin-installs/{}", calm["id"].as_str().unwrap_or_default());
        for n in 1..=2 {
            let run = app.post_ok(&format!("{calm_path}/test"), &app.admin_token, json!({"message": "hola"}), 200).await?;
            anyhow::ensure!(run["ok"] == true && run["actions"][0]["Reply"] == format!("hola #{n}"), "state lives in the install's kv: {run}");
        }

        let spinning = install("loop").await?;
        let path = format!("/api/v1/plugin-installs/{}", spinning["id"].as_str().unwrap_or_default());
        for attempt in 1..=5 {
            let test_path = format!("{path}/test");
            let (run, health) = tokio::join!(
                app.post_ok(&test_path, &app.admin_token, json!({"message": "hola"}), 200),
                app.client.get(app.url("/healthz")).send()
            );
            let run = run?;
            anyhow::ensure!(health?.status() == 200, "the server keeps serving while a plugin spins");
            anyhow::ensure!(run["ok"] == false && run["error"]["kind"] == "deadline", "{run}");
            let expected = if attempt < 5 { "active" } else { "suspended" };
            anyhow::ensure!(run["status"] == expected, "attempt {attempt}: {run}");
        }
        let refused = app.post(&format!("{path}/test"), &app.admin_token, json!({"message": "hola"})).await?;
        anyhow::ensure!(refused.status == 409, "a suspended install does not run: {}", refused.text);
        let health = app.get(&format!("{path}/health"), &app.admin_token).await?;
        anyhow::ensure!(
            health.body["status"] == "suspended" && health.body["calls"] == 5 && health.body["failures"] == 5
                && health.body["suspended_reason"].as_str().is_some_and(|r| r.contains("5 consecutive failures"))
                && health.body["p99_ms"].as_f64().is_some(),
            "{}", health.text
        );
        let other = app.post_ok(&format!("{calm_path}/test"), &app.admin_token, json!({"message": "sigo"}), 200).await?;
        anyhow::ensure!(other["ok"] == true, "other installs are unaffected: {other}");
        let lifted = app.patch(&path, &app.admin_token, json!({"enabled": true})).await?;
        anyhow::ensure!(lifted.body["status"] == "active" && lifted.body["consecutive_failures"] == 0, "{}", lifted.text);
        let events = app.get("/api/v1/audit-events?action=plugin_install.suspended", &app.admin_token).await?;
        anyhow::ensure!(events.body["items"].as_array().map_or(0, Vec::len) == 1, "{}", events.text);
        Ok(())
    }

    async fn only_admins_manage_plugins(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("u").await?;
        let (_, supervisor) = app.create_member("s@test.example", &unit, "supervisor").await?;
        let token = app.create_token(&["units:write", "users:write"]).await?;
        let wasm = std::fs::read(plugin_wasm("example-bot")?)?;
        for who in [&supervisor, &token] {
            let reply = upload(&app, who, Some(manifest("x", "1.0.0")), Some(wasm.clone())).await?;
            anyhow::ensure!(reply.status == 403, "{}", reply.text);
            anyhow::ensure!(app.get("/api/v1/plugins", who).await?.status == 403);
            anyhow::ensure!(app.get("/api/v1/plugin-installs", who).await?.status == 403);
        }
        let anonymous = app.client.get(app.url("/api/v1/plugins")).send().await?;
        anyhow::ensure!(anonymous.status() == 401);
        Ok(())
    }
}
