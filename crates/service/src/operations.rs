//! Every operation of the API by its route: the action name (as in `x-acs-action`, used in audit lines) and the
//! scope an access key needs for it. Pure data: the API builds its router, its gate's checks and `/openapi.json`
//! from it, the dashboard its API reference page.

use algocenter_domain::access_key::Scope;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub action: &'static str,
    pub scope: Scope,
    /// A data push: its body may be as large as the push limit.
    pub push: bool,
}

/// One endpoint of the API: the router, the gate's classification and the OpenAPI document are all made from
/// [`ENDPOINTS`], so none can miss an endpoint another has.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub method: &'static str,
    /// axum's (and OpenAPI's) path template.
    pub path: &'static str,
    pub action: &'static str,
    pub scope: Scope,
    /// OpenAPI tag.
    pub group: &'static str,
    pub summary: &'static str,
    /// Query parameters it reads.
    pub query: &'static [&'static str],
    /// Takes a JSON body.
    pub body: bool,
}

const fn e(
    method: &'static str,
    path: &'static str,
    action: &'static str,
    scope: Scope,
    group: &'static str,
    summary: &'static str,
    query: &'static [&'static str],
) -> Endpoint {
    Endpoint {
        method,
        path,
        action,
        scope,
        group,
        summary,
        query,
        body: matches!(method.as_bytes(), b"POST" | b"PUT"),
    }
}

const F: &str = "functions";
const D: &str = "data";
const S: &str = "serving";
const A: &str = "admin";

use Scope::{Admin, Read, Write};

/// Every endpoint, in the order of the API reference.
#[rustfmt::skip] // One line per endpoint reads as a table.
pub const ENDPOINTS: &[Endpoint] = &[
    e("POST", "/v4/openapi/app-groups", "CreateAppGroup", Admin, A, "Create an app group", &[]),
    e("GET", "/v4/openapi/app-groups", "ListAppGroups", Read, A, "List app groups", &["pageNumber", "pageSize", "name", "type"]),
    e("GET", "/v4/openapi/app-groups/{app}", "DescribeAppGroup", Read, A, "Describe an app group", &[]),
    e("DELETE", "/v4/openapi/app-groups/{app}", "RemoveAppGroup", Admin, A, "Remove an app group and everything in it", &[]),
    e("POST", "/v4/openapi/app-groups/{app}/functions/{function}/instances", "CreateFunctionInstance", Write, F, "Create a function instance", &[]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/instances", "ListFunctionInstances", Read, F, "List a function's instances", &[
            "pageNumber", "pageSize", "modelType", "functionType", "source", "output", ]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}", "GetFunctionInstance", Read, F, "Get an instance", &["output"]),
    e("PUT", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}", "UpdateFunctionInstance", Write, F, "Update an instance", &[]),
    e("DELETE", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}", "DeleteFunctionInstance", Write, F, "Delete an instance", &[]),
    e("POST", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks", "CreateFunctionTask", Write, F, "Queue a training run (the next generation)", &[]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks", "ListFunctionTasks", Read, F, "List an instance's tasks, newest first", &["pageNumber", "pageSize", "status", "startTime", "endTime"]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks/{generation}", "GetFunctionTask", Read, F, "Get a task", &[]),
    e("DELETE", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks/{generation}", "DeleteFunctionTask", Write, F, "Delete a finished task and its artifact", &[]),
    e("POST", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks/{generation}/actions/cancel", "CancelFunctionTask", Write, F, "Cancel a queued or running task (extension)", &[]),
    e("PUT", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/pinned-generation", "PinServingGeneration", Write, F, "Pin the generation that serves (extension)", &[]),
    e("DELETE", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/pinned-generation", "UnpinServingGeneration", Write, F, "Unpin: the newest servable generation serves again (extension)", &[]),
    e("POST", "/v4/openapi/app-groups/{app}/functions/{function}/resources", "CreateFunctionResource", Write, F, "Create a resource", &[]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/resources", "ListFunctionResources", Read, F, "List resources", &["pageNumber", "pageSize", "resourceType", "output"]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/resources/{resource}", "GetFunctionResource", Read, F, "Get a resource", &["output"]),
    e("PUT", "/v4/openapi/app-groups/{app}/functions/{function}/resources/{resource}", "UpdateFunctionResource", Write, F, "Update a resource", &[]),
    e("DELETE", "/v4/openapi/app-groups/{app}/functions/{function}/resources/{resource}", "DeleteFunctionResource", Write, F, "Delete a resource (refused while referenced)", &[]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/default-instance", "GetFunctionDefaultInstance", Read, F, "Get the default instance", &[]),
    e("PUT", "/v4/openapi/app-groups/{app}/functions/{function}/default-instance", "UpdateFunctionDefaultInstance", Write, F, "Set, replace or clear the default instance", &[]),
    e("GET", "/v4/openapi/functions/{function}/current-version", "GetFunctionCurrentVersion", Read, F, "The catalogue's version of a function and model type", &["modelType", "functionType", "domain", "category"]),
    e("GET", "/v4/openapi/functions/{function}/versions/{version}", "GetFunctionVersion", Read, F, "A catalogue version by id", &[]),
    e("POST", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/predict", "Predict", Read, S, "Serve an instance's model (extension)", &[]),
    e("POST", "/v4/openapi/app-groups/{app}/functions/{function}/predict", "Predict", Read, S, "Serve the default instance's model (extension)", &[]),
    e("GET", "/v3/openapi/apps/{app}/actions/hot", "GetHotQueries", Read, S, "Top searches", &["hit", "sort_type", "user_id", "model_name"]),
    e("GET", "/v3/openapi/apps/{app}/actions/hint", "GetHints", Read, S, "Search-box hints", &["hit", "user_id", "model_name"]),
    e("GET", "/v3/openapi/apps/{app}/suggest/{instance}/search", "GetSuggestions", Read, S, "Drop-down completions", &["query", "hit"]),
    e("GET", "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/dictionary", "GetAnalyzerDictionary", Read, S, "An analyzer's words as a jieba or IK user dictionary (extension)", &["format"]),
    e("GET", "/v3/openapi/apps/{app}/query-analysis", "AnalyzeQuery", Read, S, "A query analysed by a query-analysis rule and rewritten for a search engine (extension)", &["query", "rule", "user_id"]),
    e("PUT", "/v4/openapi/app-groups/{app}/query-analysis-rules/{rule}", "PutQueryAnalysisRule", Write, F, "Create or replace a query-analysis rule (extension)", &[]),
    e("GET", "/v4/openapi/app-groups/{app}/query-analysis-rules/{rule}", "GetQueryAnalysisRule", Read, F, "Get a query-analysis rule (extension)", &[]),
    e("DELETE", "/v4/openapi/app-groups/{app}/query-analysis-rules/{rule}", "DeleteQueryAnalysisRule", Write, F, "Delete a query-analysis rule (extension)", &[]),
    e("GET", "/v4/openapi/app-groups/{app}/query-analysis-rules", "ListQueryAnalysisRules", Read, F, "List query-analysis rules (extension)", &[]),
    e("POST", "/v3/openapi/app-groups/{app}/data-collections/{collection}/data-collection-type/{kind}/actions/bulk", "PushData", Write, D, "Push behaviour, items or users", &[]),
    e("GET", "/v3/openapi/app-groups/{app}/data-collections/{collection}/data-collection-type/{kind}/actions/export", "ExportData", Read, D, "Export stored records as JSON Lines (extension)", &["from", "to"]),
    e("GET", "/v4/openapi/app-groups/{app}/data-status", "GetDataStatus", Read, D, "Events per day and type, and whether each function has enough data (extension)", &["days"]),
    e("POST", "/v4/openapi/access-keys", "CreateAccessKey", Admin, A, "Create an access key (extension)", &[]),
    e("GET", "/v4/openapi/access-keys", "ListAccessKeys", Admin, A, "List access keys (extension)", &[]),
    e("DELETE", "/v4/openapi/access-keys/{key}", "RevokeAccessKey", Admin, A, "Revoke an access key (extension)", &[]),
    // Counts span every app group.
    e("GET", "/metrics", "GetMetrics", Admin, A, "Prometheus metrics (extension)", &[]),
    e("GET", "/openapi.json", "GetOpenApi", Read, A, "This API reference (OpenAPI 3)", &[]),
    e("GET", "/health/live", "GetHealthLive", Read, A, "The process answers (for a load balancer)", &[]),
    e("GET", "/health/ready", "GetHealthReady", Read, A, "The store answers: ready to serve (for a load balancer)", &[]),
];

/// Operations answered without an access key: the API reference and the health checks.
pub fn is_public(action: &str) -> bool {
    matches!(action, "GetOpenApi" | "GetHealthLive" | "GetHealthReady")
}

/// The operation of a routed request (`path` is axum's matched route).
pub fn classify(method: &str, path: &str) -> Option<Operation> {
    ENDPOINTS
        .iter()
        .find(|e| e.method == method && e.path == path)
        .map(|e| Operation {
            action: e.action,
            scope: e.scope,
            push: e.action == "PushData",
        })
}
