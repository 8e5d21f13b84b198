//! The consent texts people are shown (habeas data), versioned: a record of
//! consent names the version the person saw, and an old version is never
//! changed, only followed by a new one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConsentTexts {
    Table,
    Id,
    Purpose,
    Version,
    Locale,
    Body,
    PolicyUrl,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ConsentTexts::Table)
                .col(ColumnDef::new(ConsentTexts::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(ConsentTexts::Purpose).string_len(64).not_null())
                .col(ColumnDef::new(ConsentTexts::Version).integer().not_null())
                .col(ColumnDef::new(ConsentTexts::Locale).string_len(8).not_null())
                .col(ColumnDef::new(ConsentTexts::Body).text().not_null())
                .col(ColumnDef::new(ConsentTexts::PolicyUrl).text().null())
                .col(ColumnDef::new(ConsentTexts::CreatedBy).uuid().null())
                .col(ColumnDef::new(ConsentTexts::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_consent_texts_version")
                .table(ConsentTexts::Table)
                .col(ConsentTexts::Purpose)
                .col(ConsentTexts::Version)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ConsentTexts::Table).to_owned()).await
    }
}
