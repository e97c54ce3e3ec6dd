//! Where each published checkpoint stands in `<data_dir>/receipt-checkpoints`, so that a
//! receipt's inclusion proof reads one line of the file, not the whole of it (a checkpoint is
//! written every `audit.checkpoint_secs`: the file grows by about half a million lines a year
//! at one a minute).
//!
//! The index is built once, then extended by reading only what was appended since (by this
//! node's publisher, or by any other writer of the file: the gateway's reader and its
//! publisher are separate instances). A file that became shorter was replaced (a restore) and
//! is indexed anew. The file's format is unchanged, so files written before the index are read
//! as they are; a line that does not read is skipped, as before.

use crate::receipt::SignedCheckpoint;
use serde::Deserialize;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::path::Path;

/// One checkpoint's records and its line's place in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    first: i64,
    seq: i64,
    offset: u64,
    len: usize,
}

/// The fields of a line the index keeps (the rest is read when the line is wanted).
#[derive(Deserialize)]
struct Range {
    first: i64,
    seq: i64,
}

/// The index of one checkpoints file.
#[derive(Debug, Default)]
pub struct Index {
    /// The bytes indexed: the end of the last whole line read.
    indexed: u64,
    entries: Vec<Entry>,
    /// Each checkpoint starts after the previous one's records (as a node writes them), so a
    /// look-up can halve its way; otherwise it goes through the entries in order.
    ascending: bool,
}

impl Index {
    /// Brings the index up to the file's end, reading only what it has not read.
    pub fn refresh(&mut self, file: &Path) -> io::Result<()> {
        let len = match std::fs::metadata(file) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if len < self.indexed {
            *self = Index::default();
        }
        if len == self.indexed {
            return Ok(());
        }
        if self.entries.is_empty() {
            self.ascending = true;
        }
        let mut f = std::fs::File::open(file)?;
        f.seek(SeekFrom::Start(self.indexed))?;
        let mut reader = io::BufReader::new(f.take(len - self.indexed));
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            // A line still being written (no newline yet) waits for the next refresh.
            if n == 0 || line.last() != Some(&b'\n') {
                return Ok(());
            }
            let offset = self.indexed;
            self.indexed += n as u64;
            if let Ok(r) = serde_json::from_slice::<Range>(&line) {
                self.push(Entry {
                    first: r.first,
                    seq: r.seq,
                    offset,
                    len: n,
                });
            }
        }
    }

    fn push(&mut self, e: Entry) {
        if let Some(last) = self.entries.last() {
            self.ascending &= e.first > last.seq && e.first <= e.seq;
        }
        self.entries.push(e);
    }

    /// The newest record the file's last checkpoint covers (0 when none).
    pub fn last_seq(&self) -> i64 {
        self.entries.last().map_or(0, |e| e.seq)
    }

    /// How many checkpoints the file holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first checkpoint whose records include `seq`, read from its line alone.
    pub fn covering(&self, file: &Path, seq: i64) -> io::Result<Option<SignedCheckpoint>> {
        let found = if self.ascending {
            let i = self.entries.partition_point(|e| e.seq < seq);
            self.entries.get(i).filter(|e| e.first <= seq)
        } else {
            self.entries
                .iter()
                .find(|e| (e.first..=e.seq).contains(&seq))
        };
        let Some(e) = found else {
            return Ok(None);
        };
        let mut f = std::fs::File::open(file)?;
        f.seek(SeekFrom::Start(e.offset))?;
        let mut line = vec![0; e.len];
        f.read_exact(&mut line)?;
        serde_json::from_slice(&line)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(first: i64, seq: i64) -> String {
        SignedCheckpoint {
            first,
            seq,
            hash: "ab".repeat(32),
            root: "cd".repeat(32),
            at: "2027-03-01T14:05:09Z".into(),
            key_id: "56475aa75463474c".into(),
            signature: "c2ln".into(),
        }
        .to_line()
    }

    fn append(file: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .expect("open");
        f.write_all(text.as_bytes()).expect("append");
    }

    /// Ten thousand checkpoints of three records each: every look-up finds its own line; what
    /// is appended later is indexed from where the index stopped (the lines before are not
    /// read again: here they are overwritten after indexing, and look-ups still answer).
    #[test]
    fn a_look_up_among_many_checkpoints_reads_its_line_and_appends_are_read_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("receipt-checkpoints");
        let text: String = (0..10_000).map(|i| line(3 * i + 1, 3 * i + 3)).collect();
        append(&file, &text);
        let mut index = Index::default();
        index.refresh(&file).expect("index");
        assert_eq!(index.len(), 10_000);
        assert!(index.ascending);
        for seq in [1, 2, 3, 4, 15_000, 29_998, 30_000] {
            let c = index.covering(&file, seq).expect("read").expect("covered");
            assert!((c.first..=c.seq).contains(&seq), "{seq}: {c:?}");
            assert_eq!(c.seq - c.first, 2);
        }
        assert!(index.covering(&file, 30_001).expect("read").is_none());
        assert!(index.covering(&file, 0).expect("read").is_none());

        // The indexed part is made unreadable; only the appended line is read.
        let head = "x".repeat(text.len() - 1) + "\n";
        std::fs::write(&file, head).expect("overwrite");
        append(&file, &line(30_001, 30_010));
        index.refresh(&file).expect("index");
        assert_eq!(index.len(), 10_001);
        assert_eq!(index.last_seq(), 30_010);
        let c = index
            .covering(&file, 30_005)
            .expect("read")
            .expect("covered");
        assert_eq!((c.first, c.seq), (30_001, 30_010));
    }

    /// A line still being written is indexed once its newline is there; a file that became
    /// shorter (replaced) is indexed anew; a missing file has no checkpoint.
    #[test]
    fn partial_lines_wait_and_a_replaced_file_is_read_anew() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("receipt-checkpoints");
        let mut index = Index::default();
        index.refresh(&file).expect("missing");
        assert!(index.is_empty());
        let whole = line(1, 5);
        append(&file, &whole[..20]);
        index.refresh(&file).expect("index");
        assert!(index.is_empty());
        append(&file, &whole[20..]);
        append(&file, "not a checkpoint\n");
        append(&file, &line(6, 9));
        index.refresh(&file).expect("index");
        assert_eq!(index.len(), 2);
        assert_eq!(index.last_seq(), 9);
        std::fs::write(&file, line(1, 2)).expect("replace");
        index.refresh(&file).expect("index");
        assert_eq!(index.len(), 1);
        assert_eq!(index.last_seq(), 2);
    }

    /// Checkpoints out of order (no node writes them so, but an old or edited file may hold
    /// them) are still found: the first line that covers the record, as before the index.
    #[test]
    fn checkpoints_out_of_order_are_found_in_file_order() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("receipt-checkpoints");
        append(&file, &(line(10, 20) + &line(1, 9) + &line(5, 12)));
        let mut index = Index::default();
        index.refresh(&file).expect("index");
        assert!(!index.ascending);
        let first = |seq| {
            index
                .covering(&file, seq)
                .expect("read")
                .map(|c| (c.first, c.seq))
        };
        assert_eq!(first(3), Some((1, 9)));
        assert_eq!(first(11), Some((10, 20)));
        assert_eq!(first(21), None);
    }
}
