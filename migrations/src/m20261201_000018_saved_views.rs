//! Saved views: a named set of inbox filters, kept per person (only they see
//! it) or per unit (its supervisors write it, its staff see it), in the
//! order their owner arranged them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SavedViews {
    Table,
    Id,
    UnitId,
    OwnerId,
    Name,
    Filters,
    Position,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SavedViews::Table)
                .col(ColumnDef::new(SavedViews::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(SavedViews::UnitId).uuid().null())
                .col(ColumnDef::new(SavedViews::OwnerId).uuid().null())
                .col(ColumnDef::new(SavedViews::Name).string_len(80).not_null())
                .col(ColumnDef::new(SavedViews::Filters).json().not_null())
                .col(ColumnDef::new(SavedViews::Position).integer().not_null().default(0))
                .col(ColumnDef::new(SavedViews::CreatedBy).uuid().null())
                .col(ColumnDef::new(SavedViews::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(SavedViews::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        // One name per unit and per person (NULLs never collide).
        for (name, col) in [("ux_views_unit_name", SavedViews::UnitId), ("ux_views_owner_name", SavedViews::OwnerId)] {
            m.create_index(
                Index::create().name(name).table(SavedViews::Table).col(col).col(SavedViews::Name).unique().to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SavedViews::Table).to_owned()).await
    }
}
