//! Erasure and legal hold: when a person's erasure started and ended (a
//! restarted job finishes what a killed one began), and the holds that
//! keep a person's or a case's data from being erased or expired.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contacts {
    Table,
    LegalHold,
    ErasureStartedAt,
    ErasedAt,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    LegalHold,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            ColumnDef::new(Contacts::LegalHold).text().null().to_owned(),
            ColumnDef::new(Contacts::ErasureStartedAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Contacts::ErasedAt).timestamp_with_time_zone().null().to_owned(),
        ];
        for mut column in columns {
            m.alter_table(Table::alter().table(Contacts::Table).add_column(&mut column).to_owned()).await?;
        }
        m.alter_table(
            Table::alter().table(Cases::Table).add_column(ColumnDef::new(Cases::LegalHold).text().null()).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Cases::Table).drop_column(Cases::LegalHold).to_owned()).await?;
        for column in [Contacts::ErasedAt, Contacts::ErasureStartedAt, Contacts::LegalHold] {
            m.alter_table(Table::alter().table(Contacts::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
