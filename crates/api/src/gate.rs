//! The gate every routed request passes: authentication (one of the three signature schemes), freshness and
//! replay, the key's scope and app groups, the per-key rate limit, and an audit line for every write.
//!
//! Order of the checks: `Authorization` parsed → key looked up → signature verified → date → scope and app group →
//! nonce and rate limit. The nonce is only remembered for a correctly signed request that its key may make, so
//! nobody can burn another client's nonces.
//!
//! Nonces and rate buckets live in this process's memory on the embedded store (one process), and in the shared
//! database when there is one ([`AccessState`]): a request accepted by one API node is then refused as a replay
//! by every node, and N nodes allow a key its rate once, not N times. That costs one round trip to the database
//! per signed request (the nonce and the bucket in one statement).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use algocenter_auth::replay::{ReplayGuard, check_fresh, nonce_hash};
use algocenter_auth::throttle::RateLimiter;
use algocenter_auth::{
    AuthError, RequestParts, nonce, parse_authorization, request_time_ms, verify,
};
use algocenter_domain::access_key::Scope;
use algocenter_domain::{Error, now_ms};
use algocenter_service::access::{KeyRing, Principal};
use algocenter_service::operations::{Operation, classify, is_public};
use algocenter_store::access_state::{AccessState, Admission, Admitted, RateLimit};
use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiState;
use crate::envelope::{ApiError, ErrorReply, RequestId};
use crate::extract::read_limited;

/// How often a node forgets the shared nonces that fell out of the window.
const PRUNE_EVERY_MS: i64 = 30_000;
/// Nonces are kept this much longer than the window, so that a node whose clock is behind the pruning node's
/// (within this) still finds every nonce it would accept the date of.
const PRUNE_MARGIN_MS: i64 = 60_000;

#[derive(Clone, Debug)]
pub struct GateConfig {
    /// Accepted distance between a request's signed date and the server's clock.
    pub window: std::time::Duration,
    /// Nonces remembered at most (in this process's memory; the shared database keeps the whole window).
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

/// Where the nonces seen and the rate buckets are kept.
enum Memory {
    /// This process's memory: the embedded store has one process.
    Local {
        replay: ReplayGuard,
        limiter: Option<RateLimiter>,
    },
    /// The database every API node shares.
    Shared {
        state: Arc<dyn AccessState>,
        rate: Option<RateLimit>,
        /// When this node next forgets nonces out of the window.
        next_prune_ms: AtomicI64,
    },
}

/// What the gate keeps besides the keys (which are the services' [`KeyRing`]): the nonces seen, the rate
/// limits. Requests are checked when the key ring has a master key, i.e. unless `--insecure-no-auth`.
pub struct Gate {
    open_metrics: bool,
    window_ms: i64,
    memory: Memory,
}

impl Gate {
    /// A gate remembering nonces and buckets in `shared` when API nodes share a database, else in memory.
    pub fn new(config: GateConfig, shared: Option<Arc<dyn AccessState>>) -> Self {
        let window_ms = config.window.as_millis() as i64;
        let memory = match shared {
            Some(state) => Memory::Shared {
                state,
                rate: config
                    .rate_limit
                    .map(|(per_second, burst)| RateLimit { per_second, burst }),
                next_prune_ms: AtomicI64::new(0),
            },
            None => Memory::Local {
                replay: ReplayGuard::new(window_ms, config.nonce_capacity),
                limiter: config
                    .rate_limit
                    .map(|(rate, burst)| RateLimiter::new(rate, burst)),
            },
        };
        Gate {
            open_metrics: config.open_metrics,
            window_ms,
            memory,
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
        check_fresh(signed_at, now, self.window_ms).map_err(auth_error)?;
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
        match &self.memory {
            Memory::Local { replay, limiter } => {
                replay
                    .check(&claim.key_id, nonce, signed_at, now)
                    .map_err(auth_error)?;
                if let Some(limiter) = limiter {
                    limiter
                        .take(&key.id, now)
                        .map_err(|retry_after_ms| Error::Throttled { retry_after_ms })?;
                }
            }
            Memory::Shared {
                state,
                rate,
                next_prune_ms,
            } => {
                let admitted = state
                    .admit(Admission {
                        // The same bits as in memory, read as the signed column type.
                        nonce_hash: nonce_hash(&claim.key_id, nonce) as i64,
                        signed_ms: signed_at,
                        key_id: &key.id,
                        rate: *rate,
                        now_ms: now,
                    })
                    .await?;
                self.prune_now_and_then(state, next_prune_ms, now);
                match admitted {
                    Admitted::Fresh => {}
                    Admitted::Replayed => return Err(Error::SignatureNonceUsed),
                    Admitted::Throttled { retry_after_ms } => {
                        return Err(Error::Throttled { retry_after_ms });
                    }
                }
            }
        }
        Ok(Principal::of(key))
    }

    /// Every [`PRUNE_EVERY_MS`], one request of this node starts forgetting the shared nonces dated before the
    /// window (and a margin for clocks), without waiting for it.
    fn prune_now_and_then(&self, state: &Arc<dyn AccessState>, next: &AtomicI64, now: i64) {
        let due = next.load(Ordering::Relaxed);
        if now < due
            || next
                .compare_exchange(
                    due,
                    now + PRUNE_EVERY_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let state = Arc::clone(state);
        let before = now - self.window_ms - PRUNE_MARGIN_MS;
        tokio::spawn(async move {
            match state.prune_nonces(before).await {
                Ok(forgotten) => tracing::debug!(forgotten, "forgot nonces out of the window"),
                Err(e) => tracing::warn!(error = %e, "could not forget old nonces"),
            }
        });
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
