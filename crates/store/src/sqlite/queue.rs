use algocenter_domain::Result;
use algocenter_domain::task::{Trigger, extend_info};
use async_trait::async_trait;
use rusqlite::{Transaction, params};

use super::rows::{artifact_keys, column, query, query_one, query_opt};
use super::tasks::{active_generation, enqueue};
use super::{Db, SqliteStore};
use crate::rules::{SERVE_NEW_GENERATION, beyond_retention, unclaimable};
use crate::stored::records::{self, CLAIMED_COLUMNS, DUE_COLUMNS};
use crate::{
    ArtifactKey, ClaimedTask, Completion, CompletionOutcome, DueSchedule, FireOutcome, QueueStore,
};

/// Fails the given running tasks with `reason` as their only error.
fn fail_tasks(tx: &Transaction<'_>, ids: &[i64], now_ms: i64, reason: &str) -> Result<()> {
    let info = extend_info(Default::default(), vec![reason.to_string()]);
    for id in ids {
        tx.execute(
            "UPDATE task SET state = 'failed', ended_ms = ?1, extend_info = ?2, lease_owner = NULL,
                 lease_until_ms = NULL
             WHERE id = ?3 AND state = 'running'",
            params![now_ms, info, id],
        )
        .db()?;
    }
    Ok(())
}

/// Drops the artifacts of generations beyond retention (see [`beyond_retention`]).
fn prune_artifacts(tx: &Transaction<'_>, instance_id: i64, keep: u32) -> Result<Vec<ArtifactKey>> {
    let serving = query_one(
        tx,
        "SELECT serving_generation FROM instance WHERE id = ?1",
        [instance_id],
        |r| r.opt_int(0),
    )?;
    let kept = query(
        tx,
        "SELECT id, generation, artifact FROM task
         WHERE instance_id = ?1 AND state = 'success' AND artifact IS NOT NULL
         ORDER BY generation DESC",
        [instance_id],
        |r| Ok((r.int(0)?, r.int(1)?, r.text(2)?)),
    )?;
    let mut pruned = Vec::new();
    for (task_id, artifact) in beyond_retention(kept, serving, keep) {
        tx.execute("UPDATE task SET artifact = NULL WHERE id = ?1", [task_id])
            .db()?;
        pruned.push(artifact);
    }
    Ok(pruned)
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn claim_task(
        &self,
        worker: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<ClaimedTask>> {
        let worker = worker.to_string();
        self.write(move |tx| loop {
            let next = query_opt(
                tx,
                "SELECT id FROM task WHERE state = 'queued' ORDER BY created_ms, id LIMIT 1",
                [],
                |r| r.int(0),
            )?;
            let Some(task_id) = next else { return Ok(None) };
            tx.execute(
                "UPDATE task SET state = 'running', started_ms = ?1, lease_owner = ?2, lease_until_ms = ?3,
                     step = 'starting'
                 WHERE id = ?4",
                params![now_ms, worker, lease_until_ms, task_id],
            )
            .db()?;
            let read = query_one(
                tx,
                &format!(
                    "SELECT {CLAIMED_COLUMNS} FROM task t JOIN instance i ON i.id = t.instance_id
                     JOIN app_group a ON a.id = i.app_id WHERE t.id = ?1"
                ),
                [task_id],
                records::claimed_task,
            );
            match unclaimable(&read) {
                Some(reason) => fail_tasks(tx, &[task_id], now_ms, &reason)?,
                None => return read.map(Some),
            }
        })
        .await
    }

    async fn heartbeat(
        &self,
        task_id: i64,
        worker: &str,
        progress: i64,
        step: &str,
        lease_until_ms: i64,
    ) -> Result<bool> {
        let (worker, step) = (worker.to_string(), step.to_string());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE task SET progress = max(progress, ?1), step = ?2, lease_until_ms = ?3
                     WHERE id = ?4 AND state = 'running' AND lease_owner = ?5",
                    params![progress.clamp(0, 99), step, lease_until_ms, task_id, worker],
                )
                .db()?;
            Ok(changed == 1)
        })
        .await
    }

    async fn complete_task(
        &self,
        task_id: i64,
        worker: &str,
        completion: Completion,
        keep_generations: u32,
        now_ms: i64,
    ) -> Result<CompletionOutcome> {
        let worker = worker.to_string();
        self.write(move |tx| {
            let owned = query_opt(
                tx,
                "SELECT instance_id, generation FROM task WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
                params![task_id, worker],
                |r| Ok((r.int(0)?, r.int(1)?)),
            )?;
            let Some((instance_id, generation)) = owned else {
                return Ok(CompletionOutcome { recorded: false, pruned: Vec::new() });
            };
            match completion {
                Completion::Success { artifact, metrics, serve } => {
                    tx.execute(
                        "UPDATE task SET state = 'success', progress = 100, step = 'done', ended_ms = ?1,
                             extend_info = ?2, artifact = ?3, serve = ?4, lease_owner = NULL, lease_until_ms = NULL
                         WHERE id = ?5",
                        params![now_ms, extend_info(metrics, Vec::new()), artifact.as_str(), serve as i64, task_id],
                    )
                    .db()?;
                    if serve {
                        tx.execute(SERVE_NEW_GENERATION, params![generation, instance_id]).db()?;
                    }
                    let pruned = prune_artifacts(tx, instance_id, keep_generations)?;
                    Ok(CompletionOutcome { recorded: true, pruned })
                }
                Completion::Failed { errors, metrics } => {
                    tx.execute(
                        "UPDATE task SET state = 'failed', ended_ms = ?1, extend_info = ?2, lease_owner = NULL,
                             lease_until_ms = NULL
                         WHERE id = ?3",
                        params![now_ms, extend_info(metrics, errors), task_id],
                    )
                    .db()?;
                    Ok(CompletionOutcome { recorded: true, pruned: Vec::new() })
                }
            }
        })
        .await
    }

    async fn fail_expired_tasks(&self, now_ms: i64, reason: &str) -> Result<Vec<i64>> {
        let reason = reason.to_string();
        self.write(move |tx| {
            let expired = column::<i64>(
                tx,
                "SELECT id FROM task WHERE state = 'running' AND lease_until_ms < ?1",
                [now_ms],
            )?;
            fail_tasks(tx, &expired, now_ms, &reason)?;
            Ok(expired)
        })
        .await
    }

    async fn fail_all_running_tasks(&self, now_ms: i64, reason: &str) -> Result<Vec<i64>> {
        let reason = reason.to_string();
        self.write(move |tx| {
            let running = column::<i64>(tx, "SELECT id FROM task WHERE state = 'running'", [])?;
            fail_tasks(tx, &running, now_ms, &reason)?;
            Ok(running)
        })
        .await
    }

    async fn due_schedules(&self, now_ms: i64, limit: u32) -> Result<Vec<DueSchedule>> {
        self.read(move |conn| {
            let due = query(
                conn,
                &format!(
                    "SELECT {DUE_COLUMNS} FROM instance i JOIN app_group a ON a.id = i.app_id
                     WHERE i.next_fire_ms IS NOT NULL AND i.next_fire_ms <= ?1
                     ORDER BY i.next_fire_ms LIMIT ?2"
                ),
                params![now_ms, limit],
                records::due_schedule,
            )?;
            Ok(due.into_iter().flatten().collect())
        })
        .await
    }

    async fn fire_schedule(
        &self,
        due: &DueSchedule,
        next_fire_ms: Option<i64>,
    ) -> Result<FireOutcome> {
        let due = due.clone();
        self.write(move |tx| {
            // Moving next_fire_ms only if it still holds the value we read makes firing idempotent.
            let moved = tx
                .execute(
                    "UPDATE instance SET next_fire_ms = ?1 WHERE id = ?2 AND next_fire_ms = ?3 AND cron = ?4",
                    params![next_fire_ms, due.instance_id, due.fire_ms, due.cron],
                )
                .db()?;
            if moved == 0 {
                return Ok(FireOutcome::AlreadyHandled);
            }
            if active_generation(tx, due.instance_id)?.is_some() {
                return Ok(FireOutcome::SkippedActive);
            }
            let task = enqueue(
                tx,
                due.instance_id,
                &due.app_group,
                due.function,
                &due.instance_name,
                Trigger::Scheduled,
                due.fire_ms,
            )?;
            Ok(FireOutcome::Queued(task))
        })
        .await
    }

    async fn referenced_artifacts(&self) -> Result<Vec<ArtifactKey>> {
        self.read(|conn| {
            artifact_keys(
                conn,
                "SELECT artifact FROM task WHERE artifact IS NOT NULL",
                [],
            )
        })
        .await
    }
}
