//! Column lists and row mappings shared by the SQLite queries, and lookups of app groups and instances by name.

use algocenter_domain::app_group::AppGroup;
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::instance::{Instance, LastTask};
use algocenter_domain::resource::{Resource, ResourceData, ResourceType};
use algocenter_domain::task::{Task, TaskState};
use algocenter_domain::{Error, Function, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Db;
use crate::ArtifactKey;

pub(super) const APP_GROUP_COLUMNS: &str =
    "id, name, app_type, description, extra, created_ms, updated_ms";

pub(super) fn app_group_from_row(row: &Row<'_>) -> rusqlite::Result<AppGroup> {
    let extra: String = row.get(4)?;
    Ok(AppGroup {
        id: row.get(0)?,
        name: row.get(1)?,
        app_type: row.get(2)?,
        description: row.get(3)?,
        extra: serde_json::from_str(&extra).unwrap_or_default(),
        created_ms: row.get(5)?,
        updated_ms: row.get(6)?,
    })
}

/// Instance columns joined with the app group name and the newest task (alias `t`).
pub(super) const INSTANCE_SELECT: &str = "
SELECT i.id, a.name, i.function, i.name, i.model_type, i.function_type, i.description, i.cron, i.version_id,
       i.create_parameters, i.usage_parameters, i.serving_generation, i.created_ms, i.updated_ms,
       t.generation, t.state, t.created_ms, t.started_ms, t.extend_info, i.pinned_generation
FROM instance i
JOIN app_group a ON a.id = i.app_id
LEFT JOIN task t ON t.id = (SELECT id FROM task WHERE instance_id = i.id ORDER BY generation DESC LIMIT 1)";

pub(super) fn instance_from_row(row: &Row<'_>) -> rusqlite::Result<Instance> {
    let function: String = row.get(2)?;
    let create: String = row.get(9)?;
    let usage: String = row.get(10)?;
    let last_generation: Option<i64> = row.get(14)?;
    let last_task = match last_generation {
        None => None,
        Some(generation) => {
            let state: String = row.get(15)?;
            let created: i64 = row.get(16)?;
            let started: Option<i64> = row.get(17)?;
            Some(LastTask {
                generation,
                state: parse_state(&state)?,
                run_time_ms: started.unwrap_or(created),
                extend_info: row.get(18)?,
            })
        }
    };
    Ok(Instance {
        id: row.get(0)?,
        app_group: row.get(1)?,
        function: parse_function(&function)?,
        name: row.get(3)?,
        model_type: row.get(4)?,
        function_type: row.get(5)?,
        description: row.get(6)?,
        cron: row.get(7)?,
        version_id: row.get(8)?,
        create_parameters: parse_parameters(&create),
        usage_parameters: parse_parameters(&usage),
        serving_generation: row.get(11)?,
        pinned_generation: row.get(19)?,
        created_ms: row.get(12)?,
        updated_ms: row.get(13)?,
        last_task,
    })
}

pub(super) const TASK_COLUMNS: &str = "t.id, t.instance_id, i.function, t.generation, t.run_id, t.state, t.progress, \
     t.step, t.created_ms, t.started_ms, t.ended_ms, t.extend_info";

pub(super) fn task_from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    let function: String = row.get(2)?;
    let state: String = row.get(5)?;
    Ok(Task {
        id: row.get(0)?,
        instance_id: row.get(1)?,
        function: parse_function(&function)?,
        generation: row.get(3)?,
        run_id: row.get(4)?,
        state: parse_state(&state)?,
        progress: row.get(6)?,
        step: row.get(7)?,
        created_ms: row.get(8)?,
        started_ms: row.get(9)?,
        ended_ms: row.get(10)?,
        extend_info: row.get(11)?,
    })
}

pub(super) const RESOURCE_COLUMNS: &str = "r.id, r.function, r.name, r.resource_type, r.description, r.data, \
     r.created_ms, r.modified_ms";

/// A resource row; `referenced_instances` is filled by the caller.
pub(super) fn resource_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Resource)> {
    let function: String = row.get(1)?;
    let resource_type: String = row.get(3)?;
    let data: String = row.get(5)?;
    Ok((
        row.get(0)?,
        Resource {
            function: parse_function(&function)?,
            name: row.get(2)?,
            resource_type: ResourceType::parse(&resource_type)
                .map_err(|e| corrupt(e.to_string()))?,
            description: row.get(4)?,
            data: serde_json::from_str::<ResourceData>(&data)
                .map_err(|e| corrupt(e.to_string()))?,
            created_ms: row.get(6)?,
            modified_ms: row.get(7)?,
            referenced_instances: Vec::new(),
        },
    ))
}

/// The first column of every row of a query.
pub(super) fn column<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
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
    args: impl rusqlite::Params,
) -> Result<u64> {
    let sql = format!("SELECT count(*) FROM {from} WHERE {condition}");
    let n: i64 = conn
        .prepare_cached(&sql)
        .db()?
        .query_row(args, |r| r.get(0))
        .db()?;
    Ok(n as u64)
}

/// Artifact keys selected by a query's first column.
pub(super) fn artifact_keys(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
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

fn corrupt(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, message.into())
}

fn parse_function(s: &str) -> rusqlite::Result<Function> {
    s.parse().map_err(|e: Error| corrupt(e.to_string()))
}

fn parse_state(s: &str) -> rusqlite::Result<TaskState> {
    TaskState::parse(s).ok_or_else(|| corrupt(format!("unknown task state '{s}'")))
}

fn parse_parameters(json: &str) -> Vec<Parameter> {
    serde_json::from_str(json).unwrap_or_default()
}

pub(super) fn parameters_json(parameters: &[Parameter]) -> String {
    serde_json::to_string(parameters).unwrap_or_else(|_| "[]".into())
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

/// Parses a `{generation}` path segment; anything but a positive integer names no task.
pub(super) fn parse_generation(instance: &str, generation: &str) -> Result<i64> {
    generation
        .parse::<i64>()
        .ok()
        .filter(|g| *g > 0)
        .ok_or_else(|| Error::TaskNotExist {
            instance: instance.to_string(),
            generation: generation.to_string(),
        })
}
