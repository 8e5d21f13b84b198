//! Contacts, their channel identities, consent records and merges.

use super::{Error, Result, Store, audit, pagination::Page, stored};
use crate::domain::{
    Actor, Channel, ConsentAction, ConsentId, ConsentRecord, Contact, ContactId, Identity, IdentityId, Principal,
    Scope, UnitId, UserId,
    consent::NewConsent,
    contact::{ContactPatch, NewContact},
};
use sea_orm::QueryTrait;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::Expr,
};
use std::collections::HashMap;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "contacts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: Option<String>,
        pub custom_attributes: Json,
        pub merged_into: Option<Uuid>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub legal_hold: Option<String>,
        pub erasure_started_at: Option<DateTimeUtc>,
        pub erased_at: Option<DateTimeUtc>,
        pub external_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod identity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_identities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub contact_id: Uuid,
        pub channel: String,
        pub value: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consent {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub contact_id: Uuid,
        pub purpose: String,
        pub action: String,
        pub text_version: String,
        pub channel: String,
        pub source: String,
        pub recorded_by: Option<Uuid>,
        pub given_at: Option<DateTimeUtc>,
        pub recorded_at: DateTimeUtc,
        pub reference: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Which contacts a caller may see. Staff see the contacts of their units'
/// cases and the ones they created; admins and tokens that read contacts or
/// every case see all.
#[derive(Debug, Clone)]
pub enum Visibility {
    All,
    Staff {
        user: UserId,
        units: Vec<UnitId>,
    },
    /// A token with neither contacts nor cases to read.
    Nothing,
}

impl Visibility {
    /// What `principal` may see of contacts.
    pub fn of(principal: &Principal) -> Visibility {
        match principal {
            p if p.is_admin_or_token(Scope::ContactsRead) || p.token_has(Scope::CasesRead) => Visibility::All,
            Principal::User { id, memberships, .. } => {
                Visibility::Staff { user: *id, units: memberships.iter().map(|m| m.unit_id).collect() }
            }
            Principal::Token { .. } => Visibility::Nothing,
        }
    }

    fn condition(&self) -> Condition {
        match self {
            Visibility::All => Condition::all(),
            Visibility::Nothing => Condition::all().add(entity::Column::Id.is_null()),
            Visibility::Staff { user, units } => {
                // A correlated EXISTS, so a lookup of one contact reads that
                // contact's cases by index instead of every case of the units.
                use super::case::entity as case;
                let of_units = sea_orm::sea_query::Query::select()
                    .expr(Expr::val(1))
                    .from(case::Entity)
                    .and_where(
                        Expr::col((case::Entity, case::Column::ContactId)).equals((entity::Entity, entity::Column::Id)),
                    )
                    .and_where(Expr::col((case::Entity, case::Column::UnitId)).is_in(units.iter().map(|u| u.0)))
                    .to_owned();
                Condition::any().add(Expr::exists(of_units)).add(entity::Column::CreatedBy.eq(user.0))
            }
        }
    }
}

fn to_identity(m: &identity::Model) -> Result<Identity> {
    Ok(Identity {
        id: IdentityId(m.id),
        channel: stored(Channel::parse("channel", &m.channel))?,
        value: m.value.clone(),
    })
}

async fn identities_of(conn: &impl ConnectionTrait, ids: &[uuid::Uuid]) -> Result<HashMap<uuid::Uuid, Vec<Identity>>> {
    let rows = identity::Entity::find()
        .filter(identity::Column::ContactId.is_in(ids.iter().copied()))
        .order_by_asc(identity::Column::CreatedAt)
        .all(conn)
        .await?;
    let mut by_contact: HashMap<_, Vec<_>> = HashMap::new();
    for row in &rows {
        by_contact.entry(row.contact_id).or_default().push(to_identity(row)?);
    }
    Ok(by_contact)
}

fn to_contact(m: entity::Model, identities: Vec<Identity>) -> Contact {
    Contact {
        id: ContactId(m.id),
        name: m.name,
        external_id: m.external_id,
        identities,
        custom_attributes: super::json_map(m.custom_attributes),
        merged_into: m.merged_into.map(ContactId),
        legal_hold: m.legal_hold,
        erased_at: m.erased_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// The names of contacts `ids` (those that have one), for lists that show
/// people by name.
pub async fn names(conn: &impl ConnectionTrait, ids: &[uuid::Uuid]) -> Result<HashMap<uuid::Uuid, String>> {
    let rows: Vec<(uuid::Uuid, Option<String>)> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .column(entity::Column::Name)
        .filter(entity::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, name)| Some((id, name?))).collect())
}

pub(super) async fn insert_identity(
    conn: &impl ConnectionTrait,
    contact: ContactId,
    channel: Channel,
    value: &str,
    field: &str,
) -> Result<Identity> {
    let model = identity::ActiveModel {
        id: Set(IdentityId::new().0),
        contact_id: Set(contact.0),
        channel: Set(channel.as_str().to_owned()),
        value: Set(value.to_owned()),
        created_at: Set(super::now()),
    }
    .insert(conn)
    .await
    .map_err(|e| Error::unique(e, field, "this identity already belongs to another contact"))?;
    to_identity(&model)
}

/// Creates a contact staff or an API client typed in. An identity held by
/// a contact the caller can see is a conflict; one held by a contact the
/// caller cannot see is left out and the two recorded as possible
/// duplicates (see [`find_or_create_in`]).
pub async fn create(store: &Store, actor: &Actor, visibility: &Visibility, mut new: NewContact) -> Result<Contact> {
    let tx = store.begin().await?;
    let claimed = claim(&*tx, visibility, &new.identities, None).await?;
    new.identities = claimed.free;
    let contact = create_in(&*tx, actor, new).await?;
    for (holder, channel, value) in claimed.hidden {
        record_duplicate(&*tx, contact.id, holder, &given_by_staff(channel, &value)).await?;
    }
    tx.commit().await?;
    Ok(contact)
}

/// Identities staff give for a contact, sorted by who holds them already.
struct Claimed {
    free: Vec<(Channel, String)>,
    /// Held by contacts the caller may not see.
    hidden: Vec<(ContactId, Channel, String)>,
}

async fn claim(
    conn: &impl ConnectionTrait,
    visibility: &Visibility,
    identities: &[(Channel, String)],
    owner: Option<ContactId>,
) -> Result<Claimed> {
    let mut claimed = Claimed { free: vec![], hidden: vec![] };
    for (i, (channel, value)) in identities.iter().enumerate() {
        match find_by_identity(conn, *channel, value).await? {
            None => claimed.free.push((*channel, value.clone())),
            Some(holder) if Some(holder) == owner => {}
            Some(holder) if is_visible(conn, visibility, holder).await? => {
                let field = if owner.is_some() { "value".to_owned() } else { format!("identities[{i}].value") };
                return Err(Error::conflict(field, "this identity already belongs to another contact"));
            }
            Some(holder) => claimed.hidden.push((holder, *channel, value.clone())),
        }
    }
    Ok(claimed)
}

fn given_by_staff(channel: Channel, value: &str) -> String {
    format!("same {} identity {value}, given by staff", channel.as_str())
}

/// Creates a contact inside a caller's transaction (e.g. with a new case).
pub async fn create_in(conn: &impl ConnectionTrait, actor: &Actor, new: NewContact) -> Result<Contact> {
    let now = super::now();
    let id = ContactId::new();
    let created_by = match actor {
        Actor::User(user) => Some(user.0),
        _ => None,
    };
    let model = entity::ActiveModel {
        id: Set(id.0),
        name: Set(new.name),
        custom_attributes: Set(serde_json::Value::Object(new.custom_attributes)),
        merged_into: Set(None),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
        legal_hold: Set(None),
        erasure_started_at: Set(None),
        erased_at: Set(None),
        external_id: Set(new.external_id),
    }
    .insert(conn)
    .await?;
    let mut identities = vec![];
    for (i, (channel, value)) in new.identities.iter().enumerate() {
        identities.push(insert_identity(conn, id, *channel, value, &format!("identities[{i}].value")).await?);
    }
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: "contact.created",
            target_kind: "contact",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(to_contact(model, identities))
}

/// A contact if `visibility` allows it; otherwise `NotFound`, so its
/// existence does not leak.
pub async fn get(conn: &impl ConnectionTrait, visibility: &Visibility, id: ContactId) -> Result<Contact> {
    let model = entity::Entity::find_by_id(id.0)
        .filter(visibility.condition())
        .one(conn)
        .await?
        .ok_or(Error::NotFound("contact"))?;
    let mut identities = identities_of(conn, &[id.0]).await?;
    Ok(to_contact(model, identities.remove(&id.0).unwrap_or_default()))
}

/// The records merged into `id` (kept as history), oldest first.
pub async fn merged_into(conn: &impl ConnectionTrait, id: ContactId) -> Result<Vec<Contact>> {
    let models = entity::Entity::find()
        .filter(entity::Column::MergedInto.eq(id.0))
        .order_by_asc(entity::Column::CreatedAt)
        .all(conn)
        .await?;
    let mut identities = identities_of(conn, &models.iter().map(|m| m.id).collect::<Vec<_>>()).await?;
    Ok(models
        .into_iter()
        .map(|m| {
            let own = identities.remove(&m.id).unwrap_or_default();
            to_contact(m, own)
        })
        .collect())
}

/// Whether `visibility` lets its caller see contact `id`: two point reads
/// by index (who made it; one case of it in the caller's units), which
/// stay fast however many cases the contact and the units have.
pub async fn is_visible(conn: &impl ConnectionTrait, visibility: &Visibility, id: ContactId) -> Result<bool> {
    let (user, units) = match visibility {
        Visibility::All => return Ok(true),
        Visibility::Nothing => return Ok(false),
        Visibility::Staff { user, units } => (user, units),
    };
    let creator: Option<Option<uuid::Uuid>> =
        entity::Entity::find_by_id(id.0).select_only().column(entity::Column::CreatedBy).into_tuple().one(conn).await?;
    match creator {
        None => return Ok(false),
        Some(Some(by)) if by == user.0 => return Ok(true),
        Some(_) => {}
    }
    use super::case::entity as case;
    let in_units = case::Entity::find()
        .select_only()
        .column(case::Column::Id)
        .filter(case::Column::ContactId.eq(id.0))
        .filter(case::Column::UnitId.is_in(units.iter().map(|u| u.0)))
        .limit(1)
        .into_tuple::<uuid::Uuid>()
        .one(conn)
        .await?;
    Ok(in_units.is_some())
}

/// The contact staff mean when they give a person's identities (a case
/// typed in for a phone call, an import): the first contact holding one of
/// them that the caller may already see, else a new contact.
///
/// A contact the caller may not see is never handed over, edited or
/// revealed: the new contact gets only the identities nobody holds, and
/// each holder the caller cannot see is recorded as a possible duplicate,
/// for someone who sees both to merge. Otherwise an agent of one unit could
/// type a phone number known to another unit's case, see that person's
/// record, and move their identities to receive the other unit's replies.
pub async fn find_or_create_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    visibility: &Visibility,
    mut new: NewContact,
) -> Result<ContactId> {
    let mut hidden = vec![];
    for (channel, value) in &new.identities {
        if let Some(holder) = find_by_identity(conn, *channel, value).await? {
            if is_visible(conn, visibility, holder).await? {
                return Ok(holder);
            }
            hidden.push((holder, *channel, value.clone()));
        }
    }
    new.identities.retain(|(channel, value)| !hidden.iter().any(|(_, c, v)| c == channel && v == value));
    let id = create_in(conn, actor, new).await?.id;
    for (holder, channel, value) in hidden {
        record_duplicate(conn, id, holder, &given_by_staff(channel, &value)).await?;
    }
    Ok(id)
}

/// The live (not merged) contact holding this identity.
pub async fn find_by_identity(conn: &impl ConnectionTrait, channel: Channel, value: &str) -> Result<Option<ContactId>> {
    let row = identity::Entity::find()
        .filter(identity::Column::Channel.eq(channel.as_str()))
        .filter(identity::Column::Value.eq(value))
        .one(conn)
        .await?;
    Ok(row.map(|r| ContactId(r.contact_id)))
}

/// How a sender on a channel was matched to a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The contact already had this identity.
    Known(ContactId),
    /// One contact had the same phone number (or address) on another
    /// channel: the identity was added to it.
    Linked(ContactId),
    /// Nobody had it: a new contact.
    New(ContactId),
    /// Several contacts had it: a new contact, with each of them recorded
    /// as a possible duplicate for a person to merge.
    Ambiguous(ContactId),
}

impl Resolved {
    pub fn id(&self) -> ContactId {
        match self {
            Resolved::Known(id) | Resolved::Linked(id) | Resolved::New(id) | Resolved::Ambiguous(id) => *id,
        }
    }
}

/// Channels whose identities are the same kind of value as `channel`'s: one
/// phone number is one person on WhatsApp, SMS and the phone.
pub(super) fn same_kind(channel: Channel) -> Vec<Channel> {
    Channel::ALL
        .into_iter()
        .filter(|c| {
            *c != channel
                && (c.uses_phone_number() && channel.uses_phone_number()
                    || c.uses_email_address() && channel.uses_email_address())
        })
        .collect()
}

/// Finds or creates the contact for a sender (`value` normalised for
/// `channel`) inside the caller's transaction, giving it `name` if it has
/// none (and did not decline the processing of its data). Never merges contacts: when
/// more than one could be the sender, a new contact is made and the
/// candidates are recorded for a person to decide.
pub async fn resolve_sender(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    channel: Channel,
    value: &str,
    name: Option<String>,
) -> Result<Resolved> {
    // The contact, and whether it still has no name: one read for the
    // message of a known sender, which names it only if it is unnamed.
    let known: Option<(uuid::Uuid, bool)> = identity::Entity::find()
        .select_only()
        .column(identity::Column::ContactId)
        .column_as(entity::Column::Name.is_null(), "unnamed")
        .join(
            sea_orm::JoinType::InnerJoin,
            identity::Entity::belongs_to(entity::Entity)
                .from(identity::Column::ContactId)
                .to(entity::Column::Id)
                .into(),
        )
        .filter(identity::Column::Channel.eq(channel.as_str()))
        .filter(identity::Column::Value.eq(value))
        .into_tuple()
        .one(conn)
        .await?;
    if let Some((id, unnamed)) = known {
        if unnamed && let Some(name) = &name {
            fill_name_in(conn, ContactId(id), name).await?;
        }
        return Ok(Resolved::Known(ContactId(id)));
    }
    let kinds = same_kind(channel);
    let mut candidates: Vec<ContactId> = if kinds.is_empty() {
        vec![]
    } else {
        identity::Entity::find()
            .filter(identity::Column::Channel.is_in(kinds.iter().map(|c| c.as_str())))
            .filter(identity::Column::Value.eq(value))
            .all(conn)
            .await?
            .into_iter()
            .map(|r| ContactId(r.contact_id))
            .collect()
    };
    candidates.sort_by_key(|c| c.0);
    candidates.dedup();
    if let [only] = candidates.as_slice() {
        insert_identity(conn, *only, channel, value, "sender").await?;
        if let Some(name) = &name {
            fill_name_in(conn, *only, name).await?;
        }
        return Ok(Resolved::Linked(*only));
    }
    let new = NewContact { name, identities: vec![(channel, value.to_owned())], ..Default::default() };
    let contact = create_in(conn, actor, new).await?.id;
    if candidates.is_empty() {
        return Ok(Resolved::New(contact));
    }
    for candidate in &candidates {
        record_duplicate(conn, contact, *candidate, &format!("same {} identity {value}", channel.as_str())).await?;
    }
    Ok(Resolved::Ambiguous(contact))
}

/// Records that two contacts may be the same person, once.
async fn record_duplicate(
    conn: &impl ConnectionTrait,
    contact: ContactId,
    candidate: ContactId,
    reason: &str,
) -> Result<()> {
    let known = duplicate::Entity::find()
        .filter(duplicate::Column::ContactId.eq(contact.0))
        .filter(duplicate::Column::CandidateId.eq(candidate.0))
        .one(conn)
        .await?
        .is_some();
    if !known {
        duplicate::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            contact_id: Set(contact.0),
            candidate_id: Set(candidate.0),
            reason: Set(reason.chars().take(400).collect()),
            created_at: Set(super::now()),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Contacts recorded as possibly the same person as `id`, for a human merge.
pub async fn possible_duplicates(conn: &impl ConnectionTrait, id: ContactId) -> Result<Vec<(ContactId, String)>> {
    let rows = duplicate::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(duplicate::Column::ContactId.eq(id.0))
                .add(duplicate::Column::CandidateId.eq(id.0)),
        )
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let other = if r.contact_id == id.0 { r.candidate_id } else { r.contact_id };
            (ContactId(other), r.reason)
        })
        .collect())
}

pub mod duplicate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_duplicates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub contact_id: Uuid,
        pub candidate_id: Uuid,
        pub reason: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, Default)]
pub struct ContactFilter {
    /// Text contained in the name or in an identity value.
    pub q: Option<String>,
    pub include_merged: bool,
}

pub async fn list(
    conn: &impl ConnectionTrait,
    visibility: &Visibility,
    filter: &ContactFilter,
    page: &Page,
) -> Result<(Vec<Contact>, Option<String>)> {
    use entity::Column;
    let mut query = entity::Entity::find().filter(visibility.condition());
    if !filter.include_merged {
        query = query.filter(Column::MergedInto.is_null());
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = super::like_pattern(q);
        let by_identity = identity::Entity::find()
            .select_only()
            .column(identity::Column::ContactId)
            .filter(
                Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(identity::Column::Value)))
                    .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\')),
            )
            .into_query();
        query = query.filter(
            Condition::any()
                .add(
                    Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(Column::Name)))
                        .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
                )
                .add(Column::Id.in_subquery(by_identity)),
        );
    }
    page_of(conn, query, page).await
}

/// One page of the contacts `query` finds, newest first, with their identities.
pub(super) async fn page_of(
    conn: &impl ConnectionTrait,
    query: sea_orm::Select<entity::Entity>,
    page: &Page,
) -> Result<(Vec<Contact>, Option<String>)> {
    use entity::Column;
    let (rows, next) = super::pagination::fetch(
        conn,
        query,
        (Column::CreatedAt, Column::Id),
        super::pagination::Order::Descending,
        page,
        |r| (r.created_at, r.id),
    )
    .await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut identities = identities_of(conn, &ids).await?;
    let contacts = rows
        .into_iter()
        .map(|r| {
            let i = identities.remove(&r.id).unwrap_or_default();
            to_contact(r, i)
        })
        .collect();
    Ok((contacts, next))
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    visibility: &Visibility,
    id: ContactId,
    patch: ContactPatch,
) -> Result<Contact> {
    let tx = store.begin().await?;
    let current = get(&*tx, visibility, id).await?;
    let mut model = entity::ActiveModel { id: Set(id.0), ..Default::default() };
    if let Some(name) = patch.name {
        model.name = Set(name);
    }
    if let Some(attributes) = patch.custom_attributes {
        let mut merged = current.custom_attributes.clone();
        for (key, value) in attributes {
            if serde_json::Value::is_null(&value) {
                merged.remove(&key);
            } else {
                merged.insert(key, value);
            }
        }
        model.custom_attributes = Set(serde_json::Value::Object(merged));
    }
    model.updated_at = Set(super::now());
    model.update(&*tx).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "contact.updated",
            target_kind: "contact",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({}),
        },
    )
    .await?;
    let contact = get(&*tx, visibility, id).await?;
    tx.commit().await?;
    Ok(contact)
}

/// What became of an identity given for a contact.
#[derive(Debug)]
pub enum IdentityAdded {
    Added(Identity),
    /// Another contact, which the caller may not see, holds it: the two are
    /// recorded as possible duplicates for someone who sees both to merge.
    Review,
}

pub async fn add_identity(
    store: &Store,
    actor: &Actor,
    visibility: &Visibility,
    id: ContactId,
    channel: Channel,
    value: &str,
) -> Result<IdentityAdded> {
    let tx = store.begin().await?;
    get(&*tx, visibility, id).await?;
    let claimed = claim(&*tx, visibility, &[(channel, value.to_owned())], Some(id)).await?;
    if let Some((holder, channel, value)) = claimed.hidden.first() {
        record_duplicate(&*tx, id, *holder, &given_by_staff(*channel, value)).await?;
        tx.commit().await?;
        return Ok(IdentityAdded::Review);
    }
    let identity = insert_identity(&*tx, id, channel, value, "value").await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "contact.identity_added",
            target_kind: "contact",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "channel": channel.as_str() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(IdentityAdded::Added(identity))
}

pub async fn remove_identity(
    store: &Store,
    actor: &Actor,
    visibility: &Visibility,
    id: ContactId,
    identity_id: IdentityId,
) -> Result<()> {
    let tx = store.begin().await?;
    get(&*tx, visibility, id).await?;
    let deleted = identity::Entity::delete_many()
        .filter(identity::Column::Id.eq(identity_id.0))
        .filter(identity::Column::ContactId.eq(id.0))
        .exec(&*tx)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound("identity"));
    }
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "contact.identity_removed",
            target_kind: "contact",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({ "identity_id": identity_id }),
        },
    )
    .await?;
    tx.commit().await
}

fn to_consent(m: consent::Model) -> Result<ConsentRecord> {
    Ok(ConsentRecord {
        id: ConsentId(m.id),
        contact_id: ContactId(m.contact_id),
        purpose: m.purpose,
        action: stored(ConsentAction::parse("action", &m.action))?,
        text_version: m.text_version,
        channel: stored(Channel::parse("channel", &m.channel))?,
        source: m.source,
        reference: m.reference,
        recorded_by: m.recorded_by.map(UserId),
        given_at: m.given_at,
        recorded_at: m.recorded_at,
    })
}

/// Every consent record of a contact, oldest first.
pub async fn consents(
    conn: &impl ConnectionTrait,
    visibility: &Visibility,
    id: ContactId,
) -> Result<Vec<ConsentRecord>> {
    get(conn, visibility, id).await?;
    consent::Entity::find()
        .filter(consent::Column::ContactId.eq(id.0))
        .order_by_asc(consent::Column::RecordedAt)
        .order_by_asc(consent::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_consent)
        .collect()
}

pub async fn record_consent(
    store: &Store,
    actor: &Actor,
    visibility: &Visibility,
    id: ContactId,
    new: NewConsent,
) -> Result<ConsentRecord> {
    let tx = store.begin().await?;
    get(&*tx, visibility, id).await?;
    let record = add_consent_in(&*tx, actor, id, new).await?;
    tx.commit().await?;
    Ok(record)
}

/// Records a consent answer inside the caller's transaction (the host, as a
/// person answers on a channel).
pub async fn add_consent_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: ContactId,
    new: NewConsent,
) -> Result<ConsentRecord> {
    let recorded_by = match actor {
        Actor::User(user) => Some(user.0),
        _ => None,
    };
    let model = consent::ActiveModel {
        id: Set(ConsentId::new().0),
        contact_id: Set(id.0),
        purpose: Set(new.purpose),
        action: Set(new.action.as_str().to_owned()),
        text_version: Set(new.text_version),
        channel: Set(new.channel.as_str().to_owned()),
        source: Set(new.source),
        recorded_by: Set(recorded_by),
        given_at: Set(new.given_at),
        recorded_at: Set(super::now()),
        reference: Set(new.reference),
    }
    .insert(conn)
    .await?;
    let record = to_consent(model)?;
    let data = serde_json::json!({
        "contact_id": id,
        "consent": {
            "id": record.id, "purpose": record.purpose, "action": record.action.as_str(),
            "text_version": record.text_version, "channel": record.channel.as_str(), "source": record.source,
            "reference": record.reference, "given_at": record.given_at, "recorded_at": record.recorded_at,
        },
    });
    let event = crate::domain::subscription::EventType::ConsentChanged;
    super::subscription::emit_in(conn, event, &[], None, data).await?;
    audit::record(
        conn,
        audit::Entry {
            actor,
            action: if record.action == ConsentAction::Grant { "consent.granted" } else { "consent.revoked" },
            target_kind: "contact",
            target_id: id.to_string(),
            unit_id: None,
            details: serde_json::json!({
                "purpose": record.purpose,
                "text_version": record.text_version,
                "source": record.source,
                "reference": record.reference,
                "channel": record.channel.as_str(),
            }),
        },
    )
    .await?;
    Ok(record)
}

/// Merges `source` into `target`: identities, cases and consent records move
/// to the target; the source stays as history with `merged_into` set.
pub async fn merge(
    store: &Store,
    actor: &Actor,
    visibility: &Visibility,
    target: ContactId,
    source: ContactId,
) -> Result<Contact> {
    if target == source {
        return Err(Error::conflict("source_contact_id", "a contact cannot be merged into itself"));
    }
    let tx = store.begin().await?;
    let target_contact = get(&*tx, visibility, target).await?;
    let source_contact = get(&*tx, visibility, source).await?;
    if target_contact.merged_into.is_some() {
        return Err(Error::conflict("contact_id", "the target contact was itself merged into another"));
    }
    if source_contact.merged_into.is_some() {
        return Err(Error::conflict("source_contact_id", "this contact was already merged"));
    }
    let moved_cases = super::case::entity::Entity::find()
        .select_only()
        .column(super::case::entity::Column::Id)
        .filter(super::case::entity::Column::ContactId.eq(source.0))
        .into_tuple::<uuid::Uuid>()
        .all(&*tx)
        .await?;
    super::case::entity::Entity::update_many()
        .col_expr(super::case::entity::Column::ContactId, Expr::value(target.0))
        .filter(super::case::entity::Column::ContactId.eq(source.0))
        .exec(&*tx)
        .await?;
    identity::Entity::update_many()
        .col_expr(identity::Column::ContactId, Expr::value(target.0))
        .filter(identity::Column::ContactId.eq(source.0))
        .exec(&*tx)
        .await?;
    consent::Entity::update_many()
        .col_expr(consent::Column::ContactId, Expr::value(target.0))
        .filter(consent::Column::ContactId.eq(source.0))
        .exec(&*tx)
        .await?;
    let mut attributes = source_contact.custom_attributes.clone();
    attributes.extend(target_contact.custom_attributes.clone());
    let now = super::now();
    // The institution's id goes with the person when only the source had one
    // (it is unique, so it leaves the source first); else each keeps its
    // own and a lookup by the source's follows the merge.
    let moved_external_id = target_contact.external_id.is_none() && source_contact.external_id.is_some();
    let mut merged_away = entity::ActiveModel {
        id: Set(source.0),
        merged_into: Set(Some(target.0)),
        updated_at: Set(now),
        ..Default::default()
    };
    if moved_external_id {
        merged_away.external_id = Set(None);
    }
    merged_away.update(&*tx).await?;
    let mut kept = entity::ActiveModel {
        id: Set(target.0),
        name: Set(target_contact.name.clone().or(source_contact.name.clone())),
        custom_attributes: Set(serde_json::Value::Object(attributes)),
        updated_at: Set(now),
        ..Default::default()
    };
    if moved_external_id {
        kept.external_id = Set(source_contact.external_id.clone());
    }
    kept.update(&*tx).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "contact.merged",
            target_kind: "contact",
            target_id: target.to_string(),
            unit_id: None,
            details: serde_json::json!({
                "source_contact_id": source,
                "source_name": source_contact.name,
                "moved_identities": source_contact.identities.iter().map(|i| format!("{}:{}", i.channel.as_str(), i.value)).collect::<Vec<_>>(),
                "moved_cases": moved_cases,
            }),
        },
    )
    .await?;
    let merged = get(&*tx, &Visibility::All, target).await?;
    tx.commit().await?;
    Ok(merged)
}

/// Sets a contact's name if it has none (a provider's profile name never
/// overwrites what staff typed), unless the person declined the processing
/// of their data.
pub async fn fill_name_in(conn: &impl ConnectionTrait, id: ContactId, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Ok(());
    }
    let declined = consent::Entity::find()
        .select_only()
        .column(consent::Column::ContactId)
        .filter(consent::Column::Purpose.eq(crate::domain::privacy::DATA_PURPOSE))
        .filter(consent::Column::Action.eq(ConsentAction::Revoke.as_str()))
        .into_query();
    // One statement: a webhook does this for every message it carries.
    entity::Entity::update_many()
        .col_expr(entity::Column::Name, Expr::value(name.to_owned()))
        .col_expr(entity::Column::UpdatedAt, Expr::value(super::now()))
        .filter(entity::Column::Id.eq(id.0))
        .filter(entity::Column::Name.is_null())
        .filter(entity::Column::Id.not_in_subquery(declined))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether the person's latest answer about `purpose` is no.
pub async fn declined(conn: &impl ConnectionTrait, id: ContactId, purpose: &str) -> Result<bool> {
    let latest = consent::Entity::find()
        .filter(consent::Column::ContactId.eq(id.0))
        .filter(consent::Column::Purpose.eq(purpose))
        .order_by_desc(consent::Column::RecordedAt)
        .order_by_desc(consent::Column::Id)
        .one(conn)
        .await?;
    Ok(latest.is_some_and(|r| r.action == ConsentAction::Revoke.as_str()))
}

/// Whether the person ever answered about `purpose` (yes or no).
pub async fn answered(conn: &impl ConnectionTrait, id: ContactId, purpose: &str) -> Result<bool> {
    let any = consent::Entity::find()
        .filter(consent::Column::ContactId.eq(id.0))
        .filter(consent::Column::Purpose.eq(purpose))
        .one(conn)
        .await?;
    Ok(any.is_some())
}

/// Whether the person's latest answer about keeping their data is no.
pub async fn declined_data(conn: &impl ConnectionTrait, id: ContactId) -> Result<bool> {
    declined(conn, id, crate::domain::privacy::DATA_PURPOSE).await
}
