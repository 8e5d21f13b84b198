//! Versioned consent texts: each new text for a purpose is the next
//! version; none is ever changed.

use super::{Error, Result, Store, audit};
use crate::domain::Actor;
use crate::domain::AuthorKind;
use crate::domain::consent::{ConsentAction, ConsentText, NewConsentText, answer_option};
use crate::domain::message::{NewMessage, QuickReply};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "consent_texts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub purpose: String,
        pub version: i32,
        pub locale: String,
        pub body: String,
        pub policy_url: Option<String>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn from_model(m: entity::Model) -> ConsentText {
    ConsentText {
        id: m.id,
        purpose: m.purpose,
        version: m.version,
        locale: m.locale,
        text: m.body,
        policy_url: m.policy_url,
        created_at: m.created_at,
    }
}

/// Stores the next version of a purpose's text.
pub async fn create(store: &Store, actor: &Actor, new: NewConsentText) -> Result<ConsentText> {
    let tx = store.begin().await?;
    let latest = entity::Entity::find()
        .filter(entity::Column::Purpose.eq(&new.purpose))
        .order_by_desc(entity::Column::Version)
        .one(&*tx)
        .await?;
    let version = latest.map_or(1, |m| m.version + 1);
    let created_by = match actor {
        Actor::User(user) => Some(user.0),
        _ => None,
    };
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        purpose: Set(new.purpose),
        version: Set(version),
        locale: Set(new.locale),
        body: Set(new.text),
        policy_url: Set(new.policy_url),
        created_by: Set(created_by),
        created_at: Set(super::now()),
    }
    .insert(&*tx)
    .await
    .map_err(|e| Error::unique(e, "purpose", "another version of this text was written at the same time; try again"))?;
    let text = from_model(model);
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "consent_text.created",
            target_kind: "consent_text",
            target_id: text.id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "purpose": text.purpose, "version": text.version, "locale": text.locale }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(text)
}

/// Every version, newest first; of one purpose if given.
pub async fn list(conn: &impl ConnectionTrait, purpose: Option<&str>) -> Result<Vec<ConsentText>> {
    let mut query = entity::Entity::find();
    if let Some(purpose) = purpose {
        query = query.filter(entity::Column::Purpose.eq(purpose));
    }
    let rows = query.order_by_asc(entity::Column::Purpose).order_by_desc(entity::Column::Version).all(conn).await?;
    Ok(rows.into_iter().map(from_model).collect())
}

/// Version `version` of a purpose's text.
pub async fn version(conn: &impl ConnectionTrait, purpose: &str, version: i32) -> Result<Option<ConsentText>> {
    let found = entity::Entity::find()
        .filter(entity::Column::Purpose.eq(purpose))
        .filter(entity::Column::Version.eq(version))
        .one(conn)
        .await?;
    Ok(found.map(from_model))
}

/// The newest version of a purpose's text, in whichever language.
pub async fn latest(conn: &impl ConnectionTrait, purpose: &str) -> Result<Option<ConsentText>> {
    let newest = entity::Entity::find()
        .filter(entity::Column::Purpose.eq(purpose))
        .order_by_desc(entity::Column::Version)
        .one(conn)
        .await?;
    Ok(newest.map(from_model))
}

/// The text people are shown now for a purpose in `locale`: its newest
/// version in that language, else the newest in any.
pub async fn current(conn: &impl ConnectionTrait, purpose: &str, locale: &str) -> Result<Option<ConsentText>> {
    let newest = |only_locale: bool| {
        let mut query = entity::Entity::find().filter(entity::Column::Purpose.eq(purpose));
        if only_locale {
            query = query.filter(entity::Column::Locale.eq(locale));
        }
        query.order_by_desc(entity::Column::Version).one(conn)
    };
    match newest(true).await? {
        Some(model) => Ok(Some(from_model(model))),
        None => Ok(newest(false).await?.map(from_model)),
    }
}

/// The message that asks a person for consent to `purpose`: the
/// institution's text in force (in `locale` if there is one) with its
/// policy link, or the built-in text before admins wrote one, and the two
/// answers, whose option ids name the text's version.
pub async fn question(conn: &impl ConnectionTrait, purpose: &str, locale: &str) -> Result<NewMessage> {
    let shown = current(conn, purpose, locale).await?;
    // The answers are in the language of the text shown.
    let locale = shown.as_ref().map_or(locale, |t| t.locale.as_str()).to_owned();
    let version = shown.as_ref().map(|t| t.version);
    let text = match shown {
        Some(t) => match &t.policy_url {
            Some(url) => format!("{}\n{url}", t.text),
            None => t.text,
        },
        None => crate::i18n::t(&locale, "consent.request", &[("purpose", purpose)]),
    };
    let answer = |action: ConsentAction, label: &str| QuickReply {
        id: answer_option(action, purpose, version),
        label: crate::i18n::t(&locale, label, &[]),
    };
    let options =
        vec![answer(ConsentAction::Grant, "consent.accept"), answer(ConsentAction::Revoke, "consent.decline")];
    Ok(NewMessage { options, ..NewMessage::text(AuthorKind::System, text) })
}
