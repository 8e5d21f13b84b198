//! Staff accounts and their unit memberships.

use super::{Error, Result, Store, audit, pagination::Page, stored};
use crate::domain::{
    Actor, Email, Membership, Role, UnitId, User, UserId,
    user::{NewUser, UserPatch},
};
use sea_orm::QueryTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::HashMap;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub email: String,
        pub display_name: String,
        pub password_hash: String,
        pub is_admin: bool,
        pub active: bool,
        pub locale: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod membership {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub unit_id: Uuid,
        pub role: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn to_user(m: entity::Model, memberships: Vec<Membership>) -> Result<User> {
    Ok(User {
        id: UserId(m.id),
        email: stored(Email::parse("email", &m.email))?,
        display_name: m.display_name,
        is_admin: m.is_admin,
        active: m.active,
        locale: m.locale,
        memberships,
        created_at: m.created_at,
    })
}

fn to_membership(m: &membership::Model) -> Result<Membership> {
    Ok(Membership { unit_id: UnitId(m.unit_id), role: stored(Role::parse("role", &m.role))? })
}

async fn memberships_of(
    conn: &impl ConnectionTrait,
    ids: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, Vec<Membership>>> {
    let rows =
        membership::Entity::find().filter(membership::Column::UserId.is_in(ids.iter().copied())).all(conn).await?;
    let mut by_user: HashMap<_, Vec<_>> = HashMap::new();
    for row in &rows {
        by_user.entry(row.user_id).or_default().push(to_membership(row)?);
    }
    Ok(by_user)
}

async fn replace_memberships(conn: &impl ConnectionTrait, user: UserId, memberships: &[Membership]) -> Result<()> {
    membership::Entity::delete_many().filter(membership::Column::UserId.eq(user.0)).exec(conn).await?;
    for m in memberships {
        membership::ActiveModel {
            user_id: Set(user.0),
            unit_id: Set(m.unit_id.0),
            role: Set(m.role.as_str().to_owned()),
        }
        .insert(conn)
        .await
        .map_err(|e| match e.sql_err() {
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
                Error::conflict("memberships", format!("unit {} does not exist", m.unit_id))
            }
            _ => Error::unique(e, "memberships", "a unit is listed twice"),
        })?;
    }
    Ok(())
}

pub async fn create(store: &Store, actor: &Actor, new: NewUser) -> Result<User> {
    let tx = store.begin().await?;
    let user = create_in(&*tx, actor, new).await?;
    tx.commit().await?;
    Ok(user)
}

/// [`create`] inside the caller's transaction.
pub async fn create_in(conn: &impl ConnectionTrait, actor: &Actor, new: NewUser) -> Result<User> {
    let now = super::now();
    let id = UserId::new();
    let model = entity::ActiveModel {
        id: Set(id.0),
        email: Set(new.email.as_str().to_owned()),
        display_name: Set(new.display_name),
        password_hash: Set(new.password_hash),
        is_admin: Set(new.is_admin),
        active: Set(true),
        locale: Set(new.locale),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(|e| Error::unique(e, "email", "a user with this e-mail already exists"))?;
    replace_memberships(conn, id, &new.memberships).await?;
    let user = to_user(model, new.memberships)?;
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: "user.created",
            target_kind: "user",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "email": user.email.as_str(), "is_admin": user.is_admin }),
        },
    )
    .await?;
    Ok(user)
}

pub async fn get(conn: &impl ConnectionTrait, id: UserId) -> Result<User> {
    let model = entity::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound("user"))?;
    let mut memberships = memberships_of(conn, &[id.0]).await?;
    to_user(model, memberships.remove(&id.0).unwrap_or_default())
}

/// The user with this e-mail and their password hash, for sign-in.
pub async fn find_for_login(conn: &impl ConnectionTrait, email: &Email) -> Result<Option<(User, String)>> {
    let Some(model) = entity::Entity::find().filter(entity::Column::Email.eq(email.as_str())).one(conn).await? else {
        return Ok(None);
    };
    let hash = model.password_hash.clone();
    let id = model.id;
    let mut memberships = memberships_of(conn, &[id]).await?;
    Ok(Some((to_user(model, memberships.remove(&id).unwrap_or_default())?, hash)))
}

/// The stored password hash of an account, to check a password against.
pub async fn password_hash(conn: &impl ConnectionTrait, id: UserId) -> Result<Option<String>> {
    Ok(entity::Entity::find_by_id(id.0).one(conn).await?.map(|m| m.password_hash))
}

/// Users ordered by creation; `units` limits to members of those units.
pub async fn list(
    conn: &impl ConnectionTrait,
    units: Option<&[UnitId]>,
    page: &Page,
) -> Result<(Vec<User>, Option<String>)> {
    use entity::Column;
    let mut query = entity::Entity::find();
    if let Some(units) = units {
        let member_ids = membership::Entity::find()
            .select_only()
            .column(membership::Column::UserId)
            .filter(membership::Column::UnitId.is_in(units.iter().map(|u| u.0)))
            .into_query();
        query = query.filter(Condition::all().add(Column::Id.in_subquery(member_ids)));
    }
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::CreatedAt, Column::Id),
        super::pagination::Order::Ascending,
        page,
        |r| (r.created_at, r.id),
    )
    .await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut memberships = memberships_of(conn, &ids).await?;
    let users = rows
        .into_iter()
        .map(|r| {
            let m = memberships.remove(&r.id).unwrap_or_default();
            to_user(r, m)
        })
        .collect::<Result<_>>()?;
    Ok((users, next))
}

/// Active users who are agents of any of `units` (of any unit when
/// `None`), by name.
pub async fn agents_in(conn: &impl ConnectionTrait, units: Option<&[UnitId]>) -> Result<Vec<User>> {
    let mut members = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::Role.eq(Role::Agent.as_str()));
    if let Some(units) = units {
        members = members.filter(membership::Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    let rows = entity::Entity::find()
        .filter(entity::Column::Active.eq(true))
        .filter(entity::Column::Id.in_subquery(members.into_query()))
        .order_by_asc(entity::Column::DisplayName)
        .all(conn)
        .await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut memberships = memberships_of(conn, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let m = memberships.remove(&r.id).unwrap_or_default();
            to_user(r, m)
        })
        .collect()
}

/// Users whose e-mail address starts with one of `handles` and `@`.
pub async fn by_handles(conn: &impl ConnectionTrait, handles: &[String]) -> Result<Vec<User>> {
    let mut any = Condition::any();
    for handle in handles {
        any = any.add(entity::Column::Email.starts_with(format!("{handle}@")));
    }
    let rows = entity::Entity::find().filter(any).limit(50).all(conn).await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut memberships = memberships_of(conn, &ids).await?;
    rows.into_iter()
        // `_` in a handle is a wildcard to LIKE: keep exact matches only.
        .filter(|r| r.email.split('@').next().is_some_and(|local| handles.iter().any(|h| h == local)))
        .map(|r| {
            let m = memberships.remove(&r.id).unwrap_or_default();
            to_user(r, m)
        })
        .collect()
}

/// Active users who are agents of `unit`, by id (routing's candidates).
pub async fn agents_of(conn: &impl ConnectionTrait, unit: UnitId) -> Result<Vec<UserId>> {
    let member_ids = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::UnitId.eq(unit.0))
        .filter(membership::Column::Role.eq(Role::Agent.as_str()))
        .into_query();
    let ids: Vec<uuid::Uuid> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .filter(entity::Column::Active.eq(true))
        .filter(entity::Column::Id.in_subquery(member_ids))
        .order_by_asc(entity::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

pub async fn update(store: &Store, actor: &Actor, id: UserId, patch: UserPatch) -> Result<User> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id.0).one(&*tx).await?.ok_or(Error::NotFound("user"))?;
    let mut model: entity::ActiveModel = current.into();
    let mut changed = vec![];
    if let Some(name) = patch.display_name {
        model.display_name = Set(name);
        changed.push("display_name");
    }
    if let Some(hash) = patch.password_hash {
        model.password_hash = Set(hash);
        changed.push("password");
    }
    if let Some(is_admin) = patch.is_admin {
        model.is_admin = Set(is_admin);
        changed.push("is_admin");
    }
    if let Some(active) = patch.active {
        model.active = Set(active);
        changed.push("active");
    }
    if let Some(locale) = patch.locale {
        model.locale = Set(locale);
        changed.push("locale");
    }
    model.updated_at = Set(super::now());
    model.update(&*tx).await?;
    if let Some(memberships) = &patch.memberships {
        replace_memberships(&*tx, id, memberships).await?;
        changed.push("memberships");
    }
    if patch.active == Some(false) || changed.contains(&"password") {
        super::session::end_all(&*tx, id, None).await?;
    }
    // The user's open consoles read who they are again (a deactivated
    // account's stream ends; lost memberships stop its events at once).
    let event = super::live::LiveEvent::to_users(USER_CHANGED, vec![id.0], None, serde_json::Value::Null);
    super::live::publish_in(&*tx, event).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "user.updated",
            target_kind: "user",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "changed": changed }),
        },
    )
    .await?;
    let user = get(&*tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

/// Sets an account's administrator flag and unit roles (single sign-on
/// mappings; the caller audits and tells its consoles).
pub async fn set_roles(
    conn: &impl ConnectionTrait,
    id: UserId,
    is_admin: bool,
    memberships: &[Membership],
) -> Result<()> {
    entity::Entity::update_many()
        .col_expr(entity::Column::IsAdmin, sea_orm::sea_query::Expr::value(is_admin))
        .col_expr(entity::Column::UpdatedAt, sea_orm::sea_query::Expr::value(super::now()))
        .filter(entity::Column::Id.eq(id.0))
        .exec(conn)
        .await?;
    replace_memberships(conn, id, memberships).await
}

/// The live event telling a user's open streams that the account changed.
pub const USER_CHANGED: &str = "user.changed";

/// Whether any user exists yet (first-run set-up).
pub async fn any_exists(conn: &impl ConnectionTrait) -> Result<bool> {
    Ok(entity::Entity::find().one(conn).await?.is_some())
}
