//! `ventanilla bench ...`: helpers for the benchmarks in `benches/`. Seeding
//! writes rows in bulk so a 100k-case database takes seconds, not minutes.

use anyhow::Context;
use sea_orm::{ConnectionTrait, EntityTrait, Set, Statement};

use crate::domain::{CaseStatus, Channel, Priority, UnitId};
use crate::store::{self, Store};

/// Inserts `n` cases (each with a contact and a first message) into `unit`.
pub async fn seed_cases(store: &Store, unit: UnitId, n: usize) -> anyhow::Result<()> {
    const BATCH: usize = 500;
    let statuses = [CaseStatus::Queued, CaseStatus::Assigned, CaseStatus::Resolved, CaseStatus::Closed];
    let subjects = [
        "Certificado de notas",
        "Inscripción a pregrado",
        "Pago de matrícula",
        "Préstamo de libros",
        "Cita con psicología",
    ];
    let mut number = next_number(store).await?;
    let mut done = 0;
    while done < n {
        let size = BATCH.min(n - done);
        let tx = store.begin().await?;
        let mut contacts = Vec::with_capacity(size);
        let mut cases = Vec::with_capacity(size);
        let mut messages = Vec::with_capacity(size);
        for i in 0..size {
            let now = store::now();
            let contact_id = uuid::Uuid::now_v7();
            let case_id = uuid::Uuid::now_v7();
            let k = done + i;
            contacts.push(store::contact::entity::ActiveModel {
                id: Set(contact_id),
                name: Set(Some(format!("Contacto {k}"))),
                custom_attributes: Set(serde_json::json!({})),
                merged_into: Set(None),
                created_by: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
            let status = statuses[k % statuses.len()];
            cases.push(store::case::entity::ActiveModel {
                id: Set(case_id),
                number: Set(number),
                subject: Set(format!("{} #{k}", subjects[k % subjects.len()])),
                channel: Set(Channel::ALL[k % 8].as_str().to_owned()),
                contact_id: Set(contact_id),
                unit_id: Set(unit.0),
                assignee_id: Set(None),
                status: Set(if status == CaseStatus::Assigned { CaseStatus::Queued } else { status }
                    .as_str()
                    .to_owned()),
                priority: Set(Priority::Normal.as_str().to_owned()),
                custom_fields: Set(serde_json::json!({})),
                created_at: Set(now),
                updated_at: Set(now),
                first_response_at: Set(None),
                resolved_at: Set(None),
                closed_at: Set(None),
            });
            messages.push(store::message::entity::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                case_id: Set(case_id),
                direction: Set("inbound".into()),
                author_kind: Set("contact".into()),
                author_user_id: Set(None),
                body: Set(format!("Hola, necesito ayuda con el trámite {k}")),
                attachments: Set(serde_json::json!([])),
                provider_message_id: Set(None),
                delivery_status: Set("received".into()),
                created_at: Set(now),
            });
            number += 1;
        }
        store::contact::entity::Entity::insert_many(contacts).exec(&*tx).await?;
        store::case::entity::Entity::insert_many(cases).exec(&*tx).await?;
        store::message::entity::Entity::insert_many(messages).exec(&*tx).await?;
        tx.commit().await?;
        done += size;
    }
    if store::is_postgres(&store.db) {
        store
            .db
            .execute_raw(Statement::from_string(
                store.backend(),
                "SELECT setval('case_number_seq', (SELECT MAX(number) FROM cases))",
            ))
            .await
            .context("advancing the case number sequence")?;
    }
    Ok(())
}

async fn next_number(store: &Store) -> anyhow::Result<i64> {
    let row = store
        .db
        .query_one_raw(Statement::from_string(store.backend(), "SELECT COALESCE(MAX(number), 0) + 1 AS n FROM cases"))
        .await?
        .context("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}
