//! A real OpenID Provider for the single sign-on tests: panva's
//! `oidc-provider` from the npm registry (installed by
//! `npm ci --prefix tests/browser`), run by Node.js on a free port, with
//! its development sign-in pages. Who each login is (e-mail, name,
//! groups) is a JSON file the test rewrites between sign-ins.

use anyhow::Context;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// The client secret the provider and Ventanilla share in tests.
pub const CLIENT_SECRET: &str = "a-client-secret-for-tests-only-0123456789";

pub struct OidcProvider {
    child: std::process::Child,
    pub issuer: String,
    accounts: PathBuf,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl OidcProvider {
    /// Starts the provider, which sends people back to `redirect_uri`.
    pub fn start(redirect_uri: &str) -> anyhow::Result<OidcProvider> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("ventanilla-oidc-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let accounts = dir.join("accounts.json");
        std::fs::write(&accounts, "{}")?;
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/oidc-provider.mjs");
        let mut child = std::process::Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .arg(&accounts)
            .arg(CLIENT_SECRET)
            .arg(redirect_uri)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot start node (the OpenID provider of the tests)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        // Keep reading what it prints: a closed pipe would end it at its next line.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        if !first.starts_with("ready") {
            let _ = child.kill();
            anyhow::bail!("the OpenID provider did not start (run `npm ci --prefix tests/browser`): {first}");
        }
        Ok(OidcProvider { child, issuer: format!("http://127.0.0.1:{port}"), accounts, _dir: tempdir::Dir(dir) })
    }

    /// Says who `login` is: e-mail (verified), name and groups.
    pub fn set_account(&self, login: &str, email: &str, name: &str, groups: &[&str]) -> anyhow::Result<()> {
        let mut all: Value = serde_json::from_slice(&std::fs::read(&self.accounts)?)?;
        all[login] = json!({ "email": email, "email_verified": true, "name": name, "groups": groups });
        std::fs::write(&self.accounts, serde_json::to_vec(&all)?)?;
        Ok(())
    }

    /// `[[auth.oidc]]` for this provider, as Ventanilla's configuration
    /// takes it, with `mappings`.
    pub fn config(
        &self,
        id: &str,
        mappings: Vec<ventanilla::config::GroupMapping>,
    ) -> ventanilla::config::OidcProvider {
        ventanilla::config::OidcProvider {
            id: id.into(),
            name: "Cuenta institucional".into(),
            issuer: self.issuer.clone(),
            client_id: "ventanilla".into(),
            client_secret: Some(ventanilla::config::Secret::new(CLIENT_SECRET)),
            scopes: vec!["email".into(), "profile".into(), "groups".into()],
            groups_claim: "groups".into(),
            create_accounts: true,
            link_by_email: false,
            mappings,
        }
    }
}

/// `group -> role of unit` (`unit` none for `admin`).
pub fn mapping(group: &str, unit: Option<&str>, role: &str) -> ventanilla::config::GroupMapping {
    ventanilla::config::GroupMapping { group: group.into(), unit: unit.map(str::to_owned), role: role.into() }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test server signing in through a real provider started for it
/// (`[[auth.oidc]]` id `uni`), with units `bienestar` and `admisiones` and
/// the mappings `psicologia-staff` → supervisor of bienestar,
/// `admisiones-staff` → agent of admisiones, `ti-admins` → admin;
/// `adjust` changes the configuration last.
pub async fn spawn_with_provider(
    backend: crate::Backend,
    adjust: impl FnOnce(&mut ventanilla::config::Config),
) -> anyhow::Result<(crate::TestApp, OidcProvider)> {
    let (listen, base) = reserve_address()?;
    let provider = OidcProvider::start(&format!("{base}/api/v1/auth/sso/uni/callback"))?;
    let config = provider.config(
        "uni",
        vec![
            mapping("psicologia-staff", Some("bienestar"), "supervisor"),
            mapping("admisiones-staff", Some("admisiones"), "agent"),
            mapping("ti-admins", None, "admin"),
        ],
    );
    let app = crate::spawn_app_with(backend, |c| {
        c.listen = listen;
        c.public_url = Some(base);
        c.auth.oidc = vec![config];
        adjust(c);
    })
    .await?;
    app.create_unit("bienestar").await?;
    app.create_unit("admisiones").await?;
    Ok((app, provider))
}

/// A free port and the address a test server on it answers at: single
/// sign-on needs `public_url` before the server starts.
pub fn reserve_address() -> anyhow::Result<(String, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok((format!("127.0.0.1:{port}"), format!("http://127.0.0.1:{port}")))
}
