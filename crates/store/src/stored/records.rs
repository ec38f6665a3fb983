//! Domain records from rows of either backend: the column lists the queries select and the mappings that read
//! them back, every stored JSON or named value through the checked path of this module's parent.

use algocenter_domain::access_key::AccessKey;
use algocenter_domain::app_group::{AppGroup, NewAppGroup};
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::document::{Document, DocumentKind};
use algocenter_domain::instance::{Instance, LastTask};
use algocenter_domain::query_rule::{QueryAnalysisRule, RuleSpec};
use algocenter_domain::resource::{Resource, ResourceData, ResourceType};
use algocenter_domain::task::{Task, TaskState};
use algocenter_domain::{Error, Function, Result};

use super::{StoredRow, cell};
use crate::{ClaimedTask, DueSchedule, TaskCount};

pub(crate) const APP_GROUP_COLUMNS: &str =
    "id, name, app_type, description, extra, created_ms, updated_ms";

pub(crate) fn app_group(row: &dyn StoredRow) -> Result<AppGroup> {
    let id = row.int(0)?;
    Ok(AppGroup {
        id,
        name: row.text(1)?,
        app_type: row.text(2)?,
        description: row.text(3)?,
        extra: cell("app_group", &id, "extra").json(&row.text(4)?)?,
        created_ms: row.int(5)?,
        updated_ms: row.int(6)?,
    })
}

/// Instance columns joined with the app group name and the newest task (alias `t`).
pub(crate) const INSTANCE_SELECT: &str = "
SELECT i.id, a.name, i.function, i.name, i.model_type, i.function_type, i.description, i.cron, i.version_id,
       i.create_parameters, i.usage_parameters, i.serving_generation, i.created_ms, i.updated_ms,
       t.generation, t.state, t.created_ms, t.started_ms, t.extend_info, i.pinned_generation, t.id
FROM instance i
JOIN app_group a ON a.id = i.app_id
LEFT JOIN task t ON t.id = (SELECT id FROM task WHERE instance_id = i.id ORDER BY generation DESC LIMIT 1)";

pub(crate) fn instance(row: &dyn StoredRow) -> Result<Instance> {
    let id = row.int(0)?;
    let last_task = match row.opt_int(14)? {
        None => None,
        Some(generation) => {
            let task_id = row.int(20)?;
            let created = row.int(16)?;
            Some(LastTask {
                generation,
                state: task_state(&task_id, &row.text(15)?)?,
                run_time_ms: row.opt_int(17)?.unwrap_or(created),
                extend_info: row.text(18)?,
            })
        }
    };
    Ok(Instance {
        id,
        app_group: row.text(1)?,
        function: function("instance", &id, &row.text(2)?)?,
        name: row.text(3)?,
        model_type: row.text(4)?,
        function_type: row.text(5)?,
        description: row.text(6)?,
        cron: row.text(7)?,
        version_id: row.int(8)?,
        create_parameters: parameters(id, "create_parameters", &row.text(9)?)?,
        usage_parameters: parameters(id, "usage_parameters", &row.text(10)?)?,
        serving_generation: row.opt_int(11)?,
        pinned_generation: row.opt_int(19)?,
        created_ms: row.int(12)?,
        updated_ms: row.int(13)?,
        last_task,
    })
}

/// A row `function, state, count(*)` of task counts.
pub(crate) fn task_count(row: &dyn StoredRow) -> Result<TaskCount> {
    Ok(TaskCount {
        function: row.text(0)?,
        state: row.text(1)?,
        tasks: row.int(2)? as u64,
    })
}

pub(crate) const TASK_COLUMNS: &str = "t.id, t.instance_id, i.function, t.generation, t.run_id, t.state, t.progress, \
     t.step, t.created_ms, t.started_ms, t.ended_ms, t.extend_info";

pub(crate) fn task(row: &dyn StoredRow) -> Result<Task> {
    let id = row.int(0)?;
    let instance_id = row.int(1)?;
    Ok(Task {
        id,
        instance_id,
        function: function("instance", &instance_id, &row.text(2)?)?,
        generation: row.int(3)?,
        run_id: row.text(4)?,
        state: task_state(&id, &row.text(5)?)?,
        progress: row.int(6)?,
        step: row.text(7)?,
        created_ms: row.int(8)?,
        started_ms: row.opt_int(9)?,
        ended_ms: row.opt_int(10)?,
        extend_info: row.text(11)?,
    })
}

/// What a worker reads with the task it claims: [`TASK_COLUMNS`] and the instance's, from `task t` joined with
/// `instance i` and `app_group a`.
pub(crate) const CLAIMED_COLUMNS: &str = "t.id, t.instance_id, i.function, t.generation, t.run_id, t.state, \
     t.progress, t.step, t.created_ms, t.started_ms, t.ended_ms, t.extend_info, \
     a.name, i.name, i.model_type, i.create_parameters, i.usage_parameters";

/// A claimed task. Unreadable instance parameters are an error: training on the defaults instead would silently
/// give a model nobody asked for.
pub(crate) fn claimed_task(row: &dyn StoredRow) -> Result<ClaimedTask> {
    let task = task(row)?;
    let instance_id = task.instance_id;
    Ok(ClaimedTask {
        task,
        app_group: row.text(12)?,
        instance_name: row.text(13)?,
        model_type: row.text(14)?,
        create_parameters: parameters(instance_id, "create_parameters", &row.text(15)?)?,
        usage_parameters: parameters(instance_id, "usage_parameters", &row.text(16)?)?,
    })
}

pub(crate) const DUE_COLUMNS: &str = "i.id, a.name, i.function, i.name, i.cron, i.next_fire_ms";

/// A due schedule, or `None` for a function this build does not know (an instance written by a newer build
/// sharing the database): it cannot be trained here, so its schedule is left to a node that can.
pub(crate) fn due_schedule(row: &dyn StoredRow) -> Result<Option<DueSchedule>> {
    let Ok(function) = row.text(2)?.parse::<Function>() else {
        return Ok(None);
    };
    Ok(Some(DueSchedule {
        instance_id: row.int(0)?,
        app_group: row.text(1)?,
        function,
        instance_name: row.text(3)?,
        cron: row.text(4)?,
        fire_ms: row.int(5)?,
    }))
}

pub(crate) const RESOURCE_COLUMNS: &str = "r.id, r.function, r.name, r.resource_type, r.description, r.data, \
     r.created_ms, r.modified_ms";

/// A resource row with its id; `referenced_instances` is filled by the caller.
pub(crate) fn resource(row: &dyn StoredRow) -> Result<(i64, Resource)> {
    let id = row.int(0)?;
    let resource = Resource {
        function: function("resource", &id, &row.text(1)?)?,
        name: row.text(2)?,
        resource_type: cell("resource", &id, "resource_type")
            .name(&row.text(3)?, ResourceType::parse)?,
        description: row.text(4)?,
        data: cell("resource", &id, "data").json(&row.text(5)?)?,
        created_ms: row.int(6)?,
        modified_ms: row.int(7)?,
        referenced_instances: Vec::new(),
    };
    Ok((id, resource))
}

/// The stored form of a resource's data.
pub(crate) fn resource_data_json(data: &ResourceData) -> Result<String> {
    serde_json::to_string(data)
        .map_err(|e| Error::internal(format_args!("cannot encode resource data: {e}")))
}

pub(crate) const KEY_COLUMNS: &str = "id, scope, apps, description, created_ms, revoked_ms";

/// An access key. Its scope and app groups decide what it may do, so an unreadable one refuses the key: read as a
/// default, an empty list of app groups would mean all of them.
pub(crate) fn access_key(row: &dyn StoredRow) -> Result<AccessKey> {
    let id = row.text(0)?;
    let row_name = format!("'{id}'");
    Ok(AccessKey {
        scope: cell("access_key", &row_name, "scope").name(&row.text(1)?, str::parse)?,
        apps: cell("access_key", &row_name, "apps").json(&row.text(2)?)?,
        description: row.text(3)?,
        created_ms: row.int(4)?,
        revoked_ms: row.opt_int(5)?,
        id,
    })
}

/// A stored document from its `attributes` column.
pub(crate) fn document(
    app_id: i64,
    kind: DocumentKind,
    id: String,
    attributes: &str,
) -> Result<Document> {
    let attributes = attributes_of(app_id, kind, &id, attributes)?;
    Ok(Document { id, attributes })
}

/// The attribute map of a stored document.
pub(crate) fn attributes_of(
    app_id: i64,
    kind: DocumentKind,
    id: &str,
    attributes: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    cell(
        "document",
        &format_args!("(app {app_id}, {} '{id}')", kind.as_str()),
        "attributes",
    )
    .json(attributes)
}

/// An instance's parameter list (`create_parameters` or `usage_parameters`).
pub(crate) fn parameters(
    instance_id: i64,
    column: &'static str,
    json: &str,
) -> Result<Vec<Parameter>> {
    cell("instance", &instance_id, column).json(json)
}

/// The stored form of a parameter list.
pub(crate) fn parameters_json(parameters: &[Parameter]) -> String {
    serde_json::to_string(parameters).unwrap_or_else(|_| "[]".into())
}

fn function(table: &'static str, id: &i64, name: &str) -> Result<Function> {
    cell(table, id, "function").name(name, str::parse::<Function>)
}

/// The `state` column of task `task_id`.
pub(crate) fn task_state(task_id: &i64, name: &str) -> Result<TaskState> {
    cell("task", task_id, "state").name(name, |s| TaskState::parse(s).ok_or("unknown task state"))
}

/// The record CreateAppGroup answers, from what was stored.
pub(crate) fn new_app_group(id: i64, new: NewAppGroup, now_ms: i64) -> AppGroup {
    AppGroup {
        id,
        name: new.name,
        app_type: new.app_type,
        description: new.description,
        extra: new.extra,
        created_ms: now_ms,
        updated_ms: now_ms,
    }
}

pub(crate) const RULE_COLUMNS: &str = "name, spec, is_default, created_ms, updated_ms";

/// A query-analysis rule; the default flag is its own column (one default per app group, by index).
pub(crate) fn rule(row: &dyn StoredRow) -> Result<QueryAnalysisRule> {
    let name = row.text(0)?;
    let mut spec: RuleSpec = cell("query_rule", &name, "spec").json(&row.text(1)?)?;
    spec.default = row.flag(2)?;
    Ok(QueryAnalysisRule {
        spec,
        created_ms: row.int(3)?,
        updated_ms: row.int(4)?,
        name,
    })
}

/// The stored form of a rule's spec.
pub(crate) fn rule_spec_json(spec: &RuleSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| Error::internal(format_args!("encoding a rule: {e}")))
}
