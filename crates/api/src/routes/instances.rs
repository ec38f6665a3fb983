//! CreateFunctionInstance, GetFunctionInstance, ListFunctionInstances, UpdateFunctionInstance,
//! DeleteFunctionInstance.

use algocenter_domain::catalogue::{self, FunctionVersion, Parameter, ParameterList};
use algocenter_domain::instance::{
    InstanceFilter, InstanceUpdate, MAX_DESCRIPTION_LEN, NewInstance,
};
use algocenter_domain::names::validate_instance_name;
use algocenter_domain::paging::{OutputLevel, Page};
use algocenter_domain::schedule::first_firing;
use algocenter_domain::{Error, Result, now_ms};
use serde::Deserialize;

use super::AppState;
use crate::envelope::{ApiResult, Reply};
use crate::extract::{JsonBody, Query, Segments, function};
use crate::wire;

/// A `{name, value}` pair; the SDK sends camelCase, other clients PascalCase.
#[derive(Deserialize)]
struct ParameterBody {
    #[serde(alias = "Name")]
    name: String,
    #[serde(alias = "Value", default)]
    value: String,
}

fn parameters(list: Option<Vec<ParameterBody>>) -> Option<Vec<Parameter>> {
    list.map(|l| {
        l.into_iter()
            .map(|p| Parameter {
                name: p.name,
                value: p.value,
            })
            .collect()
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    #[serde(alias = "InstanceName")]
    instance_name: Option<String>,
    #[serde(alias = "ModelType")]
    model_type: Option<String>,
    #[serde(alias = "FunctionType")]
    function_type: Option<String>,
    #[serde(alias = "Description")]
    description: Option<String>,
    #[serde(alias = "Cron")]
    cron: Option<String>,
    #[serde(alias = "CreateParameters")]
    create_parameters: Option<Vec<ParameterBody>>,
    #[serde(alias = "UsageParameters")]
    usage_parameters: Option<Vec<ParameterBody>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    #[serde(alias = "Description")]
    description: Option<String>,
    #[serde(alias = "Cron")]
    cron: Option<String>,
    #[serde(alias = "CreateParameters")]
    create_parameters: Option<Vec<ParameterBody>>,
    #[serde(alias = "UsageParameters")]
    usage_parameters: Option<Vec<ParameterBody>>,
}

fn check_description(description: &str) -> Result<()> {
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(Error::invalid(format_args!(
            "description exceeds {MAX_DESCRIPTION_LEN} bytes."
        )));
    }
    Ok(())
}

/// Validates both parameter lists against the version; returns the resources they name.
fn check_parameters(
    version: &FunctionVersion,
    create: &[Parameter],
    usage: &[Parameter],
) -> Result<Vec<(String, String)>> {
    let mut refs = version.validate_parameters(ParameterList::Create, create)?;
    refs.extend(version.validate_parameters(ParameterList::Usage, usage)?);
    Ok(refs)
}

pub async fn create(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    let function = function(&name)?;
    let body: CreateBody = body.parse()?;
    let instance_name = body
        .instance_name
        .ok_or_else(|| Error::invalid("instanceName is required."))?;
    validate_instance_name(&instance_name)?;
    let model_type = body.model_type.filter(|m| !m.is_empty()).ok_or_else(|| {
        Error::invalid(format_args!(
            "modelType is required; function '{function}' offers: {}.",
            catalogue::model_types(function).join(", ")
        ))
    })?;
    let version = catalogue::version_for_model_type(function, &model_type)?;
    let function_type = body
        .function_type
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "PAAS".into());
    if function_type != version.function_type {
        return Err(Error::invalid(format_args!(
            "functionType '{function_type}' is not supported: algocenter trains every model itself, use PAAS."
        ))
        .into());
    }
    let description = body.description.unwrap_or_default();
    check_description(&description)?;
    let cron = body.cron.unwrap_or_default().trim().to_string();
    let next_fire_ms = first_firing(&cron, now_ms())?;
    let create_parameters = parameters(body.create_parameters).unwrap_or_default();
    let usage_parameters = parameters(body.usage_parameters).unwrap_or_default();
    let resource_refs = check_parameters(version, &create_parameters, &usage_parameters)?;
    let new = NewInstance {
        function,
        name: instance_name,
        model_type,
        function_type,
        description,
        cron,
        version_id: version.version_id,
        create_parameters,
        usage_parameters,
        resource_refs,
        next_fire_ms,
    };
    state.store().create_instance(&app, new, now_ms()).await?;
    Ok(Reply::ok())
}

pub async fn get(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
    query: Query,
) -> ApiResult {
    let function = function(&name)?;
    let level = OutputLevel::parse(query.get("output"))?;
    let instance = state.store().instance(&app, function, &instance).await?;
    Ok(Reply::result(wire::instance(&instance, level, true)))
}

pub async fn list(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
    query: Query,
) -> ApiResult {
    let function = function(&name)?;
    let level = OutputLevel::parse(query.get("output"))?;
    let page = Page::new(query.get("pageNumber"), query.get("pageSize"), 10)?;
    let include_user = match query.non_empty("source").unwrap_or("user") {
        "user" | "all" => true,
        // algocenter has no built-in instances.
        "builtin" => false,
        other => {
            return Err(Error::invalid(format_args!(
                "source '{other}' is invalid; valid: user, builtin, all."
            ))
            .into());
        }
    };
    let filter = InstanceFilter {
        model_type: query.non_empty("modelType").map(str::to_string),
        function_type: query.non_empty("functionType").map(str::to_string),
        include_user,
    };
    let (instances, total) = state
        .store()
        .list_instances(&app, function, filter, page)
        .await?;
    Ok(Reply::list(
        instances
            .iter()
            .map(|i| wire::instance(i, level, false))
            .collect(),
        total,
    ))
}

/// Fields left out keep their values; a list that is sent replaces the stored list; `cron: ""` removes the
/// schedule (spec §10.11 leaves this open).
pub async fn update(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
    body: JsonBody,
) -> ApiResult {
    let function = function(&name)?;
    let body: UpdateBody = body.parse()?;
    let current = state.store().instance(&app, function, &instance).await?;
    let version = catalogue::version_for_model_type(function, &current.model_type)?;
    if let Some(description) = &body.description {
        check_description(description)?;
    }
    let mut update = InstanceUpdate {
        description: body.description,
        ..Default::default()
    };
    if let Some(cron) = body.cron {
        let cron = cron.trim().to_string();
        update.next_fire_ms = Some(first_firing(&cron, now_ms())?);
        update.cron = Some(cron);
    }
    let create = parameters(body.create_parameters);
    let usage = parameters(body.usage_parameters);
    if create.is_some() || usage.is_some() {
        let effective_create = create.as_deref().unwrap_or(&current.create_parameters);
        let effective_usage = usage.as_deref().unwrap_or(&current.usage_parameters);
        update.resource_refs = Some(check_parameters(
            version,
            effective_create,
            effective_usage,
        )?);
    }
    update.create_parameters = create;
    update.usage_parameters = usage;
    state
        .services
        .update_instance(&app, function, &instance, update)
        .await?;
    Ok(Reply::ok())
}

pub async fn delete(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
) -> ApiResult {
    let function = function(&name)?;
    state
        .services
        .delete_instance(&app, function, &instance)
        .await?;
    Ok(Reply::ok())
}
