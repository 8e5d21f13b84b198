//! Knowledge bases: their categories, articles and every article version,
//! readers' feedback and the search log that feeds analytics.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let created_at = || ColumnDef::new(Alias::new("created_at")).timestamp_with_time_zone().not_null().to_owned();
        let fk = |from: (Alias, Alias), to: &str, on_delete: ForeignKeyAction| {
            ForeignKey::create()
                .from(from.0, from.1)
                .to(Alias::new(to), Alias::new("id"))
                .on_delete(on_delete)
                .to_owned()
        };
        let a = Alias::new;

        m.create_table(
            Table::create()
                .table(a("knowledge_bases"))
                .col(ColumnDef::new(a("id")).uuid().not_null().primary_key())
                .col(ColumnDef::new(a("unit_id")).uuid().null())
                .col(ColumnDef::new(a("slug")).string_len(64).not_null().unique_key())
                .col(ColumnDef::new(a("name")).string_len(200).not_null())
                .col(ColumnDef::new(a("locale")).string_len(8).not_null())
                .col(ColumnDef::new(a("visibility")).string_len(16).not_null())
                .col(ColumnDef::new(a("theme")).json_binary().not_null())
                .col(ColumnDef::new(a("synonyms")).json_binary().not_null())
                .col(created_at())
                .col(ColumnDef::new(a("updated_at")).timestamp_with_time_zone().not_null())
                .foreign_key(&mut fk((a("knowledge_bases"), a("unit_id")), "units", ForeignKeyAction::Restrict))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(a("kb_categories"))
                .col(ColumnDef::new(a("id")).uuid().not_null().primary_key())
                .col(ColumnDef::new(a("kb_id")).uuid().not_null())
                .col(ColumnDef::new(a("parent_id")).uuid().null())
                .col(ColumnDef::new(a("slug")).string_len(64).not_null())
                .col(ColumnDef::new(a("name")).string_len(200).not_null())
                .col(ColumnDef::new(a("description")).text().not_null())
                .col(ColumnDef::new(a("position")).integer().not_null())
                .col(created_at())
                .foreign_key(&mut fk((a("kb_categories"), a("kb_id")), "knowledge_bases", ForeignKeyAction::Cascade))
                .foreign_key(&mut fk((a("kb_categories"), a("parent_id")), "kb_categories", ForeignKeyAction::Restrict))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_kb_categories_slug")
                .table(a("kb_categories"))
                .col(a("kb_id"))
                .col(a("slug"))
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(a("kb_articles"))
                .col(ColumnDef::new(a("id")).uuid().not_null().primary_key())
                .col(ColumnDef::new(a("kb_id")).uuid().not_null())
                .col(ColumnDef::new(a("category_id")).uuid().null())
                // Articles that translate each other share this id.
                .col(ColumnDef::new(a("translation_group")).uuid().not_null())
                .col(ColumnDef::new(a("locale")).string_len(8).not_null())
                .col(ColumnDef::new(a("slug")).string_len(120).not_null())
                .col(ColumnDef::new(a("title")).string_len(300).not_null())
                .col(ColumnDef::new(a("body")).text().not_null())
                .col(ColumnDef::new(a("short_answer")).text().not_null())
                .col(ColumnDef::new(a("keywords")).json_binary().not_null())
                .col(ColumnDef::new(a("status")).string_len(16).not_null())
                .col(ColumnDef::new(a("version")).integer().not_null())
                .col(ColumnDef::new(a("views")).big_integer().not_null().default(0))
                .col(ColumnDef::new(a("helpful_yes")).big_integer().not_null().default(0))
                .col(ColumnDef::new(a("helpful_no")).big_integer().not_null().default(0))
                .col(created_at())
                .col(ColumnDef::new(a("updated_at")).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(a("published_at")).timestamp_with_time_zone().null())
                .foreign_key(&mut fk((a("kb_articles"), a("kb_id")), "knowledge_bases", ForeignKeyAction::Cascade))
                .foreign_key(&mut fk((a("kb_articles"), a("category_id")), "kb_categories", ForeignKeyAction::SetNull))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_kb_articles_slug")
                .table(a("kb_articles"))
                .col(a("kb_id"))
                .col(a("locale"))
                .col(a("slug"))
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_kb_articles_list")
                .table(a("kb_articles"))
                .col(a("kb_id"))
                .col(a("status"))
                .col(a("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_kb_articles_translation")
                .table(a("kb_articles"))
                .col(a("translation_group"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(a("kb_article_versions"))
                .col(ColumnDef::new(a("article_id")).uuid().not_null())
                .col(ColumnDef::new(a("version")).integer().not_null())
                .col(ColumnDef::new(a("title")).string_len(300).not_null())
                .col(ColumnDef::new(a("body")).text().not_null())
                .col(ColumnDef::new(a("short_answer")).text().not_null())
                .col(ColumnDef::new(a("keywords")).json_binary().not_null())
                .col(ColumnDef::new(a("category_id")).uuid().null())
                .col(ColumnDef::new(a("status")).string_len(16).not_null())
                .col(ColumnDef::new(a("author")).string_len(200).not_null())
                .col(created_at())
                .primary_key(Index::create().col(a("article_id")).col(a("version")))
                .foreign_key(&mut fk(
                    (a("kb_article_versions"), a("article_id")),
                    "kb_articles",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(a("kb_feedback"))
                .col(ColumnDef::new(a("id")).uuid().not_null().primary_key())
                .col(ColumnDef::new(a("kb_id")).uuid().not_null())
                .col(ColumnDef::new(a("article_id")).uuid().not_null())
                .col(ColumnDef::new(a("helpful")).boolean().not_null())
                .col(ColumnDef::new(a("comment")).text().null())
                .col(ColumnDef::new(a("query")).string_len(300).null())
                .col(created_at())
                .foreign_key(&mut fk((a("kb_feedback"), a("kb_id")), "knowledge_bases", ForeignKeyAction::Cascade))
                .foreign_key(&mut fk((a("kb_feedback"), a("article_id")), "kb_articles", ForeignKeyAction::Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_kb_feedback_kb")
                .table(a("kb_feedback"))
                .col(a("kb_id"))
                .col(a("created_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(a("kb_searches"))
                .col(ColumnDef::new(a("id")).uuid().not_null().primary_key())
                .col(ColumnDef::new(a("kb_id")).uuid().not_null())
                // The query as normalised for grouping: lowercase, accents kept.
                .col(ColumnDef::new(a("query")).string_len(300).not_null())
                .col(ColumnDef::new(a("locale")).string_len(8).null())
                .col(ColumnDef::new(a("source")).string_len(16).not_null())
                .col(ColumnDef::new(a("n_hits")).integer().not_null())
                .col(ColumnDef::new(a("top_article_id")).uuid().null())
                .col(ColumnDef::new(a("top_confidence")).float().null())
                .col(created_at())
                .foreign_key(&mut fk((a("kb_searches"), a("kb_id")), "knowledge_bases", ForeignKeyAction::Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_kb_searches_kb")
                .table(a("kb_searches"))
                .col(a("kb_id"))
                .col(a("created_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["kb_searches", "kb_feedback", "kb_article_versions", "kb_articles", "kb_categories", "knowledge_bases"]
        {
            m.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
