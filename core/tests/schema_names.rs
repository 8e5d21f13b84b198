//! utoipa names an OpenAPI schema after its Rust type alone: two types of
//! one name in different modules would silently share one schema, and the
//! document would describe one of them wrongly (a web chat session's shape
//! for a sign-in session's list, once). This fails on any such pair.

use std::collections::BTreeMap;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source tree").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_schema_has_a_name_of_its_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&root, &mut files);
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable file");
        let mut deriving = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                deriving = true;
                continue;
            }
            if !deriving || line.starts_with("#[") || line.starts_with("///") {
                continue;
            }
            deriving = false;
            let name =
                ["pub struct ", "pub enum ", "struct ", "enum "].iter().find_map(|kw| line.strip_prefix(kw)).map(
                    |rest| rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or_default().to_owned(),
                );
            if let Some(name) = name {
                let place = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
                seen.entry(name).or_default().push(place);
            }
        }
    }
    let clashes: Vec<_> = seen.iter().filter(|(_, places)| places.len() > 1).collect();
    assert!(clashes.is_empty(), "schemas of one name in several places: {clashes:?}");
    assert!(seen.len() > 100, "found only {} schemas: is the scan still right?", seen.len());
}
