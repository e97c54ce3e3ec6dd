//! A row's columns by name, whichever way it was read: through sqlx ([`AnyRow`]), or on the
//! asking thread from SQLite ([`Owned`], `store::direct`). The decoders of the rows every
//! request reads (an account with its rights, a mailbox, a caller's and a file's context) are
//! written once against [`Columns`], so the two ways cannot decode a row differently.

use rusqlite::types::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;

/// The four shapes of column these decoders read: SQLite and PostgreSQL hold every time as
/// epoch seconds, every flag as an integer.
pub(super) trait Columns {
    fn opt_int(&self, name: &str) -> Result<Option<i64>, sqlx::Error>;
    fn opt_text(&self, name: &str) -> Result<Option<String>, sqlx::Error>;

    fn int(&self, name: &str) -> Result<i64, sqlx::Error> {
        self.opt_int(name)?.ok_or_else(|| null(name))
    }

    fn text(&self, name: &str) -> Result<String, sqlx::Error> {
        self.opt_text(name)?.ok_or_else(|| null(name))
    }
}

fn null(name: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {name} is NULL").into())
}

impl Columns for AnyRow {
    fn opt_int(&self, name: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(name)
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(name)
    }

    fn int(&self, name: &str) -> Result<i64, sqlx::Error> {
        self.try_get(name)
    }

    fn text(&self, name: &str) -> Result<String, sqlx::Error> {
        self.try_get(name)
    }
}

/// The columns of `row` whose names begin with `prefix` (a statement reading several
/// tables' columns names each table's with a prefix of its own), by the rest of the name. The
/// whole name is put together on the stack: decoding a mailbox asked for a dozen `format!`s.
pub(super) struct Prefixed<'a, R> {
    pub(super) row: &'a R,
    pub(super) prefix: &'a str,
}

impl<R: Columns> Prefixed<'_, R> {
    fn named<T>(&self, name: &str, get: impl FnOnce(&str) -> T) -> T {
        let mut buf = [0u8; 64];
        let (p, n) = (self.prefix.as_bytes(), name.as_bytes());
        match buf.get_mut(..p.len() + n.len()) {
            Some(whole) => {
                whole[..p.len()].copy_from_slice(p);
                whole[p.len()..].copy_from_slice(n);
                // Two whole strings joined: UTF-8 still.
                get(std::str::from_utf8(whole).unwrap_or_default())
            }
            None => get(&format!("{}{name}", self.prefix)),
        }
    }
}

impl<R: Columns> Columns for Prefixed<'_, R> {
    fn opt_int(&self, name: &str) -> Result<Option<i64>, sqlx::Error> {
        self.named(name, |n| self.row.opt_int(n))
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        self.named(name, |n| self.row.opt_text(n))
    }

    fn int(&self, name: &str) -> Result<i64, sqlx::Error> {
        self.named(name, |n| self.row.int(n))
    }

    fn text(&self, name: &str) -> Result<String, sqlx::Error> {
        self.named(name, |n| self.row.text(n))
    }
}

/// A row read from SQLite on the asking thread: its statement's column names (shared by its
/// rows) and its values.
#[derive(Debug, Clone)]
pub(super) struct Owned {
    pub(super) names: Arc<[String]>,
    pub(super) values: Vec<Value>,
}

impl Owned {
    fn value(&self, name: &str) -> Result<&Value, sqlx::Error> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| sqlx::Error::ColumnNotFound(name.to_string()))
    }
}

impl Columns for Owned {
    fn opt_int(&self, name: &str) -> Result<Option<i64>, sqlx::Error> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(Some(*i)),
            other => Err(mismatch(name, other)),
        }
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            other => Err(mismatch(name, other)),
        }
    }
}

fn mismatch(name: &str, v: &Value) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {name} holds {:?}", v.data_type()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owned_row_reads_by_name_and_refuses_the_wrong_shape() {
        let row = Owned {
            names: vec!["a".to_string(), "b".to_string(), "c".to_string()].into(),
            values: vec![Value::Integer(7), Value::Text("x".into()), Value::Null],
        };
        assert_eq!(row.int("a").unwrap(), 7);
        assert_eq!(row.text("b").unwrap(), "x");
        assert_eq!(row.opt_int("c").unwrap(), None);
        assert_eq!(row.opt_text("c").unwrap(), None);
        assert!(row.int("c").is_err(), "NULL is no integer");
        assert!(row.text("a").is_err(), "an integer is no text");
        assert!(matches!(row.int("d"), Err(sqlx::Error::ColumnNotFound(_))));
    }
}
