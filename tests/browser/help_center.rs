//! The public help center in a real browser: home, suggestions while typing,
//! article and feedback, search results, locale switch.

use super::{Driver, assert_accessible};
use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{Backend, TestApp, eventually, spawn_app};

async fn seed(app: &TestApp) -> anyhow::Result<(String, Value)> {
    let kb = app
        .post_ok(
            "/api/v1/knowledge-bases",
            &app.admin_token,
            json!({"name": "Preguntas frecuentes", "slug": "faq", "locale": "es",
                   "theme": {"institution_name": "Universidad de Prueba", "primary_color": "#123456"}}),
            201,
        )
        .await?;
    let kb_id = kb["id"].as_str().unwrap_or_default().to_owned();
    let categories = format!("/api/v1/knowledge-bases/{kb_id}/categories");
    let becas = app
        .post_ok(
            &categories,
            &app.admin_token,
            json!({"slug": "becas", "name": "Becas y apoyos", "description": "Ayudas para estudiar"}),
            201,
        )
        .await?;
    let articles = format!("/api/v1/knowledge-bases/{kb_id}/articles");
    let beca = app
        .post_ok(&articles, &app.admin_token, json!({
            "title": "Becas de excelencia académica", "status": "published", "category_id": becas["id"],
            "body": "La beca cubre **hasta el 100%** de la matrícula.\n\n<script>alert('x')</script>\n\nSolicítela en el portal.",
            "short_answer": "Cubre hasta el 100% de la matrícula para promedios de 4,5."}), 201)
        .await?;
    app.post_ok(&articles, &app.admin_token, json!({"title": "Scholarships for excellence", "status": "published", "locale": "en", "translation_of": beca["id"], "body": "The scholarship covers tuition."}), 201).await?;
    app.post_ok(&articles, &app.admin_token, json!({"title": "Certificado de notas", "status": "published", "body": "El certificado de notas se descarga en el portal estudiantil."}), 201).await?;
    app.post_ok(&articles, &app.admin_token, json!({"title": "Apoyo de alimentación", "status": "published", "category_id": becas["id"], "body": "Almuerzos subsidiados para estudiantes con beca o de bajos recursos."}), 201).await?;
    let indexed = eventually(Duration::from_secs(5), || async {
        let reply =
            app.get(&format!("/api/v1/knowledge-bases/{kb_id}/search?q=certificado"), &app.admin_token).await.ok()?;
        (reply.body["hits"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    anyhow::ensure!(indexed.is_some(), "articles never became searchable");
    Ok((kb_id, beca))
}

async fn text_of(client: &Client, css: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let element = client.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(css)).await;
    let source = if element.is_err() { client.source().await.unwrap_or_default() } else { String::new() };
    let url = client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
    Ok(element.with_context(|| format!("no `{css}` in {url} -- {source}"))?.text().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_center_in_a_browser() -> anyhow::Result<()> {
    let app = spawn_app(Backend::Sqlite).await?;
    let (kb_id, beca) = seed(&app).await?;
    let driver = Driver::start()?;
    let client = driver.client().await?;
    let outcome = async {
        client.goto(&app.url("/help/faq")).await?;
        anyhow::ensure!(client.title().await?.contains("Preguntas frecuentes"), "title: {}", client.title().await?);
        let lang = client.find(Locator::Css("html")).await?.attr("lang").await?;
        anyhow::ensure!(lang.as_deref() == Some("es"), "Spanish by default: {lang:?}");
        anyhow::ensure!(text_of(&client, "main h1").await? == "Preguntas frecuentes");
        anyhow::ensure!(text_of(&client, "#cats").await? == "Categorías");
        anyhow::ensure!(text_of(&client, ".brand").await?.contains("Universidad de Prueba"));

        assert_accessible(&client, "home").await?;

        // Suggestions while typing: a partial word is enough.
        let input = client.find(Locator::Id("q")).await?;
        input.send_keys("beca de excel").await?;
        let suggestion =
            client.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("#suggestions li a")).await?;
        anyhow::ensure!(suggestion.text().await? == "Becas de excelencia académica", "{}", suggestion.text().await?);
        let expanded = input.attr("aria-expanded").await?;
        anyhow::ensure!(expanded.as_deref() == Some("true"), "the combobox says it is open");
        input.send_keys(&format!("{}{}", char::from(Key::Down), char::from(Key::Enter))).await?;
        client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_url(&url_for(&app, "/help/faq/es/articles/becas-de-excelencia-academica")?)
            .await?;

        // The article: rendered Markdown, raw HTML shown as text, metadata.
        anyhow::ensure!(text_of(&client, "article.doc h1").await? == "Becas de excelencia académica");
        anyhow::ensure!(text_of(&client, "article.doc strong").await? == "hasta el 100%");
        anyhow::ensure!(
            text_of(&client, "article.doc").await?.contains("<script>alert('x')</script>"),
            "raw HTML is shown, not run"
        );
        let description = client.find(Locator::Css("meta[name=description]")).await?.attr("content").await?;
        anyhow::ensure!(
            description.as_deref().is_some_and(|d| d.starts_with("Cubre hasta el 100%")),
            "{description:?}"
        );
        anyhow::ensure!(
            client.find(Locator::Css("link[rel=alternate][hreflang=en]")).await.is_ok(),
            "the translation is linked"
        );
        anyhow::ensure!(text_of(&client, "#related").await? == "Artículos relacionados");

        assert_accessible(&client, "article").await?;

        // "¿Te fue útil?" without JavaScript help: a plain form.
        anyhow::ensure!(text_of(&client, ".feedback legend").await? == "¿Te fue útil?");
        client.find(Locator::Id("comment")).await?.send_keys("Faltan las fechas").await?;
        client.find(Locator::Css("button[value=no]")).await?.click().await?;
        anyhow::ensure!(text_of(&client, ".feedback .notice").await? == "¡Gracias por tu opinión!");
        let article = app
            .get(
                &format!("/api/v1/knowledge-bases/{kb_id}/articles/{}", beca["id"].as_str().unwrap_or_default()),
                &app.admin_token,
            )
            .await?;
        anyhow::ensure!(
            article.body["helpful_no"] == 1 && article.body["views"].as_i64() >= Some(1),
            "{}",
            article.text
        );

        // The results page, submitted as a plain form.
        let input = client.find(Locator::Id("q")).await?;
        input.clear().await?;
        input.send_keys(&format!("certifcado de notas{}", char::from(Key::Enter))).await?;
        anyhow::ensure!(text_of(&client, "ol.results h2").await? == "Certificado de notas", "a typo still finds it");
        anyhow::ensure!(client.find(Locator::Css("ol.results mark")).await.is_ok(), "the snippet highlights the words");
        assert_accessible(&client, "results").await?;

        // The locale switch.
        client.find(Locator::Css("nav.locales a[hreflang=en]")).await?.click().await?;
        let lang = client.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("html[lang=en]")).await?;
        drop(lang);
        let placeholder = client.find(Locator::Id("q")).await?.attr("placeholder").await?;
        anyhow::ensure!(placeholder.as_deref().is_some_and(|p| p.starts_with("Type your question")), "{placeholder:?}");
        anyhow::ensure!(text_of(&client, "#popular").await? == "Most read articles");

        let screenshot = client.screenshot().await?;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("help-center-en.png"), screenshot)?;
        anyhow::Ok(())
    }
    .await;
    client.close().await?;
    outcome
}

/// Runs axe-core (WCAG 2 A and AA rules) on the current page and fails on
/// any violation.
fn url_for(app: &TestApp, path: &str) -> anyhow::Result<url::Url> {
    Ok(url::Url::parse(&app.url(path))?)
}
