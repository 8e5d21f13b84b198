//! The message templates a channel account's provider keeps (WhatsApp's),
//! as the host last read them, and how each account's last reading went
//! (with the account's quality rating and messaging limit).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChannelTemplates {
    Table,
    InstallId,
    Name,
    Language,
    Status,
    Template,
    StatusChangedAt,
    SyncedAt,
}

#[derive(DeriveIden)]
enum TemplateSyncs {
    Table,
    InstallId,
    AttemptedAt,
    SyncedAt,
    Error,
    Templates,
    Quality,
    DailyRecipients,
}

#[derive(DeriveIden)]
enum PluginInstalls {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ChannelTemplates::Table)
                .col(ColumnDef::new(ChannelTemplates::InstallId).uuid().not_null())
                .col(ColumnDef::new(ChannelTemplates::Name).string_len(512).not_null())
                .col(ColumnDef::new(ChannelTemplates::Language).string_len(16).not_null())
                .col(ColumnDef::new(ChannelTemplates::Status).string_len(20).not_null())
                // The whole template as read (domain::template::ProviderTemplate).
                .col(ColumnDef::new(ChannelTemplates::Template).json().not_null())
                .col(ColumnDef::new(ChannelTemplates::StatusChangedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(ChannelTemplates::SyncedAt).timestamp_with_time_zone().not_null())
                .primary_key(
                    Index::create()
                        .col(ChannelTemplates::InstallId)
                        .col(ChannelTemplates::Name)
                        .col(ChannelTemplates::Language),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ChannelTemplates::Table, ChannelTemplates::InstallId)
                        .to(PluginInstalls::Table, PluginInstalls::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TemplateSyncs::Table)
                .col(ColumnDef::new(TemplateSyncs::InstallId).uuid().not_null().primary_key())
                .col(ColumnDef::new(TemplateSyncs::AttemptedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(TemplateSyncs::SyncedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(TemplateSyncs::Error).text().null())
                .col(ColumnDef::new(TemplateSyncs::Templates).integer().not_null().default(0))
                // The account's standing with the provider, as last read.
                .col(ColumnDef::new(TemplateSyncs::Quality).string_len(10).null())
                .col(ColumnDef::new(TemplateSyncs::DailyRecipients).integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(TemplateSyncs::Table, TemplateSyncs::InstallId)
                        .to(PluginInstalls::Table, PluginInstalls::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TemplateSyncs::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ChannelTemplates::Table).to_owned()).await
    }
}
