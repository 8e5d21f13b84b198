//! Single sign-on through OpenID Connect, against a real provider
//! (`oidc-provider` from the npm registry, see `ventanilla_tests::oidc`)
//! walked through as a browser would (cookies, redirects, its sign-in and
//! consent forms); tokens a real provider would never issue (altered,
//! expired, for another application, of another sign-in) come from a
//! stand-in token endpoint signing with a test key.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use ventanilla_tests::oidc::{OidcProvider, mapping, reserve_address, spawn_with_provider};
use ventanilla_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, FakeProvider, TestApp, on_both, role, spawn_app_with};

/// A browser without JavaScript: a cookie jar per host, redirects followed
/// by hand, forms submitted with their hidden fields.
#[derive(Default)]
struct Visitor {
    jar: HashMap<String, BTreeMap<String, String>>,
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| format!("{}:{}", u.host_str().unwrap_or(""), u.port().unwrap_or(80)))
        .unwrap_or_default()
}

fn join(base: &str, location: &str) -> String {
    url::Url::parse(base).and_then(|b| b.join(location)).map(|u| u.to_string()).unwrap_or_default()
}

/// The value of `name="…"` in one HTML tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&"))
}

impl Visitor {
    async fn send(&mut self, request: reqwest::RequestBuilder, url: &str) -> anyhow::Result<Answer> {
        let host = host_of(url);
        let cookies = self.jar.get(&host).map(|c| c.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>());
        let request = match cookies {
            Some(c) if !c.is_empty() => request.header("cookie", c.join("; ")),
            _ => request,
        };
        let response = request.header("accept-language", "es-CO,es;q=0.9").send().await?;
        for set in response.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let cookies = self.jar.entry(host.clone()).or_default();
                if value.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        let status = response.status();
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(|l| join(url, l));
        Ok(Answer { status, location, body: response.text().await? })
    }

    async fn get(&mut self, url: &str) -> anyhow::Result<Answer> {
        let request = client().get(url);
        self.send(request, url).await
    }

    async fn post_form(&mut self, url: &str, fields: &[(String, String)]) -> anyhow::Result<Answer> {
        let request = client().post(url).form(fields);
        self.send(request, url).await
    }

    /// From Ventanilla's sign-in button through the provider's pages as
    /// `login`, up to the address the provider sends back to (not opened).
    async fn through_provider(&mut self, start: &str, login: &str, back_to: &str) -> anyhow::Result<String> {
        let mut url = start.to_owned();
        for _ in 0..20 {
            if url.starts_with(back_to) {
                return Ok(url);
            }
            let answer = self.get(&url).await?;
            if let Some(next) = answer.location {
                url = next;
                continue;
            }
            anyhow::ensure!(answer.status == StatusCode::OK, "{url} answered {}: {}", answer.status, answer.body);
            let form_at =
                answer.body.find("<form").ok_or_else(|| anyhow::anyhow!("no form at {url}: {}", answer.body))?;
            let form = &answer.body[form_at..];
            let action = attr(&form[..form.find('>').unwrap_or(form.len())], "action").unwrap_or_default();
            let mut fields = vec![];
            for input in form.split("<input").skip(1) {
                let tag = &input[..input.find('>').unwrap_or(input.len())];
                if attr(tag, "type").as_deref() == Some("hidden")
                    && let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value"))
                {
                    fields.push((name, value));
                }
            }
            if form.contains("name=\"login\"") {
                fields.push(("login".into(), login.into()));
                fields.push(("password".into(), "any".into()));
            }
            let posted = self.post_form(&join(&url, &action), &fields).await?;
            url = posted.location.ok_or_else(|| anyhow::anyhow!("the form at {url} went nowhere: {}", posted.body))?;
        }
        anyhow::bail!("the sign-in did not come back to {back_to}")
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default()
}

/// The reason a sign-in page gives (`data-reason`), or none.
fn reason(page: &Answer) -> Option<String> {
    attr(page.body.split("<main").nth(1)?, "data-reason")
}

struct Setup {
    app: TestApp,
    provider: OidcProvider,
}

impl Setup {
    fn start_url(&self) -> String {
        format!("{}/api/v1/auth/sso/uni/start", self.app.base)
    }

    fn callback(&self) -> String {
        format!("{}/api/v1/auth/sso/uni/callback", self.app.base)
    }

    /// A whole sign-in as `login`: Ventanilla's answer to the provider's
    /// redirect back, and that redirect's address.
    async fn sign_in(&self, visitor: &mut Visitor, login: &str) -> anyhow::Result<(Answer, String)> {
        let back = visitor.through_provider(&self.start_url(), login, &self.callback()).await?;
        Ok((visitor.get(&back).await?, back))
    }

    /// Signs in as `login` and collects the console's tokens.
    async fn tokens(&self, login: &str) -> anyhow::Result<Value> {
        let (answer, _) = self.sign_in(&mut Visitor::default(), login).await?;
        let location = answer.location.ok_or_else(|| anyhow::anyhow!("not signed in: {}", answer.body))?;
        let code = location.split("#/sso/").nth(1).ok_or_else(|| anyhow::anyhow!("no code in {location}"))?;
        self.app.post_ok("/api/v1/auth/sso/exchange", "", json!({"code": code}), 200).await
    }
}

async fn setup(backend: Backend, adjust: impl FnOnce(&mut ventanilla::config::OidcProvider)) -> anyhow::Result<Setup> {
    let (app, provider) = spawn_with_provider(backend, |c| adjust(&mut c.auth.oidc[0])).await?;
    Ok(Setup { app, provider })
}

/// Ana's roles and whether she is an admin, as the admin sees them.
async fn ana(app: &TestApp) -> anyhow::Result<(Vec<(String, String)>, bool)> {
    let account = app.account("ana@uni.test").await?.ok_or_else(|| anyhow::anyhow!("no account"))?;
    Ok((account.roles, account.is_admin))
}

on_both! {
    async fn a_first_sign_in_makes_the_account_with_its_groups_roles_and_the_next_follows_the_groups(backend) {
        let s = setup(backend, |_| {}).await?;
        let options = s.app.get("/api/v1/auth/providers", "").await?;
        assert_eq!(options.body["providers"][0]["id"], "uni", "{options:?}");
        assert_eq!(options.body["providers"][0]["start_url"], "/api/v1/auth/sso/uni/start");

        s.provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["psicologia-staff", "admisiones-staff"])?;
        let first = s.tokens("ana").await?;
        let token = first["access_token"].as_str().unwrap_or_default().to_owned();
        let me = s.app.get("/api/v1/auth/me", &token).await?;
        assert_eq!(me.body["email"], "ana@uni.test");
        assert_eq!(me.body["display_name"], "Ana Ruiz");
        assert_eq!(ana(&s.app).await?, (vec![role("admisiones", "agent"), role("bienestar", "supervisor")], false));
        let sessions = s.app.get("/api/v1/auth/sessions", &token).await?;
        assert_eq!(sessions.body["items"][0]["method"], "sso:uni", "{sessions:?}");

        // The provider takes a group away: the next sign-in takes the role away.
        s.provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["psicologia-staff"])?;
        let second = s.tokens("ana").await?;
        assert_eq!(ana(&s.app).await?.0, vec![role("bienestar", "supervisor")]);
        assert_eq!(me.body["id"], s.app.get("/api/v1/auth/me", second["access_token"].as_str().unwrap_or_default()).await?.body["id"], "the same account");

        // And an admin group makes an admin.
        s.provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["psicologia-staff", "ti-admins"])?;
        let third = s.tokens("ana").await?;
        assert!(ana(&s.app).await?.1);
        assert_eq!(s.app.get("/api/v1/auth/me", third["access_token"].as_str().unwrap_or_default()).await?.body["is_admin"], true);

        // With no group left, she is let in no more and keeps no role.
        s.provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["egresados"])?;
        let (refused, _) = s.sign_in(&mut Visitor::default(), "ana").await?;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(reason(&refused).as_deref(), Some("no_access"));
        assert!(refused.body.contains("Tus grupos en la institución no dan acceso"), "{}", refused.body);
        assert_eq!(ana(&s.app).await?, (vec![], false));
        assert_eq!(s.app.get("/api/v1/auth/me", &token).await?.body["memberships"], json!([]));

        let audit = s.app.get("/api/v1/audit-events?action=user.roles_mapped", &s.app.admin_token).await?;
        assert_eq!(audit.body["items"].as_array().map(Vec::len), Some(4), "{audit:?}");
        let signed = s.app.get("/api/v1/audit-events?action=auth.signed_in", &s.app.admin_token).await?;
        assert!(signed.body["items"].as_array().into_iter().flatten().any(|e| e["details"]["method"] == "sso:uni"));
        let refusals = s.app.get("/api/v1/audit-events?action=auth.sign_in_refused", &s.app.admin_token).await?;
        let last = &refusals.body["items"][0]["details"];
        assert_eq!((last["reason"].as_str(), last["provider"].as_str()), (Some("sso_no_access"), Some("uni")), "{refusals:?}");
        Ok(())
    }

    async fn a_replayed_altered_or_foreign_browser_sign_in_is_refused_with_a_page(backend) {
        let s = setup(backend, |_| {}).await?;
        s.provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["psicologia-staff"])?;

        // Replayed: the provider's redirect back, a second time.
        let mut visitor = Visitor::default();
        let (first, back) = s.sign_in(&mut visitor, "ana").await?;
        assert_eq!(first.status, StatusCode::FOUND, "{}", first.body);
        let replay = visitor.get(&back).await?;
        assert_eq!(replay.status, StatusCode::BAD_REQUEST);
        assert_eq!(reason(&replay).as_deref(), Some("state"));
        assert!(replay.body.contains("ya se usó"), "{}", replay.body);
        // The console's one-time code works once.
        let location = first.location.unwrap_or_default();
        let code = location.split("#/sso/").nth(1).unwrap_or_default();
        s.app.post_ok("/api/v1/auth/sso/exchange", "", json!({"code": code}), 200).await?;
        let again = s.app.post("/api/v1/auth/sso/exchange", "", json!({"code": code})).await?;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);

        // Finished in another browser (no cookie of the one that began).
        let back = Visitor::default().through_provider(&s.start_url(), "ana", &s.callback()).await?;
        let elsewhere = Visitor::default().get(&back).await?;
        assert_eq!((elsewhere.status, reason(&elsewhere).as_deref()), (StatusCode::BAD_REQUEST, Some("browser")));

        // An altered state, and an altered code.
        let mut visitor = Visitor::default();
        let back = visitor.through_provider(&s.start_url(), "ana", &s.callback()).await?;
        let altered = visitor.get(&back.replace("state=", "state=x")).await?;
        assert_eq!((altered.status, reason(&altered).as_deref()), (StatusCode::BAD_REQUEST, Some("state")));
        let mut visitor = Visitor::default();
        let back = visitor.through_provider(&s.start_url(), "ana", &s.callback()).await?;
        let altered = visitor.get(&back.replace("code=", "code=x")).await?;
        assert_eq!((altered.status, reason(&altered).as_deref()), (StatusCode::BAD_REQUEST, Some("provider")));

        // A person whose groups grant nothing gets no account.
        s.provider.set_account("luis", "luis@uni.test", "Luis", &["estudiantes"])?;
        let (refused, _) = s.sign_in(&mut Visitor::default(), "luis").await?;
        assert_eq!((refused.status, reason(&refused).as_deref()), (StatusCode::FORBIDDEN, Some("no_access")));
        let users = s.app.get("/api/v1/users", &s.app.admin_token).await?;
        assert!(!users.text.contains("luis@uni.test"), "{}", users.text);
        Ok(())
    }

    async fn an_existing_account_is_joined_only_when_the_provider_may_join_by_email(backend) {
        let s = setup(backend, |_| {}).await?;
        let bienestar = s.app.get("/api/v1/units", &s.app.admin_token).await?.body["items"][0]["id"].clone();
        let (id, _) = s.app.create_member("marta@uni.test", bienestar.as_str().unwrap_or_default(), "agent").await?;
        s.provider.set_account("marta", "marta@uni.test", "Marta", &["psicologia-staff"])?;
        let (refused, _) = s.sign_in(&mut Visitor::default(), "marta").await?;
        assert_eq!((refused.status, reason(&refused).as_deref()), (StatusCode::FORBIDDEN, Some("email_taken")));

        let joined = setup(backend, |p| p.link_by_email = true).await?;
        let unit = joined.app.get("/api/v1/units", &joined.app.admin_token).await?.body["items"][0]["id"].clone();
        let (id2, _) = joined.app.create_member("marta@uni.test", unit.as_str().unwrap_or_default(), "agent").await?;
        joined.provider.set_account("marta", "marta@uni.test", "Marta", &["psicologia-staff"])?;
        let tokens = joined.tokens("marta").await?;
        let me = joined.app.get("/api/v1/auth/me", tokens["access_token"].as_str().unwrap_or_default()).await?;
        assert_eq!(me.body["id"], json!(id2));
        assert_ne!(id, id2);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_for_break_glass_accounts_only_when_sso_is_required() -> anyhow::Result<()> {
    let (app, _provider) = spawn_with_provider(Backend::Sqlite, |c| {
        c.auth.require_sso = true;
        c.auth.break_glass = vec![ADMIN_EMAIL.to_uppercase()];
    })
    .await?;
    // The admin signed in to start the test: a break-glass account.
    assert!(!app.admin_token.is_empty());
    let unit = app.get("/api/v1/units", &app.admin_token).await?.body["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Made by an admin with a password, but not break-glass: refused.
    app.post_ok(
        "/api/v1/users",
        &app.admin_token,
        json!({"email": "agente@uni.test", "display_name": "Agente", "password": ventanilla_tests::PASSWORD,
               "memberships": [{"unit_id": unit, "role": "agent"}]}),
        201,
    )
    .await?;
    let refused = app
        .post("/api/v1/auth/login", "", json!({"email": "agente@uni.test", "password": ventanilla_tests::PASSWORD}))
        .await?;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["code"], "sso_required");
    // The same answer for an e-mail with no account: nothing is revealed.
    let unknown =
        app.post("/api/v1/auth/login", "", json!({"email": "nadie@uni.test", "password": "whatever-123"})).await?;
    assert_eq!(unknown.body["code"], "sso_required");
    let options = app.get("/api/v1/auth/providers", "").await?;
    assert_eq!(options.body["sso_required"], true);
    let ok = app.post("/api/v1/auth/login", "", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await?;
    assert_eq!(ok.status, StatusCode::OK);
    Ok(())
}

// ---------------------------------------------------------------- tokens no real provider issues

/// A P-256 key made for these tests only (PKCS#8 DER, base64), and its public half.
const TEST_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeKevdOpqLaDMF69l7Q0ZLHRFoutlnKqgudW1iUPWusmhRANCAAQv863zQhLU7Z0Py+ovOYAi0cdsr2QJgOSwaR4TUbVecf4zY4a5xalzGbNP6xrugFZl8MucQALJj1R9RGVe46wg";

fn test_jwks() -> Value {
    json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": "L_Ot80IS1O2dD8vqLzmAItHHbK9kCYDksGkeE1G1XnE", "y": "_jNjhrnFqXMZs0_rGu6AVmXwy5xAAsmPVH1EZV7jrCA"}]})
}

fn signed(claims: &Value) -> anyhow::Result<String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD.decode(TEST_KEY)?;
    Ok(jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&der))?)
}

/// The token with other groups in its payload, the signature kept.
fn with_groups(token: &str, groups: &[&str]) -> anyhow::Result<String> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    anyhow::ensure!(parts.len() == 3, "not a JWT");
    let mut claims: Value = serde_json::from_slice(&engine.decode(&parts[1])?)?;
    claims["groups"] = json!(groups);
    parts[1] = engine.encode(claims.to_string());
    Ok(parts.join("."))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_expired_foreign_and_misdirected_id_tokens_are_refused_with_a_page() -> anyhow::Result<()> {
    let standin = FakeProvider::start().await?;
    let issuer = format!("http://127.0.0.1:{}", standin.port);
    standin.on_get(
        "/.well-known/openid-configuration",
        json!({"issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
               "token_endpoint": format!("{issuer}/token"), "jwks_uri": format!("{issuer}/jwks")}),
    );
    standin.on_get("/jwks", test_jwks());
    let (listen, base) = reserve_address()?;
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.listen = listen;
        c.public_url = Some(base.clone());
        c.auth.oidc = vec![ventanilla::config::OidcProvider {
            id: "uni".into(),
            name: "Uni".into(),
            issuer: issuer.clone(),
            client_id: "ventanilla".into(),
            client_secret: None,
            scopes: vec!["email".into()],
            groups_claim: "groups".into(),
            create_accounts: true,
            link_by_email: false,
            mappings: vec![mapping("staff", Some("bienestar"), "agent")],
        }];
    })
    .await?;
    app.create_unit("bienestar").await?;
    let now = chrono::Utc::now().timestamp();
    let good = |nonce: &str| {
        json!({"iss": issuer, "aud": "ventanilla", "sub": "p-1", "exp": now + 300, "iat": now, "nonce": nonce,
               "email": "pedro@uni.test", "email_verified": true, "groups": ["staff"]})
    };
    // Each case: a claim changed before signing (or the token altered
    // after), and the answer expected.
    type Case<'a> = (&'a str, Option<(&'a str, Value)>, Option<&'a str>);
    let cases: [Case; 6] = [
        ("a good token", None, None),
        ("expired", Some(("exp", json!(now - 3600))), Some("token")),
        ("for another application", Some(("aud", json!("otra-app"))), Some("token")),
        ("of another sign-in", Some(("nonce", json!("otro"))), Some("token")),
        ("from another issuer", Some(("iss", json!("https://evil.test"))), Some("token")),
        ("altered after signing", None, Some("token")),
    ];
    for (what, change, expected) in cases {
        let mut visitor = Visitor::default();
        let start = visitor.get(&format!("{base}/api/v1/auth/sso/uni/start")).await?;
        let to_provider = start.location.ok_or_else(|| anyhow::anyhow!("{what}: no redirect: {}", start.body))?;
        let query: HashMap<String, String> = url::Url::parse(&to_provider)?.query_pairs().into_owned().collect();
        assert_eq!(query.get("code_challenge_method").map(String::as_str), Some("S256"));
        let mut claims = good(&query["nonce"]);
        if let Some((name, value)) = change {
            claims[name] = value;
        }
        let mut token = signed(&claims)?;
        if what == "altered after signing" {
            token = with_groups(&token, &["staff", "ti-admins"])?;
        }
        standin.succeed_with(&json!({"access_token": "at", "token_type": "Bearer", "id_token": token}).to_string());
        let back = format!("{base}/api/v1/auth/sso/uni/callback?code=c&state={}", query["state"]);
        let answer = visitor.get(&back).await?;
        match expected {
            None => assert_eq!(answer.status, StatusCode::FOUND, "{what}: {}", answer.body),
            Some(why) => {
                assert_eq!((answer.status, reason(&answer).as_deref()), (StatusCode::BAD_REQUEST, Some(why)), "{what}");
                assert!(answer.body.contains("no es válida"), "{what}: {}", answer.body);
            }
        }
    }
    // The token request carried the PKCE verifier and the code.
    let received = standin.received.lock().map(|r| r.clone()).unwrap_or_default();
    let exchange = received.iter().find(|r| r.method == "POST").ok_or_else(|| anyhow::anyhow!("no token request"))?;
    assert!(exchange.body.contains("code_verifier=") && exchange.body.contains("code=c"), "{}", exchange.body);
    // Only the good one made an account.
    let users = app.get("/api/v1/users", &app.admin_token).await?;
    let pedros = users.body["items"].as_array().into_iter().flatten().filter(|u| u["email"] == "pedro@uni.test");
    assert_eq!(pedros.count(), 1, "{}", users.text);
    Ok(())
}
