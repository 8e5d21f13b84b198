//! Service-level targets on cases, as the protocols that keep them report
//! them (first response, resolution...): one row per case, install and
//! target name, replaced whenever the protocol says.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseSlas {
    Table,
    Id,
    CaseId,
    InstallId,
    Name,
    State,
    DueAt,
    SettledAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CaseSlas::Table)
                .col(ColumnDef::new(CaseSlas::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(CaseSlas::CaseId).uuid().not_null())
                .col(ColumnDef::new(CaseSlas::InstallId).uuid().not_null())
                .col(ColumnDef::new(CaseSlas::Name).string_len(40).not_null())
                .col(ColumnDef::new(CaseSlas::State).string_len(16).not_null())
                .col(ColumnDef::new(CaseSlas::DueAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(CaseSlas::SettledAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(CaseSlas::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_case_slas_target")
                .table(CaseSlas::Table)
                .col(CaseSlas::CaseId)
                .col(CaseSlas::InstallId)
                .col(CaseSlas::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        // "At risk" views: targets by state, soonest due first.
        m.create_index(
            Index::create()
                .name("ix_case_slas_state_due")
                .table(CaseSlas::Table)
                .col(CaseSlas::State)
                .col(CaseSlas::DueAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CaseSlas::Table).to_owned()).await
    }
}
