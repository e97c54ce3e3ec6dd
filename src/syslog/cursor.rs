//! The forwarder's durable cursor: the sequence number and hash of the last record the
//! collector took, in a file beside the checkpoints (`audit.syslog_cursor_file`). It is
//! written (to a new file, fsynced, renamed over the old one) only after a batch was sent, so
//! a crash in between sends that batch again (at least once; collectors tell a repeat by its
//! `seq`), never skips one.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where the cursor lives.
#[derive(Debug, Clone)]
pub struct Cursor {
    file: PathBuf,
}

/// A position in the chain: the last record forwarded (0: none yet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Position {
    pub seq: i64,
    pub hash: String,
}

impl Cursor {
    pub fn new(file: PathBuf) -> Cursor {
        Cursor { file }
    }

    /// The default file: `audit-syslog-cursor` beside the checkpoint file.
    pub fn beside(checkpoint_file: &Path) -> PathBuf {
        checkpoint_file.with_file_name("audit-syslog-cursor")
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The last position written; none yet: the chain's start.
    pub fn load(&self) -> io::Result<Position> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Position::default()),
            Err(e) => return Err(e),
        };
        let mut parts = text.split_whitespace();
        let seq = parts.next().and_then(|s| s.parse::<i64>().ok());
        match (seq, parts.next()) {
            (Some(seq), Some(hash)) if seq >= 0 => Ok(Position {
                seq,
                hash: hash.to_string(),
            }),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not \"SEQ HASH\"", self.file.display()),
            )),
        }
    }

    /// Records `p` durably: a new file, fsynced, renamed over the old, the directory fsynced.
    pub fn store(&self, p: &Position) -> io::Result<()> {
        let dir = match self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d.to_path_buf(),
            None => PathBuf::from("."),
        };
        let tmp = self.file.with_extension("new");
        let mut f = crate::ground::private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(format!("{} {}\n", p.seq, p.hash).as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.file)?;
        std::fs::File::open(&dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_and_starts_at_zero() {
        let dir = std::env::temp_dir().join(format!("imax-cursor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = Cursor::new(Cursor::beside(&dir.join("audit-checkpoints")));
        assert_eq!(c.load().unwrap(), Position::default());
        let p = Position {
            seq: 12,
            hash: "ab".into(),
        };
        c.store(&p).unwrap();
        assert_eq!(c.load().unwrap(), p);
        std::fs::write(c.file(), "garbage").unwrap();
        assert!(c.load().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
