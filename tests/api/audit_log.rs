//! The audit log as a record of who saw what: reads of a sensitive unit's
//! cases, of a person's consent history and exports are written; admins
//! search it and download it as CSV (only they, and `audit:read` tokens);
//! old entries leave after the retention the institution sets, cases'
//! timelines stay.

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla_tests::{TestApp, on_both, spawn_app, spawn_app_with};

async fn entries(app: &TestApp, query: &str) -> anyhow::Result<Vec<Value>> {
    let reply = app.get(&format!("/api/v1/audit-events?{query}"), &app.admin_token).await?;
    anyhow::ensure!(reply.status == 200, "{}", reply.text);
    Ok(reply.body["items"].as_array().cloned().unwrap_or_default())
}

on_both! {
    async fn an_api_tokens_use_is_recorded_once_an_hour_with_its_address(backend) {
        let app = spawn_app(backend).await?;
        let token = app.create_token(&["units:read"]).await?;
        for _ in 0..3 {
            assert_eq!(app.get("/api/v1/units", &token).await?.status, 200);
        }
        let used = entries(&app, "action=api_token.used").await?;
        assert_eq!(used.len(), 1, "{used:?}");
        assert_eq!(used[0]["details"]["ip"], "127.0.0.1");
        assert_eq!(used[0]["details"]["first_use"], true);
        assert_eq!(used[0]["actor_kind"], "api_token", "{:?}", used[0]);
        // An hour later it is used again: a second entry.
        {
            use sea_orm::{EntityTrait, sea_query::Expr};
            use ventanilla::store::api_token::entity;
            entity::Entity::update_many()
                .col_expr(entity::Column::LastUsedAt, Expr::value(chrono::Utc::now() - chrono::Duration::minutes(61)))
                .exec(&app.store.db)
                .await?;
        }
        assert_eq!(app.get("/api/v1/units", &token).await?.status, 200);
        let used = entries(&app, "action=api_token.used").await?;
        assert_eq!(used.len(), 2, "{used:?}");
        assert_eq!(used[0]["details"]["first_use"], false);
        Ok(())
    }

    async fn reading_a_sensitive_units_case_is_recorded(backend) {
        let app = spawn_app(backend).await?;
        let bienestar = app.create_unit("bienestar").await?;
        let admisiones = app.create_unit("admisiones").await?;
        let (ana, ana_token) = app.create_member("ana@test.example", &bienestar, "agent").await?;
        let (_, sup_token) = app.create_member("sup@test.example", &bienestar, "supervisor").await?;
        let (_, other_token) = app.create_member("otro@test.example", &admisiones, "agent").await?;
        let sensitive = app.create_case(&app.admin_token, &bienestar, "Acompañamiento psicológico").await?;
        let sensitive = sensitive["id"].as_str().unwrap_or_default().to_owned();
        let ordinary = app.create_case(&app.admin_token, &admisiones, "Certificado").await?;
        let ordinary = ordinary["id"].as_str().unwrap_or_default().to_owned();

        // Only an admin decides; a supervisor's settings keep it as it is.
        let on = app.patch(&format!("/api/v1/units/{bienestar}"), &app.admin_token, json!({"privacy": {"record_reads": true}})).await?;
        anyhow::ensure!(on.status == 200 && on.body["privacy"]["record_reads"] == true, "{}", on.text);
        let off = app.patch(&format!("/api/v1/units/{bienestar}"), &sup_token, json!({"privacy": {"record_reads": false, "ask_consent": true}})).await?;
        anyhow::ensure!(off.status == 200 && off.body["privacy"]["record_reads"] == true
            && off.body["privacy"]["ask_consent"] == true, "{}", off.text);

        // Ana opens the case, its messages and notes: one entry for her reading.
        for part in ["", "/messages", "/notes"] {
            let read = app.get(&format!("/api/v1/cases/{sensitive}{part}"), &ana_token).await?;
            anyhow::ensure!(read.status == 200, "{}", read.text);
        }
        let reads = entries(&app, &format!("action=case.read&target_id={sensitive}")).await?;
        anyhow::ensure!(reads.len() == 1, "{reads:?}");
        anyhow::ensure!(reads[0]["actor_id"] == ana.as_str() && reads[0]["unit_id"] == bienestar.as_str()
            && reads[0]["details"]["first_part"] == "case", "{reads:?}");
        // Someone else's reading is their own entry; a refused one is none.
        app.get(&format!("/api/v1/cases/{sensitive}/messages"), &sup_token).await?;
        let refused = app.get(&format!("/api/v1/cases/{sensitive}"), &other_token).await?;
        anyhow::ensure!(refused.status == 404);
        let reads = entries(&app, &format!("action=case.read&target_id={sensitive}")).await?;
        anyhow::ensure!(reads.len() == 2, "{reads:?}");
        // Reading a case of an ordinary unit is not recorded.
        app.get(&format!("/api/v1/cases/{ordinary}"), &other_token).await?;
        anyhow::ensure!(entries(&app, &format!("action=case.read&target_id={ordinary}")).await?.is_empty());
        // Reads are no steps of the case: its timeline and figures do not change.
        let timeline = entries(&app, &format!("target_kind=case&target_id={sensitive}")).await?;
        anyhow::ensure!(timeline.iter().filter(|e| e["action"] != "case.read").count() >= 1);

        // A person's consent history, looked at.
        let contact = app.case(&sensitive).await?["contact_id"].as_str().unwrap_or_default().to_owned();
        let consents = app.get(&format!("/api/v1/contacts/{contact}/consents"), &ana_token).await?;
        anyhow::ensure!(consents.status == 200, "{}", consents.text);
        let looked = entries(&app, &format!("action=contact.consents_read&target_id={contact}")).await?;
        anyhow::ensure!(looked.len() == 1 && looked[0]["actor_id"] == ana.as_str(), "{looked:?}");

        // A report leaving as a file.
        let csv = app.get("/api/v1/reports/volume?format=csv&group_by=channel", &sup_token).await?;
        anyhow::ensure!(csv.status == 200, "{}", csv.text);
        let exported = entries(&app, "action=report.exported").await?;
        anyhow::ensure!(exported.len() == 1 && exported[0]["target_id"] == "volume", "{exported:?}");
        Ok(())
    }

    async fn admins_search_and_download_the_log(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("u").await?;
        let (_, agent) = app.create_member("agente@test.example", &unit, "agent").await?;
        let (_, supervisor) = app.create_member("sup@test.example", &unit, "supervisor").await?;
        // A refused sign-in whose e-mail a spreadsheet would run as a formula.
        app.call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": "=cmd@test.example", "password": "x"}))).await?;

        // Search by a family of actions.
        let auth = entries(&app, "action=auth.").await?;
        anyhow::ensure!(!auth.is_empty() && auth.iter().all(|e| e["action"].as_str().is_some_and(|a| a.starts_with("auth."))), "{auth:?}");

        let csv = app.client.get(format!("{}/api/v1/audit-events/export?action=auth.", app.base))
            .bearer_auth(&app.admin_token).send().await?;
        anyhow::ensure!(csv.status() == 200);
        anyhow::ensure!(csv.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/csv")));
        let text = csv.text().await?;
        let mut lines = text.lines();
        anyhow::ensure!(lines.next() == Some("at,actor_kind,actor_id,action,target_kind,target_id,unit_id,details"), "{text}");
        let rows: Vec<&str> = lines.collect();
        anyhow::ensure!(rows.len() == auth.len(), "{} rows for {} entries", rows.len(), auth.len());
        anyhow::ensure!(rows.iter().all(|r| r.contains(",auth.")), "{text}");
        anyhow::ensure!(text.contains("'=cmd@test.example") && !text.contains(",=cmd@"), "formulas neutralised: {text}");
        let exported = entries(&app, "action=audit.exported").await?;
        anyhow::ensure!(exported.len() == 1 && exported[0]["details"]["rows"] == rows.len(), "{exported:?}");

        // Admins and `audit:read` tokens only.
        for token in [&agent, &supervisor] {
            let refused = app.get("/api/v1/audit-events/export", token).await?;
            anyhow::ensure!(refused.status == 403, "{}", refused.text);
        }
        let reader = app.create_token(&["audit:read"]).await?;
        anyhow::ensure!(app.get("/api/v1/audit-events/export", &reader).await?.status == 200);
        let other = app.create_token(&["cases:read"]).await?;
        anyhow::ensure!(app.get("/api/v1/audit-events/export", &other).await?.status == 403);
        Ok(())
    }

    async fn old_entries_leave_after_the_retention_but_case_timelines_stay(backend) {
        let app = spawn_app_with(backend, |c| c.privacy.audit_retention_months = Some(24)).await?;
        let unit = app.create_unit("u").await?;
        let case = app.create_case(&app.admin_token, &unit, "Antiguo").await?;
        let case = case["id"].as_str().unwrap_or_default().to_owned();
        app.create_member("agente@test.example", &unit, "agent").await?;
        // Everything so far happened three years ago.
        {
            use sea_orm::{EntityTrait, sea_query::Expr};
            use ventanilla::store::audit::entity;
            entity::Entity::update_many()
                .col_expr(entity::Column::At, Expr::value(chrono::Utc::now() - chrono::Duration::days(3 * 365)))
                .exec(&app.store.db)
                .await?;
        }
        let before = entries(&app, "limit=100").await?;
        let dry = app.post_ok("/api/v1/retention/run", &app.admin_token, json!({"dry_run": true}), 200).await?;
        let would = dry["audit_entries_removed"].as_u64().unwrap_or_default();
        anyhow::ensure!(would > 0, "{dry}");
        anyhow::ensure!(entries(&app, "limit=100").await?.len() == before.len(), "a dry run removes nothing");
        let run = app.post_ok("/api/v1/retention/run", &app.admin_token, json!({}), 200).await?;
        anyhow::ensure!(run["audit_entries_removed"].as_u64() == Some(would), "{run}");
        let after = entries(&app, "limit=100").await?;
        let actions: Vec<&str> = after.iter().filter_map(|e| e["action"].as_str()).collect();
        anyhow::ensure!(actions.contains(&"case.created"), "the case's timeline stays: {actions:?}");
        anyhow::ensure!(!actions.contains(&"user.created") && !actions.contains(&"unit.created"), "{actions:?}");
        anyhow::ensure!(actions.contains(&"audit.pruned"), "the pruning is itself recorded: {actions:?}");
        anyhow::ensure!(after.iter().any(|e| e["target_id"] == case.as_str()));
        // Too short a retention is refused at start.
        let mut config = ventanilla::config::Config::default();
        config.privacy.audit_retention_months = Some(3);
        let refused = config.validate();
        anyhow::ensure!(refused.is_err_and(|e| e.to_string().contains("privacy.audit_retention_months")));
        Ok(())
    }
}
