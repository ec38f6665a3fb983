//! Serving of trained generations (extension): `POST .../functions/{fn}/instances/{instance}/predict`, and
//! `POST .../functions/{fn}/predict` for the function's default instance. Bodies by function:
//! `pop` `{"items": [...]}`; `hot`/`hint` `{"hit", "sortType", "userId"}`; `suggest` `{"query", "hit"}`;
//! `category` `{"queries": [...], "topK"}`; `ctr` `{"query", "userId", "context", "items"}`.

use algocenter_domain::catalogue::{ParameterList, version_for_model_type};
use algocenter_domain::{Error, Function};
use std::borrow::Cow;

use serde_json::{Value, json};

use algocenter_domain::document::{Document, DocumentKind};
use algocenter_functions::ctr::{Candidate, Situation};
use algocenter_functions::{category, query_list, suggest};
use algocenter_serving::not_of_kind;

use super::{AppState, queries};
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
    let (generation, model) = state.serving.model(&instance).await?;
    let model = model.as_pop().ok_or_else(|| not_of_kind(&instance))?;
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

/// A field of the body under any of its spellings.
fn field<'a>(body: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|k| body.get(*k))
        .filter(|v| !v.is_null())
}

fn optional_text<'a>(body: &'a Value, names: &[&str]) -> Result<Option<&'a str>, ApiError> {
    match field(body, names) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError(Error::invalid(format_args!(
            "{} must be a string.",
            names[0]
        )))),
    }
}

/// A count from the body (number or numeric string), checked as `hit` is.
fn count(body: &Value, names: &[&str], default: usize, max: usize) -> Result<usize, ApiError> {
    let raw = match field(body, names) {
        None => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError(Error::invalid(format_args!(
                "{} must be an integer.",
                names[0]
            ))));
        }
    };
    queries::hit(raw.as_deref(), default, max).map_err(|_| {
        ApiError(Error::invalid(format_args!(
            "{} must be an integer from 1 to {max}.",
            names[0]
        )))
    })
}

/// `hot` / `hint`: `{"hit", "sortType", "userId"}`, all optional.
async fn predict_list(
    state: &AppState,
    app: &str,
    function: Function,
    instance: Option<&str>,
    body: &Value,
) -> ApiResult {
    let default = if function == Function::Hint {
        queries::DEFAULT_HINT_HIT
    } else {
        queries::DEFAULT_HOT_HIT
    };
    let hit = count(body, &["hit", "Hit"], default, query_list::MAX_HIT)?;
    let order = queries::list_order(optional_text(body, &["sortType", "SortType", "sort_type"])?)?;
    let user = queries::user_id(optional_text(body, &["userId", "UserId", "user_id"])?)?;
    let (name, generation, result) =
        queries::query_list(state, app, function, instance, (hit, order, user)).await?;
    let result: Vec<Value> = result
        .into_iter()
        .map(|q| json!({"Query": q["hot"], "Pv": q["pv"], "Tags": q["tags"]}))
        .collect();
    Ok(Reply::result(json!({
        "InstanceName": name,
        "Generation": generation.to_string(),
        "Queries": result,
    })))
}

/// `suggest`: `{"query", "hit"}`.
async fn predict_suggest(
    state: &AppState,
    app: &str,
    instance: Option<&str>,
    body: &Value,
) -> ApiResult {
    let typed = optional_text(body, &["query", "Query"])?.ok_or_else(|| {
        ApiError(Error::invalid(
            "body must be {\"query\": \"what the user typed\"}.",
        ))
    })?;
    let typed = queries::typed_query(typed)?;
    let hit = count(
        body,
        &["hit", "Hit"],
        queries::DEFAULT_SUGGEST_HIT,
        suggest::MAX_HIT,
    )?;
    let (name, generation, found) = queries::suggestions(state, app, instance, typed, hit).await?;
    Ok(Reply::result(json!({
        "InstanceName": name,
        "Generation": generation.to_string(),
        "Suggestions": found,
    })))
}

/// Most queries classified in one request.
pub const MAX_QUERIES: usize = 100;

/// `category`: `{"queries": [...], "topK"}`.
async fn predict_category(
    state: &AppState,
    app: &str,
    instance: Option<&str>,
    body: &Value,
) -> ApiResult {
    let list = field(body, &["queries", "Queries"])
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError(Error::invalid("body must be {\"queries\": [queries]}.")))?;
    if list.len() > MAX_QUERIES {
        return Err(ApiError(Error::invalid(format_args!(
            "at most {MAX_QUERIES} queries per request."
        ))));
    }
    let texts: Vec<&str> = list
        .iter()
        .map(|q| match q {
            Value::String(s) => queries::typed_query(s),
            _ => Err(ApiError(Error::invalid("queries must be strings."))),
        })
        .collect::<Result<_, _>>()?;
    let instance = state
        .serving
        .resolve(app, Function::Category, instance)
        .await?;
    let version = version_for_model_type(Function::Category, &instance.model_type)?;
    let default_k = version
        .effective(ParameterList::Usage, &instance.usage_parameters)
        .int("top_k")?
        .clamp(1, category::MAX_TOP_K as i64) as usize;
    let top_k = count(
        body,
        &["topK", "TopK", "top_k"],
        default_k,
        category::MAX_TOP_K,
    )?;
    let (generation, model) = state.serving.model(&instance).await?;
    let model = model.as_category().ok_or_else(|| not_of_kind(&instance))?;
    let predictions: Vec<Value> = texts
        .iter()
        .map(|q| {
            let p = model.predict(q, top_k);
            json!({
                "Query": q,
                "Categories": p.categories.iter().map(|(c, s)| json!({"Category": c, "Score": rounded(*s)})).collect::<Vec<_>>(),
                "Source": p.source.as_str(),
                "Intervened": p.intervened,
            })
        })
        .collect();
    Ok(Reply::result(json!({
        "InstanceName": instance.name,
        "Generation": generation.to_string(),
        "Predictions": predictions,
    })))
}

/// Most context entries of a ctr request, and the longest key or value.
const MAX_CONTEXT: usize = 32;
const MAX_CONTEXT_BYTES: usize = 1024;

/// A candidate as asked for: its id, and its attributes when the request gives them.
type Wanted<'a> = (Cow<'a, str>, Option<Document>);

/// A candidate of a ctr request: an id (borrowed from the body when it is a string), or an object with
/// `item_id` (also `itemId`, `id`) and attributes.
fn ctr_candidates(body: &Value) -> Result<Vec<Wanted<'_>>, ApiError> {
    let list = field(body, &["items", "Items", "itemIds"])
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError(Error::invalid(
                "body must be {\"items\": [item ids or {\"item_id\", attributes...}]}.",
            ))
        })?;
    if list.len() > MAX_ITEMS {
        return Err(ApiError(Error::invalid(format_args!(
            "at most {MAX_ITEMS} items per request."
        ))));
    }
    fn id(v: &Value) -> Option<Cow<'_, str>> {
        match v {
            Value::String(s) if !s.is_empty() && s.len() <= 1024 => Some(Cow::Borrowed(s)),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => {
                let key = ["item_id", "itemId", "id"]
                    .into_iter()
                    .find(|k| o.contains_key(*k));
                let item = key.and_then(|k| o.get(k)).and_then(id).ok_or_else(|| {
                    ApiError(Error::invalid(format_args!(
                        "items[{i}] needs an item_id (a string of 1 to 1024 bytes or a number)."
                    )))
                })?;
                let mut attributes = o.clone();
                if let Some(k) = key {
                    attributes.remove(k);
                }
                // An object with the id alone is an id: the model's or the store's attributes apply.
                let document = (!attributes.is_empty()).then(|| Document {
                    id: item.to_string(),
                    attributes,
                });
                Ok((item, document))
            }
            other => id(other).map(|item| (item, None)).ok_or_else(|| {
                ApiError(Error::invalid(format_args!(
                    "items[{i}] must be an id (a string of 1 to 1024 bytes or a number) or an object."
                )))
            }),
        })
        .collect()
}

fn ctr_context(body: &Value) -> Result<Vec<(String, String)>, ApiError> {
    let Some(context) = field(body, &["context", "Context"]) else {
        return Ok(Vec::new());
    };
    let bad = || {
        ApiError(Error::invalid(format_args!(
            "context must be an object of at most {MAX_CONTEXT} string values \
             (keys and values at most {MAX_CONTEXT_BYTES} bytes)."
        )))
    };
    let map = context.as_object().ok_or_else(bad)?;
    if map.len() > MAX_CONTEXT {
        return Err(bad());
    }
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) if k.len() <= MAX_CONTEXT_BYTES && s.len() <= MAX_CONTEXT_BYTES => {
                Ok((k.clone(), s.clone()))
            }
            _ => Err(bad()),
        })
        .collect()
}

/// `ctr`: `{"query", "userId", "context", "items"}` → the candidates' click probabilities at the instance's
/// `serving_position`, best first. Items the model does not know and the request gives no attributes for are
/// looked up among the stored items.
async fn predict_ctr(
    state: &AppState,
    app: &str,
    instance: Option<&str>,
    body: &Value,
) -> ApiResult {
    let candidates = ctr_candidates(body)?;
    let query = match optional_text(body, &["query", "Query"])? {
        Some(q) => Some(queries::typed_query(q)?),
        None => None,
    };
    let user = queries::user_id(optional_text(body, &["userId", "UserId", "user_id"])?)?;
    let context = ctr_context(body)?;
    let instance = state.serving.resolve(app, Function::Ctr, instance).await?;
    let version = version_for_model_type(Function::Ctr, &instance.model_type)?;
    let position = version
        .effective(ParameterList::Usage, &instance.usage_parameters)
        .int("serving_position")?
        .clamp(1, 100) as u32;
    let (generation, model) = state.serving.model(&instance).await?;
    let model = model.as_ctr().ok_or_else(|| not_of_kind(&instance))?;

    let missing: Vec<String> = candidates
        .iter()
        .filter(|(id, attributes)| attributes.is_none() && !model.knows_item(id))
        .map(|(id, _)| id.to_string())
        .collect();
    let stored: std::collections::HashMap<String, Document> = if missing.is_empty() {
        Default::default()
    } else {
        state
            .store()
            .documents(app, DocumentKind::Item, missing)
            .await?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect()
    };
    let mut sources = Vec::with_capacity(candidates.len());
    let scored: Vec<Candidate<'_>> = candidates
        .iter()
        .map(|(id, attributes)| {
            let (attributes, source) = match attributes {
                Some(a) => (Some(a), "request"),
                None if model.knows_item(id) => (None, "model"),
                None => match stored.get(id.as_ref()) {
                    Some(d) => (Some(d), "store"),
                    None => (None, "unknown"),
                },
            };
            sources.push(source);
            Candidate { id, attributes }
        })
        .collect();
    let situation = Situation {
        user,
        query,
        context: &context,
        position,
    };
    let scores = model.score(&situation, &scored);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Best first; equal scores keep the order they came in.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let items: Vec<Value> = order
        .iter()
        .map(|&i| {
            json!({
                "ItemId": candidates[i].0,
                "Score": rounded(scores[i]),
                "InputIndex": i,
                "Features": sources[i],
            })
        })
        .collect();
    Ok(Reply::result(json!({
        "InstanceName": instance.name,
        "Generation": generation.to_string(),
        "Position": position,
        "Items": items,
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
    let instance = instance.as_deref();
    match function {
        Function::Pop => predict_pop(&state, &app, instance, &body).await,
        Function::Hot | Function::Hint => {
            predict_list(&state, &app, function, instance, &body).await
        }
        Function::Suggest => predict_suggest(&state, &app, instance, &body).await,
        Function::Category => predict_category(&state, &app, instance, &body).await,
        Function::Ctr => predict_ctr(&state, &app, instance, &body).await,
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
