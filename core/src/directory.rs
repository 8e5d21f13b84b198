//! Directory sync over LDAP (OpenLDAP, Active Directory, 389 DS): each
//! `[[auth.ldap]]` is read on a schedule (and when an admin asks), people
//! under its base DN and filter with the groups whose members list them;
//! `store::directory` makes, updates, deactivates or brings back their
//! accounts with the roles their groups map to. Its people sign in with
//! their directory password: a bind as their own entry.

use crate::config::LdapDirectory;
use crate::services::Services;
use crate::store;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// What one sync did.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub directory: String,
    /// Entries the filter matched.
    pub seen: u32,
    pub created: u32,
    /// Existing accounts (same e-mail) that now follow the directory.
    pub joined: u32,
    pub updated: u32,
    pub reactivated: u32,
    /// Deactivated: gone from the directory or its filter, or their groups
    /// grant nothing any more.
    pub deactivated: u32,
    /// Entries whose groups grant nothing and who have no account.
    pub skipped: u32,
    /// Entries without an e-mail or an id, left alone.
    pub unusable: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the directory cannot be read: {0}")]
    Directory(String),
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl From<ldap3::LdapError> for Error {
    fn from(e: ldap3::LdapError) -> Self {
        Error::Directory(e.to_string())
    }
}

/// Opens a connection to the directory (TLS trusting the public roots and
/// the institution's own authority).
async fn connect(dir: &LdapDirectory, own_ca: Option<&std::path::Path>) -> Result<Ldap, Error> {
    let (roots, _) = crate::tls::trusted_roots(own_ca).map_err(Error::Directory)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Directory(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let settings = LdapConnSettings::new()
        .set_conn_timeout(Duration::from_secs(10))
        .set_starttls(dir.starttls)
        .set_config(Arc::new(tls));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &dir.url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// An attribute's first value, whatever case the server names it in
/// (binary ones, such as AD's `objectGUID`, in hex).
fn first(entry: &SearchEntry, name: &str) -> Option<String> {
    let text = entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first().cloned());
    text.or_else(|| {
        entry.bin_attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first()).map(hex::encode)
    })
    .filter(|v| !v.trim().is_empty())
}

/// A DN as compared: lowercase, no spaces around separators.
fn normal_dn(dn: &str) -> String {
    dn.split(',')
        .map(|part| part.trim().replace(" =", "=").replace("= ", "="))
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

async fn search_all(ldap: &mut Ldap, base: &str, filter: &str, attrs: Vec<String>) -> Result<Vec<SearchEntry>, Error> {
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(500))];
    let mut search = ldap.streaming_search_with(adapters, base, Scope::Subtree, filter, attrs).await?;
    let mut found = Vec::new();
    while let Some(entry) = search.next().await? {
        found.push(SearchEntry::construct(entry));
    }
    search.finish().await.success()?;
    Ok(found)
}

/// Reads the directory and brings its people's accounts in step.
pub async fn sync(services: &Services, dir: &LdapDirectory) -> Result<Report, Error> {
    let mut ldap = connect(dir, services.config.plugins.trusted_ca_file.as_deref()).await?;
    let password = dir.bind_password.as_ref().map(|s| s.expose()).unwrap_or_default();
    ldap.simple_bind(&dir.bind_dn, password).await?.success()?;
    // Groups first: who is in which of the mapped ones.
    let mapped: HashSet<&str> = dir.mappings.iter().map(|m| m.group.trim_start_matches('/')).collect();
    let group_base = dir.group_base_dn.as_deref().unwrap_or(&dir.base_dn);
    let attrs = vec![dir.group_name_attribute.clone(), dir.member_attribute.clone()];
    let mut groups_of: HashMap<String, Vec<String>> = HashMap::new();
    for group in search_all(&mut ldap, group_base, &dir.group_filter, attrs).await? {
        let Some(name) = first(&group, &dir.group_name_attribute).filter(|n| mapped.contains(n.as_str())) else {
            continue;
        };
        let members = group.attrs.iter().filter(|(k, _)| k.eq_ignore_ascii_case(&dir.member_attribute));
        for dn in members.flat_map(|(_, values)| values) {
            groups_of.entry(normal_dn(dn)).or_default().push(name.clone());
        }
    }
    let attrs = vec![dir.email_attribute.clone(), dir.name_attribute.clone(), dir.id_attribute.clone()];
    let people = search_all(&mut ldap, &dir.base_dn, &dir.user_filter, attrs).await?;
    let _ = ldap.unbind().await;

    let mut report = Report { directory: dir.id.clone(), ..Report::default() };
    let mut seen = HashSet::new();
    for person in &people {
        report.seen += 1;
        let (Some(subject), Some(email)) = (first(person, &dir.id_attribute), first(person, &dir.email_attribute))
        else {
            report.unusable += 1;
            continue;
        };
        let Ok(email) = crate::domain::Email::parse("email", &email) else {
            report.unusable += 1;
            continue;
        };
        let groups = groups_of.get(&normal_dn(&person.dn)).cloned().unwrap_or_default();
        let granted = crate::oidc::roles_for(&groups, &dir.mappings);
        let name = first(person, &dir.name_attribute).unwrap_or_default();
        let member = store::directory::Member {
            directory: &dir.id,
            subject: &subject,
            dn: &person.dn,
            email,
            name: &name,
            is_admin: granted.is_admin,
            units: &granted.units,
            locale: &services.config.locale,
            takes_passwords: dir.password_sign_in,
        };
        use store::directory::Synced;
        match store::directory::sync_member(&services.store, member).await? {
            Synced::Created => report.created += 1,
            Synced::Joined => report.joined += 1,
            Synced::Updated => report.updated += 1,
            Synced::Reactivated => report.reactivated += 1,
            Synced::Left => report.deactivated += 1,
            Synced::Skipped => report.skipped += 1,
            Synced::Unchanged => {}
        }
        seen.insert(subject);
    }
    // A search that finds no one while accounts follow the directory is a
    // misconfiguration or an outage, not everyone leaving at once.
    if seen.is_empty() && store::directory::present(&services.store.db, &dir.id).await? > 0 {
        return Err(Error::Directory(format!(
            "`{}` matched no one under {}; nobody was deactivated",
            dir.user_filter, dir.base_dn
        )));
    }
    report.deactivated += store::directory::mark_left(&services.store, &dir.id, &seen).await? as u32;
    let details = serde_json::to_value(&report).unwrap_or_default();
    store::audit::record(
        &services.store.db,
        store::audit::Entry {
            actor: &crate::domain::Actor::System,
            action: "directory.synced",
            target_kind: "directory",
            target_id: dir.id.clone(),
            unit_id: None,
            details,
        },
    )
    .await?;
    tracing::info!(directory = %dir.id, ?report, "directory synced");
    Ok(report)
}

/// The scheduled job: every directory, one after the other.
pub async fn sync_all(services: &Services) -> crate::store::job::Outcome {
    let mut failed = Vec::new();
    for dir in services.config.auth.ldap.iter().filter(|d| d.sync_every_minutes > 0) {
        if let Err(e) = sync(services, dir).await {
            tracing::warn!(directory = %dir.id, error = %e, "directory sync failed");
            failed.push(format!("{}: {e}", dir.id));
        }
    }
    if failed.is_empty() {
        crate::store::job::Outcome::Done
    } else {
        crate::store::job::Outcome::Retry(failed.join("; "))
    }
}

/// Whether `password` is the directory password of the entry `dn` (a bind
/// as it). An empty password is never tried: LDAP treats it as an
/// anonymous bind, which succeeds.
pub async fn verify_password(
    dir: &LdapDirectory,
    own_ca: Option<&std::path::Path>,
    dn: &str,
    password: &str,
) -> Result<bool, Error> {
    if password.is_empty() || dn.trim().is_empty() {
        return Ok(false);
    }
    let mut ldap = connect(dir, own_ca).await?;
    let bound = ldap.simple_bind(dn, password).await?;
    let _ = ldap.unbind().await;
    // 49: invalidCredentials. Anything else is the directory's trouble.
    match bound.rc {
        0 => Ok(true),
        49 => Ok(false),
        other => Err(Error::Directory(format!("bind answered {other}: {}", bound.text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_compare_without_case_or_spaces() {
        assert_eq!(normal_dn("uid=Ana, ou=People,DC=uni,dc=test"), normal_dn("uid=ana,ou=people,dc=uni,dc=test"));
        assert_ne!(normal_dn("uid=ana,ou=people"), normal_dn("uid=ana2,ou=people"));
    }
}
