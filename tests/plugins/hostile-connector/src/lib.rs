//! A connector for a made-up provider ("Fake"), for tests. Webhooks carry
//! `{"messages": [{"id", "from", "name", "text", "option"}], "statuses":
//! [{"id", "state"}]}` signed with HMAC-SHA256 of the body in
//! `x-fake-signature`; sending POSTs to `settings.send_url` with a bearer
//! token. `settings.mode` picks misbehaviour. A message's `files` ([{"name",
//! "type", "ref"}]) become attachments whose reference is a URL the host
//! downloads as is (with the bearer token when `settings.media_auth`).

use serde_json::{Value, json};
use ventanilla_sdk::connector::ventanilla::plugin::http::{self, Auth, HeaderFromSecret, Request};
use ventanilla_sdk::connector::ventanilla::plugin::media::{MediaError, MediaLocation};
use ventanilla_sdk::connector::ventanilla::plugin::secrets;
use ventanilla_sdk::connector::ventanilla::plugin::templates::{AccountStanding, ProviderTemplate, TemplateError};
use ventanilla_sdk::connector::{
    ContactProfile, DeliveryState, Guest, InboundMessage, InboundRequest, OutboundMessage, ParseError, Parsed,
    SendError, SendReceipt, StatusUpdate,
};
use ventanilla_sdk::types::Attachment;

struct Fake;

fn settings(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_default()
}

fn header<'a>(request: &'a InboundRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn answer(body: Value) -> Parsed {
    Parsed {
        response_status: 200,
        response_body: body.to_string().into_bytes(),
        response_content_type: "application/json".into(),
        messages: vec![],
        statuses: vec![],
        profiles: vec![],
    }
}

/// Tries to reach what it must not, and reports what the host said.
fn probe(url: &str, auth: Option<Auth>) -> String {
    let request =
        Request { method: "GET".into(), url: url.into(), headers: vec![], body: vec![], auth, timeout_ms: None };
    match http::fetch(&request) {
        Ok(response) => format!("{} {}", response.status, String::from_utf8_lossy(&response.body)),
        Err(e) => format!("{e:?}"),
    }
}

impl Guest for Fake {
    fn verify_and_parse(request: InboundRequest) -> Result<Parsed, ParseError> {
        let settings = settings(&request.settings);
        match settings["mode"].as_str().unwrap_or("normal") {
            "loop" => loop {
                std::hint::black_box(0u8);
            },
            "panic" => panic!("the connector fell over"),
            "probe" => {
                let target = settings["target"].as_str().unwrap_or_default().to_owned();
                let report = json!({
                    "loopback": probe("http://127.0.0.1/", None),
                    "private": probe("http://10.0.0.1/", None),
                    "metadata": probe("http://169.254.169.254/latest/meta-data", None),
                    "not_granted": probe("https://evil.example.com/", None),
                    "target": probe(&target, None),
                    "ungranted_secret": secrets::equals("other", "x").map_err(|e| format!("{e:?}")).err(),
                    "steal": probe(&target, Some(Auth::Header(HeaderFromSecret {
                        name: "x-echo".into(), prefix: String::new(), secret: "api_token".into(),
                    }))),
                });
                return Ok(answer(report));
            }
            _ => {}
        }
        if request.method == "GET" {
            let challenge = request.query.iter().find(|(k, _)| k == "challenge").map(|(_, v)| v.clone());
            return match challenge {
                Some(challenge) => Ok(Parsed { response_body: challenge.into_bytes(), ..answer(Value::Null) }),
                None => Err(ParseError::Malformed("a GET needs ?challenge=".into())),
            };
        }
        let signature = header(&request, "x-fake-signature").unwrap_or_default();
        match secrets::verify_hmac_sha256("app_secret", &request.body, signature) {
            Ok(true) => {}
            Ok(false) => return Err(ParseError::Unauthorized("bad signature".into())),
            Err(e) => return Err(ParseError::Unauthorized(format!("cannot verify: {e:?}"))),
        }
        let body: Value =
            serde_json::from_slice(&request.body).map_err(|e| ParseError::Malformed(format!("not JSON: {e}")))?;
        let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let mut parsed = answer(json!({"ok": true}));
        for m in body["messages"].as_array().into_iter().flatten() {
            parsed.messages.push(InboundMessage {
                provider_message_id: text(m, "id"),
                sender: text(m, "from"),
                sender_name: m["name"].as_str().map(str::to_owned),
                body: text(m, "text"),
                attachments: m["files"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| Attachment {
                        file_name: text(f, "name"),
                        content_type: text(f, "type"),
                        size_bytes: 0,
                        reference: text(f, "ref"),
                    })
                    .collect(),
                selected_option: m["option"].as_str().map(str::to_owned),
                sent_at: 0,
                thread_keys: vec![],
            });
            if let Some(name) = m["name"].as_str() {
                parsed.profiles.push(ContactProfile { sender: text(m, "from"), name: Some(name.into()) });
            }
        }
        for s in body["statuses"].as_array().into_iter().flatten() {
            let state = match s["state"].as_str() {
                Some("delivered") => DeliveryState::Delivered,
                Some("read") => DeliveryState::Read,
                Some("failed") => DeliveryState::Failed,
                _ => DeliveryState::Sent,
            };
            parsed.statuses.push(StatusUpdate { provider_message_id: text(s, "id"), state, error: None });
        }
        Ok(parsed)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let settings = settings(&message.settings);
        let url = settings["send_url"].as_str().unwrap_or_default().to_owned();
        let body = json!({
            "to": message.recipient,
            "text": message.body,
            "options": message.options.iter().map(|o| json!({"id": o.id, "label": o.label})).collect::<Vec<_>>(),
            "key": message.idempotency_key,
        });
        let request = Request {
            method: "POST".into(),
            url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            auth: Some(Auth::Header(HeaderFromSecret {
                name: "authorization".into(),
                prefix: "Bearer ".into(),
                secret: "api_token".into(),
            })),
            timeout_ms: Some(2000),
        };
        match http::fetch(&request) {
            Ok(r) if (200..300).contains(&r.status) => {
                let reply: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                Ok(SendReceipt { provider_message_id: reply["id"].as_str().unwrap_or("sent").to_owned() })
            }
            Ok(r) => Err(SendError { message: format!("provider answered {}", r.status), retryable: r.status >= 500 }),
            Err(e) => Err(SendError { message: format!("{e:?}"), retryable: true }),
        }
    }

    /// The provider keeps no message templates, nor a messaging limit.
    fn list_templates(_settings: String) -> Result<Vec<ProviderTemplate>, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn account_standing(_settings: String) -> Result<AccountStanding, TemplateError> {
        Err(TemplateError::Unsupported)
    }

    fn locate_media(reference: String, settings: String) -> Result<MediaLocation, MediaError> {
        let settings = self::settings(&settings);
        match settings["mode"].as_str().unwrap_or("normal") {
            "media_trap" => panic!("the connector fell over looking for a file"),
            "media_gone" => return Err(MediaError::Gone("the provider deleted it".into())),
            _ => {}
        }
        let auth = settings["media_auth"].as_bool().unwrap_or(false).then(|| {
            Auth::Header(HeaderFromSecret {
                name: "authorization".into(),
                prefix: "Bearer ".into(),
                secret: "api_token".into(),
            })
        });
        Ok(MediaLocation { url: reference, auth, secret_in_url: None, content_type: None })
    }
}

ventanilla_sdk::connector::export_connector!(Fake);
