//! Persistence of algocenter.
//!
//! One trait per concern ([`AppGroupStore`], [`InstanceStore`], [`ResourceStore`], [`TaskStore`] for the API side
//! of tasks, [`QueueStore`] for workers and the scheduler) and [`ArtifactStore`] for model bytes. The embedded
//! implementation is [`sqlite::SqliteStore`] (one SQLite file in WAL mode) with [`artifacts::LocalArtifacts`]
//! (files under `artifacts/`). Everything above this crate talks to the traits only.
//!
//! The backends share what is not SQL: `stored` is the one checked path from rows back to domain values (stored
//! state that does not decode is refused as `Storage.Corrupt`, never read as a default), and `rules` holds the
//! rules both apply (active tasks, deletion and pinning checks, retention, the last admin key, push summaries).
//! Running out of space is `Storage.Full` whichever store hits it; an unreachable database or object store is
//! `ServiceUnavailable` (503, retryable).
//!
//! [`access_state::AccessState`] is what the API nodes of one shared database remember together between requests
//! (nonces, rate buckets, dashboard sessions); only PostgreSQL implements it.

pub mod access_state;
pub mod artifacts;
#[cfg(test)]
mod conformance;
mod event_block;
pub mod postgres;
mod rules;
pub mod s3_artifacts;
pub mod small_disk;
pub mod sqlite;
mod stored;

use algocenter_domain::access_key::AccessKey;
use algocenter_domain::app_group::{AppGroup, NewAppGroup};
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::data::{TrainingData, WindowCounts};
use algocenter_domain::document::{Document, DocumentKind, DocumentOp};
use algocenter_domain::instance::{Instance, InstanceFilter, InstanceUpdate, NewInstance};
use algocenter_domain::paging::Page;
use algocenter_domain::query_rule::{QueryAnalysisRule, RuleSpec};
use algocenter_domain::resource::{NewResource, Resource, ResourceData, ResourceType};
use algocenter_domain::task::{Task, TaskFilter, Trigger};
use algocenter_domain::{Function, Result};
use async_trait::async_trait;
use serde_json::{Map, Value};

pub use artifacts::{ArtifactKey, ArtifactStore};

#[async_trait]
pub trait AppGroupStore: Send + Sync {
    async fn create_app_group(&self, new: NewAppGroup, now_ms: i64) -> Result<AppGroup>;
    /// By name or by numeric id (`appGroupIdentity` may be either).
    async fn app_group(&self, identity: &str) -> Result<AppGroup>;
    async fn list_app_groups(
        &self,
        name: Option<String>,
        app_type: Option<String>,
        page: Page,
    ) -> Result<(Vec<AppGroup>, u64)>;
    /// Deletes the app group with its instances, tasks and resources; refused while a task is queued or running.
    /// Returns the artifacts to remove.
    async fn delete_app_group(&self, identity: &str) -> Result<Vec<ArtifactKey>>;
}

#[async_trait]
pub trait InstanceStore: Send + Sync {
    async fn create_instance(&self, app: &str, new: NewInstance, now_ms: i64) -> Result<Instance>;
    async fn instance(&self, app: &str, function: Function, name: &str) -> Result<Instance>;
    async fn list_instances(
        &self,
        app: &str,
        function: Function,
        filter: InstanceFilter,
        page: Page,
    ) -> Result<(Vec<Instance>, u64)>;
    async fn update_instance(
        &self,
        app: &str,
        function: Function,
        name: &str,
        update: InstanceUpdate,
        now_ms: i64,
    ) -> Result<Instance>;
    /// Refused (`Task.IsRunning`) while a task of the instance is queued or running. Clears the default instance
    /// if it was this one. Returns the artifacts to remove.
    async fn delete_instance(
        &self,
        app: &str,
        function: Function,
        name: &str,
    ) -> Result<Vec<ArtifactKey>>;
    async fn default_instance(&self, app: &str, function: Function) -> Result<String>;
    /// `None` clears the default.
    async fn set_default_instance(
        &self,
        app: &str,
        function: Function,
        name: Option<String>,
    ) -> Result<()>;
}

#[async_trait]
pub trait ResourceStore: Send + Sync {
    async fn create_resource(
        &self,
        app: &str,
        function: Function,
        new: NewResource,
        now_ms: i64,
    ) -> Result<()>;
    async fn resource(&self, app: &str, function: Function, name: &str) -> Result<Resource>;
    async fn list_resources(
        &self,
        app: &str,
        function: Function,
        resource_type: Option<ResourceType>,
        page: Page,
    ) -> Result<(Vec<Resource>, u64)>;
    /// Replaces `Description` and/or `Data` (`None` keeps the stored value). The caller has checked `data` against
    /// the resource's type, which never changes.
    async fn update_resource(
        &self,
        app: &str,
        function: Function,
        name: &str,
        description: Option<String>,
        data: Option<ResourceData>,
        now_ms: i64,
    ) -> Result<()>;
    /// Refused (`Resource.InUse`) while an instance names the resource.
    async fn delete_resource(&self, app: &str, function: Function, name: &str) -> Result<()>;
}

/// The task operations of the function API.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Queues a run: allocates the next generation in the same transaction; `Task.IsRunning` when the instance
    /// already has a queued or running task.
    async fn enqueue_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        trigger: Trigger,
        now_ms: i64,
    ) -> Result<Task>;
    async fn task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<Task>;
    async fn list_tasks(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        filter: TaskFilter,
        page: Page,
    ) -> Result<(Vec<Task>, u64)>;
    /// Task records by function and state, for monitoring.
    async fn task_counts(&self) -> Result<Vec<TaskCount>>;
    /// `(function, EndTime − StartTime in ms)` of every stored successful task, for monitoring.
    async fn training_times(&self) -> Result<Vec<(String, i64)>>;
    /// Removes a finished generation's record; returns its artifact to remove. Refuses active tasks.
    async fn delete_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<Option<ArtifactKey>>;
    /// Pins the serving generation to `generation` (which must have succeeded, passed its gate and kept its
    /// artifact: `Task.NotServable` otherwise), or unpins with `None` (the newest servable generation serves).
    /// While pinned, newly trained generations do not serve and the pinned one cannot be deleted.
    async fn pin_generation(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: Option<&str>,
        now_ms: i64,
    ) -> Result<Instance>;
    /// Ends a queued or running task as `failed` with `errors: ["cancelled"]` (the worker notices and stops).
    async fn cancel_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
        now_ms: i64,
    ) -> Result<Task>;
}

/// A task a worker has claimed, with what its trainer needs to know about the instance.
#[derive(Clone, Debug)]
pub struct ClaimedTask {
    pub task: Task,
    pub app_group: String,
    pub instance_name: String,
    pub model_type: String,
    pub create_parameters: Vec<Parameter>,
    pub usage_parameters: Vec<Parameter>,
}

/// How a claimed task ended.
pub enum Completion {
    Success {
        artifact: ArtifactKey,
        metrics: Map<String, Value>,
        /// Whether the generation passed its quality gate and becomes the serving generation.
        serve: bool,
    },
    Failed {
        errors: Vec<String>,
        metrics: Map<String, Value>,
    },
}

/// What [`QueueStore::complete_task`] did.
#[derive(Debug, Default)]
pub struct CompletionOutcome {
    /// False when the task was no longer ours (cancelled or reconciled meanwhile): the result was discarded.
    pub recorded: bool,
    /// Older artifacts that fell out of retention and are to be removed.
    pub pruned: Vec<ArtifactKey>,
}

/// An instance whose cron is due.
#[derive(Clone, Debug)]
pub struct DueSchedule {
    pub instance_id: i64,
    pub app_group: String,
    pub function: Function,
    pub instance_name: String,
    pub cron: String,
    pub fire_ms: i64,
}

#[derive(Debug)]
pub enum FireOutcome {
    Queued(Task),
    /// The instance already had an active task: this firing is skipped.
    SkippedActive,
    /// Another node fired it first, or the schedule changed meanwhile.
    AlreadyHandled,
}

/// The worker and scheduler side of tasks.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Claims the oldest queued task, marking it running under a lease.
    async fn claim_task(
        &self,
        worker: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<ClaimedTask>>;
    /// Records progress and extends the lease; false when the task is no longer held by `worker`.
    async fn heartbeat(
        &self,
        task_id: i64,
        worker: &str,
        progress: i64,
        step: &str,
        lease_until_ms: i64,
    ) -> Result<bool>;
    async fn complete_task(
        &self,
        task_id: i64,
        worker: &str,
        completion: Completion,
        keep_generations: u32,
        now_ms: i64,
    ) -> Result<CompletionOutcome>;
    /// Fails running tasks whose lease expired before `now_ms` (DESIGN invariant 3). Returns their ids.
    async fn fail_expired_tasks(&self, now_ms: i64, reason: &str) -> Result<Vec<i64>>;
    /// Fails every running task: used at start-up of the embedded store, where no other process can hold a lease.
    async fn fail_all_running_tasks(&self, now_ms: i64, reason: &str) -> Result<Vec<i64>>;
    async fn due_schedules(&self, now_ms: i64, limit: u32) -> Result<Vec<DueSchedule>>;
    /// Fires `due` once: moves the instance's next firing to `next_fire_ms` and queues a `scheduled__` run unless
    /// one is active. Idempotent: a second call with the same `due` answers `AlreadyHandled`.
    async fn fire_schedule(
        &self,
        due: &DueSchedule,
        next_fire_ms: Option<i64>,
    ) -> Result<FireOutcome>;
    /// Every artifact key the database refers to (for removing files left by a crash).
    async fn referenced_artifacts(&self) -> Result<Vec<ArtifactKey>>;
}

/// What [`EventStore::append_events`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    pub stored: usize,
    /// Events already stored (same user, `rn`, item, behaviour type and time), not stored again.
    pub duplicates: usize,
}

/// Events stored on one day, by behaviour type.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayCounts {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub events: std::collections::BTreeMap<String, u64>,
}

/// What an app group's data looks like over a window.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DataStatus {
    pub days: Vec<DayCounts>,
    pub totals: WindowCounts,
    /// Estimates (HyperLogLog, about 2 % error).
    pub distinct_users: u64,
    pub distinct_queries: u64,
    /// Documents stored (not windowed).
    pub items: u64,
    pub users: u64,
}

/// How many task records of one function are in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskCount {
    pub function: String,
    /// `queued`, `running`, `success` or `failed`.
    pub state: String,
    pub tasks: u64,
}

/// Behaviour events, items and users.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores the events that are not stored yet, durably, in one transaction.
    async fn append_events(&self, app: &str, events: Vec<BehaviourEvent>) -> Result<AppendOutcome>;
    /// Applies item or user commands in order; returns how many were applied.
    async fn apply_documents(
        &self,
        app: &str,
        kind: DocumentKind,
        ops: Vec<DocumentOp>,
        now_ms: i64,
    ) -> Result<usize>;
    /// The stored documents of `kind` among `ids`, in the order of `ids`; ids not stored are left out.
    async fn documents(
        &self,
        app: &str,
        kind: DocumentKind,
        ids: Vec<String>,
    ) -> Result<Vec<Document>>;
    /// Counts of the window `[from_ms, to_ms)`, by day.
    async fn data_status(&self, app: &str, from_ms: i64, to_ms: i64) -> Result<DataStatus>;
    /// Behaviour events stored, all app groups.
    async fn events_stored(&self) -> Result<u64>;
    /// Deletes events older than `cutoff_ms` (whole blocks and days); returns the number of events deleted.
    async fn delete_events_before(&self, cutoff_ms: i64) -> Result<u64>;
    /// A reader of one app group's data for a trainer. Blocking: call it on a blocking thread.
    fn training_data(&self, app: &str) -> Result<Box<dyn TrainingData>>;
}

/// Access keys. Secrets are stored sealed (see `algocenter-auth`): this store never sees one in clear.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// `AccessKey.Duplicated` when the id exists (also revoked).
    async fn create_key(&self, key: AccessKey, sealed_secret: Vec<u8>) -> Result<()>;
    /// The key and its sealed secret, revoked ones included.
    async fn key(&self, id: &str) -> Result<Option<(AccessKey, Vec<u8>)>>;
    async fn list_keys(&self) -> Result<Vec<AccessKey>>;
    /// Revokes a key; refuses (`AccessKey.LastAdmin`) to revoke the last active admin key for all app groups,
    /// which would lock everyone out.
    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<AccessKey>;
    /// Whether any key was ever created (first start creates the bootstrap admin key).
    async fn has_keys(&self) -> Result<bool>;
}

/// Query-analysis rules (an extension resource of an app group).
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Creates or replaces a rule (at most [`algocenter_domain::query_rule::MAX_RULES`] per app group). A default
    /// rule stops the previous default being one, in the same transaction.
    async fn put_rule(
        &self,
        app: &str,
        name: &str,
        spec: RuleSpec,
        now_ms: i64,
    ) -> Result<QueryAnalysisRule>;
    async fn rule(&self, app: &str, name: &str) -> Result<QueryAnalysisRule>;
    /// The app group's default rule (`QueryAnalysisRule.NotExist` when none is).
    async fn default_rule(&self, app: &str) -> Result<QueryAnalysisRule>;
    /// Every rule of the app group, by name.
    async fn list_rules(&self, app: &str) -> Result<Vec<QueryAnalysisRule>>;
    async fn delete_rule(&self, app: &str, name: &str) -> Result<()>;
}

/// Everything the service needs from one backend.
pub trait Store:
    AppGroupStore
    + InstanceStore
    + ResourceStore
    + TaskStore
    + QueueStore
    + EventStore
    + KeyStore
    + RuleStore
{
}

impl<T> Store for T where
    T: AppGroupStore
        + InstanceStore
        + ResourceStore
        + TaskStore
        + QueueStore
        + EventStore
        + KeyStore
        + RuleStore
{
}
