//! The gateway's files are nobody else's business: the data directory and every directory in
//! it are created (and, from an older installation, tightened to) 0700, the database and
//! message bodies 0600, so no other local user can read a tenant file or copy the directory.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `path` (and its missing parents) readable by the gateway's user only, and tightens
/// it if it exists.
pub fn dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    fs::create_dir_all(path)
}

/// Options for a new file only the gateway's user can read or write.
pub fn file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// The same for tokio's files.
pub fn async_file_options() -> tokio::fs::OpenOptions {
    tokio::fs::OpenOptions::from(file_options())
}

/// Tightens an existing file to 0600 (nothing if it does not exist).
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match fs::set_permissions(path, fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// The SQLite database file: created 0600 before SQLite opens it (SQLite gives its `-wal` and
/// `-shm` files the database's permissions), and tightened if it exists.
pub fn sqlite_file(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            dir(parent)?;
        }
    }
    // Created private when missing, and only then opened here: closing a descriptor of a
    // database file this process already has open through SQLite would drop SQLite's POSIX
    // locks on it (they belong to the process, not the descriptor).
    if !path.exists() {
        file_options().create(true).append(true).open(path)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        tighten(&path.with_file_name(format!(
            "{}{suffix}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        )))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_older_installation_is_tightened() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("imax-data");
        fs::create_dir_all(&data).expect("dir");
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).expect("chmod");
        let db = data.join("imax.db");
        fs::write(&db, b"").expect("db");
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).expect("chmod");
        dir(&data).expect("tighten");
        sqlite_file(&db).expect("tighten");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&db), 0o600);
        sqlite_file(&data.join("new/fresh.db")).expect("create");
        assert_eq!(mode(&data.join("new")), 0o700);
        assert_eq!(mode(&data.join("new/fresh.db")), 0o600);
    }
}
