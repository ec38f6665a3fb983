//! No task stays `running` after its worker died (DESIGN invariant 3), and no artifact file outlives its record.

use std::collections::HashSet;
use std::sync::Arc;

use algocenter_domain::{Result, now_ms};

use crate::Engine;

pub const ORPHANED_AT_START: &str = "worker lost: algocenter stopped while this task was running; the task was failed when it started again";
pub const LEASE_EXPIRED: &str = "worker lost: its lease expired without a heartbeat";

/// Start-up recovery. With the embedded store this process is the only one, so every `running` task is orphaned
/// and every artifact file the database does not refer to is garbage from an interrupted run.
pub(crate) async fn recover(engine: &Arc<Engine>) -> Result<()> {
    let now = now_ms();
    let failed = if engine.config.exclusive_store {
        engine
            .store
            .fail_all_running_tasks(now, ORPHANED_AT_START)
            .await?
    } else {
        engine.store.fail_expired_tasks(now, LEASE_EXPIRED).await?
    };
    if !failed.is_empty() {
        tracing::warn!(tasks = failed.len(), "failed tasks whose worker was lost");
    }
    if engine.config.exclusive_store {
        let referenced: HashSet<_> = engine
            .store
            .referenced_artifacts()
            .await?
            .into_iter()
            .collect();
        let garbage: Vec<_> = engine
            .artifacts
            .list()
            .await?
            .into_iter()
            .filter(|key| !referenced.contains(key))
            .collect();
        if !garbage.is_empty() {
            tracing::info!(
                files = garbage.len(),
                "removing artifacts no task refers to"
            );
            for key in garbage {
                engine.artifacts.delete(&key).await?;
            }
        }
    }
    Ok(())
}

pub(crate) async fn run(engine: Arc<Engine>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(engine.config.reconcile_every) => {}
            _ = engine.shutting_down() => break,
        }
        match engine
            .store
            .fail_expired_tasks(now_ms(), LEASE_EXPIRED)
            .await
        {
            Ok(failed) if !failed.is_empty() => {
                tracing::warn!(tasks = failed.len(), "failed tasks whose lease expired")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not reconcile expired leases"),
        }
    }
}
