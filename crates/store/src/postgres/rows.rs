//! Column lists and row mappings shared by the PostgreSQL queries, and lookups of app groups and instances by name.

use algocenter_domain::app_group::AppGroup;
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::instance::{Instance, LastTask};
use algocenter_domain::resource::{Resource, ResourceData, ResourceType};
use algocenter_domain::task::{Task, TaskState};
use algocenter_domain::{Error, Function, Result};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{Params, get, query, query_opt};
use crate::ArtifactKey;

pub(super) const APP_GROUP_COLUMNS: &str =
    "id, name, app_type, description, extra, created_ms, updated_ms";

pub(super) fn app_group_from_row(row: &Row) -> Result<AppGroup> {
    let extra: String = get(row, 4)?;
    Ok(AppGroup {
        id: get(row, 0)?,
        name: get(row, 1)?,
        app_type: get(row, 2)?,
        description: get(row, 3)?,
        extra: serde_json::from_str(&extra).unwrap_or_default(),
        created_ms: get(row, 5)?,
        updated_ms: get(row, 6)?,
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

pub(super) fn instance_from_row(row: &Row) -> Result<Instance> {
    let function: String = get(row, 2)?;
    let create: String = get(row, 9)?;
    let usage: String = get(row, 10)?;
    let last_generation: Option<i64> = get(row, 14)?;
    let last_task = match last_generation {
        None => None,
        Some(generation) => {
            let state: String = get(row, 15)?;
            let created: i64 = get(row, 16)?;
            let started: Option<i64> = get(row, 17)?;
            Some(LastTask {
                generation,
                state: parse_state(&state)?,
                run_time_ms: started.unwrap_or(created),
                extend_info: get(row, 18)?,
            })
        }
    };
    Ok(Instance {
        id: get(row, 0)?,
        app_group: get(row, 1)?,
        function: parse_function(&function)?,
        name: get(row, 3)?,
        model_type: get(row, 4)?,
        function_type: get(row, 5)?,
        description: get(row, 6)?,
        cron: get(row, 7)?,
        version_id: get(row, 8)?,
        create_parameters: parse_parameters(&create),
        usage_parameters: parse_parameters(&usage),
        serving_generation: get(row, 11)?,
        pinned_generation: get(row, 19)?,
        created_ms: get(row, 12)?,
        updated_ms: get(row, 13)?,
        last_task,
    })
}

pub(super) const TASK_COLUMNS: &str = "t.id, t.instance_id, i.function, t.generation, t.run_id, t.state, t.progress, \
     t.step, t.created_ms, t.started_ms, t.ended_ms, t.extend_info";

pub(super) fn task_from_row(row: &Row) -> Result<Task> {
    let function: String = get(row, 2)?;
    let state: String = get(row, 5)?;
    Ok(Task {
        id: get(row, 0)?,
        instance_id: get(row, 1)?,
        function: parse_function(&function)?,
        generation: get(row, 3)?,
        run_id: get(row, 4)?,
        state: parse_state(&state)?,
        progress: get(row, 6)?,
        step: get(row, 7)?,
        created_ms: get(row, 8)?,
        started_ms: get(row, 9)?,
        ended_ms: get(row, 10)?,
        extend_info: get(row, 11)?,
    })
}

pub(super) const RESOURCE_COLUMNS: &str = "r.id, r.function, r.name, r.resource_type, r.description, r.data, \
     r.created_ms, r.modified_ms";

/// A resource row; `referenced_instances` is filled by the caller.
pub(super) fn resource_from_row(row: &Row) -> Result<(i64, Resource)> {
    let function: String = get(row, 1)?;
    let resource_type: String = get(row, 3)?;
    let data: String = get(row, 5)?;
    Ok((
        get(row, 0)?,
        Resource {
            function: parse_function(&function)?,
            name: get(row, 2)?,
            resource_type: ResourceType::parse(&resource_type)?,
            description: get(row, 4)?,
            data: serde_json::from_str::<ResourceData>(&data)
                .map_err(|e| corrupt(format_args!("resource data: {e}")))?,
            created_ms: get(row, 6)?,
            modified_ms: get(row, 7)?,
            referenced_instances: Vec::new(),
        },
    ))
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

fn corrupt(message: impl std::fmt::Display) -> Error {
    Error::internal(format_args!(
        "database holds an unreadable value: {message}"
    ))
}

fn parse_function(s: &str) -> Result<Function> {
    s.parse().map_err(|e: Error| corrupt(e))
}

pub(super) fn parse_state(s: &str) -> Result<TaskState> {
    TaskState::parse(s).ok_or_else(|| corrupt(format_args!("unknown task state '{s}'")))
}

fn parse_parameters(json: &str) -> Vec<Parameter> {
    serde_json::from_str(json).unwrap_or_default()
}

pub(super) fn parameters_json(parameters: &[Parameter]) -> String {
    serde_json::to_string(parameters).unwrap_or_else(|_| "[]".into())
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

/// One instance by id, with its app group name and newest task.
pub(super) async fn load_instance(c: &impl GenericClient, id: i64) -> Result<Instance> {
    let row = super::query_one(c, &format!("{INSTANCE_SELECT} WHERE i.id = $1"), &[&id]).await?;
    instance_from_row(&row)
}
