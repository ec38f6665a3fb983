//! The one checked path from stored values back to domain values, for both backends.
//!
//! Everything in the database was written by this crate, so a value that does not decode means damage: a disk
//! error, a hand edit, a foreign writer. Reading it as a default fails open (an access key's unreadable list of app
//! groups read as "none", which means "all"; an unreadable attribute map merged into `{}` and written back), so
//! every decode goes through a [`Cell`]: a value that does not decode becomes [`Error::Corrupt`] naming the table,
//! row and column, the details are logged, and the request that needed the value is refused.

pub(crate) mod records;

use std::fmt::Display;

use algocenter_domain::sketch::DistinctSketch;
use algocenter_domain::{Error, Result};
use serde::de::DeserializeOwned;

/// A row of either backend, read by column index; a type mismatch is an error, never a panic.
pub(crate) trait StoredRow {
    fn int(&self, index: usize) -> Result<i64>;
    fn opt_int(&self, index: usize) -> Result<Option<i64>>;
    fn text(&self, index: usize) -> Result<String>;
    fn opt_text(&self, index: usize) -> Result<Option<String>>;
    fn flag(&self, index: usize) -> Result<bool>;
    fn bytes(&self, index: usize) -> Result<Vec<u8>>;
}

/// Where a stored value lives: table, row (by its key) and column.
pub(crate) struct Cell<'a> {
    table: &'static str,
    row: &'a dyn Display,
    column: &'static str,
}

/// The cell of `table`, row `row`, column `column`.
pub(crate) fn cell<'a>(
    table: &'static str,
    row: &'a dyn Display,
    column: &'static str,
) -> Cell<'a> {
    Cell { table, row, column }
}

impl Cell<'_> {
    /// The refusal for a value of this cell that does not decode; logs where and why.
    pub(crate) fn corrupt(&self, detail: impl Display) -> Error {
        let (table, row, column, detail) = (
            self.table,
            self.row.to_string(),
            self.column,
            detail.to_string(),
        );
        tracing::error!(table, row = %row, column, detail = %detail, "stored state is unreadable; refusing the request");
        Error::Corrupt {
            table,
            row,
            column,
            detail,
        }
    }

    /// A JSON column.
    pub(crate) fn json<T: DeserializeOwned>(&self, text: &str) -> Result<T> {
        serde_json::from_str(text)
            .map_err(|e| self.corrupt(format_args!("not the expected JSON: {e}")))
    }

    /// A column holding one of a closed set of names (a function, a task state, a scope, a resource type).
    pub(crate) fn name<T, E: Display>(
        &self,
        text: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T> {
        parse(text).map_err(|e| self.corrupt(format_args!("not a known value: {e}")))
    }

    /// A distinct-count sketch; one of another length would otherwise be read (and written back) as empty.
    pub(crate) fn sketch(&self, bytes: &[u8]) -> Result<DistinctSketch> {
        let sketch = DistinctSketch::from_bytes(bytes);
        if sketch.as_bytes().len() != bytes.len() {
            return Err(self.corrupt(format_args!(
                "a sketch of {} bytes, not {}",
                bytes.len(),
                sketch.as_bytes().len()
            )));
        }
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_values_are_corrupt_errors_that_name_the_cell() {
        let id = 7;
        let apps = cell("access_key", &id, "apps");
        assert_eq!(apps.json::<Vec<String>>(r#"["shop"]"#).unwrap(), ["shop"]);
        for stored in ["", "not json", "{}", "null", r#"[1]"#] {
            match apps.json::<Vec<String>>(stored) {
                Err(Error::Corrupt {
                    table, row, column, ..
                }) => {
                    assert_eq!((table, row.as_str(), column), ("access_key", "7", "apps"))
                }
                other => panic!("{stored:?} read as {other:?}"),
            }
        }
        let state = cell("task", &id, "state");
        assert!(matches!(
            state.name("paused", |s| algocenter_domain::task::TaskState::parse(s)
                .ok_or("unknown")),
            Err(Error::Corrupt {
                column: "state",
                ..
            })
        ));
        let users = cell("event_sketch", &id, "users");
        let whole = DistinctSketch::default();
        assert!(users.sketch(whole.as_bytes()).is_ok());
        assert!(matches!(
            users.sketch(&[1, 2, 3]),
            Err(Error::Corrupt { .. })
        ));
    }
}
