//! Shared fixtures for the end-to-end tests: an isolated server per test on
//! SQLite or on a fresh PostgreSQL database, typed request helpers, and
//! builders for the usual data.

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;

use ventanilla::config::Config;

pub mod console;
pub mod ldap;
pub mod mail;
pub mod oidc;
pub mod s3;
pub mod webchat;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the body once on SQLite and once on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: $crate::Backend) -> anyhow::Result<()> $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> { run($crate::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> { run($crate::Backend::Postgres).await }
        }
    )*};
}

/// Admin connection to the PostgreSQL server used by tests.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database for one test: a temporary SQLite file or a fresh PostgreSQL
/// database, dropped when this value is.
pub struct TestDb {
    pub url: String,
    pub dir: PathBuf,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> anyhow::Result<TestDb> {
        let dir = std::env::temp_dir().join(format!("ventanilla-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", dir.join("ventanilla.db").display());
                Ok(TestDb { url, dir, pg_name: None })
            }
            Backend::Postgres => {
                let name = format!("ventanilla_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(postgres_admin_url())
                    .await
                    .context("PostgreSQL at 127.0.0.1:5432 must be running for the tests")?;
                use sea_orm::ConnectionTrait;
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                admin.close().await?;
                let base = postgres_admin_url();
                let server = base.rsplit_once('/').map_or(base.as_str(), |(server, _)| server).to_owned();
                Ok(TestDb { url: format!("{server}/{name}"), dir, pg_name: Some(name) })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                runtime.block_on(async {
                    use sea_orm::ConnectionTrait;
                    if let Ok(admin) = sea_orm::Database::connect(postgres_admin_url()).await {
                        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running server on a random port with its own database.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub store: ventanilla::store::Store,
    /// Bearer token of the first admin (admin@test.example / `ADMIN_PASSWORD`).
    pub admin_token: String,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
    _db: TestDb,
}

pub const ADMIN_EMAIL: &str = "admin@test.example";
pub const ADMIN_PASSWORD: &str = "clave-de-prueba-123";
pub const PASSWORD: &str = "clave-de-agente-123";

pub fn test_config(db: &TestDb) -> Config {
    let mut config = Config::default();
    config.listen = "127.0.0.1:0".into();
    config.data_dir = db.dir.clone();
    config.database_url = Some(ventanilla::config::Secret::new(db.url.clone()));
    config.database.max_connections = 8;
    config.http.workers = 2;
    config.auth.login_attempts_per_ip_per_minute = 200;
    config
}

/// Starts an isolated server and signs in its first admin.
pub async fn spawn_app(backend: Backend) -> anyhow::Result<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
    let db = TestDb::new(backend).await?;
    let mut config = test_config(&db);
    adjust(&mut config);
    let store = ventanilla::app::open_store(&config).await?;
    let new_admin = ventanilla::domain::user::NewUser {
        email: ventanilla::domain::Email::parse("email", ADMIN_EMAIL)?,
        display_name: "Admin".into(),
        password_hash: ventanilla::auth::hash_password(ADMIN_PASSWORD)?,
        is_admin: true,
        locale: "es".into(),
        memberships: vec![],
    };
    ventanilla::store::user::create(&store, &ventanilla::domain::Actor::System, new_admin).await?;
    let state = ventanilla::app::state(config, store.clone()).await?;
    let running = ventanilla::app::serve(state)?;
    let base = format!("http://{}", running.addr);
    let server = tokio::spawn(running.server);
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
    let mut app = TestApp { base, client, backend, store, admin_token: String::new(), _server: server, _db: db };
    app.admin_token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    Ok(app)
}

/// An account as an admin sees it: active, administrator, and its roles
/// as `(unit slug, role)`, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub active: bool,
    pub is_admin: bool,
    pub roles: Vec<(String, String)>,
}

/// `(unit slug, role)`, as [`Account::roles`] lists them.
pub fn role(unit: &str, role: &str) -> (String, String) {
    (unit.to_owned(), role.to_owned())
}

/// A response: status, headers and parsed JSON (or Null).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The body's `id` field as text.
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_owned()
    }
}

/// Another server on the same database (PostgreSQL): its own port, data
/// directory and workers; the same secrets key, as a deployment of several
/// instances is configured.
pub struct Instance {
    pub base: String,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    pub async fn another_instance(&self, adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Instance> {
        let mut config = test_config(&self._db);
        config.data_dir = self._db.dir.join(format!("instance-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&config.data_dir)?;
        let key = std::fs::read_to_string(self._db.dir.join("secrets.key"))?;
        config.secrets_key = Some(ventanilla::config::Secret::new(key));
        adjust(&mut config);
        let store = ventanilla::app::open_store(&config).await?;
        let state = ventanilla::app::state(config, store).await?;
        let running = ventanilla::app::serve(state)?;
        let base = format!("http://{}", running.addr);
        Ok(Instance { base, _server: tokio::spawn(running.server) })
    }
}

impl TestApp {
    /// The server's data directory (database, search index, kept files).
    pub fn data_dir(&self) -> &std::path::Path {
        &self._db.dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::reply(request.send().await?).await
    }

    pub async fn reply(response: reqwest::Response) -> anyhow::Result<Reply> {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply { status, headers, body, text })
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, Some(token), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Reply> {
        self.call(Method::PATCH, path, Some(token), Some(&body)).await
    }

    /// Posts and insists on `expected`, returning the body.
    pub async fn post_ok(&self, path: &str, token: &str, body: Value, expected: u16) -> anyhow::Result<Value> {
        let reply = self.post(path, token, body).await?;
        anyhow::ensure!(reply.status.as_u16() == expected, "POST {path}: {} {}", reply.status, reply.text);
        Ok(reply.body)
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let reply = self
            .call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": email, "password": password})))
            .await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "login {email}: {} {}", reply.status, reply.text);
        Ok(reply.body["access_token"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn create_unit(&self, slug: &str) -> anyhow::Result<String> {
        let body = self.post_ok("/api/v1/units", &self.admin_token, json!({"slug": slug, "name": slug}), 201).await?;
        Ok(body["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Creates a user with `role` in `unit` and returns (user id, access token).
    pub async fn create_member(&self, email: &str, unit: &str, role: &str) -> anyhow::Result<(String, String)> {
        let body = self
            .post_ok(
                "/api/v1/users",
                &self.admin_token,
                json!({"email": email, "display_name": email, "password": PASSWORD,
                       "memberships": [{"unit_id": unit, "role": role}]}),
                201,
            )
            .await?;
        let token = self.login(email, PASSWORD).await?;
        Ok((body["id"].as_str().unwrap_or_default().to_owned(), token))
    }

    /// The account with `email` as an admin sees it, if there is one.
    pub async fn account(&self, email: &str) -> anyhow::Result<Option<Account>> {
        let users = self.get("/api/v1/users?limit=100", &self.admin_token).await?.body;
        let units = self.get("/api/v1/units", &self.admin_token).await?.body;
        let Some(user) = users["items"].as_array().into_iter().flatten().find(|u| u["email"] == email) else {
            return Ok(None);
        };
        let slug = |id: &Value| {
            let unit = units["items"].as_array().into_iter().flatten().find(|u| &u["id"] == id);
            unit.and_then(|u| u["slug"].as_str()).unwrap_or_default().to_owned()
        };
        let mut roles: Vec<(String, String)> = user["memberships"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| (slug(&m["unit_id"]), m["role"].as_str().unwrap_or_default().to_owned()))
            .collect();
        roles.sort();
        Ok(Some(Account { active: user["active"] == json!(true), is_admin: user["is_admin"] == json!(true), roles }))
    }

    pub async fn create_token(&self, scopes: &[&str]) -> anyhow::Result<String> {
        let body = self
            .post_ok("/api/v1/api-tokens", &self.admin_token, json!({"name": "test", "scopes": scopes}), 201)
            .await?;
        Ok(body["secret"].as_str().unwrap_or_default().to_owned())
    }

    /// Creates a case in `unit` with an inline contact and a first message.
    /// A case's messages (up to 100), oldest first.
    pub async fn messages(&self, case: &str) -> anyhow::Result<Vec<Value>> {
        let reply = self.get(&format!("/api/v1/cases/{case}/messages?limit=100"), &self.admin_token).await?;
        anyhow::ensure!(reply.status == 200, "{}", reply.text);
        Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until message `id` of a case has delivery status `state`;
    /// fails with the conversation and what `provider` saw.
    pub async fn message_in(
        &self,
        case: &str,
        id: &str,
        state: &str,
        provider: &FakeProvider,
    ) -> anyhow::Result<Value> {
        let found = eventually(std::time::Duration::from_secs(30), || async {
            self.messages(case).await.ok()?.into_iter().find(|m| m["id"] == id && m["delivery_status"] == state)
        })
        .await;
        match found {
            Some(m) => Ok(m),
            None => anyhow::bail!(
                "message {id} never {state}: {:?}; provider saw {:?}",
                self.messages(case).await?,
                provider.requests()
            ),
        }
    }

    /// The files of the one message of the one case that has files, once
    /// none of them waits for its download any more.
    pub async fn settled_files(&self) -> anyhow::Result<Vec<Value>> {
        let case = self.only_case().await?;
        let case = case["id"].as_str().unwrap_or_default();
        let settled = eventually(std::time::Duration::from_secs(60), || async {
            let messages = self.messages(case).await.ok()?;
            let files: Vec<Value> =
                messages.iter().flat_map(|m| m["attachments"].as_array().cloned().unwrap_or_default()).collect();
            (!files.is_empty() && files.iter().all(|f| f["status"] != "pending")).then_some(files)
        })
        .await;
        match settled {
            Some(files) => Ok(files),
            None => anyhow::bail!("files never settled: {:?}", self.messages(case).await?),
        }
    }

    /// The bytes behind a kept file's `url`, fetched without credentials
    /// as a browser would.
    pub async fn download(&self, file: &Value) -> anyhow::Result<Vec<u8>> {
        let url = file["url"].as_str().context("the file has no url")?;
        let response = self.client.get(self.url(url)).send().await?;
        anyhow::ensure!(response.status() == 200, "{}", response.status());
        Ok(response.bytes().await?.to_vec())
    }

    /// A figure of `/metrics` without labels, if it is there.
    pub async fn metric(&self, name: &str) -> anyhow::Result<Option<f64>> {
        let text = self.client.get(self.url("/metrics")).send().await?.text().await?;
        let value = text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok());
        Ok(value)
    }

    /// Posts `body` to a channel account's webhook with `headers`, as its
    /// provider would.
    pub async fn webhook(&self, install: &str, body: &str, headers: &[(&str, &str)]) -> anyhow::Result<Reply> {
        let mut request = self.client.post(self.url(&format!("/api/v1/webhooks/{install}"))).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::reply(request.send().await?).await
    }

    /// The one case there is; fails when there are none or several.
    pub async fn only_case(&self) -> anyhow::Result<Value> {
        let cases = self.get("/api/v1/cases", &self.admin_token).await?;
        let items = cases.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.len() == 1, "expected one case: {}", cases.text);
        Ok(items[0].clone())
    }

    /// Uploads a file to a case as `token`; the reply (201 with its `reference`).
    pub async fn upload_file(
        &self,
        case: &str,
        token: &str,
        content_type: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let url = self.url(&format!("/api/v1/cases/{case}/attachments?file_name={name}"));
        let response =
            self.client.post(url).bearer_auth(token).header("content-type", content_type).body(bytes).send().await?;
        Self::reply(response).await
    }

    /// Uploads a file to a case and sends it with `body`; the message.
    pub async fn send_file(
        &self,
        case: &str,
        body: &str,
        content_type: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let uploaded = self.upload_file(case, &self.admin_token, content_type, name, bytes).await?;
        anyhow::ensure!(uploaded.status == 201, "{}", uploaded.text);
        let message =
            json!({"body": body, "attachments": [{"reference": uploaded.body["reference"], "file_name": name}]});
        self.post_ok(&format!("/api/v1/cases/{case}/messages"), &self.admin_token, message, 201).await
    }

    /// Moves the person's messages on a case `by` into the past, as if they
    /// had last written then (channels' reply windows).
    pub async fn age_inbound(&self, case_id: &str, by: chrono::Duration) -> anyhow::Result<()> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        use ventanilla::store::message::entity;
        entity::Entity::update_many()
            .col_expr(entity::Column::CreatedAt, Expr::value(chrono::Utc::now() - by))
            .filter(entity::Column::CaseId.eq(uuid::Uuid::parse_str(case_id)?))
            .filter(entity::Column::Direction.eq("inbound"))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// A case as the admin sees it.
    pub async fn case(&self, id: &str) -> anyhow::Result<Value> {
        Ok(self.get(&format!("/api/v1/cases/{id}"), &self.admin_token).await?.body)
    }

    /// Waits (up to 25 s) until the case satisfies `check`; fails with the
    /// case as it stands, saying what was awaited.
    pub async fn case_until(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let found = eventually(std::time::Duration::from_secs(25), || async {
            let c = self.case(id).await.ok()?;
            check(&c).then_some(c)
        })
        .await;
        match found {
            Some(c) => Ok(c),
            None => anyhow::bail!("{what}: case is {}", self.case(id).await?),
        }
    }

    /// Logs, as staff, what the person wrote on a case.
    pub async fn contact_says(&self, case: &str, text: &str) -> anyhow::Result<()> {
        let reply = self
            .post(
                &format!("/api/v1/cases/{case}/messages"),
                &self.admin_token,
                json!({"body": text, "author_kind": "contact"}),
            )
            .await?;
        anyhow::ensure!(reply.status == 201, "{}", reply.text);
        Ok(())
    }

    pub async fn create_case(&self, token: &str, unit: &str, subject: &str) -> anyhow::Result<Value> {
        self.post_ok(
            "/api/v1/cases",
            token,
            json!({
                "subject": subject, "channel": "whatsapp", "unit_id": unit,
                "contact": {"name": "Persona", "identities": [{"channel": "whatsapp",
                    "value": format!("+57300{:07}", rand_digits())}]},
                "first_message": {"body": format!("Hola: {subject}")},
            }),
            201,
        )
        .await
    }
}

fn rand_digits() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 10_000_000
}

/// Polls `check` until it returns `Some` or `deadline` passes.
pub async fn eventually<T, F, Fut>(deadline: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = std::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if std::time::Instant::now() > until {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The `ventanilla` binary built next to the test executables.
pub fn binary_path() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(|deps| deps.parent()).context("test executable has no target dir")?;
    let path = dir.join("ventanilla");
    anyhow::ensure!(
        path.exists(),
        "{} is missing: run `cargo build -p ventanilla` first (.ci/run does)",
        path.display()
    );
    Ok(path)
}

/// A `ventanilla serve` child process.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Server {
    /// Starts `ventanilla serve` on a free port with `envs` and waits for /readyz.
    pub async fn start(args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = std::process::Command::new(binary_path()?);
        command.arg("serve").args(args).arg("--listen").arg(&listen);
        for (key, value) in envs {
            command.env(key, value);
        }
        let child = command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn()?;
        let mut server = Server { child, base: format!("http://{listen}") };
        let client = reqwest::Client::new();
        let url = format!("{}/readyz", server.base);
        let ready = eventually(std::time::Duration::from_secs(60), || {
            let request = client.get(&url).send();
            async move { request.await.ok().filter(|r| r.status() == StatusCode::OK) }
        })
        .await;
        if ready.is_none() {
            server.kill();
            anyhow::bail!("ventanilla did not become ready on {listen}");
        }
        Ok(server)
    }

    /// SIGKILL: no shutdown hooks, no flushing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates an admin through the binary's `admin create` command.
pub fn create_admin_with_binary(envs: &[(&str, &str)], email: &str, password: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut command = std::process::Command::new(binary_path()?);
    command.args(["admin", "create", "--email", email, "--password-file", "-"]);
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(format!("{password}\n").as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "admin create failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}

/// Signs in against any base URL.
pub async fn login_at(client: &reqwest::Client, base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let reply = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    anyhow::ensure!(reply.status() == StatusCode::OK, "login failed: {}", reply.status());
    let body: Value = reply.json().await?;
    Ok(body["access_token"].as_str().unwrap_or_default().to_owned())
}

/// A plugin component built for wasm32-wasip2 by `.ci/run`
/// (`cargo build --target wasm32-wasip2 -p <crate>`), found next to the host build.
pub fn plugin_wasm(crate_name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target =
        exe.parent().and_then(|deps| deps.parent()).and_then(|debug| debug.parent()).context("no target dir")?;
    let path = target.join("wasm32-wasip2/debug").join(format!("{}.wasm", crate_name.replace('-', "_")));
    anyhow::ensure!(
        path.exists(),
        "{} is missing: run `cargo build --target wasm32-wasip2 -p {crate_name}` first (.ci/run does)",
        path.display()
    );
    Ok(path)
}

/// A request the fake provider received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A scripted answer: a status and, if given, the body to send.
type Scripted = (u16, Option<String>);

/// A tiny HTTP server playing a provider's API on 127.0.0.1: it records
/// every request and answers with the next scripted status and body (200
/// once the script runs out). `/echo` answers with the request's headers.
pub struct FakeProvider {
    pub port: u16,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Scripted>>>,
    /// The body of unscripted successes, `{n}` replaced by a counter.
    success: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// How long to hold each answer back after recording the request.
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Fixed answers to GET requests whose path contains the key.
    gets: std::sync::Arc<std::sync::Mutex<Vec<(String, Route)>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    pub async fn start() -> anyhow::Result<Self> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let script = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let success = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let gets = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Route)>::new()));
        let (log, plan, success_body, delay) = (received.clone(), script.clone(), success.clone(), delay_ms.clone());
        let fixed = gets.clone();
        let task = tokio::spawn(async move {
            let mut n = 0u32;
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = vec![];
                let mut chunk = [0u8; 8192];
                // Read the head, then as many body bytes as it announces.
                let (head, mut body) = loop {
                    let Ok(read) = socket.read(&mut chunk).await else { break (String::new(), vec![]) };
                    if read == 0 {
                        break (String::new(), vec![]);
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break (String::from_utf8_lossy(&buffer[..end]).into_owned(), buffer[end + 4..].to_vec());
                    }
                };
                let mut lines = head.lines();
                let mut first = lines.next().unwrap_or_default().split(' ');
                let (method, path) =
                    (first.next().unwrap_or_default().to_owned(), first.next().unwrap_or_default().to_owned());
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| {
                        l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    })
                    .collect();
                let length = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0usize);
                let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
                while if chunked { !body.ends_with(b"0\r\n\r\n") } else { body.len() < length } {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => body.extend_from_slice(&chunk[..read]),
                    }
                }
                if chunked {
                    body = dechunk(&body);
                }
                let route = (method == "GET")
                    .then(|| fixed.lock().ok()?.iter().find(|(key, _)| path.contains(key.as_str())).cloned())
                    .flatten();
                if let Some((_, route)) = route {
                    if let Ok(mut log) = log.lock() {
                        log.push(Received { method, path, headers, body: String::new() });
                    }
                    let location = route.location.map(|l| format!("location: {l}\r\n")).unwrap_or_default();
                    let head = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: {}\r\n{location}content-length: {}\r\nconnection: close\r\n\r\n",
                        route.status,
                        route.content_type,
                        route.body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&route.body).await;
                    let _ = socket.shutdown().await;
                    continue;
                }
                let (status, scripted) = plan.lock().map(|mut p| p.pop_front()).ok().flatten().unwrap_or((200, None));
                let reply = if let Some(body) = scripted {
                    body
                } else if path == "/echo" {
                    serde_json::to_string(&headers).unwrap_or_default()
                } else if status < 300 {
                    n += 1;
                    match success_body.lock().ok().and_then(|t| t.clone()) {
                        Some(template) => template.replace("{n}", &n.to_string()),
                        None => json!({"id": format!("prov-{n}")}).to_string(),
                    }
                } else {
                    json!({"error": "scripted failure"}).to_string()
                };
                if let Ok(mut log) = log.lock() {
                    log.push(Received { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() });
                }
                let hold = delay.load(std::sync::atomic::Ordering::Relaxed);
                if hold > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(hold)).await;
                }
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        Ok(FakeProvider { port, received, script, success, delay_ms, gets, _task: task })
    }

    /// Holds every answer back this long after the request is recorded.
    pub fn delay(&self, delay: std::time::Duration) {
        self.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// What to answer unscripted successes with; `{n}` counts them from 1.
    pub fn succeed_with(&self, template: &str) {
        if let Ok(mut success) = self.success.lock() {
            *success = Some(template.to_owned());
        }
    }

    /// Answers every GET whose path contains `path_part` with 200 and
    /// `body`, outside the script.
    pub fn on_get(&self, path_part: &str, body: Value) {
        self.route(
            path_part,
            Route {
                status: 200,
                content_type: "application/json".into(),
                body: body.to_string().into_bytes(),
                location: None,
            },
        );
    }

    /// Serves `bytes` as `content_type` to every GET whose path contains `path_part`.
    pub fn serve_file(&self, path_part: &str, content_type: &str, bytes: &[u8]) {
        self.route(
            path_part,
            Route { status: 200, content_type: content_type.into(), body: bytes.to_vec(), location: None },
        );
    }

    /// Answers every GET whose path contains `path_part` with `status` and
    /// a `Location` header.
    pub fn redirect(&self, path_part: &str, status: u16, location: &str) {
        self.route(
            path_part,
            Route { status, content_type: "text/plain".into(), body: vec![], location: Some(location.into()) },
        );
    }

    /// Answers every GET whose path contains `path_part` with `status`.
    pub fn fail_get(&self, path_part: &str, status: u16) {
        self.route(
            path_part,
            Route { status, content_type: "application/json".into(), body: b"{}".to_vec(), location: None },
        );
    }

    fn route(&self, path_part: &str, route: Route) {
        if let Ok(mut gets) = self.gets.lock() {
            gets.retain(|(key, _)| key != path_part);
            gets.push((path_part.to_owned(), route));
        }
    }

    /// Statuses to answer the next requests with, in order.
    pub fn answer(&self, statuses: &[u16]) {
        if let Ok(mut script) = self.script.lock() {
            script.extend(statuses.iter().map(|s| (*s, None)));
        }
    }

    /// Statuses and JSON bodies to answer the next requests with, in order.
    pub fn answer_json(&self, replies: impl IntoIterator<Item = (u16, Value)>) {
        if let Ok(mut script) = self.script.lock() {
            script.extend(replies.into_iter().map(|(s, body)| (s, Some(body.to_string()))));
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// A fixed answer to GETs.
#[derive(Clone)]
struct Route {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    location: Option<String>,
}

/// The payload of a chunked body.
pub(crate) fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).unwrap_or(0);
        if size == 0 || raw.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[(end + 4 + size).min(raw.len())..];
    }
    out
}

/// Uploads a plugin built from `tests/plugins/<name>` or `plugins/<name>`
/// (its plugin.toml, with `version` replaced) and returns the upload reply.
pub async fn upload_plugin(app: &TestApp, name: &str, version: &str) -> anyhow::Result<Reply> {
    upload_plugin_with(app, name, version, |manifest| manifest).await
}

/// Like [`upload_plugin`], with the manifest changed by `edit` first (e.g.
/// to grant the local stand-in of a provider's host).
pub async fn upload_plugin_with(
    app: &TestApp,
    name: &str,
    version: &str,
    edit: impl FnOnce(String) -> String,
) -> anyhow::Result<Reply> {
    upload_plugin_at(&app.client, &app.base, &app.admin_token, name, version, edit).await
}

/// Uploads a plugin to the server at `base` (a [`Server`] or a [`TestApp`]).
pub async fn upload_plugin_at(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    version: &str,
    edit: impl FnOnce(String) -> String,
) -> anyhow::Result<Reply> {
    use reqwest::multipart::{Form, Part};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = [root.join("plugins").join(name), root.join("../plugins").join(name)]
        .into_iter()
        .find(|d| d.join("plugin.toml").exists())
        .context("no plugin.toml for that plugin")?;
    // The manifest's own version line, whatever it says, becomes `version`.
    let manifest = std::fs::read_to_string(dir.join("plugin.toml"))?
        .lines()
        .map(|line| if line.starts_with("version = ") { format!("version = \"{version}\"") } else { line.to_owned() })
        .collect::<Vec<_>>()
        .join("\n");
    let manifest = edit(manifest);
    let wasm = std::fs::read(plugin_wasm(name)?)?;
    let form = Form::new()
        .part("manifest", Part::text(manifest).file_name("plugin.toml"))
        .part("component", Part::bytes(wasm).file_name("plugin.wasm"));
    let response = client.post(format!("{base}/api/v1/plugins")).bearer_auth(token).multipart(form).send().await?;
    TestApp::reply(response).await
}

/// Uploads and installs a plugin with settings, grants and units; returns the install.
pub async fn install_plugin(
    app: &TestApp,
    name: &str,
    settings: Value,
    grants: Value,
    units: &[&str],
) -> anyhow::Result<Value> {
    install_plugin_with(app, name, settings, grants, units, |manifest| manifest).await
}

/// Like [`install_plugin`], with the manifest changed by `edit` before the upload.
pub async fn install_plugin_with(
    app: &TestApp,
    name: &str,
    settings: Value,
    grants: Value,
    units: &[&str],
    edit: impl FnOnce(String) -> String,
) -> anyhow::Result<Value> {
    let uploaded = upload_plugin_with(app, name, "1.0.0", edit).await?;
    anyhow::ensure!(uploaded.status == 201 || uploaded.status == 409, "upload {name}: {}", uploaded.text);
    app.post_ok(
        "/api/v1/plugin-installs",
        &app.admin_token,
        json!({"plugin_id": name, "version": "1.0.0", "name": name, "settings": settings, "grants": grants, "units": units}),
        201,
    )
    .await
}

/// Stores a secret of a plugin install.
pub async fn set_secret(app: &TestApp, install: &str, name: &str, value: &str) -> anyhow::Result<()> {
    let reply = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/plugin-installs/{install}/secrets/{name}"),
            Some(&app.admin_token),
            Some(&json!({"value": value})),
        )
        .await?;
    anyhow::ensure!(reply.status == 204, "secret {name}: {}", reply.text);
    Ok(())
}
