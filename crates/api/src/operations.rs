//! Every operation of the API by its route: the action name (as in `x-acs-action`, used in audit lines) and the
//! scope an access key needs for it.

use algocenter_domain::access_key::Scope;

pub(crate) const APP_GROUPS: &str = "/v4/openapi/app-groups";
pub(crate) const APP: &str = "/v4/openapi/app-groups/{app}";
pub(crate) const FUNCTION: &str = "/v4/openapi/app-groups/{app}/functions/{function}";
pub(crate) const VERSIONS: &str = "/v4/openapi/functions/{function}";
pub(crate) const DATA: &str = "/v3/openapi/app-groups/{app}/data-collections/{collection}/data-collection-type/{kind}/actions";
pub(crate) const KEYS: &str = "/v4/openapi/access-keys";
/// OpenSearch's data-plane serving of the query functions.
pub(crate) const SERVING: &str = "/v3/openapi/apps/{app}";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub action: &'static str,
    pub scope: Scope,
    /// A data push: its body may be as large as the push limit.
    pub push: bool,
}

const fn op(action: &'static str, scope: Scope) -> Option<Operation> {
    Some(Operation {
        action,
        scope,
        push: false,
    })
}

/// The operation of a routed request (`path` is axum's matched route).
pub fn classify(method: &str, path: &str) -> Option<Operation> {
    use Scope::{Admin, Read, Write};
    if let Some(rest) = path.strip_prefix(FUNCTION) {
        return match (method, rest) {
            ("POST", "/instances") => op("CreateFunctionInstance", Write),
            ("GET", "/instances") => op("ListFunctionInstances", Read),
            ("GET", "/instances/{instance}") => op("GetFunctionInstance", Read),
            ("PUT", "/instances/{instance}") => op("UpdateFunctionInstance", Write),
            ("DELETE", "/instances/{instance}") => op("DeleteFunctionInstance", Write),
            ("POST", "/instances/{instance}/tasks") => op("CreateFunctionTask", Write),
            ("GET", "/instances/{instance}/tasks") => op("ListFunctionTasks", Read),
            ("GET", "/instances/{instance}/tasks/{generation}") => op("GetFunctionTask", Read),
            ("DELETE", "/instances/{instance}/tasks/{generation}") => {
                op("DeleteFunctionTask", Write)
            }
            ("POST", "/instances/{instance}/tasks/{generation}/actions/cancel") => {
                op("CancelFunctionTask", Write)
            }
            ("POST", "/instances/{instance}/predict") | ("POST", "/predict") => op("Predict", Read),
            ("POST", "/resources") => op("CreateFunctionResource", Write),
            ("GET", "/resources") => op("ListFunctionResources", Read),
            ("GET", "/resources/{resource}") => op("GetFunctionResource", Read),
            ("PUT", "/resources/{resource}") => op("UpdateFunctionResource", Write),
            ("DELETE", "/resources/{resource}") => op("DeleteFunctionResource", Write),
            ("GET", "/default-instance") => op("GetFunctionDefaultInstance", Read),
            ("PUT", "/default-instance") => op("UpdateFunctionDefaultInstance", Write),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix(DATA) {
        return match (method, rest) {
            ("POST", "/bulk") => Some(Operation {
                action: "PushData",
                scope: Write,
                push: true,
            }),
            ("GET", "/export") => op("ExportData", Read),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix(SERVING) {
        return match (method, rest) {
            ("GET", "/actions/hot") => op("GetHotQueries", Read),
            ("GET", "/actions/hint") => op("GetHints", Read),
            ("GET", "/suggest/{instance}/search") => op("GetSuggestions", Read),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix(VERSIONS) {
        return match (method, rest) {
            ("GET", "/current-version") => op("GetFunctionCurrentVersion", Read),
            ("GET", "/versions/{version}") => op("GetFunctionVersion", Read),
            _ => None,
        };
    }
    match (method, path) {
        ("POST", APP_GROUPS) => op("CreateAppGroup", Admin),
        ("GET", APP_GROUPS) => op("ListAppGroups", Read),
        ("GET", APP) => op("DescribeAppGroup", Read),
        ("DELETE", APP) => op("RemoveAppGroup", Admin),
        ("GET", "/v4/openapi/app-groups/{app}/data-status") => op("GetDataStatus", Read),
        ("POST", KEYS) => op("CreateAccessKey", Admin),
        ("GET", KEYS) => op("ListAccessKeys", Admin),
        ("DELETE", "/v4/openapi/access-keys/{key}") => op("RevokeAccessKey", Admin),
        // Counts span every app group.
        ("GET", "/metrics") => op("GetMetrics", Admin),
        _ => None,
    }
}
