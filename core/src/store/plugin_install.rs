//! Plugin installs: a plugin version at work, with settings and grants.
//! Changing version keeps the previous one for a one-step rollback.

use super::{Error, Result, Store, audit};
use crate::domain::plugin::{Capabilities, World};
use crate::domain::{Actor, UnitId};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_installs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub plugin_id: String,
        pub version: String,
        pub previous_version: Option<String>,
        pub enabled: bool,
        pub settings: Json,
        pub grants: Json,
        pub status: String,
        pub suspended_reason: Option<String>,
        pub consecutive_failures: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub world: String,
        pub units: Json,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, Clone)]
pub struct Install {
    pub id: uuid::Uuid,
    pub name: String,
    pub plugin_id: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub enabled: bool,
    pub settings: serde_json::Value,
    /// What the admin granted (the effective grants also need the manifest's request).
    pub granted: Capabilities,
    /// `active`; `setup` while a new install waits for its secrets (it
    /// enables itself once they are set); `suspended` after failures.
    pub status: String,
    pub suspended_reason: Option<String>,
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `bot`, `protocol` or `connector`; every version of a plugin keeps its world.
    pub world: String,
    /// Units whose cases the install follows (a connector: where new cases
    /// go, the first one); empty means every unit.
    pub units: Vec<UnitId>,
}

impl Install {
    /// Whether the install follows cases of `unit`.
    pub fn follows(&self, unit: UnitId) -> bool {
        self.units.is_empty() || self.units.contains(&unit)
    }

    /// Whether it runs: enabled and not suspended.
    pub fn is_running(&self) -> bool {
        self.enabled && self.status == "active"
    }
}

fn from_model(m: entity::Model) -> Install {
    Install {
        id: m.id,
        name: m.name,
        plugin_id: m.plugin_id,
        version: m.version,
        previous_version: m.previous_version,
        enabled: m.enabled,
        settings: m.settings,
        granted: serde_json::from_value(m.grants).unwrap_or_default(),
        status: m.status,
        suspended_reason: m.suspended_reason,
        consecutive_failures: m.consecutive_failures,
        created_at: m.created_at,
        updated_at: m.updated_at,
        world: m.world,
        units: serde_json::from_value::<Vec<uuid::Uuid>>(m.units).unwrap_or_default().into_iter().map(UnitId).collect(),
    }
}

fn grants_json(granted: &Capabilities) -> serde_json::Value {
    serde_json::json!({
        "kv": granted.kv, "kb_search": granted.kb_search, "case_read": granted.case_read,
        "http_hosts": granted.http_hosts,
        "mail_hosts": granted.mail_hosts, "secrets": granted.secrets,
    })
}

fn units_json(units: &[UnitId]) -> serde_json::Value {
    serde_json::json!(units.iter().map(|u| u.0).collect::<Vec<_>>())
}

async fn check_units(conn: &impl ConnectionTrait, units: &[UnitId]) -> Result<()> {
    for (i, unit) in units.iter().enumerate() {
        super::unit::get(conn, *unit).await.map_err(|e| match e {
            Error::NotFound(_) => Error::conflict(format!("units[{i}]"), "no such unit"),
            other => other,
        })?;
    }
    Ok(())
}

pub struct NewInstall {
    pub name: String,
    pub plugin_id: String,
    pub version: String,
    pub settings: serde_json::Value,
    pub granted: Capabilities,
    pub world: World,
    pub units: Vec<UnitId>,
    /// Secrets it needs before it can work: while any is unset the install
    /// waits in `setup`, disabled, and enables itself once the last is set.
    pub needs_secrets: Vec<String>,
}

/// What a change does to an install.
#[derive(Default)]
pub struct InstallPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub settings: Option<serde_json::Value>,
    pub granted: Option<Capabilities>,
    pub units: Option<Vec<UnitId>>,
    /// Move to this version, remembering the current one for rollback.
    pub version: Option<String>,
}

async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    install: &Install,
    details: serde_json::Value,
) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "plugin_install",
            target_id: install.id.to_string(),
            unit_id: None,
            details,
        },
    )
    .await
}

pub async fn create(store: &Store, actor: &Actor, new: NewInstall) -> Result<Install> {
    let tx = store.begin().await?;
    check_units(&*tx, &new.units).await?;
    let now = super::now();
    let held = !new.needs_secrets.is_empty();
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        name: Set(new.name),
        plugin_id: Set(new.plugin_id),
        version: Set(new.version),
        previous_version: Set(None),
        enabled: Set(!held),
        settings: Set(new.settings),
        grants: Set(grants_json(&new.granted)),
        status: Set(if held { "setup" } else { "active" }.into()),
        suspended_reason: Set(None),
        consecutive_failures: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        world: Set(new.world.as_str().to_owned()),
        units: Set(units_json(&new.units)),
    }
    .insert(&*tx)
    .await?;
    let install = from_model(model);
    record(
        &*tx,
        actor,
        "plugin_install.created",
        &install,
        serde_json::json!({"plugin_id": install.plugin_id, "version": install.version}),
    )
    .await?;
    tx.commit().await?;
    Ok(install)
}

pub async fn get(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Install> {
    entity::Entity::find_by_id(id).one(conn).await?.map(from_model).ok_or(Error::NotFound("plugin install"))
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<Install>> {
    let rows = entity::Entity::find().order_by_asc(entity::Column::CreatedAt).all(conn).await?;
    Ok(rows.into_iter().map(from_model).collect())
}

/// Applies a change; a version change keeps the current version for rollback
/// and clears a suspension (the new version gets a fresh start).
pub async fn update(store: &Store, actor: &Actor, id: uuid::Uuid, patch: InstallPatch) -> Result<Install> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("plugin install"))?;
    let before = from_model(current.clone());
    let mut model: entity::ActiveModel = current.into();
    if let Some(name) = patch.name {
        model.name = Set(name);
    }
    if let Some(enabled) = patch.enabled {
        model.enabled = Set(enabled);
        if before.status == "setup" {
            // The admin decides now: it no longer enables itself.
            model.status = Set("active".into());
        }
        if enabled && before.status == "suspended" {
            // Enabling again is how an admin lifts a suspension.
            model.status = Set("active".into());
            model.suspended_reason = Set(None);
            model.consecutive_failures = Set(0);
        }
    }
    if let Some(settings) = patch.settings {
        model.settings = Set(settings);
    }
    if let Some(granted) = &patch.granted {
        model.grants = Set(grants_json(granted));
    }
    if let Some(units) = &patch.units {
        check_units(&*tx, units).await?;
        model.units = Set(units_json(units));
    }
    let mut action = "plugin_install.updated";
    if let Some(version) = patch.version.filter(|v| *v != before.version) {
        model.previous_version = Set(Some(before.version.clone()));
        model.version = Set(version);
        if before.status == "suspended" {
            model.status = Set("active".into());
        }
        model.suspended_reason = Set(None);
        model.consecutive_failures = Set(0);
        action = "plugin_install.version_changed";
    }
    model.updated_at = Set(super::now());
    let install = from_model(model.update(&*tx).await?);
    let details = serde_json::json!({"from": before.version, "to": install.version, "enabled": install.enabled});
    record(&*tx, actor, action, &install, details).await?;
    tx.commit().await?;
    Ok(install)
}

/// Enables an install waiting in `setup` once every secret in `needs` is
/// set (true if it did). One an admin enabled or disabled is left alone.
pub async fn ready_if_set_up(store: &Store, actor: &Actor, id: uuid::Uuid, needs: &[String]) -> Result<bool> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("plugin install"))?;
    if current.status != "setup" {
        return Ok(false);
    }
    let set: Vec<String> = super::plugin_secret::names(&*tx, id).await?.into_iter().map(|(name, _)| name).collect();
    if needs.iter().any(|name| !set.contains(name)) {
        return Ok(false);
    }
    let mut model: entity::ActiveModel = current.into();
    model.enabled = Set(true);
    model.status = Set("active".into());
    model.updated_at = Set(super::now());
    let install = from_model(model.update(&*tx).await?);
    record(&*tx, actor, "plugin_install.ready", &install, serde_json::json!({"secrets": needs})).await?;
    tx.commit().await?;
    Ok(true)
}

/// Counts one call's outcome: a success clears the failure count; the
/// `suspend_after`-th failure in a row suspends the install, with the reason.
/// Returns the install as it now stands.
pub async fn record_outcome(
    store: &Store,
    id: uuid::Uuid,
    error: Option<&str>,
    suspend_after: u32,
    locale: &str,
) -> Result<Install> {
    // The common case, a success after a success, writes nothing.
    let seen = entity::Entity::find_by_id(id).one(&store.db).await?.ok_or(Error::NotFound("plugin install"))?;
    if error.is_none() && seen.consecutive_failures == 0 {
        return Ok(from_model(seen));
    }
    let tx = store.begin().await?;
    // Calls of one install finish concurrently: count under a row lock
    // (SQLite's single writer already serialises this).
    let mut query = entity::Entity::find_by_id(id);
    if super::is_postgres(&*tx) {
        query = query.lock_exclusive();
    }
    let current = query.one(&*tx).await?.ok_or(Error::NotFound("plugin install"))?;
    let failures = if error.is_some() { current.consecutive_failures.saturating_add(1) } else { 0 };
    let suspend =
        error.is_some() && current.status == "active" && failures >= i32::try_from(suspend_after).unwrap_or(i32::MAX);
    let mut model: entity::ActiveModel = current.into();
    model.consecutive_failures = Set(failures);
    if suspend {
        let reason = format!("suspended after {failures} consecutive failures; last: {}", error.unwrap_or_default());
        model.status = Set("suspended".into());
        model.suspended_reason = Set(Some(reason.clone()));
        let install = from_model(model.update(&*tx).await?);
        record(&*tx, &Actor::System, "plugin_install.suspended", &install, serde_json::json!({ "reason": reason }))
            .await?;
        let text = crate::i18n::t(
            locale,
            "plugin.suspended.notification",
            &[("plugin", &install.name), ("failures", &failures.to_string()), ("error", error.unwrap_or_default())],
        );
        let admins = super::notification::admins(&*tx).await?;
        super::notification::notify_in(&*tx, &admins, None, "plugin_suspended", &text).await?;
        tx.commit().await?;
        return Ok(install);
    }
    let install = from_model(model.update(&*tx).await?);
    tx.commit().await?;
    Ok(install)
}

pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    let install = get(&*tx, id).await?;
    entity::Entity::delete_by_id(id).exec(&*tx).await?;
    record(&*tx, actor, "plugin_install.deleted", &install, serde_json::json!({"plugin_id": install.plugin_id}))
        .await?;
    tx.commit().await
}

/// Whether any install runs `version` of `plugin_id` or keeps it for rollback.
pub async fn uses_version(conn: &impl ConnectionTrait, plugin_id: &str, version: &str) -> Result<bool> {
    let n = entity::Entity::find()
        .filter(entity::Column::PluginId.eq(plugin_id))
        .filter(
            sea_orm::Condition::any()
                .add(entity::Column::Version.eq(version))
                .add(entity::Column::PreviousVersion.eq(version)),
        )
        .count(conn)
        .await?;
    Ok(n > 0)
}

/// Running installs of any of `worlds` that follow cases of `unit`, oldest first.
pub async fn followers(conn: &impl ConnectionTrait, worlds: &[World], unit: UnitId) -> Result<Vec<Install>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::World.is_in(worlds.iter().map(|w| w.as_str())))
        .filter(entity::Column::Enabled.eq(true))
        .filter(entity::Column::Status.eq("active"))
        .order_by_asc(entity::Column::CreatedAt)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(from_model).filter(|i| i.follows(unit)).collect())
}
