//! Install secrets, sealed (see [`crate::secrets`]): stored and
//! replaced by admins, listed by name only, opened inside the host.

use super::{Result, Store, audit};
use crate::domain::Actor;
use crate::secrets::{Sealed, SecretBox, SecretValue};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::HashMap;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub install_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub nonce: Vec<u8>,
        pub ciphertext: Vec<u8>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Stores (or replaces) a secret, audited without its value.
pub async fn put(
    store: &Store,
    keys: &SecretBox,
    actor: &Actor,
    install: uuid::Uuid,
    name: &str,
    value: &str,
) -> Result<()> {
    let tx = store.begin().await?;
    super::plugin_install::get(&*tx, install).await?;
    let sealed = keys.seal(install, name, value.as_bytes());
    entity::Entity::insert(entity::ActiveModel {
        install_id: Set(install),
        name: Set(name.to_owned()),
        nonce: Set(sealed.nonce),
        ciphertext: Set(sealed.ciphertext),
        updated_at: Set(super::now()),
    })
    .on_conflict(
        OnConflict::columns([entity::Column::InstallId, entity::Column::Name])
            .update_columns([entity::Column::Nonce, entity::Column::Ciphertext, entity::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(&*tx)
    .await?;
    record(&*tx, actor, "plugin_install.secret_set", install, name).await?;
    tx.commit().await
}

/// Audits a change to a secret, by name only.
async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    install: uuid::Uuid,
    name: &str,
) -> Result<()> {
    let details = serde_json::json!({ "name": name });
    let target_id = install.to_string();
    let entry = audit::Entry { actor, action, target_kind: "plugin_install", target_id, unit_id: None, details };
    audit::record(conn, entry).await
}

/// Deletes a secret; `NotFound` if there was none.
pub async fn delete(store: &Store, actor: &Actor, install: uuid::Uuid, name: &str) -> Result<()> {
    let tx = store.begin().await?;
    let deleted = entity::Entity::delete_by_id((install, name.to_owned())).exec(&*tx).await?;
    if deleted.rows_affected == 0 {
        return Err(super::Error::NotFound("secret"));
    }
    record(&*tx, actor, "plugin_install.secret_deleted", install, name).await?;
    tx.commit().await
}

/// Names of an install's secrets and when each was last set.
pub async fn names(conn: &impl ConnectionTrait, install: uuid::Uuid) -> Result<Vec<(String, DateTime<Utc>)>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::InstallId.eq(install))
        .order_by_asc(entity::Column::Name)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.updated_at)).collect())
}

/// Opens the named secrets of an install (those that exist and open).
pub async fn open(
    conn: &impl ConnectionTrait,
    keys: &SecretBox,
    install: uuid::Uuid,
    names: &[String],
) -> Result<HashMap<String, SecretValue>> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = entity::Entity::find()
        .filter(entity::Column::InstallId.eq(install))
        .filter(entity::Column::Name.is_in(names.iter().cloned()))
        .all(conn)
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let sealed = Sealed { nonce: row.nonce, ciphertext: row.ciphertext };
        match keys.open(install, &row.name, &sealed) {
            Some(value) => {
                out.insert(row.name, value);
            }
            None => tracing::warn!(%install, name = %row.name, "a stored secret does not open with this key"),
        }
    }
    Ok(out)
}
