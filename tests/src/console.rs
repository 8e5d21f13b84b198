//! A console's live stream (`GET /api/v1/stream`) read as the browser
//! reads it: server-sent events over one long response.

use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

/// One event received: its kind and body.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: String,
    pub body: Value,
}

/// A connected console; events arrive in order on `next`.
pub struct Console {
    events: mpsc::UnboundedReceiver<Event>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Console {
    /// Connects to `base` (an instance's address) with `token`, and waits
    /// until the stream says it is ready.
    pub async fn connect(base: &str, token: &str) -> anyhow::Result<Console> {
        let response = reqwest::Client::new().get(format!("{base}/api/v1/stream")).bearer_auth(token).send().await?;
        anyhow::ensure!(response.status() == 200, "stream: {}", response.status());
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut response = response;
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    let mut kind = String::new();
                    let mut data = String::new();
                    for line in frame.lines() {
                        if let Some(k) = line.strip_prefix("event: ") {
                            kind = k.to_owned();
                        } else if let Some(d) = line.strip_prefix("data: ") {
                            data.push_str(d);
                        }
                    }
                    if !kind.is_empty() {
                        let body = serde_json::from_str(&data).unwrap_or(Value::Null);
                        if tx.send(Event { kind, body }).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut console = Console { events: rx, task };
        console.next_of("ready", Duration::from_secs(10)).await?;
        Ok(console)
    }

    /// The next event, if one comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Event> {
        tokio::time::timeout(wait, self.events.recv()).await.ok().flatten()
    }

    /// The next event of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str, wait: Duration) -> anyhow::Result<Event> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(event) if event.kind == kind => return Ok(event),
                Some(_) => continue,
                None => anyhow::bail!("no `{kind}` event within {wait:?}"),
            }
        }
    }

    /// The next event about `case`, skipping others.
    pub async fn next_about(&mut self, case: &str, kind: &str, wait: Duration) -> anyhow::Result<Event> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(event) if event.kind == kind && event.body["case_id"] == case => return Ok(event),
                Some(_) => continue,
                None => anyhow::bail!("no `{kind}` event about {case} within {wait:?}"),
            }
        }
    }

    /// Every event that arrives within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Event> {
        let mut out = vec![];
        let until = tokio::time::Instant::now() + wait;
        while let Some(event) = self.next(until.saturating_duration_since(tokio::time::Instant::now())).await {
            out.push(event);
        }
        out
    }
}
