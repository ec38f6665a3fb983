//! Fires instance crons. Each due instance is fired once per scheduled time, idempotently (the store moves the
//! instance's next firing only if it still holds the value read), so several processes may run this loop.
//! A firing missed while algocenter was down fires once at start-up; the next one is the first after now.

use std::sync::Arc;

use algocenter_domain::now_ms;
use algocenter_domain::schedule::Schedule;
use algocenter_store::{DueSchedule, FireOutcome};

use crate::Engine;

/// Most instances fired per pass.
const BATCH: u32 = 100;

pub(crate) async fn run(engine: Arc<Engine>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(engine.config.schedule_every) => {}
            _ = engine.shutting_down() => break,
        }
        fire_due(&engine).await;
    }
}

/// One pass over the due schedules.
pub async fn fire_due(engine: &Arc<Engine>) {
    let now = now_ms();
    let due = match engine.store.due_schedules(now, BATCH).await {
        Ok(due) => due,
        Err(e) => {
            tracing::error!(error = %e, "could not read due schedules");
            return;
        }
    };
    for schedule in due {
        fire(engine, &schedule, now).await;
    }
}

async fn fire(engine: &Arc<Engine>, due: &DueSchedule, now: i64) {
    let next = match Schedule::parse(&due.cron) {
        Ok(Some(schedule)) => schedule.next_after_ms(now.max(due.fire_ms)),
        Ok(None) => None,
        Err(e) => {
            // Crons are validated on write, so this is an old or hand-edited row: stop firing it, loudly.
            tracing::error!(instance = %due.instance_name, cron = %due.cron, error = %e, "unreadable cron; schedule stopped");
            None
        }
    };
    match engine.store.fire_schedule(due, next).await {
        Ok(FireOutcome::Queued(task)) => {
            tracing::info!(
                app = %due.app_group, function = %due.function, instance = %due.instance_name,
                generation = task.generation, run_id = %task.run_id, "cron queued a run"
            );
            engine.wake.notify_one();
        }
        Ok(FireOutcome::SkippedActive) => tracing::warn!(
            app = %due.app_group, function = %due.function, instance = %due.instance_name,
            "cron firing skipped: the instance already has a task queued or running"
        ),
        Ok(FireOutcome::AlreadyHandled) => {}
        Err(e) => tracing::error!(instance = %due.instance_name, error = %e, "could not fire cron"),
    }
}
