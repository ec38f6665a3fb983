//! Tasks, API side.
//!
//! Lock order, shared with `queue.rs`: a transaction that allocates, pins, deletes or prunes generations of an
//! instance first locks the instance row (`FOR NO KEY UPDATE`; queuing holds the app group before it), so that its
//! checks of the instance's tasks still hold at commit across processes. Completion locks its running task before
//! the instance; no transaction holding an instance lock waits for an active task's row (they only read it), so
//! the two orders cannot deadlock.

use algocenter_domain::instance::Instance;
use algocenter_domain::paging::Page;
use algocenter_domain::task::{Task, TaskFilter, Trigger, empty_extend_info};
use algocenter_domain::{Error, Function, Result};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::rows::{count, instance_id, load_instance};
use super::{
    Db, PostgresStore, execute, get, in_transaction, is_unique_violation, query, query_opt,
};
use crate::rules::{
    ACTIVE_GENERATION, RECOMPUTE_SERVING_GENERATION, already_running, cancelled_extend_info,
    check_deletable, check_servable, parse_generation,
};
use crate::stored::StoredRow;
use crate::stored::records::{self, TASK_COLUMNS, task_state};
use crate::{ArtifactKey, TaskCount, TaskStore};

/// Queues a run of an instance in the caller's transaction: allocates the next generation and inserts the task.
/// The caller holds the instance row lock (see the module documentation). `Task.IsRunning` when the instance has
/// an active task (the unique partial index `task_one_active` is the authority; the explicit check only makes the
/// message precise).
pub(super) async fn enqueue(
    tx: &impl GenericClient,
    instance_id: i64,
    app_name: &str,
    function: Function,
    instance_name: &str,
    trigger: Trigger,
    at_ms: i64,
) -> Result<Task> {
    if let Some(generation) = active_generation(tx, instance_id).await? {
        return Err(already_running(instance_name, Some(generation)));
    }
    // Atomic across processes: concurrent upserts of one counter row serialise on its row lock.
    let row = super::query_one(
        tx,
        "INSERT INTO generation_counter (app_name, function, instance_name, last_generation) VALUES ($1, $2, $3, 1)
         ON CONFLICT (app_name, function, instance_name)
         DO UPDATE SET last_generation = generation_counter.last_generation + 1
         RETURNING last_generation",
        &[&app_name, &function.as_str(), &instance_name],
    )
    .await?;
    let generation: i64 = get(&row, 0)?;
    let run_id = trigger.run_id(at_ms);
    let statement = tx
        .prepare_cached(
            "INSERT INTO task (instance_id, generation, run_id, state, created_ms, extend_info)
             VALUES ($1, $2, $3, 'queued', $4, $5) RETURNING id",
        )
        .await
        .db()?;
    let inserted = tx
        .query_one(
            &statement,
            &[
                &instance_id,
                &generation,
                &run_id,
                &at_ms,
                &empty_extend_info(),
            ],
        )
        .await;
    let task_id: i64 = match inserted {
        Ok(row) => get(&row, 0)?,
        // The failed statement aborted the transaction: answer at once, the caller's rollback discards it.
        Err(e) if is_unique_violation(&e) => return Err(already_running(instance_name, None)),
        Err(e) => return Err(e).db(),
    };
    load_task(tx, task_id).await
}

pub(super) async fn active_generation(
    c: &impl GenericClient,
    instance_id: i64,
) -> Result<Option<i64>> {
    let row = query_opt(c, ACTIVE_GENERATION, &[&instance_id]).await?;
    row.map(|row| get(&row, 0)).transpose()
}

pub(super) async fn load_task(c: &impl GenericClient, task_id: i64) -> Result<Task> {
    let row = super::query_one(
        c,
        &format!(
            "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id WHERE t.id = $1"
        ),
        &[&task_id],
    )
    .await?;
    records::task(&row)
}

/// Holds the app group of an instance until the end of the transaction (`FOR KEY SHARE`: deleting the app group
/// waits, other updates do not), so that a task queued concurrently with `delete_app_group` is either seen by its
/// active-task check or refused here. Taken before the instance lock, the order in which that deletion locks them.
pub(super) async fn hold_app_group(c: &impl GenericClient, instance_id: i64) -> Result<()> {
    execute(
        c,
        "SELECT 1 FROM app_group WHERE id = (SELECT app_id FROM instance WHERE id = $1) FOR KEY SHARE",
        &[&instance_id],
    )
    .await?;
    Ok(())
}

/// Locks an instance row until the end of the transaction (see the module documentation) and answers its
/// `pinned_generation` and app group name. When the instance was deleted since it was looked up, answers the
/// error a fresh lookup gives (`App.NotFound` or `Instance.NotExist`).
async fn lock_instance(
    c: &impl GenericClient,
    id: i64,
    app: &str,
    function: Function,
    name: &str,
) -> Result<Row> {
    let row = query_opt(
        c,
        "SELECT i.pinned_generation, a.name FROM instance i JOIN app_group a ON a.id = i.app_id
         WHERE i.id = $1 FOR NO KEY UPDATE OF i",
        &[&id],
    )
    .await?;
    match row {
        Some(row) => Ok(row),
        None => {
            instance_id(c, app, function, name).await?;
            Err(Error::InstanceNotExist(name.to_string()))
        }
    }
}

async fn recompute_serving_generation(tx: &impl GenericClient, instance_id: i64) -> Result<()> {
    execute(tx, RECOMPUTE_SERVING_GENERATION, &[&instance_id]).await?;
    Ok(())
}

#[async_trait]
impl TaskStore for PostgresStore {
    async fn task_counts(&self) -> Result<Vec<TaskCount>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT i.function, t.state, count(*)
             FROM task t JOIN instance i ON i.id = t.instance_id
             GROUP BY i.function, t.state ORDER BY i.function, t.state",
            &[],
        )
        .await?;
        rows.iter().map(|row| records::task_count(row)).collect()
    }

    async fn training_times(&self) -> Result<Vec<(String, i64)>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT i.function, t.ended_ms - t.started_ms
             FROM task t JOIN instance i ON i.id = t.instance_id
             WHERE t.state = 'success' AND t.started_ms IS NOT NULL AND t.ended_ms IS NOT NULL",
            &[],
        )
        .await?;
        rows.iter()
            .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
            .collect()
    }

    async fn enqueue_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        trigger: Trigger,
        now_ms: i64,
    ) -> Result<Task> {
        in_transaction!(self, |tx| {
            let id = instance_id(&tx, app, function, instance).await?;
            hold_app_group(&tx, id).await?;
            // Concurrent enqueues of one instance serialise here, so the loser's active-task check sees the winner's
            // task. The counter is keyed by the app group's name even when the caller used its numeric id.
            let locked = lock_instance(&tx, id, app, function, instance).await?;
            let app_name: String = get(&locked, 1)?;
            enqueue(&tx, id, &app_name, function, instance, trigger, now_ms).await?
        })
    }

    async fn task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<Task> {
        let client = self.client().await?;
        let number = generation.parse::<i64>().unwrap_or(0);
        // One query for the common case; the slower path below finds out which part is missing.
        let found = query_opt(
            &client,
            &format!(
                "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                 JOIN app_group a ON a.id = i.app_id
                 WHERE a.name = $1 AND i.function = $2 AND i.name = $3 AND t.generation = $4"
            ),
            &[&app, &function.as_str(), &instance, &number],
        )
        .await?;
        if let Some(row) = found {
            return records::task(&row);
        }
        let id = instance_id(&client, app, function, instance).await?;
        let number = parse_generation(instance, generation)?;
        let row = query_opt(
            &client,
            &format!(
                "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE t.instance_id = $1 AND t.generation = $2"
            ),
            &[&id, &number],
        )
        .await?;
        match row {
            Some(row) => records::task(&row),
            None => Err(Error::TaskNotExist {
                instance: instance.to_string(),
                generation: generation.to_string(),
            }),
        }
    }

    async fn list_tasks(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        filter: TaskFilter,
        page: Page,
    ) -> Result<(Vec<Task>, u64)> {
        let client = self.client().await?;
        let id = instance_id(&client, app, function, instance).await?;
        let status = filter.status.map(|s| s.as_str());
        // Parameters tested only with IS NULL need a cast for PostgreSQL to know their type.
        let condition = "t.instance_id = $1
            AND ($2::TEXT IS NULL
                 OR (CASE WHEN t.state IN ('queued', 'running') THEN 'running' ELSE t.state END) = $2::TEXT)
            AND ($3::BIGINT IS NULL OR coalesce(t.started_ms, t.created_ms) >= $3::BIGINT)
            AND ($4::BIGINT IS NULL OR (t.ended_ms IS NOT NULL AND t.ended_ms <= $4::BIGINT))";
        let (start, end) = (filter.start_time_ms, filter.end_time_ms);
        let total = count(&client, "task t", condition, &[&id, &status, &start, &end]).await?;
        let rows = query(
            &client,
            &format!(
                "SELECT {TASK_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE {condition} ORDER BY t.generation DESC LIMIT $5 OFFSET $6"
            ),
            &[
                &id,
                &status,
                &start,
                &end,
                &i64::from(page.size),
                &(page.offset() as i64),
            ],
        )
        .await?;
        let tasks = rows
            .iter()
            .map(|row| records::task(row))
            .collect::<Result<Vec<_>>>()?;
        Ok((tasks, total))
    }

    async fn delete_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<Option<ArtifactKey>> {
        in_transaction!(self, |tx| {
            let id = instance_id(&tx, app, function, instance).await?;
            let number = parse_generation(instance, generation)?;
            // Holding the instance keeps the pin and the artifact (pruned under the same lock) as read here.
            let locked = lock_instance(&tx, id, app, function, instance).await?;
            let row = query_opt(
                &tx,
                "SELECT id, state, artifact FROM task WHERE instance_id = $1 AND generation = $2",
                &[&id, &number],
            )
            .await?;
            let Some(row) = row else {
                return Err(Error::TaskNotExist {
                    instance: instance.to_string(),
                    generation: generation.to_string(),
                });
            };
            let state = task_state(&row.int(0)?, &row.text(1)?)?;
            let artifact = row.opt_text(2)?;
            check_deletable(instance, number, state, locked.opt_int(0)?)?;
            execute(
                &tx,
                "DELETE FROM task WHERE instance_id = $1 AND generation = $2",
                &[&id, &number],
            )
            .await?;
            recompute_serving_generation(&tx, id).await?;
            artifact.map(ArtifactKey::from_stored)
        })
    }

    async fn pin_generation(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: Option<&str>,
        now_ms: i64,
    ) -> Result<Instance> {
        in_transaction!(self, |tx| {
            let id = instance_id(&tx, app, function, instance).await?;
            // Holding the instance keeps the generation as checked below: deletion and pruning take this lock too.
            lock_instance(&tx, id, app, function, instance).await?;
            let pinned = match generation {
                None => None,
                Some(generation) => {
                    let number = parse_generation(instance, generation)?;
                    let row = query_opt(
                        &tx,
                        "SELECT id, state, serve, artifact IS NOT NULL FROM task
                         WHERE instance_id = $1 AND generation = $2",
                        &[&id, &number],
                    )
                    .await?;
                    let Some(row) = row else {
                        return Err(Error::TaskNotExist {
                            instance: instance.to_string(),
                            generation: generation.to_string(),
                        });
                    };
                    let state = task_state(&row.int(0)?, &row.text(1)?)?;
                    check_servable(instance, number, state, row.flag(2)?, row.flag(3)?)?;
                    Some(number)
                }
            };
            execute(
                &tx,
                "UPDATE instance SET pinned_generation = $1, updated_ms = $2 WHERE id = $3",
                &[&pinned, &now_ms, &id],
            )
            .await?;
            recompute_serving_generation(&tx, id).await?;
            load_instance(&tx, id).await?
        })
    }

    async fn cancel_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
        now_ms: i64,
    ) -> Result<Task> {
        in_transaction!(self, |tx| {
            let id = instance_id(&tx, app, function, instance).await?;
            let number = parse_generation(instance, generation)?;
            let row = query_opt(
                &tx,
                "SELECT id FROM task WHERE instance_id = $1 AND generation = $2",
                &[&id, &number],
            )
            .await?;
            let Some(row) = row else {
                return Err(Error::TaskNotExist {
                    instance: instance.to_string(),
                    generation: generation.to_string(),
                });
            };
            let task_id: i64 = get(&row, 0)?;
            // Conditional, so a worker completing the task at the same moment wins or loses as a whole.
            let changed = execute(
                &tx,
                "UPDATE task SET state = 'failed', ended_ms = $1, extend_info = $2, lease_owner = NULL,
                     lease_until_ms = NULL
                 WHERE id = $3 AND state IN ('queued', 'running')",
                &[&now_ms, &cancelled_extend_info(), &task_id],
            )
            .await?;
            if changed == 0 {
                return Err(Error::TaskFinished {
                    instance: instance.to_string(),
                    generation: generation.to_string(),
                });
            }
            load_task(&tx, task_id).await?
        })
    }
}
