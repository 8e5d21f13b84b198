//! Two instances on one PostgreSQL database: a message taken in by one
//! reaches a console connected to the other (LISTEN/NOTIFY), and every job
//! (sends, routing, plugin events) runs exactly once across both.

use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use ventanilla_tests::console::Console;
use ventanilla_tests::{Backend, eventually};

use super::channel_sms::{PUBLIC, incoming, sms};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_live_events_and_run_each_job_once() -> anyhow::Result<()> {
    let sms = sms(Backend::Postgres).await?;
    let app = &sms.app;
    let port = sms.provider.port;
    let other = app
        .another_instance(|c| {
            c.plugins.private_hosts = vec![format!("localhost:{port}")];
            c.public_url = Some(PUBLIC.into());
        })
        .await?;
    let units = app.get("/api/v1/units", &app.admin_token).await?;
    let unit = units.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let (agent_id, agent) = app.create_member("ana@uni.test", &unit, "agent").await?;

    // A console on the second instance hears of an SMS the first took in.
    let mut console = Console::connect(&other.base, &agent).await?;
    let sent = Instant::now();
    sms.deliver(&incoming("SM100", "Hola, ¿hay cupos en Enfermería?", &[])).await?;
    let message = console.next_of("message.created", WAIT).await?;
    eprintln!("webhook on one instance → console on the other: {:?}", sent.elapsed());
    assert_eq!(message.body["data"]["direction"], "inbound");
    let case = message.body["case_id"].as_str().unwrap_or_default().to_owned();

    // Replies written on both instances are each sent once.
    let claimed = app.call(reqwest::Method::POST, &format!("/api/v1/cases/{case}/claim"), Some(&agent), None).await?;
    assert_eq!(claimed.status, 200, "{}", claimed.text);
    let client = reqwest::Client::new();
    for n in 0..20 {
        let base = if n % 2 == 0 { app.base.as_str() } else { other.base.as_str() };
        let reply = client
            .post(format!("{base}/api/v1/cases/{case}/messages"))
            .bearer_auth(&agent)
            .json(&json!({"body": format!("Respuesta número {n}")}))
            .send()
            .await?;
        assert_eq!(reply.status(), 201, "{}", reply.text().await?);
    }
    let sends = || {
        sms.provider
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.contains("Messages"))
            .filter(|r| r.body.contains("Respuesta"))
            .map(|r| r.body)
            .collect::<Vec<_>>()
    };
    let all_sent = eventually(WAIT, || async { (sends().len() >= 20).then_some(()) }).await;
    // Whatever else would go out (a duplicate) has time to.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bodies = sends();
    let mut per_reply: HashMap<String, usize> = HashMap::new();
    for body in &bodies {
        let n = body.split("Respuesta").nth(1).unwrap_or_default().to_owned();
        *per_reply.entry(n).or_default() += 1;
    }
    assert!(all_sent.is_some(), "sent {} of 20: {bodies:?}", bodies.len());
    assert_eq!(bodies.len(), 20, "each reply sent exactly once: {per_reply:?}");
    assert!(per_reply.values().all(|n| *n == 1), "{per_reply:?}");

    // Routing jobs requested on both instances hand each case out once.
    let routed = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/units/{unit}"),
            Some(&app.admin_token),
            Some(&json!({"routing": {"mode": "least_loaded", "capacity": {"default": 50}}})),
        )
        .await?;
    assert_eq!(routed.status, 200, "{}", routed.text);
    let presence = client
        .put(format!("{}/api/v1/agents/me/presence", other.base))
        .bearer_auth(&agent)
        .json(&json!({"presence": "online"}))
        .send()
        .await?;
    assert_eq!(presence.status(), 200);
    let mut cases = vec![];
    for n in 0..10 {
        let sid = format!("SM2{n:02}");
        let from = format!("+5730099900{n:02}");
        let mut fields = incoming(&sid, "Otra consulta", &[]);
        fields.retain(|(k, _)| *k != "From");
        fields.push(("From", from));
        sms.deliver(&fields).await?;
    }
    let everything = eventually(WAIT, || async {
        let list = app.get(&format!("/api/v1/cases?unit_id={unit}&limit=100"), &app.admin_token).await.ok()?;
        let items = list.body["items"].as_array()?.clone();
        (items.len() == 11 && items.iter().all(|c| c["assignee_id"] == agent_id.as_str())).then_some(items)
    })
    .await;
    let Some(items) = everything else { anyhow::bail!("not every case reached Ana") };
    cases.extend(items.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)));
    for case in &cases {
        let audit =
            app.get(&format!("/api/v1/audit-events?target_id={case}&action=case.assigned"), &app.admin_token).await?;
        let assigned = audit.body["items"].as_array().map_or(0, Vec::len);
        assert_eq!(assigned, 1, "case {case} assigned {assigned} times: {}", audit.text);
    }
    Ok(())
}
