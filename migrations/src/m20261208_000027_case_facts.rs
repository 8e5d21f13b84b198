//! Reports: the facts of each case (when people took over, first reply,
//! resolution, time handled, in calendar and business seconds), kept by a
//! refresher from the case's timeline, and the cases whose facts are due
//! to be read again. Existing cases are all marked due, so their facts are
//! worked out once after the upgrade.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseFacts {
    Table,
    CaseId,
    UnitId,
    Channel,
    ChannelInstallId,
    AgentId,
    Priority,
    Status,
    CreatedAt,
    StartedInBot,
    HandoffAt,
    FirstAssignedAt,
    FirstResponseAt,
    ResolvedAt,
    Reopens,
    Transfers,
    AgentReplies,
    Notes,
    BotContained,
    Abandoned,
    FirstResponseS,
    FirstResponseBs,
    HandoffWaitS,
    HandoffWaitBs,
    AssignmentS,
    AssignmentBs,
    ResolutionS,
    ResolutionBs,
    HandlingS,
    HandlingBs,
    WaitingS,
    WaitingBs,
    ComputedAt,
}

#[derive(DeriveIden)]
enum CaseFactsDue {
    Table,
    CaseId,
    MarkedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let seconds = |c: CaseFacts| ColumnDef::new(c).big_integer().null().to_owned();
        let count = |c: CaseFacts| ColumnDef::new(c).integer().not_null().default(0).to_owned();
        let moment = |c: CaseFacts| ColumnDef::new(c).timestamp_with_time_zone().null().to_owned();
        m.create_table(
            Table::create()
                .table(CaseFacts::Table)
                .col(ColumnDef::new(CaseFacts::CaseId).uuid().not_null().primary_key())
                .col(ColumnDef::new(CaseFacts::UnitId).uuid().not_null())
                .col(ColumnDef::new(CaseFacts::Channel).string_len(20).not_null())
                .col(ColumnDef::new(CaseFacts::ChannelInstallId).uuid().null())
                .col(ColumnDef::new(CaseFacts::AgentId).uuid().null())
                .col(ColumnDef::new(CaseFacts::Priority).string_len(10).not_null())
                .col(ColumnDef::new(CaseFacts::Status).string_len(20).not_null())
                .col(ColumnDef::new(CaseFacts::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(CaseFacts::StartedInBot).boolean().not_null())
                .col(moment(CaseFacts::HandoffAt))
                .col(moment(CaseFacts::FirstAssignedAt))
                .col(moment(CaseFacts::FirstResponseAt))
                .col(moment(CaseFacts::ResolvedAt))
                .col(count(CaseFacts::Reopens))
                .col(count(CaseFacts::Transfers))
                .col(count(CaseFacts::AgentReplies))
                .col(count(CaseFacts::Notes))
                .col(ColumnDef::new(CaseFacts::BotContained).boolean().not_null())
                .col(ColumnDef::new(CaseFacts::Abandoned).boolean().not_null())
                .col(seconds(CaseFacts::FirstResponseS))
                .col(seconds(CaseFacts::FirstResponseBs))
                .col(seconds(CaseFacts::HandoffWaitS))
                .col(seconds(CaseFacts::HandoffWaitBs))
                .col(seconds(CaseFacts::AssignmentS))
                .col(seconds(CaseFacts::AssignmentBs))
                .col(seconds(CaseFacts::ResolutionS))
                .col(seconds(CaseFacts::ResolutionBs))
                .col(ColumnDef::new(CaseFacts::HandlingS).big_integer().not_null().default(0))
                .col(ColumnDef::new(CaseFacts::HandlingBs).big_integer().not_null().default(0))
                .col(ColumnDef::new(CaseFacts::WaitingS).big_integer().not_null().default(0))
                .col(ColumnDef::new(CaseFacts::WaitingBs).big_integer().not_null().default(0))
                .col(ColumnDef::new(CaseFacts::ComputedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        // Reports read a period (of the whole institution, of some units,
        // of one agent).
        for (name, cols) in [
            ("ix_case_facts_created", vec![CaseFacts::CreatedAt]),
            ("ix_case_facts_unit_created", vec![CaseFacts::UnitId, CaseFacts::CreatedAt]),
            ("ix_case_facts_agent_created", vec![CaseFacts::AgentId, CaseFacts::CreatedAt]),
        ] {
            let mut index = Index::create().name(name).table(CaseFacts::Table).to_owned();
            for col in cols {
                index.col(col);
            }
            m.create_index(index).await?;
        }
        m.create_table(
            Table::create()
                .table(CaseFactsDue::Table)
                .col(ColumnDef::new(CaseFactsDue::CaseId).uuid().not_null().primary_key())
                .col(ColumnDef::new(CaseFactsDue::MarkedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared("INSERT INTO case_facts_due (case_id, marked_at) SELECT id, created_at FROM cases")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CaseFactsDue::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(CaseFacts::Table).to_owned()).await
    }
}
