//! Directory sync against a real OpenLDAP (`slapd`, see
//! `ventanilla_tests::ldap`): people in mapped groups get accounts with
//! their roles, an existing account with the same e-mail is joined, a
//! change of groups changes roles, a person whose groups grant nothing or
//! who leaves the directory is deactivated (and comes back with a group),
//! and directory people sign in with their directory password.

use reqwest::StatusCode;
use serde_json::{Value, json};
use ventanilla_tests::ldap::Slapd;
use ventanilla_tests::oidc::mapping;
use ventanilla_tests::{Backend, TestApp, on_both, role, spawn_app_with};

async fn sync(app: &TestApp) -> anyhow::Result<Value> {
    app.post_ok("/api/v1/directories/uni-ldap/sync", &app.admin_token, json!({}), 200).await
}

/// Whether `email`'s account is active, and its roles.
async fn account(app: &TestApp, email: &str) -> anyhow::Result<Option<(bool, Vec<(String, String)>)>> {
    Ok(app.account(email).await?.map(|a| (a.active, a.roles)))
}

fn counts(report: &Value) -> [u64; 6] {
    ["created", "joined", "updated", "reactivated", "deactivated", "skipped"]
        .map(|k| report[k].as_u64().unwrap_or(u64::MAX))
}

on_both! {
    async fn people_and_groups_come_from_the_directory_and_leave_with_it(backend) {
        let slapd = Slapd::start().await?;
        let config = slapd.config(
            "uni-ldap",
            vec![
                mapping("psicologia-staff", Some("bienestar"), "supervisor"),
                mapping("admisiones-staff", Some("admisiones"), "agent"),
            ],
        );
        let app = spawn_app_with(backend, |c| c.auth.ldap = vec![config]).await?;
        app.create_unit("bienestar").await?;
        let admisiones = app.create_unit("admisiones").await?;
        // Marta already has a local account: the directory takes it over.
        app.create_member("marta@uni.test", &admisiones, "supervisor").await?;

        slapd.add_person("ana", "Ana Ruiz", "ana@uni.test", "clave-ldap-de-ana").await?;
        slapd.add_person("luis", "Luis Pardo", "luis@uni.test", "clave-ldap-de-luis").await?;
        slapd.add_person("marta", "Marta Gil", "marta@uni.test", "clave-ldap-de-marta").await?;
        slapd.set_group("psicologia-staff", &["ana"]).await?;
        slapd.set_group("admisiones-staff", &["marta"]).await?;

        let first = sync(&app).await?;
        assert_eq!(first["seen"], 3, "{first}");
        assert_eq!(counts(&first), [1, 1, 0, 0, 0, 1], "{first}");
        assert_eq!(account(&app, "ana@uni.test").await?, Some((true, vec![role("bienestar", "supervisor")])));
        assert_eq!(account(&app, "marta@uni.test").await?, Some((true, vec![role("admisiones", "agent")])));
        assert_eq!(account(&app, "luis@uni.test").await?, None, "no group that grants anything: no account");
        // Nothing changed: nothing to do.
        assert_eq!(counts(&sync(&app).await?), [0, 0, 0, 0, 0, 1]);

        // Directory people sign in with their directory password.
        let ana = app.login("ana@uni.test", "clave-ldap-de-ana").await?;
        let sessions = app.get("/api/v1/auth/sessions", &ana).await?;
        assert_eq!(sessions.body["items"][0]["method"], "ldap:uni-ldap", "{sessions:?}");
        let wrong =
            app.post("/api/v1/auth/login", "", json!({"email": "ana@uni.test", "password": "clave-ldap-de-luis"})).await?;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        // An empty password would be an anonymous bind, which LDAP accepts.
        let empty = app.post("/api/v1/auth/login", "", json!({"email": "ana@uni.test", "password": ""})).await?;
        assert!(empty.status.is_client_error() && empty.status != StatusCode::OK, "{empty:?}");
        // Marta's old local password no longer matters; her directory one does.
        app.login("marta@uni.test", "clave-ldap-de-marta").await?;

        // Groups change: Ana moves to admissions, Luis joins psychology.
        slapd.set_group("psicologia-staff", &["luis"]).await?;
        slapd.set_group("admisiones-staff", &["marta", "ana"]).await?;
        let second = sync(&app).await?;
        assert_eq!(counts(&second), [1, 0, 1, 0, 0, 0], "{second}");
        assert_eq!(account(&app, "ana@uni.test").await?, Some((true, vec![role("admisiones", "agent")])));
        assert_eq!(account(&app, "luis@uni.test").await?, Some((true, vec![role("bienestar", "supervisor")])));

        // Ana leaves the directory: deactivated, her session ends at once.
        slapd.remove(&Slapd::person_dn("ana")).await?;
        slapd.set_group("admisiones-staff", &["marta"]).await?;
        let third = sync(&app).await?;
        assert_eq!(counts(&third), [0, 0, 0, 0, 1, 0], "{third}");
        assert_eq!(account(&app, "ana@uni.test").await?.map(|a| a.0), Some(false));
        assert_eq!(app.get("/api/v1/auth/me", &ana).await?.status, StatusCode::UNAUTHORIZED);

        // Luis loses his only group: deactivated; given one back: active again.
        slapd.set_group("psicologia-staff", &[]).await?;
        assert_eq!(counts(&sync(&app).await?), [0, 0, 0, 0, 1, 0]);
        assert_eq!(account(&app, "luis@uni.test").await?, Some((false, vec![])));
        let refused =
            app.post("/api/v1/auth/login", "", json!({"email": "luis@uni.test", "password": "clave-ldap-de-luis"})).await?;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        slapd.set_group("admisiones-staff", &["marta", "luis"]).await?;
        assert_eq!(counts(&sync(&app).await?), [0, 0, 0, 1, 0, 0]);
        assert_eq!(account(&app, "luis@uni.test").await?, Some((true, vec![role("admisiones", "agent")])));

        let audit = app.get("/api/v1/audit-events?action=user.&limit=100", &app.admin_token).await?;
        let actions: Vec<&str> =
            audit.body["items"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"user.directory_left") && actions.contains(&"user.directory_returned"), "{actions:?}");
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_sync_and_an_unreadable_directory_changes_nothing() -> anyhow::Result<()> {
    let slapd = Slapd::start().await?;
    let mut config = slapd.config("uni-ldap", vec![mapping("psicologia-staff", Some("bienestar"), "agent")]);
    let app = spawn_app_with(Backend::Sqlite, |c| {
        config.bind_password = Some(ventanilla::config::Secret::new("not-the-password"));
        c.auth.ldap = vec![config];
    })
    .await?;
    let unit = app.create_unit("bienestar").await?;
    let (_, agent) = app.create_member("agente@uni.test", &unit, "agent").await?;
    let denied = app.post("/api/v1/directories/uni-ldap/sync", &agent, json!({})).await?;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let unknown = app.post("/api/v1/directories/otro/sync", &app.admin_token, json!({})).await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let failed = app.post("/api/v1/directories/uni-ldap/sync", &app.admin_token, json!({})).await?;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE, "{failed:?}");
    assert_eq!(failed.body["code"], "unavailable");
    Ok(())
}
