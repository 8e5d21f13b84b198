//! What the channels need: template messages (WhatsApp's approved
//! templates), a journal of provider answers so a retried send never sends
//! twice, and contacts that may be the same person, left for a human to merge.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("messages"))
                .add_column(ColumnDef::new(Alias::new("template")).json_binary().null())
                .to_owned(),
        )
        .await?;

        // A provider's successful answer to a send, kept from the moment it
        // arrives until the send is recorded: a retry after a crash in
        // between gets this answer back instead of sending again.
        m.create_table(
            Table::create()
                .table(SendJournal::Table)
                .col(ColumnDef::new(SendJournal::IdempotencyKey).string_len(128).not_null())
                .col(ColumnDef::new(SendJournal::RequestDigest).string_len(64).not_null())
                .col(ColumnDef::new(SendJournal::Status).integer().not_null())
                .col(ColumnDef::new(SendJournal::Headers).json_binary().not_null())
                .col(ColumnDef::new(SendJournal::Body).binary().not_null())
                .col(ColumnDef::new(SendJournal::CreatedAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(SendJournal::IdempotencyKey).col(SendJournal::RequestDigest))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ContactDuplicates::Table)
                .col(ColumnDef::new(ContactDuplicates::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(ContactDuplicates::ContactId).uuid().not_null())
                .col(ColumnDef::new(ContactDuplicates::CandidateId).uuid().not_null())
                .col(ColumnDef::new(ContactDuplicates::Reason).string_len(400).not_null())
                .col(ColumnDef::new(ContactDuplicates::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(ContactDuplicates::Table, ContactDuplicates::ContactId)
                        .to(Alias::new("contacts"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ContactDuplicates::Table, ContactDuplicates::CandidateId)
                        .to(Alias::new("contacts"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_contact_duplicates_pair")
                .table(ContactDuplicates::Table)
                .col(ContactDuplicates::ContactId)
                .col(ContactDuplicates::CandidateId)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ContactDuplicates::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(SendJournal::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Alias::new("messages")).drop_column(Alias::new("template")).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SendJournal {
    Table,
    IdempotencyKey,
    RequestDigest,
    Status,
    Headers,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ContactDuplicates {
    Table,
    Id,
    ContactId,
    CandidateId,
    Reason,
    CreatedAt,
}
