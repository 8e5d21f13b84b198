//! Where a message was written from: the web chat sends the page's address
//! and title with each message, so the agent sees what the person was reading.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("messages"))
                .add_column(ColumnDef::new(Alias::new("context")).json_binary().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("messages")).drop_column(Alias::new("context")).to_owned()).await
    }
}
