//! Tasks: training runs of an instance, numbered by generation.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::function::Function;

/// Internal task state. On the wire a queued task shows as `running` with `Progress` 0 (DESIGN invariant 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Queued,
    Running,
    Success,
    Failed,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Success => "success",
            TaskState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => TaskState::Queued,
            "running" => TaskState::Running,
            "success" => TaskState::Success,
            "failed" => TaskState::Failed,
            _ => return None,
        })
    }

    /// The spec's task `Status`.
    pub fn wire_status(self) -> WireStatus {
        match self {
            TaskState::Queued | TaskState::Running => WireStatus::Running,
            TaskState::Success => WireStatus::Success,
            TaskState::Failed => WireStatus::Failed,
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, TaskState::Queued | TaskState::Running)
    }
}

/// Task status as the spec names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireStatus {
    Running,
    Success,
    Failed,
}

impl WireStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WireStatus::Running => "running",
            WireStatus::Success => "success",
            WireStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => WireStatus::Running,
            "success" => WireStatus::Success,
            "failed" => WireStatus::Failed,
            _ => return None,
        })
    }
}

/// Who started a run; decides the run id prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// CreateFunctionTask: `trigger__<UTC time>`.
    Manual,
    /// The instance's cron: `scheduled__<UTC time>` (the scheduled time, not the firing time).
    Scheduled,
}

impl Trigger {
    pub fn run_id(self, at_ms: i64) -> String {
        let prefix = match self {
            Trigger::Manual => "trigger",
            Trigger::Scheduled => "scheduled",
        };
        let at = DateTime::<Utc>::from_timestamp_millis(at_ms).unwrap_or_default();
        format!("{prefix}__{}", at.format("%Y-%m-%dT%H:%M:%S"))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub id: i64,
    pub instance_id: i64,
    pub function: Function,
    pub generation: i64,
    pub run_id: String,
    pub state: TaskState,
    pub progress: i64,
    /// Name of the current training step (shown by the CLI and dashboard).
    pub step: String,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    /// JSON text: metrics and an `errors` list.
    pub extend_info: String,
}

impl Task {
    /// `StartTime`: when a worker started the run, or when it was triggered while it is still queued.
    pub fn start_time_ms(&self) -> i64 {
        self.started_ms.unwrap_or(self.created_ms)
    }
}

/// Filters of ListFunctionTasks (times in epoch ms).
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub status: Option<WireStatus>,
    /// Only tasks whose `StartTime` is at or after this instant.
    pub start_time_ms: Option<i64>,
    /// Only tasks that ended at or before this instant (unfinished tasks are excluded).
    pub end_time_ms: Option<i64>,
}

/// Builds the `ExtendInfo` JSON text: the metrics object with an `errors` list added.
pub fn extend_info(mut metrics: Map<String, Value>, errors: Vec<String>) -> String {
    metrics.insert("errors".into(), Value::from(errors));
    Value::Object(metrics).to_string()
}

/// `ExtendInfo` of a task that has not produced metrics yet.
pub fn empty_extend_info() -> String {
    extend_info(Map::new(), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_use_the_utc_time_of_the_trigger() {
        // 2021-03-05T12:18:41Z, the spec's example run id.
        assert_eq!(
            Trigger::Manual.run_id(1_614_946_721_000),
            "trigger__2021-03-05T12:18:41"
        );
        assert_eq!(
            Trigger::Scheduled.run_id(1_614_946_721_999),
            "scheduled__2021-03-05T12:18:41"
        );
    }

    #[test]
    fn queued_tasks_look_running_on_the_wire() {
        assert_eq!(TaskState::Queued.wire_status(), WireStatus::Running);
        assert!(TaskState::Queued.is_active() && TaskState::Running.is_active());
        assert!(!TaskState::Failed.is_active());
        for s in ["queued", "running", "success", "failed"] {
            assert_eq!(TaskState::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn extend_info_always_has_errors() {
        let text = extend_info(Map::new(), vec!["cancelled".into()]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["errors"][0], "cancelled");
        assert_eq!(
            serde_json::from_str::<Value>(&empty_extend_info()).unwrap()["errors"],
            Value::Array(vec![])
        );
    }
}
