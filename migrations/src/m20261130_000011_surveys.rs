//! Satisfaction surveys: each unit's survey settings, and one survey per
//! resolved case with its answer (score, comment) and what it is about
//! (channel, unit, agent, whether people or only the bot attended).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Units {
    Table,
    Survey,
}

#[derive(DeriveIden)]
enum Surveys {
    Table,
    Id,
    CaseId,
    ContactId,
    UnitId,
    Channel,
    AgentId,
    Outcome,
    Scale,
    Locale,
    Comment,
    Score,
    Status,
    SentAt,
    AnsweredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Units::Table).add_column(ColumnDef::new(Units::Survey).json().null()).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Surveys::Table)
                .col(ColumnDef::new(Surveys::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Surveys::CaseId).uuid().not_null().unique_key())
                .col(ColumnDef::new(Surveys::ContactId).uuid().not_null())
                .col(ColumnDef::new(Surveys::UnitId).uuid().not_null())
                .col(ColumnDef::new(Surveys::Channel).string_len(16).not_null())
                .col(ColumnDef::new(Surveys::AgentId).uuid().null())
                .col(ColumnDef::new(Surveys::Outcome).string_len(16).not_null())
                .col(ColumnDef::new(Surveys::Scale).string_len(16).not_null())
                .col(ColumnDef::new(Surveys::Locale).string_len(8).not_null())
                .col(ColumnDef::new(Surveys::Status).string_len(16).not_null())
                .col(ColumnDef::new(Surveys::Score).small_integer().null())
                .col(ColumnDef::new(Surveys::Comment).text().null())
                .col(ColumnDef::new(Surveys::SentAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Surveys::AnsweredAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_surveys_unit_sent")
                .table(Surveys::Table)
                .col(Surveys::UnitId)
                .col(Surveys::SentAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Surveys::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Units::Table).drop_column(Units::Survey).to_owned()).await
    }
}
