//! Browser tests in real headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver.

mod campaigns;
mod console;
mod help_center;
mod outbound;
mod privacy;
mod reports;
mod security;
mod sso;
mod templates;
mod webchat;

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use std::time::Duration;
use ventanilla_tests::eventually;

/// A chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: std::process::Child,
    port: u16,
}

impl Driver {
    pub fn start() -> anyhow::Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = std::process::Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start chromedriver (apt-get install chromium-driver): {e}"))?;
        Ok(Driver { child, port })
    }

    pub async fn client(&self) -> anyhow::Result<Client> {
        let mut caps = serde_json::Map::new();
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=es"]}),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        let client = eventually(Duration::from_secs(15), || {
            let (caps, url) = (caps.clone(), url.clone());
            async move {
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&url)
                    .await
                    .ok()
            }
        })
        .await;
        client.ok_or_else(|| anyhow::anyhow!("chromedriver did not accept a session"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs axe-core (WCAG 2 A and AA) on the page as it stands; fails with the violations.
pub async fn assert_accessible(client: &Client, page: &str) -> anyhow::Result<()> {
    let axe = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe)
        .map_err(|e| anyhow::anyhow!("{} ({e}): run `npm ci --prefix tests/browser`", axe.display()))?;
    client.execute(&source, vec![]).await?;
    let script = "const done = arguments[arguments.length - 1];\
                  axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})\
                     .then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))\
                     .catch(e => done(['axe failed: ' + e]));";
    let violations = client.execute_async(script, vec![]).await?;
    anyhow::ensure!(violations == json!([]), "accessibility violations on the {page} page: {violations}");
    Ok(())
}
