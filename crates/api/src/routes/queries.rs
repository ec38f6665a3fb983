//! Serving of the query functions on OpenSearch's data-plane paths (spec §9.2):
//! `GET /v3/openapi/apps/{app}/actions/hot`, `GET /v3/openapi/apps/{app}/actions/hint` and
//! `GET /v3/openapi/apps/{app}/suggest/{instance}/search`. Bodies are snake_case as OpenSearch's v3 API:
//! `request_id`, `searchtime` (seconds) and the answer.

use std::time::Instant;

use algocenter_domain::{Error, Function};
use algocenter_functions::query_list::{self, ListOrder};
use algocenter_functions::suggest;
use algocenter_serving::not_of_kind;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{Query, Segments};

/// Longest `query` (bytes) a suggestion request may send.
pub const MAX_QUERY_BYTES: usize = 256;
/// Longest `user_id` (bytes).
pub const MAX_USER_ID_BYTES: usize = 256;
/// Hints returned when a request does not say.
pub const DEFAULT_HINT_HIT: usize = 3;
/// Top searches returned when a request does not say.
pub const DEFAULT_HOT_HIT: usize = 10;
/// Suggestions returned when a request does not say.
pub const DEFAULT_SUGGEST_HIT: usize = 10;

/// `hit`, an integer in `1..=max`, `default` when absent.
pub fn hit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError(Error::invalid(format_args!(
                "hit must be an integer from 1 to {max}, got '{raw}'."
            )))),
        },
    }
}

/// `sort_type`: `default` (the instance's `sort_type`), `pv` or `uv`.
pub fn list_order(raw: Option<&str>) -> Result<ListOrder, ApiError> {
    match raw {
        None | Some("default") => Ok(ListOrder::Default),
        Some("pv") => Ok(ListOrder::Pv),
        Some("uv") => Ok(ListOrder::Uv),
        Some(other) => Err(ApiError(Error::invalid(format_args!(
            "sort_type must be default, pv or uv, got '{other}'."
        )))),
    }
}

pub fn user_id(raw: Option<&str>) -> Result<Option<&str>, ApiError> {
    match raw {
        Some(u) if u.len() > MAX_USER_ID_BYTES => Err(ApiError(Error::invalid(format_args!(
            "user_id exceeds {MAX_USER_ID_BYTES} bytes."
        )))),
        other => Ok(other),
    }
}

pub fn typed_query(raw: &str) -> Result<&str, ApiError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(ApiError(Error::invalid(format_args!(
            "query exceeds {MAX_QUERY_BYTES} bytes."
        ))));
    }
    Ok(raw)
}

fn searchtime(started: Instant) -> Value {
    json!((started.elapsed().as_secs_f64() * 1e6).round() / 1e6)
}

/// The list of a `hot` or `hint` instance: `[{"hot", "pv", "tags"}]`.
pub async fn query_list(
    state: &AppState,
    app: &str,
    function: Function,
    instance: Option<&str>,
    (hit, order, user): (usize, ListOrder, Option<&str>),
) -> Result<(String, i64, Vec<Value>), ApiError> {
    let instance = state.serving.resolve(app, function, instance).await?;
    let (generation, model) = state.serving.model(&instance).await?;
    let list = model
        .as_query_list()
        .ok_or_else(|| not_of_kind(&instance))?;
    let result = list
        .top(hit, order, user)
        .into_iter()
        .map(|q| json!({"hot": q.query, "pv": q.pv, "tags": q.tags}))
        .collect();
    Ok((instance.name, generation, result))
}

async fn list_action(
    state: AppState,
    app: String,
    function: Function,
    query: Query,
    default_hit: usize,
) -> ApiResult {
    let started = Instant::now();
    let hit = hit(query.non_empty("hit"), default_hit, query_list::MAX_HIT)?;
    let order = list_order(query.non_empty("sort_type"))?;
    let user = user_id(query.non_empty("user_id"))?;
    let (_, _, result) = query_list(
        &state,
        &app,
        function,
        query.non_empty("model_name"),
        (hit, order, user),
    )
    .await?;
    let mut body = Map::new();
    body.insert("searchtime".into(), searchtime(started));
    body.insert("result".into(), Value::Array(result));
    Ok(Reply::Data { status: 200, body })
}

/// `GET /v3/openapi/apps/{app}/actions/hot?hit=&sort_type=&user_id=&model_name=`
pub async fn hot(state: AppState, Segments(app): Segments<String>, query: Query) -> ApiResult {
    list_action(state, app, Function::Hot, query, DEFAULT_HOT_HIT).await
}

/// `GET /v3/openapi/apps/{app}/actions/hint?hit=&user_id=&model_name=`
pub async fn hint(state: AppState, Segments(app): Segments<String>, query: Query) -> ApiResult {
    list_action(state, app, Function::Hint, query, DEFAULT_HINT_HIT).await
}

/// Completions of `typed` by a `suggest` instance.
pub async fn suggestions(
    state: &AppState,
    app: &str,
    instance: Option<&str>,
    typed: &str,
    hit: usize,
) -> Result<(String, i64, Vec<String>), ApiError> {
    let instance = state
        .serving
        .resolve(app, Function::Suggest, instance)
        .await?;
    let (generation, model) = state.serving.model(&instance).await?;
    let index = model.as_suggest().ok_or_else(|| not_of_kind(&instance))?;
    let found = index
        .suggest(typed, hit)
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok((instance.name, generation, found))
}

/// `GET /v3/openapi/apps/{app}/suggest/{instance}/search?query=&hit=`
pub async fn suggest(
    state: AppState,
    Segments((app, instance)): Segments<(String, String)>,
    query: Query,
) -> ApiResult {
    let started = Instant::now();
    let typed = typed_query(query.get("query").ok_or_else(|| {
        ApiError(Error::invalid(
            "query is required: what the user typed so far.",
        ))
    })?)?;
    let hit = hit(
        query.non_empty("hit"),
        DEFAULT_SUGGEST_HIT,
        suggest::MAX_HIT,
    )?;
    let (_, _, found) = suggestions(&state, &app, Some(&instance), typed, hit).await?;
    let mut body = Map::new();
    body.insert("searchtime".into(), searchtime(started));
    body.insert(
        "suggestions".into(),
        Value::Array(
            found
                .into_iter()
                .map(|s| json!({"suggestion": s}))
                .collect(),
        ),
    );
    Ok(Reply::Data { status: 200, body })
}
