//! Knowledge-base spreadsheets in and out, and the search analytics
//! supervisors read.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{Reply, TestApp, eventually, on_both, spawn_app};

async fn create_kb(app: &TestApp) -> anyhow::Result<String> {
    let kb = app
        .post_ok(
            "/api/v1/knowledge-bases",
            &app.admin_token,
            json!({"name": "FAQ", "slug": "faq", "locale": "es"}),
            201,
        )
        .await?;
    Ok(kb["id"].as_str().unwrap_or_default().to_owned())
}

async fn import(app: &TestApp, kb: &str, content_type: &str, body: &str) -> anyhow::Result<Reply> {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/knowledge-bases/{kb}/import")))
        .bearer_auth(&app.admin_token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await?;
    TestApp::reply(response).await
}

async fn titles(app: &TestApp, kb: &str) -> anyhow::Result<Vec<String>> {
    let list = app.get(&format!("/api/v1/knowledge-bases/{kb}/articles?limit=100"), &app.admin_token).await?;
    let mut titles: Vec<String> = list.body["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["title"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    titles.sort();
    Ok(titles)
}

on_both! {
    async fn a_spreadsheet_imports_whole_or_not_at_all(backend) {
        let app = spawn_app(backend).await?;
        let kb = create_kb(&app).await?;
        // Spanish headers, `;` between columns as Spanish spreadsheets save them.
        let csv = "\u{feff}Pregunta;Respuesta;Categoría;Palabras clave\n\
                   ¿Cómo solicito una beca?;Ingrese al portal y llene el formulario.;Becas;beca; apoyo\n\
                   ¿Cuándo pago la matrícula?;Antes de la fecha límite del calendario.;Pagos;pago\n";
        let reply = import(&app, &kb, "text/csv", csv).await?;
        anyhow::ensure!(reply.status == 200 && reply.body == json!({"created": 2, "updated": 0, "categories_created": 2}), "{}", reply.text);
        let found = eventually(Duration::from_secs(5), || async {
            let r = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=beca"), &app.admin_token).await.ok()?;
            (r.body["hits"][0]["title"] == "¿Cómo solicito una beca?").then_some(())
        }).await;
        anyhow::ensure!(found.is_some(), "imported articles are searchable");

        // One bad row among good ones: nothing is written, every bad row is named.
        let bad = json!([
            {"question": "Horario de la biblioteca", "answer": "De 7 a 21."},
            {"question": "", "answer": "Sin pregunta"},
            {"question": "Sin respuesta"},
            {"question": "Idioma raro", "answer": "x", "locale": "fr"},
        ]);
        let reply = import(&app, &kb, "application/json", &bad.to_string()).await?;
        let fields: Vec<&str> = reply.body["errors"].as_array().map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect()).unwrap_or_default();
        anyhow::ensure!(reply.status == 422 && fields == ["rows[1].question", "rows[2].answer", "rows[3].locale"], "{}", reply.text);
        anyhow::ensure!(titles(&app, &kb).await?.len() == 2, "nothing of a failed import is kept");

        // Importing again updates by question instead of duplicating.
        let again = json!([{"pregunta": "¿Cómo solicito una beca?", "respuesta": "Ahora se solicita en Bienestar.", "palabras_clave": ["beca"]}]);
        let reply = import(&app, &kb, "application/json", &again.to_string()).await?;
        anyhow::ensure!(reply.body == json!({"created": 0, "updated": 1, "categories_created": 0}), "{}", reply.text);
        anyhow::ensure!(titles(&app, &kb).await? == ["¿Cuándo pago la matrícula?", "¿Cómo solicito una beca?"], "{:?}", titles(&app, &kb).await?);

        for (content_type, body, field) in [("text/csv", "nombre,valor\nx,y\n", "rows"), ("application/json", "[]", "rows")] {
            let reply = import(&app, &kb, content_type, body).await?;
            anyhow::ensure!(reply.status == 422 && reply.body["errors"][0]["field"] == field, "{}", reply.text);
        }
        let reply = import(&app, &kb, "text/plain", "hola").await?;
        anyhow::ensure!(reply.status == 400, "{}", reply.text);
        Ok(())
    }

    async fn an_export_imports_back(backend) {
        let app = spawn_app(backend).await?;
        let kb = create_kb(&app).await?;
        let rows = json!([
            {"question": "Certificado de notas", "answer": "Se descarga en el portal, \"Certificados\".", "category": "Certificados", "keywords": "notas; calificaciones"},
            {"question": "Carné perdido", "answer": "Pida el duplicado.\n\nRecójalo en Bienestar."},
        ]);
        import(&app, &kb, "application/json", &rows.to_string()).await?;
        let csv = app.client.get(app.url(&format!("/api/v1/knowledge-bases/{kb}/export?format=csv"))).bearer_auth(&app.admin_token).send().await?;
        anyhow::ensure!(csv.headers()["content-type"].to_str()?.starts_with("text/csv"), "csv export");
        let csv = csv.text().await?;
        anyhow::ensure!(csv.starts_with("question,answer,short_answer,category,keywords,status,locale\n"), "{csv}");

        let other = app.post_ok("/api/v1/knowledge-bases", &app.admin_token, json!({"name": "Copia", "slug": "copia"}), 201).await?;
        let other = other["id"].as_str().unwrap_or_default().to_owned();
        let reply = import(&app, &other, "text/csv", &csv).await?;
        anyhow::ensure!(reply.body["created"] == 2 && reply.body["categories_created"] == 1, "{}", reply.text);
        let export = |kb: String| {
            let app = &app;
            async move { app.get(&format!("/api/v1/knowledge-bases/{kb}/export?format=json"), &app.admin_token).await }
        };
        let (first, second): (Reply, Reply) = (export(kb.clone()).await?, export(other).await?);
        anyhow::ensure!(first.body == second.body && first.body.as_array().map(Vec::len) == Some(2), "{} vs {}", first.text, second.text);
        anyhow::ensure!(first.body[1]["keywords"] == json!(["notas", "calificaciones"]), "{}", first.text);
        Ok(())
    }

    async fn supervisors_see_what_people_search(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("admisiones").await?;
        let (_, supervisor) = app.create_member("sup@test.example", &unit, "supervisor").await?;
        let (_, agent) = app.create_member("agente@test.example", &unit, "agent").await?;
        let kb = app.post_ok("/api/v1/knowledge-bases", &supervisor, json!({"name": "Admisiones", "slug": "admisiones", "unit_id": unit}), 201).await?;
        let kb = kb["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &supervisor, json!({"title": "Becas", "body": "La beca cubre la matrícula.", "status": "published"}), 201).await?;
        // Suggestions (prefix searches) are not counted: wait with one.
        eventually(Duration::from_secs(5), || async {
            let r = app.get(&format!("/api/v1/knowledge-bases/{kb}/search?q=beca&prefix=true"), &app.admin_token).await.ok()?;
            (r.body["hits"].as_array().map(Vec::len) == Some(1)).then_some(())
        }).await;
        for q in ["beca", "Beca", "parqueadero", "beca"] {
            app.client.get(app.url(&format!("/api/v1/knowledge-bases/{kb}/search"))).query(&[("q", q)]).send().await?;
        }
        // A reader says no, from the help center, after searching.
        let form = [("helpful", "no"), ("comment", "No dice las fechas"), ("q", "beca")];
        let feedback = app.client.post(app.url("/help/admisiones/es/articles/becas/feedback")).form(&form).send().await?;
        anyhow::ensure!(feedback.status().is_success(), "the feedback form redirects to the article: {}", feedback.status());

        let analytics = eventually(Duration::from_secs(5), || async {
            let r = app.get(&format!("/api/v1/knowledge-bases/{kb}/analytics"), &supervisor).await.ok()?;
            (r.body["searches"].as_i64() >= Some(4)).then_some(r)
        }).await.ok_or_else(|| anyhow::anyhow!("searches never reached the analytics"))?;
        let body: &Value = &analytics.body;
        anyhow::ensure!(body["top_queries"][0] == json!({"query": "beca", "searches": 3}), "{}", analytics.text);
        anyhow::ensure!(body["no_result_queries"] == json!([{"query": "parqueadero", "searches": 1}]), "{}", analytics.text);
        let negative = &body["negative_feedback"][0];
        anyhow::ensure!(negative["not_helpful"] == 1 && negative["comments"] == json!(["No dice las fechas"]) && negative["queries"] == json!(["beca"]), "{}", analytics.text);
        let refused = app.get(&format!("/api/v1/knowledge-bases/{kb}/analytics"), &agent).await?;
        anyhow::ensure!(refused.status == 403, "{}", refused.text);
        let backwards = app.get(&format!("/api/v1/knowledge-bases/{kb}/analytics?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"), &supervisor).await?;
        anyhow::ensure!(backwards.status == 422, "{}", backwards.text);
        Ok(())
    }
}
