//! What an outbound message's delivery is doing while it is retried: how
//! many tries so far, when the next one comes, and which earlier message of
//! the same case it waits behind (a case's messages go out in order).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    DeliveryAttempts,
    NextAttemptAt,
    WaitingFor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            ColumnDef::new(Messages::DeliveryAttempts).integer().not_null().default(0).to_owned(),
            ColumnDef::new(Messages::NextAttemptAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Messages::WaitingFor).uuid().null().to_owned(),
        ];
        for mut column in columns {
            m.alter_table(Table::alter().table(Messages::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Messages::WaitingFor, Messages::NextAttemptAt, Messages::DeliveryAttempts] {
            m.alter_table(Table::alter().table(Messages::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
