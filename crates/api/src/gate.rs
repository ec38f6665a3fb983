//! The gate every routed request passes: authentication (one of the three signature schemes), freshness and
//! replay, the key's scope and app groups, the per-key rate limit, and an audit line for every write.
//!
//! Order of the checks: `Authorization` parsed → key looked up → signature verified → date and nonce → scope and
//! app group → rate limit. The nonce is only remembered for a correctly signed request, so nobody can burn
//! another client's nonces.

use std::sync::Arc;

use algocenter_auth::replay::ReplayGuard;
use algocenter_auth::throttle::RateLimiter;
use algocenter_auth::{
    AuthError, RequestParts, nonce, parse_authorization, request_time_ms, verify,
};
use algocenter_domain::access_key::Scope;
use algocenter_domain::{Error, now_ms};
use algocenter_service::access::{KeyRing, Principal};
use algocenter_service::operations::{Operation, classify, is_public};
use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiState;
use crate::envelope::{ApiError, ErrorReply, RequestId};
use crate::extract::read_limited;

#[derive(Clone, Debug)]
pub struct GateConfig {
    /// Accepted distance between a request's signed date and the server's clock.
    pub window: std::time::Duration,
    /// Nonces remembered at most.
    pub nonce_capacity: usize,
    /// Requests per second and burst per access key; `None` for no limit.
    pub rate_limit: Option<(u32, u32)>,
    /// Serve `/metrics` without a signature (for a Prometheus scraper, which cannot sign).
    pub open_metrics: bool,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            window: std::time::Duration::from_secs(15 * 60),
            // About 42 bytes each (measured): ~170 MB when full, which takes 4,400 req/s for the whole 15 minutes.
            nonce_capacity: 4_000_000,
            rate_limit: None,
            open_metrics: false,
        }
    }
}

/// What the gate keeps besides the keys (which are the services' [`KeyRing`]): the nonces seen, the rate
/// limiter. Requests are checked when the key ring has a master key, i.e. unless `--insecure-no-auth`.
pub struct Gate {
    open_metrics: bool,
    replay: ReplayGuard,
    limiter: Option<RateLimiter>,
}

impl Gate {
    pub fn new(config: GateConfig) -> Self {
        Gate {
            open_metrics: config.open_metrics,
            replay: ReplayGuard::new(config.window.as_millis() as i64, config.nonce_capacity),
            limiter: config
                .rate_limit
                .map(|(rate, burst)| RateLimiter::new(rate, burst)),
        }
    }

    /// Authenticates a request and checks it is allowed; answers the principal.
    async fn admit(
        &self,
        keys: &KeyRing,
        parts: &RequestParts<'_>,
        operation: Operation,
        app: Option<&str>,
    ) -> Result<Principal, Error> {
        let claim = parse_authorization(parts).map_err(auth_error)?;
        let active = keys.active(&claim.key_id).await?;
        verify(parts, &claim, &active.secret).map_err(auth_error)?;
        let signed_at = request_time_ms(parts, claim.scheme).map_err(auth_error)?;
        let nonce = nonce(parts, claim.scheme).map_err(auth_error)?;
        let now = now_ms();
        self.replay
            .check(&claim.key_id, nonce, signed_at, now)
            .map_err(auth_error)?;
        let key = &active.key;
        if key.scope < operation.scope {
            return Err(Error::Forbidden(format!(
                "access key {} has scope {}; {} needs {}.",
                key.id, key.scope, operation.action, operation.scope
            )));
        }
        if let Some(app) = app
            && !key.allows_app(app)
        {
            return Err(Error::Forbidden(format!(
                "access key {} may not act on app group '{app}'.",
                key.id
            )));
        }
        if let Some(limiter) = &self.limiter {
            limiter
                .take(&key.id, now)
                .map_err(|retry_after_ms| Error::Throttled { retry_after_ms })?;
        }
        Ok(Principal::of(key))
    }
}

fn auth_error(e: AuthError) -> Error {
    match e {
        AuthError::Incomplete(why) => Error::IncompleteSignature(why),
        AuthError::UnknownKey => Error::InvalidAccessKeyId,
        AuthError::Mismatch => Error::SignatureDoesNotMatch,
        AuthError::Expired => Error::TimestampExpired,
        AuthError::NonceUsed => Error::SignatureNonceUsed,
        AuthError::SecurityToken => Error::SecurityTokenNotSupported,
    }
}

/// Middleware on every route (after routing, so that the operation and the app group are known): checks the
/// request, then counts it in the metrics by operation and outcome.
pub async fn gate(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let operation = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| classify(request.method().as_str(), matched.as_str()));
    let metrics = Arc::clone(&state.metrics);
    let response = check(State(state), request, next).await;
    if let Some(operation) = operation {
        let outcome = response
            .extensions()
            .get::<ErrorReply>()
            .map_or("ok", |e| e.code);
        metrics.observe(operation.action, outcome, started.elapsed());
    }
    response
}

async fn check(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let operation = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| classify(request.method().as_str(), matched.as_str()));
    let Some(operation) = operation else {
        // Every route is classified (a test checks it); an unknown one is refused rather than let through.
        return ApiError(Error::internal("route without an operation")).into_response();
    };
    let (mut parts, body) = request.into_parts();
    let app = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "app")
                .map(|(_, value)| value.to_string())
        });
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let audit = |key_id: Option<&str>, response: &Response| {
        audit(&request_id, operation, app.as_deref(), key_id, response);
    };

    let keys = state.services.keys();
    // The API reference and health checks are public; metrics when the operator says so.
    let open = !keys.checks_requests()
        || is_public(operation.action)
        || (state.gate.open_metrics && operation.action == "GetMetrics");
    if open {
        parts.extensions.insert(Principal::unchecked());
        let response = next.run(Request::from_parts(parts, body)).await;
        audit(None, &response);
        return response;
    }
    let limit = if operation.push {
        state.limits.max_push_bytes
    } else {
        state.limits.max_body_bytes
    };
    let bytes = match read_limited(&parts.headers, body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    let request_parts = RequestParts {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &bytes,
    };
    match state
        .gate
        .admit(keys, &request_parts, operation, app.as_deref())
        .await
    {
        Ok(principal) => {
            let key_id = principal.key_id.clone();
            parts.extensions.insert(principal);
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            audit(key_id.as_deref(), &response);
            response
        }
        Err(e) => {
            let claimed = parse_authorization(&request_parts).ok().map(|c| c.key_id);
            let response = ApiError(e).into_response();
            audit(claimed.as_deref(), &response);
            response
        }
    }
}

/// One structured line per write and per refused request: key, operation, app group, outcome, request id.
fn audit(
    request_id: &str,
    operation: Operation,
    app: Option<&str>,
    key_id: Option<&str>,
    response: &Response,
) {
    let refused = response.extensions().get::<ErrorReply>();
    if operation.scope == Scope::Read && refused.is_none() {
        return;
    }
    tracing::info!(
        target: "audit",
        request_id,
        key_id = key_id.unwrap_or("-"),
        action = operation.action,
        app = app.unwrap_or("-"),
        outcome = refused.map_or("ok", |e| e.code),
        "audit"
    );
}
