//! A web-chat conversation belongs to the visitor who started it: the
//! widget's token reads only the cases it opened, never whatever its
//! contact's newest case is (after a merge that would be someone else's).
//! Conversations from before are given to the visitor whose identity their
//! contact holds, when it holds exactly one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement, prelude::Uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    WebchatVisitor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Cases::Table)
                .add_column(ColumnDef::new(Cases::WebchatVisitor).uuid().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("cases_webchat_visitor").table(Cases::Table).col(Cases::WebchatVisitor).to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT c.id AS case_id, MIN(i.value) AS value, COUNT(*) AS n FROM cases c \
                 JOIN contact_identities i ON i.contact_id = c.contact_id AND i.channel = 'webchat' \
                 WHERE c.channel = 'webchat' AND c.channel_install_id IS NULL GROUP BY c.id",
            ))
            .await?;
        for row in rows {
            let case: Uuid = row.try_get("", "case_id")?;
            let value: String = row.try_get("", "value")?;
            let n: i64 = row.try_get("", "n")?;
            let visitor = value.strip_prefix("visitor-").and_then(|v| Uuid::parse_str(v).ok());
            if let (1, Some(visitor)) = (n, visitor) {
                let update = Query::update()
                    .table(Cases::Table)
                    .value(Cases::WebchatVisitor, visitor)
                    .and_where(Expr::col(Cases::Id).eq(case))
                    .to_owned();
                m.exec_stmt(update).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("cases_webchat_visitor").table(Cases::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Cases::Table).drop_column(Cases::WebchatVisitor).to_owned()).await
    }
}
