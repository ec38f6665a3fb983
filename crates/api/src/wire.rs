//! Domain objects as the SDK models expect them on the wire (PascalCase, spec §4; app groups camelCase).

use algocenter_domain::app_group::AppGroup;
use algocenter_domain::catalogue::{FunctionVersion, Parameter, ParameterSpec};
use algocenter_domain::instance::Instance;
use algocenter_domain::paging::OutputLevel;
use algocenter_domain::resource::{Generator, Resource};
use algocenter_domain::task::{Task, TaskState};
use serde_json::{Map, Value, json};

fn parameters(list: &[Parameter]) -> Value {
    list.iter()
        .map(|p| json!({"Name": p.name, "Value": p.value}))
        .collect()
}

/// An instance at the given output level:
/// * `simple`: InstanceName, FunctionName, FunctionType, ModelType, Description, Source, Status, CreateTime, VersionId
/// * `normal`: + Cron, CreateParameters, UsageParameters, Belongs, ExtendInfo
/// * `detail`: + Task {DagStatus, LastRunTime} (GetFunctionInstance only; `with_task`)
pub fn instance(i: &Instance, level: OutputLevel, with_task: bool) -> Value {
    let mut o = Map::new();
    o.insert("InstanceName".into(), json!(i.name));
    o.insert("FunctionName".into(), json!(i.function.as_str()));
    o.insert("FunctionType".into(), json!(i.function_type));
    o.insert("ModelType".into(), json!(i.model_type));
    o.insert("Description".into(), json!(i.description));
    o.insert("Source".into(), json!("user"));
    o.insert("Status".into(), json!(i.status()));
    o.insert("CreateTime".into(), json!(i.created_ms));
    o.insert("VersionId".into(), json!(i.version_id));
    if level >= OutputLevel::Normal {
        o.insert("Cron".into(), json!(i.cron));
        o.insert("CreateParameters".into(), parameters(&i.create_parameters));
        o.insert("UsageParameters".into(), parameters(&i.usage_parameters));
        o.insert(
            "Belongs".into(),
            json!({"Domain": "general", "Category": "general", "Language": "zh"}),
        );
        o.insert("ExtendInfo".into(), json!(instance_extend_info(i)));
    }
    if level == OutputLevel::Detail && with_task {
        let last_run = i.last_task.as_ref().map_or(0, |t| t.run_time_ms);
        o.insert(
            "Task".into(),
            json!({"DagStatus": i.dag_status(), "LastRunTime": last_run}),
        );
    }
    Value::Object(o)
}

/// Instance `ExtendInfo`: which generation serves, the newest generation, and the newest task's errors when it
/// failed.
fn instance_extend_info(i: &Instance) -> String {
    let errors = i
        .last_task
        .as_ref()
        .filter(|t| t.state == TaskState::Failed)
        .and_then(|t| serde_json::from_str::<Value>(&t.extend_info).ok())
        .and_then(|v| v.get("errors").cloned())
        .unwrap_or_else(|| json!([]));
    json!({
        "serving_generation": i.serving_generation,
        "pinned_generation": i.pinned_generation,
        "last_generation": i.last_task.as_ref().map(|t| t.generation),
        "errors": errors,
    })
    .to_string()
}

pub fn task(t: &Task) -> Value {
    json!({
        "FunctionName": t.function.as_str(),
        "Generation": t.generation.to_string(),
        "RunId": t.run_id,
        "Status": t.state.wire_status().as_str(),
        "Progress": t.progress,
        "StartTime": t.start_time_ms(),
        "EndTime": t.ended_ms.unwrap_or(0),
        "ExtendInfo": t.extend_info,
        // Extension: the current training step, for progress displays.
        "Step": t.step,
    })
}

fn generator(g: &Generator) -> Value {
    let features: Vec<Value> = g
        .features
        .iter()
        .map(|f| json!({"Name": f.name, "Type": f.feature_type}))
        .collect();
    let mut out =
        json!({"Generator": g.generator, "Input": {"Features": features}, "Output": g.output});
    // Options are an extension: a generator without any keeps the documented shape.
    if !g.options.is_empty() {
        out["Options"] = json!(g.options);
    }
    out
}

/// A resource; `simple` leaves out `Data` (dictionaries can be large).
pub fn resource(r: &Resource, level: OutputLevel) -> Value {
    let mut o = Map::new();
    o.insert("ResourceName".into(), json!(r.name));
    o.insert("ResourceType".into(), json!(r.resource_type.as_str()));
    o.insert("FunctionName".into(), json!(r.function.as_str()));
    o.insert("Description".into(), json!(r.description));
    o.insert("CreateTime".into(), json!(r.created_ms));
    o.insert("ModifyTime".into(), json!(r.modified_ms));
    o.insert("ReferencedInstances".into(), json!(r.referenced_instances));
    if level >= OutputLevel::Normal {
        let generators: Vec<Value> = r.data.generators.iter().map(generator).collect();
        o.insert(
            "Data".into(),
            json!({"Content": r.data.content, "Generators": generators}),
        );
    }
    Value::Object(o)
}

fn parameter_specs(specs: &[ParameterSpec]) -> Value {
    specs
        .iter()
        .map(|s| {
            json!({
                "Name": s.name,
                // The SDK model types this as a string.
                "Required": if s.required { "true" } else { "false" },
                // Extensions (ignored by the SDK models): what the parameter does and its default.
                "Default": s.default,
                "Description": s.description,
            })
        })
        .collect()
}

pub fn version(v: &FunctionVersion) -> Value {
    let depends: Vec<Value> = v
        .depends
        .iter()
        .map(|d| json!({"Dependency": d.dependency, "Condition": d.condition, "Description": d.description}))
        .collect();
    json!({
        "FunctionName": v.function.as_str(),
        "FunctionType": v.function_type,
        "ModelType": v.model_type,
        "VersionId": v.version_id,
        "VersionName": v.version_name,
        "VersionConfig": {
            "CreateParameters": parameter_specs(v.create_parameters),
            "UsageParameters": parameter_specs(v.usage_parameters),
            "Depends": depends,
        },
    })
}

/// An app group as the SDK's DescribeAppGroup/ListAppGroups models read it (camelCase, times in seconds). The
/// accepted but uninterpreted request fields (`quota`, `tags`, `chargeType`, …) are echoed as they were sent.
pub fn app_group(a: &AppGroup) -> Value {
    let mut o = a.extra.clone();
    o.insert("id".into(), json!(a.id.to_string()));
    o.insert("name".into(), json!(a.name));
    o.insert("type".into(), json!(a.app_type));
    o.insert("description".into(), json!(a.description));
    o.insert("status".into(), json!("normal"));
    o.insert("produced".into(), json!(1));
    o.insert("created".into(), json!(a.created_ms / 1000));
    o.insert("updated".into(), json!(a.updated_ms / 1000));
    Value::Object(o)
}
