//! Segments: saved filters over people, run as one query on either
//! database. A unit's segment chooses among the people with a case in the
//! unit; an institution-wide one (admins') among everyone. Merged-away and
//! erased people are never members.

use super::contact::{consent as consent_row, entity as contact, identity};
use super::pagination::Page;
use super::{Error, Result, Store, audit, is_postgres};
use crate::domain::segment::{
    AttributeTest, CaseRule, ConsentRule, ConsentState, Filter, NewSegment, Segment, SegmentPatch,
};
use crate::domain::{Actor, Contact, UnitId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "segments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub unit_id: Option<Uuid>,
        pub name: String,
        pub description: Option<String>,
        pub filter: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn from_model(m: entity::Model) -> Result<Segment> {
    let filter: Filter = serde_json::from_value(m.filter)
        .map_err(|e| Error::Corrupt(format!("segment {} has an unreadable filter: {e}", m.id)))?;
    Ok(Segment {
        id: m.id,
        unit_id: m.unit_id.map(UnitId),
        name: m.name,
        description: m.description,
        filter,
        created_by: m.created_by.map(UserId),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn filter_json(filter: &Filter) -> Result<serde_json::Value> {
    serde_json::to_value(filter).map_err(|e| Error::Corrupt(format!("a segment filter could not be written: {e}")))
}

async fn record(conn: &impl ConnectionTrait, actor: &Actor, action: &'static str, segment: &Segment) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "segment",
            target_id: segment.id.to_string(),
            unit_id: segment.unit_id,
            details: serde_json::json!({ "name": segment.name, "filter": filter_json(&segment.filter)? }),
        },
    )
    .await
}

pub async fn create(store: &Store, actor: &Actor, new: NewSegment) -> Result<Segment> {
    let tx = store.begin().await?;
    let now = super::now();
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        unit_id: Set(new.unit_id.map(|u| u.0)),
        name: Set(new.name),
        description: Set(new.description),
        filter: Set(filter_json(&new.filter)?),
        created_by: Set(match actor {
            Actor::User(user) => Some(user.0),
            _ => None,
        }),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*tx)
    .await?;
    let segment = from_model(model)?;
    record(&*tx, actor, "segment.created", &segment).await?;
    tx.commit().await?;
    Ok(segment)
}

pub async fn get(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Segment> {
    from_model(entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("segment"))?)
}

/// The segments of `units` (every segment, institution-wide ones included,
/// with `None`), by name.
pub async fn list(conn: &impl ConnectionTrait, units: Option<&[UnitId]>) -> Result<Vec<Segment>> {
    let mut query = entity::Entity::find();
    if let Some(units) = units {
        query = query.filter(entity::Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    let rows = query.order_by_asc(entity::Column::Name).order_by_asc(entity::Column::Id).all(conn).await?;
    rows.into_iter().map(from_model).collect()
}

pub async fn update(store: &Store, actor: &Actor, id: uuid::Uuid, patch: SegmentPatch) -> Result<Segment> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("segment"))?;
    let mut model: entity::ActiveModel = current.into();
    if let Some(name) = patch.name {
        model.name = Set(name);
    }
    if let Some(description) = patch.description {
        model.description = Set(description);
    }
    if let Some(filter) = &patch.filter {
        model.filter = Set(filter_json(filter)?);
    }
    model.updated_at = Set(super::now());
    let segment = from_model(model.update(&*tx).await?)?;
    record(&*tx, actor, "segment.updated", &segment).await?;
    tx.commit().await?;
    Ok(segment)
}

/// Removes a segment no campaign uses (409 otherwise: it stays with them).
pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    let segment = get(&*tx, id).await?;
    if super::campaign::uses_segment(&*tx, id).await? {
        return Err(Error::conflict("segment_id", "campaigns use this segment; it stays with them"));
    }
    entity::Entity::delete_by_id(id).exec(&*tx).await?;
    record(&*tx, actor, "segment.deleted", &segment).await?;
    tx.commit().await
}

/// How many people match `filter` among those of `unit` (everyone with `None`).
pub async fn count(conn: &impl ConnectionTrait, unit: Option<UnitId>, filter: &Filter) -> Result<u64> {
    let condition = members(conn, unit, filter, super::now())?;
    Ok(contact::Entity::find().filter(condition).count(conn).await?)
}

/// A page of the people who match, newest first, as the contact list shows them.
pub async fn preview(
    conn: &impl ConnectionTrait,
    unit: Option<UnitId>,
    filter: &Filter,
    page: &Page,
) -> Result<(Vec<Contact>, Option<String>)> {
    let condition = members(conn, unit, filter, super::now())?;
    super::contact::page_of(conn, contact::Entity::find().filter(condition), page).await
}

/// The ids of up to `limit` people who match, after `after` in id order:
/// how a campaign walks a segment of any size in pages, holding none of it.
pub async fn member_ids_after(
    conn: &impl ConnectionTrait,
    unit: Option<UnitId>,
    filter: &Filter,
    now: DateTime<Utc>,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<uuid::Uuid>> {
    let mut condition = members(conn, unit, filter, now)?;
    if let Some(after) = after {
        condition = condition.add(contact::Column::Id.gt(after));
    }
    Ok(contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(condition)
        .order_by_asc(contact::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Whether one person matches `filter` now (a campaign asks again before
/// each send, since attributes and answers change while it runs).
pub async fn is_member(
    conn: &impl ConnectionTrait,
    unit: Option<UnitId>,
    filter: &Filter,
    contact_id: uuid::Uuid,
) -> Result<bool> {
    let condition = members(conn, unit, filter, super::now())?.add(contact::Column::Id.eq(contact_id));
    Ok(contact::Entity::find().filter(condition).count(conn).await? > 0)
}

/// The SQL condition on `contacts` that `filter` stands for.
fn members(
    conn: &impl ConnectionTrait,
    unit: Option<UnitId>,
    filter: &Filter,
    now: DateTime<Utc>,
) -> Result<Condition> {
    let mut all = Condition::all()
        .add(contact::Column::MergedInto.is_null())
        .add(contact::Column::ErasureStartedAt.is_null())
        .add(contact::Column::ErasedAt.is_null());
    if let Some(unit) = unit {
        let rule = CaseRule {
            has: true,
            units: vec![unit],
            tags: vec![],
            statuses: vec![],
            channels: vec![],
            opened_within_days: None,
        };
        all = all.add(cases_condition(&rule, now, "in_unit"));
    }
    let postgres = is_postgres(conn);
    for rule in &filter.attributes {
        let value = attribute(postgres, &rule.key)?;
        all = all.add(match &rule.test {
            AttributeTest::In(values) => Condition::all().add(value.is_in(values.iter().cloned())),
            AttributeTest::NotIn(values) => {
                Condition::any().add(value.clone().is_null()).add(value.is_not_in(values.iter().cloned()))
            }
            AttributeTest::Present(true) => Condition::all().add(value.clone().is_not_null()).add(value.ne("")),
            AttributeTest::Present(false) => Condition::any().add(value.clone().is_null()).add(value.eq("")),
        });
    }
    if !filter.channels.is_empty() {
        let on_channel = Query::select()
            .expr(Expr::val(1))
            .from(identity::Entity)
            .and_where(
                Expr::col((identity::Entity, identity::Column::ContactId))
                    .equals((contact::Entity, contact::Column::Id)),
            )
            .and_where(
                Expr::col((identity::Entity, identity::Column::Channel))
                    .is_in(filter.channels.iter().map(|c| c.as_str())),
            )
            .to_owned();
        all = all.add(Expr::exists(on_channel));
    }
    if let Some(rule) = &filter.cases {
        all = all.add(cases_condition(rule, now, "k"));
    }
    for rule in &filter.consent {
        all = all.add(consent_condition(rule));
    }
    match filter.external_id {
        Some(true) => all = all.add(contact::Column::ExternalId.is_not_null()),
        Some(false) => all = all.add(contact::Column::ExternalId.is_null()),
        None => {}
    }
    Ok(all)
}

/// A person's attribute `key` as text: what `->>` gives on PostgreSQL,
/// and the same on SQLite (`true`/`false` for booleans, numbers written
/// out). The key is embedded in the SQL, so only snake_case keys pass.
fn attribute(postgres: bool, key: &str) -> Result<SimpleExpr> {
    let safe = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !safe {
        return Err(Error::Corrupt(format!("segment attribute key `{key}` is not snake_case")));
    }
    let column = r#""contacts"."custom_attributes""#;
    Ok(if postgres {
        Expr::cust(format!("({column} ->> '{key}')"))
    } else {
        Expr::cust(format!(
            "(CASE json_type({column}, '$.\"{key}\"') WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
             ELSE CAST(json_extract({column}, '$.\"{key}\"') AS TEXT) END)"
        ))
    })
}

/// `EXISTS` (or `NOT EXISTS`) a case of the person matching `rule`;
/// `alias` names the cases table inside the subquery.
fn cases_condition(rule: &CaseRule, now: DateTime<Utc>, alias: &str) -> Condition {
    use super::case::{entity as case, tag};
    let k = Alias::new(alias);
    let mut query: SelectStatement = Query::select()
        .expr(Expr::val(1))
        .from_as(case::Entity, k.clone())
        .and_where(Expr::col((k.clone(), case::Column::ContactId)).equals((contact::Entity, contact::Column::Id)))
        .to_owned();
    if !rule.units.is_empty() {
        query.and_where(Expr::col((k.clone(), case::Column::UnitId)).is_in(rule.units.iter().map(|u| u.0)));
    }
    if !rule.statuses.is_empty() {
        query.and_where(Expr::col((k.clone(), case::Column::Status)).is_in(rule.statuses.iter().map(|s| s.as_str())));
    }
    if !rule.channels.is_empty() {
        query.and_where(Expr::col((k.clone(), case::Column::Channel)).is_in(rule.channels.iter().map(|c| c.as_str())));
    }
    if let Some(days) = rule.opened_within_days {
        let since = now - chrono::Duration::days(i64::from(days));
        query.and_where(Expr::col((k.clone(), case::Column::CreatedAt)).gte(since));
    }
    if !rule.tags.is_empty() {
        let tagged = Query::select()
            .expr(Expr::val(1))
            .from(tag::Entity)
            .and_where(Expr::col((tag::Entity, tag::Column::CaseId)).equals((k.clone(), case::Column::Id)))
            .and_where(Expr::col((tag::Entity, tag::Column::Tag)).is_in(rule.tags.iter().cloned()))
            .to_owned();
        query.and_where(Expr::exists(tagged));
    }
    let exists = Expr::exists(query);
    if rule.has { Condition::all().add(exists) } else { Condition::all().add(exists.not()) }
}

/// The person's latest consent record for the rule's purpose (by when it
/// was recorded, then id: `domain::consent::standing_grants`) has the
/// state the rule asks for.
fn consent_condition(rule: &ConsentRule) -> Condition {
    let latest_is = |action: &'static str| {
        let (c, l) = (Alias::new("c"), Alias::new("l"));
        let later = Query::select()
            .expr(Expr::val(1))
            .from_as(consent_row::Entity, l.clone())
            .and_where(
                Expr::col((l.clone(), consent_row::Column::ContactId))
                    .equals((c.clone(), consent_row::Column::ContactId)),
            )
            .and_where(
                Expr::col((l.clone(), consent_row::Column::Purpose)).equals((c.clone(), consent_row::Column::Purpose)),
            )
            .cond_where(
                Condition::any()
                    .add(
                        Expr::col((l.clone(), consent_row::Column::RecordedAt))
                            .gt(Expr::col((c.clone(), consent_row::Column::RecordedAt))),
                    )
                    .add(
                        Condition::all()
                            .add(
                                Expr::col((l.clone(), consent_row::Column::RecordedAt))
                                    .eq(Expr::col((c.clone(), consent_row::Column::RecordedAt))),
                            )
                            .add(
                                Expr::col((l.clone(), consent_row::Column::Id))
                                    .gt(Expr::col((c.clone(), consent_row::Column::Id))),
                            ),
                    ),
            )
            .to_owned();
        let query = Query::select()
            .expr(Expr::val(1))
            .from_as(consent_row::Entity, c.clone())
            .and_where(
                Expr::col((c.clone(), consent_row::Column::ContactId)).equals((contact::Entity, contact::Column::Id)),
            )
            .and_where(Expr::col((c.clone(), consent_row::Column::Purpose)).eq(rule.purpose.clone()))
            .and_where(Expr::col((c.clone(), consent_row::Column::Action)).eq(action))
            .and_where(Expr::exists(later).not())
            .to_owned();
        Expr::exists(query)
    };
    match rule.state {
        ConsentState::Granted => Condition::all().add(latest_is("grant")),
        ConsentState::Revoked => Condition::all().add(latest_is("revoke")),
        ConsentState::NotGranted => Condition::all().add(latest_is("grant").not()),
        ConsentState::Unanswered => {
            let any = Query::select()
                .expr(Expr::val(1))
                .from(consent_row::Entity)
                .and_where(
                    Expr::col((consent_row::Entity, consent_row::Column::ContactId))
                        .equals((contact::Entity, contact::Column::Id)),
                )
                .and_where(Expr::col((consent_row::Entity, consent_row::Column::Purpose)).eq(rule.purpose.clone()))
                .to_owned();
            Condition::all().add(Expr::exists(any).not())
        }
    }
}
