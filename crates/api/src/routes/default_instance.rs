//! GetFunctionDefaultInstance and UpdateFunctionDefaultInstance.

use serde::Deserialize;
use serde_json::{Map, json};

use super::AppState;
use crate::envelope::{ApiResult, Reply};
use crate::extract::{JsonBody, Segments, function};

pub async fn get(state: AppState, Segments((app, name)): Segments<(String, String)>) -> ApiResult {
    let function = function(&name)?;
    let instance = state.store().default_instance(&app, function).await?;
    // The SDK model reads the name both inside Result and at the top level (spec §3.17): fill both.
    let mut top_level = Map::new();
    top_level.insert("InstanceName".into(), json!(instance));
    top_level.insert("FunctionName".into(), json!(function.as_str()));
    Ok(Reply::Function {
        result: Some(json!({"InstanceName": instance})),
        total: None,
        top_level,
    })
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default, alias = "InstanceName")]
    #[serde(rename = "instanceName")]
    instance_name: Option<String>,
}

/// Sets or replaces the default; an empty or missing `instanceName` clears it.
pub async fn update(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    let function = function(&name)?;
    let body: UpdateBody = body.parse()?;
    let instance = body.instance_name.filter(|n| !n.is_empty());
    state
        .services
        .set_default_instance(&app, function, instance)
        .await?;
    Ok(Reply::ok())
}
