//! `serve --demo`: a demo institution in Spanish, so a newcomer sees a
//! working helpdesk on first start. It seeds only a database without
//! accounts: its passwords are public, and a real institution's database
//! must never gain an admin everyone knows the password of.

use anyhow::Context;

use crate::domain::{
    Actor, AuthorKind, BusinessHours, CaseStatus, Channel, ConsentAction, Email, Membership, Priority, Role, Slug,
    UnitId, UserId,
    case::{CasePatch, NewCase},
    consent::NewConsent,
    contact::NewContact,
    message::NewMessage,
    unit::NewUnit,
    user::NewUser,
};
use crate::store::{self, Store};

/// The password of every demo account; printed at start-up.
pub const DEMO_PASSWORD: &str = "ventanilla-demo";
pub const DEMO_ADMIN: &str = "admin@demo.ventanilla.test";

/// What `--demo` found or did, for the start-up message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A database without accounts: the demo institution was created.
    Created,
    /// The demo was seeded here before (its admin exists).
    AlreadyThere,
    /// The database has accounts of its own: nothing was added.
    Refused,
}

pub async fn seed(store: &Store) -> anyhow::Result<Outcome> {
    if store::user::any_exists(&store.db).await? || !store::unit::list(&store.db).await?.is_empty() {
        let admin = Email::parse("email", DEMO_ADMIN)?;
        let demo_admin = store::user::find_for_login(&store.db, &admin).await?.is_some();
        return Ok(if demo_admin { Outcome::AlreadyThere } else { Outcome::Refused });
    }
    let system = Actor::System;
    let hash = crate::auth::hash_password(DEMO_PASSWORD).context("hashing the demo password")?;
    let tz: chrono_tz::Tz = "America/Bogota".parse().map_err(|_| anyhow::anyhow!("timezone table missing"))?;
    let units = [
        ("admisiones", "Admisiones"),
        ("biblioteca", "Biblioteca"),
        ("bienestar", "Bienestar — apoyo psicológico"),
        ("credito", "Crédito y cobranzas"),
        ("mesa-de-ayuda", "Mesa de ayuda general"),
    ];
    let mut unit_ids = vec![];
    for (slug, name) in units {
        let unit = store::unit::create(
            store,
            &system,
            NewUnit {
                slug: Slug::parse("slug", slug)?,
                name: name.into(),
                timezone: tz,
                business_hours: BusinessHours::office_default(),
                survey: crate::domain::survey::SurveySettings { enabled: true, comment: true, ..Default::default() },
                routing: crate::domain::routing::RoutingSettings {
                    mode: crate::domain::routing::RoutingMode::LeastLoaded,
                    ..Default::default()
                },
                custom_fields: vec![],
                privacy: Default::default(),
            },
        )
        .await?;
        unit_ids.push(unit.id);
    }
    let user = |email: &str, name: &str, is_admin: bool, memberships: Vec<Membership>| -> anyhow::Result<NewUser> {
        Ok(NewUser {
            email: Email::parse("email", email)?,
            display_name: name.into(),
            password_hash: hash.clone(),
            is_admin,
            locale: "es".into(),
            memberships,
        })
    };
    let member = |unit: UnitId, role: Role| Membership { unit_id: unit, role };
    store::user::create(store, &system, user(DEMO_ADMIN, "Administración", true, vec![])?).await?;
    let mut agents: Vec<(UnitId, UserId)> = vec![];
    let people = [
        ("marta.rios", "Marta Ríos", 0, Role::Supervisor),
        ("juan.pardo", "Juan Pardo", 0, Role::Agent),
        ("lucia.mora", "Lucía Mora", 1, Role::Agent),
        ("andres.vela", "Andrés Vela", 2, Role::Supervisor),
        ("sofia.lara", "Sofía Lara", 2, Role::Agent),
        ("carlos.nino", "Carlos Niño", 3, Role::Agent),
        ("paula.ruiz", "Paula Ruiz", 4, Role::Agent),
    ];
    for (login, name, unit, role) in people {
        let email = format!("{login}@demo.ventanilla.test");
        let created =
            store::user::create(store, &system, user(&email, name, false, vec![member(unit_ids[unit], role)])?).await?;
        agents.push((unit_ids[unit], created.id));
    }
    let contacts = [
        ("Laura Gómez", vec![(Channel::Whatsapp, "+573001112233"), (Channel::Email, "laura.gomez@correo.test")]),
        ("Diego Castro", vec![(Channel::Telegram, "48213377")]),
        ("Valentina Ortiz", vec![(Channel::Instagram, "17841400000000001"), (Channel::Sms, "+573104445566")]),
        ("Camilo Herrera", vec![(Channel::Email, "camilo.herrera@correo.test")]),
        ("Isabel Quintero", vec![(Channel::Messenger, "5829104477123"), (Channel::Whatsapp, "+573157778899")]),
        ("Mateo Salazar", vec![(Channel::Webchat, "visitante-7f3a")]),
    ];
    let mut contact_ids = vec![];
    for (name, identities) in contacts {
        let contact = store::contact::create(
            store,
            &system,
            &store::contact::Visibility::All,
            NewContact {
                name: Some(name.into()),
                identities: identities.into_iter().map(|(c, v)| (c, v.to_owned())).collect(),
                ..Default::default()
            },
        )
        .await?;
        contact_ids.push((contact.id, contact.identities.first().map_or(Channel::Webchat, |i| i.channel)));
    }
    store::contact::record_consent(
        store,
        &system,
        &store::contact::Visibility::All,
        contact_ids[0].0,
        NewConsent {
            purpose: "data_processing".into(),
            action: ConsentAction::Grant,
            text_version: "2026-01".into(),
            channel: Channel::Whatsapp,
            source: "bot".into(),
            reference: None,
            given_at: None,
        },
    )
    .await?;
    let cases = [
        ("¿Cuándo abren las inscripciones de pregrado?", 0, 0, CaseStatus::Bot, Priority::Normal),
        ("Documentos para la matrícula de transferencia", 2, 0, CaseStatus::Queued, Priority::Normal),
        ("Renovación de préstamo de libros", 1, 1, CaseStatus::Assigned, Priority::Low),
        ("Solicito cita con psicología", 4, 2, CaseStatus::Assigned, Priority::High),
        ("Acuerdo de pago del semestre", 3, 3, CaseStatus::WaitingOnContact, Priority::Normal),
        ("No puedo entrar al campus virtual", 5, 4, CaseStatus::Resolved, Priority::Normal),
        ("Certificado de notas", 0, 4, CaseStatus::Closed, Priority::Low),
    ];
    for (subject, contact, unit, status, priority) in cases {
        let (contact_id, channel) = contact_ids[contact];
        let unit_id = unit_ids[unit];
        let agent = agents.iter().find(|(u, _)| *u == unit_id).map(|(_, a)| *a);
        let first = NewMessage::text(AuthorKind::Contact, format!("Hola, buenas tardes. {subject}"));
        let new = NewCase {
            subject: subject.into(),
            channel,
            contact_id,
            unit_id,
            status: if status == CaseStatus::Bot { CaseStatus::Bot } else { CaseStatus::Queued },
            assignee_id: None,
            priority,
            tags: vec![],
            custom_fields: serde_json::Map::new(),
            channel_install_id: None,
        };
        let case = store::case::create(store, &system, new, Some(first)).await?;
        let steps: &[CaseStatus] = match status {
            CaseStatus::Bot | CaseStatus::Queued => &[],
            CaseStatus::Assigned => &[CaseStatus::Assigned],
            CaseStatus::WaitingOnContact => &[CaseStatus::Assigned, CaseStatus::WaitingOnContact],
            CaseStatus::Resolved => &[CaseStatus::Assigned, CaseStatus::Resolved],
            CaseStatus::Closed => &[CaseStatus::Assigned, CaseStatus::Resolved, CaseStatus::Closed],
        };
        for step in steps {
            let patch = CasePatch {
                status: Some(*step),
                assignee_id: (*step == CaseStatus::Assigned).then_some(agent),
                ..Default::default()
            };
            store::case::update(store, &system, None, case.id, patch).await?;
            if *step == CaseStatus::Assigned {
                let reply = NewMessage {
                    author_user_id: agent,
                    ..NewMessage::text(
                        AuthorKind::Agent,
                        "Hola, con gusto te ayudo. ¿Me confirmas tu número de documento?",
                    )
                };
                store::message::add(store, &system, None, case.id, reply).await?;
            }
        }
    }
    seed_faq(store).await?;
    Ok(Outcome::Created)
}

/// The institution's public FAQ, from the search evaluation set: a real
/// university's questions, readable at /help/faq.
async fn seed_faq(store: &Store) -> anyhow::Result<()> {
    use crate::domain::kb::{ArticleStatus, Locale, NewArticle, NewKnowledgeBase, Theme, Visibility};
    let set = crate::search::eval::EvalSet::parse(include_str!("../../tests/data/kb_eval_es.json"))?;
    let kb = store::kb::create(
        store,
        &Actor::System,
        NewKnowledgeBase {
            unit_id: None,
            slug: Slug::parse("slug", "faq")?,
            name: "Preguntas frecuentes".into(),
            locale: Locale::Es,
            visibility: Visibility::Public,
            theme: Theme { institution_name: Some("Universidad Demo".into()), ..Theme::default() },
            synonyms: set.synonyms.clone(),
        },
    )
    .await?;
    let rows = set
        .articles
        .into_iter()
        .map(|a| store::kb_import::ImportRow {
            category: Some(a.category.replace('-', " ")),
            article: NewArticle {
                category_id: None,
                translation_of: None,
                locale: Locale::Es,
                title: a.title,
                body: a.body,
                short_answer: a.short_answer,
                keywords: a.keywords,
                status: ArticleStatus::Published,
            },
        })
        .collect();
    store::kb_import::import(store, None, &kb, rows).await?;
    Ok(())
}
