//! SQLite reads made on the asking thread (issue 29: no thread hop per query).
//!
//! sqlx gives each SQLite connection a thread of its own: every statement is sent to it and
//! its rows come back over channels, so each read costs two thread wake-ups and their context
//! switches, about as much CPU as the read itself on two cores (`perf`, in
//! `docs/performance.md`). The two reads every system-to-system call makes (the caller's
//! context and, for a TRACS file, the file's) are made here instead, on connections of this
//! module's own, by the thread that needs the answer: a read in WAL mode never waits for the
//! writer, and these are a few index look-ups in pages the OS already holds.
//!
//! Nothing here writes (`query_only`). A read that fails here (the file busy for longer than
//! [`BUSY_WAIT`], say, while another process recovers the log) is answered `Err`, and the
//! caller makes it through its sqlx session as before, so this is never the only way in.

use super::columns::Owned;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a read here waits for a lock (only a log recovery by another process holds one
/// from a reader in WAL mode) before it is given to an sqlx session instead: short, as the
/// thread waiting is one of the runtime's.
const BUSY_WAIT: Duration = Duration::from_millis(20);

/// Connections kept between reads: one per runtime thread at most is ever busy at once.
const KEPT: usize = 4;

/// The statements kept prepared on each connection: every size of the callers' read and the
/// file's read, with room.
const STATEMENTS: usize = 48;

/// Read-only connections to one SQLite file, lent to one read at a time.
#[derive(Debug)]
pub(super) struct DirectReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReads {
    pub(super) fn new(path: &Path) -> DirectReads {
        DirectReads {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        // Read-write only so that the WAL index can be used as a writer's connections use it;
        // `query_only` refuses every write.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY_WAIT)?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS);
        Ok(conn)
    }

    /// The rows of `sql`, whose parameters are `$1`…`$n`, bound to `params` in that order.
    pub(super) fn rows(&self, sql: &str, params: &[Value]) -> rusqlite::Result<Vec<Owned>> {
        let popped = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match popped {
            Some(conn) => conn,
            None => self.open()?,
        };
        let rows = read(&conn, sql, params);
        // A connection whose read failed is closed, not kept (its state is unknown).
        if rows.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < KEPT {
                idle.push(conn);
            }
        } else {
            metrics::counter!("imax_direct_read_failures_total").increment(1);
        }
        rows
    }
}

fn read(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<Vec<Owned>> {
    let mut statement = conn.prepare_cached(sql)?;
    for i in 1..=statement.parameter_count() {
        // `$n` is the n-th of `params` wherever it stands (SQLite numbers a name once).
        let name = statement.parameter_name(i).unwrap_or_default();
        let value = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| params.get(n.checked_sub(1)?))
            .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_string()))?;
        statement.raw_bind_parameter(i, value)?;
    }
    let names: Arc<[String]> = statement
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let width = names.len();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..width)
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(Owned {
            names: names.clone(),
            values,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::columns::Columns;

    #[test]
    fn a_read_binds_numbered_parameters_wherever_they_stand_and_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (a INTEGER, b TEXT);
                 INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, NULL);",
            )
            .unwrap();
        let reads = DirectReads::new(&path);
        let rows = reads
            .rows(
                "SELECT a, b FROM t WHERE a >= $2 AND (b = $1 OR $1 IS NULL OR a = $2) ORDER BY a",
                &[Value::Text("two".into()), Value::Integer(1)],
            )
            .unwrap();
        let got: Vec<i64> = rows.iter().map(|r| r.int("a").unwrap()).collect();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(rows[1].text("b").unwrap(), "two");
        // A write committed since is seen by the next read on the same kept connection.
        writer
            .execute("INSERT INTO t VALUES (4, 'four')", [])
            .unwrap();
        let rows = reads.rows("SELECT COUNT(*) AS n FROM t", &[]).unwrap();
        assert_eq!(rows[0].int("n").unwrap(), 4);
        // A parameter no value is given for, or not named `$n`, is refused, never bound NULL.
        assert!(reads.rows("SELECT $2 AS x", &[Value::Integer(1)]).is_err());
        assert!(reads.rows("SELECT :a AS x", &[Value::Integer(1)]).is_err());
        // Nothing is written through it.
        assert!(reads.rows("DELETE FROM t RETURNING a", &[]).is_err());
        let left: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 4);
    }
}
