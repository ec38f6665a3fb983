//! The HTTP face of algocenter: the 18 operations of the OpenSearch 2017-12-25 function API (spec §1), the
//! app-group operations the SDK needs, and algocenter's extensions. Routes parse and validate the wire form, act
//! through the application services (`algocenter-service`: the store, the engine, serving's typed prediction
//! entries), and shape the answer into the one envelope of [`envelope`]. Every request passes the [`gate`] first.

pub mod envelope;
pub mod extract;
pub mod gate;
pub mod metrics;
pub mod openapi;
mod routes;
pub mod wire;

use std::sync::Arc;

use algocenter_domain::Error;
use algocenter_service::Services;
use algocenter_service::operations;
use algocenter_store::Store;
use axum::Router;
use axum::extract::Request;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::envelope::ApiError;

/// Explicit request limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body of the function API (413 beyond).
    pub max_body_bytes: usize,
    /// Largest data push body (413 beyond).
    pub max_push_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A raw_file resource may hold 4 MiB of content; JSON escaping can nearly double it.
            max_body_bytes: 8 * 1024 * 1024,
            // 10,000 records of about 1.5 KiB.
            max_push_bytes: 16 * 1024 * 1024,
        }
    }
}

pub struct ApiState {
    /// What the API acts through, shared with the dashboard.
    pub services: Arc<Services>,
    pub gate: gate::Gate,
    pub limits: Limits,
    pub metrics: Arc<metrics::Metrics>,
}

impl ApiState {
    /// The API over `services`, behind a gate configured by `gate` (which checks requests unless the services'
    /// key ring has no master key).
    pub fn new(services: Arc<Services>, gate: gate::GateConfig, limits: Limits) -> Self {
        let gate = gate::Gate::new(gate, services.shared_access().cloned());
        ApiState {
            services,
            gate,
            limits,
            metrics: Arc::new(metrics::Metrics::default()),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.services.store()
    }
}

/// The handler of an endpoint of [`operations::ENDPOINTS`].
fn method_router(e: &operations::Endpoint) -> Option<MethodRouter<Arc<ApiState>>> {
    use routes::{
        app_groups, data, default_instance, instances, keys, predict, queries, query_analysis,
        resources, tasks, versions,
    };
    Some(match e.action {
        "CreateAppGroup" => post(app_groups::create),
        "ListAppGroups" => get(app_groups::list),
        "DescribeAppGroup" => get(app_groups::describe),
        "RemoveAppGroup" => delete(app_groups::remove),
        "CreateFunctionInstance" => post(instances::create),
        "ListFunctionInstances" => get(instances::list),
        "GetFunctionInstance" => get(instances::get),
        "UpdateFunctionInstance" => put(instances::update),
        "DeleteFunctionInstance" => delete(instances::delete),
        "CreateFunctionTask" => post(tasks::create),
        "ListFunctionTasks" => get(tasks::list),
        "GetFunctionTask" => get(tasks::get),
        "DeleteFunctionTask" => delete(tasks::delete),
        "CancelFunctionTask" => post(tasks::cancel),
        "PinServingGeneration" => put(tasks::pin),
        "UnpinServingGeneration" => delete(tasks::unpin),
        "CreateFunctionResource" => post(resources::create),
        "ListFunctionResources" => get(resources::list),
        "GetFunctionResource" => get(resources::get),
        "UpdateFunctionResource" => put(resources::update),
        "DeleteFunctionResource" => delete(resources::delete),
        "GetFunctionDefaultInstance" => get(default_instance::get),
        "UpdateFunctionDefaultInstance" => put(default_instance::update),
        "GetFunctionCurrentVersion" => get(versions::current),
        "GetFunctionVersion" => get(versions::by_id),
        "Predict" if e.path.contains("{instance}") => post(predict::instance),
        "Predict" => post(predict::default_instance),
        "GetHotQueries" => get(queries::hot),
        "GetHints" => get(queries::hint),
        "GetSuggestions" => get(queries::suggest),
        "GetAnalyzerDictionary" => get(query_analysis::dictionary),
        "AnalyzeQuery" => get(query_analysis::analyse),
        "PutQueryAnalysisRule" => put(query_analysis::put),
        "GetQueryAnalysisRule" => get(query_analysis::get),
        "DeleteQueryAnalysisRule" => delete(query_analysis::delete),
        "ListQueryAnalysisRules" => get(query_analysis::list),
        "PushData" => post(data::bulk),
        "ExportData" => get(data::export),
        "GetDataStatus" => get(data::status),
        "CreateAccessKey" => post(keys::create),
        "ListAccessKeys" => get(keys::list),
        "RevokeAccessKey" => delete(keys::revoke),
        "GetMetrics" => get(metrics_text),
        "GetOpenApi" => get(openapi_json),
        "GetHealthLive" => get(health_live),
        "GetHealthReady" => get(health_ready),
        _ => return None,
    })
}

/// Every endpoint of [`operations::ENDPOINTS`], wrapped in the envelope middleware.
pub fn router(state: Arc<ApiState>) -> Router {
    let mut router = Router::new();
    for endpoint in operations::ENDPOINTS {
        match method_router(endpoint) {
            // Routes of one path with different methods merge.
            Some(handler) => router = router.route(endpoint.path, handler),
            None => tracing::error!(action = endpoint.action, "endpoint without a handler"),
        }
    }
    router
        // The gate runs on matched routes only, after routing, where the operation is known.
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            gate::gate,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(envelope::finalize))
}

fn plain_json(status: axum::http::StatusCode, body: serde_json::Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /health/live`: the process is up and answering.
async fn health_live() -> axum::response::Response {
    plain_json(
        axum::http::StatusCode::OK,
        serde_json::json!({"status": "live"}),
    )
}

/// `GET /health/ready`: 200 when the database answers a read and the artifact store answers, 503 with the reason
/// otherwise.
async fn health_ready(
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
) -> axum::response::Response {
    let checked = match state.store().has_keys().await {
        Ok(_) => state
            .services
            .engine()
            .artifacts()
            .check()
            .await
            .map_err(|e| format!("artifacts: {e}")),
        Err(e) => Err(format!("store: {e}")),
    };
    match checked {
        Ok(()) => plain_json(
            axum::http::StatusCode::OK,
            serde_json::json!({"status": "ready"}),
        ),
        Err(reason) => plain_json(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "not ready", "reason": reason}),
        ),
    }
}

/// `GET /openapi.json`: the API reference.
async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi::document().to_string(),
    )
        .into_response()
}

/// `GET /metrics`: the Prometheus text exposition (OpenMetrics 1.0).
async fn metrics_text(
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let text = state.metrics.render(state.store().as_ref()).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn not_found(request: Request) -> ApiError {
    ApiError(Error::RouteNotFound {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    })
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError(Error::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    })
}
