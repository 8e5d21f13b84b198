//! Uploaded plugin components: one row per (plugin id, version), with the
//! component bytes, so every instance of a cluster can load them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PluginVersions::Table)
                .col(ColumnDef::new(PluginVersions::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(PluginVersions::PluginId).string_len(64).not_null())
                .col(ColumnDef::new(PluginVersions::Version).string_len(32).not_null())
                .col(ColumnDef::new(PluginVersions::Name).text().not_null())
                .col(ColumnDef::new(PluginVersions::World).string_len(16).not_null())
                .col(ColumnDef::new(PluginVersions::Wit).string_len(16).not_null())
                .col(ColumnDef::new(PluginVersions::Description).text().not_null())
                .col(ColumnDef::new(PluginVersions::Manifest).text().not_null())
                .col(ColumnDef::new(PluginVersions::WasmHash).string_len(64).not_null())
                .col(ColumnDef::new(PluginVersions::Wasm).blob().not_null())
                .col(ColumnDef::new(PluginVersions::SizeBytes).big_integer().not_null())
                .col(ColumnDef::new(PluginVersions::UploadedBy).uuid().null())
                .col(ColumnDef::new(PluginVersions::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_plugin_versions_id_version")
                .table(PluginVersions::Table)
                .col(PluginVersions::PluginId)
                .col(PluginVersions::Version)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PluginVersions::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum PluginVersions {
    Table,
    Id,
    PluginId,
    Version,
    Name,
    World,
    Wit,
    Description,
    Manifest,
    WasmHash,
    Wasm,
    SizeBytes,
    UploadedBy,
    CreatedAt,
}
