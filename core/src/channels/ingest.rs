//! Committing what webhooks carry. On SQLite, whose one writer takes
//! transactions one at a time, webhooks that arrive while a commit is under
//! way are written together in the next transaction (a group commit): one
//! begin, one commit and one write of the pages they share instead of one
//! each. Each webhook is still acknowledged only once its own messages are
//! committed. If a group fails (a plugin's unusable content, a race with
//! another writer), its webhooks are committed one by one, so one bad
//! webhook never costs another its place. PostgreSQL, which commits many
//! transactions at once, takes each webhook in its own.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::ConnectionTrait;

use super::{CommitError, mail, subject_of};
use crate::domain::campaign::RecipientStatus;
use crate::domain::{self, Actor, AuthorKind, CaseStatus, DeliveryStatus, case::NewCase};
use crate::plugins::connector::{self, Parsed};
use crate::store::{self, Store, plugin_install::Install};

/// Most webhooks written in one transaction.
const MAX_GROUP: usize = 64;

/// However a webhook's request ends, even dropped half-way (its client
/// went away): it leaves the count, and the queue if it is still there.
/// A request whose webhook a group already took gets no answer, but its
/// messages commit; the provider's retry finds them stored.
struct Leave<'a>(&'a Committer);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.queue.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| !p.done.is_closed());
    }
}

/// What committing needs of a channel account.
#[derive(Clone)]
pub struct Account {
    pub install: Install,
    pub channel: domain::Channel,
}

/// A webhook waiting for its commit.
struct Pending {
    account: Account,
    parsed: Arc<Parsed>,
    done: tokio::sync::oneshot::Sender<Result<usize, CommitError>>,
}

/// Where webhooks queue for their commit.
pub struct Committer {
    store: Store,
    reopen_window: chrono::Duration,
    /// Whether webhooks are committed in groups (one writer) or each alone.
    grouped: bool,
    queue: Mutex<Vec<Pending>>,
    /// Held by the webhook whose request is writing the current group.
    leader: Arc<tokio::sync::Mutex<()>>,
    /// Webhooks between arriving here and their answer.
    in_flight: AtomicUsize,
    /// Webhooks committed in a group of more than one.
    grouped_total: AtomicU64,
    /// Groups that failed and were committed one by one.
    split_total: AtomicU64,
}

impl Committer {
    pub fn new(store: Store, reopen_window_hours: u32) -> Arc<Self> {
        Arc::new(Committer {
            grouped: store.single_writer(),
            store,
            reopen_window: chrono::Duration::hours(i64::from(reopen_window_hours)),
            queue: Mutex::new(vec![]),
            leader: Default::default(),
            in_flight: AtomicUsize::new(0),
            grouped_total: AtomicU64::new(0),
            split_total: AtomicU64::new(0),
        })
    }

    /// Webhooks waiting for or in their commit.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Webhooks committed together with others so far, and groups that
    /// had to be split.
    pub fn grouped(&self) -> (u64, u64) {
        (self.grouped_total.load(Ordering::Relaxed), self.split_total.load(Ordering::Relaxed))
    }

    /// Commits what one webhook carried; how many new messages it stored.
    pub async fn commit(self: &Arc<Self>, account: Account, parsed: Arc<Parsed>) -> Result<usize, CommitError> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        // Declared before the answer's receiver, so dropped after it.
        let _leave = Leave(self);
        if !self.grouped {
            return self.alone(&account, &parsed).await;
        }
        let (done, mut result) = tokio::sync::oneshot::channel();
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(Pending { account, parsed, done });
        let gone = || CommitError::Store(store::Error::Corrupt("the group commit stopped".into()));
        loop {
            tokio::select! {
                biased;
                outcome = &mut result => return outcome.unwrap_or_else(|_| Err(gone())),
                leader = self.leader.clone().lock_owned() => {
                    let group: Vec<Pending> = {
                        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                        let n = queue.len().min(MAX_GROUP);
                        queue.drain(..n).collect()
                    };
                    if group.is_empty() {
                        continue;
                    }
                    // The group is written by a task of its own, so a
                    // request that goes away cannot stop it half-way; the
                    // next leader waits for it.
                    let this = self.clone();
                    let written = tokio::spawn(async move {
                        this.group(group).await;
                        drop(leader);
                    });
                    if written.await.is_err() {
                        tracing::error!("a group commit of webhooks panicked");
                    }
                }
            }
        }
    }

    /// Writes a group in one transaction, or one by one if that fails.
    async fn group(&self, group: Vec<Pending>) {
        if group.len() > 1 {
            let together = async {
                let tx = self.store.begin().await?;
                let mut stored = Vec::with_capacity(group.len());
                for pending in &group {
                    stored.push(commit_in(&*tx, self.reopen_window, &pending.account, &pending.parsed).await?);
                }
                tx.commit().await?;
                Ok::<_, CommitError>(stored)
            };
            match together.await {
                Ok(stored) => {
                    self.grouped_total.fetch_add(group.len() as u64, Ordering::Relaxed);
                    for (pending, stored) in group.into_iter().zip(stored) {
                        let _ = pending.done.send(Ok(stored));
                    }
                    return;
                }
                Err(e) => {
                    self.split_total.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(size = group.len(), error = %e, "group commit failed; one by one");
                }
            }
        }
        for pending in group {
            let outcome = self.alone(&pending.account, &pending.parsed).await;
            let _ = pending.done.send(outcome);
        }
    }

    async fn alone(&self, account: &Account, parsed: &Parsed) -> Result<usize, CommitError> {
        commit_alone(&self.store, self.reopen_window, account, parsed).await
    }
}

/// Removes what no database column takes and no person wrote: control
/// characters other than line breaks and tabs (PostgreSQL refuses NUL in
/// text), in every string a connector parsed from a webhook.
pub fn clean(parsed: &mut Parsed) {
    fn plain(text: &mut String) {
        if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            text.retain(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
        }
    }
    for message in &mut parsed.messages {
        for text in [&mut message.provider_message_id, &mut message.sender, &mut message.body] {
            plain(text);
        }
        message.sender_name.iter_mut().chain(message.selected_option.iter_mut()).for_each(plain);
        message.thread_keys.iter_mut().for_each(plain);
        for file in &mut message.attachments {
            for text in [&mut file.file_name, &mut file.content_type, &mut file.reference] {
                plain(text);
            }
        }
    }
    for status in &mut parsed.statuses {
        plain(&mut status.provider_message_id);
        status.error.iter_mut().for_each(plain);
    }
    for profile in &mut parsed.profiles {
        plain(&mut profile.sender);
        profile.name.iter_mut().for_each(plain);
    }
}

/// What one webhook (or one message read from a mailbox) carried, in its
/// own transaction. Two deliveries of one message may race; the loser's
/// transaction fails on the unique index, and one more try finds the
/// message already stored.
pub async fn commit_alone(
    store: &Store,
    reopen_window: chrono::Duration,
    account: &Account,
    parsed: &Parsed,
) -> Result<usize, CommitError> {
    let once = || async {
        let tx = store.begin().await?;
        let stored = commit_in(&*tx, reopen_window, account, parsed).await?;
        tx.commit().await?;
        Ok::<_, CommitError>(stored)
    };
    match once().await {
        Err(CommitError::Store(_)) => once().await,
        outcome => outcome,
    }
}

/// How long after a campaign reached a person their new message is taken
/// as its answer (a case of the campaign's unit).
const CAMPAIGN_ANSWER_DAYS: i64 = 7;

/// Commits what a webhook carried, in one transaction: new messages (each
/// once), delivery reports and profile names. A message continues the case
/// its threading hints name, else the contact's open case on the account,
/// else one resolved within `channels.reopen_window_hours` (reopened);
/// otherwise it opens a case in the install's unit, with its bot if the
/// unit has one.
pub(crate) async fn commit_in(
    conn: &impl ConnectionTrait,
    reopen_window: chrono::Duration,
    account: &Account,
    parsed: &Parsed,
) -> Result<usize, CommitError> {
    let (install, channel) = (&account.install, account.channel);
    let actor = Actor::Plugin { id: install.plugin_id.clone(), version: install.version.clone() };
    let mut stored = 0;
    // Senders resolved in this webhook (with the name they were given), so
    // their profiles need no lookup.
    let mut resolved: Vec<(String, domain::ContactId, Option<String>)> = vec![];
    for (i, inbound) in parsed.messages.iter().enumerate() {
        if inbound.provider_message_id.is_empty()
            || store::message::exists_from_provider(conn, install.id, &inbound.provider_message_id).await?
        {
            continue;
        }
        let sender = domain::contact::normalize_identity("sender", channel, &inbound.sender)
            .map_err(|e| CommitError::Invalid(format!("messages[{i}].sender: {e}")))?;
        let name = inbound.sender_name.clone().filter(|n| !n.trim().is_empty());
        let found = store::contact::resolve_sender(conn, &actor, channel, &sender, name.clone()).await?;
        // A contact made just now has no case to continue; nor has whoever
        // typed an address into a web form (it may be someone else's).
        let fresh = matches!(found, store::contact::Resolved::New(_) | store::contact::Resolved::Ambiguous(_))
            || !channel.proves_sender();
        let contact = found.id();
        resolved.push((sender.clone(), contact, name));
        let body = if inbound.body.trim().is_empty() && inbound.attachments.is_empty() {
            return Err(CommitError::Invalid(format!("messages[{i}]: no text and no attachments")));
        } else {
            inbound.body.chars().take(domain::message::MAX_BODY_CHARS).collect::<String>()
        };
        let message = domain::message::NewMessage {
            provider_message_id: Some(inbound.provider_message_id.clone()),
            channel_install_id: Some(install.id),
            selected_option: inbound.selected_option.clone(),
            attachments: inbound
                .attachments
                .iter()
                .map(|a| {
                    let refused = a.reference.strip_prefix(mail::REFUSED);
                    domain::message::Attachment {
                        file_name: a.file_name.clone(),
                        content_type: a.content_type.clone(),
                        size_bytes: a.size_bytes,
                        reference: if refused.is_some() { String::new() } else { a.reference.clone() },
                        error: refused.map(str::to_owned),
                    }
                })
                .collect(),
            ..domain::message::NewMessage::text(AuthorKind::Contact, body.clone())
        };
        let threaded = match fresh {
            true => None,
            false => store::case::find_threaded(conn, contact, install.id, &inbound.thread_keys).await?,
        };
        let continued = match threaded {
            None if fresh => None,
            Some(case) => Some(case),
            None => match store::case::find_open_for(conn, contact, install.id).await? {
                Some(case) => Some(case),
                None if reopen_window > chrono::Duration::zero() => {
                    let since = store::now() - reopen_window;
                    match store::case::find_ended_since(conn, contact, install.id, CaseStatus::Resolved, since).await? {
                        Some(case) => Some(case),
                        // A closed conversation takes only the answer to its survey.
                        None => {
                            match store::case::find_ended_since(conn, contact, install.id, CaseStatus::Closed, since)
                                .await?
                            {
                                Some(case) => {
                                    let selected = message.selected_option.as_deref();
                                    let answers = store::survey::reply_in(conn, &case, selected, &message.body).await?;
                                    answers.map(|_| case)
                                }
                                None => None,
                            }
                        }
                    }
                }
                None => None,
            },
        };
        match continued {
            Some(mut case) => {
                store::message::add_in(conn, &actor, &mut case, message).await?;
            }
            None => {
                // An answer to a campaign is a case of the campaign's unit.
                let since = store::now() - chrono::Duration::days(CAMPAIGN_ANSWER_DAYS);
                let answered = store::campaign::answered_by(conn, contact, install.id, since).await?;
                let unit =
                    match (&answered, install.units.first()) {
                        (Some(campaign), _) => campaign.unit_id,
                        (None, Some(unit)) => *unit,
                        (None, None) => store::unit::list(conn).await?.first().map(|u| u.id).ok_or_else(|| {
                            store::Error::conflict("units", "there is no unit to receive conversations")
                        })?,
                    };
                let status =
                    if store::event::has_bot(conn, unit).await? { CaseStatus::Bot } else { CaseStatus::Queued };
                let told = inbound.thread_keys.iter().find_map(|k| k.strip_prefix("subject:"));
                let subject = match told.map(str::trim).filter(|s| !s.is_empty()) {
                    Some(subject) => subject_of(subject, channel),
                    None => subject_of(&body, channel),
                };
                let new = NewCase {
                    subject,
                    channel,
                    contact_id: contact,
                    unit_id: unit,
                    status,
                    assignee_id: None,
                    priority: domain::Priority::Normal,
                    tags: vec![],
                    custom_fields: Default::default(),
                    channel_install_id: Some(install.id),
                };
                let case = store::case::create_in(conn, &actor, new, Some(message)).await?;
                if let Some(campaign) = answered {
                    store::campaign::answered_in(conn, &campaign, &case).await?;
                }
            }
        }
        stored += 1;
    }
    for update in &parsed.statuses {
        let status = match update.state {
            connector::DeliveryState::Sent => DeliveryStatus::Sent,
            connector::DeliveryState::Delivered => DeliveryStatus::Delivered,
            connector::DeliveryState::Read => DeliveryStatus::Read,
            connector::DeliveryState::Failed => DeliveryStatus::Failed,
        };
        let id = &update.provider_message_id;
        if !store::message::apply_status(conn, install.id, id, status, update.error.clone()).await? {
            let status = match update.state {
                connector::DeliveryState::Sent => RecipientStatus::Sent,
                connector::DeliveryState::Delivered => RecipientStatus::Delivered,
                connector::DeliveryState::Read => RecipientStatus::Read,
                connector::DeliveryState::Failed => RecipientStatus::Failed,
            };
            store::campaign::apply_report(conn, install.id, id, status, update.error.clone()).await?;
        }
    }
    for profile in &parsed.profiles {
        let Ok(sender) = domain::contact::normalize_identity("sender", channel, &profile.sender) else {
            continue;
        };
        let Some(name) = &profile.name else { continue };
        let known = resolved.iter().find(|(s, _, _)| *s == sender);
        // Resolving the sender of a message gave it this name already.
        if known.is_some_and(|(_, _, named)| named.as_deref() == Some(name.as_str())) {
            continue;
        }
        let id = match known.map(|(_, id, _)| *id) {
            Some(id) => Some(id),
            None => store::contact::find_by_identity(conn, channel, &sender).await?,
        };
        if let Some(id) = id {
            store::contact::fill_name_in(conn, id, name).await?;
        }
    }
    Ok(stored)
}
