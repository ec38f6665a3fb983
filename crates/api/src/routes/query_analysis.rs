//! Query analysis (extensions): the rules (`PUT|GET|DELETE /v4/openapi/app-groups/{app}/query-analysis-rules/
//! {rule}` and the list), the analysis of one query on the data plane (`GET /v3/openapi/apps/{app}/
//! query-analysis?query=&rule=&user_id=`), and an analyzer's words as a user dictionary (`GET …/functions/
//! analyzer/instances/{instance}/dictionary?format=jieba|ik`).

use std::time::Instant;

use algocenter_domain::query_rule::{QueryAnalysisRule, RuleSpec};
use algocenter_domain::{Error, Function};
use algocenter_serving::Target;
use algocenter_serving::analyzer::DictionaryFormat;
use algocenter_serving::query_analysis::{AnalysedQuery, AnalysisRequest, MAX_QUERY_BYTES};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::AppState;
use super::serving_params::user_id;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{JsonBody, Query, Segments, function};

fn rule_json(rule: &QueryAnalysisRule) -> Value {
    let s = &rule.spec;
    json!({
        "Name": rule.name,
        "Analyzer": s.analyzer,
        "Termweight": s.termweight,
        "Category": s.category,
        "Correction": s.correction,
        "Synonym": s.synonym,
        "Fields": s.fields.iter().map(|f| f.as_text()).collect::<Vec<_>>(),
        "CategoryField": s.category_field,
        "Default": s.default,
        "CreateTime": rule.created_ms,
        "UpdateTime": rule.updated_ms,
    })
}

/// `PUT …/query-analysis-rules/{rule}`: creates or replaces it; answers the rule.
pub async fn put(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    let body: Value = body.parse()?;
    let spec = RuleSpec::parse(&body)?;
    let rule = state.services.put_rule(&app, &name, spec).await?;
    Ok(Reply::result(rule_json(&rule)))
}

pub async fn get(state: AppState, Segments((app, name)): Segments<(String, String)>) -> ApiResult {
    let rule = state.store().rule(&app, &name).await?;
    Ok(Reply::result(rule_json(&rule)))
}

pub async fn delete(
    state: AppState,
    Segments((app, name)): Segments<(String, String)>,
) -> ApiResult {
    state.services.delete_rule(&app, &name).await?;
    Ok(Reply::ok())
}

pub async fn list(state: AppState, Segments(app): Segments<String>) -> ApiResult {
    let rules = state.store().list_rules(&app).await?;
    Ok(Reply::Function {
        total: Some(rules.len() as u64),
        result: Some(Value::Array(rules.iter().map(rule_json).collect())),
        top_level: Map::new(),
    })
}

fn analysed_json(q: &AnalysedQuery) -> Value {
    let round = |v: f32| (f64::from(v) * 1e4).round() / 1e4;
    let tokens: Vec<Value> = q
        .tokens
        .iter()
        .map(|t| {
            json!({
                "token": t.text,
                "start": t.start,
                "end": t.end,
                "source": t.source.map_or("base", |s| s.as_str()),
                "entity": t.entity,
                "weight": t.weight.map(round),
                "level": t.level.map(|l| l.as_str()),
                "stop_word": t.stop_word,
                "synonyms": t.synonyms,
            })
        })
        .collect();
    let stages: Vec<Value> = q
        .stages
        .iter()
        .map(|s| {
            json!({"stage": s.stage, "function": s.function, "instance": s.instance, "generation": s.generation})
        })
        .collect();
    // OpenSearch's `query_correction_info`: what the correction stage found, and whether it rewrote the query.
    let correction: Vec<Value> = q
        .correction
        .iter()
        .map(|c| {
            json!({
                "original_query": q.raw,
                "corrected_query": c.corrected,
                "correction_level": c.level,
                "source": c.source,
            })
        })
        .collect();
    json!({
        "query": q.raw,
        "normalized": q.normalised,
        "corrected": q.corrected,
        // Which text the tokens' `start` and `end` count characters of: the corrected query after a level-1
        // correction (the tokens are its words), else the query as sent.
        "offsets_in": if q.corrected.is_some() { "corrected" } else { "query" },
        "query_correction_info": correction,
        "rule": q.rule,
        "tokens": tokens,
        "categories": q.categories.iter().map(|(c, s)| json!({"category": c, "score": round(*s)})).collect::<Vec<_>>(),
        "rewritten": q.rewritten.as_ref().map(|r| json!({"opensearch": r.opensearch, "dsl": r.dsl})),
        "stages": stages,
    })
}

/// `GET /v3/openapi/apps/{app}/query-analysis?query=&rule=&user_id=`.
pub async fn analyse(state: AppState, Segments(app): Segments<String>, query: Query) -> ApiResult {
    let started = Instant::now();
    let text = query
        .get("query")
        .ok_or_else(|| ApiError(Error::invalid("query is required.")))?;
    if text.len() > MAX_QUERY_BYTES {
        return Err(ApiError(Error::invalid(format_args!(
            "query exceeds {MAX_QUERY_BYTES} bytes."
        ))));
    }
    let request = AnalysisRequest {
        app: &app,
        query: text,
        rule: query.non_empty("rule"),
        user: user_id(query.non_empty("user_id"))?,
    };
    let analysed = state.services.serving().analyse_query(request).await?;
    state.metrics.query_analysis(&analysed.timings);
    let mut body = Map::new();
    body.insert(
        "searchtime".into(),
        json!((started.elapsed().as_secs_f64() * 1e6).round() / 1e6),
    );
    body.insert("result".into(), analysed_json(&analysed));
    Ok(Reply::Data { status: 200, body })
}

/// `GET …/functions/analyzer/instances/{instance}/dictionary?format=jieba|ik`: the serving generation's words,
/// as plain text (`x-algocenter-generation` names the generation).
pub async fn dictionary(
    state: AppState,
    Segments((app, function_name, instance)): Segments<(String, String, String)>,
    query: Query,
) -> Result<axum::response::Response, ApiError> {
    if function(&function_name)? != Function::Analyzer {
        return Err(ApiError(Error::invalid(
            "only analyzer instances have a dictionary.",
        )));
    }
    let asked = query.non_empty("format").unwrap_or("jieba");
    let format = DictionaryFormat::parse(asked).ok_or_else(|| {
        ApiError(Error::invalid(format_args!(
            "format must be jieba or ik, got '{asked}'."
        )))
    })?;
    let found = state
        .services
        .serving()
        .dictionary(Target::new(&app, Some(&instance)), format)
        .await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::HeaderName::from_static("x-algocenter-generation"),
                found.served.generation.to_string(),
            ),
        ],
        found.text,
    )
        .into_response())
}
