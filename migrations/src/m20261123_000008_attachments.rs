//! Files kept by Ventanilla itself (what agents attach, what providers'
//! media becomes once downloaded), stored by content hash: one row per
//! distinct content, whatever name it travels under.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Hash,
    ContentType,
    SizeBytes,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Attachments::Table)
                .col(ColumnDef::new(Attachments::Hash).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(Attachments::ContentType).string_len(128).not_null())
                .col(ColumnDef::new(Attachments::SizeBytes).big_integer().not_null())
                .col(ColumnDef::new(Attachments::CreatedBy).uuid().null())
                .col(ColumnDef::new(Attachments::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Attachments::Table).to_owned()).await
    }
}
