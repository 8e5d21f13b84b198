//! The plugin host against real wasm32-wasip2 components: a well-behaved
//! bot, hostile ones, the frozen v1 fixture, and the compile cache.

use std::time::{Duration, Instant};
use ventanilla::plugins::bot::BotEvent;
use ventanilla::plugins::{CallContext, Error, Grants, Limits, PluginHost};
use ventanilla_tests::plugin_wasm;

fn event(body: &str, settings: serde_json::Value) -> BotEvent {
    ventanilla::plugins::bot::dry_run_event(body.into(), settings.to_string(), "es".into())
}

fn limits() -> Limits {
    Limits { cpu_ms: 100, wall_ms: 2_000, memory_bytes: 16 * 1024 * 1024, ..Limits::default() }
}

fn all_grants() -> Grants {
    Grants { kv: true, kb_search: true, ..Grants::default() }
}

fn host() -> anyhow::Result<PluginHost> {
    Ok(PluginHost::new(None, limits())?)
}

fn replies(actions: &[ventanilla::plugins::bot::Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            ventanilla::plugins::bot::Action::Reply(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_lives_in_kv_not_in_the_instance() -> anyhow::Result<()> {
    let host = host()?;
    let bot = host.prepare_bot(&host.compile(&std::fs::read(plugin_wasm("hostile-bot")?)?)?)?;
    for n in 1..=3 {
        let (actions, _) = host
            .run_bot(&bot, CallContext::new("install-a", all_grants()), &event("hola", serde_json::json!({})))
            .await?;
        anyhow::ensure!(replies(&actions) == [format!("hola #{n}")], "{actions:?}");
    }
    let (other, _) =
        host.run_bot(&bot, CallContext::new("install-b", all_grants()), &event("hola", serde_json::json!({}))).await?;
    anyhow::ensure!(replies(&other) == ["hola #1"], "installs do not share kv");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_contained() -> anyhow::Result<()> {
    let host = host()?;
    let bot = host.prepare_bot(&host.compile(&std::fs::read(plugin_wasm("hostile-bot")?)?)?)?;
    let run = |mode: &'static str| {
        let (host, bot) = (host.clone(), bot.clone());
        async move {
            host.run_bot(
                &bot,
                CallContext::new("hostile", all_grants()),
                &event("x", serde_json::json!({"mode": mode})),
            )
            .await
        }
    };

    let started = Instant::now();
    let looped = run("loop").await;
    anyhow::ensure!(matches!(looped, Err(Error::Deadline)), "an infinite loop is stopped: {looped:?}");
    anyhow::ensure!(started.elapsed() < Duration::from_secs(2), "within its deadline: {:?}", started.elapsed());

    let bomb = run("memory").await;
    anyhow::ensure!(matches!(bomb, Err(Error::MemoryExceeded)), "a memory bomb hits the cap: {bomb:?}");
    let panicked = run("panic").await;
    anyhow::ensure!(matches!(panicked, Err(Error::Trap(_))), "a panic traps: {panicked:?}");
    let huge = run("huge-output").await;
    anyhow::ensure!(matches!(huge, Err(Error::InvalidOutput(_))), "oversized output is rejected: {huge:?}");
    let many = run("many-actions").await;
    anyhow::ensure!(matches!(many, Err(Error::InvalidOutput(_))), "too many actions are rejected: {many:?}");
    let failed = run("error").await;
    anyhow::ensure!(matches!(failed, Err(Error::Plugin(ref m)) if m == "no puedo"), "{failed:?}");
    let (_, logs) = run("log-flood").await?;
    let logged: usize = logs.iter().map(|(_, text)| text.len()).sum();
    anyhow::ensure!(logged <= Limits::default().max_log_bytes, "log volume is capped: {logged}");

    // After all that, the same component still serves well-behaved calls.
    let (actions, _) = run("echo").await?;
    anyhow::ensure!(replies(&actions).len() == 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_does_not_block_others() -> anyhow::Result<()> {
    let host = host()?;
    let bot = host.prepare_bot(&host.compile(&std::fs::read(plugin_wasm("hostile-bot")?)?)?)?;
    let spinning = {
        let (host, bot) = (host.clone(), bot.clone());
        tokio::spawn(async move {
            for _ in 0..5 {
                let _ = host
                    .run_bot(
                        &bot,
                        CallContext::new("spin", all_grants()),
                        &event("x", serde_json::json!({"mode": "loop"})),
                    )
                    .await;
            }
        })
    };
    let mut served = 0;
    while !spinning.is_finished() {
        host.run_bot(&bot, CallContext::new("calm", all_grants()), &event("hola", serde_json::json!({}))).await?;
        served += 1;
    }
    anyhow::ensure!(served > 5, "other calls were served while one plugin spun: {served}");
    Ok(())
}

/// On a single-threaded caller, other work finishes long before a spinning
/// plugin is interrupted: the plugin runs on the host's executor (and yields
/// there at every epoch tick), never on the caller's thread.
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_plugin_does_not_hold_the_callers_thread() -> anyhow::Result<()> {
    let host = host()?;
    let bot = host.prepare_bot(&host.compile(&std::fs::read(plugin_wasm("hostile-bot")?)?)?)?;
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let spin = {
        let (order, host, bot) = (order.clone(), host.clone(), bot.clone());
        async move {
            let result = host
                .run_bot(&bot, CallContext::new("spin", all_grants()), &event("x", serde_json::json!({"mode": "loop"})))
                .await;
            order.lock().map(|mut o| o.push("plugin interrupted")).ok();
            result
        }
    };
    let other = {
        let order = order.clone();
        async move {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            order.lock().map(|mut o| o.push("other work done")).ok();
        }
    };
    let (result, ()) = tokio::join!(spin, other);
    anyhow::ensure!(matches!(result, Err(Error::Deadline)), "{result:?}");
    let order = order.lock().map(|o| o.clone()).unwrap_or_default();
    anyhow::ensure!(order == ["other work done", "plugin interrupted"], "{order:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_imports_are_denied() -> anyhow::Result<()> {
    let host = host()?;
    let bot = host.prepare_bot(&host.compile(&std::fs::read(plugin_wasm("hostile-bot")?)?)?)?;
    let settings = serde_json::json!({"mode": "capabilities"});
    let (none, _) = host.run_bot(&bot, CallContext::new("i", Grants::default()), &event("x", settings.clone())).await?;
    anyhow::ensure!(replies(&none) == ["kv=KvError::Denied kb=KbError::Denied"], "{none:?}");
    let (granted, _) = host.run_bot(&bot, CallContext::new("i", all_grants()), &event("x", settings)).await?;
    anyhow::ensure!(replies(&granted) == ["kv=ok kb=KbError::Unavailable"], "{granted:?}");
    Ok(())
}

#[tokio::test]
async fn invalid_components_are_refused() -> anyhow::Result<()> {
    let host = host()?;
    for (what, bytes) in [
        ("not wasm", b"hello, this is not wasm".to_vec()),
        ("a core module", b"\0asm\x01\0\0\0".to_vec()),
        ("a truncated component", b"\0asm\x0d\0\x01\0\x01".to_vec()),
    ] {
        let result = host.compile(&bytes);
        anyhow::ensure!(matches!(result, Err(Error::InvalidComponent(_))), "{what}: {:?}", result.err());
    }
    Ok(())
}

/// A component built against the frozen 1.0.0 contract and committed as a
/// file keeps loading and behaving after host changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frozen_v1_fixture_still_loads() -> anyhow::Result<()> {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plugins/example-bot-1.0.0.wasm");
    let host = host()?;
    let bot = host.prepare_bot(&host.compile(&std::fs::read(fixture)?)?)?;
    let settings = serde_json::json!({"handoff_unit": "mesa-de-ayuda"});
    let (actions, _) = host
        .run_bot(&bot, CallContext::new("v1", all_grants()), &event("Quiero hablar con un humano", settings))
        .await?;
    anyhow::ensure!(
        actions
            .iter()
            .any(|a| matches!(a, ventanilla::plugins::bot::Action::HandOff(h) if h.unit_slug == "mesa-de-ayuda")),
        "{actions:?}"
    );
    Ok(())
}

/// A connector built against WIT 1.0.0 (the SMS connector as it was before
/// 1.1 added imports) links against the 1.1 host and verifies and parses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_0_connector_runs_on_the_v1_1_host() -> anyhow::Result<()> {
    use ventanilla::plugins::connector::InboundRequest;
    use ventanilla::secrets::{SecretValue, hmac_sha1_base64};
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plugins/sms-twilio-1.0.0.wasm");
    let host = host()?;
    let connector = host.prepare_connector(&host.compile(&std::fs::read(fixture)?)?)?;
    let url = "https://ventanilla.example.edu/api/v1/webhooks/sms";
    let token = "twilio-auth-token";
    let fields = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("Body", "Hola"),
        ("From", "+573001234567"),
        ("MessageSid", "SM1"),
        ("NumMedia", "0"),
        ("To", "+15005550006"),
    ];
    let signed: String = fields.iter().fold(url.to_owned(), |s, (k, v)| format!("{s}{k}{v}"));
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", v.replace('+', "%2B"))).collect();
    let request = |signature: String| InboundRequest {
        method: "POST".into(),
        path: String::new(),
        query: vec![],
        headers: vec![
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ("x-twilio-signature".into(), signature),
        ],
        body: body.join("&").into_bytes(),
        settings: serde_json::json!({"account_sid": fields[0].1, "webhook_url": url}).to_string(),
    };
    let mut ctx = CallContext::new("v1-connector", Grants { secrets: vec!["auth_token".into()], ..Grants::default() });
    ctx.secrets.insert("auth_token".into(), SecretValue::new(token.as_bytes().to_vec()));
    let good = hmac_sha1_base64(token.as_bytes(), signed.as_bytes());
    let (parsed, _) = host.run_parse(&connector, ctx.clone(), request(good)).await?;
    let parsed = parsed.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anyhow::ensure!(parsed.messages.len() == 1 && parsed.messages[0].body == "Hola", "{parsed:?}");
    let (refused, _) = host.run_parse(&connector, ctx, request("bm9wZQ==".into())).await?;
    anyhow::ensure!(refused.is_err(), "a wrong signature is refused");
    Ok(())
}

#[tokio::test]
async fn compiled_components_are_cached_by_hash() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ventanilla-cache-{}", uuid::Uuid::new_v4().simple()));
    let host = PluginHost::new(Some(dir.clone()), limits())?;
    let bytes = std::fs::read(plugin_wasm("example-bot")?)?;
    let first = host.compile(&bytes)?;
    let cached = dir.join(format!("{}.cwasm", first.hash));
    anyhow::ensure!(cached.exists(), "compiled once and cached");
    // A second host (a restart) loads the cached artifact instead of compiling.
    let restarted = PluginHost::new(Some(dir.clone()), limits())?;
    let second = restarted.compile(&bytes)?;
    anyhow::ensure!(second.hash == first.hash);
    restarted.prepare_bot(&second)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
