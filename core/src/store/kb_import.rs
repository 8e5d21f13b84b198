//! Importing a spreadsheet of questions and answers into a knowledge base:
//! all rows in one transaction, or none.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::{Error, Result, Store, audit};
use crate::domain::kb::{ArticlePatch, KnowledgeBase, NewArticle, slugify};
use crate::domain::{Actor, CategoryId, Principal};

/// One validated row: the article, and its category by name (created if missing).
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub category: Option<String>,
    pub article: NewArticle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    /// Rows whose question matched an existing article's title: a new version.
    pub updated: usize,
    pub categories_created: usize,
}

/// Creates every row's article (and missing categories) in one transaction;
/// a row whose question is an existing article's title updates that article,
/// so importing the same spreadsheet again changes rather than duplicates.
/// A row that fails fails the whole import, named by its index: `rows[7].question`.
/// Imports rows as `principal`, who must be allowed each article's change
/// as if made one by one (an agent's draft import never touches what is
/// published).
pub async fn import(
    store: &Store,
    principal: Option<&Principal>,
    kb: &KnowledgeBase,
    rows: Vec<ImportRow>,
) -> Result<ImportReport> {
    let actor = &principal.map_or(Actor::System, Actor::from);
    let tx = store.begin().await?;
    let (mut created, mut updated, mut categories_created) = (0, 0, 0);
    for (i, row) in rows.into_iter().enumerate() {
        let mut article = row.article;
        if let Some(name) = row.category {
            let (id, new) = category_by_name(&*tx, kb, &name).await?;
            categories_created += usize::from(new);
            article.category_id = Some(id);
        }
        let name_row = |e: Error| match e {
            Error::Conflict { field, message } => {
                let field = if field == "title" { "question".to_owned() } else { field };
                Error::conflict(format!("rows[{i}].{field}"), message)
            }
            other => other,
        };
        match super::article::find_by_title(&*tx, kb.id, article.locale, &article.title).await? {
            Some(current) => {
                if let Some(principal) = principal {
                    principal
                        .may_write_article(kb.unit_id, Some(current.status), article.status)
                        .map_err(|_| {
                            Error::conflict(
                                format!("rows[{i}].question"),
                                format!(
                                    "an article with this question is {}: only the unit's supervisors and admins may change it",
                                    current.status.as_str()
                                ),
                            )
                        })?;
                }
                let patch = ArticlePatch {
                    category_id: article.category_id.map(Some),
                    title: None,
                    body: Some(article.body),
                    short_answer: Some(article.short_answer),
                    keywords: Some(article.keywords),
                    status: Some(article.status),
                };
                super::article::update_in(&*tx, actor, kb, current, patch).await.map_err(name_row)?;
                updated += 1;
            }
            None => {
                super::article::insert(&*tx, actor, kb, article).await.map_err(name_row)?;
                created += 1;
            }
        }
    }
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "kb.imported",
            target_kind: "knowledge_base",
            target_id: kb.id.to_string(),
            unit_id: kb.unit_id,
            details: serde_json::json!({ "created": created, "updated": updated, "categories_created": categories_created }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ImportReport { created, updated, categories_created })
}

/// The category whose slug matches the name's, made as a top category if none does.
async fn category_by_name(conn: &impl ConnectionTrait, kb: &KnowledgeBase, name: &str) -> Result<(CategoryId, bool)> {
    use super::kb::category;
    let slug = slugify(name, 64);
    let found = category::Entity::find()
        .filter(category::Column::KbId.eq(kb.id.0))
        .filter(category::Column::Slug.eq(slug.as_str()))
        .one(conn)
        .await?;
    if let Some(found) = found {
        return Ok((CategoryId(found.id), false));
    }
    let id = CategoryId::new();
    category::ActiveModel {
        id: Set(id.0),
        kb_id: Set(kb.id.0),
        parent_id: Set(None),
        slug: Set(slug),
        name: Set(name.to_owned()),
        description: Set(String::new()),
        position: Set(0),
        created_at: Set(super::now()),
    }
    .insert(conn)
    .await?;
    Ok((id, true))
}
