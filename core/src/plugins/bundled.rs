//! Bundled plugins: at start-up every `<dir>/<name>/plugin.toml` with its
//! `plugin.wasm` is stored (if this version is new) and installed (if no
//! install of it exists yet), or an existing install is moved up to it.
//! A new install gets what its manifest asks for and starts enabled when its
//! settings schema accepts `{}`; otherwise it waits, disabled, for an admin.

use std::path::Path;

use anyhow::Context;

use super::manifest::Manifest;
use crate::domain::Actor;
use crate::store::{self, plugin_install::InstallPatch};

/// What start-up did with one bundled plugin.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Installed {
        plugin_id: String,
        version: String,
        enabled: bool,
    },
    Upgraded {
        plugin_id: String,
        from: String,
        to: String,
    },
    Current {
        plugin_id: String,
    },
    /// A newer version is bundled, but the install's settings do not fit it:
    /// it stays where it is until an admin upgrades it.
    Kept {
        plugin_id: String,
        version: String,
        reason: String,
    },
}

pub async fn install_all(store: &store::Store, host: &super::PluginHost, dir: &Path) -> anyhow::Result<Vec<Done>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read bundled plugins in {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("plugin.toml").is_file() && p.join("plugin.wasm").is_file())
        .collect();
    entries.sort();
    let mut done = vec![];
    for path in entries {
        done.push(install_one(store, host, &path).await.with_context(|| format!("bundled plugin {}", path.display()))?);
    }
    Ok(done)
}

async fn install_one(db: &store::Store, host: &super::PluginHost, path: &Path) -> anyhow::Result<Done> {
    let text = std::fs::read_to_string(path.join("plugin.toml"))?;
    let manifest = Manifest::parse(&text).map_err(|e| anyhow::anyhow!("plugin.toml: {e}"))?;
    let known = match store::plugin::versions(&db.db, &manifest.id).await {
        Ok(versions) => versions.iter().any(|v| v.version == manifest.version),
        Err(store::Error::NotFound(_)) => false,
        Err(e) => return Err(e.into()),
    };
    if !known {
        let wasm = std::fs::read(path.join("plugin.wasm"))?;
        let host = host.clone();
        let world = manifest.world;
        let (hash, wasm) = tokio::task::spawn_blocking(move || {
            let compiled = host.compile(&wasm)?;
            host.prepare(&compiled, world)?;
            Ok::<_, super::Error>((compiled.hash, wasm))
        })
        .await??;
        let new = store::plugin::NewPluginVersion {
            plugin_id: manifest.id.clone(),
            version: manifest.version.clone(),
            name: manifest.name.clone(),
            world: manifest.world.as_str().to_owned(),
            wit: manifest.wit.clone(),
            description: manifest.description.clone(),
            manifest: text,
            wasm_hash: hash,
            wasm,
        };
        store::plugin::create(db, &Actor::System, new).await?;
    }
    let installs = store::plugin_install::list(&db.db).await?;
    if let Some(install) = installs.iter().find(|i| i.plugin_id == manifest.id) {
        if install.version == manifest.version || !newer(&manifest.version, &install.version) {
            return Ok(Done::Current { plugin_id: manifest.id });
        }
        // Settings that never fit (an install nobody configured yet) do not
        // hold an upgrade back; settings that fit the old version but not the
        // new one do.
        let fits_new = super::settings::validate(&manifest.settings_schema, &install.settings).is_ok();
        let old_text = store::plugin::manifest(&db.db, &install.plugin_id, &install.version).await?;
        let fit_old = Manifest::parse(&old_text)
            .is_ok_and(|old| super::settings::validate(&old.settings_schema, &install.settings).is_ok());
        if !fits_new && fit_old {
            let reason = format!("its settings do not fit {}", manifest.version);
            tracing::warn!(install = %install.id, version = %install.version, reason, "bundled upgrade held back");
            return Ok(Done::Kept { plugin_id: manifest.id, version: install.version.clone(), reason });
        }
        let patch = InstallPatch { version: Some(manifest.version.clone()), ..Default::default() };
        store::plugin_install::update(db, &Actor::System, install.id, patch).await?;
        return Ok(Done::Upgraded { plugin_id: manifest.id, from: install.version.clone(), to: manifest.version });
    }
    let settings = serde_json::json!({});
    let enabled = super::settings::validate(&manifest.settings_schema, &settings).is_ok();
    let new = store::plugin_install::NewInstall {
        name: manifest.name.clone(),
        plugin_id: manifest.id.clone(),
        version: manifest.version.clone(),
        settings,
        granted: manifest.capabilities.clone(),
        world: manifest.world,
        units: vec![],
        needs_secrets: vec![],
    };
    let install = store::plugin_install::create(db, &Actor::System, new).await?;
    if !enabled {
        let patch = InstallPatch { enabled: Some(false), ..Default::default() };
        store::plugin_install::update(db, &Actor::System, install.id, patch).await?;
    }
    Ok(Done::Installed { plugin_id: manifest.id, version: manifest.version, enabled })
}

/// Whether version `a` is newer than `b` (both `x.y.z`).
fn newer(a: &str, b: &str) -> bool {
    let parse = |v: &str| v.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parse(a) > parse(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_compare_numerically() {
        assert!(super::newer("1.10.0", "1.9.3"));
        assert!(!super::newer("1.0.0", "1.0.0"));
        assert!(!super::newer("0.9.0", "1.0.0"));
    }
}
