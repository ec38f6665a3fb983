//! The HTTP face of algocenter: the 18 operations of the OpenSearch 2017-12-25 function API (spec §1), the
//! app-group operations the SDK needs, and algocenter's extensions. Routes parse and validate, call the engine or
//! the store, and answer through the one envelope of [`envelope`].

pub mod envelope;
pub mod extract;
pub mod gate;
pub mod metrics;
mod operations;
mod routes;
pub mod wire;

use std::sync::Arc;

use algocenter_domain::Error;
use algocenter_engine::Engine;
use algocenter_store::Store;
use axum::Router;
use axum::extract::Request;
use axum::routing::{delete, get, post};

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
    pub engine: Arc<Engine>,
    pub serving: Arc<algocenter_serving::Serving>,
    pub gate: gate::Gate,
    pub limits: Limits,
    /// Behaviour events older than this many days are refused on push and deleted by the retention job.
    pub event_retention_days: u32,
    pub metrics: Arc<metrics::Metrics>,
}

impl ApiState {
    /// The API over an engine, serving from the engine's store and artifacts, behind `gate`.
    pub fn new(
        engine: Arc<Engine>,
        gate: gate::Gate,
        limits: Limits,
        event_retention_days: u32,
    ) -> Self {
        let serving = algocenter_serving::Serving::new(
            Arc::clone(engine.store()),
            Arc::clone(engine.artifacts()),
            engine.serving_epoch(),
        );
        ApiState {
            engine,
            serving: Arc::new(serving),
            gate,
            limits,
            event_retention_days,
            metrics: Arc::new(metrics::Metrics::default()),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }
}

/// Every route of the service, wrapped in the envelope middleware.
pub fn router(state: Arc<ApiState>) -> Router {
    use operations::{APP, APP_GROUPS, DATA, FUNCTION, KEYS, SERVING, VERSIONS};
    use routes::{
        app_groups, data, default_instance, instances, keys, predict, queries, resources, tasks,
        versions,
    };
    Router::new()
        .route(APP_GROUPS, post(app_groups::create).get(app_groups::list))
        .route(APP, get(app_groups::describe).delete(app_groups::remove))
        .route(
            &format!("{FUNCTION}/instances"),
            post(instances::create).get(instances::list),
        )
        .route(
            &format!("{FUNCTION}/instances/{{instance}}"),
            get(instances::get)
                .put(instances::update)
                .delete(instances::delete),
        )
        .route(
            &format!("{FUNCTION}/instances/{{instance}}/tasks"),
            post(tasks::create).get(tasks::list),
        )
        .route(
            &format!("{FUNCTION}/instances/{{instance}}/tasks/{{generation}}"),
            get(tasks::get).delete(tasks::delete),
        )
        .route(
            &format!("{FUNCTION}/instances/{{instance}}/tasks/{{generation}}/actions/cancel"),
            post(tasks::cancel),
        )
        .route(
            &format!("{FUNCTION}/resources"),
            post(resources::create).get(resources::list),
        )
        .route(
            &format!("{FUNCTION}/resources/{{resource}}"),
            get(resources::get)
                .put(resources::update)
                .delete(resources::delete),
        )
        .route(
            &format!("{FUNCTION}/default-instance"),
            get(default_instance::get).put(default_instance::update),
        )
        .route(
            &format!("{VERSIONS}/current-version"),
            get(versions::current),
        )
        .route(
            &format!("{VERSIONS}/versions/{{version}}"),
            get(versions::by_id),
        )
        .route(
            &format!("{FUNCTION}/instances/{{instance}}/predict"),
            post(predict::instance),
        )
        .route(
            &format!("{FUNCTION}/predict"),
            post(predict::default_instance),
        )
        .route(&format!("{APP}/data-status"), get(data::status))
        .route(&format!("{DATA}/bulk"), post(data::bulk))
        .route(&format!("{DATA}/export"), get(data::export))
        .route(&format!("{SERVING}/actions/hot"), get(queries::hot))
        .route(&format!("{SERVING}/actions/hint"), get(queries::hint))
        .route(
            &format!("{SERVING}/suggest/{{instance}}/search"),
            get(queries::suggest),
        )
        .route("/metrics", get(metrics_text))
        .route(KEYS, post(keys::create).get(keys::list))
        .route(&format!("{KEYS}/{{key}}"), delete(keys::revoke))
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
