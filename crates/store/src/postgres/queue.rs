//! Tasks, worker and scheduler side. Several workers and schedulers share the queue: claims skip rows locked by
//! another claim, and every state change is conditional on the state it leaves (lock order: see `tasks.rs`).

use algocenter_domain::Result;
use algocenter_domain::task::{Trigger, extend_info};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::rows::{artifact_keys, column};
use super::tasks::{active_generation, enqueue, hold_app_group};
use super::{Db, PostgresStore, execute, get, in_transaction, query, query_one, query_opt};
use crate::rules::{SERVE_NEW_GENERATION, beyond_retention, unclaimable};
use crate::stored::StoredRow;
use crate::stored::records::{self, CLAIMED_COLUMNS, DUE_COLUMNS};
use crate::{
    ArtifactKey, ClaimedTask, Completion, CompletionOutcome, DueSchedule, FireOutcome, QueueStore,
};

/// Drops the artifacts of generations beyond retention (see [`beyond_retention`]).
async fn prune_artifacts(
    tx: &impl GenericClient,
    instance_id: i64,
    keep: u32,
) -> Result<Vec<ArtifactKey>> {
    // The instance lock keeps a concurrent pin from choosing a generation pruned here (see `tasks.rs`).
    let row = query_one(
        tx,
        "SELECT serving_generation FROM instance WHERE id = $1 FOR NO KEY UPDATE",
        &[&instance_id],
    )
    .await?;
    let serving: Option<i64> = get(&row, 0)?;
    let rows = query(
        tx,
        "SELECT id, generation, artifact FROM task
         WHERE instance_id = $1 AND state = 'success' AND artifact IS NOT NULL
         ORDER BY generation DESC",
        &[&instance_id],
    )
    .await?;
    let kept = rows
        .iter()
        .map(|row| Ok((row.int(0)?, row.int(1)?, row.text(2)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut pruned = Vec::new();
    for (task_id, artifact) in beyond_retention(kept, serving, keep) {
        execute(
            tx,
            "UPDATE task SET artifact = NULL WHERE id = $1",
            &[&task_id],
        )
        .await?;
        pruned.push(artifact);
    }
    Ok(pruned)
}

/// Ids of changed rows in ascending order (`UPDATE … RETURNING` answers them in no particular order).
fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

#[async_trait]
impl QueueStore for PostgresStore {
    async fn claim_task(
        &self,
        worker: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<ClaimedTask>> {
        // SKIP LOCKED: concurrent workers take different tasks and never wait for each other.
        let sql = format!(
            "WITH claimed AS (
                 UPDATE task SET state = 'running', started_ms = $1, lease_owner = $2, lease_until_ms = $3,
                     step = 'starting'
                 WHERE id = (SELECT id FROM task WHERE state = 'queued' ORDER BY created_ms, id LIMIT 1
                             FOR UPDATE SKIP LOCKED)
                 RETURNING *
             )
             SELECT {CLAIMED_COLUMNS}
             FROM claimed t JOIN instance i ON i.id = t.instance_id JOIN app_group a ON a.id = i.app_id"
        );
        // Committed also when nothing is left to claim: a task failed on the way stays failed.
        in_transaction!(self, |tx| loop {
            let row = query_opt(&tx, &sql, &[&now_ms, &worker, &lease_until_ms]).await?;
            let Some(row) = row else { break None };
            let read = records::claimed_task(&row);
            match unclaimable(&read) {
                None => break Some(read?),
                Some(reason) => {
                    execute(
                        &tx,
                        "UPDATE task SET state = 'failed', ended_ms = $1, extend_info = $2, lease_owner = NULL,
                             lease_until_ms = NULL
                         WHERE id = $3",
                        &[&now_ms, &extend_info(Default::default(), vec![reason]), &row.int(0)?],
                    )
                    .await?;
                }
            }
        })
    }

    async fn heartbeat(
        &self,
        task_id: i64,
        worker: &str,
        progress: i64,
        step: &str,
        lease_until_ms: i64,
    ) -> Result<bool> {
        in_transaction!(self, |tx| {
            let changed = execute(
                &tx,
                "UPDATE task SET progress = greatest(progress, $1), step = $2, lease_until_ms = $3
                 WHERE id = $4 AND state = 'running' AND lease_owner = $5",
                &[
                    &progress.clamp(0, 99),
                    &step,
                    &lease_until_ms,
                    &task_id,
                    &worker,
                ],
            )
            .await?;
            changed == 1
        })
    }

    async fn complete_task(
        &self,
        task_id: i64,
        worker: &str,
        completion: Completion,
        keep_generations: u32,
        now_ms: i64,
    ) -> Result<CompletionOutcome> {
        in_transaction!(self, |tx| {
            // Each update is conditional on the task still being ours: a cancellation or lease expiry committed by
            // another process meanwhile makes it change nothing, and the result is discarded.
            match completion {
                Completion::Success {
                    artifact,
                    metrics,
                    serve,
                } => {
                    let owned = query_opt(
                        &tx,
                        "UPDATE task SET state = 'success', progress = 100, step = 'done', ended_ms = $1,
                             extend_info = $2, artifact = $3, serve = $4, lease_owner = NULL, lease_until_ms = NULL
                         WHERE id = $5 AND state = 'running' AND lease_owner = $6
                         RETURNING instance_id, generation",
                        &[
                            &now_ms,
                            &extend_info(metrics, Vec::new()),
                            &artifact.as_str(),
                            &serve,
                            &task_id,
                            &worker,
                        ],
                    )
                    .await?;
                    let Some(owned) = owned else {
                        return Ok(CompletionOutcome {
                            recorded: false,
                            pruned: Vec::new(),
                        });
                    };
                    let (instance_id, generation): (i64, i64) = (get(&owned, 0)?, get(&owned, 1)?);
                    if serve {
                        execute(&tx, SERVE_NEW_GENERATION, &[&generation, &instance_id]).await?;
                    }
                    let pruned = prune_artifacts(&tx, instance_id, keep_generations).await?;
                    CompletionOutcome {
                        recorded: true,
                        pruned,
                    }
                }
                Completion::Failed { errors, metrics } => {
                    let changed = execute(
                        &tx,
                        "UPDATE task SET state = 'failed', ended_ms = $1, extend_info = $2, lease_owner = NULL,
                             lease_until_ms = NULL
                         WHERE id = $3 AND state = 'running' AND lease_owner = $4",
                        &[&now_ms, &extend_info(metrics, errors), &task_id, &worker],
                    )
                    .await?;
                    CompletionOutcome {
                        recorded: changed == 1,
                        pruned: Vec::new(),
                    }
                }
            }
        })
    }

    async fn fail_expired_tasks(&self, now_ms: i64, reason: &str) -> Result<Vec<i64>> {
        let info = extend_info(Default::default(), vec![reason.to_string()]);
        in_transaction!(self, |tx| {
            // One conditional update: a lease renewed by a heartbeat committed meanwhile is re-checked and kept,
            // and of two processes reconciling at once each task is failed (and reported) by one.
            let expired = column::<i64>(
                &tx,
                "UPDATE task SET state = 'failed', ended_ms = $1, extend_info = $2, lease_owner = NULL,
                     lease_until_ms = NULL
                 WHERE state = 'running' AND lease_until_ms < $1
                 RETURNING id",
                &[&now_ms, &info],
            )
            .await?;
            sorted(expired)
        })
    }

    async fn fail_all_running_tasks(&self, now_ms: i64, reason: &str) -> Result<Vec<i64>> {
        let info = extend_info(Default::default(), vec![reason.to_string()]);
        in_transaction!(self, |tx| {
            let running = column::<i64>(
                &tx,
                "UPDATE task SET state = 'failed', ended_ms = $1, extend_info = $2, lease_owner = NULL,
                     lease_until_ms = NULL
                 WHERE state = 'running'
                 RETURNING id",
                &[&now_ms, &info],
            )
            .await?;
            sorted(running)
        })
    }

    async fn due_schedules(&self, now_ms: i64, limit: u32) -> Result<Vec<DueSchedule>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "SELECT {DUE_COLUMNS} FROM instance i JOIN app_group a ON a.id = i.app_id
                 WHERE i.next_fire_ms IS NOT NULL AND i.next_fire_ms <= $1
                 ORDER BY i.next_fire_ms LIMIT $2"
            ),
            &[&now_ms, &i64::from(limit)],
        )
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            due.extend(records::due_schedule(row)?);
        }
        Ok(due)
    }

    async fn fire_schedule(
        &self,
        due: &DueSchedule,
        next_fire_ms: Option<i64>,
    ) -> Result<FireOutcome> {
        in_transaction!(self, |tx| {
            hold_app_group(&tx, due.instance_id).await?;
            // Moving next_fire_ms only if it still holds the value we read makes firing idempotent across
            // processes: of several schedulers firing the same `due`, exactly one changes the row. The update also
            // locks the instance for the enqueue below (see `tasks.rs`).
            let moved = execute(
                &tx,
                "UPDATE instance SET next_fire_ms = $1 WHERE id = $2 AND next_fire_ms = $3 AND cron = $4",
                &[&next_fire_ms, &due.instance_id, &due.fire_ms, &due.cron],
            )
            .await?;
            if moved == 0 {
                return Ok(FireOutcome::AlreadyHandled);
            }
            if active_generation(&tx, due.instance_id).await?.is_some() {
                // Committed with the move: this firing is consumed although it queues nothing.
                FireOutcome::SkippedActive
            } else {
                let task = enqueue(
                    &tx,
                    due.instance_id,
                    &due.app_group,
                    due.function,
                    &due.instance_name,
                    Trigger::Scheduled,
                    due.fire_ms,
                )
                .await?;
                FireOutcome::Queued(task)
            }
        })
    }

    async fn referenced_artifacts(&self) -> Result<Vec<ArtifactKey>> {
        let client = self.client().await?;
        artifact_keys(
            &client,
            "SELECT artifact FROM task WHERE artifact IS NOT NULL",
            &[],
        )
        .await
    }
}
