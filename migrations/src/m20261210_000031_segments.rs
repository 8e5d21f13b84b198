//! Segments: saved descriptions of a group of people (attributes, channels,
//! cases, consent), evaluated whenever they are used.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Segments {
    Table,
    Id,
    UnitId,
    Name,
    Description,
    Filter,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Units {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Segments::Table)
                .col(ColumnDef::new(Segments::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Segments::UnitId).uuid().null())
                .col(ColumnDef::new(Segments::Name).string_len(120).not_null())
                .col(ColumnDef::new(Segments::Description).text().null())
                .col(ColumnDef::new(Segments::Filter).json().not_null())
                .col(ColumnDef::new(Segments::CreatedBy).uuid().null())
                .col(ColumnDef::new(Segments::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Segments::UpdatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Segments::Table, Segments::UnitId)
                        .to(Units::Table, Units::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_segments_unit").table(Segments::Table).col(Segments::UnitId).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Segments::Table).to_owned()).await
    }
}
