//! Row access shared by the SQLite queries: statements whose rows are read by the checked mappers of
//! `crate::stored::records`, and lookups of app groups and instances by name.

use algocenter_domain::{Error, Function, Result};
use rusqlite::{Connection, OptionalExtension, Params, Row, params};

use super::Db;
use crate::ArtifactKey;
use crate::stored::StoredRow;

impl StoredRow for Row<'_> {
    fn int(&self, index: usize) -> Result<i64> {
        self.get(index).db()
    }

    fn opt_int(&self, index: usize) -> Result<Option<i64>> {
        self.get(index).db()
    }

    fn text(&self, index: usize) -> Result<String> {
        self.get(index).db()
    }

    fn opt_text(&self, index: usize) -> Result<Option<String>> {
        self.get(index).db()
    }

    fn flag(&self, index: usize) -> Result<bool> {
        self.get(index).db()
    }

    fn bytes(&self, index: usize) -> Result<Vec<u8>> {
        self.get(index).db()
    }
}

/// Every row of a statement (prepared once per connection), each read by `map`.
pub(super) fn query<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    mut map: impl FnMut(&dyn StoredRow) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(args).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The row of a statement that answers at most one, read by `map`.
pub(super) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    map: impl FnOnce(&dyn StoredRow) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(args).db()?;
    match rows.next().db()? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// The row of a statement that answers exactly one, read by `map`.
pub(super) fn query_one<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    map: impl FnOnce(&dyn StoredRow) -> Result<T>,
) -> Result<T> {
    query_opt(conn, sql, args, map)?
        .ok_or_else(|| Error::internal(format_args!("database: no row for {sql}")))
}

/// The first column of every row of a query.
pub(super) fn column<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let values = stmt.query_map(args, |r| r.get(0)).db()?;
    values.collect::<rusqlite::Result<Vec<T>>>().db()
}

/// `SELECT count(*) FROM {from} WHERE {condition}` through the statement cache.
pub(super) fn count(
    conn: &Connection,
    from: &str,
    condition: &str,
    args: impl Params,
) -> Result<u64> {
    let sql = format!("SELECT count(*) FROM {from} WHERE {condition}");
    let n = query_one(conn, &sql, args, |r| r.int(0))?;
    Ok(n as u64)
}

/// Artifact keys selected by a query's first column.
pub(super) fn artifact_keys(
    conn: &Connection,
    sql: &str,
    args: impl Params,
) -> Result<Vec<ArtifactKey>> {
    let keys = column::<String>(conn, sql, args)?;
    Ok(keys.into_iter().map(ArtifactKey::from_stored).collect())
}

pub(super) fn referenced_instances(conn: &Connection, resource_id: i64) -> Result<Vec<String>> {
    column(
        conn,
        "SELECT DISTINCT i.name FROM resource_reference rr JOIN instance i ON i.id = rr.instance_id
         WHERE rr.resource_id = ?1 ORDER BY i.name",
        [resource_id],
    )
}

/// The id of an app group given by name or numeric id.
pub(super) fn app_id(conn: &Connection, identity: &str) -> Result<i64> {
    let mut stmt = conn
        .prepare_cached("SELECT id FROM app_group WHERE name = ?1")
        .db()?;
    if let Some(id) = stmt.query_row([identity], |r| r.get(0)).optional().db()? {
        return Ok(id);
    }
    if let Ok(numeric) = identity.parse::<i64>() {
        let mut stmt = conn
            .prepare_cached("SELECT id FROM app_group WHERE id = ?1")
            .db()?;
        if let Some(id) = stmt.query_row([numeric], |r| r.get(0)).optional().db()? {
            return Ok(id);
        }
    }
    Err(Error::AppNotFound(identity.to_string()))
}

/// The id of an instance; `App.NotFound` or `Instance.NotExist` when missing.
pub(super) fn instance_id(
    conn: &Connection,
    app: &str,
    function: Function,
    name: &str,
) -> Result<i64> {
    let app_id = app_id(conn, app)?;
    let mut stmt = conn
        .prepare_cached("SELECT id FROM instance WHERE app_id = ?1 AND function = ?2 AND name = ?3")
        .db()?;
    stmt.query_row(params![app_id, function.as_str(), name], |r| r.get(0))
        .optional()
        .db()?
        .ok_or_else(|| Error::InstanceNotExist(name.to_string()))
}
