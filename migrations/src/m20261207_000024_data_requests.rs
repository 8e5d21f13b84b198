//! Data-subject requests: access, rectification, erasure and revocation,
//! each with its legal deadline and the unit that answers it, and for an
//! access request the export of the person's data (a ZIP in the file
//! store, downloadable once).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DataRequests {
    Table,
    Id,
    ContactId,
    Kind,
    Status,
    Details,
    UnitId,
    ReceivedAt,
    DueAt,
    WarnAt,
    Resolution,
    CreatedBy,
    ClosedBy,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
    ExportStatus,
    ExportHash,
    ExportBytes,
    ExportError,
    ExportReadyAt,
    ExportExpiresAt,
    ExportDownloadedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DataRequests::Table)
                .col(ColumnDef::new(DataRequests::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(DataRequests::ContactId).uuid().not_null())
                .col(ColumnDef::new(DataRequests::Kind).string_len(20).not_null())
                .col(ColumnDef::new(DataRequests::Status).string_len(20).not_null())
                .col(ColumnDef::new(DataRequests::Details).text().not_null())
                .col(ColumnDef::new(DataRequests::UnitId).uuid().not_null())
                .col(ColumnDef::new(DataRequests::ReceivedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(DataRequests::DueAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(DataRequests::WarnAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(DataRequests::Resolution).text().null())
                .col(ColumnDef::new(DataRequests::CreatedBy).uuid().null())
                .col(ColumnDef::new(DataRequests::ClosedBy).uuid().null())
                .col(ColumnDef::new(DataRequests::ClosedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(DataRequests::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(DataRequests::UpdatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(DataRequests::ExportStatus).string_len(20).null())
                .col(ColumnDef::new(DataRequests::ExportHash).string_len(64).null())
                .col(ColumnDef::new(DataRequests::ExportBytes).big_integer().null())
                .col(ColumnDef::new(DataRequests::ExportError).text().null())
                .col(ColumnDef::new(DataRequests::ExportReadyAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(DataRequests::ExportExpiresAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(DataRequests::ExportDownloadedAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        // The queue: a unit's open requests by deadline; a person's requests.
        m.create_index(
            Index::create()
                .name("ix_data_requests_queue")
                .table(DataRequests::Table)
                .col(DataRequests::UnitId)
                .col(DataRequests::Status)
                .col(DataRequests::DueAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_data_requests_contact")
                .table(DataRequests::Table)
                .col(DataRequests::ContactId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DataRequests::Table).to_owned()).await
    }
}
