//! Service-level targets on cases, as protocols report them.

use super::Result;
use crate::domain::CaseId;
use crate::domain::sla::{CaseSla, SlaState, SlaTarget};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::HashMap;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_slas")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub case_id: Uuid,
        pub install_id: Uuid,
        pub name: String,
        pub state: String,
        pub due_at: Option<DateTimeUtc>,
        pub settled_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn from_model(m: entity::Model) -> Option<(CaseId, CaseSla)> {
    let target =
        SlaTarget { name: m.name, state: SlaState::parse(&m.state)?, due_at: m.due_at, settled_at: m.settled_at };
    Some((CaseId(m.case_id), CaseSla { install_id: m.install_id, target, updated_at: m.updated_at }))
}

/// Replaces the targets `install` keeps on `case` (validated by the caller),
/// in the caller's transaction.
pub async fn replace_in(
    tx: &impl ConnectionTrait,
    case: CaseId,
    install: uuid::Uuid,
    targets: &[SlaTarget],
) -> Result<()> {
    entity::Entity::delete_many()
        .filter(entity::Column::CaseId.eq(case.0))
        .filter(entity::Column::InstallId.eq(install))
        .exec(tx)
        .await?;
    let now = super::now();
    let rows: Vec<_> = targets
        .iter()
        .map(|t| entity::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            case_id: Set(case.0),
            install_id: Set(install),
            name: Set(t.name.clone()),
            state: Set(t.state.as_str().to_owned()),
            due_at: Set(t.due_at),
            settled_at: Set(t.settled_at),
            updated_at: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        entity::Entity::insert_many(rows).exec(tx).await?;
    }
    // Consoles showing the case, or the cases at risk, read it again.
    if let Ok(found) = super::case::get(tx, None, case).await {
        let states: Vec<&str> = targets.iter().map(|t| t.state.as_str()).collect();
        let mut event = super::case::live_event("case.sla", &found, None);
        event.data["sla"] = serde_json::json!(states);
        super::live::publish_in(tx, event).await?;
    }
    Ok(())
}

/// The targets on each of `cases`, soonest due first.
pub async fn for_cases(conn: &impl ConnectionTrait, cases: &[CaseId]) -> Result<HashMap<CaseId, Vec<CaseSla>>> {
    let mut by_case: HashMap<CaseId, Vec<CaseSla>> = HashMap::new();
    if cases.is_empty() {
        return Ok(by_case);
    }
    let rows = entity::Entity::find()
        .filter(entity::Column::CaseId.is_in(cases.iter().map(|c| c.0)))
        .order_by_asc(entity::Column::DueAt)
        .order_by_asc(entity::Column::Name)
        .all(conn)
        .await?;
    for (case, sla) in rows.into_iter().filter_map(from_model) {
        by_case.entry(case).or_default().push(sla);
    }
    Ok(by_case)
}
