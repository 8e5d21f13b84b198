//! Canned responses: answers agents insert from the composer, kept per unit
//! (its supervisors write them) or per person (only their author sees them),
//! found by a short name.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CannedResponses {
    Table,
    Id,
    UnitId,
    OwnerId,
    Shortcut,
    Title,
    Body,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CannedResponses::Table)
                .col(ColumnDef::new(CannedResponses::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(CannedResponses::UnitId).uuid().null())
                .col(ColumnDef::new(CannedResponses::OwnerId).uuid().null())
                .col(ColumnDef::new(CannedResponses::Shortcut).string_len(40).not_null())
                .col(ColumnDef::new(CannedResponses::Title).string_len(200).not_null())
                .col(ColumnDef::new(CannedResponses::Body).text().not_null())
                .col(ColumnDef::new(CannedResponses::CreatedBy).uuid().null())
                .col(ColumnDef::new(CannedResponses::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(CannedResponses::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        // One shortcut per unit, and per person (NULLs never collide, so
        // each index only binds the rows of its kind).
        m.create_index(
            Index::create()
                .name("ux_canned_unit_shortcut")
                .table(CannedResponses::Table)
                .col(CannedResponses::UnitId)
                .col(CannedResponses::Shortcut)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_canned_owner_shortcut")
                .table(CannedResponses::Table)
                .col(CannedResponses::OwnerId)
                .col(CannedResponses::Shortcut)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CannedResponses::Table).to_owned()).await
    }
}
