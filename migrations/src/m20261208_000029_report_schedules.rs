//! Scheduled reports: a person's subscription to a report, sent by e-mail
//! with its CSV on a schedule.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportSchedules {
    Table,
    Id,
    OwnerId,
    Name,
    Report,
    GroupBy,
    Filters,
    Frequency,
    Dates,
    Recipients,
    NextRunAt,
    LastSentAt,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ReportSchedules::Table)
                .col(ColumnDef::new(ReportSchedules::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(ReportSchedules::OwnerId).uuid().not_null())
                .col(ColumnDef::new(ReportSchedules::Name).string_len(100).not_null())
                .col(ColumnDef::new(ReportSchedules::Report).string_len(20).not_null())
                .col(ColumnDef::new(ReportSchedules::GroupBy).json().not_null())
                .col(ColumnDef::new(ReportSchedules::Filters).json().not_null())
                .col(ColumnDef::new(ReportSchedules::Frequency).string_len(10).not_null())
                .col(ColumnDef::new(ReportSchedules::Dates).json().not_null())
                .col(ColumnDef::new(ReportSchedules::Recipients).json().not_null())
                .col(ColumnDef::new(ReportSchedules::NextRunAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(ReportSchedules::LastSentAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(ReportSchedules::LastError).text().null())
                .col(ColumnDef::new(ReportSchedules::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_report_schedules_due")
                .table(ReportSchedules::Table)
                .col(ReportSchedules::NextRunAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ReportSchedules::Table).to_owned()).await
    }
}
