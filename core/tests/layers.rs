//! Imports point down. Each top-level module of the `ventanilla` crate has a
//! layer; a module may use its own layer and the ones below, never one
//! above. This test reads every source file's `crate::…` paths and fails
//! naming the file that reaches up. (The domain is a crate of its own below
//! all of these, so the compiler already keeps it free of them.)
//!
//! The layers, lowest first, as docs/ARCHITECTURE.md draws them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const LAYERS: &[&[&str]] = &[
    // Leaves: no other module of the crate but each other.
    &[
        "config",
        "i18n",
        "markdown",
        "private_fs",
        "auth",
        "secrets",
        "spreadsheet",
        "system_mail",
        "tls",
        "two_factor",
        "breached",
        "oidc",
    ],
    &["store"],
    &["attachments", "search", "live"],
    &["plugins"],
    // What background work is given: never the HTTP state.
    &["services"],
    &["channels", "campaigns", "routing", "automation", "privacy", "reports", "subscriptions", "export", "directory"],
    &["jobs"],
    // HTTP.
    &["api", "help", "console"],
    // Wiring and tools.
    &["app", "demo"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory is readable") {
        let path = entry.expect("directory entry is readable").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level modules a source file names through `crate::`, outside
/// comments and its unit tests.
fn referenced(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    let code: String = code.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
    let mut found = BTreeSet::new();
    let ident = |rest: &str| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b, c::{..}}`: the first name of each item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphanumeric() || c == '_') => {
                        found.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found
}

#[test]
fn no_module_reaches_up_a_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    sources(&root, &mut files);
    let mut violations = vec![];
    let mut unplaced = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under src");
        let top = relative.iter().next().and_then(|s| s.to_str()).unwrap_or_default().trim_end_matches(".rs");
        if matches!(top, "lib" | "main") {
            continue;
        }
        let Some(mine) = layer_of(top) else {
            unplaced.insert(top.to_owned());
            continue;
        };
        let text = std::fs::read_to_string(file).expect("source file is readable");
        for name in referenced(&text) {
            if let Some(theirs) = layer_of(&name)
                && theirs > mine
            {
                violations.push(format!("{} uses crate::{name} (a higher layer)", relative.display()));
            }
        }
    }
    assert!(unplaced.is_empty(), "modules without a layer (add them to LAYERS): {unplaced:?}");
    assert!(violations.is_empty(), "imports that point up:\n{}", violations.join("\n"));
}

#[test]
fn the_reader_finds_grouped_and_nested_paths() {
    let text = "use crate::{api::X, store::{self, job}};\nfn f() { crate::jobs::run(); }\n// crate::app::nothing\n";
    let found: Vec<_> = referenced(text).into_iter().collect();
    assert_eq!(found, ["api", "jobs", "store"]);
}
