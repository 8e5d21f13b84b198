//! Campaigns and their recipients. A launch writes the campaign's
//! `campaign.run` job in its own transaction; the job (`core/src/campaigns.rs`)
//! first gives everyone the segment chooses a `queued` recipient row, a page
//! at a time, then sends to them in contact order, recording each send with
//! the consent record it relied on.

use super::{Error, Result, Store, audit};
use crate::domain::campaign::{
    Campaign, CampaignMessage, CampaignStatus, NewCampaign, OutreachSettings, Recipient, RecipientStatus,
};
use crate::domain::{Actor, Channel, ConsentId, ContactId, UnitId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "campaigns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub unit_id: Uuid,
        pub name: String,
        pub segment_id: Uuid,
        pub purpose: String,
        pub channel_install_id: Uuid,
        pub channel: String,
        pub message: Json,
        pub starts_at: Option<DateTimeUtc>,
        pub max_per_second: Option<i32>,
        pub status: String,
        pub expanded_after: Option<Uuid>,
        pub expanded: bool,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub launched_at: Option<DateTimeUtc>,
        pub finished_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recipient {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "campaign_recipients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub campaign_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: Uuid,
        pub status: String,
        pub reason: Option<String>,
        pub address: Option<String>,
        pub consent_id: Option<Uuid>,
        pub provider_message_id: Option<String>,
        pub reply_case_id: Option<Uuid>,
        pub sent_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn from_model(m: entity::Model) -> Result<Campaign> {
    let message: CampaignMessage = serde_json::from_value(m.message)
        .map_err(|e| Error::Corrupt(format!("campaign {} has an unreadable message: {e}", m.id)))?;
    Ok(Campaign {
        id: m.id,
        unit_id: UnitId(m.unit_id),
        name: m.name,
        segment_id: m.segment_id,
        purpose: m.purpose,
        channel_install_id: m.channel_install_id,
        channel: super::stored(Channel::parse("channel", &m.channel))?,
        message,
        starts_at: m.starts_at,
        max_per_second: m.max_per_second.and_then(|n| u32::try_from(n).ok()),
        status: super::stored(CampaignStatus::parse("status", &m.status))?,
        expanded: m.expanded,
        created_by: m.created_by.map(UserId),
        created_at: m.created_at,
        updated_at: m.updated_at,
        launched_at: m.launched_at,
        finished_at: m.finished_at,
    })
}

fn to_recipient(m: recipient::Model) -> Result<Recipient> {
    Ok(Recipient {
        contact_id: ContactId(m.contact_id),
        status: super::stored(RecipientStatus::parse("status", &m.status))?,
        reason: m.reason,
        address: m.address,
        consent_id: m.consent_id.map(ConsentId),
        provider_message_id: m.provider_message_id,
        reply_case_id: m.reply_case_id.map(crate::domain::CaseId),
        sent_at: m.sent_at,
        updated_at: m.updated_at,
    })
}

fn message_json(message: &CampaignMessage) -> Result<serde_json::Value> {
    serde_json::to_value(message).map_err(|e| Error::Corrupt(format!("a campaign message could not be written: {e}")))
}

async fn record(conn: &impl ConnectionTrait, actor: &Actor, action: &str, campaign: &Campaign) -> Result<()> {
    audit::record(
        conn,
        audit::Entry {
            actor,
            action,
            target_kind: "campaign",
            target_id: campaign.id.to_string(),
            unit_id: Some(campaign.unit_id),
            details: serde_json::json!({
                "name": campaign.name,
                "status": campaign.status.as_str(),
                "segment_id": campaign.segment_id,
                "purpose": campaign.purpose,
                "channel_install_id": campaign.channel_install_id,
            }),
        },
    )
    .await
}

/// The job group of a campaign's runs: one at a time, in order.
pub fn job_group(id: uuid::Uuid) -> String {
    format!("campaign:{id}")
}

pub async fn create(store: &Store, actor: &Actor, new: NewCampaign) -> Result<Campaign> {
    let tx = store.begin().await?;
    let now = super::now();
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        unit_id: Set(new.unit_id.0),
        name: Set(new.name),
        segment_id: Set(new.segment_id),
        purpose: Set(new.purpose),
        channel_install_id: Set(new.channel_install_id),
        channel: Set(new.channel.as_str().to_owned()),
        message: Set(message_json(&new.message)?),
        starts_at: Set(new.starts_at),
        max_per_second: Set(new.max_per_second.and_then(|n| i32::try_from(n).ok())),
        status: Set(CampaignStatus::Draft.as_str().to_owned()),
        expanded_after: Set(None),
        expanded: Set(false),
        created_by: Set(match actor {
            Actor::User(user) => Some(user.0),
            _ => None,
        }),
        created_at: Set(now),
        updated_at: Set(now),
        launched_at: Set(None),
        finished_at: Set(None),
    }
    .insert(&*tx)
    .await?;
    let campaign = from_model(model)?;
    record(&*tx, actor, "campaign.created", &campaign).await?;
    tx.commit().await?;
    Ok(campaign)
}

pub async fn get(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Campaign> {
    from_model(entity::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("campaign"))?)
}

/// The campaigns of `units` (all with `None`), newest first.
pub async fn list(conn: &impl ConnectionTrait, units: Option<&[UnitId]>) -> Result<Vec<Campaign>> {
    let mut query = entity::Entity::find();
    if let Some(units) = units {
        query = query.filter(entity::Column::UnitId.is_in(units.iter().map(|u| u.0)));
    }
    let rows =
        query.order_by_desc(entity::Column::CreatedAt).order_by_desc(entity::Column::Id).limit(500).all(conn).await?;
    rows.into_iter().map(from_model).collect()
}

/// Whether any campaign uses `segment` (it cannot be removed then).
pub async fn uses_segment(conn: &impl ConnectionTrait, segment: uuid::Uuid) -> Result<bool> {
    Ok(entity::Entity::find().filter(entity::Column::SegmentId.eq(segment)).one(conn).await?.is_some())
}

/// Changes to a draft; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub segment_id: Option<uuid::Uuid>,
    pub purpose: Option<String>,
    pub account: Option<(uuid::Uuid, Channel)>,
    pub message: Option<CampaignMessage>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub max_per_second: Option<Option<u32>>,
}

/// Changes a draft; a launched campaign's message and audience are what
/// was launched (409).
pub async fn update(store: &Store, actor: &Actor, id: uuid::Uuid, patch: CampaignPatch) -> Result<Campaign> {
    let tx = store.begin().await?;
    let current = entity::Entity::find_by_id(id).one(&*tx).await?.ok_or(Error::NotFound("campaign"))?;
    if current.status != CampaignStatus::Draft.as_str() {
        return Err(Error::conflict("status", "only a draft campaign can be changed"));
    }
    let mut model: entity::ActiveModel = current.into();
    if let Some(name) = patch.name {
        model.name = Set(name);
    }
    if let Some(segment) = patch.segment_id {
        model.segment_id = Set(segment);
    }
    if let Some(purpose) = patch.purpose {
        model.purpose = Set(purpose);
    }
    if let Some((install, channel)) = patch.account {
        model.channel_install_id = Set(install);
        model.channel = Set(channel.as_str().to_owned());
    }
    if let Some(message) = &patch.message {
        model.message = Set(message_json(message)?);
    }
    if let Some(starts_at) = patch.starts_at {
        model.starts_at = Set(starts_at);
    }
    if let Some(rate) = patch.max_per_second {
        model.max_per_second = Set(rate.and_then(|n| i32::try_from(n).ok()));
    }
    model.updated_at = Set(super::now());
    let campaign = from_model(model.update(&*tx).await?)?;
    record(&*tx, actor, "campaign.updated", &campaign).await?;
    tx.commit().await?;
    Ok(campaign)
}

/// Removes a draft (a launched campaign stays, with its record of sends).
pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    let campaign = get(&*tx, id).await?;
    if campaign.status != CampaignStatus::Draft {
        return Err(Error::conflict("status", "only a draft campaign can be removed; cancel a launched one"));
    }
    entity::Entity::delete_by_id(id).exec(&*tx).await?;
    record(&*tx, actor, "campaign.deleted", &campaign).await?;
    tx.commit().await
}

/// Moves a campaign to `to` by the table of `CampaignStatus::can_become`.
/// Launching and resuming write its next `campaign.run` job in the same
/// transaction; pausing and cancelling are seen by the running job before
/// its next send.
pub async fn change_status(store: &Store, actor: &Actor, id: uuid::Uuid, to: CampaignStatus) -> Result<Campaign> {
    let tx = store.begin().await?;
    let current = get_locked(&*tx, id).await?;
    if current.status == to {
        tx.commit().await?;
        return Ok(current);
    }
    if !current.status.can_become(to) {
        return Err(Error::conflict(
            "status",
            format!("a {} campaign cannot become {}", current.status.as_str(), to.as_str()),
        ));
    }
    let now = super::now();
    let mut model = entity::ActiveModel { id: Set(id), ..Default::default() };
    model.status = Set(to.as_str().to_owned());
    model.updated_at = Set(now);
    if current.status == CampaignStatus::Draft {
        model.launched_at = Set(Some(now));
    }
    if matches!(to, CampaignStatus::Cancelled | CampaignStatus::Finished) {
        model.finished_at = Set(Some(now));
    }
    let campaign = from_model(model.update(&*tx).await?)?;
    if to.is_live() {
        // A run still asleep (quiet hours, a later start) wakes to see the change.
        super::job::run_group_now_in(&*tx, &job_group(id)).await?;
        let run_at = campaign.starts_at.filter(|at| *at > now).unwrap_or(now);
        super::job::enqueue_in_group(
            &*tx,
            super::job::NewJob {
                kind: super::job::JobKind::CampaignRun,
                payload: serde_json::json!({ "campaign_id": id }),
                idempotency_key: None,
            },
            run_at,
            Some(job_group(id)),
        )
        .await?;
    }
    let action = match (current.status, to) {
        (CampaignStatus::Draft, _) => "campaign.launched",
        (_, CampaignStatus::Paused) => "campaign.paused",
        (_, CampaignStatus::Cancelled) => "campaign.cancelled",
        (_, CampaignStatus::Finished) => "campaign.finished",
        _ => "campaign.resumed",
    };
    record(&*tx, actor, action, &campaign).await?;
    tx.commit().await?;
    Ok(campaign)
}

/// The campaign's row, locked for the transaction on PostgreSQL (SQLite's
/// one writer serialises already), so a launch and a pause never cross.
async fn get_locked(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Campaign> {
    let mut query = entity::Entity::find_by_id(id);
    if super::is_postgres(conn) {
        query = query.lock_exclusive();
    }
    from_model(query.one(conn).await?.ok_or(Error::NotFound("campaign"))?)
}

/// How many recipients are in each status.
pub async fn counts(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Vec<(RecipientStatus, u64)>> {
    Ok(counts_of(conn, &[id]).await?.remove(&id).unwrap_or_default())
}

/// [`counts`] of several campaigns, in one query.
pub async fn counts_of(
    conn: &impl ConnectionTrait,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashMap<uuid::Uuid, Vec<(RecipientStatus, u64)>>> {
    let rows: Vec<(uuid::Uuid, String, i64)> = recipient::Entity::find()
        .select_only()
        .column(recipient::Column::CampaignId)
        .column(recipient::Column::Status)
        .column_as(recipient::Column::ContactId.count(), "n")
        .filter(recipient::Column::CampaignId.is_in(ids.iter().copied()))
        .group_by(recipient::Column::CampaignId)
        .group_by(recipient::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let mut by_campaign: std::collections::HashMap<_, Vec<_>> = std::collections::HashMap::new();
    for (campaign, status, n) in rows {
        let status = super::stored(RecipientStatus::parse("status", &status))?;
        by_campaign.entry(campaign).or_default().push((status, u64::try_from(n).unwrap_or(0)));
    }
    Ok(by_campaign)
}

/// A page of recipients in contact order after `after`, of one status or all.
pub async fn recipients(
    conn: &impl ConnectionTrait,
    id: uuid::Uuid,
    status: Option<RecipientStatus>,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<Recipient>> {
    let mut query = recipient::Entity::find().filter(recipient::Column::CampaignId.eq(id));
    if let Some(status) = status {
        query = query.filter(recipient::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(recipient::Column::ContactId.gt(after));
    }
    let rows = query.order_by_asc(recipient::Column::ContactId).limit(limit).all(conn).await?;
    rows.into_iter().map(to_recipient).collect()
}

/// Gives the next page of the segment's people a `queued` row (a person
/// already there is left as they are) and moves the campaign's place in
/// the segment, in one transaction; true once everyone has a row.
pub async fn expand(store: &Store, campaign: &Campaign, page: u64) -> Result<bool> {
    let tx = store.begin().await?;
    let row = entity::Entity::find_by_id(campaign.id).one(&*tx).await?.ok_or(Error::NotFound("campaign"))?;
    if row.expanded {
        tx.commit().await?;
        return Ok(true);
    }
    let segment = super::segment::get(&*tx, campaign.segment_id).await?;
    let now = super::now();
    let ids =
        super::segment::member_ids_after(&*tx, segment.unit_id, &segment.filter, now, row.expanded_after, page).await?;
    let done = (ids.len() as u64) < page;
    if let Some(last) = ids.last().copied() {
        let rows = ids.iter().map(|contact| recipient::ActiveModel {
            campaign_id: Set(campaign.id),
            contact_id: Set(*contact),
            status: Set(RecipientStatus::Queued.as_str().to_owned()),
            reason: Set(None),
            address: Set(None),
            consent_id: Set(None),
            provider_message_id: Set(None),
            reply_case_id: Set(None),
            sent_at: Set(None),
            updated_at: Set(now),
        });
        recipient::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([recipient::Column::CampaignId, recipient::Column::ContactId])
            .exec(&*tx)
            .await?;
        entity::Entity::update_many()
            .col_expr(entity::Column::ExpandedAfter, Expr::value(last))
            .filter(entity::Column::Id.eq(campaign.id))
            .exec(&*tx)
            .await?;
    }
    if done {
        entity::Entity::update_many()
            .col_expr(entity::Column::Expanded, Expr::value(true))
            .filter(entity::Column::Id.eq(campaign.id))
            .exec(&*tx)
            .await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// The next people still to send to, in contact order.
pub async fn next_queued(conn: &impl ConnectionTrait, id: uuid::Uuid, limit: u64) -> Result<Vec<ContactId>> {
    let ids: Vec<uuid::Uuid> = recipient::Entity::find()
        .select_only()
        .column(recipient::Column::ContactId)
        .filter(recipient::Column::CampaignId.eq(id))
        .filter(recipient::Column::Status.eq(RecipientStatus::Queued.as_str()))
        .order_by_asc(recipient::Column::ContactId)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.into_iter().map(ContactId).collect())
}

/// The person's latest consent record for `purpose`: its id and whether
/// it is a grant (`domain::consent::standing_grants` order).
pub async fn latest_answer(
    conn: &impl ConnectionTrait,
    contact: ContactId,
    purpose: &str,
) -> Result<Option<(ConsentId, bool)>> {
    use super::contact::consent;
    let row = consent::Entity::find()
        .filter(consent::Column::ContactId.eq(contact.0))
        .filter(consent::Column::Purpose.eq(purpose))
        .order_by_desc(consent::Column::RecordedAt)
        .order_by_desc(consent::Column::Id)
        .one(conn)
        .await?;
    Ok(row.map(|r| (ConsentId(r.id), r.action == "grant")))
}

/// What became of one send (or why nothing was sent).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: RecipientStatus,
    pub reason: Option<String>,
    pub address: Option<String>,
    /// The standing grant the send relied on.
    pub consent_id: Option<ConsentId>,
    pub provider_message_id: Option<String>,
}

/// Records what became of the campaign for each person of `outcomes` who
/// is still queued or being sent (a second record of the same send changes
/// nothing), each with its audit entry naming the consent record relied on,
/// and clears their sends' journal, in one transaction.
pub async fn record_outcomes(store: &Store, campaign: &Campaign, outcomes: Vec<(ContactId, Outcome)>) -> Result<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let tx = store.begin().await?;
    for (contact, outcome) in outcomes {
        record_outcome_in(&*tx, campaign, contact, outcome).await?;
    }
    tx.commit().await
}

async fn record_outcome_in(
    conn: &impl ConnectionTrait,
    campaign: &Campaign,
    contact: ContactId,
    outcome: Outcome,
) -> Result<()> {
    let now = super::now();
    let sent = outcome.status == RecipientStatus::Sent;
    let updated = recipient::Entity::update_many()
        .col_expr(recipient::Column::Status, Expr::value(outcome.status.as_str()))
        .col_expr(recipient::Column::Reason, Expr::value(outcome.reason.clone()))
        .col_expr(recipient::Column::Address, Expr::value(outcome.address.clone()))
        .col_expr(recipient::Column::ConsentId, Expr::value(outcome.consent_id.map(|c| c.0)))
        .col_expr(recipient::Column::ProviderMessageId, Expr::value(outcome.provider_message_id.clone()))
        .col_expr(recipient::Column::SentAt, Expr::value(sent.then_some(now)))
        .col_expr(recipient::Column::UpdatedAt, Expr::value(now))
        .filter(recipient::Column::CampaignId.eq(campaign.id))
        .filter(recipient::Column::ContactId.eq(contact.0))
        .filter(recipient::Column::Status.is_in([RecipientStatus::Queued.as_str(), RecipientStatus::Sending.as_str()]))
        .exec(conn)
        .await?;
    if updated.rows_affected > 0 {
        let action = if sent { "campaign.sent" } else { "campaign.not_sent" };
        audit::record(
            conn,
            audit::Entry {
                actor: &Actor::System,
                action,
                target_kind: "contact",
                target_id: contact.0.to_string(),
                unit_id: Some(campaign.unit_id),
                details: serde_json::json!({
                    "campaign_id": campaign.id,
                    "campaign": campaign.name,
                    "purpose": campaign.purpose,
                    "consent_id": outcome.consent_id.map(|c| c.0),
                    "status": outcome.status.as_str(),
                    "reason": outcome.reason,
                    "channel": campaign.channel.as_str(),
                    "provider_message_id": outcome.provider_message_id,
                }),
            },
        )
        .await?;
    }
    super::send_journal::clear_in(conn, &send_key(campaign.id, contact)).await
}

/// Marks people as being sent to, in a commit of its own before their
/// sends: a run that finds them so later knows the server stopped during
/// their send. Returns those it marked (a person no longer queued is not
/// this run's to send to).
pub async fn mark_sending(store: &Store, campaign: uuid::Uuid, contacts: &[ContactId]) -> Result<Vec<ContactId>> {
    let tx = store.begin().await?;
    let now = super::now();
    let mut marked = Vec::with_capacity(contacts.len());
    for contact in contacts {
        let updated = recipient::Entity::update_many()
            .col_expr(recipient::Column::Status, Expr::value(RecipientStatus::Sending.as_str()))
            .col_expr(recipient::Column::UpdatedAt, Expr::value(now))
            .filter(recipient::Column::CampaignId.eq(campaign))
            .filter(recipient::Column::ContactId.eq(contact.0))
            .filter(recipient::Column::Status.eq(RecipientStatus::Queued.as_str()))
            .exec(&*tx)
            .await?;
        if updated.rows_affected > 0 {
            marked.push(*contact);
        }
    }
    tx.commit().await?;
    Ok(marked)
}

/// Puts a person being sent to back in the queue: the send failed for now
/// and nothing reached the provider.
pub async fn requeue(store: &Store, campaign: uuid::Uuid, contact: ContactId) -> Result<()> {
    let tx = store.begin().await?;
    recipient::Entity::update_many()
        .col_expr(recipient::Column::Status, Expr::value(RecipientStatus::Queued.as_str()))
        .filter(recipient::Column::CampaignId.eq(campaign))
        .filter(recipient::Column::ContactId.eq(contact.0))
        .filter(recipient::Column::Status.eq(RecipientStatus::Sending.as_str()))
        .exec(&*tx)
        .await?;
    tx.commit().await
}

/// People a stopped run was sending to when it stopped.
pub async fn stranded(conn: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Vec<ContactId>> {
    let ids: Vec<uuid::Uuid> = recipient::Entity::find()
        .select_only()
        .column(recipient::Column::ContactId)
        .filter(recipient::Column::CampaignId.eq(id))
        .filter(recipient::Column::Status.eq(RecipientStatus::Sending.as_str()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.into_iter().map(ContactId).collect())
}

/// Whether the provider's answer to the send to one person is journaled
/// (it arrived; a send again is answered from the journal).
pub async fn journaled(conn: &impl ConnectionTrait, campaign: uuid::Uuid, contact: ContactId) -> Result<bool> {
    super::send_journal::has_key(conn, &send_key(campaign, contact)).await
}

/// The idempotency key of the campaign's send to one person: a send
/// retried after a crash is answered from the journal under it.
pub fn send_key(campaign: uuid::Uuid, contact: ContactId) -> String {
    format!("campaign:{campaign}:{}", contact.0)
}

/// Marks a running campaign finished once nobody is queued, completing
/// its job in the same transaction; false if someone still is.
pub async fn finish_if_done(store: &Store, actor: &Actor, id: uuid::Uuid, job: uuid::Uuid) -> Result<bool> {
    let tx = store.begin().await?;
    let campaign = get_locked(&*tx, id).await?;
    if !next_queued(&*tx, id, 1).await?.is_empty() || !stranded(&*tx, id).await?.is_empty() || !campaign.expanded {
        return Ok(false);
    }
    if campaign.status == CampaignStatus::Running {
        let now = super::now();
        let model = entity::ActiveModel {
            id: Set(id),
            status: Set(CampaignStatus::Finished.as_str().to_owned()),
            finished_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        };
        let finished = from_model(model.update(&*tx).await?)?;
        record(&*tx, actor, "campaign.finished", &finished).await?;
    }
    super::job::complete_in(&*tx, job).await?;
    tx.commit().await?;
    Ok(true)
}

/// A scheduled campaign whose time has come starts running.
pub async fn start(store: &Store, id: uuid::Uuid) -> Result<Campaign> {
    let tx = store.begin().await?;
    let campaign = get_locked(&*tx, id).await?;
    if campaign.status != CampaignStatus::Scheduled {
        tx.commit().await?;
        return Ok(campaign);
    }
    let model = entity::ActiveModel {
        id: Set(id),
        status: Set(CampaignStatus::Running.as_str().to_owned()),
        updated_at: Set(super::now()),
        ..Default::default()
    };
    let running = from_model(model.update(&*tx).await?)?;
    record(&*tx, &Actor::System, "campaign.started", &running).await?;
    tx.commit().await?;
    Ok(running)
}

/// Applies a provider's delivery report to the campaign send it names;
/// false when no send of this account has that id.
pub async fn apply_report(
    conn: &impl ConnectionTrait,
    install: uuid::Uuid,
    provider_id: &str,
    to: RecipientStatus,
    error: Option<String>,
) -> Result<bool> {
    let found = recipient::Entity::find()
        .filter(recipient::Column::ProviderMessageId.eq(provider_id))
        .filter(
            recipient::Column::CampaignId.in_subquery(sea_orm::QueryTrait::into_query(
                entity::Entity::find()
                    .select_only()
                    .column(entity::Column::Id)
                    .filter(entity::Column::ChannelInstallId.eq(install)),
            )),
        )
        .one(conn)
        .await?;
    let Some(row) = found else { return Ok(false) };
    let current = super::stored(RecipientStatus::parse("status", &row.status))?;
    if current.takes_report(to) {
        let mut active: recipient::ActiveModel = row.into();
        active.status = Set(to.as_str().to_owned());
        if to == RecipientStatus::Failed {
            active.reason = Set(error);
        }
        active.updated_at = Set(super::now());
        active.update(conn).await?;
    }
    Ok(true)
}

/// The campaign a person's new message on `install` answers: the latest
/// one sent to them through it since `since` that they have not answered.
pub async fn answered_by(
    conn: &impl ConnectionTrait,
    contact: ContactId,
    install: uuid::Uuid,
    since: DateTime<Utc>,
) -> Result<Option<Campaign>> {
    let of_account = sea_orm::QueryTrait::into_query(
        entity::Entity::find()
            .select_only()
            .column(entity::Column::Id)
            .filter(entity::Column::ChannelInstallId.eq(install)),
    );
    let row = recipient::Entity::find()
        .filter(recipient::Column::ContactId.eq(contact.0))
        .filter(recipient::Column::SentAt.gte(since))
        .filter(recipient::Column::Status.is_in(["sent", "delivered", "read"]))
        .filter(recipient::Column::CampaignId.in_subquery(of_account))
        .order_by_desc(recipient::Column::SentAt)
        .one(conn)
        .await?;
    match row {
        Some(row) => Ok(Some(get(conn, row.campaign_id).await?)),
        None => Ok(None),
    }
}

/// The person answered `campaign` with the message that opened `case`:
/// the case says what they answer (a note with the campaign's message, in
/// the institution's language) and their recipient row points to it, unless
/// the message was a "BAJA" already recorded as such.
pub async fn answered_in(conn: &impl ConnectionTrait, campaign: &Campaign, case: &crate::domain::Case) -> Result<()> {
    let row = recipient::Entity::find_by_id((campaign.id, case.contact_id.0)).one(conn).await?;
    let sent_at = row.as_ref().and_then(|r| r.sent_at).unwrap_or(campaign.created_at);
    let locale = crate::i18n::LOCALES[0];
    let note = crate::i18n::t(
        locale,
        "campaign.reply_note",
        &[
            ("campaign", &campaign.name),
            ("date", &sent_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            ("message", &campaign.message.summary()),
        ],
    );
    super::message::note_in(conn, &Actor::System, case, None, note).await?;
    recipient::Entity::update_many()
        .col_expr(recipient::Column::Status, Expr::value(RecipientStatus::Replied.as_str()))
        .col_expr(recipient::Column::ReplyCaseId, Expr::value(case.id.0))
        .col_expr(recipient::Column::UpdatedAt, Expr::value(super::now()))
        .filter(recipient::Column::CampaignId.eq(campaign.id))
        .filter(recipient::Column::ContactId.eq(case.contact_id.0))
        .filter(recipient::Column::Status.is_in(["sent", "delivered", "read"]))
        .exec(conn)
        .await?;
    Ok(())
}

/// The person asked to stop: the campaigns sent to them since `since`
/// show it, and those not yet sent to them skip them.
pub async fn opted_out_in(conn: &impl ConnectionTrait, contact: ContactId, since: DateTime<Utc>) -> Result<()> {
    let now = super::now();
    recipient::Entity::update_many()
        .col_expr(recipient::Column::Status, Expr::value(RecipientStatus::OptedOut.as_str()))
        .col_expr(recipient::Column::UpdatedAt, Expr::value(now))
        .filter(recipient::Column::ContactId.eq(contact.0))
        .filter(recipient::Column::SentAt.gte(since))
        .filter(recipient::Column::Status.is_in(["sent", "delivered", "read", "replied"]))
        .exec(conn)
        .await?;
    Ok(())
}

/// The person followed the unsubscribe link of `campaign`'s e-mail: their
/// standing grant for its purpose is revoked (source `unsubscribe_link`,
/// the campaign as reference) and the campaign shows them opted out, in
/// one transaction. Nothing more is recorded when their answer is already no.
pub async fn unsubscribe(store: &Store, campaign: &Campaign, contact: ContactId) -> Result<()> {
    let tx = store.begin().await?;
    let records = super::contact::consents(&*tx, &super::contact::Visibility::All, contact).await?;
    let standing = crate::domain::consent::standing_grants(&records)
        .into_iter()
        .find(|r| r.purpose == campaign.purpose)
        .map(|r| r.text_version.clone());
    if let Some(text_version) = standing {
        let answer = crate::domain::consent::NewConsent {
            purpose: campaign.purpose.clone(),
            action: crate::domain::ConsentAction::Revoke,
            text_version,
            channel: Channel::Email,
            source: "unsubscribe_link".to_owned(),
            reference: Some(format!("campaign {}", campaign.id)),
            given_at: None,
        };
        super::contact::add_consent_in(&*tx, &Actor::System, contact, answer).await?;
    }
    recipient::Entity::update_many()
        .col_expr(recipient::Column::Status, Expr::value(RecipientStatus::OptedOut.as_str()))
        .col_expr(recipient::Column::UpdatedAt, Expr::value(super::now()))
        .filter(recipient::Column::CampaignId.eq(campaign.id))
        .filter(recipient::Column::ContactId.eq(contact.0))
        .exec(&*tx)
        .await?;
    tx.commit().await
}

/// A unit's outreach settings (its default when never set).
pub async fn outreach(conn: &impl ConnectionTrait, unit: UnitId) -> Result<OutreachSettings> {
    use super::unit::entity as units;
    let value: Option<Option<serde_json::Value>> =
        units::Entity::find_by_id(unit.0).select_only().column(units::Column::Outreach).into_tuple().one(conn).await?;
    match value {
        None => Err(Error::NotFound("unit")),
        Some(None) => Ok(OutreachSettings::default()),
        Some(Some(json)) => serde_json::from_value(json)
            .map_err(|e| Error::Corrupt(format!("unit {} has unreadable outreach settings: {e}", unit.0))),
    }
}

/// Wakes the live campaigns sending through account `install_id` (its
/// standing with the provider changed): a run waiting for its limit looks
/// again now.
pub async fn wake_account(store: &Store, install_id: uuid::Uuid) -> Result<()> {
    let tx = store.begin().await?;
    wake_live_in(&*tx, entity::Column::ChannelInstallId.eq(install_id)).await?;
    tx.commit().await
}

/// Wakes the runs of the live (scheduled or running) campaigns `which`
/// picks, in the caller's transaction: one asleep (quiet hours, a limit)
/// looks again now.
async fn wake_live_in(db: &impl ConnectionTrait, which: sea_orm::sea_query::SimpleExpr) -> Result<()> {
    let live: Vec<uuid::Uuid> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .filter(which)
        .filter(entity::Column::Status.is_in([CampaignStatus::Scheduled.as_str(), CampaignStatus::Running.as_str()]))
        .into_tuple()
        .all(db)
        .await?;
    for id in live {
        super::job::run_group_now_in(db, &job_group(id)).await?;
    }
    Ok(())
}

/// How many people campaigns reached through account `install_id` since
/// `since`, and when the earliest of those sends was: what a daily
/// messaging limit counts.
pub async fn sent_through_since(
    db: &impl ConnectionTrait,
    install_id: uuid::Uuid,
    since: DateTime<Utc>,
) -> Result<(u64, Option<DateTime<Utc>>)> {
    use sea_orm::sea_query::ExprTrait;
    let in_account = Query::select()
        .column(entity::Column::Id)
        .from(entity::Entity)
        .and_where(Expr::col(entity::Column::ChannelInstallId).eq(install_id))
        .to_owned();
    let (count, earliest): (i64, Option<DateTime<Utc>>) = recipient::Entity::find()
        .select_only()
        .column_as(Expr::col(recipient::Column::ContactId).count(), "n")
        .column_as(Expr::col(recipient::Column::SentAt).min(), "earliest")
        .filter(recipient::Column::CampaignId.in_subquery(in_account))
        .filter(recipient::Column::SentAt.gt(since))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, None));
    Ok((u64::try_from(count).unwrap_or(0), earliest))
}

pub async fn set_outreach(store: &Store, actor: &Actor, unit: UnitId, settings: &OutreachSettings) -> Result<()> {
    use super::unit::entity as units;
    let tx = store.begin().await?;
    let json = serde_json::to_value(settings).map_err(|e| Error::Corrupt(e.to_string()))?;
    let updated = units::Entity::update_many()
        .col_expr(units::Column::Outreach, Expr::value(json.clone()))
        .filter(units::Column::Id.eq(unit.0))
        .exec(&*tx)
        .await?;
    if updated.rows_affected == 0 {
        return Err(Error::NotFound("unit"));
    }
    // Campaigns waiting for the old hours look again now.
    wake_live_in(&*tx, entity::Column::UnitId.eq(unit.0)).await?;
    audit::record(
        &*tx,
        audit::Entry {
            actor,
            action: "unit.outreach_changed",
            target_kind: "unit",
            target_id: unit.0.to_string(),
            unit_id: Some(unit),
            details: json,
        },
    )
    .await?;
    tx.commit().await
}
