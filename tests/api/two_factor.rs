//! Two-factor sign-in (TOTP and recovery codes), admins held back until
//! enrolled, and sessions: listed, ended one by one or everywhere.

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla::two_factor::{code_at, secret_from_text, step_at};
use ventanilla_tests::{ADMIN_PASSWORD, PASSWORD, TestApp, on_both, spawn_app, spawn_app_with};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Turns two-factor sign-in on for the token's account; returns the secret,
/// the step whose code confirmed it, and the recovery codes.
async fn enrol(app: &TestApp, token: &str, password: &str) -> anyhow::Result<(Vec<u8>, i64, Vec<String>)> {
    let started = app.post_ok("/api/v1/auth/two-factor", token, json!({"password": password}), 201).await?;
    let secret = secret_from_text(started["secret"].as_str().unwrap_or_default())
        .ok_or_else(|| anyhow::anyhow!("no base32 secret: {started}"))?;
    let step = step_at(now());
    let confirmed =
        app.post_ok("/api/v1/auth/two-factor/confirm", token, json!({"code": code(&secret, step)}), 200).await?;
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok((secret, step, codes))
}

fn code(secret: &[u8], step: i64) -> String {
    format!("{:06}", code_at(secret, step))
}

async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    code: Option<&str>,
) -> anyhow::Result<ventanilla_tests::Reply> {
    let mut body = json!({"email": email, "password": password});
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    app.call(Method::POST, "/api/v1/auth/login", None, Some(&body)).await
}

async fn audit(app: &TestApp, action: &str, target: &str) -> anyhow::Result<Vec<Value>> {
    let reply = app.get(&format!("/api/v1/audit-events?action={action}&target_id={target}"), &app.admin_token).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
}

on_both! {
    async fn totp_enrolment_sign_in_and_recovery_codes(backend) {
        // Many sign-ins of one account from one address: not what the throttle is about here.
        let app = spawn_app_with(backend, |c| c.auth.login_attempts_per_account = 100).await?;
        let unit = app.create_unit("bienestar").await?;
        let (ana, token) = app.create_member("ana@test.example", &unit, "agent").await?;

        // Enrolment needs the password again, and the app's code to take effect.
        let wrong = app.post("/api/v1/auth/two-factor", &token, json!({"password": "not hers"})).await?;
        anyhow::ensure!(wrong.status == 422 && wrong.body["errors"][0]["field"] == "password", "{}", wrong.text);
        let started = app.post_ok("/api/v1/auth/two-factor", &token, json!({"password": PASSWORD}), 201).await?;
        let uri = started["uri"].as_str().unwrap_or_default();
        anyhow::ensure!(uri.starts_with("otpauth://totp/Ventanilla:ana@test.example?secret="), "{uri}");
        anyhow::ensure!(started["qr_svg"].as_str().is_some_and(|s| s.contains("<svg")), "a QR code");
        let secret = secret_from_text(started["secret"].as_str().unwrap_or_default()).unwrap_or_default();
        let status = app.get("/api/v1/auth/two-factor", &token).await?;
        anyhow::ensure!(status.body["enabled"] == false && status.body["pending"] == true, "{}", status.text);
        // Not yet on: the password alone still signs in.
        anyhow::ensure!(sign_in(&app, "ana@test.example", PASSWORD, None).await?.status == 200);
        let bad = app.post("/api/v1/auth/two-factor/confirm", &token, json!({"code": "000000"})).await?;
        let bad_is_wrong = bad.status == 422 || code(&secret, step_at(now())) == "000000";
        anyhow::ensure!(bad_is_wrong && bad.body["errors"][0]["field"] == "code", "{}", bad.text);
        let step = step_at(now());
        let confirmed = app.post_ok("/api/v1/auth/two-factor/confirm", &token, json!({"code": code(&secret, step)}), 200).await?;
        let recovery: Vec<String> = confirmed["recovery_codes"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default();
        anyhow::ensure!(recovery.len() == 10, "{confirmed}");
        let again = app.post("/api/v1/auth/two-factor", &token, json!({"password": PASSWORD})).await?;
        anyhow::ensure!(again.status == 409, "already on: {}", again.text);

        // Sign-in now asks for the code; the one that confirmed cannot be replayed.
        let asked = sign_in(&app, "ana@test.example", PASSWORD, None).await?;
        anyhow::ensure!(asked.status == 401 && asked.body["code"] == "two_factor_required"
            && asked.body["errors"][0]["field"] == "code", "{}", asked.text);
        let wrong_password = sign_in(&app, "ana@test.example", "not hers", Some(&code(&secret, step + 1))).await?;
        anyhow::ensure!(wrong_password.status == 401 && wrong_password.body["code"] == "unauthorized", "{}", wrong_password.text);
        let replayed = sign_in(&app, "ana@test.example", PASSWORD, Some(&code(&secret, step))).await?;
        anyhow::ensure!(replayed.status == 401 && replayed.body["code"] == "two_factor_required", "replay: {}", replayed.text);
        let next = code(&secret, step + 1);
        let signed = sign_in(&app, "ana@test.example", PASSWORD, Some(&next)).await?;
        anyhow::ensure!(signed.status == 200, "{}", signed.text);
        let token = signed.body["access_token"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(app.get("/api/v1/auth/me", &token).await?.status == 200);
        let twice = sign_in(&app, "ana@test.example", PASSWORD, Some(&next)).await?;
        anyhow::ensure!(twice.status == 401, "a code works once: {}", twice.text);

        // A recovery code works once, typed any way.
        let typed = recovery[0].to_uppercase().replace('-', " ");
        anyhow::ensure!(sign_in(&app, "ana@test.example", PASSWORD, Some(&typed)).await?.status == 200);
        let spent = sign_in(&app, "ana@test.example", PASSWORD, Some(&recovery[0])).await?;
        anyhow::ensure!(spent.status == 401 && spent.body["code"] == "two_factor_required", "{}", spent.text);
        let status = app.get("/api/v1/auth/two-factor", &token).await?;
        anyhow::ensure!(status.body["enabled"] == true && status.body["recovery_codes_left"] == 9, "{}", status.text);

        // The security record: how each sign-in went, and from where.
        let signed_in = audit(&app, "auth.signed_in", &ana).await?;
        let methods: Vec<&str> = signed_in.iter().filter_map(|e| e["details"]["method"].as_str()).collect();
        anyhow::ensure!(methods.contains(&"password+totp") && methods.contains(&"password+recovery_code")
            && methods.contains(&"password"), "{methods:?}");
        anyhow::ensure!(signed_in.iter().all(|e| e["details"]["ip"].as_str().is_some_and(|ip| !ip.is_empty())), "{signed_in:?}");
        let refused = audit(&app, "auth.sign_in_refused", &ana).await?;
        let reasons: Vec<&str> = refused.iter().filter_map(|e| e["details"]["reason"].as_str()).collect();
        anyhow::ensure!(reasons.contains(&"password") && reasons.contains(&"code"), "{reasons:?}");
        let unknown = sign_in(&app, "nadie@test.example", PASSWORD, None).await?;
        anyhow::ensure!(unknown.status == 401);
        let refused = audit(&app, "auth.sign_in_refused", "nadie@test.example").await?;
        anyhow::ensure!(refused.first().is_some_and(|e| e["details"]["reason"] == "unknown_account"), "{refused:?}");
        let enabled = audit(&app, "user.two_factor_enabled", &ana).await?;
        anyhow::ensure!(enabled.len() == 1, "{enabled:?}");
        Ok(())
    }

    async fn a_person_turns_two_factor_off_and_an_admin_resets_it(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("bienestar").await?;
        let (_, token) = app.create_member("luis@test.example", &unit, "agent").await?;
        let (secret, step, _) = enrol(&app, &token, PASSWORD).await?;
        // Turning it off takes the password and a fresh code.
        let no_code = app.post("/api/v1/auth/two-factor/disable", &token, json!({"password": PASSWORD, "code": code(&secret, step)})).await?;
        anyhow::ensure!(no_code.status == 422 && no_code.body["errors"][0]["field"] == "code", "replayed code: {}", no_code.text);
        let off = app.post("/api/v1/auth/two-factor/disable", &token, json!({"password": PASSWORD, "code": code(&secret, step + 1)})).await?;
        anyhow::ensure!(off.status == 204, "{}", off.text);
        anyhow::ensure!(sign_in(&app, "luis@test.example", PASSWORD, None).await?.status == 200, "password alone again");

        // Someone who lost their phone: an admin resets it; their sessions end.
        let (sofia, sofia_token) = app.create_member("sofia@test.example", &unit, "supervisor").await?;
        let (_, _, _) = enrol(&app, &sofia_token, PASSWORD).await?;
        let luis = app.login("luis@test.example", PASSWORD).await?;
        // Admins see who signs in with it; others do not.
        let listed = app.get("/api/v1/users?limit=100", &app.admin_token).await?;
        let on = |email: &str| listed.body["items"].as_array().and_then(|a| a.iter().find(|u| u["email"] == email).map(|u| u["two_factor"].clone()));
        anyhow::ensure!(on("sofia@test.example") == Some(json!(true)) && on("luis@test.example") == Some(json!(false)), "{}", listed.text);
        let one = app.get(&format!("/api/v1/users/{sofia}"), &app.admin_token).await?;
        anyhow::ensure!(one.body["two_factor"] == true, "{}", one.text);
        let by_supervisor = app.get("/api/v1/users", &sofia_token).await?;
        anyhow::ensure!(by_supervisor.status == 200 && !by_supervisor.text.contains("two_factor"), "{}", by_supervisor.text);
        let by_agent = app.call(Method::DELETE, &format!("/api/v1/users/{sofia}/two-factor"), Some(&luis), None).await?;
        anyhow::ensure!(by_agent.status == 403, "{}", by_agent.text);
        let reset = app.call(Method::DELETE, &format!("/api/v1/users/{sofia}/two-factor"), Some(&app.admin_token), None).await?;
        anyhow::ensure!(reset.status == 204, "{}", reset.text);
        anyhow::ensure!(app.get("/api/v1/auth/me", &sofia_token).await?.status == 401, "her sessions ended");
        anyhow::ensure!(sign_in(&app, "sofia@test.example", PASSWORD, None).await?.status == 200);
        let none = app.call(Method::DELETE, &format!("/api/v1/users/{sofia}/two-factor"), Some(&app.admin_token), None).await?;
        anyhow::ensure!(none.status == 404, "{}", none.text);
        Ok(())
    }

    async fn admins_are_held_back_until_they_enrol_when_required(backend) {
        let app = spawn_app_with(backend, |c| c.auth.require_two_factor_for_admins = true).await?;
        let held = app.get("/api/v1/cases", &app.admin_token).await?;
        anyhow::ensure!(held.status == 403 && held.body["code"] == "two_factor_enrolment_required", "{}", held.text);
        let units = app.post("/api/v1/units", &app.admin_token, json!({"slug": "u", "name": "U"})).await?;
        anyhow::ensure!(units.status == 403, "{}", units.text);
        anyhow::ensure!(app.get("/api/v1/auth/me", &app.admin_token).await?.status == 200, "may see who they are");
        let status = app.get("/api/v1/auth/two-factor", &app.admin_token).await?;
        anyhow::ensure!(status.body["required"] == true && status.body["enabled"] == false, "{}", status.text);
        let (secret, step, _) = enrol(&app, &app.admin_token, ADMIN_PASSWORD).await?;
        // The same token now reaches everything.
        anyhow::ensure!(app.get("/api/v1/cases", &app.admin_token).await?.status == 200, "let in once enrolled");
        let off = app.post("/api/v1/auth/two-factor/disable", &app.admin_token,
            json!({"password": ADMIN_PASSWORD, "code": code(&secret, step + 1)})).await?;
        anyhow::ensure!(off.status == 403, "required of admins: {}", off.text);
        // Agents are not held back.
        let unit = app.create_unit("u").await?;
        let (_, agent) = app.create_member("agente@test.example", &unit, "agent").await?;
        anyhow::ensure!(app.get("/api/v1/cases", &agent).await?.status == 200);
        Ok(())
    }

    async fn sessions_are_listed_and_ended_one_by_one_or_everywhere(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("u").await?;
        let (_, first) = app.create_member("eva@test.example", &unit, "agent").await?;
        let mut pairs = vec![];
        for agent in ["Firefox en Windows", "Chrome en Android", "Safari en iPhone"] {
            let reply = app.client.post(format!("{}/api/v1/auth/login", app.base))
                .header("user-agent", agent)
                .json(&json!({"email": "eva@test.example", "password": PASSWORD}))
                .send().await?;
            anyhow::ensure!(reply.status() == 200);
            let body: Value = reply.json().await?;
            pairs.push((body["access_token"].as_str().unwrap_or_default().to_owned(), body["refresh_token"].as_str().unwrap_or_default().to_owned()));
        }
        let listed = app.get("/api/v1/auth/sessions", &pairs[0].0).await?;
        let items = listed.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.len() == 4, "{}", listed.text);
        anyhow::ensure!(items.iter().filter(|s| s["current"] == true).count() == 1, "{}", listed.text);
        let phone = items.iter().find(|s| s["user_agent"] == "Chrome en Android").ok_or_else(|| anyhow::anyhow!("{}", listed.text))?;
        anyhow::ensure!(phone["method"] == "password" && phone["ip"].as_str().is_some_and(|ip| !ip.is_empty()), "{phone}");

        // One ends: its access token and refresh token stop at once.
        let id = phone["id"].as_str().unwrap_or_default();
        let ended = app.call(Method::DELETE, &format!("/api/v1/auth/sessions/{id}"), Some(&pairs[0].0), None).await?;
        anyhow::ensure!(ended.status == 204, "{}", ended.text);
        anyhow::ensure!(app.get("/api/v1/auth/me", &pairs[1].0).await?.status == 401, "its access token ends");
        let refresh = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": pairs[1].1}))).await?;
        anyhow::ensure!(refresh.status == 401, "and its refresh token");
        anyhow::ensure!(app.get("/api/v1/auth/me", &pairs[0].0).await?.status == 200, "the others go on");
        // Someone else's session is none of theirs.
        let (_, other) = app.create_member("otro@test.example", &unit, "agent").await?;
        let mine = app.get("/api/v1/auth/sessions", &pairs[0].0).await?.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();
        let foreign = app.call(Method::DELETE, &format!("/api/v1/auth/sessions/{mine}"), Some(&other), None).await?;
        anyhow::ensure!(foreign.status == 404, "{}", foreign.text);

        // Everywhere else: only this one is left.
        let out = app.post_ok("/api/v1/auth/sessions/end", &pairs[0].0, json!({"keep_current": true}), 200).await?;
        anyhow::ensure!(out["ended"] == 2, "{out}");
        for token in [&first, &pairs[2].0] {
            anyhow::ensure!(app.get("/api/v1/auth/me", token).await?.status == 401);
        }
        anyhow::ensure!(app.get("/api/v1/auth/me", &pairs[0].0).await?.status == 200);
        // Everywhere: this one too.
        let out = app.post_ok("/api/v1/auth/sessions/end", &pairs[0].0, json!({}), 200).await?;
        anyhow::ensure!(out["ended"] == 1, "{out}");
        anyhow::ensure!(app.get("/api/v1/auth/me", &pairs[0].0).await?.status == 401);
        let refresh = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": pairs[0].1}))).await?;
        anyhow::ensure!(refresh.status == 401);
        // Signing out with the refresh token ends the access token too.
        let fresh = sign_in(&app, "eva@test.example", PASSWORD, None).await?;
        let (access, refresh) = (fresh.body["access_token"].as_str().unwrap_or_default().to_owned(), fresh.body["refresh_token"].clone());
        anyhow::ensure!(app.get("/api/v1/auth/me", &access).await?.status == 200);
        app.call(Method::POST, "/api/v1/auth/logout", None, Some(&json!({"refresh_token": refresh}))).await?;
        anyhow::ensure!(app.get("/api/v1/auth/me", &access).await?.status == 401, "signed out means out");
        // API tokens have no sessions.
        let created = app.post_ok("/api/v1/api-tokens", &app.admin_token, json!({"name": "SIS", "scopes": ["cases:read"]}), 201).await?;
        let secret = created["secret"].as_str().unwrap_or_default();
        anyhow::ensure!(app.get("/api/v1/auth/sessions", secret).await?.status == 403);
        Ok(())
    }

    async fn only_the_person_reaches_their_second_factor_and_sessions(backend) {
        let app = spawn_app(backend).await?;
        let admin = app.get("/api/v1/auth/me", &app.admin_token).await?.body["id"].as_str().unwrap_or_default().to_owned();
        let token = app.create_token(&["users:write", "users:read"]).await?;
        let session = uuid::Uuid::now_v7();
        let calls: Vec<(Method, String, Option<Value>)> = vec![
            (Method::POST, "/api/v1/auth/two-factor/confirm".into(), Some(json!({"code": "123456"}))),
            (Method::POST, "/api/v1/auth/two-factor/recovery-codes".into(), Some(json!({"code": "123456"}))),
            (Method::POST, "/api/v1/auth/two-factor/disable".into(), Some(json!({"password": "x", "code": "123456"}))),
            (Method::DELETE, format!("/api/v1/auth/sessions/{session}"), None),
            (Method::DELETE, format!("/api/v1/users/{admin}/two-factor"), None),
        ];
        for (method, path, body) in calls {
            let anonymous = app.call(method.clone(), &path, None, body.as_ref()).await?;
            anyhow::ensure!(anonymous.status == 401, "{path} anonymous: {}", anonymous.text);
            let by_token = app.call(method.clone(), &path, Some(&token), body.as_ref()).await?;
            anyhow::ensure!(by_token.status == 403, "{path} by an API token: {}", by_token.text);
        }
        Ok(())
    }
}
