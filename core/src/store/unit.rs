//! Units: stored settings, listing and changes.

use super::{Error, Result, Store, audit, stored};
use crate::domain::{
    Actor, BusinessHours, Slug, Unit, UnitId,
    unit::{NewUnit, UnitPatch, parse_timezone},
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "units")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub slug: String,
        pub name: String,
        pub timezone: String,
        pub business_hours: Json,
        pub survey: Option<Json>,
        pub routing: Option<Json>,
        pub custom_fields: Option<Json>,
        pub privacy: Option<Json>,
        pub created_at: DateTimeUtc,
        /// When campaigns may send (`store::campaign::outreach`).
        pub outreach: Option<Json>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl TryFrom<entity::Model> for Unit {
    type Error = Error;
    fn try_from(m: entity::Model) -> Result<Self> {
        Ok(Unit {
            id: UnitId(m.id),
            slug: stored(Slug::parse("slug", &m.slug))?,
            name: m.name,
            timezone: stored(parse_timezone("timezone", &m.timezone))?,
            business_hours: serde_json::from_value::<BusinessHours>(m.business_hours)
                .map_err(|e| Error::Corrupt(format!("business_hours: {e}")))?,
            survey: super::survey::settings_from(m.survey)?,
            routing: match m.routing {
                None | Some(serde_json::Value::Null) => Default::default(),
                Some(v) => serde_json::from_value(v).map_err(|e| Error::Corrupt(format!("unit routing: {e}")))?,
            },
            custom_fields: match m.custom_fields {
                None | Some(serde_json::Value::Null) => vec![],
                Some(v) => serde_json::from_value(v).map_err(|e| Error::Corrupt(format!("unit custom fields: {e}")))?,
            },
            privacy: match m.privacy {
                None | Some(serde_json::Value::Null) => Default::default(),
                Some(v) => serde_json::from_value(v).map_err(|e| Error::Corrupt(format!("unit privacy: {e}")))?,
            },
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

pub async fn create(store: &Store, actor: &Actor, new: NewUnit) -> Result<Unit> {
    let tx = store.begin().await?;
    let now = super::now();
    let model = entity::ActiveModel {
        id: Set(UnitId::new().0),
        slug: Set(new.slug.as_str().to_owned()),
        name: Set(new.name),
        timezone: Set(new.timezone.name().to_owned()),
        business_hours: Set(hours_json(&new.business_hours)),
        survey: Set(Some(serde_json::to_value(&new.survey).unwrap_or_default())),
        routing: Set(Some(serde_json::to_value(&new.routing).unwrap_or_default())),
        custom_fields: Set(Some(serde_json::to_value(&new.custom_fields).unwrap_or_default())),
        privacy: Set(Some(serde_json::to_value(&new.privacy).unwrap_or_default())),
        created_at: Set(now),
        updated_at: Set(now),
        outreach: Set(None),
    }
    .insert(&*tx)
    .await
    .map_err(|e| Error::unique(e, "slug", "a unit with this slug already exists"))?;
    let unit = Unit::try_from(model)?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "unit.created",
            target_kind: "unit",
            target_id: unit.id.to_string(),
            unit_id: Some(unit.id),
            details: serde_json::json!({ "slug": unit.slug.as_str(), "name": unit.name }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(unit)
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<Unit>> {
    entity::Entity::find().order_by_asc(entity::Column::Name).all(conn).await?.into_iter().map(Unit::try_from).collect()
}

pub async fn get(conn: &impl ConnectionTrait, id: UnitId) -> Result<Unit> {
    entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("unit"))?.try_into()
}

pub async fn update(store: &Store, actor: &Actor, id: UnitId, patch: UnitPatch) -> Result<Unit> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id.0).one(&*tx).await?.ok_or(Error::NotFound("unit"))?;
    let mut model: entity::ActiveModel = current.into();
    let mut changed = vec![];
    if let Some(name) = patch.name {
        model.name = Set(name);
        changed.push("name");
    }
    if let Some(tz) = patch.timezone {
        model.timezone = Set(tz.name().to_owned());
        changed.push("timezone");
    }
    if let Some(hours) = &patch.business_hours {
        model.business_hours = Set(hours_json(hours));
        changed.push("business_hours");
    }
    if let Some(survey) = &patch.survey {
        model.survey = Set(Some(serde_json::to_value(survey).unwrap_or_default()));
        changed.push("survey");
    }
    if let Some(fields) = &patch.custom_fields {
        model.custom_fields = Set(Some(serde_json::to_value(fields).unwrap_or_default()));
        changed.push("custom_fields");
    }
    if let Some(routing) = &patch.routing {
        model.routing = Set(Some(serde_json::to_value(routing).unwrap_or_default()));
        changed.push("routing");
    }
    if let Some(privacy) = &patch.privacy {
        model.privacy = Set(Some(serde_json::to_value(privacy).unwrap_or_default()));
        changed.push("privacy");
    }
    model.updated_at = Set(super::now());
    let unit = Unit::try_from(model.update(&*tx).await?)?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "unit.updated",
            target_kind: "unit",
            target_id: unit.id.to_string(),
            unit_id: Some(unit.id),
            details: serde_json::json!({ "changed": changed }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(unit)
}

fn hours_json(hours: &BusinessHours) -> serde_json::Value {
    serde_json::to_value(hours).unwrap_or_default()
}

/// The unit with this slug, if any.
pub async fn find_by_slug(conn: &impl ConnectionTrait, slug: &str) -> Result<Option<Unit>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    match entity::Entity::find().filter(entity::Column::Slug.eq(slug)).one(conn).await? {
        Some(model) => Ok(Some(model.try_into()?)),
        None => Ok(None),
    }
}
