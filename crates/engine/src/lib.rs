//! The task engine: turns queued tasks into trained generations.
//!
//! * The **queue** is the `task` table (see `algocenter-store`): CreateFunctionTask and cron firings insert rows,
//!   workers claim them under a lease.
//! * **Workers** ([`worker`]) run a function's trainer on the blocking pool, persist its progress (throttled) while
//!   renewing the lease, store the artifact and record the outcome.
//! * The **scheduler** ([`scheduler`]) fires instance crons.
//! * The **reconciler** ([`reconciler`]) makes sure no task stays `running` after its worker died (DESIGN
//!   invariant 3): at start-up of the embedded store every `running` task is failed (no other process can hold it),
//!   and periodically tasks whose lease expired are failed. Failed, not re-queued: a run that died once is
//!   reported, and the next trigger or cron firing starts a new generation.

pub mod reconciler;
mod retention;
pub mod scheduler;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use algocenter_domain::task::{Task, Trigger};
use algocenter_domain::{Function, Result, now_ms};
use algocenter_functions::Trainers;
use algocenter_store::{ArtifactStore, Store};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Tasks trained at the same time by this process (0: this process trains nothing).
    pub workers: usize,
    /// How long a claimed task stays ours without a heartbeat.
    pub lease: Duration,
    /// How often progress is persisted (when it changed) and the lease renewed.
    pub heartbeat: Duration,
    /// How often idle workers look for queued tasks they were not woken for (other processes' tasks).
    pub poll: Duration,
    /// How often expired leases are reconciled.
    pub reconcile_every: Duration,
    /// How often crons are checked.
    pub schedule_every: Duration,
    /// Successful generations whose artifacts are kept, besides the serving one.
    pub keep_generations: u32,
    /// Time running tasks get to finish on shutdown before they are failed.
    pub shutdown_grace: Duration,
    /// Behaviour events older than this many days are deleted.
    pub event_retention_days: u32,
    /// How often the event retention runs.
    pub retention_every: Duration,
    /// True for the embedded store: this process is the only one, so any `running` task found at start-up is
    /// orphaned and any artifact file the database does not know is garbage.
    pub exclusive_store: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 1,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_millis(500),
            poll: Duration::from_secs(2),
            reconcile_every: Duration::from_secs(10),
            schedule_every: Duration::from_secs(1),
            keep_generations: 3,
            shutdown_grace: Duration::from_secs(30),
            event_retention_days: 30,
            retention_every: Duration::from_secs(3600),
            exclusive_store: true,
        }
    }
}

/// Shared state of the engine's loops.
pub struct Engine {
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactStore>,
    trainers: Trainers,
    config: EngineConfig,
    /// Wakes an idle worker when a task is queued by this process.
    wake: Notify,
    shutdown: watch::Sender<bool>,
    /// Bumped whenever this process changes what serves (a generation recorded); serving drops the instances it
    /// remembered when it moves.
    serving_epoch: Arc<AtomicU64>,
}

/// The running loops; [`EngineHandle::shutdown`] stops them.
pub struct EngineHandle {
    engine: Arc<Engine>,
    loops: JoinSet<()>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        artifacts: Arc<dyn ArtifactStore>,
        trainers: Trainers,
        config: EngineConfig,
    ) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Engine {
            store,
            artifacts,
            trainers,
            config,
            wake: Notify::new(),
            shutdown,
            serving_epoch: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Recovers from whatever the last process left, then starts workers, scheduler and reconciler.
    pub async fn start(self: &Arc<Self>) -> Result<EngineHandle> {
        reconciler::recover(self).await?;
        let mut loops = JoinSet::new();
        for n in 0..self.config.workers {
            let engine = Arc::clone(self);
            loops.spawn(async move { worker::run(engine, n).await });
        }
        let engine = Arc::clone(self);
        loops.spawn(async move { scheduler::run(engine).await });
        let engine = Arc::clone(self);
        loops.spawn(async move { reconciler::run(engine).await });
        let engine = Arc::clone(self);
        loops.spawn(async move { retention::run(engine).await });
        Ok(EngineHandle {
            engine: Arc::clone(self),
            loops,
        })
    }

    /// CreateFunctionTask: queues a run and wakes a worker.
    pub async fn create_task(&self, app: &str, function: Function, instance: &str) -> Result<Task> {
        if self.is_shutting_down() {
            return Err(algocenter_domain::Error::ShuttingDown);
        }
        let task = self
            .store
            .enqueue_task(app, function, instance, Trigger::Manual, now_ms())
            .await?;
        self.wake.notify_one();
        Ok(task)
    }

    /// Cancels a queued or running task; a running trainer is told at its next progress report.
    pub async fn cancel_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<Task> {
        self.store
            .cancel_task(app, function, instance, generation, now_ms())
            .await
    }

    /// Pins the serving generation of an instance (or unpins with `None`); serving switches at once.
    pub async fn pin_generation(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: Option<&str>,
    ) -> Result<algocenter_domain::instance::Instance> {
        // A guard, because the request (and this future) may be dropped while the store commits.
        struct ChangeInFlight<'a>(&'a Engine);
        impl Drop for ChangeInFlight<'_> {
            fn drop(&mut self) {
                self.0.serving_change_done();
            }
        }
        self.serving_change_begins();
        let _done = ChangeInFlight(self);
        self.store
            .pin_generation(app, function, instance, generation, now_ms())
            .await
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn artifacts(&self) -> &Arc<dyn ArtifactStore> {
        &self.artifacts
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The counter serving watches to forget what it remembered of instances (see [`Engine::serving_changed`]).
    pub fn serving_epoch(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.serving_epoch)
    }

    /// Tells serving that instances changed (a generation recorded, an instance or default updated or deleted).
    pub fn serving_changed(&self) {
        self.serving_epoch.fetch_add(1, Ordering::Release);
    }

    /// A change of serving state is about to be committed: serving reads the store, not its memory, until
    /// [`Engine::serving_change_done`].
    pub(crate) fn serving_change_begins(&self) {
        self.serving_epoch.fetch_add(
            algocenter_domain::instance::SERVING_CHANGE_IN_FLIGHT,
            Ordering::AcqRel,
        );
    }

    /// The change announced by [`Engine::serving_change_begins`] is committed (or failed).
    pub(crate) fn serving_change_done(&self) {
        self.serving_epoch.fetch_add(1, Ordering::AcqRel);
        self.serving_epoch.fetch_sub(
            algocenter_domain::instance::SERVING_CHANGE_IN_FLIGHT,
            Ordering::AcqRel,
        );
    }

    /// Stops claiming and refuses new tasks; running tasks get the grace period. [`EngineHandle::shutdown`]
    /// waits for the end.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
        self.wake.notify_waiters();
    }

    fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves once shutdown has begun.
    async fn shutting_down(&self) {
        let mut rx = self.shutdown.subscribe();
        // An error means the sender is gone, which only happens when the engine is dropped.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Removes artifacts in the background, logging failures (a leftover file is swept at the next start).
    fn remove_artifacts(self: &Arc<Self>, keys: Vec<algocenter_store::ArtifactKey>) {
        if keys.is_empty() {
            return;
        }
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            for key in keys {
                if let Err(e) = engine.artifacts.delete(&key).await {
                    tracing::warn!(artifact = %key, error = %e, "could not remove artifact");
                }
            }
        });
    }

    /// Removes artifacts the API layer released (deleted tasks, instances, app groups).
    pub fn release_artifacts(self: &Arc<Self>, keys: Vec<algocenter_store::ArtifactKey>) {
        self.remove_artifacts(keys);
    }
}

impl EngineHandle {
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Stops taking work, gives running tasks `shutdown_grace` to finish, fails those still running, and waits
    /// for the loops to end.
    pub async fn shutdown(mut self) {
        self.engine.begin_shutdown();
        while self.loops.join_next().await.is_some() {}
    }
}
