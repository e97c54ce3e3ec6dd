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
