//! Uploaded plugin versions: manifest and component bytes.

use super::{Error, Result, Store, audit};
use crate::domain::Actor;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub plugin_id: String,
        pub version: String,
        pub name: String,
        pub world: String,
        pub wit: String,
        pub description: String,
        pub manifest: String,
        pub wasm_hash: String,
        pub wasm: Vec<u8>,
        pub size_bytes: i64,
        pub uploaded_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A stored version, without its bytes.
#[derive(Debug, Clone)]
pub struct PluginVersion {
    pub plugin_id: String,
    pub version: String,
    pub name: String,
    pub world: String,
    pub wit: String,
    pub description: String,
    pub wasm_hash: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
    /// The plugin.toml it was uploaded with.
    pub manifest: String,
}

/// A version to store; the manifest and component are already checked.
pub struct NewPluginVersion {
    pub plugin_id: String,
    pub version: String,
    pub name: String,
    pub world: String,
    pub wit: String,
    pub description: String,
    pub manifest: String,
    pub wasm_hash: String,
    pub wasm: Vec<u8>,
}

/// Columns listed without the component bytes.
type Row = (String, String, String, String, String, String, String, i64, DateTime<Utc>, String);

fn from_row(
    (plugin_id, version, name, world, wit, description, wasm_hash, size_bytes, created_at, manifest): Row,
) -> PluginVersion {
    PluginVersion { plugin_id, version, name, world, wit, description, wasm_hash, size_bytes, created_at, manifest }
}

fn without_bytes() -> sea_orm::Select<entity::Entity> {
    use entity::Column;
    entity::Entity::find().select_only().columns([
        Column::PluginId,
        Column::Version,
        Column::Name,
        Column::World,
        Column::Wit,
        Column::Description,
        Column::WasmHash,
        Column::SizeBytes,
        Column::CreatedAt,
        Column::Manifest,
    ])
}

pub async fn create(store: &Store, actor: &Actor, new: NewPluginVersion) -> Result<PluginVersion> {
    let tx = store.begin().await?;
    let uploaded_by = match actor {
        Actor::User(id) => Some(id.0),
        _ => None,
    };
    let size = i64::try_from(new.wasm.len()).unwrap_or(i64::MAX);
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        plugin_id: Set(new.plugin_id),
        version: Set(new.version),
        name: Set(new.name),
        world: Set(new.world),
        wit: Set(new.wit),
        description: Set(new.description),
        manifest: Set(new.manifest),
        wasm_hash: Set(new.wasm_hash),
        wasm: Set(new.wasm),
        size_bytes: Set(size),
        uploaded_by: Set(uploaded_by),
        created_at: Set(super::now()),
    }
    .insert(&*tx)
    .await
    .map_err(|e| Error::unique(e, "version", "this version of the plugin was already uploaded; bump the version"))?;
    let version = PluginVersion {
        plugin_id: model.plugin_id,
        version: model.version,
        name: model.name,
        world: model.world,
        wit: model.wit,
        description: model.description,
        wasm_hash: model.wasm_hash,
        size_bytes: model.size_bytes,
        created_at: model.created_at,
        manifest: model.manifest,
    };
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "plugin.uploaded",
            target_kind: "plugin",
            target_id: version.plugin_id.clone(),
            unit_id: None,
            details: serde_json::json!({ "version": version.version, "sha256": version.wasm_hash }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Every version of every plugin, by plugin id then upload time.
pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<PluginVersion>> {
    let rows: Vec<Row> = without_bytes()
        .order_by_asc(entity::Column::PluginId)
        .order_by_asc(entity::Column::CreatedAt)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The versions of one plugin, oldest first; `NotFound` if it has none.
pub async fn versions(conn: &impl ConnectionTrait, plugin_id: &str) -> Result<Vec<PluginVersion>> {
    let rows: Vec<Row> = without_bytes()
        .filter(entity::Column::PluginId.eq(plugin_id))
        .order_by_asc(entity::Column::CreatedAt)
        .into_tuple()
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Err(Error::NotFound("plugin"));
    }
    Ok(rows.into_iter().map(from_row).collect())
}

/// The manifest text of one version.
pub async fn manifest(conn: &impl ConnectionTrait, plugin_id: &str, version: &str) -> Result<String> {
    let row: Option<String> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Manifest)
        .filter(entity::Column::PluginId.eq(plugin_id))
        .filter(entity::Column::Version.eq(version))
        .into_tuple()
        .one(conn)
        .await?;
    row.ok_or(Error::NotFound("plugin version"))
}

/// The component bytes of one version.
pub async fn wasm(conn: &impl ConnectionTrait, plugin_id: &str, version: &str) -> Result<Vec<u8>> {
    let row: Option<Vec<u8>> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Wasm)
        .filter(entity::Column::PluginId.eq(plugin_id))
        .filter(entity::Column::Version.eq(version))
        .into_tuple()
        .one(conn)
        .await?;
    row.ok_or(Error::NotFound("plugin version"))
}

/// Removes one version; refused while an install uses it.
pub async fn delete(store: &Store, actor: &Actor, plugin_id: &str, version: &str) -> Result<()> {
    let tx = store.begin().await?;
    if super::plugin_install::uses_version(&*tx, plugin_id, version).await? {
        return Err(Error::conflict("version", "an install uses this version; upgrade or delete the install first"));
    }
    let deleted = entity::Entity::delete_many()
        .filter(entity::Column::PluginId.eq(plugin_id))
        .filter(entity::Column::Version.eq(version))
        .exec(&*tx)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound("plugin version"));
    }
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "plugin.deleted",
            target_kind: "plugin",
            target_id: plugin_id.to_owned(),
            unit_id: None,
            details: serde_json::json!({ "version": version }),
        },
    )
    .await?;
    tx.commit().await
}
