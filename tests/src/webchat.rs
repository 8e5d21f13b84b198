//! A visitor of the web chat, as the widget talks to the server.

use crate::{TestApp, eventually};
use serde_json::{Value, json};
use std::time::Duration;

/// A visitor of the web chat.
pub struct Visitor<'a> {
    app: &'a TestApp,
    pub token: String,
}

impl<'a> Visitor<'a> {
    pub async fn start(app: &'a TestApp, unit: &str) -> anyhow::Result<Visitor<'a>> {
        let session: Value = app
            .client
            .post(app.url("/api/v1/webchat/sessions"))
            .json(&json!({"unit": unit}))
            .send()
            .await?
            .json()
            .await?;
        Ok(Visitor { app, token: session["token"].as_str().unwrap_or_default().to_owned() })
    }

    pub async fn conversation(&self) -> anyhow::Result<Value> {
        let url = self.app.url("/api/v1/webchat/conversation");
        Ok(self.app.client.get(url).bearer_auth(&self.token).send().await?.json().await?)
    }

    /// What the bot and the host said (not the visitor).
    pub async fn bot_messages(&self) -> anyhow::Result<Vec<Value>> {
        let seen = self.conversation().await?;
        Ok(seen["messages"].as_array().into_iter().flatten().filter(|m| m["from"] != "me").cloned().collect())
    }

    /// Says `body` (choosing `option`, if any) and waits for the answers to it.
    pub async fn say(&self, body: &str, option: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let before = self.bot_messages().await?.len();
        self.send(body, option).await?;
        let answered = eventually(Duration::from_secs(20), || async {
            let messages = self.bot_messages().await.ok()?;
            // The bot's actions land together; wait a moment for all of them.
            (messages.len() > before).then(|| messages[before..].to_vec())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let all = self.bot_messages().await?;
        match answered {
            Some(_) => Ok(all[before..].to_vec()),
            None => anyhow::bail!("the bot did not answer `{body}`: {}", self.conversation().await?),
        }
    }

    /// Says `body` without waiting for answers.
    pub async fn send(&self, body: &str, option: Option<&str>) -> anyhow::Result<()> {
        let mut message = json!({"body": body});
        if let Some(option) = option {
            message["selected_option"] = json!(option);
        }
        let sent = self
            .app
            .client
            .post(self.app.url("/api/v1/webchat/messages"))
            .bearer_auth(&self.token)
            .json(&message)
            .send()
            .await?;
        anyhow::ensure!(sent.status() == 201, "{}", sent.text().await?);
        Ok(())
    }

    /// Who answers the visitor now, as the widget shows it.
    pub async fn answering(&self) -> anyhow::Result<Value> {
        Ok(self.conversation().await?["answering"].clone())
    }
}
