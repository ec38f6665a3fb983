//! Instances: named configurations of one function in one app group.

use crate::catalogue::Parameter;
use crate::function::Function;
use crate::task::TaskState;

/// Longest instance description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub id: i64,
    pub app_group: String,
    pub function: Function,
    pub name: String,
    pub model_type: String,
    pub function_type: String,
    pub description: String,
    /// Empty: no periodic training.
    pub cron: String,
    pub version_id: i64,
    pub create_parameters: Vec<Parameter>,
    pub usage_parameters: Vec<Parameter>,
    /// The generation whose artifact answers queries (DESIGN: serving generation).
    pub serving_generation: Option<i64>,
    /// Set by an operator: this generation serves until unpinned, whatever newer generations train.
    pub pinned_generation: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The newest task of the instance, if any (for `Task{DagStatus, LastRunTime}` and `ExtendInfo`).
    pub last_task: Option<LastTask>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LastTask {
    pub generation: i64,
    pub state: TaskState,
    pub run_time_ms: i64,
    pub extend_info: String,
}

impl Instance {
    /// `available` once a generation is serving (DESIGN invariant 6).
    pub fn status(&self) -> &'static str {
        if self.serving_generation.is_some() {
            "available"
        } else {
            "unavailable"
        }
    }

    /// `Task.DagStatus` of GetFunctionInstance (`output=detail`).
    pub fn dag_status(&self) -> &'static str {
        match &self.last_task {
            None => "untrained",
            Some(t) => match t.state {
                TaskState::Queued => "pending",
                TaskState::Running => "running",
                TaskState::Success => "success",
                TaskState::Failed => "failed",
            },
        }
    }
}

/// A validated CreateFunctionInstance request.
#[derive(Clone, Debug)]
pub struct NewInstance {
    pub function: Function,
    pub name: String,
    pub model_type: String,
    pub function_type: String,
    pub description: String,
    pub cron: String,
    pub version_id: i64,
    pub create_parameters: Vec<Parameter>,
    pub usage_parameters: Vec<Parameter>,
    /// `(parameter, resource)` pairs the parameters refer to; each resource must exist.
    pub resource_refs: Vec<(String, String)>,
    /// First cron firing (epoch ms), when `cron` is set.
    pub next_fire_ms: Option<i64>,
}

/// A validated UpdateFunctionInstance request. `None` keeps the stored value; a present list replaces the stored
/// list as a whole (so `[]` clears it); `cron: Some("")` removes the schedule.
#[derive(Clone, Debug, Default)]
pub struct InstanceUpdate {
    pub description: Option<String>,
    pub cron: Option<String>,
    pub next_fire_ms: Option<Option<i64>>,
    pub create_parameters: Option<Vec<Parameter>>,
    pub usage_parameters: Option<Vec<Parameter>>,
    /// Replaces the instance's resource references when `create_parameters` or `usage_parameters` change.
    pub resource_refs: Option<Vec<(String, String)>>,
}

/// Filters of ListFunctionInstances.
#[derive(Clone, Debug, Default)]
pub struct InstanceFilter {
    pub model_type: Option<String>,
    pub function_type: Option<String>,
    /// `false` when `source=builtin`: algocenter has no built-in instances, so the list is empty.
    pub include_user: bool,
}

/// The serving epoch is an `AtomicU64` shared by the engine and serving. Its low bits count changes of serving
/// state (a generation recorded, an instance changed); while a change is being committed it also holds this much,
/// so that serving neither trusts nor remembers what it reads until the change is done (otherwise a reader could
/// see the change in the store and still be answered from what it remembered before).
pub const SERVING_CHANGE_IN_FLIGHT: u64 = 1 << 48;
