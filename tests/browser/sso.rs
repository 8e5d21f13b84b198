//! Single sign-on in the console against a real OpenID provider
//! (`oidc-provider` from the npm registry, with its development sign-in
//! pages): the provider's button on the sign-in page, a first sign-in that
//! makes the account with the roles its groups map to, a group taken away
//! at the provider that takes the role away at the next sign-in, and the
//! page that says why when the groups grant nothing.

use super::assert_accessible;
use super::console::{click, js, screenshot, type_in, until};
use fantoccini::{Client, Locator};
use ventanilla_tests::oidc::spawn_with_provider;
use ventanilla_tests::{Backend, TestApp};

/// From the console's sign-in page through the provider's pages as `login`.
async fn through_provider(client: &Client, app: &TestApp, login: &str) -> anyhow::Result<()> {
    client.goto(&format!("{}/console/#/login", app.base)).await?;
    until(client, "the provider's button", "document.querySelector('#sso-uni')").await?;
    click(client, "#sso-uni").await?;
    // The provider's own pages: sign-in (when it has no session yet), then consent.
    for _ in 0..3 {
        let at = until(
            client,
            "the provider's page or the console",
            "(document.querySelector('input[name=login]') && 'login') || \
             (document.querySelector('button.login-submit') && 'consent') || \
             (location.pathname.startsWith('/console') && document.querySelector('#live.on') && 'console') || \
             (document.querySelector('main[data-reason]') && 'refused')",
        )
        .await?;
        match at.as_str() {
            Some("login") => {
                type_in(client, "input[name=login]", login).await?;
                type_in(client, "input[name=password]", "any").await?;
                click(client, "button.login-submit").await?;
            }
            Some("consent") => click(client, "button.login-submit").await?,
            _ => return Ok(()),
        }
        // Let the page change before looking again.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    Ok(())
}

/// `ana@uni.test`'s roles as the admin sees them: `(unit slug, role)`.
async fn roles_of_ana(app: &TestApp) -> anyhow::Result<Vec<(String, String)>> {
    Ok(app.account("ana@uni.test").await?.map(|a| a.roles).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_through_the_institutions_provider_with_the_roles_of_their_groups() -> anyhow::Result<()> {
    let (app, provider) = spawn_with_provider(Backend::Sqlite, |_| {}).await?;
    provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["psicologia-staff", "admisiones-staff"])?;

    let driver = super::Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        client.goto(&format!("{}/console/#/login", app.base)).await?;
        let button = until(&client, "the provider's button", "document.querySelector('#sso-uni')?.textContent").await?;
        // In the browser's language (Chromium's headless one may be English).
        let button = button.as_str().unwrap_or_default();
        assert!(
            ["Ingresar con Cuenta institucional", "Sign in with Cuenta institucional"].contains(&button),
            "{button}"
        );
        assert_accessible(&client, "sign-in with a provider").await?;
        screenshot(&client, "sign-in-sso").await?;

        // First sign-in: the account is made with the roles of her groups.
        through_provider(&client, &app, "ana").await?;
        until(&client, "the console, signed in", "document.querySelector('#live.on')").await?;
        let address = js(&client, "return location.href;").await?;
        assert!(
            !address.as_str().unwrap_or_default().contains("/sso/"),
            "the one-time code left the address: {address}"
        );
        assert_eq!(
            roles_of_ana(&app).await?,
            vec![("admisiones".into(), "agent".into()), ("bienestar".into(), "supervisor".into())]
        );

        // The provider takes a group away: the next sign-in takes the role away.
        click(&client, "#sign-out").await?;
        provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["psicologia-staff"])?;
        through_provider(&client, &app, "ana").await?;
        until(&client, "the console, signed in again", "document.querySelector('#live.on')").await?;
        assert_eq!(roles_of_ana(&app).await?, vec![("bienestar".into(), "supervisor".into())]);

        // No group that grants anything: a page that says why.
        click(&client, "#sign-out").await?;
        provider.set_account("ana", "ana@uni.test", "Ana Ruiz", &["egresados"])?;
        through_provider(&client, &app, "ana").await?;
        let why =
            until(&client, "the refusal", "document.querySelector('main[data-reason=no_access] #why')?.textContent")
                .await?;
        let why = why.as_str().unwrap_or_default();
        assert!(
            why.starts_with("Tus grupos en la institución") || why.starts_with("Your groups at the institution"),
            "{why}"
        );
        assert_accessible(&client, "single sign-on refused").await?;
        screenshot(&client, "sign-in-sso-refused").await?;
        assert!(roles_of_ana(&app).await?.is_empty());
        // The way back leads to the sign-in page.
        click(&client, "main a").await?;
        client.wait().for_element(Locator::Css("#sso-uni")).await?;
        anyhow::Ok(())
    }
    .await;
    client.close().await?;
    outcome
}

/// An admin reads the institution's directory from the users page: the
/// people of mapped groups appear with their roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reads_the_directory_from_the_users_page() -> anyhow::Result<()> {
    use super::console::{open, sign_in_with};
    use ventanilla_tests::ldap::Slapd;
    use ventanilla_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, role, spawn_app_with};
    let slapd = Slapd::start().await?;
    let config =
        slapd.config("uni-ldap", vec![ventanilla_tests::oidc::mapping("psicologia-staff", Some("bienestar"), "agent")]);
    let app = spawn_app_with(Backend::Sqlite, |c| c.auth.ldap = vec![config]).await?;
    app.create_unit("bienestar").await?;
    slapd.add_person("ana", "Ana Ruiz", "ana@uni.test", "clave-ldap-de-ana").await?;
    slapd.set_group("psicologia-staff", &["ana"]).await?;

    let driver = super::Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        sign_in_with(&client, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        open(&client, "#/admin/users", "document.querySelector('#directories [data-directory=uni-ldap]')").await?;
        let never =
            js(&client, "return document.querySelector('[data-directory=uni-ldap] .last-sync').textContent;").await?;
        assert!(matches!(never.as_str(), Some("Nunca" | "Never")), "{never}");
        assert_accessible(&client, "directories").await?;
        click(&client, "#sync-uni-ldap").await?;
        until(&client, "Ana in the users table", "document.querySelector('tr[data-user=\"ana@uni.test\"]')").await?;
        let accounts =
            js(&client, "return document.querySelector('[data-directory=uni-ldap] .accounts').textContent;").await?;
        assert_eq!(accounts, "1");
        screenshot(&client, "admin-directories").await?;
        anyhow::Ok(())
    }
    .await;
    client.close().await?;
    outcome?;
    assert_eq!(app.account("ana@uni.test").await?.map(|a| a.roles), Some(vec![role("bienestar", "agent")]));
    Ok(())
}
