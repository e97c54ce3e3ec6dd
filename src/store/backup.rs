//! `imax admin backup` and `imax admin restore`: a consistent copy of a SQLite gateway taken
//! while it serves, and its return into an empty data directory.
//!
//! What a copy holds, and why in this order:
//!
//! 1. the audit checkpoints and key, **first**: every checkpoint signed so far names a record
//!    the database copy (taken after) holds, so `imax audit verify` on a restored copy finds no
//!    "missing tail";
//! 2. the TLS files (`<data_dir>/tls`), so a restored node serves the same certificate;
//! 3. the database by SQLite's `VACUUM INTO`: one transaction's view, compact, while writers
//!    go on;
//! 4. the bodies the copied rows name. Bodies never change once sealed (a new body gets a new
//!    random key) and rows name only sealed bodies, so every body of the copy exists, unless the
//!    retention purge (R26) removed it after step 3: such a row is taken out of the copy too
//!    (the message had reached its end of life) and counted;
//! 5. a manifest (`imax-backup.toml`), then everything is fsynced.
//!
//! Restore copies the set into an empty data directory (and the audit files to the paths the
//! configuration names), then opens the store, which migrates an older schema, and runs
//! `imax admin check` over it. On PostgreSQL the database holds the bodies too: back up with
//! `pg_dump` (docs/operations.md, "PostgreSQL").

use crate::ground::private;
use crate::store::{self, Engine, Store};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

const MANIFEST: &str = "imax-backup.toml";
const DATABASE: &str = "imax.db";
const BODIES: &str = "messages/bodies";
const TLS: &str = "tls";
const AUDIT_KEY: &str = "audit.key";
const AUDIT_CHECKPOINTS: &str = "audit-checkpoints";
const RECEIPT_KEYS: &str = "receipt-keys";
const RECEIPT_CHECKPOINTS: &str = "receipt-checkpoints";

/// Where a gateway keeps what a backup holds besides the database (from its configuration).
#[derive(Debug, Clone)]
pub struct Files {
    pub data_dir: PathBuf,
    pub database_url: String,
    /// The TLS certificate and key directory (`<data_dir>/tls`).
    pub tls_dir: PathBuf,
    /// The audit key's file; `None` when the key is given inline (then it is not copied).
    pub audit_key: Option<PathBuf>,
    pub audit_checkpoints: PathBuf,
    /// The receipt keys' file (issue 31: without it, receipts can no longer be signed with the
    /// published keys); `None` when the key is given inline.
    pub receipt_keys: Option<PathBuf>,
    /// The checkpoints signed with the receipt key (receipts' inclusion proofs).
    pub receipt_checkpoints: PathBuf,
}

/// What a backup wrote, also kept as its manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub created_at: String,
    pub gateway_version: String,
    pub schema_version: i64,
    pub messages: u64,
    pub bytes: u64,
    /// Rows left out because the retention purge removed their bodies during the backup.
    pub purged_meanwhile: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("on PostgreSQL the database holds the message bodies too: back it up with pg_dump (docs/operations.md)")]
    Postgres,
    #[error("{0} is not empty: back up or restore into an empty or new directory")]
    NotEmpty(PathBuf),
    #[error("{0} holds no imax-gateway backup ({MANIFEST} is missing)")]
    NoManifest(PathBuf),
    #[error("the backup's schema version {0} is newer than this gateway's {1}: restore with the gateway that made it")]
    NewerSchema(i64, i64),
    #[error("message body {0} is missing from the live store although its row is there: run imax admin check")]
    MissingBody(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("the database copy: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("the manifest: {0}")]
    Manifest(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// Copies a serving (or stopped) SQLite gateway into `dir`, which must be empty or new.
pub async fn backup(
    store: &Store,
    files_of: &Files,
    dir: &Path,
    now: OffsetDateTime,
) -> Result<Manifest, BackupError> {
    let store::BodyStore::Files(files) = &store.bodies else {
        return Err(BackupError::Postgres);
    };
    require_empty(dir)?;
    private::dir(dir).map_err(io_err(format!("creating {}", dir.display())))?;

    // 1. Audit checkpoints and key, before the database (see the module's documentation).
    copy_whole_lines(&files_of.audit_checkpoints, &dir.join(AUDIT_CHECKPOINTS))?;
    if let Some(key) = &files_of.audit_key {
        copy_if_present(key, &dir.join(AUDIT_KEY))?;
    }
    copy_whole_lines(
        &files_of.receipt_checkpoints,
        &dir.join(RECEIPT_CHECKPOINTS),
    )?;
    if let Some(keys) = &files_of.receipt_keys {
        copy_whole_lines(keys, &dir.join(RECEIPT_KEYS))?;
    }
    // 2. TLS files.
    copy_tree(&files_of.tls_dir, &dir.join(TLS))?;

    // 3. The database, as of one transaction.
    let db_copy = dir.join(DATABASE);
    private::sqlite_file(&db_copy).map_err(io_err("creating the database copy"))?;
    sqlx::query("VACUUM INTO $1")
        .bind(db_copy.to_string_lossy().to_string())
        .execute(&store.pool)
        .await?;
    private::tighten(&db_copy).map_err(io_err("the database copy's permissions"))?;

    // 4. The bodies its rows name.
    let mut copy =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", db_copy.display())).await?;
    let copied = copy_bodies(store, files, &mut copy, &dir.join(BODIES)).await?;
    let schema_version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            .fetch_one(&mut copy)
            .await?;
    copy.close().await?;

    // 5. The manifest, then everything durable.
    let manifest = Manifest {
        created_at: crate::clock::rfc3339(now),
        gateway_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version,
        messages: copied.messages,
        bytes: copied.bytes,
        purged_meanwhile: copied.purged,
    };
    let text = toml::to_string(&manifest).map_err(|e| BackupError::Manifest(e.to_string()))?;
    write_private(&dir.join(MANIFEST), text.as_bytes())?;
    sync_tree(dir)?;
    Ok(manifest)
}

/// What [`copy_bodies`] copied.
struct Copied {
    messages: u64,
    bytes: u64,
    /// Rows whose body the gateway purged while the backup ran: left out of the copy.
    purged: u64,
}

/// The bodies the database copy's rows name, into `bodies`. Small bodies are in the copy
/// already. A body gone since the copy was taken is a message purged meanwhile: its row is
/// deleted from the copy; a body missing for a message still there is an error.
async fn copy_bodies(
    store: &Store,
    files: &store::bodies::FileBodies,
    copy: &mut sqlx::SqliteConnection,
    bodies: &Path,
) -> Result<Copied, BackupError> {
    // Small bodies are in the database copy already; the rest are files to copy.
    let rows: Vec<(i64, String, i64, bool)> = sqlx::query_as(
        "SELECT m.id, m.body_key, m.size_bytes,
                EXISTS (SELECT 1 FROM body_chunks c WHERE c.body_key = m.body_key)
           FROM messages m ORDER BY m.id",
    )
    .fetch_all(&mut *copy)
    .await?;
    let (mut messages, mut bytes, mut purged) = (0u64, 0u64, 0u64);
    for (id, key, size, in_database) in rows {
        if in_database {
            messages += 1;
            bytes += size.max(0) as u64;
            continue;
        }
        // A key the gateway did not make is corruption, never a path to copy from.
        let from = files.path(&key).map_err(io_err("a message's body key"))?;
        let to = bodies.join(&key[..2]).join(&key);
        private::dir(to.parent().unwrap_or(bodies)).map_err(io_err("a body directory"))?;
        match copy_file(&from, &to) {
            Ok(()) => {
                messages += 1;
                bytes += size.max(0) as u64;
            }
            Err(BackupError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                let live: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM messages WHERE body_key = $1")
                        .bind(&key)
                        .fetch_optional(&store.pool)
                        .await?;
                if live.is_some() {
                    return Err(BackupError::MissingBody(key));
                }
                sqlx::query("DELETE FROM messages WHERE id = ?")
                    .bind(id)
                    .execute(&mut *copy)
                    .await?;
                purged += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Copied {
        messages,
        bytes,
        purged,
    })
}

/// Copies the backup in `dir` into an empty data directory and checks the result.
pub async fn restore(
    files_of: &Files,
    dir: &Path,
) -> Result<(Manifest, store::check::CheckReport), BackupError> {
    let url = files_of.database_url.clone();
    if Engine::of_url(&url) != Some(Engine::Sqlite) {
        return Err(BackupError::Postgres);
    }
    let text = fs::read_to_string(dir.join(MANIFEST))
        .map_err(|_| BackupError::NoManifest(dir.to_path_buf()))?;
    let manifest: Manifest =
        toml::from_str(&text).map_err(|e| BackupError::Manifest(e.to_string()))?;
    if manifest.schema_version > store::SCHEMA_VERSION {
        return Err(BackupError::NewerSchema(
            manifest.schema_version,
            store::SCHEMA_VERSION,
        ));
    }
    require_empty(&files_of.data_dir)?;
    let db = store::sqlite_path(&url)
        .map(PathBuf::from)
        .unwrap_or_else(|| files_of.data_dir.join(DATABASE));
    if db.exists() {
        return Err(BackupError::NotEmpty(db));
    }
    private::dir(&files_of.data_dir).map_err(io_err("creating the data directory"))?;
    if let Some(parent) = db.parent() {
        private::dir(parent).map_err(io_err("the database's directory"))?;
    }
    copy_file(&dir.join(DATABASE), &db)?;
    copy_tree(&dir.join(BODIES), &files_of.data_dir.join(BODIES))?;
    copy_tree(&dir.join(TLS), &files_of.tls_dir)?;
    copy_if_present(&dir.join(AUDIT_CHECKPOINTS), &files_of.audit_checkpoints)?;
    if let Some(key) = &files_of.audit_key {
        copy_if_present(&dir.join(AUDIT_KEY), key)?;
    }
    copy_if_present(
        &dir.join(RECEIPT_CHECKPOINTS),
        &files_of.receipt_checkpoints,
    )?;
    if let Some(keys) = &files_of.receipt_keys {
        copy_if_present(&dir.join(RECEIPT_KEYS), keys)?;
    }
    sync_tree(&files_of.data_dir)?;

    let store = Store::open(&url, &files_of.data_dir).await?;
    let report = store.check().await;
    store.close().await;
    Ok((manifest, report?))
}

/// A directory that does not exist or holds nothing.
fn require_empty(dir: &Path) -> Result<(), BackupError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(BackupError::NotEmpty(dir.to_path_buf())),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(format!("reading {}", dir.display()))(e)),
    }
}

/// Copies one file into a new 0600 file (never over an existing one).
fn copy_file(from: &Path, to: &Path) -> Result<(), BackupError> {
    let what = || format!("copying {} to {}", from.display(), to.display());
    let mut src = fs::File::open(from).map_err(io_err(what()))?;
    let mut dst = private::file_options()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(io_err(what()))?;
    io::copy(&mut src, &mut dst).map_err(io_err(what()))?;
    Ok(())
}

/// The checkpoint file up to its last complete line (a node may be appending one).
fn copy_whole_lines(from: &Path, to: &Path) -> Result<(), BackupError> {
    let bytes = match fs::read(from) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(format!("reading {}", from.display()))(e)),
    };
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    write_private(to, &bytes[..whole])
}

fn copy_if_present(from: &Path, to: &Path) -> Result<(), BackupError> {
    if !from.exists() {
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        private::dir(parent).map_err(io_err(format!("creating {}", parent.display())))?;
    }
    copy_file(from, to)
}

/// Copies a directory's files and subdirectories (nothing if it does not exist).
fn copy_tree(from: &Path, to: &Path) -> Result<(), BackupError> {
    if !from.is_dir() {
        return Ok(());
    }
    private::dir(to).map_err(io_err(format!("creating {}", to.display())))?;
    for entry in fs::read_dir(from).map_err(io_err(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io_err(format!("reading {}", from.display())))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            copy_file(&path, &target)?;
        }
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let mut f = private::file_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err(format!("writing {}", path.display())))?;
    f.write_all(bytes)
        .map_err(io_err(format!("writing {}", path.display())))
}

/// Fsyncs every file and directory under `dir`, so a copy reported made survives a power cut.
fn sync_tree(dir: &Path) -> Result<(), BackupError> {
    let what = || format!("syncing {}", dir.display());
    for entry in fs::read_dir(dir).map_err(io_err(what()))? {
        let path = entry.map_err(io_err(what()))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io_err(what()))?;
        }
    }
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(what()))
}
