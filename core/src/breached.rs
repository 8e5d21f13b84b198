//! Passwords known from breaches, checked against a local list (OWASP ASVS
//! 2.1.7) without sending anything anywhere: the file "Have I Been Pwned"
//! publishes (`pwned-passwords-sha1-ordered-by-hash`: one `SHA1HEX:COUNT`
//! line per password, sorted by hash, tens of gigabytes) or any file of the
//! same form. A password is looked up by binary search over the file's
//! bytes: about 35 reads of one line each, whatever its size.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

/// The list, opened per lookup (lookups are rare: account changes).
#[derive(Debug, Clone)]
pub struct BreachedList {
    path: PathBuf,
}

impl BreachedList {
    /// The list at `path`; an error when it cannot be read or is not of
    /// that form (checked on its first line, at start).
    pub fn open(path: &Path) -> std::io::Result<BreachedList> {
        let mut first = String::new();
        BufReader::new(std::fs::File::open(path)?).read_line(&mut first)?;
        if hash_of_line(&first).is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a list of `SHA1HEX:COUNT` lines sorted by hash",
            ));
        }
        Ok(BreachedList { path: path.to_owned() })
    }

    /// Whether `password` is on the list.
    pub fn contains(&self, password: &str) -> std::io::Result<bool> {
        let wanted = hex::encode_upper(Sha1::digest(password.as_bytes()));
        let mut file = std::fs::File::open(&self.path)?;
        let len = file.metadata()?.len();
        // Invariant: only lines starting in [low, high) may still match;
        // `low` is always where a line starts.
        let (mut low, mut high) = (0u64, len);
        while low < high {
            let middle = low + (high - low) / 2;
            let line = line_from(&mut file, middle)?.filter(|(start, _)| *start < high);
            let Some((start, line)) = line else {
                // No line starts in [middle, high).
                high = middle;
                continue;
            };
            let Some(hash) = hash_of_line(&line) else {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a line is not `SHA1HEX:COUNT`"));
            };
            match hash.as_str().cmp(wanted.as_str()) {
                std::cmp::Ordering::Equal => return Ok(true),
                // This line and every one before it sort below.
                std::cmp::Ordering::Less => low = start + line.len() as u64,
                // This line and every one after it sort above.
                std::cmp::Ordering::Greater => high = start,
            }
        }
        Ok(false)
    }
}

/// The first line starting at or after `at` (lines start after a `\n`, or
/// at 0), with where it starts; `None` past the last one.
fn line_from(file: &mut std::fs::File, at: u64) -> std::io::Result<Option<(u64, String)>> {
    file.seek(SeekFrom::Start(at.saturating_sub(1)))?;
    let mut reader = BufReader::with_capacity(256, file.by_ref());
    let mut start = at;
    if at > 0 {
        // The byte before `at` says whether a line starts at `at`.
        let mut skipped = Vec::new();
        let n = reader.read_until(b'\n', &mut skipped)?;
        start = at - 1 + n as u64;
        if n == 0 {
            return Ok(None);
        }
    }
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some((start, line)))
}

/// `ABC123...` of `ABC123...:42\r\n`, upper-cased as the file should be.
fn hash_of_line(line: &str) -> Option<String> {
    let hash = line.trim_end().split(':').next()?;
    (hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ventanilla-breached-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        dir
    }

    fn list(passwords: &[&str], crlf: bool) -> (PathBuf, BreachedList) {
        let dir = scratch();
        let mut hashes: Vec<String> = passwords.iter().map(|p| hex::encode_upper(Sha1::digest(p.as_bytes()))).collect();
        hashes.sort();
        let end = if crlf { "\r\n" } else { "\n" };
        let text: String = hashes.iter().enumerate().map(|(i, h)| format!("{h}:{}{end}", i * 7 + 1)).collect();
        let path = dir.join("pwned.txt");
        std::fs::write(&path, text).expect("the list");
        let list = BreachedList::open(&path).expect("a list");
        (dir, list)
    }

    #[test]
    fn every_listed_password_is_found_and_no_other() {
        let listed: Vec<String> = (0..500).map(|i| format!("clave filtrada número {i}")).collect();
        let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
        for crlf in [false, true] {
            let (dir, list) = list(&refs, crlf);
            for password in &refs {
                assert!(list.contains(password).expect("readable"), "{password} (crlf {crlf})");
            }
            for i in 0..500 {
                let other = format!("clave que nadie filtró {i}");
                assert!(!list.contains(&other).expect("readable"), "{other}");
            }
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn a_list_of_one_and_a_file_of_another_form() {
        let (one, list) = list(&["una sola clave filtrada"], false);
        assert!(list.contains("una sola clave filtrada").expect("readable"));
        assert!(!list.contains("otra clave").expect("readable"));
        let _ = std::fs::remove_dir_all(one);
        let dir = scratch();
        let path = dir.join("words.txt");
        std::fs::write(&path, "password\n123456\n").expect("a file");
        assert!(BreachedList::open(&path).is_err());
        assert!(BreachedList::open(&dir.join("missing.txt")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
