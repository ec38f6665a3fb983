//! CreateFunctionTask, GetFunctionTask, ListFunctionTasks, DeleteFunctionTask and the cancel and pin extensions.

use algocenter_domain::Error;
use algocenter_domain::paging::{OutputLevel, Page};
use algocenter_domain::task::{TaskFilter, WireStatus};
use serde_json::json;

use super::AppState;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{JsonBody, Query, Segments, function};
use crate::wire;

/// `startTime`/`endTime` below this are read as epoch seconds: the spec says milliseconds but the documentation's
/// examples use seconds (spec §10.6). 10^11 ms is March 1973, 10^11 s is year 5138, so nothing is ambiguous.
const SECONDS_BELOW: i64 = 100_000_000_000;

fn as_millis(t: Option<i64>) -> Option<i64> {
    t.map(|t| if t.abs() < SECONDS_BELOW { t * 1000 } else { t })
}

/// Queues a training run. The spec's response has no body; algocenter adds `Result {Generation, RunId}` so that a
/// client need not list tasks to learn the new generation (SDK models ignore it).
pub async fn create(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
) -> ApiResult {
    let function = function(&name)?;
    let task = state
        .services
        .engine()
        .create_task(&app, function, &instance)
        .await?;
    Ok(Reply::result(
        json!({"Generation": task.generation.to_string(), "RunId": task.run_id}),
    ))
}

pub async fn get(
    state: AppState,
    Segments((app, name, instance, generation)): Segments<(String, String, String, String)>,
) -> ApiResult {
    let function = function(&name)?;
    let task = state
        .store()
        .task(&app, function, &instance, &generation)
        .await?;
    Ok(Reply::result(wire::task(&task)))
}

pub async fn list(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
    query: Query,
) -> ApiResult {
    let function = function(&name)?;
    let page = Page::new(query.get("pageNumber"), query.get("pageSize"), 1)?;
    let status = match query.non_empty("status") {
        None => None,
        Some(s) => Some(WireStatus::parse(s).ok_or_else(|| {
            ApiError(Error::invalid(format_args!(
                "status '{s}' is invalid; valid: running, success, failed."
            )))
        })?),
    };
    let filter = TaskFilter {
        status,
        start_time_ms: as_millis(query.millis("startTime")?),
        end_time_ms: as_millis(query.millis("endTime")?),
    };
    let (tasks, total) = state
        .store()
        .list_tasks(&app, function, &instance, filter, page)
        .await?;
    Ok(Reply::list(tasks.iter().map(wire::task).collect(), total))
}

pub async fn delete(
    state: AppState,
    Segments((app, name, instance, generation)): Segments<(String, String, String, String)>,
) -> ApiResult {
    let function = function(&name)?;
    state
        .services
        .delete_task(&app, function, &instance, &generation)
        .await?;
    Ok(Reply::ok())
}

/// Extension: `POST .../tasks/{generation}/actions/cancel` ends a queued or running task as `failed` with
/// `errors: ["cancelled"]`.
pub async fn cancel(
    state: AppState,
    Segments((app, name, instance, generation)): Segments<(String, String, String, String)>,
) -> ApiResult {
    let function = function(&name)?;
    let task = state
        .services
        .engine()
        .cancel_task(&app, function, &instance, &generation)
        .await?;
    Ok(Reply::result(wire::task(&task)))
}

/// Extension: `PUT .../instances/{instance}/pinned-generation` with `{"generation": N}` (number or string) makes
/// generation N serve until unpinned; newer generations still train but do not serve.
pub async fn pin(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
    body: JsonBody,
) -> ApiResult {
    let function = function(&name)?;
    let body: serde_json::Value = body.parse()?;
    let generation = match body.get("generation").or_else(|| body.get("Generation")) {
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(ApiError(Error::invalid(
                "generation is required: the generation to pin, as a number or a string.",
            )));
        }
    };
    let instance = state
        .services
        .engine()
        .pin_generation(&app, function, &instance, Some(&generation))
        .await?;
    Ok(Reply::result(wire::instance(
        &instance,
        OutputLevel::Normal,
        false,
    )))
}

/// Extension: `DELETE .../instances/{instance}/pinned-generation`: the newest servable generation serves again.
pub async fn unpin(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
) -> ApiResult {
    let function = function(&name)?;
    let instance = state
        .services
        .engine()
        .pin_generation(&app, function, &instance, None)
        .await?;
    Ok(Reply::result(wire::instance(
        &instance,
        OutputLevel::Normal,
        false,
    )))
}
