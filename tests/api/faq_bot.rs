//! The FAQ bot (plugins/faq-bot) in conversations driven through the web
//! chat: it says it is a bot, answers from the knowledge base with a link
//! and asks whether that helped, offers close answers as options, asks to
//! rephrase once and then offers the units, and hands off when asked for a
//! person — with typos.

use serde_json::{Value, json};
use std::time::Duration;
use ventanilla_tests::{TestApp, eventually, install_plugin, on_both, spawn_app};

/// A visitor of the web chat.
struct Visitor<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Visitor<'a> {
    async fn start(app: &'a TestApp) -> anyhow::Result<Visitor<'a>> {
        let session: Value = app
            .client
            .post(app.url("/api/v1/webchat/sessions"))
            .json(&json!({"unit": "admisiones"}))
            .send()
            .await?
            .json()
            .await?;
        Ok(Visitor { app, token: session["token"].as_str().unwrap_or_default().to_owned() })
    }

    async fn conversation(&self) -> anyhow::Result<Value> {
        let url = self.app.url("/api/v1/webchat/conversation");
        Ok(self.app.client.get(url).bearer_auth(&self.token).send().await?.json().await?)
    }

    /// What the bot and the host said (not the visitor).
    async fn bot_messages(&self) -> anyhow::Result<Vec<Value>> {
        let seen = self.conversation().await?;
        Ok(seen["messages"].as_array().into_iter().flatten().filter(|m| m["from"] != "me").cloned().collect())
    }

    /// Says `body` (choosing `option`, if any) and waits for the answers to it.
    async fn say(&self, body: &str, option: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let before = self.bot_messages().await?.len();
        let mut message = json!({"body": body});
        if let Some(option) = option {
            message["selected_option"] = json!(option);
        }
        let sent = self
            .app
            .client
            .post(self.app.url("/api/v1/webchat/messages"))
            .bearer_auth(&self.token)
            .json(&message)
            .send()
            .await?;
        anyhow::ensure!(sent.status() == 201, "{}", sent.text().await?);
        let answered = eventually(Duration::from_secs(20), || async {
            let messages = self.bot_messages().await.ok()?;
            // The bot's actions land together; wait a moment for all of them.
            (messages.len() > before).then(|| messages[before..].to_vec())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let all = self.bot_messages().await?;
        match answered {
            Some(_) => Ok(all[before..].to_vec()),
            None => anyhow::bail!("the bot did not answer `{body}`: {}", self.conversation().await?),
        }
    }

    /// Who answers the visitor now, as the widget shows it.
    async fn answering(&self) -> anyhow::Result<Value> {
        Ok(self.conversation().await?["answering"].clone())
    }
}

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
    async fn a_question_is_answered_from_the_knowledge_base(backend) {
        let app = setup(backend).await?;
        let ana = Visitor::start(&app).await?;
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
        let luis = Visitor::start(&app).await?;
        let offered = luis.say("becas", None).await?;
        let choice = offered.iter().find(|m| option_ids(m).iter().any(|o| o.starts_with("article:")));
        let Some(choice) = choice else { anyhow::bail!("no options for close answers: {offered:?}") };
        let ids = option_ids(choice);
        assert!(ids.iter().filter(|o| o.starts_with("article:")).count() >= 2 && ids.contains(&"faq:human".to_owned()), "{ids:?}");
        let picked = choice["options"].as_array().into_iter().flatten()
            .find(|o| o["label"].as_str().is_some_and(|l| l.contains("transporte"))).cloned().unwrap_or_default();
        let answer = luis.say(picked["label"].as_str().unwrap_or_default(), picked["id"].as_str()).await?;
        assert!(answer[0]["body"].as_str().unwrap_or_default().contains("pasaje"), "{answer:?}");
        Ok(())
    }

    async fn the_bot_hands_off_when_asked_or_when_it_cannot_help(backend) {
        let app = setup(backend).await?;
        // Asked for a person, typo and all: at once, to the hand-off unit's queue.
        let ana = Visitor::start(&app).await?;
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
        let luis = Visitor::start(&app).await?;
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
        Ok(())
    }

    async fn a_bot_limited_to_one_knowledge_base_answers_only_from_it(backend) {
        let (app, bot) = setup_bot(backend).await?;
        let kb = app.post_ok("/api/v1/knowledge-bases", &app.admin_token,
            json!({"name": "Biblioteca", "slug": "biblioteca", "locale": "es"}), 201).await?;
        let kb = kb["id"].as_str().unwrap_or_default().to_owned();
        app.post_ok(&format!("/api/v1/knowledge-bases/{kb}/articles"), &app.admin_token,
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

        let ana = Visitor::start(&app).await?;
        let answered = ana.say("préstamo de libros", None).await?;
        assert!(answered.iter().any(|m| m["body"].as_str().unwrap_or_default().contains("5 libros")), "{answered:?}");
        let elsewhere = ana.say("¿cómo pago la matrícula?", None).await?;
        assert!(elsewhere.iter().all(|m| !m["body"].as_str().unwrap_or_default().contains("PSE")),
            "the other base's answer is not given: {elsewhere:?}");
        assert!(elsewhere.iter().any(|m| m["body"].as_str().unwrap_or_default().contains("otras palabras")), "{elsewhere:?}");
        Ok(())
    }
}
