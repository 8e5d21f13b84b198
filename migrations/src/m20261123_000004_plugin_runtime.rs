//! What running plugins need: which units an install follows, which channel
//! account a case and a message belong to, quick-reply options on messages,
//! encrypted install secrets, durable plugin key-value storage and
//! notifications for staff.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let add = |table: Alias, col: ColumnDef| Table::alter().table(table).add_column(col).to_owned();
        m.alter_table(add(
            Alias::new("plugin_installs"),
            ColumnDef::new(Alias::new("world")).string_len(16).not_null().default("bot").to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Alias::new("plugin_installs"),
            ColumnDef::new(Alias::new("units")).json_binary().not_null().default("[]").to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Alias::new("cases"),
            ColumnDef::new(Alias::new("channel_install_id")).uuid().null().to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Alias::new("messages"),
            ColumnDef::new(Alias::new("channel_install_id")).uuid().null().to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Alias::new("messages"),
            ColumnDef::new(Alias::new("options")).json_binary().not_null().default("[]").to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Alias::new("messages"),
            ColumnDef::new(Alias::new("delivery_error")).text().null().to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Alias::new("messages"),
            ColumnDef::new(Alias::new("selected_option")).string_len(255).null().to_owned(),
        ))
        .await?;
        // Inbound messages are deduplicated per channel account and provider id.
        m.create_index(
            Index::create()
                .name("ux_messages_provider")
                .table(Alias::new("messages"))
                .col(Alias::new("channel_install_id"))
                .col(Alias::new("provider_message_id"))
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PluginSecrets::Table)
                .col(ColumnDef::new(PluginSecrets::InstallId).uuid().not_null())
                .col(ColumnDef::new(PluginSecrets::Name).string_len(64).not_null())
                .col(ColumnDef::new(PluginSecrets::Nonce).binary().not_null())
                .col(ColumnDef::new(PluginSecrets::Ciphertext).binary().not_null())
                .col(ColumnDef::new(PluginSecrets::UpdatedAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(PluginSecrets::InstallId).col(PluginSecrets::Name))
                .foreign_key(
                    ForeignKey::create()
                        .from(PluginSecrets::Table, PluginSecrets::InstallId)
                        .to(Alias::new("plugin_installs"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PluginKv::Table)
                .col(ColumnDef::new(PluginKv::InstallId).uuid().not_null())
                .col(ColumnDef::new(PluginKv::Key).string_len(255).not_null())
                .col(ColumnDef::new(PluginKv::Value).binary().not_null())
                .col(ColumnDef::new(PluginKv::UpdatedAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(PluginKv::InstallId).col(PluginKv::Key))
                .foreign_key(
                    ForeignKey::create()
                        .from(PluginKv::Table, PluginKv::InstallId)
                        .to(Alias::new("plugin_installs"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .col(ColumnDef::new(Notifications::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Notifications::UserId).uuid().not_null())
                .col(ColumnDef::new(Notifications::CaseId).uuid().null())
                .col(ColumnDef::new(Notifications::Kind).string_len(32).not_null())
                .col(ColumnDef::new(Notifications::Text).text().not_null())
                .col(ColumnDef::new(Notifications::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Notifications::ReadAt).timestamp_with_time_zone().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Notifications::Table, Notifications::UserId)
                        .to(Alias::new("users"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_notifications_user")
                .table(Notifications::Table)
                .col(Notifications::UserId)
                .col(Notifications::CreatedAt)
                .col(Notifications::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Notifications::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(PluginKv::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(PluginSecrets::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ux_messages_provider").table(Alias::new("messages")).to_owned()).await?;
        for (table, col) in [
            ("messages", "selected_option"),
            ("messages", "delivery_error"),
            ("messages", "options"),
            ("messages", "channel_install_id"),
            ("cases", "channel_install_id"),
            ("plugin_installs", "units"),
            ("plugin_installs", "world"),
        ] {
            m.alter_table(Table::alter().table(Alias::new(table)).drop_column(Alias::new(col)).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum PluginSecrets {
    Table,
    InstallId,
    Name,
    Nonce,
    Ciphertext,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PluginKv {
    Table,
    InstallId,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    CaseId,
    Kind,
    Text,
    CreatedAt,
    ReadAt,
}
