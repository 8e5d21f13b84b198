//! A real OpenLDAP server for the directory tests: Debian's `slapd`, run
//! on a free port with a throw-away database, seeded and changed by the
//! test as the institution's directory administrator would.

use anyhow::Context;
use ldap3::{LdapConnAsync, Mod};
use std::collections::HashSet;

pub const BASE: &str = "dc=uni,dc=test";
pub const PEOPLE: &str = "ou=people,dc=uni,dc=test";
pub const GROUPS: &str = "ou=groups,dc=uni,dc=test";
pub const ADMIN_DN: &str = "cn=admin,dc=uni,dc=test";
pub const ADMIN_PASSWORD: &str = "clave-del-directorio";

pub struct Slapd {
    child: std::process::Child,
    pub url: String,
    dir: std::path::PathBuf,
}

impl Slapd {
    pub async fn start() -> anyhow::Result<Slapd> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("ventanilla-slapd-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("db"))?;
        let conf = dir.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\n\
                 include /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\n\
                 modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
                 pidfile {dir}/slapd.pid\n\
                 database mdb\nmaxsize 10485760\n\
                 suffix \"{BASE}\"\nrootdn \"{ADMIN_DN}\"\nrootpw {ADMIN_PASSWORD}\n\
                 directory {dir}/db\n\
                 access to attrs=userPassword by anonymous auth by self write by * none\n\
                 access to * by * read\n",
                dir = dir.display()
            ),
        )?;
        let url = format!("ldap://127.0.0.1:{port}");
        let binary = if std::path::Path::new("/usr/sbin/slapd").exists() { "/usr/sbin/slapd" } else { "slapd" };
        let child = std::process::Command::new(binary)
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(format!("{url}/"))
            .arg("-d")
            .arg("0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot start slapd (apt-get install slapd)")?;
        let slapd = Slapd { child, url, dir };
        let up = crate::eventually(std::time::Duration::from_secs(15), || async {
            tokio::net::TcpStream::connect(slapd.url.trim_start_matches("ldap://")).await.ok()
        })
        .await;
        anyhow::ensure!(up.is_some(), "slapd did not listen on {}", slapd.url);
        let mut ldap = slapd.admin().await?;
        let add = |dn: &str, attrs: Vec<(&str, Vec<&str>)>| {
            let attrs: Vec<(String, HashSet<String>)> =
                attrs.into_iter().map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect())).collect();
            (dn.to_owned(), attrs)
        };
        for (dn, attrs) in [
            add(BASE, vec![("objectClass", vec!["dcObject", "organization"]), ("dc", vec!["uni"]), ("o", vec!["Uni"])]),
            add(PEOPLE, vec![("objectClass", vec!["organizationalUnit"]), ("ou", vec!["people"])]),
            add(GROUPS, vec![("objectClass", vec!["organizationalUnit"]), ("ou", vec!["groups"])]),
        ] {
            ldap.add(&dn, attrs).await?.success()?;
        }
        Ok(slapd)
    }

    /// A connection bound as the directory's administrator.
    pub async fn admin(&self) -> anyhow::Result<ldap3::Ldap> {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url).await?;
        ldap3::drive!(conn);
        ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD).await?.success()?;
        Ok(ldap)
    }

    pub fn person_dn(uid: &str) -> String {
        format!("uid={uid},{PEOPLE}")
    }

    pub fn group_dn(cn: &str) -> String {
        format!("cn={cn},{GROUPS}")
    }

    pub async fn add_person(&self, uid: &str, name: &str, mail: &str, password: &str) -> anyhow::Result<()> {
        let attrs: Vec<(&str, HashSet<&str>)> = vec![
            ("objectClass", ["inetOrgPerson"].into()),
            ("uid", [uid].into()),
            ("cn", [name].into()),
            ("sn", [name.rsplit(' ').next().unwrap_or(name)].into()),
            ("mail", [mail].into()),
            ("userPassword", [password].into()),
        ];
        self.admin().await?.add(&Self::person_dn(uid), attrs).await?.success()?;
        Ok(())
    }

    pub async fn remove(&self, dn: &str) -> anyhow::Result<()> {
        self.admin().await?.delete(dn).await?.success()?;
        Ok(())
    }

    /// Makes or replaces the group `cn` with these people (by uid). A
    /// groupOfNames needs a member: an empty one lists its own DN.
    pub async fn set_group(&self, cn: &str, uids: &[&str]) -> anyhow::Result<()> {
        let dn = Self::group_dn(cn);
        let mut members: HashSet<String> = uids.iter().map(|u| Self::person_dn(u)).collect();
        if members.is_empty() {
            members.insert(dn.clone());
        }
        let mut ldap = self.admin().await?;
        let exists = ldap.search(&dn, ldap3::Scope::Base, "(objectClass=*)", vec!["cn"]).await?.success().is_ok();
        if exists {
            ldap.modify(&dn, vec![Mod::Replace("member".to_owned(), members)]).await?.success()?;
        } else {
            let attrs: Vec<(String, HashSet<String>)> = vec![
                ("objectClass".into(), ["groupOfNames".to_owned()].into()),
                ("cn".into(), [cn.to_owned()].into()),
                ("member".into(), members),
            ];
            ldap.add(&dn, attrs).await?.success()?;
        }
        Ok(())
    }

    /// The `[[auth.ldap]]` entry for this server.
    pub fn config(
        &self,
        id: &str,
        mappings: Vec<ventanilla::config::GroupMapping>,
    ) -> ventanilla::config::LdapDirectory {
        ventanilla::config::LdapDirectory {
            id: id.into(),
            url: self.url.clone(),
            starttls: false,
            bind_dn: ADMIN_DN.into(),
            bind_password: Some(ventanilla::config::Secret::new(ADMIN_PASSWORD)),
            base_dn: PEOPLE.into(),
            user_filter: "(&(objectClass=inetOrgPerson)(mail=*))".into(),
            email_attribute: "mail".into(),
            name_attribute: "cn".into(),
            id_attribute: "entryUUID".into(),
            group_base_dn: Some(GROUPS.into()),
            group_filter: "(objectClass=groupOfNames)".into(),
            member_attribute: "member".into(),
            group_name_attribute: "cn".into(),
            sync_every_minutes: 0,
            password_sign_in: true,
            mappings,
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
