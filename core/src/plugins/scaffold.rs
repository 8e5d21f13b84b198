//! `ventanilla plugin new WORLD NAME`: a new plugin crate that builds and
//! runs from its first minute — the plugin, a manifest with every key
//! commented, sample inputs, a test that runs them through the real host
//! (`ventanilla plugin run`), and a copy of the SDK it was made with, so
//! the folder needs nothing but Rust and this binary.

use std::path::{Path, PathBuf};

use super::manifest::World;

/// Files of one world's template: (path in the new crate, content).
fn world_files(world: World) -> Vec<(&'static str, &'static str)> {
    match world {
        World::Connector => vec![
            ("src/lib.rs", include_str!("templates/connector/lib.rs.in")),
            ("plugin.toml", include_str!("templates/connector/plugin.toml")),
            ("req.json", include_str!("templates/connector/req.json")),
            ("message.json", include_str!("templates/connector/message.json")),
            ("replies.json", include_str!("templates/connector/replies.json")),
        ],
        World::Bot => vec![
            ("src/lib.rs", include_str!("templates/bot/lib.rs.in")),
            ("plugin.toml", include_str!("templates/bot/plugin.toml")),
            ("event.json", include_str!("templates/bot/event.json")),
        ],
        World::Protocol => vec![
            ("src/lib.rs", include_str!("templates/protocol/lib.rs.in")),
            ("plugin.toml", include_str!("templates/protocol/plugin.toml")),
            ("event.json", include_str!("templates/protocol/event.json")),
        ],
    }
}

fn world_tests(world: World) -> &'static str {
    match world {
        World::Connector => include_str!("templates/connector/tests.rs.in"),
        World::Bot => include_str!("templates/bot/tests.rs.in"),
        World::Protocol => include_str!("templates/protocol/tests.rs.in"),
    }
}

/// The sample files and the commands that run them, for the README.
fn world_usage(world: World, krate: &str) -> (&'static str, String) {
    let wasm = format!("target/wasm32-wasip2/release/{krate}.wasm");
    match world {
        World::Connector => (
            "`req.json`, `message.json`, `replies.json`: a signed webhook, a message to send and the provider's answer.",
            format!(
                "ventanilla plugin run {wasm} --request req.json --secret webhook_secret=dev-secret\n\
                 ventanilla plugin run {wasm} --send message.json --http-replies replies.json --secret api_token=dev-token\n\
                 ventanilla plugin run {wasm} --locate-media https://api.example.com/files/1.jpg"
            ),
        ),
        World::Bot | World::Protocol => {
            ("`event.json`: an event to run it on.", format!("ventanilla plugin run {wasm} --event event.json"))
        }
    }
}

/// The SDK, as this binary was built with it.
const SDK: [(&str, &str); 3] = [
    ("ventanilla-sdk/src/lib.rs", include_str!("../../../sdk/src/lib.rs")),
    ("ventanilla-sdk/src/text.rs", include_str!("../../../sdk/src/text.rs")),
    ("ventanilla-sdk/wit/plugin.wit", include_str!("../../../sdk/wit/plugin.wit")),
];

/// Why a plugin could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("`{0}` is not a plugin name: use 1 to 64 lowercase letters, digits and dashes, e.g. `acme-chat`")]
    Name(String),
    #[error("{0} already exists: choose another name or folder")]
    Exists(PathBuf),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// Writes a new plugin crate for `world` named `id` into `dir/id`; returns
/// the folder.
pub fn create(world: World, id: &str, dir: &Path) -> Result<PathBuf, ScaffoldError> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-');
    if !valid {
        return Err(ScaffoldError::Name(id.to_owned()));
    }
    let root = dir.join(id);
    if root.exists() {
        return Err(ScaffoldError::Exists(root));
    }
    let krate = id.replace('-', "_");
    let name = title(id);
    let (samples, run) = world_usage(world, &krate);
    let fill = |text: &str| {
        text.replace("{{id}}", id)
            .replace("{{crate}}", &krate)
            .replace("{{name}}", &name)
            .replace("{{world}}", world.as_str())
            .replace("{{sdk_version}}", env!("CARGO_PKG_VERSION"))
            .replace("{{samples}}", samples)
            .replace("{{run}}", &run)
    };
    let mut files: Vec<(String, String)> =
        world_files(world).into_iter().map(|(path, text)| (path.to_owned(), fill(text))).collect();
    files.push(("Cargo.toml".into(), fill(include_str!("templates/Cargo.toml.in"))));
    files.push(("README.md".into(), fill(include_str!("templates/README.md.in"))));
    files.push(("ventanilla-sdk/Cargo.toml".into(), fill(include_str!("templates/sdk-Cargo.toml.in"))));
    let tests = include_str!("templates/host.rs.in").replace("{{tests}}", world_tests(world));
    files.push(("tests/host.rs".into(), fill(&tests)));
    files.push((".gitignore".into(), "/target\n".into()));
    files.extend(SDK.iter().map(|(path, text)| ((*path).to_owned(), (*text).to_owned())));
    for (path, text) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ScaffoldError::Write(parent.to_owned(), e))?;
        }
        std::fs::write(&path, text).map_err(|e| ScaffoldError::Write(path.clone(), e))?;
    }
    Ok(root)
}

/// `acme-chat` as `Acme Chat`.
fn title(id: &str) -> String {
    id.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_titled() {
        let dir = std::env::temp_dir();
        assert!(matches!(create(World::Bot, "Mi Bot", &dir), Err(ScaffoldError::Name(_))));
        assert!(matches!(create(World::Bot, "-x", &dir), Err(ScaffoldError::Name(_))));
        assert_eq!(title("acme-chat"), "Acme Chat");
    }

    #[test]
    fn the_sdk_copy_depends_on_what_the_sdk_does() {
        let sdk = include_str!("../../../sdk/Cargo.toml");
        let copy = include_str!("templates/sdk-Cargo.toml.in");
        for line in sdk.lines().filter(|l| l.starts_with("wit-bindgen") || l.starts_with("serde_json")) {
            assert!(copy.contains(line), "sdk/Cargo.toml has `{line}`; templates/sdk-Cargo.toml.in must too");
        }
        for feature in ["bot", "protocol", "connector", "mail-connector"] {
            assert!(copy.contains(&format!("{feature} = []")), "{feature}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let dir = std::env::temp_dir().join(format!("scaffold-{}", uuid::Uuid::new_v4().simple()));
        for world in [World::Bot, World::Protocol, World::Connector] {
            let root = create(world, &format!("acme-{}", world.as_str()), &dir).unwrap_or_else(|e| panic!("{e}"));
            for path in ["Cargo.toml", "plugin.toml", "README.md", "src/lib.rs", "tests/host.rs"] {
                let text = std::fs::read_to_string(root.join(path)).unwrap_or_default();
                assert!(!text.is_empty() && !text.contains("{{"), "{path} of {}: {text}", world.as_str());
            }
            let manifest = std::fs::read_to_string(root.join("plugin.toml")).unwrap_or_default();
            let parsed = super::super::manifest::Manifest::parse(&manifest).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.world, world);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
