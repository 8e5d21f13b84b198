//! The message templates channel accounts' providers keep, as the host last
//! read them (`channels::templates`), and how each account's last reading
//! went. A reading replaces the account's templates in one transaction; a
//! status that changed is audited on the account.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{Error, Result, Store, audit};
use crate::domain::Actor;
use crate::domain::template::{AccountStanding, ProviderTemplate, Quality, TemplateStatus};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "channel_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub install_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub language: String,
        pub status: String,
        pub template: Json,
        pub status_changed_at: DateTimeUtc,
        pub synced_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sync_entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "template_syncs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub install_id: Uuid,
        pub attempted_at: DateTimeUtc,
        pub synced_at: Option<DateTimeUtc>,
        pub error: Option<String>,
        pub templates: i32,
        pub quality: Option<String>,
        pub daily_recipients: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A template as kept, with when its status last changed.
#[derive(Debug, Clone)]
pub struct Kept {
    pub template: ProviderTemplate,
    pub status_changed_at: DateTime<Utc>,
    pub synced_at: DateTime<Utc>,
}

/// How an account's last reading went.
#[derive(Debug, Clone)]
pub struct SyncState {
    pub attempted_at: DateTime<Utc>,
    /// When a reading last succeeded.
    pub synced_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    pub templates: u32,
    /// The account's standing with the provider, when it was read.
    pub standing: Option<AccountStanding>,
}

/// What a reading changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub added: u32,
    pub removed: u32,
    /// (name, language, from, to) of each template whose status changed.
    pub status_changes: Vec<(String, String, TemplateStatus, TemplateStatus)>,
}

fn from_model(m: entity::Model) -> Result<Kept> {
    let template = serde_json::from_value(m.template)
        .map_err(|e| Error::Corrupt(format!("template {} ({}) is unreadable: {e}", m.name, m.language)))?;
    Ok(Kept { template, status_changed_at: m.status_changed_at, synced_at: m.synced_at })
}

/// The account's templates, by name and language.
pub async fn list(db: &impl ConnectionTrait, install_id: uuid::Uuid) -> Result<Vec<Kept>> {
    entity::Entity::find()
        .filter(entity::Column::InstallId.eq(install_id))
        .order_by_asc(entity::Column::Name)
        .order_by_asc(entity::Column::Language)
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

/// One template of the account, if it has it.
pub async fn find(
    db: &impl ConnectionTrait,
    install_id: uuid::Uuid,
    name: &str,
    language: &str,
) -> Result<Option<ProviderTemplate>> {
    let found = entity::Entity::find_by_id((install_id, name.to_owned(), language.to_owned())).one(db).await?;
    found.map(|m| from_model(m).map(|k| k.template)).transpose()
}

/// How the account's last reading went; none if it was never read.
pub async fn sync_state(db: &impl ConnectionTrait, install_id: uuid::Uuid) -> Result<Option<SyncState>> {
    Ok(sync_entity::Entity::find_by_id(install_id).one(db).await?.map(|m| SyncState {
        attempted_at: m.attempted_at,
        synced_at: m.synced_at,
        error: m.error,
        templates: m.templates.max(0) as u32,
        standing: m.quality.as_deref().map(|q| AccountStanding {
            quality: Quality::parse(q),
            daily_recipients: m.daily_recipients.map(|d| d.max(0) as u32),
        }),
    }))
}

/// Whether the host keeps the account's templates (it was read at least
/// once): then only what the provider approved may be sent.
pub async fn is_synced(db: &impl ConnectionTrait, install_id: uuid::Uuid) -> Result<bool> {
    Ok(sync_state(db, install_id).await?.is_some_and(|s| s.synced_at.is_some()))
}

/// Replaces the account's templates with a reading, in one transaction:
/// templates no longer listed are removed, each status change audited on
/// the account (`channel_template.status_changed`); with the account's
/// standing when it was read too (none keeps the last one).
pub async fn replace(
    store: &Store,
    install_id: uuid::Uuid,
    read: Vec<ProviderTemplate>,
    standing: Option<AccountStanding>,
) -> Result<Changes> {
    let tx = store.begin().await?;
    let now = super::now();
    let before: HashMap<(String, String), Kept> = list(&*tx, install_id)
        .await?
        .into_iter()
        .map(|k| ((k.template.name.clone(), k.template.language.clone()), k))
        .collect();
    let mut changes = Changes::default();
    let mut seen = std::collections::HashSet::new();
    for template in read {
        let key = (template.name.clone(), template.language.clone());
        if !seen.insert(key.clone()) {
            continue;
        }
        let status_changed_at = match before.get(&key) {
            None => {
                changes.added += 1;
                now
            }
            Some(kept) if kept.template.status != template.status => {
                changes.status_changes.push((key.0.clone(), key.1.clone(), kept.template.status, template.status));
                now
            }
            Some(kept) => kept.status_changed_at,
        };
        let json = serde_json::to_value(&template)
            .map_err(|e| Error::Corrupt(format!("a template could not be written: {e}")))?;
        let model = entity::ActiveModel {
            install_id: Set(install_id),
            name: Set(key.0),
            language: Set(key.1),
            status: Set(template.status.as_str().to_owned()),
            template: Set(json),
            status_changed_at: Set(status_changed_at),
            synced_at: Set(now),
        };
        entity::Entity::insert(model)
            .on_conflict(
                OnConflict::columns([entity::Column::InstallId, entity::Column::Name, entity::Column::Language])
                    .update_columns([
                        entity::Column::Status,
                        entity::Column::Template,
                        entity::Column::StatusChangedAt,
                        entity::Column::SyncedAt,
                    ])
                    .to_owned(),
            )
            .exec(&*tx)
            .await?;
    }
    for key in before.keys().filter(|k| !seen.contains(*k)) {
        entity::Entity::delete_by_id((install_id, key.0.clone(), key.1.clone())).exec(&*tx).await?;
        changes.removed += 1;
    }
    if !changes.status_changes.is_empty() {
        tell_staff(&*tx, install_id, &changes.status_changes).await?;
    }
    for (name, language, from, to) in &changes.status_changes {
        audit::record(
            &*tx,
            audit::Entry {
                actor: &Actor::System,
                action: "channel_template.status_changed",
                target_kind: "plugin_install",
                target_id: install_id.to_string(),
                unit_id: None,
                details: serde_json::json!({
                    "name": name, "language": language, "from": from.as_str(), "to": to.as_str(),
                }),
            },
        )
        .await?;
    }
    note_attempt(&*tx, install_id, now, None, Some(seen.len() as u32), standing).await?;
    tx.commit().await?;
    Ok(changes)
}

/// Tells the admins, and the supervisors of the units the account serves
/// (who run its campaigns), of each template whose review status changed,
/// each in their own language.
async fn tell_staff(
    conn: &impl ConnectionTrait,
    install_id: uuid::Uuid,
    changed: &[(String, String, TemplateStatus, TemplateStatus)],
) -> Result<()> {
    let install = super::plugin_install::get(conn, install_id).await?;
    let mut staff = super::notification::admins(conn).await?;
    for unit in &install.units {
        staff.extend(super::notification::supervisors(conn, *unit).await?);
    }
    staff.sort_by_key(|u| u.0);
    staff.dedup();
    for user in staff {
        let locale = super::user::get(conn, user).await.map(|u| u.locale).unwrap_or_else(|_| "es".into());
        for (name, language, _, to) in changed {
            let status = crate::i18n::t(&locale, &format!("template.status.{}", to.as_str()), &[]);
            let text = crate::i18n::t(
                &locale,
                "template.status_changed",
                &[("name", name), ("language", language), ("account", &install.name), ("status", &status)],
            );
            super::notification::notify_in(conn, &[user], None, "template_status", &text).await?;
        }
    }
    Ok(())
}

/// Records a failed reading (the templates kept stay as they were).
pub async fn note_failure(store: &Store, install_id: uuid::Uuid, error: &str) -> Result<()> {
    let tx = store.begin().await?;
    note_attempt(&*tx, install_id, super::now(), Some(error), None, None).await?;
    tx.commit().await
}

async fn note_attempt(
    db: &impl ConnectionTrait,
    install_id: uuid::Uuid,
    at: DateTime<Utc>,
    error: Option<&str>,
    templates: Option<u32>,
    standing: Option<AccountStanding>,
) -> Result<()> {
    let previous = sync_entity::Entity::find_by_id(install_id).one(db).await?;
    let model = sync_entity::ActiveModel {
        install_id: Set(install_id),
        attempted_at: Set(at),
        synced_at: Set(match templates {
            Some(_) => Some(at),
            None => previous.as_ref().and_then(|p| p.synced_at),
        }),
        error: Set(error.map(|e| e.chars().take(1000).collect())),
        templates: Set(match templates {
            Some(n) => n as i32,
            None => previous.as_ref().map_or(0, |p| p.templates),
        }),
        quality: Set(match standing {
            Some(s) => Some(s.quality.as_str().to_owned()),
            None => previous.as_ref().and_then(|p| p.quality.clone()),
        }),
        daily_recipients: Set(match standing {
            Some(s) => s.daily_recipients.map(|d| d.min(i32::MAX as u32) as i32),
            None => previous.as_ref().and_then(|p| p.daily_recipients),
        }),
    };
    sync_entity::Entity::insert(model)
        .on_conflict(
            OnConflict::column(sync_entity::Column::InstallId)
                .update_columns([
                    sync_entity::Column::AttemptedAt,
                    sync_entity::Column::SyncedAt,
                    sync_entity::Column::Error,
                    sync_entity::Column::Templates,
                    sync_entity::Column::Quality,
                    sync_entity::Column::DailyRecipients,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}
