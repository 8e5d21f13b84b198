//! Channels: provider webhooks in, messages out, both through connector
//! plugins.
//!
//! Inbound: `/webhooks/{install_id}` hands the request to the install's
//! connector, which verifies the signature (with secrets it only names) and
//! parses it. Everything parsed is committed in one transaction (on
//! SQLite, shared with the webhooks that arrived meanwhile: `ingest`), and
//! only then does the provider get its answer; a plugin failure or a
//! database problem answers 503, so the provider retries and nothing is
//! half-written. Messages are deduplicated by (channel account, provider
//! message id).
//!
//! Outbound: each outbound message leaves a `message.deliver` job; the
//! connector of the case's channel account sends it. A retryable failure is
//! retried with backoff; a final one marks the message failed.

use crate::automation::record_call;
use crate::domain::Case;
use crate::domain::channel_rules::{ChannelRules, Template};
use crate::domain::{self, AuthorKind, DeliveryStatus, MessageId};
use crate::plugins::connector::{self, InboundRequest, OutboundMessage};
use crate::plugins::manifest::{Manifest, World};
use crate::plugins::runtime::Prepared;
use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{self, Store, job::Job, plugin_install::Install};

pub mod ingest;
pub mod mail;
pub mod mailbox;
pub mod media;
pub mod survey;
pub mod templates;

/// What the channel of a case's account allows; no account (a case typed
/// in by staff, web chat) has no rules.
pub async fn rules_for(services: &Services, install_id: Option<uuid::Uuid>) -> Result<ChannelRules, store::Error> {
    let Some(id) = install_id else { return Ok(ChannelRules::default()) };
    let install = match store::plugin_install::get(&services.store.db, id).await {
        Ok(install) => install,
        Err(store::Error::NotFound(_)) => return Ok(ChannelRules::default()),
        Err(e) => return Err(e),
    };
    match services.runtime.manifest(&services.store, &install.plugin_id, &install.version).await {
        Ok(manifest) => Ok(manifest.rules),
        Err(store::Error::Corrupt(_)) => Ok(ChannelRules::default()),
        Err(e) => Err(e),
    }
}

/// Refuses an outbound message the case's channel would not take now,
/// e.g. free text on WhatsApp more than 24 hours after the person last wrote
/// (a domain error naming the field, which the API shows as 422).
pub async fn check_outbound(
    services: &Services,
    case: &Case,
    template: Option<&Template>,
    author: AuthorKind,
) -> Result<(), store::Error> {
    let rules = rules_for(services, case.channel_install_id).await?;
    let last_inbound = last_inbound(&services.store, case).await?;
    rules.check_outbound(last_inbound, store::now(), template, author)?;
    if let (Some(template), Some(install_id)) = (template, case.channel_install_id) {
        templates::check(services, install_id, template, "template").await?;
    }
    Ok(())
}

/// The rules of channel account `install_id` for a conversation staff
/// start on `channel` in `unit`; a domain error naming
/// `channel_install_id` when the account cannot carry it (not a running
/// connector, another channel, not open to the unit). The outer error is
/// a store problem.
pub async fn starting(
    services: &Services,
    install_id: uuid::Uuid,
    channel: domain::Channel,
    unit: domain::UnitId,
) -> Result<Result<ChannelRules, domain::Error>, store::Error> {
    let refuse = |message: String| Ok(Err(domain::Error::invalid("channel_install_id", message)));
    let install = match store::plugin_install::get(&services.store.db, install_id).await {
        Ok(install) if install.world == "connector" => install,
        Ok(_) | Err(store::Error::NotFound(_)) => return refuse("no such channel account".into()),
        Err(e) => return Err(e),
    };
    if !install.is_running() {
        return refuse("the channel account is disabled or suspended".into());
    }
    if !install.follows(unit) {
        return refuse("the channel account is not open to this unit".into());
    }
    let manifest = services.runtime.manifest(&services.store, &install.plugin_id, &install.version).await?;
    match manifest.channel {
        Some(theirs) if theirs == channel => Ok(Ok(manifest.rules)),
        Some(theirs) => refuse(format!("the channel account is on {}, not {}", theirs.as_str(), channel.as_str())),
        None => refuse("the plugin is not a channel connector".into()),
    }
}

/// When the person of `case` last wrote to its channel account (on any of
/// their cases), or on the case itself when it has no account: what
/// reply windows count from.
pub async fn last_inbound(db: &Store, case: &Case) -> Result<Option<chrono::DateTime<chrono::Utc>>, store::Error> {
    let on_case = store::message::last_inbound_at(&db.db, case.id).await?;
    let Some(install) = case.channel_install_id else { return Ok(on_case) };
    let on_account = store::message::last_inbound_from(&db.db, case.contact_id, install).await?;
    Ok(on_case.max(on_account))
}

/// Runs `schedule` every `secs` seconds (0: never), from a task of its own.
pub(crate) fn every<F, Fut>(services: std::sync::Arc<Services>, secs: u64, what: &'static str, schedule: F)
where
    F: Fn(std::sync::Arc<Services>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<usize, store::Error>> + Send,
{
    if secs == 0 {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
            if let Err(e) = schedule(services.clone()).await {
                tracing::warn!(error = %e, "cannot schedule {what}");
            }
        }
    });
}

/// Enqueues a `kind` job for each running connector install that `wanted`
/// picks, keyed by the install and this period of `secs` seconds, so
/// however many instances run, one job per account and period does the
/// work; returns how many were enqueued here.
pub(crate) async fn enqueue_per_account<F, Fut>(
    services: &Services,
    kind: store::job::JobKind,
    secs: u64,
    wanted: F,
) -> Result<usize, store::Error>
where
    F: Fn(Connector) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let period = store::now().timestamp() / secs.max(1) as i64;
    let mut enqueued = 0;
    for install in store::plugin_install::list(&services.store.db).await? {
        if install.world != "connector" || !install.is_running() {
            continue;
        }
        let Ok(connector) = connector(services, install.id).await else { continue };
        if !wanted(connector).await {
            continue;
        }
        let job = store::job::NewJob {
            kind,
            payload: serde_json::json!({ "install_id": install.id }),
            idempotency_key: Some(format!("{}:{}:{period}", kind.as_str(), install.id)),
        };
        let tx = services.store.begin().await?;
        // Another instance enqueued this period's job already: fine.
        if store::job::enqueue(&*tx, job).await.is_ok() && tx.commit().await.is_ok() {
            enqueued += 1;
        }
    }
    Ok(enqueued)
}

/// A connector install with what it needs to run.
pub struct Connector {
    pub install: Install,
    pub manifest: Manifest,
    pub plugin: connector::ConnectorPlugin,
    pub channel: domain::Channel,
}

impl Connector {
    /// What committing its webhooks needs of the account.
    pub fn account(&self) -> ingest::Account {
        ingest::Account { install: self.install.clone(), channel: self.channel }
    }
}

/// Why a connector cannot be used now.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("no such channel account")]
    NotFound,
    #[error("the channel account is disabled or suspended")]
    Stopped,
    #[error("{0}")]
    Store(#[from] store::Error),
    #[error("{0}")]
    Plugin(#[from] crate::plugins::Error),
}

/// Loads a running connector install.
pub async fn connector(services: &Services, install_id: uuid::Uuid) -> Result<Connector, Unavailable> {
    let install = match services.runtime.account(install_id) {
        Some((install, _)) => install,
        None => store::plugin_install::get(&services.store.db, install_id).await.map_err(|e| match e {
            store::Error::NotFound(_) => Unavailable::NotFound,
            e => e.into(),
        })?,
    };
    if install.world != "connector" {
        return Err(Unavailable::NotFound);
    }
    if !install.is_running() {
        return Err(Unavailable::Stopped);
    }
    let manifest = services.runtime.manifest(&services.store, &install.plugin_id, &install.version).await?;
    let channel = manifest.channel.ok_or_else(|| store::Error::Corrupt("connector manifest without channel".into()))?;
    let prepared = services
        .runtime
        .load(&services.store, &services.plugins, &install.plugin_id, &install.version, World::Connector)
        .await?;
    let Prepared::Connector(plugin) = prepared else {
        return Err(crate::plugins::Error::WrongWorld {
            world: "connector",
            reason: "prepared as another world".into(),
        }
        .into());
    };
    Ok(Connector { install, manifest, plugin, channel })
}

/// Runs the connector on a webhook request; the outer error is a store
/// problem, the inner one the plugin's failure.
pub async fn parse(
    services: &Services,
    connector: &Connector,
    request: InboundRequest,
) -> Result<Result<connector::ParseOutcome, crate::plugins::Error>, store::Error> {
    // A burst of webhooks to one account reads its install and secrets once
    // a second, not once per request.
    let ctx = match services.runtime.account(connector.install.id) {
        Some((_, ctx)) => ctx,
        None => {
            let ctx = crate::automation::context(services, &connector.install, &connector.manifest, None).await?;
            services.runtime.remember_account(connector.install.clone(), ctx.clone());
            ctx
        }
    };
    let started = std::time::Instant::now();
    let result = services.plugins.run_parse(&connector.plugin, ctx, request).await;
    // Anyone may post to a webhook: until the connector has accepted the
    // request, a failure is shown in the install's health but never counts
    // towards suspending it, or a stranger could switch the channel off.
    let error = result.as_ref().err().map(ToString::to_string);
    services.runtime.record(connector.install.id, started.elapsed(), error);
    Ok(result)
}

/// Why parsed content was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The connector produced something unusable (e.g. a sender that is not
    /// an identity on its channel): the plugin's fault.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A case subject from the first message: its first line, shortened.
pub(crate) fn subject_of(body: &str, channel: domain::Channel) -> String {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if line.is_empty() {
        return format!("Conversación por {}", channel.as_str());
    }
    let mut subject: String = line.chars().take(80).collect();
    if line.chars().count() > 80 {
        subject.push('…');
    }
    subject
}

/// The message a job's payload names; what the job comes to otherwise (a
/// message deleted since has nothing left to do).
pub(crate) async fn job_message(services: &Services, job: &Job) -> Result<domain::Message, Outcome> {
    let Some(id) = job.payload.get("message_id").and_then(|v| v.as_str()).and_then(|s| uuid::Uuid::parse_str(s).ok())
    else {
        return Err(Outcome::Dead("payload has no message_id".into()));
    };
    match store::message::get_unscoped(&services.store.db, MessageId(id)).await {
        Ok(message) => Ok(message),
        Err(store::Error::NotFound(_)) => Err(Outcome::Done),
        Err(e) => Err(Outcome::Retry(e.to_string())),
    }
}

/// Runs a `message.deliver` job: sends an outbound message through the
/// connector of the case's channel account.
pub async fn deliver(services: &Services, job: &Job) -> Outcome {
    let message = match job_message(services, job).await {
        Ok(message) => message,
        Err(outcome) => return outcome,
    };
    let db = &services.store;
    if message.delivery_status != DeliveryStatus::Pending {
        return Outcome::Done;
    }
    // A case's messages go out in the order they were written: a later one
    // waits while an earlier one is tried again, and says so.
    match store::job::first_earlier_in_group(&db.db, job, true).await {
        Ok(Some(earlier)) => return wait_behind(services, &message, &earlier).await,
        Ok(None) if message.waiting_for.is_some() => {
            if let Err(e) = store::message::note_waiting(&db.db, message.id, None, None).await {
                return Outcome::Retry(e.to_string());
            }
        }
        Ok(None) => {}
        Err(e) => return Outcome::Retry(e.to_string()),
    }
    let case = match store::case::get(&db.db, None, message.case_id).await {
        Ok(case) => case,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    // Without a channel account (web chat, API, a case typed in by staff)
    // there is nothing to send through: the message is read where it is.
    let Some(install_id) = message.channel_install_id.or(case.channel_install_id) else {
        return Outcome::Done;
    };
    let connector = match connector(services, install_id).await {
        Ok(connector) => connector,
        Err(Unavailable::NotFound) => return fail(db, &message, job, "the channel account was removed").await,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let recipient = match store::contact::get(&db.db, &store::contact::Visibility::All, case.contact_id).await {
        Ok(contact) => contact.address_on(connector.channel).map(str::to_owned),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let Some(recipient) = recipient else {
        return fail(db, &message, job, "the contact has no identity on this channel").await;
    };
    let mut thread_keys: Vec<String> = match store::message::recent(&db.db, case.id, 10).await {
        Ok(recent) => recent.into_iter().filter_map(|m| m.provider_message_id).collect(),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    thread_keys.push(format!("case:{}", case.number));
    thread_keys.push(format!("subject:{}", case.subject));
    // The host writes e-mail itself and attaches kept files from here; other
    // providers fetch them from a link.
    let by_mail = connector.plugin.mail.is_some();
    let attachments = match if by_mail { Ok(mail_files(&message)) } else { outbound_files(services, &message) } {
        Ok(files) => files,
        Err(reason) => return fail(db, &message, job, &reason).await,
    };
    // A template paused or changed by the provider since it was written is
    // refused here, just before the send.
    let parts = match &message.template {
        Some(template) => match templates::check(services, install_id, template, "template").await {
            Ok(kept) => crate::plugins::message_templates::parts_of(template, kept.as_ref()),
            Err(store::Error::Domain(refused)) => return fail(db, &message, job, &refused.to_string()).await,
            Err(e) => return Outcome::Retry(e.to_string()),
        },
        None => None,
    };
    let outbound = OutboundMessage {
        recipient,
        body: message.body.clone(),
        options: message
            .options
            .iter()
            .map(|o| crate::plugins::bot::Choice { id: o.id.clone(), label: o.label.clone() })
            .collect(),
        attachments,
        template: message.template.as_ref().map(|t| connector::Template {
            name: t.name.clone(),
            language: t.language.clone(),
            parameters: t.parameters.clone(),
        }),
        idempotency_key: message.id.to_string(),
        thread_keys,
        settings: connector.install.settings.to_string(),
    };
    let last_inbound = match last_inbound(db, &case).await {
        Ok(at) => at,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let send_context = crate::plugins::SendContext {
        author_kind: crate::plugins::convert::author_kind(message.author_kind),
        last_inbound_at: last_inbound.map(|at| at.timestamp_millis()),
    };
    let files = by_mail.then(|| crate::plugins::mail::OutboundFiles {
        store: services.attachments.clone(),
        allowed: outbound.attachments.iter().map(|a| a.reference.clone()).collect(),
    });
    if let Some(per_second) = connector.manifest.rules.max_sends_per_second {
        match services.pacer.reserve(install_id, per_second) {
            Ok(wait) if wait.is_zero() => {}
            Ok(wait) => tokio::time::sleep(wait).await,
            Err(wait) => return Outcome::Later(wait),
        }
    }
    let ctx = match crate::automation::context(services, &connector.install, &connector.manifest, None).await {
        Ok(ctx) => ctx,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let result = send_through(services, &connector, ctx, outbound, (send_context, parts), files).await;
    let schedule = &services.config.channels.delivery;
    let last_attempt = job.attempts >= schedule.attempts.max(1);
    match result {
        Ok((Ok(receipt), _)) => {
            let delivery = store::message::Delivery {
                status: DeliveryStatus::Sent,
                provider_message_id: Some(receipt.provider_message_id),
                error: None,
                attempts: job.attempts,
            };
            finish(db, &message, job, delivery).await
        }
        Ok((Err(e), _)) if e.retryable && !last_attempt => retry(services, &message, job, &e.message).await,
        Ok((Err(e), _)) => fail(db, &message, job, &e.message).await,
        // The plugin itself failed: the send fail-safe is a retry with backoff.
        Err(e) if !last_attempt => retry(services, &message, job, &e.to_string()).await,
        Err(e) => fail(db, &message, job, &e.to_string()).await,
    }
}

/// Runs the connector's send in `ctx` (the account's grants and secrets,
/// `automation::context`) with what `outbound.context` and
/// `outbound.template-values` answer, journaled under the message's idempotency key
/// (a retry after a crash is answered from the journal), and counts it in
/// the account's health.
pub(crate) async fn send_through(
    services: &Services,
    connector: &Connector,
    mut ctx: crate::plugins::host::CallContext,
    outbound: OutboundMessage,
    (send_context, parts): (crate::plugins::SendContext, Option<connector::TemplateParts>),
    files: Option<crate::plugins::mail::OutboundFiles>,
) -> Result<connector::SendOutcome, crate::plugins::Error> {
    let install_id = connector.install.id;
    ctx.send_key = Some(outbound.idempotency_key.clone());
    ctx.outbound_files = files;
    ctx.send_context = Some(send_context);
    ctx.template_parts = parts;
    let started = std::time::Instant::now();
    let result = services.plugins.run_send(&connector.plugin, ctx, outbound).await;
    let elapsed = started.elapsed();
    // What the provider said counts in the install's health, though not
    // towards its suspension: a provider that is down is no fault of the
    // plugin, and switching the account off would stop its webhooks too.
    match &result {
        Ok((Err(e), _)) => services.runtime.record_send_failure(install_id, elapsed, &e.message),
        _ => {
            let plugin_error = result.as_ref().err().map(ToString::to_string);
            record_call(services, install_id, elapsed, plugin_error.as_deref()).await;
        }
    }
    result
}

/// Holds a message back behind `earlier`, a message of its case not yet
/// sent: it is looked at again when that one is next tried (or soon, if
/// that one is being tried now), and says what it waits for.
async fn wait_behind(services: &Services, message: &domain::Message, earlier: &Job) -> Outcome {
    let now = store::now();
    let until = if earlier.status == "pending" && earlier.run_at > now { earlier.run_at } else { now };
    let behind = earlier
        .payload
        .get("message_id")
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .map(MessageId);
    // Only a wait behind a retry is worth telling people about; the usual
    // few milliseconds behind a send in flight are not.
    let (shown, next) =
        if until > now { (behind, Some(until)) } else { (message.waiting_for, message.next_attempt_at) };
    if let Err(e) = store::message::note_waiting(&services.store.db, message.id, shown, next).await {
        return Outcome::Retry(e.to_string());
    }
    let wait = (until - now).to_std().unwrap_or_default();
    Outcome::Later(wait.max(std::time::Duration::from_millis(20)) + std::time::Duration::from_millis(5))
}

/// Puts a delivery back for its next try, with the message saying why the
/// last one failed and when the next comes, in one commit.
async fn retry(services: &Services, message: &domain::Message, job: &Job, error: &str) -> Outcome {
    let wait = services.config.channels.delivery.wait(job.attempts);
    let next = store::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
    tracing::warn!(job = %job.id, message = %message.id, attempts = job.attempts, error, retry_in_ms = wait.as_millis() as u64, "delivery will be tried again");
    let done = async {
        let tx = services.store.begin().await?;
        store::message::note_retry_in(&*tx, message.id, job.attempts, error, next).await?;
        store::job::retry_at_in(&*tx, job.id, error, next).await?;
        tx.commit().await
    };
    match done.await {
        Ok(()) => Outcome::Rescheduled,
        Err(e) => Outcome::Retry(format!("{error} (and the retry could not be recorded: {e})")),
    }
}

/// The files of an outbound message as the connector hands them to the
/// provider: each reference a link the provider can fetch for a day.
fn outbound_files(
    services: &Services,
    message: &domain::Message,
) -> Result<Vec<crate::plugins::bot::Attachment>, String> {
    let files = &services.attachments;
    let prefix = services.config.link_prefix();
    message
        .attachments
        .iter()
        .map(|a| {
            let Some(hash) = crate::domain::message::hash_of(&a.reference) else {
                return Err(format!("`{}` is not a file this server keeps", a.file_name));
            };
            if prefix.is_empty() {
                return Err(
                    "files can only be sent once public_url is set: the provider fetches them from there".into()
                );
            }
            let link = files.provider_link(hash, &a.content_type, &a.file_name, message.created_at);
            Ok(crate::plugins::bot::Attachment {
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size_bytes: a.size_bytes,
                reference: format!("{prefix}{link}"),
            })
        })
        .collect()
}

/// The files of an outbound e-mail: the kept files themselves, which the
/// host attaches when the connector submits the message.
fn mail_files(message: &domain::Message) -> Vec<crate::plugins::bot::Attachment> {
    message
        .attachments
        .iter()
        .filter(|a| crate::domain::message::hash_of(&a.reference).is_some())
        .map(|a| crate::plugins::bot::Attachment {
            file_name: a.file_name.clone(),
            content_type: a.content_type.clone(),
            size_bytes: a.size_bytes,
            reference: a.reference.clone(),
        })
        .collect()
}

/// Marks a message undeliverable and completes its job: the next message
/// of its case goes out after it.
async fn fail(db: &Store, message: &domain::Message, job: &Job, error: &str) -> Outcome {
    let delivery = store::message::Delivery {
        status: DeliveryStatus::Failed,
        provider_message_id: None,
        error: Some(error.to_owned()),
        attempts: job.attempts,
    };
    finish(db, message, job, delivery).await
}

/// Records how a delivery ended and completes its job in one commit; the
/// messages of its case held behind it are made due.
async fn finish(db: &Store, message: &domain::Message, job: &Job, delivery: store::message::Delivery) -> Outcome {
    let done = async {
        let tx = db.begin().await?;
        store::message::set_delivery(&*tx, message.id, delivery).await?;
        store::send_journal::clear_in(&*tx, &message.id.to_string()).await?;
        store::job::complete_in(&*tx, job.id).await?;
        if let Some(group) = &job.group_key {
            store::job::hurry_group_in(&*tx, group).await?;
        }
        tx.commit().await
    };
    match done.await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}
