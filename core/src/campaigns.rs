//! Runs campaigns: the `campaign.run` job of one campaign (one at a time,
//! its job group) gives everyone its segment chooses a recipient row, a
//! page per transaction, then sends to them a page at a time in contact
//! order (eight at once) within the unit's sending hours, at most at the
//! campaign's share of the account's rate. Before each send it reads the
//! campaign again (a pause or a cancel stops it there) and the person's
//! latest answer for the purpose (a "no" given a second ago counts). A
//! person is marked `sending` before their send, which goes out under an
//! idempotency key journaled by the host, so a run killed anywhere sends
//! nobody twice. A run works for a few seconds and then goes back to the
//! queue behind whatever came meanwhile, so agents' replies never wait
//! behind a campaign.

use crate::channels::{self, Unavailable};
use crate::domain::campaign::{Campaign, CampaignStatus, Person, RecipientStatus, campaign_rate};
use crate::domain::template::ProviderTemplate;
use crate::domain::{Actor, AuthorKind, ConsentId, ContactId};
use crate::plugins::connector::{self, OutboundMessage, TemplateParts};
use crate::services::Services;
use crate::store::job::{Job, Outcome};
use crate::store::{self, campaign::Outcome as Sent};
use futures_util::future::join_all;
use std::time::{Duration, Instant};

/// People given a recipient row per transaction.
const EXPAND_PAGE: u64 = 1000;
/// People read per query while sending.
const SEND_BATCH: u64 = 100;
/// Sends under way at once within a run.
const IN_FLIGHT: usize = 8;
/// How long one run sends before it yields its worker (at most).
const SLICE: Duration = Duration::from_secs(5);
/// The longest a campaign waits in one go for its sending hours (it looks
/// again after, in case they changed).
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);

pub async fn run(services: &Services, job: &Job) -> Outcome {
    let Some(id) = job.payload.get("campaign_id").and_then(|v| v.as_str()).and_then(|s| uuid::Uuid::parse_str(s).ok())
    else {
        return Outcome::Dead("payload has no campaign_id".into());
    };
    let db = &services.store;
    // An earlier run of the campaign (before a pause and resume) goes first.
    match store::job::first_earlier_in_group(&db.db, job, true).await {
        Ok(Some(_)) => return Outcome::Later(Duration::from_secs(1)),
        Ok(None) => {}
        Err(e) => return Outcome::Retry(e.to_string()),
    }
    let mut campaign = match store::campaign::get(&db.db, id).await {
        Ok(campaign) => campaign,
        Err(store::Error::NotFound(_)) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let now = store::now();
    match campaign.status {
        CampaignStatus::Scheduled if campaign.starts_at.is_some_and(|at| at > now) => {
            let wait = campaign.starts_at.map(|at| (at - now).to_std().unwrap_or_default()).unwrap_or_default();
            return Outcome::Later(wait.min(LONGEST_WAIT));
        }
        CampaignStatus::Scheduled => match store::campaign::start(db, id).await {
            Ok(running) => campaign = running,
            Err(e) => return Outcome::Retry(e.to_string()),
        },
        CampaignStatus::Running => {}
        // Paused, cancelled, finished: a resume writes a new run.
        _ => return Outcome::Done,
    }
    if let Some(wait) = match quiet_for(services, &campaign).await {
        Ok(wait) => wait,
        Err(e) => return Outcome::Retry(e.to_string()),
    } {
        return Outcome::Later(wait);
    }
    let started = Instant::now();
    // Well within the job's lease, so no other worker takes the run over
    // while it sends.
    let slice = SLICE.min(Duration::from_secs(services.config.http.job_lease_secs.max(1)) / 4);
    while !campaign.expanded {
        match store::campaign::expand(db, &campaign, EXPAND_PAGE).await {
            Ok(done) => campaign.expanded = done,
            Err(e) => return Outcome::Retry(e.to_string()),
        }
        if started.elapsed() > slice {
            return Outcome::Later(Duration::ZERO);
        }
    }
    let connector = match channels::connector(services, campaign.channel_install_id).await {
        Ok(connector) => connector,
        // The account is switched off: the campaign waits for it.
        Err(Unavailable::NotFound | Unavailable::Stopped) => return Outcome::Later(Duration::from_secs(60)),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    // The account's grants and secrets, opened once for the run.
    let ctx = match crate::automation::context(services, &connector.install, &connector.manifest, None).await {
        Ok(ctx) => ctx,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    // A template the provider paused, rejected or changed since the
    // campaign was written holds the campaign (paused, saying why) before
    // anyone gets it.
    let kept = match &campaign.message.template {
        Some(template) => {
            match channels::templates::check(services, campaign.channel_install_id, template, "message.template").await
            {
                Ok(kept) => kept,
                Err(store::Error::Domain(refused)) => return hold(services, &campaign, &refused.to_string()).await,
                Err(e) => return Outcome::Retry(e.to_string()),
            }
        }
        None => None,
    };
    // The provider's view of the account: a red quality rating holds the
    // campaign, a yellow one halves its pace, and the messaging limit caps
    // how many people campaigns reach through it in 24 hours.
    let standing = match store::channel_template::sync_state(&db.db, campaign.channel_install_id).await {
        Ok(state) => state.and_then(|s| s.standing),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    if let Some(why) = standing.and_then(|s| s.holds()) {
        return hold(services, &campaign, why).await;
    }
    let mut remaining = match standing.and_then(|s| s.daily_recipients) {
        Some(limit) => match within_limit(services, &campaign, u64::from(limit)).await {
            Ok(Ok(left)) => Some(left),
            Ok(Err(wait)) => return Outcome::Later(wait),
            Err(e) => return Outcome::Retry(e.to_string()),
        },
        None => None,
    };
    let rate = campaign_rate(connector.manifest.rules.max_sends_per_second, campaign.max_per_second);
    let rate = standing.map_or(rate, |s| s.slows_to(rate));
    let run = Run {
        services,
        connector: &connector,
        ctx: &ctx,
        campaign: &campaign,
        kept: kept.as_ref(),
        interval: Duration::from_secs(1) / rate,
        next_slot: std::sync::Mutex::new(Instant::now()),
        started,
        slice,
    };
    if let Err(e) = settle_stranded(&run).await {
        return Outcome::Retry(e);
    }
    loop {
        let batch = match store::campaign::next_queued(&db.db, id, SEND_BATCH).await {
            Ok(batch) => batch,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        if batch.is_empty() {
            return match store::campaign::finish_if_done(db, &Actor::System, id, job.id).await {
                Ok(true) => Outcome::Done,
                Ok(false) => Outcome::Later(Duration::ZERO),
                Err(e) => Outcome::Retry(e.to_string()),
            };
        }
        for chunk in batch.chunks(IN_FLIGHT) {
            // Past the account's messaging limit: the next run counts again
            // and waits for the earliest send of the 24 hours to age out.
            let chunk = match remaining {
                Some(0) => return Outcome::Later(Duration::ZERO),
                Some(left) => &chunk[..chunk.len().min(left as usize)],
                None => chunk,
            };
            if let Err(stop) = run.chunk(chunk).await {
                return stop;
            }
            if let Some(left) = remaining.as_mut() {
                *left = left.saturating_sub(chunk.len() as u64);
            }
        }
    }
}

/// What one slice of a campaign's run shares between its sends.
struct Run<'a> {
    services: &'a Services,
    connector: &'a channels::Connector,
    ctx: &'a crate::plugins::host::CallContext,
    campaign: &'a Campaign,
    /// The campaign's template as the provider approved it, when the
    /// account's templates are kept.
    kept: Option<&'a ProviderTemplate>,
    /// The campaign's pace: one send per `interval`.
    interval: Duration,
    next_slot: std::sync::Mutex<Instant>,
    started: Instant,
    /// How long the run sends before it yields its worker.
    slice: Duration,
}

impl Run<'_> {
    /// The campaign for a few people at once (while one send waits on the
    /// provider, the next goes out): each sent, or recorded as not sent,
    /// with one commit marking those about to be sent and one recording
    /// what became of them all. An error is what the run comes to (a pause,
    /// its slice spent, a passing problem).
    async fn chunk(&self, people: &[ContactId]) -> Result<(), Outcome> {
        let db = &self.services.store;
        let id = self.campaign.id;
        // A pause or a cancel stops the campaign before its next sends.
        match store::campaign::get(&db.db, id).await {
            Ok(now) if now.status == CampaignStatus::Running => {}
            Ok(_) => return Err(Outcome::Done),
            Err(e) => return Err(Outcome::Retry(e.to_string())),
        }
        if self.started.elapsed() > self.slice {
            return Err(Outcome::Later(Duration::ZERO));
        }
        let prepared = join_all(people.iter().map(|c| prepare(self, *c))).await;
        let (mut outcomes, mut ready) = (vec![], vec![]);
        for (contact, prepared) in people.iter().copied().zip(prepared) {
            match prepared {
                Ok(Prepared::NotSent(outcome)) => outcomes.push((contact, outcome)),
                Ok(Prepared::Ready(r)) => ready.push((contact, r)),
                Err(e) => return Err(Outcome::Retry(e)),
            }
        }
        let wanted: Vec<ContactId> = ready.iter().map(|(c, _)| *c).collect();
        let marked = match wanted.is_empty() {
            true => vec![],
            false => store::campaign::mark_sending(db, id, &wanted).await.map_err(|e| Outcome::Retry(e.to_string()))?,
        };
        ready.retain(|(c, _)| marked.contains(c));
        let sent = join_all(ready.into_iter().map(|(contact, r)| async move {
            self.pace().await;
            (contact, send(self.services, self.connector, self.ctx, r).await)
        }))
        .await;
        let mut stop = None;
        for (contact, result) in sent {
            match result {
                Ok(outcome) => outcomes.push((contact, outcome)),
                // Not sent: the person waits for the next run.
                Err(e) => {
                    store::campaign::requeue(db, id, contact).await.map_err(|e| Outcome::Retry(e.to_string()))?;
                    stop = Some(Outcome::Retry(e));
                }
            }
        }
        store::campaign::record_outcomes(db, self.campaign, outcomes)
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?;
        stop.map_or(Ok(()), Err)
    }

    /// Waits for the campaign's next slot, then for one of the account's
    /// own pace, shared with agents' replies.
    async fn pace(&self) {
        let wait = {
            let mut next = match self.next_slot.lock() {
                Ok(next) => next,
                Err(poisoned) => poisoned.into_inner(),
            };
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let Some(per_second) = self.connector.manifest.rules.max_sends_per_second else { return };
        loop {
            match self.services.pacer.reserve(self.campaign.channel_install_id, per_second) {
                Ok(wait) => {
                    tokio::time::sleep(wait).await;
                    return;
                }
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

/// How many more people campaigns may reach through the campaign's account
/// within its 24-hour messaging limit, or how long until the earliest send
/// counted ages out.
async fn within_limit(
    services: &Services,
    campaign: &Campaign,
    limit: u64,
) -> Result<Result<u64, Duration>, store::Error> {
    let now = store::now();
    let day = chrono::Duration::hours(24);
    let (sent, earliest) =
        store::campaign::sent_through_since(&services.store.db, campaign.channel_install_id, now - day).await?;
    if sent < limit {
        return Ok(Ok(limit - sent));
    }
    let wait = earliest.and_then(|at| (at + day - now).to_std().ok()).unwrap_or(LONGEST_WAIT);
    Ok(Err(wait.clamp(Duration::from_secs(1), LONGEST_WAIT)))
}

/// How long the campaign must wait for its unit's sending hours; none
/// when it may send now.
async fn quiet_for(services: &Services, campaign: &Campaign) -> Result<Option<Duration>, store::Error> {
    let unit = store::unit::get(&services.store.db, campaign.unit_id).await?;
    let outreach = store::campaign::outreach(&services.store.db, campaign.unit_id).await?;
    let hours = outreach.sending_hours.unwrap_or(unit.business_hours);
    let now = store::now();
    if hours.is_open(unit.timezone, now) {
        return Ok(None);
    }
    let wait = hours
        .next_open(unit.timezone, now)
        .and_then(|at| (at.with_timezone(&chrono::Utc) - now).to_std().ok())
        .unwrap_or(LONGEST_WAIT);
    Ok(Some(wait.clamp(Duration::from_secs(1), LONGEST_WAIT)))
}

/// A run stopped during a send (the server was killed): with the
/// provider's answer journaled, the send is done again and answered from
/// the journal; without it, nobody can tell whether the provider took it,
/// so it is not tried again (`failed`, saying why): nobody gets it twice.
async fn settle_stranded(run: &Run<'_>) -> Result<(), String> {
    let (services, campaign) = (run.services, run.campaign);
    let db = &services.store;
    for contact in store::campaign::stranded(&db.db, campaign.id).await.map_err(|e| e.to_string())? {
        let journaled = store::campaign::journaled(&db.db, campaign.id, contact).await.map_err(|e| e.to_string())?;
        let outcome = match prepare(run, contact).await? {
            Prepared::Ready(ready) if journaled => send(services, run.connector, run.ctx, ready).await?,
            Prepared::Ready(ready) => Sent {
                status: RecipientStatus::Failed,
                reason: Some(STOPPED_DURING_SEND.to_owned()),
                address: Some(ready.outbound.recipient),
                consent_id: Some(ready.consent),
                provider_message_id: None,
            },
            Prepared::NotSent(outcome) => outcome,
        };
        store::campaign::record_outcomes(db, campaign, vec![(contact, outcome)]).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

const STOPPED_DURING_SEND: &str = "the server stopped during this send and the provider's answer is unknown; not tried again, so it never arrives twice";

/// A send ready to go: the message and what it relies on.
struct Ready {
    outbound: OutboundMessage,
    parts: Option<TemplateParts>,
    consent: ConsentId,
}

enum Prepared {
    /// What the campaign comes to for someone it is not sent to.
    NotSent(Sent),
    Ready(Box<Ready>),
}

/// Whether the campaign may be sent to one person now, and the message if
/// so; an error is a passing problem (the run is tried again).
async fn prepare(run: &Run<'_>, contact_id: ContactId) -> Result<Prepared, String> {
    let (services, connector, campaign) = (run.services, run.connector, run.campaign);
    let db = &services.store.db;
    let not_sent = |status: RecipientStatus, reason: &str, consent_id| {
        Prepared::NotSent(Sent {
            status,
            reason: Some(reason.to_owned()),
            address: None,
            consent_id,
            provider_message_id: None,
        })
    };
    // The host, not the plugin, decides: nobody without a standing grant.
    let consent = match store::campaign::latest_answer(db, contact_id, &campaign.purpose).await {
        Ok(Some((id, true))) => id,
        Ok(Some((id, false))) => {
            return Ok(not_sent(RecipientStatus::OptedOut, "their latest answer for the purpose is a no", Some(id)));
        }
        Ok(None) => return Ok(not_sent(RecipientStatus::Skipped, "no consent for the purpose", None)),
        Err(e) => return Err(e.to_string()),
    };
    let contact = match store::contact::get(db, &store::contact::Visibility::All, contact_id).await {
        Ok(contact) => contact,
        Err(store::Error::NotFound(_)) => {
            return Ok(not_sent(RecipientStatus::Skipped, "the person is no longer on record", Some(consent)));
        }
        Err(e) => return Err(e.to_string()),
    };
    if contact.merged_into.is_some() || contact.erased_at.is_some() {
        return Ok(not_sent(RecipientStatus::Skipped, "the person is no longer on record", Some(consent)));
    }
    let Some(address) = contact.address_on(connector.channel).map(str::to_owned) else {
        return Ok(not_sent(RecipientStatus::Skipped, "no address on the campaign's channel", Some(consent)));
    };
    let person = Person {
        name: contact.name.as_deref(),
        external_id: contact.external_id.as_deref(),
        attributes: &contact.custom_attributes,
    };
    let key = store::campaign::send_key(campaign.id, contact_id);
    let (mut outbound, parts) = outbound_for(connector, campaign, run.kept, &person, &address, key);
    if campaign.channel == crate::domain::Channel::Email {
        with_unsubscribe_link(services, &mut outbound.body, campaign.id, contact_id.0);
    }
    if let Some(template) = &outbound.template
        && let Some(i) = template.parameters.iter().position(|p| p.trim().is_empty())
    {
        let reason = format!("nothing known to fill the template's parameter {}", i + 1);
        return Ok(not_sent(RecipientStatus::Skipped, &reason, Some(consent)));
    }
    if let Some(parts) = &parts {
        let header_empty = parts.header.as_ref().is_some_and(|h| header_text(h).trim().is_empty());
        if header_empty || parts.buttons.iter().any(|b| b.value.trim().is_empty()) {
            let reason = "nothing known to fill the template's header or a button";
            return Ok(not_sent(RecipientStatus::Skipped, reason, Some(consent)));
        }
    }
    Ok(Prepared::Ready(Box::new(Ready { outbound, parts, consent })))
}

/// Sends a prepared message: what became of it; an error is a passing
/// problem (nothing was sent).
async fn send(
    services: &Services,
    connector: &channels::Connector,
    ctx: &crate::plugins::host::CallContext,
    ready: Box<Ready>,
) -> Result<Sent, String> {
    let address = ready.outbound.recipient.clone();
    let send_context = crate::plugins::SendContext {
        author_kind: crate::plugins::convert::author_kind(AuthorKind::System),
        last_inbound_at: None,
    };
    let context = (send_context, ready.parts);
    let result = channels::send_through(services, connector, ctx.clone(), ready.outbound, context, None).await;
    match result {
        Ok((Ok(receipt), _)) => Ok(Sent {
            status: RecipientStatus::Sent,
            reason: None,
            address: Some(address),
            consent_id: Some(ready.consent),
            provider_message_id: Some(receipt.provider_message_id),
        }),
        Ok((Err(e), _)) if e.retryable => Err(e.message),
        Ok((Err(e), _)) => Ok(Sent {
            status: RecipientStatus::Failed,
            reason: Some(e.message),
            address: Some(address),
            consent_id: Some(ready.consent),
            provider_message_id: None,
        }),
        Err(e) => Err(e.to_string()),
    }
}

/// Sends the campaign's message once to `address` (a person on staff
/// checking it), now: the provider's message id, or whether a refusal is
/// passing and why. Audited.
pub async fn send_test(
    services: &Services,
    actor: &Actor,
    campaign: &Campaign,
    address: &str,
    name: Option<&str>,
) -> Result<Result<String, (bool, String)>, store::Error> {
    let connector = match channels::connector(services, campaign.channel_install_id).await {
        Ok(connector) => connector,
        Err(Unavailable::Store(e)) => return Err(e),
        Err(e) => return Ok(Err((false, e.to_string()))),
    };
    let kept = match &campaign.message.template {
        Some(template) => {
            match channels::templates::check(services, campaign.channel_install_id, template, "message.template").await
            {
                Ok(kept) => kept,
                Err(store::Error::Domain(refused)) => return Ok(Err((false, refused.to_string()))),
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    let attributes = serde_json::Map::new();
    let person = Person { name, external_id: None, attributes: &attributes };
    let key = format!("campaign-test:{}", uuid::Uuid::now_v7());
    let (mut outbound, parts) = outbound_for(&connector, campaign, kept.as_ref(), &person, address, key);
    if campaign.channel == crate::domain::Channel::Email {
        with_unsubscribe_link(services, &mut outbound.body, campaign.id, uuid::Uuid::nil());
    }
    let send_context = crate::plugins::SendContext {
        author_kind: crate::plugins::convert::author_kind(AuthorKind::System),
        last_inbound_at: None,
    };
    let key = outbound.idempotency_key.clone();
    let ctx = crate::automation::context(services, &connector.install, &connector.manifest, None).await?;
    let result = channels::send_through(services, &connector, ctx, outbound, (send_context, parts), None).await;
    let answer = match result {
        Ok((Ok(receipt), _)) => Ok(receipt.provider_message_id),
        Ok((Err(e), _)) => Err((e.retryable, e.message)),
        Err(e) => Err((true, e.to_string())),
    };
    let tx = services.store.begin().await?;
    store::send_journal::clear_in(&*tx, &key).await?;
    store::audit::record(
        &*tx,
        store::audit::Entry {
            actor,
            action: "campaign.test_sent",
            target_kind: "campaign",
            target_id: campaign.id.to_string(),
            unit_id: Some(campaign.unit_id),
            details: serde_json::json!({ "address": address, "sent": answer.is_ok() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(answer)
}

/// The campaign's message for one person, as the connector sends it, with
/// its template's header and button values.
fn outbound_for(
    connector: &channels::Connector,
    campaign: &Campaign,
    kept: Option<&ProviderTemplate>,
    person: &Person<'_>,
    address: &str,
    idempotency_key: String,
) -> (OutboundMessage, Option<TemplateParts>) {
    let message = campaign.message.for_person(person);
    let parts = message.template.as_ref().and_then(|t| crate::plugins::message_templates::parts_of(t, kept));
    let outbound = OutboundMessage {
        recipient: address.to_owned(),
        body: message.body.unwrap_or_default(),
        options: vec![],
        attachments: vec![],
        template: message.template.map(|t| connector::Template {
            name: t.name,
            language: t.language,
            parameters: t.parameters,
        }),
        idempotency_key,
        thread_keys: message.subject.iter().map(|s| format!("subject:{s}")).collect(),
        settings: connector.install.settings.to_string(),
    };
    (outbound, parts)
}

fn header_text(header: &connector::TemplateHeaderValue) -> &str {
    match header {
        connector::TemplateHeaderValue::Text(v)
        | connector::TemplateHeaderValue::Image(v)
        | connector::TemplateHeaderValue::Document(v)
        | connector::TemplateHeaderValue::Video(v) => v,
    }
}

/// Pauses a campaign the host cannot send now (its template is not
/// approved), saying why in the audit log; a resume tries again.
async fn hold(services: &Services, campaign: &Campaign, why: &str) -> Outcome {
    tracing::warn!(campaign = %campaign.id, why, "campaign held");
    let done = async {
        store::campaign::change_status(&services.store, &Actor::System, campaign.id, CampaignStatus::Paused).await?;
        let tx = services.store.begin().await?;
        store::audit::record(
            &*tx,
            store::audit::Entry {
                actor: &Actor::System,
                action: "campaign.held",
                target_kind: "campaign",
                target_id: campaign.id.to_string(),
                unit_id: Some(campaign.unit_id),
                details: serde_json::json!({ "reason": why }),
            },
        )
        .await?;
        tx.commit().await
    };
    match done.await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// The path of one person's unsubscribe link for a campaign (the nil id for
/// a test send), signed so nobody can write another person's.
pub fn unsubscribe_path(services: &Services, campaign: uuid::Uuid, contact: uuid::Uuid) -> String {
    let signature = services.attachments.sign(UNSUBSCRIBE, &[&campaign.to_string(), &contact.to_string()]);
    format!("/unsubscribe/{campaign}/{contact}/{signature}")
}

/// Whether `signature` is the one of that person's link.
pub fn unsubscribe_signed(services: &Services, campaign: uuid::Uuid, contact: uuid::Uuid, signature: &str) -> bool {
    services.attachments.verify_signature(UNSUBSCRIBE, &[&campaign.to_string(), &contact.to_string()], signature)
}

const UNSUBSCRIBE: &str = "unsubscribe";

/// An e-mail campaign's text ends with the person's unsubscribe link.
fn with_unsubscribe_link(services: &Services, body: &mut String, campaign: uuid::Uuid, contact: uuid::Uuid) {
    let link = format!("{}{}", services.config.link_prefix(), unsubscribe_path(services, campaign, contact));
    let footer = crate::i18n::t(crate::i18n::LOCALES[0], "campaign.unsubscribe_footer", &[("link", &link)]);
    body.push_str("\n\n--\n");
    body.push_str(&footer);
}
