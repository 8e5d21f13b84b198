//! Knowledge bases and their categories.

use super::{Error, Result, Store, audit, stored};
use crate::domain::kb::{Category, KbPatch, KnowledgeBase, Locale, NewCategory, NewKnowledgeBase, Theme, Visibility};
use crate::domain::{Actor, CategoryId, KbId, Slug, UnitId};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "knowledge_bases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub unit_id: Option<Uuid>,
        pub slug: String,
        pub name: String,
        pub locale: String,
        pub visibility: String,
        pub theme: Json,
        pub synonyms: Json,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod category {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kb_categories")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kb_id: Uuid,
        pub parent_id: Option<Uuid>,
        pub slug: String,
        pub name: String,
        pub description: String,
        pub position: i32,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl TryFrom<entity::Model> for KnowledgeBase {
    type Error = Error;
    fn try_from(m: entity::Model) -> Result<Self> {
        Ok(KnowledgeBase {
            id: KbId(m.id),
            unit_id: m.unit_id.map(UnitId),
            slug: stored(Slug::parse("slug", &m.slug))?,
            name: m.name,
            locale: stored(Locale::parse("locale", &m.locale))?,
            visibility: stored(Visibility::parse("visibility", &m.visibility))?,
            theme: from_json("theme", m.theme)?,
            synonyms: from_json("synonyms", m.synonyms)?,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl TryFrom<category::Model> for Category {
    type Error = Error;
    fn try_from(m: category::Model) -> Result<Self> {
        Ok(Category {
            id: CategoryId(m.id),
            kb_id: KbId(m.kb_id),
            parent_id: m.parent_id.map(CategoryId),
            slug: stored(Slug::parse("slug", &m.slug))?,
            name: m.name,
            description: m.description,
            position: m.position,
        })
    }
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Corrupt(format!("knowledge_bases.{what}: {e}")))
}

fn theme_json(theme: &Theme) -> serde_json::Value {
    serde_json::to_value(theme).unwrap_or_default()
}

pub async fn create(store: &Store, actor: &Actor, new: NewKnowledgeBase) -> Result<KnowledgeBase> {
    let tx = store.begin().await?;
    let now = super::now();
    let model = entity::ActiveModel {
        id: Set(KbId::new().0),
        unit_id: Set(new.unit_id.map(|u| u.0)),
        slug: Set(new.slug.as_str().to_owned()),
        name: Set(new.name),
        locale: Set(new.locale.as_str().to_owned()),
        visibility: Set(new.visibility.as_str().to_owned()),
        theme: Set(theme_json(&new.theme)),
        synonyms: Set(serde_json::json!(new.synonyms)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*tx)
    .await
    .map_err(|e| Error::unique(e, "slug", "a knowledge base with this slug already exists"))?;
    let kb = KnowledgeBase::try_from(model)?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "kb.created",
            target_kind: "knowledge_base",
            target_id: kb.id.to_string(),
            unit_id: kb.unit_id,
            details: serde_json::json!({ "slug": kb.slug.as_str(), "name": kb.name, "visibility": kb.visibility }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(kb)
}

/// Every knowledge base, by name.
pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<KnowledgeBase>> {
    let rows = entity::Entity::find().order_by_asc(entity::Column::Name).all(conn).await?;
    rows.into_iter().map(KnowledgeBase::try_from).collect()
}

pub async fn get(conn: &impl ConnectionTrait, id: KbId) -> Result<KnowledgeBase> {
    let row = entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("knowledge base"))?;
    KnowledgeBase::try_from(row)
}

pub async fn find_by_slug(conn: &impl ConnectionTrait, slug: &str) -> Result<KnowledgeBase> {
    let row = entity::Entity::find()
        .filter(entity::Column::Slug.eq(slug))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("knowledge base"))?;
    KnowledgeBase::try_from(row)
}

/// The knowledge bases a bot of `unit` answers from: the unit's and the
/// institution's public ones.
pub async fn public_for_unit(conn: &impl ConnectionTrait, unit: Option<UnitId>) -> Result<Vec<KnowledgeBase>> {
    let units = sea_orm::Condition::any()
        .add(entity::Column::UnitId.is_null())
        .add(entity::Column::UnitId.is_in(unit.map(|u| u.0)));
    let rows = entity::Entity::find()
        .filter(entity::Column::Visibility.eq(Visibility::Public.as_str()))
        .filter(units)
        .order_by_asc(entity::Column::Name)
        .all(conn)
        .await?;
    rows.into_iter().map(KnowledgeBase::try_from).collect()
}

pub async fn update(store: &Store, actor: &Actor, id: KbId, patch: KbPatch) -> Result<KnowledgeBase> {
    let tx = store.begin().await?;
    let current = get(&*tx, id).await?;
    let mut model = entity::ActiveModel { id: Set(id.0), updated_at: Set(super::now()), ..Default::default() };
    let mut changed = vec![];
    if let Some(name) = patch.name {
        model.name = Set(name);
        changed.push("name");
    }
    if let Some(locale) = patch.locale {
        model.locale = Set(locale.as_str().to_owned());
        changed.push("locale");
    }
    if let Some(visibility) = patch.visibility {
        model.visibility = Set(visibility.as_str().to_owned());
        changed.push("visibility");
    }
    if let Some(theme) = patch.theme {
        model.theme = Set(theme_json(&theme));
        changed.push("theme");
    }
    if let Some(synonyms) = patch.synonyms {
        model.synonyms = Set(serde_json::json!(synonyms));
        changed.push("synonyms");
    }
    let kb = KnowledgeBase::try_from(model.update(&*tx).await?)?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "kb.updated",
            target_kind: "knowledge_base",
            target_id: id.to_string(),
            unit_id: current.unit_id,
            details: serde_json::json!({ "changed": changed }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(kb)
}

/// Adds a category; a subcategory's parent must be a top category of the same base.
pub async fn create_category(store: &Store, actor: &Actor, kb: &KnowledgeBase, new: NewCategory) -> Result<Category> {
    let tx = store.begin().await?;
    if let Some(parent) = new.parent_id {
        let parent = get_category(&*tx, parent)
            .await
            .map_err(|_| Error::conflict("parent_id", "no such category in this knowledge base"))?;
        if parent.kb_id != kb.id {
            return Err(Error::conflict("parent_id", "no such category in this knowledge base"));
        }
        if parent.parent_id.is_some() {
            return Err(Error::conflict("parent_id", "categories nest two levels: the parent must be a top category"));
        }
    }
    let model = category::ActiveModel {
        id: Set(CategoryId::new().0),
        kb_id: Set(kb.id.0),
        parent_id: Set(new.parent_id.map(|p| p.0)),
        slug: Set(new.slug.as_str().to_owned()),
        name: Set(new.name),
        description: Set(new.description),
        position: Set(new.position),
        created_at: Set(super::now()),
    }
    .insert(&*tx)
    .await
    .map_err(|e| Error::unique(e, "slug", "a category with this slug already exists in this knowledge base"))?;
    let category = Category::try_from(model)?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "kb.category_created",
            target_kind: "kb_category",
            target_id: category.id.to_string(),
            unit_id: kb.unit_id,
            details: serde_json::json!({ "kb_id": kb.id, "slug": category.slug.as_str() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(category)
}

pub async fn get_category(conn: &impl ConnectionTrait, id: CategoryId) -> Result<Category> {
    let row = category::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("category"))?;
    Category::try_from(row)
}

/// A knowledge base's categories, top categories first, by position and name.
pub async fn categories(conn: &impl ConnectionTrait, kb: KbId) -> Result<Vec<Category>> {
    let rows = category::Entity::find()
        .filter(category::Column::KbId.eq(kb.0))
        .order_by_asc(category::Column::Position)
        .order_by_asc(category::Column::Name)
        .all(conn)
        .await?;
    let mut categories: Vec<Category> = rows.into_iter().map(Category::try_from).collect::<Result<_>>()?;
    categories.sort_by_key(|c| c.parent_id.is_some());
    Ok(categories)
}

/// Removes an empty category: one without subcategories. Its articles keep
/// existing without a category and are re-indexed.
pub async fn delete_category(store: &Store, actor: &Actor, kb: &KnowledgeBase, id: CategoryId) -> Result<()> {
    let tx = store.begin().await?;
    let category = get_category(&*tx, id).await?;
    if category.kb_id != kb.id {
        return Err(Error::NotFound("category"));
    }
    let children = category::Entity::find().filter(category::Column::ParentId.eq(id.0)).one(&*tx).await?;
    if children.is_some() {
        return Err(Error::conflict("id", "the category has subcategories; delete or move them first"));
    }
    let articles = super::article::in_category(&*tx, id).await?;
    super::article::detach_category(&*tx, id).await?;
    super::article::enqueue_index(&*tx, &articles).await?;
    category::Entity::delete_by_id(id.0).exec(&*tx).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "kb.category_deleted",
            target_kind: "kb_category",
            target_id: id.to_string(),
            unit_id: kb.unit_id,
            details: serde_json::json!({ "kb_id": kb.id, "articles": articles.len() }),
        },
    )
    .await?;
    tx.commit().await
}
