//! Sign-in, refresh rotation with reuse detection, sign-out, rate limits.

use reqwest::Method;
use serde_json::json;
use ventanilla_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, on_both, spawn_app, spawn_app_with};

on_both! {
    async fn login_refresh_logout(backend) {
        let app = spawn_app(backend).await?;
        let login = app
            .call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})))
            .await?;
        anyhow::ensure!(login.status == 200, "{}", login.text);
        for key in ["access_token", "refresh_token", "expires_in"] {
            anyhow::ensure!(!login.body[key].is_null(), "login returns {key}");
        }
        let access = login.body["access_token"].as_str().unwrap_or_default().to_owned();
        let refresh = login.body["refresh_token"].as_str().unwrap_or_default().to_owned();
        let me = app.get("/api/v1/auth/me", &access).await?;
        anyhow::ensure!(me.body["email"] == ADMIN_EMAIL && me.body["is_admin"] == true, "{}", me.text);

        // Rotation: the new refresh token works, the old one no longer does...
        let rotated = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": refresh}))).await?;
        anyhow::ensure!(rotated.status == 200, "{}", rotated.text);
        let second = rotated.body["refresh_token"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(second != refresh);
        let reused = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": refresh}))).await?;
        anyhow::ensure!(reused.status == 401, "a rotated token is refused: {}", reused.text);
        // ...and presenting it again revoked the whole family, the new one too.
        let after_reuse = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": second}))).await?;
        anyhow::ensure!(after_reuse.status == 401, "reuse revokes the family: {}", after_reuse.text);

        // Sign-out revokes.
        let fresh = app
            .call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})))
            .await?;
        let token = fresh.body["refresh_token"].clone();
        let out = app.call(Method::POST, "/api/v1/auth/logout", None, Some(&json!({"refresh_token": token}))).await?;
        anyhow::ensure!(out.status == 204);
        let again = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": token}))).await?;
        anyhow::ensure!(again.status == 401);
        Ok(())
    }

    async fn wrong_credentials_and_tampered_tokens(backend) {
        let app = spawn_app(backend).await?;
        for (email, password) in [(ADMIN_EMAIL, "not the password"), ("nobody@test.example", ADMIN_PASSWORD)] {
            let reply = app.call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": email, "password": password}))).await?;
            anyhow::ensure!(reply.status == 401 && reply.body["code"] == "unauthorized", "{}", reply.text);
        }
        let mut tampered = app.admin_token.clone();
        tampered.push('x');
        anyhow::ensure!(app.get("/api/v1/auth/me", &tampered).await?.status == 401);
        anyhow::ensure!(app.get("/api/v1/auth/me", "vnt_not-a-real-token").await?.status == 401);
        Ok(())
    }

    async fn deactivated_users_lose_access(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("u").await?;
        let (id, token) = app.create_member("a@test.example", &unit, "agent").await?;
        app.patch(&format!("/api/v1/users/{id}"), &app.admin_token, json!({"active": false})).await?;
        anyhow::ensure!(app.get("/api/v1/auth/me", &token).await?.status == 401, "a deactivated user's token stops working");
        Ok(())
    }

    async fn revoked_api_tokens_stop_working(backend) {
        let app = spawn_app(backend).await?;
        let created = app.post_ok("/api/v1/api-tokens", &app.admin_token, json!({"name": "SIS", "scopes": ["cases:read"]}), 201).await?;
        let secret = created["secret"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(secret.starts_with("vnt_"));
        anyhow::ensure!(app.get("/api/v1/cases", &secret).await?.status == 200);
        let listed = app.get("/api/v1/api-tokens", &app.admin_token).await?;
        anyhow::ensure!(!listed.text.contains(&secret), "the secret is never listed");
        let id = created["id"].as_str().unwrap_or_default();
        app.call(Method::DELETE, &format!("/api/v1/api-tokens/{id}"), Some(&app.admin_token), None).await?;
        anyhow::ensure!(app.get("/api/v1/cases", &secret).await?.status == 401);
        Ok(())
    }

    async fn login_is_rate_limited(backend) {
        let app = spawn_app_with(backend, |c| c.auth.login_attempts_per_account = 3).await?;
        let mut statuses = vec![];
        for _ in 0..5 {
            let reply = app
                .call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": "x@test.example", "password": "wrong password"})))
                .await?;
            statuses.push(reply.status.as_u16());
            if reply.status == 429 {
                anyhow::ensure!(reply.headers.contains_key("retry-after"), "429 says when to retry");
            }
        }
        anyhow::ensure!(statuses == [401, 401, 401, 429, 429], "{statuses:?}");
        Ok(())
    }
}

on_both! {
    async fn breached_and_easy_passwords_are_refused(backend) {
        use sha1::Digest;
        // The institution's list: the form Have I Been Pwned publishes.
        let dir = std::env::temp_dir().join(format!("ventanilla-pwned-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir)?;
        let leaked = ["una clave que se filtró en 2023", "la clave de siempre 1990", "mi perro se llama Tobi"];
        let mut lines: Vec<String> = leaked
            .iter()
            .chain(&["relleno uno", "relleno dos", "relleno tres"])
            .map(|p| format!("{}:{}\r\n", hex::encode_upper(sha1::Sha1::digest(p.as_bytes())), p.len()))
            .collect();
        lines.sort();
        let file = dir.join("pwned-passwords-sha1-ordered-by-hash.txt");
        std::fs::write(&file, lines.concat())?;
        let list = file.clone();
        let app = spawn_app_with(backend, move |c| c.auth.breached_passwords_file = Some(list)).await?;
        let user = |password: &str| json!({"email": format!("{}@test.example", uuid::Uuid::now_v7().simple()),
            "display_name": "N", "password": password});
        for password in leaked {
            let refused = app.post("/api/v1/users", &app.admin_token, user(password)).await?;
            anyhow::ensure!(refused.status == 422 && refused.body["errors"][0]["field"] == "password"
                && refused.text.contains("breaches"), "{password}: {}", refused.text);
        }
        for easy in ["aaaaaaaaaaaaaaaa", "123456789012", "Contraseña123"] {
            let refused = app.post("/api/v1/users", &app.admin_token, user(easy)).await?;
            anyhow::ensure!(refused.status == 422 && refused.text.contains("too easy"), "{easy}: {}", refused.text);
        }
        let created = app.post_ok("/api/v1/users", &app.admin_token, user("caballo correcto batería grapa"), 201).await?;
        // Changing one's password is checked the same way.
        let id = created["id"].as_str().unwrap_or_default();
        let changed = app.patch(&format!("/api/v1/users/{id}"), &app.admin_token, json!({"password": leaked[0]})).await?;
        anyhow::ensure!(changed.status == 422 && changed.text.contains("breaches"), "{}", changed.text);
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
