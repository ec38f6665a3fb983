//! Row access shared by the PostgreSQL queries (rows are read by the checked mappers of `crate::stored::records`),
//! and lookups of app groups and instances by name.

use algocenter_domain::instance::Instance;
use algocenter_domain::{Error, Function, Result};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{Params, get, query, query_opt};
use crate::ArtifactKey;
use crate::stored::StoredRow;
use crate::stored::records::{self, INSTANCE_SELECT};

impl StoredRow for Row {
    fn int(&self, index: usize) -> Result<i64> {
        get(self, index)
    }

    fn opt_int(&self, index: usize) -> Result<Option<i64>> {
        get(self, index)
    }

    fn text(&self, index: usize) -> Result<String> {
        get(self, index)
    }

    fn opt_text(&self, index: usize) -> Result<Option<String>> {
        get(self, index)
    }

    fn flag(&self, index: usize) -> Result<bool> {
        get(self, index)
    }

    fn bytes(&self, index: usize) -> Result<Vec<u8>> {
        get(self, index)
    }
}

/// The first column of every row of a query.
pub(super) async fn column<T>(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<T>>
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    query(c, sql, params)
        .await?
        .iter()
        .map(|row| get(row, 0))
        .collect()
}

/// `SELECT count(*) FROM {from} WHERE {condition}`.
pub(super) async fn count(
    c: &impl GenericClient,
    from: &str,
    condition: &str,
    params: &Params<'_>,
) -> Result<u64> {
    let sql = format!("SELECT count(*) FROM {from} WHERE {condition}");
    let rows = query(c, &sql, params).await?;
    let n: i64 = match rows.first() {
        Some(row) => get(row, 0)?,
        None => 0,
    };
    Ok(n as u64)
}

/// Artifact keys selected by a query's first column.
pub(super) async fn artifact_keys(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<ArtifactKey>> {
    let keys: Vec<String> = column(c, sql, params).await?;
    Ok(keys.into_iter().map(ArtifactKey::from_stored).collect())
}

pub(super) async fn referenced_instances(
    c: &impl GenericClient,
    resource_id: i64,
) -> Result<Vec<String>> {
    column(
        c,
        "SELECT DISTINCT i.name FROM resource_reference rr JOIN instance i ON i.id = rr.instance_id
         WHERE rr.resource_id = $1 ORDER BY i.name",
        &[&resource_id],
    )
    .await
}

/// The id of an app group given by name or numeric id.
pub(super) async fn app_id(c: &impl GenericClient, identity: &str) -> Result<i64> {
    if let Some(row) =
        query_opt(c, "SELECT id FROM app_group WHERE name = $1", &[&identity]).await?
    {
        return get(&row, 0);
    }
    if let Ok(numeric) = identity.parse::<i64>()
        && let Some(row) =
            query_opt(c, "SELECT id FROM app_group WHERE id = $1", &[&numeric]).await?
    {
        return get(&row, 0);
    }
    Err(Error::AppNotFound(identity.to_string()))
}

/// The id of an instance; `App.NotFound` or `Instance.NotExist` when missing.
pub(super) async fn instance_id(
    c: &impl GenericClient,
    app: &str,
    function: Function,
    name: &str,
) -> Result<i64> {
    let app_id = app_id(c, app).await?;
    let row = query_opt(
        c,
        "SELECT id FROM instance WHERE app_id = $1 AND function = $2 AND name = $3",
        &[&app_id, &function.as_str(), &name],
    )
    .await?;
    match row {
        Some(row) => get(&row, 0),
        None => Err(Error::InstanceNotExist(name.to_string())),
    }
}

/// One instance by id, with its app group name and newest task.
pub(super) async fn load_instance(c: &impl GenericClient, id: i64) -> Result<Instance> {
    let row = super::query_one(c, &format!("{INSTANCE_SELECT} WHERE i.id = $1"), &[&id]).await?;
    records::instance(&row)
}
