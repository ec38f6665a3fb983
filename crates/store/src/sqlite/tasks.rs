use algocenter_domain::instance::Instance;
use algocenter_domain::paging::Page;
use algocenter_domain::task::{Task, TaskFilter, Trigger, empty_extend_info};
use algocenter_domain::{Error, Function, Result};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, Transaction, params};

use super::instances::load_instance;
use super::rows::{count, instance_id, query, query_one, query_opt};
use super::{Db, SqliteStore};
use crate::rules::{
    ACTIVE_GENERATION, RECOMPUTE_SERVING_GENERATION, already_running, cancelled_extend_info,
    check_deletable, check_servable, parse_generation,
};
use crate::stored::records::{self, TASK_COLUMNS, task_state};
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
        return Err(already_running(instance_name, Some(generation)));
    }
    let generation = query_one(
        tx,
        "INSERT INTO generation_counter (app_name, function, instance_name, last_generation) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (app_name, function, instance_name) DO UPDATE SET last_generation = last_generation + 1
         RETURNING last_generation",
        params![app_name, function.as_str(), instance_name],
        |r| r.int(0),
    )?;
    let run_id = trigger.run_id(at_ms);
    let inserted = tx.execute(
        "INSERT INTO task (instance_id, generation, run_id, state, created_ms, extend_info)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
        params![instance_id, generation, run_id, at_ms, empty_extend_info()],
    );
    match inserted {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            return Err(already_running(instance_name, None));
        }
        other => other.db()?,
    };
    load_task(tx, tx.last_insert_rowid())
}

pub(super) fn active_generation(conn: &Connection, instance_id: i64) -> Result<Option<i64>> {
    query_opt(conn, ACTIVE_GENERATION, [instance_id], |r| r.int(0))
}

pub(super) fn load_task(conn: &Connection, task_id: i64) -> Result<Task> {
    query_one(
        conn,
        &format!(
            "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id WHERE t.id = ?1"
        ),
        [task_id],
        records::task,
    )
}

fn recompute_serving_generation(tx: &Transaction<'_>, instance_id: i64) -> Result<()> {
    tx.execute(RECOMPUTE_SERVING_GENERATION, [instance_id])
        .db()?;
    Ok(())
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn task_counts(&self) -> Result<Vec<TaskCount>> {
        self.read(|conn| {
            query(
                conn,
                "SELECT i.function, t.state, count(*)
                 FROM task t JOIN instance i ON i.id = t.instance_id
                 GROUP BY i.function, t.state ORDER BY i.function, t.state",
                [],
                records::task_count,
            )
        })
        .await
    }

    async fn training_times(&self) -> Result<Vec<(String, i64)>> {
        self.read(|conn| {
            query(
                conn,
                "SELECT i.function, t.ended_ms - t.started_ms
                 FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE t.state = 'success' AND t.started_ms IS NOT NULL AND t.ended_ms IS NOT NULL",
                [],
                |r| Ok((r.text(0)?, r.int(1)?)),
            )
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
            let app_name = query_one(
                tx,
                "SELECT a.name FROM instance i JOIN app_group a ON a.id = i.app_id WHERE i.id = ?1",
                [id],
                |r| r.text(0),
            )?;
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
            let found = query_opt(
                conn,
                &format!(
                    "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                     JOIN app_group a ON a.id = i.app_id
                     WHERE a.name = ?1 AND i.function = ?2 AND i.name = ?3 AND t.generation = ?4"
                ),
                params![app, function.as_str(), instance, number],
                records::task,
            )?;
            if let Some(task) = found {
                return Ok(task);
            }
            let id = instance_id(conn, &app, function, &instance)?;
            let number = parse_generation(&instance, &generation)?;
            query_opt(
                conn,
                &format!(
                    "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                     WHERE t.instance_id = ?1 AND t.generation = ?2"
                ),
                params![id, number],
                records::task,
            )?
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
            let tasks = query(
                conn,
                &format!(
                    "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                     WHERE {condition} ORDER BY t.generation DESC LIMIT ?5 OFFSET ?6"
                ),
                params![id, status, filter.start_time_ms, filter.end_time_ms, page.size, page.offset() as i64],
                records::task,
            )?;
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
            let found = query_opt(
                tx,
                "SELECT t.id, t.state, t.artifact, i.pinned_generation FROM task t
                 JOIN instance i ON i.id = t.instance_id WHERE t.instance_id = ?1 AND t.generation = ?2",
                params![id, number],
                |r| {
                    let task_id = r.int(0)?;
                    Ok((task_state(&task_id, &r.text(1)?)?, r.opt_text(2)?, r.opt_int(3)?))
                },
            )?;
            let Some((state, artifact, pinned)) = found else {
                return Err(Error::TaskNotExist { instance, generation });
            };
            check_deletable(&instance, number, state, pinned)?;
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
                    let found = query_opt(
                        tx,
                        "SELECT id, state, serve = 1, artifact IS NOT NULL FROM task
                         WHERE instance_id = ?1 AND generation = ?2",
                        params![id, number],
                        |r| {
                            let task_id = r.int(0)?;
                            Ok((task_state(&task_id, &r.text(1)?)?, r.flag(2)?, r.flag(3)?))
                        },
                    )?;
                    let Some((state, passed_gate, has_artifact)) = found else {
                        return Err(Error::TaskNotExist {
                            instance,
                            generation,
                        });
                    };
                    check_servable(&instance, number, state, passed_gate, has_artifact)?;
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
            let found = query_opt(
                tx,
                "SELECT id FROM task WHERE instance_id = ?1 AND generation = ?2",
                params![id, number],
                |r| r.int(0),
            )?;
            let Some(task_id) = found else {
                return Err(Error::TaskNotExist { instance, generation });
            };
            let changed = tx
                .execute(
                    "UPDATE task SET state = 'failed', ended_ms = ?1, extend_info = ?2, lease_owner = NULL,
                         lease_until_ms = NULL
                     WHERE id = ?3 AND state IN ('queued', 'running')",
                    params![now_ms, cancelled_extend_info(), task_id],
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
