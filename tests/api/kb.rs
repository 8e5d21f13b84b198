//! Knowledge bases through the API: who may write what, versions and
//! restore, public and internal search, and the index following every
//! publish, edit and archive.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{TestApp, eventually, on_both, spawn_app};

async fn create_kb(app: &TestApp, token: &str, body: Value) -> anyhow::Result<String> {
    let kb = app.post_ok("/api/v1/knowledge-bases", token, body, 201).await?;
    Ok(kb["id"].as_str().unwrap_or_default().to_owned())
}

async fn publish(app: &TestApp, kb: &str, title: &str, body: &str) -> anyhow::Result<Value> {
    let article = json!({"title": title, "body": body, "status": "published", "locale": "es"});
    app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token, article, 201).await
}

/// Titles of the hits for `q`, best first, searching without a token.
async fn public_titles(app: &TestApp, kb: &str, q: &str) -> anyhow::Result<Vec<String>> {
    let url = app.url(&format!("/api/v1/knowledge-bases/{kb}/search"));
    let reply = app.client.get(url).query(&[("q", q)]).send().await?;
    anyhow::ensure!(reply.status() == 200, "search answered {}", reply.status());
    let body: Value = reply.json().await?;
    Ok(body["hits"]
        .as_array()
        .map(|hits| hits.iter().map(|h| h["title"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default())
}

/// Waits until searching `q` gives exactly `expected` as the first titles.
async fn until_titles(app: &TestApp, kb: &str, q: &str, expected: &[&str]) -> anyhow::Result<()> {
    let found = eventually(Duration::from_secs(5), || async {
        let titles = public_titles(app, kb, q).await.ok()?;
        (titles.iter().map(String::as_str).take(expected.len()).eq(expected.iter().copied())
            && titles.len() >= expected.len())
        .then_some(titles)
    })
    .await;
    anyhow::ensure!(found.is_some(), "`{q}` never gave {expected:?}; last: {:?}", public_titles(app, kb, q).await?);
    Ok(())
}

on_both! {
    async fn publishing_editing_and_archiving_reach_search(backend) {
        let app = spawn_app(backend).await?;
        let kb = create_kb(&app, &app.admin_token, json!({"name": "Preguntas frecuentes", "slug": "faq", "locale": "es"})).await?;
        let becas = publish(&app, &kb, "Becas de excelencia académica", "La beca cubre la matrícula de quienes tienen promedio alto.").await?;
        publish(&app, &kb, "Horario de la biblioteca", "La biblioteca abre de lunes a sábado.").await?;
        until_titles(&app, &kb, "solicito una beca", &["Becas de excelencia académica"]).await?;

        let path = format!("/api/v1/knowledge-bases/{kb}/articles/{}", becas["id"].as_str().unwrap_or_default());
        let edited = app.patch(&path, &app.admin_token, json!({"title": "Apoyos económicos por promedio", "version": 1})).await?;
        anyhow::ensure!(edited.status == 200 && edited.body["version"] == 2, "{}", edited.text);
        until_titles(&app, &kb, "apoyos economicos", &["Apoyos económicos por promedio"]).await?;
        anyhow::ensure!(!public_titles(&app, &kb, "excelencia").await?.iter().any(|t| t.contains("excelencia")), "the old title is gone from the index");

        let archived = app.patch(&path, &app.admin_token, json!({"status": "archived"})).await?;
        anyhow::ensure!(archived.status == 200 && archived.body["status"] == "archived", "{}", archived.text);
        let gone = eventually(Duration::from_secs(5), || async {
            public_titles(&app, &kb, "beca promedio").await.ok().filter(|t| t.is_empty())
        })
        .await;
        anyhow::ensure!(gone.is_some(), "an archived article leaves the search");

        let republished = app.patch(&path, &app.admin_token, json!({"status": "published"})).await?;
        anyhow::ensure!(republished.body["version"] == 4, "{}", republished.text);
        until_titles(&app, &kb, "beca promedio", &["Apoyos económicos por promedio"]).await?;
        Ok(())
    }

    async fn hits_have_snippets_scores_and_confidence(backend) {
        let app = spawn_app(backend).await?;
        let kb = create_kb(&app, &app.admin_token, json!({"name": "FAQ", "slug": "faq", "locale": "es", "synonyms": [["carné", "credencial"]]})).await?;
        publish(&app, &kb, "Duplicado del carné estudiantil", "Si perdió el carné, pida el duplicado en el portal y recójalo en Bienestar.").await?;
        publish(&app, &kb, "Certificado de notas", "El certificado se descarga en el portal.").await?;
        until_titles(&app, &kb, "perdi la credencial", &["Duplicado del carné estudiantil"]).await?;
        let reply = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=perdi%20el%20carnet&limit=5"), &app.admin_token).await?;
        let hit = &reply.body["hits"][0];
        anyhow::ensure!(hit["title"] == "Duplicado del carné estudiantil", "{}", reply.text);
        anyhow::ensure!(hit["snippet"].as_str().is_some_and(|s| s.contains("<mark>carné</mark>")), "{}", reply.text);
        anyhow::ensure!(hit["score"].as_f64().is_some_and(|s| s > 0.0), "{}", reply.text);
        anyhow::ensure!(hit["confidence"].as_f64().is_some_and(|c| c > 0.6), "{}", reply.text);
        anyhow::ensure!(hit["url"].as_str().is_some_and(|u| u.starts_with("/help/faq/es/articles/duplicado-del-carne")), "{}", reply.text);
        let limited = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=portal&limit=1"), &app.admin_token).await?;
        anyhow::ensure!(limited.body["hits"].as_array().map(Vec::len) == Some(1), "{}", limited.text);
        Ok(())
    }

    async fn internal_bases_need_staff(backend) {
        let app = spawn_app(backend).await?;
        let kb = create_kb(&app, &app.admin_token, json!({"name": "Procedimientos", "slug": "interno", "locale": "es", "visibility": "internal"})).await?;
        publish(&app, &kb, "Cómo escalar un caso", "Escale al supervisor cuando el caso supere el tiempo de respuesta.").await?;
        let anonymous = app.client.get(app.url(&format!("/api/v1/knowledge-bases/{kb}/search?q=escalar"))).send().await?;
        anyhow::ensure!(anonymous.status() == 401, "{}", anonymous.status());
        let staff = eventually(Duration::from_secs(5), || async {
            let reply = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=escalar"), &app.admin_token).await.ok()?;
            (reply.body["hits"].as_array().map(Vec::len) == Some(1)).then_some(reply)
        })
        .await;
        anyhow::ensure!(staff.is_some(), "staff find internal articles");
        let bad_token = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=escalar"), "vnt_not-a-token").await?;
        anyhow::ensure!(bad_token.status == 401, "a bad token is refused, not treated as anonymous");
        Ok(())
    }

    async fn supervisors_manage_their_units_and_agents_propose(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let other = app.create_unit("biblioteca").await?;
        let (_, supervisor) = app.create_member("sup@test.example", &unit, "supervisor").await?;
        let (_, outsider) = app.create_member("sup2@test.example", &other, "supervisor").await?;
        let (_, agent) = app.create_member("agente@test.example", &unit, "agent").await?;
        let refused = app.post("/api/v1/knowledge-bases", &outsider, json!({"name": "X", "slug": "x", "locale": "es", "unit_id": unit})).await?;
        anyhow::ensure!(refused.status == 403, "{}", refused.text);
        let institution = app.post("/api/v1/knowledge-bases", &supervisor, json!({"name": "X", "slug": "x", "locale": "es"})).await?;
        anyhow::ensure!(institution.status == 403, "only admins create the institution's base: {}", institution.text);
        let kb = create_kb(&app, &supervisor, json!({"name": "Admisiones", "slug": "admisiones", "locale": "es", "unit_id": unit})).await?;

        let articles = format!("/api/v1/knowledge-bases/{kb}/articles");
        let draft = app.post_ok(&articles, &agent, json!({"title": "Nueva pregunta", "body": "Borrador", "status": "draft"}), 201).await?;
        let published = app.post(&articles, &agent, json!({"title": "Otra", "body": "Texto", "status": "published"})).await?;
        anyhow::ensure!(published.status == 403, "agents may not publish: {}", published.text);
        let path = format!("{articles}/{}", draft["id"].as_str().unwrap_or_default());
        let publish_draft = app.patch(&path, &agent, json!({"status": "published"})).await?;
        anyhow::ensure!(publish_draft.status == 403, "{}", publish_draft.text);
        let by_supervisor = app.patch(&path, &supervisor, json!({"status": "published"})).await?;
        anyhow::ensure!(by_supervisor.status == 200, "{}", by_supervisor.text);
        let edit_published = app.patch(&path, &agent, json!({"body": "Cambio"})).await?;
        anyhow::ensure!(edit_published.status == 403, "agents do not edit what is published: {}", edit_published.text);
        let outsider_edit = app.patch(&path, &outsider, json!({"body": "Cambio"})).await?;
        anyhow::ensure!(outsider_edit.status == 403, "{}", outsider_edit.text);
        Ok(())
    }

    async fn versions_restore_and_lost_updates(backend) {
        let app = spawn_app(backend).await?;
        let kb = create_kb(&app, &app.admin_token, json!({"name": "FAQ", "slug": "faq", "locale": "es"})).await?;
        let article = publish(&app, &kb, "Pago de matrícula", "Se paga en el banco.").await?;
        let path = format!("/api/v1/knowledge-bases/{kb}/articles/{}", article["id"].as_str().unwrap_or_default());
        app.patch(&path, &app.admin_token, json!({"body": "Se paga por PSE.", "version": 1})).await?;
        let stale = app.patch(&path, &app.admin_token, json!({"body": "Otra cosa", "version": 1})).await?;
        anyhow::ensure!(stale.status == 409 && stale.body["errors"][0]["field"] == "version", "{}", stale.text);

        let versions = app.get(&format!("{path}/versions"), &app.admin_token).await?;
        let bodies: Vec<&str> = versions.body["items"].as_array().map(|v| v.iter().filter_map(|x| x["body"].as_str()).collect()).unwrap_or_default();
        anyhow::ensure!(bodies == ["Se paga por PSE.", "Se paga en el banco."], "{}", versions.text);
        anyhow::ensure!(versions.body["items"][0]["author"].as_str().is_some_and(|a| a.starts_with("user:")), "{}", versions.text);

        let restored = app.post_ok(&format!("{path}/restore"), &app.admin_token, json!({"version": 1}), 200).await?;
        anyhow::ensure!(restored["body"] == "Se paga en el banco." && restored["version"] == 3 && restored["status"] == "published", "{restored}");
        let missing = app.post(&format!("{path}/restore"), &app.admin_token, json!({"version": 42})).await?;
        anyhow::ensure!(missing.status == 404, "{}", missing.text);
        Ok(())
    }

    async fn bad_input_names_the_field(backend) {
        let app = spawn_app(backend).await?;
        let cases = [
            (json!({"name": "", "slug": "faq"}), "name"),
            (json!({"name": "FAQ", "slug": "Con Espacios"}), "slug"),
            (json!({"name": "FAQ", "slug": "faq", "locale": "fr"}), "locale"),
            (json!({"name": "FAQ", "slug": "faq", "visibility": "secret"}), "visibility"),
            (json!({"name": "FAQ", "slug": "faq", "synonyms": [["solo"]]}), "synonyms[0]"),
            (json!({"name": "FAQ", "slug": "faq", "theme": {"primary_color": "blue"}}), "theme.primary_color"),
            (json!({"name": "FAQ", "slug": "faq", "theme": {"logo_url": "javascript:alert(1)"}}), "theme.logo_url"),
        ];
        for (body, field) in cases {
            let reply = app.post("/api/v1/knowledge-bases", &app.admin_token, body.clone()).await?;
            anyhow::ensure!(reply.status == 422 && reply.body["errors"][0]["field"] == field, "{body} -> {}", reply.text);
        }
        let kb = create_kb(&app, &app.admin_token, json!({"name": "FAQ", "slug": "faq"})).await?;
        let taken = app.post("/api/v1/knowledge-bases", &app.admin_token, json!({"name": "Otra", "slug": "faq"})).await?;
        anyhow::ensure!(taken.status == 409, "{}", taken.text);
        let articles = format!("/api/v1/knowledge-bases/{kb}/articles");
        for (body, field) in [
            (json!({"title": " ", "body": "x"}), "title"),
            (json!({"title": "T", "body": "", "status": "published"}), "body"),
            (json!({"title": "T", "body": "x", "status": "live"}), "status"),
            (json!({"title": "T", "body": "x", "keywords": [""]}), "keywords[0]"),
            (json!({"title": "T", "body": "x", "category_id": uuid::Uuid::nil()}), "category_id"),
        ] {
            let reply = app.post(&articles, &app.admin_token, body.clone()).await?;
            anyhow::ensure!(matches!(reply.status.as_u16(), 409 | 422) && reply.body["errors"][0]["field"] == field, "{body} -> {}", reply.text);
        }
        for q in ["", &"a".repeat(301)] {
            let reply = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q={q}"), &app.admin_token).await?;
            anyhow::ensure!(reply.status == 422 && reply.body["errors"][0]["field"] == "q", "{}", reply.text);
        }
        let stop_words_only = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=de%20la"), &app.admin_token).await?;
        anyhow::ensure!(stop_words_only.status == 200 && stop_words_only.body["hits"] == json!([]), "{}", stop_words_only.text);
        Ok(())
    }

    async fn categories_nest_two_levels_and_filter_search(backend) {
        let app = spawn_app(backend).await?;
        let kb = create_kb(&app, &app.admin_token, json!({"name": "FAQ", "slug": "faq"})).await?;
        let categories = format!("/api/v1/knowledge-bases/{kb}/categories");
        let top = app.post_ok(&categories, &app.admin_token, json!({"slug": "pagos", "name": "Pagos"}), 201).await?;
        let sub = app.post_ok(&categories, &app.admin_token, json!({"slug": "cuotas", "name": "Cuotas", "parent_id": top["id"]}), 201).await?;
        let third = app.post(&categories, &app.admin_token, json!({"slug": "x", "name": "X", "parent_id": sub["id"]})).await?;
        anyhow::ensure!(third.status == 409 && third.body["errors"][0]["field"] == "parent_id", "{}", third.text);
        let articles = format!("/api/v1/knowledge-bases/{kb}/articles");
        app.post_ok(&articles, &app.admin_token, json!({"title": "Pago por cuotas", "body": "Pague la matrícula en cuotas.", "status": "published", "category_id": sub["id"]}), 201).await?;
        app.post_ok(&articles, &app.admin_token, json!({"title": "Pago de matrícula", "body": "Pague la matrícula en el banco.", "status": "published"}), 201).await?;
        let both = eventually(Duration::from_secs(5), || async { (public_titles(&app, &kb, "matricula").await.ok()?.len() == 2).then_some(()) }).await;
        anyhow::ensure!(both.is_some(), "both articles are searchable");
        let in_top = eventually(Duration::from_secs(5), || async {
            let reply = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=matricula&category_id={}", top["id"].as_str().unwrap_or_default()), &app.admin_token).await.ok()?;
            (reply.body["hits"].as_array().map(Vec::len) == Some(1)).then_some(reply)
        })
        .await;
        anyhow::ensure!(in_top.is_some_and(|r| r.body["hits"][0]["title"] == "Pago por cuotas"), "a top category finds its subcategories' articles");
        let removed = app.client.delete(app.url(&format!("{categories}/{}", top["id"].as_str().unwrap_or_default()))).bearer_auth(&app.admin_token).send().await?;
        anyhow::ensure!(removed.status() == 409, "a category with subcategories stays");
        Ok(())
    }
}

/// Titles the help center's results page lists for `q`, read from its HTML.
async fn help_titles(app: &TestApp, q: &str) -> anyhow::Result<Vec<String>> {
    let page = app.client.get(app.url("/help/faq/es/search")).query(&[("q", q)]).send().await?;
    anyhow::ensure!(page.status() == 200, "help center answered {}", page.status());
    let html = page.text().await?;
    Ok(html
        .split("<h2><a href=\"")
        .skip(1)
        .filter_map(|part| {
            part.split_once("\">").and_then(|(_, rest)| rest.split_once("</a>")).map(|(t, _)| t.to_owned())
        })
        .collect())
}

/// Titles a bot's `kb.search` returns for `q`: the hostile bot's `kb-answer`
/// mode replies with them on a new case.
async fn bot_titles(app: &TestApp, unit: &str, q: &str) -> anyhow::Result<Vec<String>> {
    let case = app
        .post_ok(
            "/api/v1/cases",
            &app.admin_token,
            json!({
                "subject": "Consulta", "channel": "whatsapp", "unit_id": unit, "status": "bot",
                "contact": {"identities": [{"channel": "whatsapp", "value": format!("+5730{:08}", rand_digits())}]},
                "first_message": {"body": q, "author_kind": "contact"},
            }),
            201,
        )
        .await?;
    let id = case["id"].as_str().unwrap_or_default().to_owned();
    let reply = eventually(Duration::from_secs(10), || async {
        let m = app.get(&format!("/api/v1/cases/{id}/messages"), &app.admin_token).await.ok()?;
        m.body["items"]
            .as_array()?
            .iter()
            .find(|m| m["author_kind"] == "bot")
            .and_then(|m| m["body"].as_str().map(str::to_owned))
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("the bot never answered"))?;
    let list = reply.strip_prefix("kb:").ok_or_else(|| anyhow::anyhow!("bot said {reply}"))?;
    Ok(list
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|hit| hit.split('|').next().unwrap_or_default().to_owned())
        .collect())
}

fn rand_digits() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 100_000_000
}

on_both! {
    async fn api_help_center_and_bot_agree(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        ventanilla_tests::install_plugin(&app, "hostile-bot", json!({"mode": "kb-answer"}), json!({"kb_search": true}), &[]).await?;
        let kb = create_kb(&app, &app.admin_token, json!({"name": "FAQ", "slug": "faq", "locale": "es"})).await?;
        let agree = |q: &'static str, expected: Vec<&'static str>| {
            let (app, kb, unit) = (&app, kb.clone(), unit.clone());
            async move {
                let ok = eventually(Duration::from_secs(5), || async {
                    (public_titles(app, &kb, q).await.ok()? == expected).then_some(())
                })
                .await;
                anyhow::ensure!(ok.is_some(), "API for `{q}`: {:?}, expected {expected:?}", public_titles(app, &kb, q).await?);
                let help = help_titles(app, q).await?;
                anyhow::ensure!(help == expected, "help center for `{q}`: {help:?}");
                let bot = bot_titles(app, &unit, q).await?;
                anyhow::ensure!(bot == expected, "bot for `{q}`: {bot:?}");
                anyhow::Ok(())
            }
        };
        let article = publish(&app, &kb, "Becas de excelencia", "La beca cubre la matrícula.").await?;
        publish(&app, &kb, "Becas de transporte", "Apoyo para el transporte de estudiantes con beca.").await?;
        agree("becas de excelencia", vec!["Becas de excelencia", "Becas de transporte"]).await?;
        let path = format!("/api/v1/knowledge-bases/{kb}/articles/{}", article["id"].as_str().unwrap_or_default());
        app.patch(&path, &app.admin_token, json!({"title": "Becas por mérito académico"})).await?;
        agree("transporte", vec!["Becas de transporte"]).await?;
        agree("merito academico", vec!["Becas por mérito académico"]).await?;
        app.patch(&path, &app.admin_token, json!({"status": "archived"})).await?;
        agree("merito academico", vec![]).await?;
        agree("becas", vec!["Becas de transporte"]).await?;
        Ok(())
    }
}

on_both! {
    async fn staff_search_every_base_with_filters(backend) {
        let app = spawn_app(backend).await?;
        let admisiones = app.create_unit("admisiones").await?;
        let biblioteca = app.create_unit("biblioteca").await?;
        let (_, agent) = app.create_member("agente@test.example", &admisiones, "agent").await?;
        let public = create_kb(&app, &app.admin_token, json!({"name": "Admisiones", "slug": "admisiones", "unit_id": admisiones})).await?;
        let internal = create_kb(&app, &app.admin_token, json!({"name": "Biblioteca interna", "slug": "biblioteca", "unit_id": biblioteca, "visibility": "internal"})).await?;
        publish(&app, &public, "Horario de inscripciones", "Las inscripciones abren en enero.").await?;
        publish(&app, &internal, "Horario del personal de biblioteca", "El personal entra a las 6.").await?;
        let titles = |path: String| {
            let app = &app;
            let agent = agent.clone();
            async move {
                let reply = app.get(&path, &agent).await?;
                anyhow::ensure!(reply.status == 200, "{}", reply.text);
                let mut titles: Vec<String> = reply.body["hits"].as_array().map(|h| h.iter().filter_map(|x| x["title"].as_str().map(str::to_owned)).collect()).unwrap_or_default();
                titles.sort();
                anyhow::Ok(titles)
            }
        };
        let both = eventually(Duration::from_secs(5), || async { (titles("/api/v1/search?q=horario".into()).await.ok()?.len() == 2).then_some(()) }).await;
        anyhow::ensure!(both.is_some(), "staff search every base, internal ones included");
        anyhow::ensure!(titles(format!("/api/v1/search?q=horario&unit_id={biblioteca}")).await? == ["Horario del personal de biblioteca"]);
        anyhow::ensure!(titles(format!("/api/v1/search?q=horario&kb_id={public}")).await? == ["Horario de inscripciones"]);
        anyhow::ensure!(titles("/api/v1/search?q=horario&locale=en".into()).await?.is_empty(), "no English articles");
        let anonymous = app.client.get(app.url("/api/v1/search?q=horario")).send().await?;
        anyhow::ensure!(anonymous.status() == 401, "{}", anonymous.status());
        let no_kb = app.get(&format!("/api/v1/search?q=horario&category_id={}", uuid::Uuid::nil()), &agent).await?;
        anyhow::ensure!(no_kb.status == 422 && no_kb.body["errors"][0]["field"] == "category_id", "{}", no_kb.text);
        Ok(())
    }
}

on_both! {
    async fn the_example_bot_answers_from_the_knowledge_base(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        ventanilla_tests::install_plugin(&app, "example-bot", json!({"handoff_unit": "admisiones"}), json!({"kv": true, "kb_search": true}), &[]).await?;
        let kb = create_kb(&app, &app.admin_token, json!({"name": "FAQ", "slug": "faq"})).await?;
        let article = json!({"title": "Becas de excelencia", "body": "La beca cubre la matrícula.", "short_answer": "La beca cubre hasta el 100% de la matrícula.", "status": "published"});
        app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token, article, 201).await?;
        until_titles(&app, &kb, "beca", &["Becas de excelencia"]).await?;
        let case = app
            .post_ok("/api/v1/cases", &app.admin_token, json!({
                "subject": "Consulta", "channel": "whatsapp", "unit_id": unit, "status": "bot",
                "contact": {"identities": [{"channel": "whatsapp", "value": "+573001234567"}]},
                "first_message": {"body": "solicito una beca", "author_kind": "contact"},
            }), 201)
            .await?;
        let id = case["id"].as_str().unwrap_or_default().to_owned();
        let replies = eventually(Duration::from_secs(10), || async {
            let m = app.get(&format!("/api/v1/cases/{id}/messages"), &app.admin_token).await.ok()?;
            let bot: Vec<Value> = m.body["items"].as_array()?.iter().filter(|m| m["author_kind"] == "bot").cloned().collect();
            (bot.len() >= 3).then_some(bot)
        })
        .await
        .ok_or_else(|| anyhow::anyhow!("the bot did not answer"))?;
        let answer = replies[1]["body"].as_str().unwrap_or_default();
        anyhow::ensure!(answer.starts_with("La beca cubre hasta el 100% de la matrícula.") && answer.contains("/help/faq/es/articles/becas-de-excelencia"), "{replies:?}");
        anyhow::ensure!(replies[2]["options"].as_array().map(Vec::len) == Some(3), "quick replies follow: {replies:?}");
        Ok(())
    }
}
