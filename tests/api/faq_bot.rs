//! The FAQ bot (plugins/faq-bot) in conversations driven through the web
//! chat: it says it is a bot, answers from the knowledge base with a link
//! and asks whether that helped, offers close answers as options, asks to
//! rephrase once and then offers the units, and hands off when asked for a
//! person — with typos.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::webchat::Visitor;
use ventanilla_tests::{TestApp, eventually, install_plugin, on_both, spawn_app};

fn option_ids(message: &Value) -> Vec<String> {
    message["options"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_str().map(str::to_owned)).collect()
}

async fn setup(backend: ventanilla_tests::Backend) -> anyhow::Result<TestApp> {
    Ok(setup_bot(backend).await?.0)
}

/// The app, its knowledge base's id and the bot's install id.
async fn setup_bot(backend: ventanilla_tests::Backend) -> anyhow::Result<(TestApp, String)> {
    let app = spawn_app(backend).await?;
    // Admisiones attends every day; the library is closed today (a holiday).
    let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
        .collect();
    let today = chrono::Utc::now().with_timezone(&chrono_tz::America::Bogota).date_naive().to_string();
    for (slug, name, holidays) in [("admisiones", "Admisiones", vec![]), ("biblioteca", "Biblioteca", vec![today])] {
        app.post_ok(
            "/api/v1/units",
            &app.admin_token,
            json!({"slug": slug, "name": name, "timezone": "America/Bogota",
            "business_hours": {"weekly": every_day, "holidays": holidays}}),
            201,
        )
        .await?;
    }
    let kb = app
        .post_ok(
            "/api/v1/knowledge-bases",
            &app.admin_token,
            json!({"name": "Preguntas frecuentes", "slug": "faq", "locale": "es"}),
            201,
        )
        .await?;
    let kb = kb["id"].as_str().unwrap_or_default().to_owned();
    for (title, short, body, keywords) in [
        (
            "Pago de la matrícula",
            "Paga la matrícula por PSE o en el banco con el recibo del portal.",
            "El recibo de matrícula se descarga del portal estudiantil y se paga por PSE o en el banco.",
            vec!["pagar", "matricula", "recibo", "pse"],
        ),
        (
            "Becas de excelencia académica",
            "La beca de excelencia cubre la matrícula de los mejores promedios.",
            "Las becas de excelencia académica se otorgan a los mejores promedios de cada programa.",
            vec!["becas", "beca", "excelencia"],
        ),
        (
            "Becas de transporte",
            "La beca de transporte ayuda con el pasaje de estudiantes de estratos 1 y 2.",
            "Las becas de transporte apoyan el pasaje de estudiantes de estratos 1 y 2.",
            vec!["becas", "beca", "transporte"],
        ),
        (
            "Horario de la biblioteca",
            "La biblioteca abre de lunes a sábado de 7:00 a 21:00.",
            "La biblioteca central abre de lunes a sábado de 7:00 a 21:00.",
            vec!["biblioteca", "horario"],
        ),
    ] {
        app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token,
            json!({"title": title, "short_answer": short, "body": body, "keywords": keywords, "status": "published", "locale": "es"}),
            201).await?;
    }
    // Index jobs run in no set order: wait for every article.
    let titles =
        ["Pago de la matrícula", "Becas de excelencia académica", "Becas de transporte", "Horario de la biblioteca"];
    let searchable = eventually(Duration::from_secs(20), || async {
        for title in titles {
            let reply = app
                .client
                .get(app.url(&format!("/api/v1/knowledge-bases/{kb}/search")))
                .query(&[("q", title)])
                .send()
                .await
                .ok()?;
            let body: Value = reply.json().await.ok()?;
            body["hits"].as_array()?.iter().any(|h| h["title"] == title).then_some(())?;
        }
        Some(())
    })
    .await;
    anyhow::ensure!(searchable.is_some(), "the articles never became searchable");
    let bot = install_plugin(
        &app,
        "faq-bot",
        json!({"bot_name": "Vale", "handoff_unit": "admisiones",
        "units_menu": [{"slug": "admisiones", "label": "Admisiones"}, {"slug": "biblioteca", "label": "Biblioteca"}]}),
        json!({"kv": true, "kb_search": true}),
        &[],
    )
    .await?;
    let bot = bot["id"].as_str().unwrap_or_default().to_owned();
    Ok((app, bot))
}

on_both! {
    async fn consent_refused_still_gets_answers_without_keeping_personal_data(backend) {
        let (app, bot) = setup_bot(backend).await?;
        let updated = app.patch(&format!("/api/v1/plugin-installs/{bot}"), &app.admin_token, json!({"settings": {
            "bot_name": "Vale", "handoff_unit": "admisiones", "consent_purpose": "data_processing",
            "units_menu": [{"slug": "admisiones", "label": "Admisiones"}]}})).await?;
        anyhow::ensure!(updated.status == 200, "{}", updated.text);
        app.post_ok("/api/v1/consent-texts", &app.admin_token, json!({"purpose": "data_processing",
            "text": "Autorizo a la Universidad a tratar mis datos personales para atender mi solicitud.",
            "policy_url": "https://uni.test/datos"}), 201).await?;

        let ana = Visitor::start(&app, "admisiones").await?;
        let first = ana.say("Hola", None).await?;
        let asked = first.iter().find(|m| option_ids(m).iter().any(|o| o.starts_with("consent:")));
        let Some(asked) = asked else { anyhow::bail!("no consent question: {first:?}") };
        anyhow::ensure!(asked["body"].as_str().is_some_and(|b| b.contains("Autorizo a la Universidad") && b.contains("https://uni.test/datos")), "{asked}");
        anyhow::ensure!(option_ids(asked) == ["consent:grant:data_processing:v1", "consent:revoke:data_processing:v1"], "{asked}");
        let declined = ana.say("No autorizo", Some("consent:revoke:data_processing:v1")).await?;
        anyhow::ensure!(declined.iter().any(|m| m["body"].as_str().is_some_and(|b| b.contains("no guardaremos tus datos"))), "{declined:?}");
        // FAQ answers go on.
        let answer = ana.say("¿cómo pago la matrícula?", None).await?;
        anyhow::ensure!(answer.iter().any(|m| m["body"].as_str().is_some_and(|b| b.contains("PSE"))), "{answer:?}");
        // What they write is kept without their personal data.
        ana.send("mi cédula es 1020304050 y mi correo ana@correo.com", None).await?;
        let cases = app.get("/api/v1/cases", &app.admin_token).await?;
        let case = cases.body["items"][0]["id"].as_str().unwrap_or_default().to_owned();
        let contact = cases.body["items"][0]["contact_id"].as_str().unwrap_or_default().to_owned();
        let kept = eventually(Duration::from_secs(10), || async {
            app.messages(&case).await.ok()?.into_iter().find(|m| m["body"].as_str().is_some_and(|b| b.starts_with("mi cédula")))
        }).await.unwrap_or_default();
        anyhow::ensure!(kept["body"] == "mi cédula es [dato omitido] y mi correo [dato omitido]", "{kept}");
        let consents = app.get(&format!("/api/v1/contacts/{contact}/consents"), &app.admin_token).await?;
        anyhow::ensure!(consents.text.contains("\"revoke\"") && consents.text.contains("\"v1\""), "{}", consents.text);
        Ok(())
    }

    async fn a_person_in_crisis_reaches_the_crisis_queue_first(backend) {
        let app = setup(backend).await?;
        let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
            .collect();
        let bienestar = app.post_ok("/api/v1/units", &app.admin_token, json!({"slug": "bienestar", "name": "Bienestar",
            "timezone": "America/Bogota", "business_hours": {"weekly": every_day}}), 201).await?;
        let bienestar = bienestar["id"].as_str().unwrap_or_default().to_owned();
        let (_, on_call) = app.create_member("turno@uni.test", &bienestar, "supervisor").await?;
        install_plugin(&app, "crisis-protocol", json!({"crisis_unit": "bienestar"}), json!({"kv": true}), &[]).await?;

        let ana = Visitor::start(&app, "admisiones").await?;
        let answers = ana.say("hola, ya no quiero vivir, estoy muy cansada de todo", None).await?;
        let texts: Vec<&str> = answers.iter().filter_map(|m| m["body"].as_str()).collect();
        // The emergency lines come first; the bot never answers (no greeting).
        assert!(texts.first().is_some_and(|t| t.contains("Línea 106") && t.contains("123")), "{texts:?}");
        assert!(!texts.iter().any(|t| t.contains("Vale")), "the bot stayed out: {texts:?}");
        assert!(texts.iter().any(|t| t.contains("Bienestar")), "told where the case went: {texts:?}");
        let crisis = eventually(Duration::from_secs(10), || async {
            let cases = app.get("/api/v1/cases?tag=crisis", &app.admin_token).await.ok()?;
            cases.body["items"].as_array()?.first().cloned()
        }).await;
        let Some(crisis) = crisis else { anyhow::bail!("no crisis case") };
        anyhow::ensure!(crisis["unit_id"] == bienestar.as_str() && crisis["priority"] == "urgent" && crisis["status"] == "queued", "{crisis}");
        let told = app.get("/api/v1/notifications", &on_call).await?;
        anyhow::ensure!(told.text.contains("Posible crisis (riesgo suicida)") && told.text.contains("ya no quiero vivir"), "{}", told.text);
        // A second message of the same case does not send the lines again.
        ana.send("no sé qué hacer, quiero quitarme la vida", None).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let lines = ana.bot_messages().await?.iter().filter(|m| m["body"].as_str().is_some_and(|b| b.contains("Línea 106"))).count();
        anyhow::ensure!(lines == 1, "no second emergency reply: {}", ana.conversation().await?);

        // Everyday talk is not a crisis: the bot answers as always.
        let luis = Visitor::start(&app, "admisiones").await?;
        let answers = luis.say("jajaja me muero de risa", None).await?;
        let texts: Vec<&str> = answers.iter().filter_map(|m| m["body"].as_str()).collect();
        assert!(texts[0].contains("Vale") && !texts.iter().any(|t| t.contains("Línea 106")), "{texts:?}");
        let answers = luis.say("¿cómo pago la matrícula?", None).await?;
        assert!(answers.iter().any(|m| m["body"].as_str().is_some_and(|b| b.contains("PSE"))), "{answers:?}");
        let cases = app.get("/api/v1/cases?tag=crisis", &app.admin_token).await?;
        anyhow::ensure!(cases.body["items"].as_array().map(Vec::len) == Some(1), "{}", cases.text);
        Ok(())
    }

    async fn a_question_is_answered_from_the_knowledge_base(backend) {
        let app = setup(backend).await?;
        let ana = Visitor::start(&app, "admisiones").await?;
        let answers = ana.say("hola, ¿cómo pago la matrícula?", None).await?;
        let texts: Vec<&str> = answers.iter().filter_map(|m| m["body"].as_str()).collect();
        assert!(texts[0].contains("Vale") && texts[0].contains("bot"), "it says it is a bot, by name: {texts:?}");
        assert!(texts.iter().any(|t| t.contains("PSE") && t.contains("/help/faq/es/articles/pago-de-la-matricula")),
            "the short answer with a link to the article: {texts:?}");
        let question = answers.last().cloned().unwrap_or_default();
        assert_eq!(option_ids(&question), ["faq:yes", "faq:no", "faq:human"], "{question}");
        let closing = ana.say("Sí", Some("faq:yes")).await?;
        assert!(closing[0]["body"].as_str().unwrap_or_default().contains("Con gusto"), "{closing:?}");
        let closed = eventually(Duration::from_secs(10), || async {
            (ana.answering().await.ok()?["ended"] == true).then_some(())
        }).await;
        anyhow::ensure!(closed.is_some(), "a confirmed answer closes the conversation: {}", ana.answering().await?);

        // Close answers are offered as options; choosing one answers it.
        let luis = Visitor::start(&app, "admisiones").await?;
        let offered = luis.say("becas", None).await?;
        let choice = offered.iter().find(|m| option_ids(m).iter().any(|o| o.starts_with("article:")));
        let Some(choice) = choice else { anyhow::bail!("no options for close answers: {offered:?}") };
        let ids = option_ids(choice);
        assert!(ids.iter().filter(|o| o.starts_with("article:")).count() >= 2 && ids.contains(&"faq:human".to_owned()), "{ids:?}");
        let picked = choice["options"].as_array().into_iter().flatten()
            .find(|o| o["label"].as_str().is_some_and(|l| l.contains("transporte"))).cloned().unwrap_or_default();
        let answer = luis.say(picked["label"].as_str().unwrap_or_default(), picked["id"].as_str()).await?;
        assert!(answer[0]["body"].as_str().unwrap_or_default().contains("pasaje"), "{answer:?}");

        // What each conversation came to, for the reports.
        let report = app.get("/api/v1/bot-conversations/summary", &app.admin_token).await?;
        let b = &report.body;
        anyhow::ensure!(b["conversations"] == 2 && b["outcomes"]["confirmed"] == 1 && b["outcomes"]["answered"] == 1, "{}", report.text);
        anyhow::ensure!(b["containment_rate"] == 1.0 && b["top_articles"].as_array().map(Vec::len) == Some(2), "{}", report.text);
        let list = app.get("/api/v1/bot-conversations", &app.admin_token).await?;
        let items = list.body["items"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(items.iter().all(|c| c["confidence"].as_f64().is_some_and(|x| x >= 0.5) && c["article_id"].is_string()), "{}", list.text);
        Ok(())
    }

    async fn the_bot_hands_off_when_asked_or_when_it_cannot_help(backend) {
        let app = setup(backend).await?;
        // Asked for a person, typo and all: at once, to the hand-off unit's queue.
        let ana = Visitor::start(&app, "admisiones").await?;
        let answers = ana.say("quiero hablar con un asesro", None).await?;
        // The host tells where the case went: Admisiones attends now (but in
        // the day's last minute, which is outside its hours).
        assert!(answers.iter().any(|m| m["from"] == "system" && m["body"].as_str().is_some_and(|b|
            b.contains("Te comunico con Admisiones. Eres la siguiente persona") || b.contains("no está atendiendo"))), "{answers:?}");
        let queued = eventually(Duration::from_secs(10), || async {
            (ana.answering().await.ok()?["kind"] == "queue").then_some(())
        }).await;
        anyhow::ensure!(queued.is_some(), "handed off to a queue: {}", ana.answering().await?);

        // Nothing to answer with: one request to rephrase, then the units and a person.
        let luis = Visitor::start(&app, "admisiones").await?;
        let first = luis.say("zxqw vbnm plok", None).await?;
        assert!(first.iter().any(|m| m["body"].as_str().unwrap_or_default().contains("otras palabras")), "{first:?}");
        let second = luis.say("qwzx mnbv kolp", None).await?;
        let menu = second.last().cloned().unwrap_or_default();
        assert_eq!(option_ids(&menu), ["unit:admisiones", "unit:biblioteca", "faq:human"], "{second:?}");
        let told = luis.say("Biblioteca", Some("unit:biblioteca")).await?;
        let closed = told.iter().filter_map(|m| m["body"].as_str()).find(|b| b.contains("Biblioteca no está atendiendo"));
        assert!(closed.is_some_and(|b| b.contains("Abrimos mañana a las 00:00") && b.contains("queda en la fila")),
            "outside its hours the person is told when it opens: {told:?}");
        let units = app.get("/api/v1/units", &app.admin_token).await?;
        let biblioteca = units.body["items"].as_array().into_iter().flatten()
            .find(|u| u["slug"] == "biblioteca").and_then(|u| u["id"].as_str().map(str::to_owned)).unwrap_or_default();
        let moved = eventually(Duration::from_secs(10), || async {
            let cases = app.get(&format!("/api/v1/cases?unit_id={biblioteca}&status=queued"), &app.admin_token).await.ok()?;
            (cases.body["items"].as_array()?.len() == 1).then_some(())
        }).await;
        anyhow::ensure!(moved.is_some(), "not handed off to the unit chosen: {}", luis.answering().await?);
        let report = app.get("/api/v1/bot-conversations/summary", &app.admin_token).await?;
        anyhow::ensure!(report.body["outcomes"]["handed_off"] == 2 && report.body["containment_rate"] == 0.0, "{}", report.text);
        Ok(())
    }

    async fn a_bot_limited_to_one_knowledge_base_answers_only_from_it(backend) {
        let (app, bot) = setup_bot(backend).await?;
        let kb = app.post_ok("/api/v1/knowledge-bases", &app.admin_token,
            json!({"name": "Biblioteca", "slug": "biblioteca", "locale": "es"}), 201).await?;
        let kb = kb["id"].as_str().unwrap_or_default().to_owned();
        let article = app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token,
            json!({"title": "Préstamo de libros", "short_answer": "Puedes llevar hasta 5 libros por 15 días.",
                   "body": "El préstamo de libros es de hasta 5 libros por 15 días, renovable.", "keywords": ["prestamo", "libros"],
                   "status": "published", "locale": "es"}), 201).await?;
        let indexed = eventually(Duration::from_secs(20), || async {
            let reply = app.client.get(app.url(&format!("/api/v1/knowledge-bases/{kb}/search")))
                .query(&[("q", "Préstamo de libros")]).send().await.ok()?;
            let body: Value = reply.json().await.ok()?;
            (!body["hits"].as_array()?.is_empty()).then_some(())
        })
        .await;
        anyhow::ensure!(indexed.is_some(), "the article never became searchable");
        let patched = app.patch(&format!("/api/v1/plugin-installs/{bot}"), &app.admin_token,
            json!({"settings": {"bot_name": "Biblio", "knowledge_bases": ["biblioteca"]}})).await?;
        assert_eq!(patched.status, 200, "{}", patched.text);

        let ana = Visitor::start(&app, "admisiones").await?;
        let answered = ana.say("préstamo de libros", None).await?;
        assert!(answered.iter().any(|m| m["body"].as_str().unwrap_or_default().contains("5 libros")), "{answered:?}");
        let elsewhere = ana.say("¿cómo pago la matrícula?", None).await?;
        assert!(elsewhere.iter().all(|m| !m["body"].as_str().unwrap_or_default().contains("PSE")),
            "the other base's answer is not given: {elsewhere:?}");
        assert!(elsewhere.iter().any(|m| m["body"].as_str().unwrap_or_default().contains("otras palabras")), "{elsewhere:?}");

        // Once the article is edited, the bot answers with the new text.
        let article = article["id"].as_str().unwrap_or_default();
        let edited = app.patch(&format!("/api/v1/knowledge-bases/{kb}/articles/{article}"), &app.admin_token,
            json!({"short_answer": "Puedes llevar hasta 8 libros por 20 días."})).await?;
        anyhow::ensure!(edited.status == 200, "{}", edited.text);
        let fresh = eventually(Duration::from_secs(20), || async {
            let luis = Visitor::start(&app, "admisiones").await.ok()?;
            let answered = luis.say("préstamo de libros", None).await.ok()?;
            answered.iter().any(|m| m["body"].as_str().unwrap_or_default().contains("8 libros por 20 días")).then_some(())
        })
        .await;
        anyhow::ensure!(fresh.is_some(), "the bot kept the old text");
        Ok(())
    }
}
