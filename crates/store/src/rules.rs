//! The store's rules that do not depend on the backend: when a task may be queued, deleted or pinned, which
//! artifacts retention drops, when a key may be revoked, how a push is summarised into day counts and sketches, how
//! a document update merges. Each backend runs its own SQL and asks these functions what the rows mean, so that a
//! rule is written (and changed) once.

use std::collections::BTreeMap;

use algocenter_domain::access_key::{AccessKey, Scope};
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::{WindowCounts, day_label, day_of};
use algocenter_domain::document::DocumentKind;
use algocenter_domain::sketch::DistinctSketch;
use algocenter_domain::task::{TaskState, extend_info};
use algocenter_domain::{Error, Function, Result};
use serde_json::{Map, Value};

use crate::stored::{cell, records};
use crate::{ArtifactKey, ClaimedTask, DataStatus, DayCounts};

// Statements whose text is a rule, shared by both backends. They use `$n` parameters: PostgreSQL's, which SQLite
// takes as named parameters numbered in order of first appearance, so each names its parameters in ascending order.

/// The generation of instance `$1`'s active (queued or running) task; at most one (DESIGN invariant 1).
pub(crate) const ACTIVE_GENERATION: &str =
    "SELECT generation FROM task WHERE instance_id = $1 AND state IN ('queued', 'running')";

/// Points instance `$1`'s serving generation at its pinned generation, or else at its newest successful generation
/// that passed its quality gate and still has its artifact (after a record was removed or a pin changed).
pub(crate) const RECOMPUTE_SERVING_GENERATION: &str =
    "UPDATE instance SET serving_generation = coalesce(
         pinned_generation,
         (SELECT max(generation) FROM task
          WHERE instance_id = $1 AND state = 'success' AND serve AND artifact IS NOT NULL))
     WHERE id = $1";

/// Generation `$1`, just trained and past its quality gate, serves instance `$2` unless a pinned generation does.
pub(crate) const SERVE_NEW_GENERATION: &str =
    "UPDATE instance SET serving_generation = $1 WHERE id = $2 AND pinned_generation IS NULL";

// Tasks and generations.

/// Parses a `{generation}` path segment; anything but a positive integer names no task.
pub(crate) fn parse_generation(instance: &str, generation: &str) -> Result<i64> {
    generation
        .parse::<i64>()
        .ok()
        .filter(|g| *g > 0)
        .ok_or_else(|| Error::TaskNotExist {
            instance: instance.to_string(),
            generation: generation.to_string(),
        })
}

/// `Task.IsRunning` for a second run of an instance (DESIGN invariant 1); `generation` is the active one when known.
pub(crate) fn already_running(instance: &str, generation: Option<i64>) -> Error {
    let which = generation
        .map(|g| format!(" (generation {g})"))
        .unwrap_or_default();
    Error::TaskIsRunning(format!(
        "instance '{instance}' already has a task queued or running{which}."
    ))
}

/// An instance is deleted only while no task of it is queued or running (`active` is such a task's generation).
pub(crate) fn check_instance_idle(name: &str, active: Option<i64>) -> Result<()> {
    match active {
        Some(generation) => Err(Error::TaskIsRunning(format!(
            "instance '{name}' has generation {generation} queued or running; cancel it or wait for it to finish."
        ))),
        None => Ok(()),
    }
}

/// An app group is deleted only while no task of it is queued or running (`busy` names such a task's instance).
pub(crate) fn check_app_group_idle(identity: &str, busy: Option<String>) -> Result<()> {
    match busy {
        Some(instance) => Err(Error::TaskIsRunning(format!(
            "app group '{identity}' has a task queued or running on instance '{instance}'; \
             cancel it or wait for it to finish."
        ))),
        None => Ok(()),
    }
}

/// A generation's record is removed only once it finished, and never while it is pinned to serve.
pub(crate) fn check_deletable(
    instance: &str,
    generation: i64,
    state: TaskState,
    pinned: Option<i64>,
) -> Result<()> {
    if state.is_active() {
        return Err(Error::TaskIsRunning(format!(
            "generation {generation} of instance '{instance}' is still running; cancel it first."
        )));
    }
    if pinned == Some(generation) {
        return Err(Error::TaskIsPinned(format!(
            "generation {generation} of instance '{instance}' is pinned to serve; unpin it first."
        )));
    }
    Ok(())
}

/// A generation is pinned only when it could serve: it succeeded, passed its quality gate and kept its artifact.
pub(crate) fn check_servable(
    instance: &str,
    generation: i64,
    state: TaskState,
    passed_gate: bool,
    has_artifact: bool,
) -> Result<()> {
    let why_not = if state != TaskState::Success {
        format!("it is {}", state.as_str())
    } else if !passed_gate {
        "it did not pass its quality gate".to_string()
    } else if !has_artifact {
        "its model was removed by artifact retention".to_string()
    } else {
        return Ok(());
    };
    Err(Error::TaskNotServable(format!(
        "generation {generation} of instance '{instance}' cannot serve: {why_not}."
    )))
}

/// Of an instance's successful generations that still have an artifact, given newest first as
/// `(task id, generation, artifact)`, those retention drops: all but the newest `keep` (at least one), never the
/// serving generation. Answers their task ids and artifacts.
pub(crate) fn beyond_retention(
    kept: Vec<(i64, i64, String)>,
    serving: Option<i64>,
    keep: u32,
) -> Vec<(i64, ArtifactKey)> {
    kept.into_iter()
        .skip(keep.max(1) as usize)
        .filter(|(_, generation, _)| Some(*generation) != serving)
        .map(|(task_id, _, artifact)| (task_id, ArtifactKey::from_stored(artifact)))
        .collect()
}

/// Why a task a worker just claimed is failed instead of trained: what it needs (its instance's parameters, say)
/// is unreadable. Training on defaults would give a model nobody asked for, and leaving it queued would stall every
/// task behind it, so it fails with the refusal as its reason and the worker claims the next. `None`: train it (or
/// answer the error, which is not about the task).
pub(crate) fn unclaimable(read: &Result<ClaimedTask>) -> Option<String> {
    match read {
        Err(corrupt @ Error::Corrupt { .. }) => Some(corrupt.to_string()),
        _ => None,
    }
}

/// `ExtendInfo` of a task ended by CancelFunctionTask (the worker notices and stops).
pub(crate) fn cancelled_extend_info() -> String {
    extend_info(Map::new(), vec!["cancelled".into()])
}

/// The refusal of an instance parameter naming a resource that does not exist.
pub(crate) fn missing_resource(parameter: &str, resource: &str, function: Function) -> Error {
    Error::invalid(format_args!(
        "parameter '{parameter}' names resource '{resource}', which does not exist for function '{function}'."
    ))
}

// Access keys.

/// Whether a key is an admin key for all app groups: the last active one cannot be revoked, which would lock
/// everyone out.
pub(crate) fn is_admin_for_all(key: &AccessKey) -> bool {
    key.scope == Scope::Admin && key.apps.is_empty()
}

/// Refuses to revoke `id` when `others` other active admin keys for all app groups remain: none.
pub(crate) fn check_not_last_admin(id: &str, others: usize) -> Result<()> {
    if others == 0 {
        return Err(Error::LastAdminKey(format!(
            "access key '{id}' is the last admin key for all app groups; create another one before revoking it."
        )));
    }
    Ok(())
}

// Behaviour events and documents.

/// Normal form of a query for distinct counting (the full normaliser belongs to the query functions).
pub(crate) fn query_key(raw: &str) -> String {
    raw.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The distinct-count sketches of one day.
#[derive(Default)]
pub(crate) struct DaySketches {
    pub users: DistinctSketch,
    pub items: DistinctSketch,
    pub queries: DistinctSketch,
}

impl DaySketches {
    /// The stored sketches of an app group's day (columns `users, items, queries` of `event_sketch`).
    pub(crate) fn read(
        app_id: i64,
        day: i64,
        users: &[u8],
        items: &[u8],
        queries: &[u8],
    ) -> Result<Self> {
        let row = format!("(app {app_id}, day {day})");
        Ok(DaySketches {
            users: cell("event_sketch", &row, "users").sketch(users)?,
            items: cell("event_sketch", &row, "items").sketch(items)?,
            queries: cell("event_sketch", &row, "queries").sketch(queries)?,
        })
    }

    pub(crate) fn merge(&mut self, other: &DaySketches) {
        self.users.merge(&other.users);
        self.items.merge(&other.items);
        self.queries.merge(&other.queries);
    }

    fn add(&mut self, event: &BehaviourEvent) {
        self.users.insert(event.user());
        if !event.item_id.is_empty() {
            self.items.insert(&event.item_id);
        }
        if !event.raw_query.is_empty() {
            self.queries.insert(&query_key(&event.raw_query));
        }
    }
}

/// What the events of one push add to the day summaries. Ordered maps: backends that lock the summary rows take
/// them in key order, the same in every push, so that concurrent pushes cannot deadlock.
pub(crate) struct PushSummary<'a> {
    /// Time span of the events, for the block's window.
    pub min_ms: i64,
    pub max_ms: i64,
    /// Events by (day, behaviour type).
    pub counts: BTreeMap<(i64, &'a str), i64>,
    pub sketches: BTreeMap<i64, DaySketches>,
}

/// Summarises the events a push stores (those not stored before).
pub(crate) fn summarise(fresh: &[BehaviourEvent]) -> PushSummary<'_> {
    let mut summary = PushSummary {
        min_ms: fresh
            .iter()
            .map(|e| e.bhv_time_ms)
            .min()
            .unwrap_or_default(),
        max_ms: fresh
            .iter()
            .map(|e| e.bhv_time_ms)
            .max()
            .unwrap_or_default(),
        counts: BTreeMap::new(),
        sketches: BTreeMap::new(),
    };
    for event in fresh {
        let day = day_of(event.bhv_time_ms);
        *summary
            .counts
            .entry((day, event.bhv_type.as_str()))
            .or_default() += 1;
        summary.sketches.entry(day).or_default().add(event);
    }
    summary
}

/// The data status of a window, tallied from the stored day counts and sketches.
#[derive(Default)]
pub(crate) struct StatusTally {
    days: BTreeMap<i64, BTreeMap<String, u64>>,
    totals: WindowCounts,
    sketches: DaySketches,
}

impl StatusTally {
    /// One stored count: `events` of `bhv_type` on `day`.
    pub(crate) fn count(&mut self, day: i64, bhv_type: String, events: u64) {
        let totals = &mut self.totals;
        match bhv_type.as_str() {
            "search" => totals.searches += events,
            "expose" => totals.exposures += events,
            other => {
                totals.engagements += events;
                if other == "click" {
                    totals.clicks += events;
                }
            }
        }
        self.days.entry(day).or_default().insert(bhv_type, events);
    }

    /// One stored day's sketches.
    pub(crate) fn sketches(&mut self, day: &DaySketches) {
        self.sketches.merge(day);
    }

    /// The status, with the app group's stored items and users (not windowed).
    pub(crate) fn finish(self, items: u64, users: u64) -> DataStatus {
        let mut totals = self.totals;
        totals.distinct_items = self.sketches.items.estimate();
        DataStatus {
            days: self
                .days
                .into_iter()
                .map(|(day, events)| DayCounts {
                    day: day_label(day),
                    events,
                })
                .collect(),
            totals,
            distinct_users: self.sketches.users.estimate(),
            distinct_queries: self.sketches.queries.estimate(),
            items,
            users,
        }
    }
}

/// The stored form of an attribute map (documents) or of an app group's extra fields.
pub(crate) fn object_json(object: Map<String, Value>) -> String {
    Value::Object(object).to_string()
}

/// A document after an UPDATE command: the stored attributes, if any, with the command's on top. Unreadable stored
/// attributes refuse the update: replacing them with the command's alone would lose the rest without a word.
pub(crate) fn merged_attributes(
    app_id: i64,
    kind: DocumentKind,
    id: &str,
    stored: Option<&str>,
    update: Map<String, Value>,
) -> Result<String> {
    let mut merged = match stored {
        Some(stored) => records::attributes_of(app_id, kind, id, stored)?,
        None => Map::new(),
    };
    merged.extend(update);
    Ok(object_json(merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_newest_and_the_serving_generation() {
        let kept: Vec<_> = (1..=5)
            .rev()
            .map(|g| (g * 10, g, format!("0/{g}")))
            .collect();
        let dropped: Vec<i64> = beyond_retention(kept.clone(), Some(1), 2)
            .into_iter()
            .map(|(task, _)| task)
            .collect();
        assert_eq!(dropped, [30, 20], "5 and 4 are newest, 1 serves");
        assert_eq!(
            beyond_retention(kept, None, 0).len(),
            4,
            "at least one is kept"
        );
    }

    #[test]
    fn only_finished_unpinned_generations_are_deleted() {
        assert!(matches!(
            check_deletable("p", 3, TaskState::Queued, None),
            Err(Error::TaskIsRunning(_))
        ));
        assert!(matches!(
            check_deletable("p", 3, TaskState::Success, Some(3)),
            Err(Error::TaskIsPinned(_))
        ));
        assert!(check_deletable("p", 3, TaskState::Failed, Some(2)).is_ok());
    }

    #[test]
    fn an_unreadable_stored_document_refuses_the_update() {
        let update = serde_json::json!({"price": 12})
            .as_object()
            .unwrap()
            .clone();
        let merged = merged_attributes(
            1,
            DocumentKind::Item,
            "7",
            Some(r#"{"title":"t"}"#),
            update.clone(),
        );
        let merged: Value = serde_json::from_str(&merged.unwrap()).unwrap();
        assert_eq!(merged, serde_json::json!({"title": "t", "price": 12}));
        assert!(matches!(
            merged_attributes(1, DocumentKind::Item, "7", Some("{oops"), update),
            Err(Error::Corrupt {
                table: "document",
                column: "attributes",
                ..
            })
        ));
    }
}
