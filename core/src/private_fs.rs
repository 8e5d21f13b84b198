//! Files only this service's account may read: the database, kept files,
//! the plugin compile cache and the search index hold people's data and
//! code this process will run, whatever the operator's umask.

use std::path::Path;

/// Creates `dir` (and its parents) and makes it readable by this account
/// only (0700 on Unix).
pub fn dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Makes an existing file readable by this account only (0600 on Unix);
/// absent is fine.
pub fn file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Creates a new file readable by this account only.
pub fn create(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn directories_and_files_are_private() {
        let base = std::env::temp_dir().join(format!("private-fs-{}", uuid::Uuid::new_v4().simple()));
        let dir = base.join("a/b");
        super::dir(&dir).expect("creates");
        let mode = std::fs::metadata(&dir).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let file = dir.join("f");
        drop(super::create(&file).expect("creates the file"));
        assert_eq!(std::fs::metadata(&file).expect("exists").permissions().mode() & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(base);
    }
}
