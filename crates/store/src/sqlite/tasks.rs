use algocenter_domain::instance::Instance;
use algocenter_domain::paging::Page;
use algocenter_domain::task::{Task, TaskFilter, Trigger, empty_extend_info, extend_info};
use algocenter_domain::{Error, Function, Result};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};
use serde_json::Map;

use super::instances::load_instance;
use super::rows::{TASK_COLUMNS, count, instance_id, parse_generation, task_from_row};
use super::{Db, SqliteStore};
use crate::{ArtifactKey, TaskCount, TaskStore};

/// Queues a run of an instance in the caller's transaction: allocates the next generation and inserts the task.
/// `Task.IsRunning` when the instance has an active task (the unique partial index `task_one_active` is the
/// authority; the explicit check only makes the message precise).
pub(super) fn enqueue(
    tx: &Transaction<'_>,
    instance_id: i64,
    app_name: &str,
    function: Function,
    instance_name: &str,
    trigger: Trigger,
    at_ms: i64,
) -> Result<Task> {
    if let Some(generation) = active_generation(tx, instance_id)? {
        return Err(is_running(instance_name, Some(generation)));
    }
    let generation: i64 = tx
        .query_row(
            "INSERT INTO generation_counter (app_name, function, instance_name, last_generation) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (app_name, function, instance_name) DO UPDATE SET last_generation = last_generation + 1
             RETURNING last_generation",
            params![app_name, function.as_str(), instance_name],
            |r| r.get(0),
        )
        .db()?;
    let run_id = trigger.run_id(at_ms);
    let inserted = tx.execute(
        "INSERT INTO task (instance_id, generation, run_id, state, created_ms, extend_info)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
        params![instance_id, generation, run_id, at_ms, empty_extend_info()],
    );
    match inserted {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            return Err(is_running(instance_name, None));
        }
        other => other.db()?,
    };
    load_task(tx, tx.last_insert_rowid())
}

fn is_running(instance: &str, generation: Option<i64>) -> Error {
    let which = generation
        .map(|g| format!(" (generation {g})"))
        .unwrap_or_default();
    Error::TaskIsRunning(format!(
        "instance '{instance}' already has a task queued or running{which}."
    ))
}

pub(super) fn active_generation(conn: &Connection, instance_id: i64) -> Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT generation FROM task WHERE instance_id = ?1 AND state IN ('queued', 'running')",
    )
    .db()?
    .query_row([instance_id], |r| r.get(0))
    .optional()
    .db()
}

pub(super) fn load_task(conn: &Connection, task_id: i64) -> Result<Task> {
    conn.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id WHERE t.id = ?1"
    ))
    .db()?
    .query_row([task_id], task_from_row)
    .db()
}

/// Points the instance's serving generation at its pinned generation, or else at its newest successful generation
/// that passed the quality gate and still has its artifact (after a record was removed or a pin changed).
fn recompute_serving_generation(tx: &Transaction<'_>, instance_id: i64) -> Result<()> {
    tx.execute(
        "UPDATE instance SET serving_generation = coalesce(pinned_generation, (
             SELECT max(generation) FROM task
             WHERE instance_id = ?1 AND state = 'success' AND serve = 1 AND artifact IS NOT NULL))
         WHERE id = ?1",
        [instance_id],
    )
    .db()?;
    Ok(())
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn task_counts(&self) -> Result<Vec<TaskCount>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT i.function, t.state, count(*)
                     FROM task t JOIN instance i ON i.id = t.instance_id
                     GROUP BY i.function, t.state ORDER BY i.function, t.state",
                )
                .db()?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(TaskCount {
                        function: r.get(0)?,
                        state: r.get(1)?,
                        tasks: r.get::<_, i64>(2)? as u64,
                    })
                })
                .db()?;
            rows.collect::<std::result::Result<Vec<_>, _>>().db()
        })
        .await
    }

    async fn training_times(&self) -> Result<Vec<(String, i64)>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT i.function, t.ended_ms - t.started_ms
                     FROM task t JOIN instance i ON i.id = t.instance_id
                     WHERE t.state = 'success' AND t.started_ms IS NOT NULL AND t.ended_ms IS NOT NULL",
                )
                .db()?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .db()?;
            rows.collect::<std::result::Result<Vec<_>, _>>().db()
        })
        .await
    }

    async fn enqueue_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        trigger: Trigger,
        now_ms: i64,
    ) -> Result<Task> {
        let (app, instance) = (app.to_string(), instance.to_string());
        self.write(move |tx| {
            let id = instance_id(tx, &app, function, &instance)?;
            // The counter is keyed by the app group's name even when the caller used its numeric id.
            let app_name: String =
                tx.query_row("SELECT a.name FROM instance i JOIN app_group a ON a.id = i.app_id WHERE i.id = ?1", [id], |r| {
                    r.get(0)
                })
                .db()?;
            enqueue(tx, id, &app_name, function, &instance, trigger, now_ms)
        })
        .await
    }

    async fn task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<Task> {
        let (app, instance, generation) = (
            app.to_string(),
            instance.to_string(),
            generation.to_string(),
        );
        self.read(move |conn| {
            let number = generation.parse::<i64>().unwrap_or(0);
            // One query for the common case; the slower path below finds out which part is missing.
            let found = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                     JOIN app_group a ON a.id = i.app_id
                     WHERE a.name = ?1 AND i.function = ?2 AND i.name = ?3 AND t.generation = ?4"
                ))
                .db()?
                .query_row(
                    params![app, function.as_str(), instance, number],
                    task_from_row,
                )
                .optional()
                .db()?;
            if let Some(task) = found {
                return Ok(task);
            }
            let id = instance_id(conn, &app, function, &instance)?;
            let number = parse_generation(&instance, &generation)?;
            conn.prepare_cached(&format!(
                "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE t.instance_id = ?1 AND t.generation = ?2"
            ))
            .db()?
            .query_row(params![id, number], task_from_row)
            .optional()
            .db()?
            .ok_or(Error::TaskNotExist {
                instance,
                generation,
            })
        })
        .await
    }

    async fn list_tasks(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        filter: TaskFilter,
        page: Page,
    ) -> Result<(Vec<Task>, u64)> {
        let (app, instance) = (app.to_string(), instance.to_string());
        self.read(move |conn| {
            let id = instance_id(conn, &app, function, &instance)?;
            let status = filter.status.map(|s| s.as_str());
            let condition = "t.instance_id = ?1
                AND (?2 IS NULL OR (CASE WHEN t.state IN ('queued', 'running') THEN 'running' ELSE t.state END) = ?2)
                AND (?3 IS NULL OR coalesce(t.started_ms, t.created_ms) >= ?3)
                AND (?4 IS NULL OR (t.ended_ms IS NOT NULL AND t.ended_ms <= ?4))";
            let args = params![id, status, filter.start_time_ms, filter.end_time_ms];
            let total = count(conn, "task t", condition, args)?;
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                     WHERE {condition} ORDER BY t.generation DESC LIMIT ?5 OFFSET ?6"
                ))
                .db()?;
            let tasks = stmt
                .query_map(
                    params![id, status, filter.start_time_ms, filter.end_time_ms, page.size, page.offset() as i64],
                    task_from_row,
                )
                .db()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .db()?;
            Ok((tasks, total))
        })
        .await
    }

    async fn delete_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<Option<ArtifactKey>> {
        let (app, instance, generation) = (
            app.to_string(),
            instance.to_string(),
            generation.to_string(),
        );
        self.write(move |tx| {
            let id = instance_id(tx, &app, function, &instance)?;
            let number = parse_generation(&instance, &generation)?;
            let row: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT state, artifact FROM task WHERE instance_id = ?1 AND generation = ?2",
                    params![id, number],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .db()?;
            let Some((state, artifact)) = row else {
                return Err(Error::TaskNotExist { instance, generation });
            };
            if state == "queued" || state == "running" {
                return Err(Error::TaskIsRunning(format!(
                    "generation {number} of instance '{instance}' is still running; cancel it first."
                )));
            }
            let pinned: Option<i64> = tx
                .query_row("SELECT pinned_generation FROM instance WHERE id = ?1", [id], |r| r.get(0))
                .db()?;
            if pinned == Some(number) {
                return Err(Error::TaskIsPinned(format!(
                    "generation {number} of instance '{instance}' is pinned to serve; unpin it first."
                )));
            }
            tx.execute("DELETE FROM task WHERE instance_id = ?1 AND generation = ?2", params![id, number]).db()?;
            recompute_serving_generation(tx, id)?;
            Ok(artifact.map(ArtifactKey::from_stored))
        })
        .await
    }

    async fn pin_generation(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: Option<&str>,
        now_ms: i64,
    ) -> Result<Instance> {
        let (app, instance, generation) = (
            app.to_string(),
            instance.to_string(),
            generation.map(str::to_string),
        );
        self.write(move |tx| {
            let id = instance_id(tx, &app, function, &instance)?;
            let pinned = match generation {
                None => None,
                Some(generation) => {
                    let number = parse_generation(&instance, &generation)?;
                    let row: Option<(String, bool, bool)> = tx
                        .query_row(
                            "SELECT state, serve = 1, artifact IS NOT NULL FROM task
                             WHERE instance_id = ?1 AND generation = ?2",
                            params![id, number],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .optional()
                        .db()?;
                    let Some((state, passed_gate, has_artifact)) = row else {
                        return Err(Error::TaskNotExist {
                            instance,
                            generation,
                        });
                    };
                    let why_not = if state != "success" {
                        Some(format!("it is {state}"))
                    } else if !passed_gate {
                        Some("it did not pass its quality gate".to_string())
                    } else if !has_artifact {
                        Some("its model was removed by artifact retention".to_string())
                    } else {
                        None
                    };
                    if let Some(why) = why_not {
                        return Err(Error::TaskNotServable(format!(
                            "generation {number} of instance '{instance}' cannot serve: {why}."
                        )));
                    }
                    Some(number)
                }
            };
            tx.execute(
                "UPDATE instance SET pinned_generation = ?1, updated_ms = ?2 WHERE id = ?3",
                params![pinned, now_ms, id],
            )
            .db()?;
            recompute_serving_generation(tx, id)?;
            load_instance(tx, id)
        })
        .await
    }

    async fn cancel_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
        now_ms: i64,
    ) -> Result<Task> {
        let (app, instance, generation) = (
            app.to_string(),
            instance.to_string(),
            generation.to_string(),
        );
        self.write(move |tx| {
            let id = instance_id(tx, &app, function, &instance)?;
            let number = parse_generation(&instance, &generation)?;
            let task_id: Option<i64> = tx
                .query_row("SELECT id FROM task WHERE instance_id = ?1 AND generation = ?2", params![id, number], |r| {
                    r.get(0)
                })
                .optional()
                .db()?;
            let Some(task_id) = task_id else {
                return Err(Error::TaskNotExist { instance, generation });
            };
            let changed = tx
                .execute(
                    "UPDATE task SET state = 'failed', ended_ms = ?1, extend_info = ?2, lease_owner = NULL,
                         lease_until_ms = NULL
                     WHERE id = ?3 AND state IN ('queued', 'running')",
                    params![now_ms, extend_info(Map::new(), vec!["cancelled".into()]), task_id],
                )
                .db()?;
            if changed == 0 {
                return Err(Error::TaskFinished { instance, generation });
            }
            load_task(tx, task_id)
        })
        .await
    }
}
