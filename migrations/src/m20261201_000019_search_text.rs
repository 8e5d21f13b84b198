//! Search text: each message's body and each case's subject, lowercased and
//! without accents, so `matricula` finds "Matrícula" on both databases
//! (SQLite's `lower` only knows ASCII). Written with the row; rows from
//! before are filled in by the server in the background.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    SearchText,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    SearchText,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::SearchText).text().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Cases::Table).add_column(ColumnDef::new(Cases::SearchText).text().null()).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::SearchText).to_owned()).await?;
        m.alter_table(Table::alter().table(Cases::Table).drop_column(Cases::SearchText).to_owned()).await
    }
}
