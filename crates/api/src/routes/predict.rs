//! Serving of trained generations (extension): `POST .../functions/{fn}/instances/{instance}/predict`, and
//! `POST .../functions/{fn}/predict` for the function's default instance. Bodies by function:
//! `pop` `{"items": [...]}`; `hot`/`hint` `{"hit", "sortType", "userId"}`; `suggest` `{"query", "hit"}`;
//! `category` `{"queries": [...], "topK"}`; `ctr` `{"query", "userId", "context", "items"}`; `analyzer`
//! `{"texts": [...]}`; `termweight` `{"queries": [...]}`.
//!
//! Each handler parses its body into the function's typed serving request and shapes the answer; the prediction
//! itself is `algocenter-serving`'s.

use std::borrow::Cow;

use algocenter_domain::document::Document;
use algocenter_domain::{Error, Function};
use algocenter_serving::analyzer::{AnalyzeRequest, Token};
use algocenter_serving::category::{self, CategoriseRequest};
use algocenter_serving::ctr::{RerankRequest, Wanted};
use algocenter_serving::pop::ScoreRequest;
use algocenter_serving::query_list::{self, ListKind, ListRequest};
use algocenter_serving::suggest::{self, SuggestRequest};
use algocenter_serving::termweight::WeighRequest;
use algocenter_serving::{Served, Target};
use serde_json::{Map, Value, json};

use super::AppState;
use super::serving_params::{self, list_order, typed_query, user_id};
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{JsonBody, Segments, function};

/// Most items scored in one request.
pub const MAX_ITEMS: usize = 1000;
/// Most queries classified (or texts analysed) in one request.
pub const MAX_QUERIES: usize = 100;
/// Longest text the analyzer takes (bytes): an item title or description, not a book.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Most context entries of a ctr request, and the longest key or value.
const MAX_CONTEXT: usize = 32;
const MAX_CONTEXT_BYTES: usize = 1024;

/// Scores are stored as f32: six decimals is all they hold.
fn rounded(score: f32) -> f64 {
    (f64::from(score) * 1e6).round() / 1e6
}

/// The `Result` of every predict answer: the instance and generation that answered, then the function's fields.
fn answer(served: Served, fields: Value) -> ApiResult {
    let mut result = Map::new();
    result.insert("InstanceName".into(), Value::from(served.instance));
    result.insert(
        "Generation".into(),
        Value::from(served.generation.to_string()),
    );
    if let Value::Object(fields) = fields {
        result.extend(fields);
    }
    Ok(Reply::result(Value::Object(result)))
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

/// A count from the body (number or numeric string), checked as `hit` is; `None` when absent.
fn count(body: &Value, names: &[&str], max: usize) -> Result<Option<usize>, ApiError> {
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
    serving_params::hit(raw.as_deref(), max).map_err(|_| {
        ApiError(Error::invalid(format_args!(
            "{} must be an integer from 1 to {max}.",
            names[0]
        )))
    })
}

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

/// `pop`: `{"items": [...]}`.
async fn predict_pop(state: &AppState, target: Target<'_>, body: &Value) -> ApiResult {
    let items = item_ids(body)?;
    let scored = state
        .services
        .serving()
        .pop(ScoreRequest {
            target,
            items: &items,
        })
        .await?;
    let scores: Vec<Value> = scored
        .items
        .iter()
        .map(|s| json!({"ItemId": s.item, "Score": rounded(s.score), "Known": s.known}))
        .collect();
    answer(scored.served, json!({"Scores": scores}))
}

/// `hot` / `hint`: `{"hit", "sortType", "userId"}`, all optional.
async fn predict_list(
    state: &AppState,
    target: Target<'_>,
    kind: ListKind,
    body: &Value,
) -> ApiResult {
    let request = ListRequest {
        target,
        kind,
        hit: count(body, &["hit", "Hit"], query_list::MAX_HIT)?,
        order: list_order(optional_text(body, &["sortType", "SortType", "sort_type"])?)?,
        user: user_id(optional_text(body, &["userId", "UserId", "user_id"])?)?,
    };
    let list = state.services.serving().query_list(request).await?;
    let queries: Vec<Value> = list
        .queries
        .into_iter()
        .map(|q| json!({"Query": q.query, "Pv": q.pv, "Tags": q.tags}))
        .collect();
    answer(list.served, json!({"Queries": queries}))
}

/// `suggest`: `{"query", "hit"}`.
async fn predict_suggest(state: &AppState, target: Target<'_>, body: &Value) -> ApiResult {
    let typed = optional_text(body, &["query", "Query"])?.ok_or_else(|| {
        ApiError(Error::invalid(
            "body must be {\"query\": \"what the user typed\"}.",
        ))
    })?;
    let request = SuggestRequest {
        target,
        typed: typed_query(typed)?,
        hit: count(body, &["hit", "Hit"], suggest::MAX_HIT)?,
    };
    let found = state.services.serving().suggest(request).await?;
    answer(found.served, json!({"Suggestions": found.suggestions}))
}

/// A list of strings of the body (`queries`, `texts`): at most [`MAX_QUERIES`], each at most `max_bytes`.
fn texts<'a>(body: &'a Value, names: &[&str], max_bytes: usize) -> Result<Vec<&'a str>, ApiError> {
    let name = names[0];
    let list = field(body, names)
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError(Error::invalid(format_args!(
                "body must be {{\"{name}\": [strings]}}."
            )))
        })?;
    if list.len() > MAX_QUERIES {
        return Err(ApiError(Error::invalid(format_args!(
            "at most {MAX_QUERIES} {name} per request."
        ))));
    }
    list.iter()
        .map(|q| match q {
            Value::String(s) if s.len() <= max_bytes => Ok(s.as_str()),
            _ => Err(ApiError(Error::invalid(format_args!(
                "{name} must be strings of at most {max_bytes} bytes."
            )))),
        })
        .collect()
}

/// `category`: `{"queries": [...], "topK"}`.
async fn predict_category(state: &AppState, target: Target<'_>, body: &Value) -> ApiResult {
    let queries = texts(
        body,
        &["queries", "Queries"],
        serving_params::MAX_QUERY_BYTES,
    )?;
    let request = CategoriseRequest {
        target,
        queries: &queries,
        top_k: count(body, &["topK", "TopK", "top_k"], category::MAX_TOP_K)?,
    };
    let found = state.services.serving().categorise(request).await?;
    let predictions: Vec<Value> = found
        .predictions
        .iter()
        .map(|p| {
            json!({
                "Query": p.query,
                "Categories": p.categories.iter().map(|(c, s)| json!({"Category": c, "Score": rounded(*s)})).collect::<Vec<_>>(),
                "Source": p.source.as_str(),
                "Intervened": p.intervened,
            })
        })
        .collect();
    answer(found.served, json!({"Predictions": predictions}))
}

/// The candidates of a ctr request: ids (borrowed from the body when they are strings), or objects with
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
                let attributes = (!attributes.is_empty()).then(|| Document {
                    id: item.to_string(),
                    attributes,
                });
                Ok(Wanted {
                    id: item,
                    attributes,
                })
            }
            other => id(other)
                .map(|item| Wanted {
                    id: item,
                    attributes: None,
                })
                .ok_or_else(|| {
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

/// `ctr`: `{"query", "userId", "context", "items"}` → the candidates' click probabilities, best first.
async fn predict_ctr(state: &AppState, target: Target<'_>, body: &Value) -> ApiResult {
    let items = ctr_candidates(body)?;
    let query = match optional_text(body, &["query", "Query"])? {
        Some(q) => Some(typed_query(q)?),
        None => None,
    };
    let user = user_id(optional_text(body, &["userId", "UserId", "user_id"])?)?;
    let context = ctr_context(body)?;
    let request = RerankRequest {
        target,
        query,
        user,
        context: &context,
        items: &items,
    };
    let reranked = state.services.serving().rerank(request).await?;
    let ranked: Vec<Value> = reranked
        .items
        .iter()
        .map(|r| {
            json!({
                "ItemId": r.item,
                "Score": rounded(r.score),
                "InputIndex": r.input_index,
                "Features": r.features.as_str(),
            })
        })
        .collect();
    answer(
        reranked.served,
        json!({"Position": reranked.position, "Items": ranked}),
    )
}

/// A token as the answers show it: its text, character offsets, where it came from and its entity type.
pub(crate) fn token_json(t: &Token) -> Value {
    json!({
        "Token": t.text,
        "Start": t.start,
        "End": t.end,
        "Source": t.source.map_or("base", |s| s.as_str()),
        "Entity": t.entity,
    })
}

/// `analyzer`: `{"texts": [...]}` → the tokens of each text.
async fn predict_analyzer(state: &AppState, target: Target<'_>, body: &Value) -> ApiResult {
    let texts = texts(body, &["texts", "Texts"], MAX_TEXT_BYTES)?;
    let found = state
        .services
        .serving()
        .analyze(AnalyzeRequest {
            target,
            texts: &texts,
        })
        .await?;
    let tokens: Vec<Value> = found
        .tokens
        .iter()
        .map(|tokens| Value::Array(tokens.iter().map(token_json).collect()))
        .collect();
    answer(found.served, json!({"Tokens": tokens}))
}

/// `termweight`: `{"queries": [...]}` → each query's terms with weight and level.
async fn predict_termweight(state: &AppState, target: Target<'_>, body: &Value) -> ApiResult {
    let queries = texts(
        body,
        &["queries", "Queries"],
        serving_params::MAX_QUERY_BYTES,
    )?;
    let found = state
        .services
        .serving()
        .weigh(WeighRequest {
            target,
            queries: &queries,
        })
        .await?;
    let answers: Vec<Value> = queries
        .iter()
        .zip(&found.queries)
        .map(|(q, terms)| {
            let terms: Vec<Value> = terms
                .iter()
                .map(|t| {
                    let mut v = token_json(&t.token);
                    v["Weight"] = json!(rounded(t.weight.weight));
                    v["Level"] = json!(t.weight.level.as_str());
                    v["StopWord"] = json!(t.weight.stop_word);
                    v["Intervened"] = json!(t.weight.intervened);
                    v
                })
                .collect();
            json!({"Query": q, "Terms": terms})
        })
        .collect();
    answer(found.served, json!({"Queries": answers}))
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
    let target = Target::new(&app, instance.as_deref());
    match function {
        Function::Pop => predict_pop(&state, target, &body).await,
        Function::Hot => predict_list(&state, target, ListKind::Hot, &body).await,
        Function::Hint => predict_list(&state, target, ListKind::Hint, &body).await,
        Function::Suggest => predict_suggest(&state, target, &body).await,
        Function::Category => predict_category(&state, target, &body).await,
        Function::Ctr => predict_ctr(&state, target, &body).await,
        Function::Analyzer => predict_analyzer(&state, target, &body).await,
        Function::Termweight => predict_termweight(&state, target, &body).await,
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
