//! Audiences: a contact's id in the institution's own systems (student or
//! applicant number), unique, so imports and the upsert API find the same
//! person again; and where a consent answer came from (the form, the file).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contacts {
    Table,
    ExternalId,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Reference,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Contacts::Table)
                .add_column(ColumnDef::new(Contacts::ExternalId).string_len(128).null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_contacts_external_id")
                .table(Contacts::Table)
                .col(Contacts::ExternalId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Consents::Table)
                .add_column(ColumnDef::new(Consents::Reference).string_len(300).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Consents::Table).drop_column(Consents::Reference).to_owned()).await?;
        m.drop_index(Index::drop().name("ux_contacts_external_id").table(Contacts::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Contacts::Table).drop_column(Contacts::ExternalId).to_owned()).await
    }
}
