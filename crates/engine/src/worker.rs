//! Workers: claim a queued task, run its function's trainer, record the outcome.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use algocenter_domain::catalogue::{self, ParameterList};
use algocenter_domain::now_ms;
use algocenter_functions::progress::{Level, describe, percent};
use algocenter_functions::{Cancelled, Progress, TrainError, TrainedModel, TrainingJob};
use algocenter_store::{ArtifactKey, ClaimedTask, Completion};
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::Engine;

/// Error recorded when a function has no trainer in this build.
pub const NO_TRAINER: &str = "has no trainer in this algocenter build, so the task cannot train";

pub(crate) async fn run(engine: Arc<Engine>, n: usize) {
    // Unique across restarts and processes, so a lease can never be mistaken for an older one.
    let worker_id = format!("w{n}-{}", uuid::Uuid::new_v4().simple());
    tracing::debug!(worker = %worker_id, "worker started");
    loop {
        if engine.is_shutting_down() {
            break;
        }
        let now = now_ms();
        let lease_until = now + engine.config.lease.as_millis() as i64;
        match engine.store.claim_task(&worker_id, now, lease_until).await {
            Ok(Some(claimed)) => {
                let span = tracing::info_span!(
                    "task",
                    app = %claimed.app_group,
                    function = %claimed.task.function,
                    instance = %claimed.instance_name,
                    generation = claimed.task.generation,
                );
                run_task(&engine, &worker_id, claimed)
                    .instrument(span)
                    .await;
            }
            Ok(None) => {
                tokio::select! {
                    _ = engine.wake.notified() => {}
                    _ = tokio::time::sleep(engine.config.poll) => {}
                    _ = engine.shutting_down() => break,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not claim a task");
                tokio::select! {
                    _ = tokio::time::sleep(engine.config.poll) => {}
                    _ = engine.shutting_down() => break,
                }
            }
        }
    }
    tracing::debug!(worker = %worker_id, "worker stopped");
}

/// Progress shared between the trainer's thread and the heartbeat loop.
struct ProgressCell {
    state: Mutex<(String, u8)>,
    cancelled: AtomicBool,
}

impl ProgressCell {
    fn snapshot(&self) -> (String, u8) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// The trainer's side of the cell: flattens each report's stack of steps into the task's `Step` text and
/// 0–100 `Progress`.
struct Reporter(Arc<ProgressCell>);

impl Progress for Reporter {
    fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled> {
        if self.0.cancelled.load(Ordering::Relaxed) {
            return Err(Cancelled);
        }
        let flattened = (describe(stack), percent(stack));
        *self.0.state.lock().unwrap_or_else(|p| p.into_inner()) = flattened;
        Ok(())
    }
}

/// Why a run stopped early, decided by the heartbeat loop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Interruption {
    None,
    /// The task is no longer ours (cancelled, or reconciled after a lease loss): its result is discarded.
    Lost,
    /// The server is shutting down and the grace period ran out.
    Shutdown,
}

async fn run_task(engine: &Arc<Engine>, worker: &str, claimed: ClaimedTask) {
    let started = Instant::now();
    tracing::info!(run_id = %claimed.task.run_id, "training started");
    let (completion, stored) = train(engine, worker, &claimed).await;
    release_freed_memory();
    let task_id = claimed.task.id;
    let failed = matches!(completion, Completion::Failed { .. });
    engine.serving_change_begins();
    let completed = engine
        .store
        .complete_task(
            task_id,
            worker,
            completion,
            engine.config.keep_generations,
            now_ms(),
        )
        .await;
    engine.serving_change_done();
    match completed {
        Ok(outcome) => {
            if !outcome.recorded {
                tracing::info!(
                    "task was cancelled or reconciled meanwhile; its result is discarded"
                );
                engine.remove_artifacts(stored.into_iter().collect());
            } else if failed {
                tracing::warn!(seconds = started.elapsed().as_secs_f64(), "training failed");
            } else {
                tracing::info!(
                    seconds = started.elapsed().as_secs_f64(),
                    "training succeeded"
                );
            }
            engine.remove_artifacts(outcome.pruned);
        }
        // The lease will expire and the reconciler fails the task; a stored artifact is swept at the next start.
        Err(e) => tracing::error!(error = %e, "could not record the task's outcome"),
    }
}

/// Gives the memory a training run freed back to the system. glibc keeps freed heap in its per-thread arenas,
/// so without this the process stayed at its peak after every run (about 500 MB after training the four query
/// functions on 10 M events, for models of a few MB).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn failed(errors: Vec<String>) -> Completion {
    Completion::Failed {
        errors,
        metrics: Map::new(),
    }
}

/// Runs the trainer and turns its result into a completion; also returns the artifact it stored, if any.
async fn train(
    engine: &Arc<Engine>,
    worker: &str,
    claimed: &ClaimedTask,
) -> (Completion, Option<ArtifactKey>) {
    let function = claimed.task.function;
    let Some(trainer) = engine.trainers.get(function) else {
        return (
            failed(vec![format!("function '{function}' {NO_TRAINER}.")]),
            None,
        );
    };
    let version = match catalogue::version_for_model_type(function, &claimed.model_type) {
        Ok(v) => v,
        Err(e) => return (failed(vec![e.to_string()]), None),
    };
    let resources = match resolve_resources(engine, claimed, version).await {
        Ok(r) => r,
        Err(message) => return (failed(vec![message]), None),
    };
    let cell = Arc::new(ProgressCell {
        state: Mutex::new(("starting".into(), 0)),
        cancelled: AtomicBool::new(false),
    });
    let mut handle = {
        let cell = Arc::clone(&cell);
        let claimed = claimed.clone();
        let parameters = version.effective(ParameterList::Create, &claimed.create_parameters);
        let usage_parameters = version.effective(ParameterList::Usage, &claimed.usage_parameters);
        let store = Arc::clone(&engine.store);
        let now_ms = now_ms();
        tokio::task::spawn_blocking(move || {
            let data = store.training_data(&claimed.app_group).map_err(|e| {
                TrainError::Failed(format!("cannot read the app group's data: {e}"))
            })?;
            let job = TrainingJob {
                app_group: &claimed.app_group,
                instance: &claimed.instance_name,
                function,
                model_type: &claimed.model_type,
                generation: claimed.task.generation,
                parameters: &parameters,
                usage_parameters: &usage_parameters,
                now_ms,
                data: &*data,
                resources: &resources,
            };
            trainer.train(&job, &mut Reporter(cell))
        })
    };

    let started = Instant::now();
    let mut interruption = Interruption::None;
    let joined = heartbeat_until_done(
        engine,
        worker,
        claimed.task.id,
        &cell,
        &mut handle,
        &mut interruption,
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();

    let result = match joined {
        Some(Ok(result)) => result,
        Some(Err(join_error)) => {
            let reason = match join_error.try_into_panic() {
                Ok(payload) => panic_message(payload.as_ref()),
                Err(e) => e.to_string(),
            };
            return (failed(vec![format!("trainer panicked: {reason}")]), None);
        }
        // The trainer ignored the cancellation past the grace period; its thread is abandoned.
        None => return (failed(vec![interrupted_message()]), None),
    };
    match (interruption, result) {
        (Interruption::Shutdown, _) => (failed(vec![interrupted_message()]), None),
        (Interruption::Lost, _) | (_, Err(TrainError::Cancelled)) => {
            (failed(vec!["cancelled".into()]), None)
        }
        (Interruption::None, Err(e)) => (failed(vec![e.to_string()]), None),
        (Interruption::None, Ok(model)) => store_model(engine, claimed, model, seconds).await,
    }
}

/// The contents of the `raw_file` resources the instance's parameters name, by parameter name.
async fn resolve_resources(
    engine: &Arc<Engine>,
    claimed: &ClaimedTask,
    version: &catalogue::FunctionVersion,
) -> Result<BTreeMap<String, String>, String> {
    let parameters = version.effective(ParameterList::Create, &claimed.create_parameters);
    let mut resources = BTreeMap::new();
    for spec in version.create_parameters {
        if !matches!(spec.kind, catalogue::ParamKind::Resource(_)) {
            continue;
        }
        let name = parameters.get(spec.name).map_err(|e| e.to_string())?;
        if name.is_empty() {
            continue;
        }
        let resource = engine
            .store
            .resource(&claimed.app_group, claimed.task.function, name)
            .await
            .map_err(|e| {
                format!(
                    "resource '{name}' named by parameter '{}' could not be read: {e}",
                    spec.name
                )
            })?;
        resources.insert(spec.name.to_string(), resource.data.content);
    }
    Ok(resources)
}

fn interrupted_message() -> String {
    "interrupted: the server shut down before training finished".to_string()
}

/// Persists progress (when it changed) and renews the lease until the trainer returns. Returns `None` when the
/// trainer did not return within the shutdown grace period after being told to stop.
async fn heartbeat_until_done(
    engine: &Arc<Engine>,
    worker: &str,
    task_id: i64,
    cell: &Arc<ProgressCell>,
    handle: &mut tokio::task::JoinHandle<Result<TrainedModel, TrainError>>,
    interruption: &mut Interruption,
) -> Option<Result<Result<TrainedModel, TrainError>, tokio::task::JoinError>> {
    let config = &engine.config;
    let mut tick = tokio::time::interval(config.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let renew_every = config.lease / 3;
    let mut written = ("starting".to_string(), 0u8);
    let mut renewed = Instant::now();
    let mut grace_ends: Option<Instant> = None;
    let mut give_up: Option<Instant> = None;
    loop {
        tokio::select! {
            joined = &mut *handle => return Some(joined),
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        if let Some(deadline) = give_up
            && now >= deadline
        {
            return None;
        }
        if engine.is_shutting_down() && grace_ends.is_none() {
            grace_ends = Some(now + config.shutdown_grace);
        }
        if let Some(deadline) = grace_ends
            && now >= deadline
            && *interruption == Interruption::None
        {
            *interruption = Interruption::Shutdown;
            cell.cancel();
            give_up = Some(now + Duration::from_secs(2));
        }
        if *interruption != Interruption::None {
            continue;
        }
        let current = cell.snapshot();
        if current == written && renewed.elapsed() < renew_every {
            continue;
        }
        let lease_until = now_ms() + config.lease.as_millis() as i64;
        match engine
            .store
            .heartbeat(
                task_id,
                worker,
                i64::from(current.1),
                &current.0,
                lease_until,
            )
            .await
        {
            Ok(true) => {
                written = current;
                renewed = Instant::now();
            }
            Ok(false) => {
                *interruption = Interruption::Lost;
                cell.cancel();
            }
            Err(e) => tracing::warn!(error = %e, "could not persist progress"),
        }
    }
}

async fn store_model(
    engine: &Arc<Engine>,
    claimed: &ClaimedTask,
    model: TrainedModel,
    seconds: f64,
) -> (Completion, Option<ArtifactKey>) {
    let key = ArtifactKey::new(claimed.task.instance_id, claimed.task.generation);
    let size = model.artifact.len();
    if let Err(e) = engine.artifacts.put(&key, model.artifact).await {
        return (
            failed(vec![e.task_reason("could not store the artifact")]),
            None,
        );
    }
    let mut metrics = model.metrics;
    metrics.insert("artifact_bytes".into(), Value::from(size));
    metrics.insert(
        "training_seconds".into(),
        Value::from((seconds * 1000.0).round() / 1000.0),
    );
    metrics.insert(
        "quality_gate_passed".into(),
        Value::from(model.passed_quality_gate),
    );
    let completion = Completion::Success {
        artifact: key.clone(),
        metrics,
        serve: model.passed_quality_gate,
    };
    (completion, Some(key))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use algocenter_functions::progress::{Steps, step};

    fn cell() -> Arc<ProgressCell> {
        Arc::new(ProgressCell {
            state: Mutex::new(("starting".into(), 0)),
            cancelled: AtomicBool::new(false),
        })
    }

    #[test]
    fn a_trainers_steps_reach_the_cell_flattened_and_cancellation_comes_back() {
        let cell = cell();
        let mut reporter = Reporter(Arc::clone(&cell));
        const PLAN: &[algocenter_functions::progress::Step] =
            &[step("reading the query log", 3), step("refitting", 1)];
        let mut steps = Steps::new(&mut reporter, PLAN);
        steps.enter("reading the query log").unwrap();
        steps.count(500, 1000, "events").unwrap();
        assert_eq!(
            cell.snapshot(),
            ("reading the query log: 500 of 1,000 events".to_string(), 37)
        );
        steps.enter("refitting").unwrap();
        assert_eq!(cell.snapshot(), ("refitting".to_string(), 75));
        cell.cancel();
        assert_eq!(steps.finish(), Err(Cancelled));
        assert_eq!(
            cell.snapshot().1,
            75,
            "a cancelled run reports nothing more"
        );
    }

    #[test]
    fn a_hand_typed_percent_is_kept_as_it_was() {
        let cell = cell();
        let mut reporter = Reporter(Arc::clone(&cell));
        reporter.report("fitting", 42).unwrap();
        assert_eq!(cell.snapshot(), ("fitting".to_string(), 42));
    }
}
