//! Knowledge-base articles and their versions.
//!
//! Every change saves a version and, when the article is or was published,
//! writes a `kb.index` job in the same transaction: the search index can
//! lag behind the database for a moment but never miss a change.

use std::collections::HashMap;

use super::pagination::{Order, Page};
use super::{Error, Result, Store, audit, is_postgres, job, stored};
use crate::domain::kb::{
    Article, ArticlePatch, ArticleStatus, ArticleVersion, KnowledgeBase, Locale, NewArticle, slugify,
};
use crate::domain::{Actor, ArticleId, CategoryId, KbId, UnitId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kb_articles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kb_id: Uuid,
        pub category_id: Option<Uuid>,
        pub translation_group: Uuid,
        pub locale: String,
        pub slug: String,
        pub title: String,
        pub body: String,
        pub short_answer: String,
        pub keywords: Json,
        pub status: String,
        pub version: i32,
        pub views: i64,
        pub helpful_yes: i64,
        pub helpful_no: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub published_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kb_article_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub article_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub title: String,
        pub body: String,
        pub short_answer: String,
        pub keywords: Json,
        pub category_id: Option<Uuid>,
        pub status: String,
        pub author: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn keywords_of(value: serde_json::Value) -> Result<Vec<String>> {
    serde_json::from_value(value).map_err(|e| Error::Corrupt(format!("keywords: {e}")))
}

impl TryFrom<entity::Model> for Article {
    type Error = Error;
    fn try_from(m: entity::Model) -> Result<Self> {
        Ok(Article {
            id: ArticleId(m.id),
            kb_id: KbId(m.kb_id),
            category_id: m.category_id.map(CategoryId),
            translation_group: m.translation_group,
            locale: stored(Locale::parse("locale", &m.locale))?,
            slug: m.slug,
            title: m.title,
            body: m.body,
            short_answer: m.short_answer,
            keywords: keywords_of(m.keywords)?,
            status: stored(ArticleStatus::parse("status", &m.status))?,
            version: m.version,
            views: m.views,
            helpful_yes: m.helpful_yes,
            helpful_no: m.helpful_no,
            created_at: m.created_at,
            updated_at: m.updated_at,
            published_at: m.published_at,
        })
    }
}

impl TryFrom<version::Model> for ArticleVersion {
    type Error = Error;
    fn try_from(m: version::Model) -> Result<Self> {
        Ok(ArticleVersion {
            article_id: ArticleId(m.article_id),
            version: m.version,
            title: m.title,
            body: m.body,
            short_answer: m.short_answer,
            keywords: keywords_of(m.keywords)?,
            category_id: m.category_id.map(CategoryId),
            status: stored(ArticleStatus::parse("status", &m.status))?,
            author: m.author,
            created_at: m.created_at,
        })
    }
}

/// Which articles to list.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub status: Option<ArticleStatus>,
    pub locale: Option<Locale>,
    /// A category and its subcategories.
    pub category_ids: Option<Vec<CategoryId>>,
    /// Words in the title.
    pub q: Option<String>,
}

pub async fn create(store: &Store, actor: &Actor, kb: &KnowledgeBase, new: NewArticle) -> Result<Article> {
    let tx = store.begin().await?;
    let article = insert(&*tx, actor, kb, new).await?;
    tx.commit().await?;
    Ok(article)
}

/// Inserts an article, its first version and its index job, inside `conn`'s transaction.
pub async fn insert(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    kb: &KnowledgeBase,
    new: NewArticle,
) -> Result<Article> {
    if let Some(category) = new.category_id {
        check_category(conn, kb.id, category).await?;
    }
    let translation_group = match new.translation_of {
        Some(original) => {
            let original = get(conn, original)
                .await
                .map_err(|_| Error::conflict("translation_of", "no such article in this knowledge base"))?;
            if original.kb_id != kb.id {
                return Err(Error::conflict("translation_of", "no such article in this knowledge base"));
            }
            let taken = entity::Entity::find()
                .filter(entity::Column::TranslationGroup.eq(original.translation_group))
                .filter(entity::Column::Locale.eq(new.locale.as_str()))
                .one(conn)
                .await?;
            if taken.is_some() {
                return Err(Error::conflict("locale", "the article already has a translation in this locale"));
            }
            original.translation_group
        }
        None => uuid::Uuid::now_v7(),
    };
    let id = ArticleId::new();
    let now = super::now();
    let slug = free_slug(conn, kb.id, new.locale, &slugify(&new.title, 100)).await?;
    let model = entity::ActiveModel {
        id: Set(id.0),
        kb_id: Set(kb.id.0),
        category_id: Set(new.category_id.map(|c| c.0)),
        translation_group: Set(translation_group),
        locale: Set(new.locale.as_str().to_owned()),
        slug: Set(slug),
        title: Set(new.title),
        body: Set(new.body),
        short_answer: Set(new.short_answer),
        keywords: Set(serde_json::json!(new.keywords)),
        status: Set(new.status.as_str().to_owned()),
        version: Set(1),
        views: Set(0),
        helpful_yes: Set(0),
        helpful_no: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set((new.status == ArticleStatus::Published).then_some(now)),
    }
    .insert(conn)
    .await
    .map_err(|e| Error::unique(e, "title", "an article with this title already exists"))?;
    let article = Article::try_from(model)?;
    save_version(conn, actor, &article).await?;
    if article.status == ArticleStatus::Published {
        enqueue_index(conn, &[article.id]).await?;
    }
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: "kb.article_created",
            target_kind: "kb_article",
            target_id: article.id.to_string(),
            unit_id: kb.unit_id,
            details: serde_json::json!({ "kb_id": kb.id, "status": article.status, "locale": article.locale }),
        },
    )
    .await?;
    Ok(article)
}

/// Changes an article and saves the result as a new version. With
/// `expected_version`, fails when someone else changed it first.
pub async fn update(
    store: &Store,
    actor: &Actor,
    kb: &KnowledgeBase,
    id: ArticleId,
    patch: ArticlePatch,
    expected_version: Option<i32>,
) -> Result<Article> {
    let tx = store.begin().await?;
    let current = get_for_update(&*tx, kb.id, id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(Error::conflict(
            "version",
            format!("the article changed meanwhile: it is at version {}", current.version),
        ));
    }
    if let Some(Some(category)) = patch.category_id {
        check_category(&*tx, kb.id, category).await?;
    }
    let article = write_change(&*tx, actor, kb, current, patch, "kb.article_updated", None).await?;
    tx.commit().await?;
    Ok(article)
}

/// Brings back the content of an old version as a new version; the status stays.
pub async fn restore(store: &Store, actor: &Actor, kb: &KnowledgeBase, id: ArticleId, version: i32) -> Result<Article> {
    let tx = store.begin().await?;
    let current = get_for_update(&*tx, kb.id, id).await?;
    let old =
        version::Entity::find_by_id((id.0, version)).one(&*tx).await?.ok_or(Error::NotFound("article version"))?;
    let old = ArticleVersion::try_from(old)?;
    let category = match old.category_id {
        Some(c) if check_category(&*tx, kb.id, c).await.is_ok() => Some(c),
        _ => None,
    };
    let patch = ArticlePatch {
        category_id: Some(category),
        title: Some(old.title),
        body: Some(old.body),
        short_answer: Some(old.short_answer),
        keywords: Some(old.keywords),
        status: None,
    };
    let article = write_change(&*tx, actor, kb, current, patch, "kb.article_restored", Some(version)).await?;
    tx.commit().await?;
    Ok(article)
}

/// An article of the base with exactly this title in this locale.
pub(super) async fn find_by_title(
    conn: &impl ConnectionTrait,
    kb: KbId,
    locale: Locale,
    title: &str,
) -> Result<Option<Article>> {
    let row = entity::Entity::find()
        .filter(entity::Column::KbId.eq(kb.0))
        .filter(entity::Column::Locale.eq(locale.as_str()))
        .filter(entity::Column::Title.eq(title))
        .one(conn)
        .await?;
    row.map(Article::try_from).transpose()
}

/// Changes an article inside the caller's transaction (imports).
pub(super) async fn update_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    kb: &KnowledgeBase,
    current: Article,
    patch: ArticlePatch,
) -> Result<Article> {
    write_change(conn, actor, kb, current, patch, "kb.article_imported", None).await
}

async fn write_change(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    kb: &KnowledgeBase,
    current: Article,
    patch: ArticlePatch,
    action: &str,
    restored_from: Option<i32>,
) -> Result<Article> {
    let now = super::now();
    let was_published = current.status == ArticleStatus::Published;
    let mut model = entity::ActiveModel {
        id: Set(current.id.0),
        version: Set(current.version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    let mut changed = vec![];
    if let Some(category) = patch.category_id {
        model.category_id = Set(category.map(|c| c.0));
        changed.push("category_id");
    }
    if let Some(title) = patch.title {
        model.title = Set(title);
        changed.push("title");
    }
    if let Some(body) = patch.body {
        model.body = Set(body);
        changed.push("body");
    }
    if let Some(short_answer) = patch.short_answer {
        model.short_answer = Set(short_answer);
        changed.push("short_answer");
    }
    if let Some(keywords) = patch.keywords {
        model.keywords = Set(serde_json::json!(keywords));
        changed.push("keywords");
    }
    if let Some(status) = patch.status {
        model.status = Set(status.as_str().to_owned());
        if status == ArticleStatus::Published && !was_published {
            model.published_at = Set(Some(now));
        }
        changed.push("status");
    }
    let article = Article::try_from(model.update(conn).await?)?;
    save_version(conn, actor, &article).await?;
    if was_published || article.status == ArticleStatus::Published {
        enqueue_index(conn, &[article.id]).await?;
    }
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "kb_article",
            target_id: article.id.to_string(),
            unit_id: kb.unit_id,
            details: serde_json::json!({
                "kb_id": kb.id,
                "version": article.version,
                "status": article.status,
                "changed": changed,
                "restored_from": restored_from,
            }),
        },
    )
    .await?;
    Ok(article)
}

async fn save_version(conn: &impl ConnectionTrait, actor: &Actor, article: &Article) -> Result<()> {
    version::ActiveModel {
        article_id: Set(article.id.0),
        version: Set(article.version),
        title: Set(article.title.clone()),
        body: Set(article.body.clone()),
        short_answer: Set(article.short_answer.clone()),
        keywords: Set(serde_json::json!(article.keywords)),
        category_id: Set(article.category_id.map(|c| c.0)),
        status: Set(article.status.as_str().to_owned()),
        author: Set(format!("{}:{}", actor.kind(), actor.id_text())),
        created_at: Set(article.updated_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Writes the job that brings the index up to date for these articles.
pub async fn enqueue_index(conn: &impl ConnectionTrait, ids: &[ArticleId]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(500) {
        job::enqueue(
            conn,
            job::NewJob {
                kind: job::JobKind::KbIndex,
                payload: serde_json::json!({ "articles": chunk }),
                idempotency_key: None,
            },
        )
        .await?;
    }
    Ok(())
}

async fn check_category(conn: &impl ConnectionTrait, kb: KbId, category: CategoryId) -> Result<()> {
    match super::kb::get_category(conn, category).await {
        Ok(c) if c.kb_id == kb => Ok(()),
        _ => Err(Error::conflict("category_id", "no such category in this knowledge base")),
    }
}

/// `base`, or `base-2`, `base-3`... whichever is free in the base and locale.
async fn free_slug(conn: &impl ConnectionTrait, kb: KbId, locale: Locale, base: &str) -> Result<String> {
    let taken: Vec<String> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Slug)
        .filter(entity::Column::KbId.eq(kb.0))
        .filter(entity::Column::Locale.eq(locale.as_str()))
        .filter(Condition::any().add(entity::Column::Slug.eq(base)).add(entity::Column::Slug.like(format!("{base}-%"))))
        .into_tuple()
        .all(conn)
        .await?;
    if !taken.iter().any(|s| s == base) {
        return Ok(base.to_owned());
    }
    let n = (2..).find(|n| !taken.contains(&format!("{base}-{n}"))).unwrap_or(2);
    Ok(format!("{base}-{n}"))
}

pub async fn get(conn: &impl ConnectionTrait, id: ArticleId) -> Result<Article> {
    let row = entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("article"))?;
    Article::try_from(row)
}

/// An article of `kb`, locked for the rest of the transaction on PostgreSQL.
async fn get_for_update(conn: &impl ConnectionTrait, kb: KbId, id: ArticleId) -> Result<Article> {
    let mut query = entity::Entity::find_by_id(id.0).filter(entity::Column::KbId.eq(kb.0));
    if is_postgres(conn) {
        query = query.lock_exclusive();
    }
    let row = query.one(conn).await?.ok_or(Error::NotFound("article"))?;
    Article::try_from(row)
}

pub async fn find_by_slug(conn: &impl ConnectionTrait, kb: KbId, locale: Locale, slug: &str) -> Result<Article> {
    let row = entity::Entity::find()
        .filter(entity::Column::KbId.eq(kb.0))
        .filter(entity::Column::Locale.eq(locale.as_str()))
        .filter(entity::Column::Slug.eq(slug))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("article"))?;
    Article::try_from(row)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    kb: KbId,
    filter: &ArticleFilter,
    page: &Page,
) -> Result<(Vec<Article>, Option<String>)> {
    use entity::Column;
    let mut query = entity::Entity::find().filter(Column::KbId.eq(kb.0));
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(locale) = filter.locale {
        query = query.filter(Column::Locale.eq(locale.as_str()));
    }
    if let Some(categories) = &filter.category_ids {
        query = query.filter(Column::CategoryId.is_in(categories.iter().map(|c| c.0)));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        query = query.filter(
            Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(Column::Title)))
                .like(sea_orm::sea_query::LikeExpr::new(super::like_pattern(q)).escape('\\')),
        );
    }
    let (rows, next) =
        super::pagination::fetch(conn, query, (Column::UpdatedAt, Column::Id), Order::Descending, page, |r| {
            (r.updated_at, r.id)
        })
        .await?;
    Ok((rows.into_iter().map(Article::try_from).collect::<Result<_>>()?, next))
}

/// Every article of a base (optionally of one status), by title: exports.
pub async fn all_in(conn: &impl ConnectionTrait, kb: KbId, status: Option<ArticleStatus>) -> Result<Vec<Article>> {
    let mut query = entity::Entity::find().filter(entity::Column::KbId.eq(kb.0));
    if let Some(status) = status {
        query = query.filter(entity::Column::Status.eq(status.as_str()));
    }
    let rows = query.order_by_asc(entity::Column::Title).all(conn).await?;
    rows.into_iter().map(Article::try_from).collect()
}

/// Published articles of a base in a locale, most viewed first.
pub async fn popular(conn: &impl ConnectionTrait, kb: KbId, locale: Locale, limit: u64) -> Result<Vec<Article>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::KbId.eq(kb.0))
        .filter(entity::Column::Locale.eq(locale.as_str()))
        .filter(entity::Column::Status.eq(ArticleStatus::Published.as_str()))
        .order_by_desc(entity::Column::Views)
        .order_by_asc(entity::Column::Title)
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter().map(Article::try_from).collect()
}

/// Published articles of a base in a locale within categories, by title.
pub async fn published_in(
    conn: &impl ConnectionTrait,
    kb: KbId,
    locale: Locale,
    categories: &[CategoryId],
) -> Result<Vec<Article>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::KbId.eq(kb.0))
        .filter(entity::Column::Locale.eq(locale.as_str()))
        .filter(entity::Column::Status.eq(ArticleStatus::Published.as_str()))
        .filter(entity::Column::CategoryId.is_in(categories.iter().map(|c| c.0)))
        .order_by_asc(entity::Column::Title)
        .limit(200)
        .all(conn)
        .await?;
    rows.into_iter().map(Article::try_from).collect()
}

/// The published translations of an article (itself included).
pub async fn translations(conn: &impl ConnectionTrait, article: &Article) -> Result<Vec<Article>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::TranslationGroup.eq(article.translation_group))
        .filter(entity::Column::Status.eq(ArticleStatus::Published.as_str()))
        .all(conn)
        .await?;
    rows.into_iter().map(Article::try_from).collect()
}

pub async fn versions(conn: &impl ConnectionTrait, id: ArticleId) -> Result<Vec<ArticleVersion>> {
    let rows = version::Entity::find()
        .filter(version::Column::ArticleId.eq(id.0))
        .order_by_desc(version::Column::Version)
        .all(conn)
        .await?;
    rows.into_iter().map(ArticleVersion::try_from).collect()
}

/// Counts a view from the help center.
pub async fn record_view(conn: &impl ConnectionTrait, id: ArticleId) -> Result<()> {
    entity::Entity::update_many()
        .col_expr(entity::Column::Views, Expr::col(entity::Column::Views).add(1))
        .filter(entity::Column::Id.eq(id.0))
        .exec(conn)
        .await?;
    Ok(())
}

pub(super) async fn in_category(conn: &impl ConnectionTrait, category: CategoryId) -> Result<Vec<ArticleId>> {
    let ids: Vec<uuid::Uuid> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .filter(entity::Column::CategoryId.eq(category.0))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.into_iter().map(ArticleId).collect())
}

pub(super) async fn detach_category(conn: &impl ConnectionTrait, category: CategoryId) -> Result<()> {
    entity::Entity::update_many()
        .col_expr(entity::Column::CategoryId, Expr::value(Option::<uuid::Uuid>::None))
        .filter(entity::Column::CategoryId.eq(category.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// What the index needs to know about an article beyond the article itself.
#[derive(Debug, Clone)]
pub struct IndexContext {
    pub unit_id: Option<UnitId>,
    /// The article's category and its parent.
    pub category_ids: Vec<CategoryId>,
}

/// The current state of these articles for the index: `None` for an
/// article that is gone or not published.
pub async fn for_index(
    conn: &impl ConnectionTrait,
    ids: &[ArticleId],
) -> Result<Vec<(ArticleId, Option<(Article, IndexContext)>)>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::Id.is_in(ids.iter().map(|i| i.0)))
        .filter(entity::Column::Status.eq(ArticleStatus::Published.as_str()))
        .all(conn)
        .await?;
    let mut found = with_context(conn, rows).await?;
    Ok(ids
        .iter()
        .map(|id| {
            let position = found.iter().position(|(a, _)| a.id == *id);
            (*id, position.map(|p| found.swap_remove(p)))
        })
        .collect())
}

/// Every published article, for a rebuild; `after` pages by id.
pub async fn published_batch(
    conn: &impl ConnectionTrait,
    after: Option<ArticleId>,
    limit: u64,
) -> Result<Vec<(Article, IndexContext)>> {
    let mut query = entity::Entity::find().filter(entity::Column::Status.eq(ArticleStatus::Published.as_str()));
    if let Some(after) = after {
        query = query.filter(entity::Column::Id.gt(after.0));
    }
    let rows = query.order_by_asc(entity::Column::Id).limit(limit).all(conn).await?;
    with_context(conn, rows).await
}

/// Id and version of every published article: what a correct index holds.
pub async fn published_versions(conn: &impl ConnectionTrait) -> Result<Vec<(ArticleId, i32)>> {
    let rows: Vec<(uuid::Uuid, i32)> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .column(entity::Column::Version)
        .filter(entity::Column::Status.eq(ArticleStatus::Published.as_str()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, v)| (ArticleId(id), v)).collect())
}

async fn with_context(conn: &impl ConnectionTrait, rows: Vec<entity::Model>) -> Result<Vec<(Article, IndexContext)>> {
    let units: HashMap<uuid::Uuid, Option<UnitId>> = super::kb::entity::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|kb| (kb.id, kb.unit_id.map(UnitId)))
        .collect();
    let category_ids: Vec<uuid::Uuid> = rows.iter().filter_map(|r| r.category_id).collect();
    let parents: HashMap<uuid::Uuid, Option<uuid::Uuid>> = if category_ids.is_empty() {
        HashMap::new()
    } else {
        super::kb::category::Entity::find()
            .filter(super::kb::category::Column::Id.is_in(category_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|c| (c.id, c.parent_id))
            .collect()
    };
    rows.into_iter()
        .map(|row| {
            let unit_id = units.get(&row.kb_id).copied().flatten();
            let mut category_ids = vec![];
            if let Some(category) = row.category_id {
                category_ids.push(CategoryId(category));
                if let Some(Some(parent)) = parents.get(&category) {
                    category_ids.push(CategoryId(*parent));
                }
            }
            Ok((Article::try_from(row)?, IndexContext { unit_id, category_ids }))
        })
        .collect()
}
