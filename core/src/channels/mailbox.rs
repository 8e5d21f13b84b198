//! Reading the mailboxes of mail connectors over IMAP.
//!
//! Every `channels.mail_poll_secs` each instance asks each running mail
//! connector which mailbox it reads (`mailbox`) and enqueues a `mail.poll`
//! job for it, keyed by the install and the period, so however many
//! instances run, one poll per period does the work. A poll logs in to the
//! server (under the install's `mail_hosts` grant and the private-address
//! rules, the password from its secrets), fetches the messages that arrived
//! since the last one it read (the first time: the unread ones), and takes
//! each one like a webhook post: decoded, read by the connector, its files
//! kept, committed. Only then is it marked seen and remembered as read, so
//! a poll cut short reads the rest next time, and a message read twice is
//! stored once (by its Message-ID).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Connector;
use crate::plugins::mail::{MailboxSpec, Security};
use crate::services::Services;
use crate::store::job::Outcome;
use crate::store::{
    self,
    job::{Job, JobKind},
};

/// Most messages taken in one poll; the rest wait for the next.
const MAX_PER_POLL: usize = 50;

/// Longest one IMAP exchange (connect, log in, one fetch) may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Installs whose mailbox this instance is reading now.
static READING: Mutex<Option<HashSet<uuid::Uuid>>> = Mutex::new(None);

/// Starts the loop that schedules mailbox reads, unless turned off.
pub fn spawn(services: std::sync::Arc<Services>) {
    let every = services.config.channels.mail_poll_secs;
    super::every(services, every, "mailbox reads", |services| async move { schedule(&services).await });
}

/// Enqueues a read of each mail connector's mailbox for this period;
/// returns how many were enqueued here.
pub async fn schedule(services: &Services) -> Result<usize, store::Error> {
    let every = services.config.channels.mail_poll_secs;
    super::enqueue_per_account(services, JobKind::MailPoll, every, |connector| async move {
        connector.plugin.mail.is_some() && mailbox(services, &connector).await.is_some()
    })
    .await
}

/// The mailbox a connector names, if any.
async fn mailbox(services: &Services, connector: &Connector) -> Option<MailboxSpec> {
    let mail = connector.plugin.mail.as_ref()?;
    let ctx = crate::automation::context(services, &connector.install, &connector.manifest, None).await.ok()?;
    let settings = connector.install.settings.to_string();
    match services.plugins.run_mailbox(mail, ctx, settings).await {
        Ok(spec) => spec,
        Err(e) => {
            tracing::warn!(install = %connector.install.id, error = %e, "connector failed to name its mailbox");
            None
        }
    }
}

/// Runs a `mail.poll` job.
pub async fn poll(services: &Services, job: &Job) -> Outcome {
    let Some(install_id) = job.payload["install_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return Outcome::Dead("payload has no `install_id`".into());
    };
    let connector = match super::connector(services, install_id).await {
        Ok(connector) => connector,
        // Removed, disabled or suspended since: nothing to read.
        Err(super::Unavailable::NotFound | super::Unavailable::Stopped) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let Some(spec) = mailbox(services, &connector).await else { return Outcome::Done };
    {
        let mut reading = READING.lock().unwrap_or_else(|e| e.into_inner());
        if !reading.get_or_insert_with(HashSet::new).insert(install_id) {
            return Outcome::Done;
        }
    }
    let started = std::time::Instant::now();
    let result = read_mailbox(services, &connector, &spec).await;
    if let Some(reading) = READING.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        reading.remove(&install_id);
    }
    match result {
        Ok(read) => {
            tracing::debug!(%install_id, read, "mailbox read");
            Outcome::Done
        }
        // The next period tries again; a retry now would only pile up. The
        // admin sees why in the install's health (not held against the
        // plugin: the server or its settings are at fault).
        Err(Failure::Mailbox(why)) => {
            tracing::warn!(%install_id, error = %why, "cannot read the mailbox");
            services.runtime.record(install_id, started.elapsed(), Some(format!("reading the mailbox: {why}")));
            Outcome::Done
        }
        Err(Failure::Store(why)) => Outcome::Retry(why),
    }
}

/// Why a poll stopped.
enum Failure {
    /// The server, the network or the settings: reported, tried next period.
    Mailbox(String),
    /// The database: the job is retried.
    Store(String),
}

async fn read_mailbox(services: &Services, connector: &Connector, spec: &MailboxSpec) -> Result<usize, Failure> {
    let server = &spec.server;
    let ctx = crate::automation::context(services, &connector.install, &connector.manifest, None)
        .await
        .map_err(|e| Failure::Store(e.to_string()))?;
    let limits = &services.plugins.limits;
    let address = crate::plugins::mail::mail_server(server, &ctx.grants.mail_hosts, &limits.private_hosts)
        .await
        .map_err(|e| Failure::Mailbox(format!("{e:?}")))?;
    let password = crate::plugins::mail::password(&ctx, &server.password_secret)
        .ok_or_else(|| Failure::Mailbox(format!("secret `{}` is not granted or not set", server.password_secret)))?;
    let tcp = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| Failure::Mailbox(format!("{} did not answer", server.host)))?
        .map_err(|e| Failure::Mailbox(format!("cannot connect to {}: {e}", server.host)))?;
    let ca_file = services.plugins.limits.trusted_ca_file.as_deref();
    match server.security {
        Security::None => read_over(services, connector, spec, tcp, &password, true).await,
        Security::Tls => {
            let tls = tls_connect(&server.host, ca_file, tcp).await?;
            read_over(services, connector, spec, tls, &password, true).await
        }
        // Greeted in the clear, then STARTTLS (RFC 3501 6.2.1) before anything
        // else; the server does not greet again over TLS.
        Security::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            tokio::time::timeout(TIMEOUT, client.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|_| Failure::Mailbox("the server took too long to start TLS".into()))?
                .map_err(|e| Failure::Mailbox(format!("the server refused STARTTLS: {e}")))?;
            let tls = tls_connect(&server.host, ca_file, client.into_inner()).await?;
            read_over(services, connector, spec, tls, &password, false).await
        }
    }
}

async fn greeting<T>(client: &mut async_imap::Client<T>) -> Result<(), Failure>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    tokio::time::timeout(TIMEOUT, client.read_response())
        .await
        .map_err(|_| Failure::Mailbox("the server took too long to greet".into()))?
        .map_err(|e| Failure::Mailbox(format!("no greeting: {e}")))?
        .ok_or_else(|| Failure::Mailbox("the server closed the connection before greeting".into()))?;
    Ok(())
}

async fn tls_connect(
    host: &str,
    ca_file: Option<&std::path::Path>,
    tcp: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Failure> {
    use tokio_rustls::rustls;
    let (roots, _) = crate::tls::trusted_roots(ca_file).map_err(Failure::Mailbox)?;
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Failure::Mailbox(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| Failure::Mailbox(format!("`{host}`: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| Failure::Mailbox(format!("{host} did not finish the TLS handshake")))?
        .map_err(|e| Failure::Mailbox(format!("TLS with {host}: {e}")))
}

/// Where the last poll stopped: the mailbox's UIDVALIDITY and the last UID read.
fn position_key(install: uuid::Uuid) -> String {
    format!("mailbox:{install}")
}

async fn read_over<T>(
    services: &Services,
    connector: &Connector,
    spec: &MailboxSpec,
    stream: T,
    password: &str,
    greets: bool,
) -> Result<usize, Failure>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let imap = |e: async_imap::error::Error| Failure::Mailbox(format!("IMAP: {e}"));
    let timed = |what: &'static str| move |_| Failure::Mailbox(format!("the server took too long to {what}"));
    let mut client = async_imap::Client::new(stream);
    if greets {
        greeting(&mut client).await?;
    }
    let mut session = tokio::time::timeout(TIMEOUT, client.login(&spec.server.user, password))
        .await
        .map_err(timed("log in"))?
        .map_err(|(e, _)| Failure::Mailbox(format!("login refused: {e}")))?;
    let selected = tokio::time::timeout(TIMEOUT, session.select(&spec.folder))
        .await
        .map_err(timed("open the folder"))?
        .map_err(imap)?;
    let validity = selected.uid_validity.unwrap_or_default();
    let key = position_key(connector.install.id);
    let position = store::setting::get(&services.store.db, &key).await.map_err(|e| Failure::Store(e.to_string()))?;
    let last = position.and_then(|p| {
        let (v, uid) = p.split_once(':')?;
        (v.parse::<u32>().ok()? == validity).then(|| uid.parse::<u32>().ok()).flatten()
    });
    let query = match last {
        Some(uid) => format!("UID {}:*", uid.saturating_add(1)),
        None => "UNSEEN".to_owned(),
    };
    let found =
        tokio::time::timeout(TIMEOUT, session.uid_search(&query)).await.map_err(timed("search"))?.map_err(imap)?;
    // `n:*` names the last message even when its UID is below n.
    let mut uids: Vec<u32> = found.into_iter().filter(|uid| last.is_none_or(|l| *uid > l)).collect();
    uids.sort_unstable();
    uids.truncate(MAX_PER_POLL);
    let max_bytes = services.attachments.config.max_bytes / 3 * 4 + (1 << 20);
    let mut read = 0;
    for uid in uids {
        let raw = {
            let fetches =
                tokio::time::timeout(TIMEOUT, session.uid_fetch(uid.to_string(), "(UID RFC822.SIZE BODY.PEEK[])"))
                    .await
                    .map_err(timed("fetch"))?
                    .map_err(imap)?;
            let fetched: Vec<_> =
                tokio::time::timeout(TIMEOUT, fetches.collect::<Vec<_>>()).await.map_err(timed("fetch"))?;
            let mut raw = None;
            for fetch in fetched {
                let fetch = fetch.map_err(imap)?;
                if fetch.uid == Some(uid) {
                    raw = fetch.body().map(<[u8]>::to_vec);
                }
            }
            raw
        };
        match raw {
            Some(raw) if raw.len() <= max_bytes => take(services, connector, &raw).await?,
            Some(raw) => {
                tracing::warn!(install = %connector.install.id, uid, bytes = raw.len(), "message too large, skipped")
            }
            None => tracing::warn!(install = %connector.install.id, uid, "the server sent no body, skipped"),
        }
        let marked = tokio::time::timeout(TIMEOUT, async {
            let updates = session.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)").await?;
            updates.collect::<Vec<_>>().await;
            Ok::<_, async_imap::error::Error>(())
        })
        .await;
        match marked {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::info!(install = %connector.install.id, uid, error = %e, "cannot mark a message seen")
            }
            Err(_) => tracing::info!(install = %connector.install.id, uid, "marking a message seen took too long"),
        }
        let remembered = async {
            let tx = services.store.begin().await?;
            store::setting::set(&*tx, &key, &format!("{validity}:{uid}")).await?;
            tx.commit().await
        };
        remembered.await.map_err(|e| Failure::Store(e.to_string()))?;
        read += 1;
    }
    let _ = tokio::time::timeout(TIMEOUT, session.logout()).await;
    Ok(read)
}

/// Takes one message like a webhook post of it.
async fn take(services: &Services, connector: &Connector, raw: &[u8]) -> Result<(), Failure> {
    let Some(decoded) = crate::plugins::mail::decode(raw) else {
        tracing::warn!(install = %connector.install.id, "a message in the mailbox is not readable, skipped");
        return Ok(());
    };
    let mut parsed = super::mail::read(services, connector, &decoded).await.map_err(Failure::Store)?;
    super::ingest::clean(&mut parsed);
    // Mail is read by one job at a time: no other webhook to group with.
    let window = chrono::Duration::hours(i64::from(services.config.channels.reopen_window_hours));
    let outcome = super::ingest::commit_alone(&services.store, window, &connector.account(), &parsed).await;
    match outcome {
        Ok(_) => Ok(()),
        Err(super::CommitError::Invalid(why)) => {
            tracing::warn!(install = %connector.install.id, reason = %why, "connector produced unusable content");
            Ok(())
        }
        Err(super::CommitError::Store(e)) => Err(Failure::Store(e.to_string())),
    }
}
