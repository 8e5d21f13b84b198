//! Consent at every point of capture: a unit's data-protection settings
//! (whether the host asks for the authorisation itself), and when a
//! consent recorded by staff was given.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Units {
    Table,
    Privacy,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    GivenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Units::Table).add_column(ColumnDef::new(Units::Privacy).json().null()).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Consents::Table)
                .add_column(ColumnDef::new(Consents::GivenAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Consents::Table).drop_column(Consents::GivenAt).to_owned()).await?;
        m.alter_table(Table::alter().table(Units::Table).drop_column(Units::Privacy).to_owned()).await
    }
}
