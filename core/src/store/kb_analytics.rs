//! What readers do with a knowledge base: feedback on articles and the
//! searches they run, and the figures supervisors read from them.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{Result, Store};
use crate::domain::{ArticleId, KbId};

pub mod feedback {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kb_feedback")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kb_id: Uuid,
        pub article_id: Uuid,
        pub helpful: bool,
        pub comment: Option<String>,
        pub query: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod search_log {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kb_searches")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kb_id: Uuid,
        pub query: String,
        pub locale: Option<String>,
        pub source: String,
        pub n_hits: i32,
        pub top_article_id: Option<Uuid>,
        pub top_confidence: Option<f32>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A reader's answer to "¿Te fue útil?".
#[derive(Debug, Clone)]
pub struct NewFeedback {
    pub kb_id: KbId,
    pub article_id: ArticleId,
    pub helpful: bool,
    pub comment: Option<String>,
    /// The search that led to the article, if any.
    pub query: Option<String>,
}

/// Stores feedback and counts it on the article, in one transaction.
pub async fn add_feedback(store: &Store, new: NewFeedback) -> Result<()> {
    use super::article::entity as article;
    let tx = store.begin().await?;
    feedback::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        kb_id: Set(new.kb_id.0),
        article_id: Set(new.article_id.0),
        helpful: Set(new.helpful),
        comment: Set(new.comment),
        query: Set(new.query),
        created_at: Set(super::now()),
    }
    .insert(&*tx)
    .await?;
    let column = if new.helpful { article::Column::HelpfulYes } else { article::Column::HelpfulNo };
    article::Entity::update_many()
        .col_expr(column, Expr::col(column).add(1))
        .filter(article::Column::Id.eq(new.article_id.0))
        .exec(&*tx)
        .await?;
    tx.commit().await
}

/// One search someone ran.
#[derive(Debug, Clone)]
pub struct SearchEntry {
    pub kb_id: KbId,
    pub query: String,
    pub locale: Option<String>,
    /// `api`, `help_center`, `bot` or `console`.
    pub source: &'static str,
    pub n_hits: usize,
    pub top_article_id: Option<ArticleId>,
    pub top_confidence: Option<f32>,
    pub at: DateTime<Utc>,
}

/// Writes a batch of searches.
pub async fn log_searches(store: &Store, entries: Vec<SearchEntry>) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows = entries.into_iter().map(|e| search_log::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        kb_id: Set(e.kb_id.0),
        query: Set(e.query.chars().take(300).collect()),
        locale: Set(e.locale),
        source: Set(e.source.to_owned()),
        n_hits: Set(i32::try_from(e.n_hits).unwrap_or(i32::MAX)),
        top_article_id: Set(e.top_article_id.map(|a| a.0)),
        top_confidence: Set(e.top_confidence),
        created_at: Set(e.at),
    });
    let tx = store.begin().await?;
    search_log::Entity::insert_many(rows).exec(&*tx).await?;
    tx.commit().await
}

/// A query and how often it was searched.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct QueryCount {
    pub query: String,
    pub searches: i64,
}

/// An article and what readers said of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleFeedback {
    pub article_id: ArticleId,
    pub helpful: i64,
    pub not_helpful: i64,
    /// Recent comments of readers who said no, newest first.
    pub comments: Vec<String>,
    /// Searches that led readers to the article and then to a "no".
    pub queries: Vec<String>,
}

/// Search analytics of one knowledge base over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    pub searches: i64,
    pub top_queries: Vec<QueryCount>,
    pub no_result_queries: Vec<QueryCount>,
    pub negative_feedback: Vec<ArticleFeedback>,
}

pub async fn analytics(
    conn: &impl ConnectionTrait,
    kb: KbId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> Result<Analytics> {
    use search_log::Column as S;
    let in_period = || {
        search_log::Entity::find().filter(S::KbId.eq(kb.0)).filter(S::CreatedAt.gte(from)).filter(S::CreatedAt.lt(to))
    };
    let searches = in_period().count(conn).await?;
    let grouped = |only_empty: bool| {
        let mut query = in_period()
            .select_only()
            .column(S::Query)
            .column_as(Expr::col(S::Id).count(), "searches")
            .group_by(S::Query)
            .order_by_desc(Expr::col(S::Id).count())
            .order_by_asc(S::Query)
            .limit(limit);
        if only_empty {
            query = query.filter(S::NHits.eq(0));
        }
        query.into_model::<QueryCount>()
    };
    let top_queries = grouped(false).all(conn).await?;
    let no_result_queries = grouped(true).all(conn).await?;

    use feedback::Column as F;
    let negative = feedback::Entity::find()
        .filter(F::KbId.eq(kb.0))
        .filter(F::CreatedAt.gte(from))
        .filter(F::CreatedAt.lt(to))
        .order_by_desc(F::CreatedAt)
        .limit(5000)
        .all(conn)
        .await?;
    let mut by_article: Vec<ArticleFeedback> = vec![];
    for row in negative {
        let index = match by_article.iter().position(|a| a.article_id.0 == row.article_id) {
            Some(i) => i,
            None => {
                by_article.push(ArticleFeedback {
                    article_id: ArticleId(row.article_id),
                    helpful: 0,
                    not_helpful: 0,
                    comments: vec![],
                    queries: vec![],
                });
                by_article.len() - 1
            }
        };
        let entry = &mut by_article[index];
        if row.helpful {
            entry.helpful += 1;
            continue;
        }
        entry.not_helpful += 1;
        if let Some(comment) = row.comment.filter(|c| !c.is_empty())
            && entry.comments.len() < 10
        {
            entry.comments.push(comment);
        }
        if let Some(query) = row.query.filter(|q| !q.is_empty())
            && !entry.queries.contains(&query)
            && entry.queries.len() < 10
        {
            entry.queries.push(query);
        }
    }
    by_article.retain(|a| a.not_helpful > 0);
    by_article.sort_by(|a, b| b.not_helpful.cmp(&a.not_helpful).then(a.helpful.cmp(&b.helpful)));
    by_article.truncate(limit as usize);
    Ok(Analytics { searches: searches as i64, top_queries, no_result_queries, negative_feedback: by_article })
}
