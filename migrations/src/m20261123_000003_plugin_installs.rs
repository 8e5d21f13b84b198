//! Plugin installs: a plugin version put to work with settings and grants.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PluginInstalls::Table)
                .col(ColumnDef::new(PluginInstalls::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(PluginInstalls::Name).text().not_null())
                .col(ColumnDef::new(PluginInstalls::PluginId).string_len(64).not_null())
                .col(ColumnDef::new(PluginInstalls::Version).string_len(32).not_null())
                .col(ColumnDef::new(PluginInstalls::PreviousVersion).string_len(32).null())
                .col(ColumnDef::new(PluginInstalls::Enabled).boolean().not_null().default(true))
                .col(ColumnDef::new(PluginInstalls::Settings).json_binary().not_null())
                .col(ColumnDef::new(PluginInstalls::Grants).json_binary().not_null())
                .col(ColumnDef::new(PluginInstalls::Status).string_len(16).not_null())
                .col(ColumnDef::new(PluginInstalls::SuspendedReason).text().null())
                .col(ColumnDef::new(PluginInstalls::ConsecutiveFailures).integer().not_null().default(0))
                .col(ColumnDef::new(PluginInstalls::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(PluginInstalls::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_plugin_installs_plugin")
                .table(PluginInstalls::Table)
                .col(PluginInstalls::PluginId)
                .col(PluginInstalls::Version)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PluginInstalls::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum PluginInstalls {
    Table,
    Id,
    Name,
    PluginId,
    Version,
    PreviousVersion,
    Enabled,
    Settings,
    Grants,
    Status,
    SuspendedReason,
    ConsecutiveFailures,
    CreatedAt,
    UpdatedAt,
}
