//! Serving of the query functions on OpenSearch's data-plane paths (spec §9.2):
//! `GET /v3/openapi/apps/{app}/actions/hot`, `GET /v3/openapi/apps/{app}/actions/hint` and
//! `GET /v3/openapi/apps/{app}/suggest/{instance}/search`. Bodies are snake_case as OpenSearch's v3 API:
//! `request_id`, `searchtime` (seconds) and the answer.

use std::time::Instant;

use algocenter_domain::Error;
use algocenter_serving::Target;
use algocenter_serving::query_list::{self, ListKind, ListRequest};
use algocenter_serving::suggest::{self, SuggestRequest};
use serde_json::{Map, Value, json};

use super::AppState;
use super::serving_params::{hit, list_order, typed_query, user_id};
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{Query, Segments};

fn searchtime(started: Instant) -> Value {
    json!((started.elapsed().as_secs_f64() * 1e6).round() / 1e6)
}

/// `hot` / `hint`: `"result": [{"hot", "pv", "tags"}]`.
async fn list_action(state: AppState, app: String, kind: ListKind, query: Query) -> ApiResult {
    let started = Instant::now();
    let request = ListRequest {
        target: Target::new(&app, query.non_empty("model_name")),
        kind,
        hit: hit(query.non_empty("hit"), query_list::MAX_HIT)?,
        order: list_order(query.non_empty("sort_type"))?,
        user: user_id(query.non_empty("user_id"))?,
    };
    let list = state.services.serving().query_list(request).await?;
    let result = list
        .queries
        .into_iter()
        .map(|q| json!({"hot": q.query, "pv": q.pv, "tags": q.tags}))
        .collect();
    let mut body = Map::new();
    body.insert("searchtime".into(), searchtime(started));
    body.insert("result".into(), Value::Array(result));
    Ok(Reply::Data { status: 200, body })
}

/// `GET /v3/openapi/apps/{app}/actions/hot?hit=&sort_type=&user_id=&model_name=`
pub async fn hot(state: AppState, Segments(app): Segments<String>, query: Query) -> ApiResult {
    list_action(state, app, ListKind::Hot, query).await
}

/// `GET /v3/openapi/apps/{app}/actions/hint?hit=&user_id=&model_name=`
pub async fn hint(state: AppState, Segments(app): Segments<String>, query: Query) -> ApiResult {
    list_action(state, app, ListKind::Hint, query).await
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
    let request = SuggestRequest {
        target: Target::new(&app, Some(&instance)),
        typed,
        hit: hit(query.non_empty("hit"), suggest::MAX_HIT)?,
    };
    let found = state.services.serving().suggest(request).await?;
    let mut body = Map::new();
    body.insert("searchtime".into(), searchtime(started));
    body.insert(
        "suggestions".into(),
        Value::Array(
            found
                .suggestions
                .into_iter()
                .map(|s| json!({"suggestion": s}))
                .collect(),
        ),
    );
    Ok(Reply::Data { status: 200, body })
}
