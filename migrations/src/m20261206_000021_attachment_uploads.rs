//! Which case each upload was made for. A message may carry a kept file only
//! if it was uploaded for that case (or the case already carries it): knowing
//! a file's hash is no longer enough to attach it and get a link to it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AttachmentUploads {
    Table,
    Hash,
    CaseId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AttachmentUploads::Table)
                .col(ColumnDef::new(AttachmentUploads::Hash).string_len(64).not_null())
                .col(ColumnDef::new(AttachmentUploads::CaseId).uuid().not_null())
                .col(ColumnDef::new(AttachmentUploads::CreatedAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(AttachmentUploads::Hash).col(AttachmentUploads::CaseId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AttachmentUploads::Table).to_owned()).await
    }
}
