//! What each bot conversation came to, as the bot reports it: the article
//! it answered with, the search's confidence and the outcome.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BotOutcomes {
    Table,
    CaseId,
    InstallId,
    UnitId,
    Channel,
    Outcome,
    ArticleId,
    Confidence,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BotOutcomes::Table)
                .col(ColumnDef::new(BotOutcomes::CaseId).uuid().not_null().primary_key())
                .col(ColumnDef::new(BotOutcomes::InstallId).uuid().not_null())
                .col(ColumnDef::new(BotOutcomes::UnitId).uuid().not_null())
                .col(ColumnDef::new(BotOutcomes::Channel).string_len(16).not_null())
                .col(ColumnDef::new(BotOutcomes::Outcome).string_len(16).not_null())
                .col(ColumnDef::new(BotOutcomes::ArticleId).uuid().null())
                .col(ColumnDef::new(BotOutcomes::Confidence).float().null())
                .col(ColumnDef::new(BotOutcomes::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(BotOutcomes::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_bot_outcomes_unit_created")
                .table(BotOutcomes::Table)
                .col(BotOutcomes::UnitId)
                .col(BotOutcomes::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(BotOutcomes::Table).to_owned()).await
    }
}
