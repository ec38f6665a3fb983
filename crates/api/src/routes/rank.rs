//! `rank` predict: `{"query", "userId", "context", "items", "explain"}` → the candidates reranked by the custom
//! sort model, with each item's feature values and largest contributions when `explain` is true.

use algocenter_domain::Error;
use algocenter_serving::Target;
use algocenter_serving::rank::RankRequest;
use serde_json::{Map, Value, json};

use super::AppState;
use super::predict::{answer, ctr_candidates, ctr_context, optional_text, rounded};
use super::serving_params::{typed_query, user_id};
use crate::envelope::{ApiError, ApiResult};

fn explain(body: &Value) -> Result<bool, ApiError> {
    match ["explain", "Explain"].iter().find_map(|k| body.get(*k)) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError(Error::invalid("explain must be true or false."))),
    }
}

/// A figure of an explanation: NaN (a missing value) is `null`.
fn figure(v: f32) -> Value {
    if v.is_nan() {
        Value::Null
    } else {
        json!(rounded(v))
    }
}

pub(super) async fn predict(state: &AppState, target: Target<'_>, body: &Value) -> ApiResult {
    let items = ctr_candidates(body)?;
    let query = match optional_text(body, &["query", "Query"])? {
        Some(q) => Some(typed_query(q)?),
        None => None,
    };
    let user = user_id(optional_text(body, &["userId", "UserId", "user_id"])?)?;
    let context = ctr_context(body)?;
    let request = RankRequest {
        target,
        query,
        user,
        context: &context,
        items: &items,
        explain: explain(body)?,
    };
    let ranked = state.services.serving().rank(request).await?;
    let items: Vec<Value> = ranked
        .items
        .iter()
        .map(|r| {
            let mut item = json!({
                "ItemId": r.item,
                "Score": rounded(r.score),
                "InputIndex": r.input_index,
                "Features": r.features.as_str(),
            });
            if let Some(e) = &r.explanation {
                let values: Map<String, Value> = e
                    .values
                    .iter()
                    .map(|(n, v)| (n.clone(), figure(*v)))
                    .collect();
                let contributions: Vec<Value> = e
                    .contributions
                    .iter()
                    .map(|(n, c)| json!({"Feature": n, "Contribution": rounded(*c)}))
                    .collect();
                item["Explanation"] = json!({
                    "Values": values,
                    "Contributions": contributions,
                    "Bias": rounded(e.bias),
                });
            }
            item
        })
        .collect();
    // Not `json!({"Items": items})`: the macro serialises `items` into a copy of every value.
    let fields = Map::from_iter([("Items".to_string(), Value::Array(items))]);
    answer(ranked.served, Value::Object(fields))
}
