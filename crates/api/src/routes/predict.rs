//! Serving of trained generations (extension): `POST .../functions/{fn}/instances/{instance}/predict`, and
//! `POST .../functions/{fn}/predict` for the function's default instance.

use algocenter_domain::catalogue::{ParameterList, version_for_model_type};
use algocenter_domain::{Error, Function};
use serde_json::{Value, json};

use super::AppState;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{JsonBody, Segments, function};

/// Most items scored in one request.
pub const MAX_ITEMS: usize = 1000;

/// The item ids of a pop request: `{"items": [...]}` (also `itemIds`, `Items`), strings or numbers.
fn item_ids(body: &Value) -> Result<Vec<String>, ApiError> {
    let list = ["items", "itemIds", "Items", "ItemIds"]
        .iter()
        .find_map(|k| body.get(*k))
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError(Error::invalid("body must be {\"items\": [item ids]}.")))?;
    if list.len() > MAX_ITEMS {
        return Err(ApiError(Error::invalid(format_args!(
            "at most {MAX_ITEMS} items per request."
        ))));
    }
    list.iter()
        .map(|v| match v {
            Value::String(s) if s.len() <= 1024 => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(ApiError(Error::invalid(
                "items must be strings (at most 1024 bytes) or numbers.",
            ))),
        })
        .collect()
}

/// Scores are stored as f32: six decimals is all they hold.
fn rounded(score: f32) -> f64 {
    (f64::from(score) * 1e6).round() / 1e6
}

async fn predict_pop(
    state: &AppState,
    app: &str,
    instance: Option<&str>,
    body: &Value,
) -> ApiResult {
    let ids = item_ids(body)?;
    let instance = state.serving.resolve(app, Function::Pop, instance).await?;
    let (generation, model) = state.serving.pop(&instance).await?;
    let version = version_for_model_type(Function::Pop, &instance.model_type)?;
    let default_score = version
        .effective(ParameterList::Usage, &instance.usage_parameters)
        .float("default_score")? as f32;
    let scores: Vec<Value> = ids
        .iter()
        .map(|id| match model.score(id) {
            Some(score) => json!({"ItemId": id, "Score": rounded(score), "Known": true}),
            None => json!({"ItemId": id, "Score": rounded(default_score), "Known": false}),
        })
        .collect();
    Ok(Reply::result(json!({
        "InstanceName": instance.name,
        "Generation": generation.to_string(),
        "Scores": scores,
    })))
}

async fn predict(
    state: AppState,
    app: String,
    function_name: String,
    instance: Option<String>,
    body: JsonBody,
) -> ApiResult {
    let function = function(&function_name)?;
    let body: Value = body.parse()?;
    match function {
        Function::Pop => predict_pop(&state, &app, instance.as_deref(), &body).await,
        other => Err(Error::invalid(format_args!(
            "function '{other}' cannot serve predictions in this build."
        ))
        .into()),
    }
}

pub async fn instance(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
    body: JsonBody,
) -> ApiResult {
    predict(state, app, name, Some(instance), body).await
}

pub async fn default_instance(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    predict(state, app, name, None, body).await
}
