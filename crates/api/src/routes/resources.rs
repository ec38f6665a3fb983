//! CreateFunctionResource, GetFunctionResource, ListFunctionResources, UpdateFunctionResource,
//! DeleteFunctionResource. Bodies are PascalCase (spec §3.10); camelCase keys are accepted too, and `Data` may be
//! an object `{Content, Generators}` or a bare array of generators with lowercase keys (spec §10.2).

use algocenter_domain::names::validate_resource_name;
use algocenter_domain::paging::{OutputLevel, Page};
use algocenter_domain::resource::{
    Feature, Generator, MAX_RESOURCE_DESCRIPTION_LEN, NewResource, ResourceData, ResourceType,
    validate_data,
};
use algocenter_domain::{Error, Result, now_ms};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::AppState;
use crate::envelope::{ApiResult, Reply};
use crate::extract::{JsonBody, Query, Segments, function};
use crate::wire;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceBody {
    #[serde(alias = "resourceName")]
    resource_name: Option<String>,
    #[serde(alias = "resourceType")]
    resource_type: Option<String>,
    #[serde(alias = "description")]
    description: Option<String>,
    #[serde(alias = "data")]
    data: Option<Value>,
}

#[derive(Deserialize)]
struct GeneratorBody {
    #[serde(rename = "Generator", alias = "generator")]
    generator: String,
    #[serde(rename = "Input", alias = "input", default)]
    input: InputBody,
    #[serde(rename = "Output", alias = "output", default)]
    output: String,
    /// Options of the feature configuration (an extension of the API form), also accepted as the guide's
    /// lowercase top-level keys.
    #[serde(rename = "Options", alias = "options", default)]
    options: Map<String, Value>,
    #[serde(default)]
    method: Option<Value>,
    #[serde(default)]
    combiner: Option<Value>,
    #[serde(default)]
    value_dimension: Option<Value>,
    #[serde(default)]
    sequence_length: Option<Value>,
}

/// An option's value as text; `None` for values that are not strings or numbers.
fn option_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
struct InputBody {
    #[serde(rename = "Features", alias = "features", default)]
    features: Vec<FeatureBody>,
}

#[derive(Deserialize)]
struct FeatureBody {
    #[serde(rename = "Name", alias = "name")]
    name: String,
    #[serde(rename = "Type", alias = "type")]
    feature_type: String,
}

fn generators(value: Value) -> Result<Vec<Generator>> {
    let bodies: Vec<GeneratorBody> = serde_json::from_value(value).map_err(|e| {
        Error::invalid(format_args!(
            "Data.Generators is not a list of generators: {e}."
        ))
    })?;
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, mut g)| {
            for (name, value) in [
                ("method", g.method.take()),
                ("combiner", g.combiner.take()),
                ("value_dimension", g.value_dimension.take()),
                ("sequence_length", g.sequence_length.take()),
            ] {
                if let Some(v) = value {
                    g.options.insert(name.into(), v);
                }
            }
            let mut options = std::collections::BTreeMap::new();
            for (name, value) in &g.options {
                let text = option_text(value).ok_or_else(|| {
                    Error::invalid(format_args!(
                        "Data.Generators[{i}].Options.{name} must be a string or a number."
                    ))
                })?;
                options.insert(name.clone(), text);
            }
            Ok(Generator {
                generator: g.generator,
                features: g
                    .input
                    .features
                    .into_iter()
                    .map(|f| Feature {
                        name: f.name,
                        feature_type: f.feature_type,
                    })
                    .collect(),
                output: g.output,
                options,
            })
        })
        .collect()
}

/// `Data` as an object or a bare generator array; `None` when absent.
fn resource_data(value: Option<Value>) -> Result<Option<ResourceData>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(array @ Value::Array(_)) => Ok(Some(ResourceData {
            content: String::new(),
            generators: generators(array)?,
        })),
        Some(Value::Object(mut fields)) => {
            let content = match fields
                .remove("Content")
                .or_else(|| fields.remove("content"))
            {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s,
                Some(_) => return Err(Error::invalid("Data.Content must be a string.")),
            };
            let generators = match fields
                .remove("Generators")
                .or_else(|| fields.remove("generators"))
            {
                None | Some(Value::Null) => Vec::new(),
                Some(list) => generators(list)?,
            };
            Ok(Some(ResourceData {
                content,
                generators,
            }))
        }
        Some(_) => Err(Error::invalid(
            "Data must be an object {Content, Generators} or a list of generators.",
        )),
    }
}

fn check_description(description: &str) -> Result<()> {
    if description.len() > MAX_RESOURCE_DESCRIPTION_LEN {
        return Err(Error::invalid(format_args!(
            "Description exceeds {MAX_RESOURCE_DESCRIPTION_LEN} bytes."
        )));
    }
    Ok(())
}

pub async fn create(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    let function = function(&name)?;
    let body: ResourceBody = body.parse()?;
    let resource_name = body.resource_name.unwrap_or_default();
    validate_resource_name(&resource_name)?;
    let resource_type = ResourceType::parse(body.resource_type.as_deref().unwrap_or(""))?;
    let description = body.description.unwrap_or_default();
    check_description(&description)?;
    let data = resource_data(body.data)?.unwrap_or_default();
    validate_data(resource_type, &data)?;
    let new = NewResource {
        name: resource_name,
        resource_type,
        description,
        data,
    };
    state
        .store()
        .create_resource(&app, function, new, now_ms())
        .await?;
    Ok(Reply::ok())
}

pub async fn get(
    state: AppState,
    Segments((app, name, resource)): Segments<(String, String, String)>,
    query: Query,
) -> ApiResult {
    let function = function(&name)?;
    let level = OutputLevel::parse(query.get("output"))?;
    let resource = state.store().resource(&app, function, &resource).await?;
    Ok(Reply::result(wire::resource(&resource, level)))
}

pub async fn list(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
    query: Query,
) -> ApiResult {
    let function = function(&name)?;
    let level = OutputLevel::parse(query.get("output"))?;
    let page = Page::new(query.get("pageNumber"), query.get("pageSize"), 10)?;
    let resource_type = query
        .non_empty("resourceType")
        .map(ResourceType::parse)
        .transpose()?;
    let (resources, total) = state
        .store()
        .list_resources(&app, function, resource_type, page)
        .await?;
    Ok(Reply::list(
        resources.iter().map(|r| wire::resource(r, level)).collect(),
        total,
    ))
}

/// `Data` and `Description` can change; name and type are fixed.
pub async fn update(
    state: AppState,
    Segments((app, name, resource)): Segments<(String, String, String)>,
    body: JsonBody,
) -> ApiResult {
    let function = function(&name)?;
    let body: ResourceBody = body.parse()?;
    let current = state.store().resource(&app, function, &resource).await?;
    if let Some(kind) = body
        .resource_type
        .as_deref()
        .filter(|k| *k != current.resource_type.as_str())
    {
        return Err(Error::invalid(format_args!(
            "ResourceType cannot change (resource '{resource}' is a {}, not a {kind}).",
            current.resource_type
        ))
        .into());
    }
    if let Some(description) = &body.description {
        check_description(description)?;
    }
    let data = resource_data(body.data)?;
    if let Some(data) = &data {
        validate_data(current.resource_type, data)?;
    }
    state
        .store()
        .update_resource(&app, function, &resource, body.description, data, now_ms())
        .await?;
    Ok(Reply::ok())
}

pub async fn delete(
    state: AppState,
    Segments((app, name, resource)): Segments<(String, String, String)>,
) -> ApiResult {
    let function = function(&name)?;
    state
        .store()
        .delete_resource(&app, function, &resource)
        .await?;
    Ok(Reply::ok())
}
