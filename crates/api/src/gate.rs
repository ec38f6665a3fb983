//! The gate every routed request passes: authentication (one of the three signature schemes), freshness and
//! replay, the key's scope and app groups, the per-key rate limit, and an audit line for every write.
//!
//! Order of the checks: `Authorization` parsed → key looked up → signature verified → date and nonce → scope and
//! app group → rate limit. The nonce is only remembered for a correctly signed request, so nobody can burn
//! another client's nonces.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use algocenter_auth::replay::ReplayGuard;
use algocenter_auth::sealing::MasterKey;
use algocenter_auth::throttle::RateLimiter;
use algocenter_auth::{
    AuthError, RequestParts, nonce, parse_authorization, request_time_ms, verify,
};
use algocenter_domain::access_key::{AccessKey, Scope};
use algocenter_domain::{Error, now_ms};
use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiState;
use crate::envelope::{ApiError, ErrorReply, RequestId};
use crate::extract::read_limited;
use crate::operations::{Operation, classify};

/// How long a looked-up key (or its absence) is trusted before the store is asked again. Revocations made through
/// this server take effect at once; made through another node, within this time.
const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// Keys remembered at most (unknown ids included, so that random ids cannot grow the cache without bound).
const KEY_CACHE_CAPACITY: usize = 10_000;

/// Who made a request, for handlers that narrow their answer (ListAppGroups) and for audit lines.
#[derive(Clone, Debug)]
pub struct Principal {
    /// `None` when checking is off (`--insecure-no-auth`).
    pub key_id: Option<String>,
    pub scope: Scope,
    /// App groups the key may act on; empty means all.
    pub apps: Vec<String>,
}

impl Principal {
    pub fn allows_app(&self, app: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|a| a == app)
    }
}

#[derive(Clone, Debug)]
pub struct GateConfig {
    /// Accepted distance between a request's signed date and the server's clock.
    pub window: Duration,
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
            window: Duration::from_secs(15 * 60),
            // About 42 bytes each (measured): ~170 MB when full, which takes 4,400 req/s for the whole 15 minutes.
            nonce_capacity: 4_000_000,
            rate_limit: None,
            open_metrics: false,
        }
    }
}

struct ActiveKey {
    key: AccessKey,
    secret: Vec<u8>,
}

/// A key looked up at some instant; `None` remembers that the id is unknown or revoked.
type CachedKey = (Instant, Option<Arc<ActiveKey>>);

struct Enforcement {
    open_metrics: bool,
    master: MasterKey,
    replay: ReplayGuard,
    limiter: Option<RateLimiter>,
    keys: RwLock<HashMap<String, CachedKey>>,
}

pub struct Gate {
    enforcement: Option<Enforcement>,
}

impl Gate {
    /// No checking at all: every request acts as an admin (`--insecure-no-auth`, and tests of other concerns).
    pub fn open() -> Self {
        Gate { enforcement: None }
    }

    pub fn enforcing(master: MasterKey, config: GateConfig) -> Self {
        Gate {
            enforcement: Some(Enforcement {
                open_metrics: config.open_metrics,
                master,
                replay: ReplayGuard::new(config.window.as_millis() as i64, config.nonce_capacity),
                limiter: config
                    .rate_limit
                    .map(|(rate, burst)| RateLimiter::new(rate, burst)),
                keys: RwLock::new(HashMap::new()),
            }),
        }
    }

    pub fn is_enforcing(&self) -> bool {
        self.enforcement.is_some()
    }

    /// The master key sealing stored secrets (`None` when checking is off).
    pub fn master(&self) -> Option<&MasterKey> {
        self.enforcement.as_ref().map(|e| &e.master)
    }

    /// The dashboard's login: a key id and its secret typed into a form (no request signature). Answers who the
    /// key is; `InvalidAccessKeyId.NotFound` for an unknown or revoked key or a wrong secret alike, so that the
    /// form does not tell which key ids exist. With checking off, everyone is an admin.
    pub async fn login(
        &self,
        state: &ApiState,
        key_id: &str,
        secret: &str,
    ) -> Result<Principal, Error> {
        let Some(e) = &self.enforcement else {
            return Ok(open_principal());
        };
        let active = match e.key(state, key_id).await {
            Ok(active) => active,
            Err(err) => {
                // The same comparison work as for a known key, so that timing says less about which ids exist.
                algocenter_auth::secret_matches(secret, b"no such key");
                return Err(err);
            }
        };
        if !algocenter_auth::secret_matches(secret, &active.secret) {
            return Err(Error::InvalidAccessKeyId);
        }
        Ok(principal_of(&active.key))
    }

    /// Who a logged-in key is now (it may have been revoked since the login: then an error, within the key cache's
    /// lifetime).
    pub async fn current(
        &self,
        state: &ApiState,
        key_id: Option<&str>,
    ) -> Result<Principal, Error> {
        match (&self.enforcement, key_id) {
            (None, _) => Ok(open_principal()),
            (Some(e), Some(id)) => Ok(principal_of(&e.key(state, id).await?.key)),
            (Some(_), None) => Err(Error::InvalidAccessKeyId),
        }
    }

    /// Drops a key from the cache (after a revocation).
    pub fn forget_key(&self, id: &str) {
        if let Some(e) = &self.enforcement {
            e.keys.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        }
    }
}

fn open_principal() -> Principal {
    Principal {
        key_id: None,
        scope: Scope::Admin,
        apps: Vec::new(),
    }
}

fn principal_of(key: &AccessKey) -> Principal {
    Principal {
        key_id: Some(key.id.clone()),
        scope: key.scope,
        apps: key.apps.clone(),
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

impl Enforcement {
    async fn key(&self, state: &ApiState, id: &str) -> Result<Arc<ActiveKey>, Error> {
        if let Some((at, cached)) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(id)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return cached.clone().ok_or(Error::InvalidAccessKeyId);
        }
        let loaded = match state.store().key(id).await? {
            Some((key, sealed)) if key.revoked_ms.is_none() => {
                let secret = self.master.open(&key.id, &sealed).map_err(|e| {
                    Error::internal(format_args!(
                        "access key {id} cannot be opened: {e} (wrong master key?)"
                    ))
                })?;
                Some(Arc::new(ActiveKey {
                    key,
                    secret: secret.into_bytes(),
                }))
            }
            _ => None,
        };
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= KEY_CACHE_CAPACITY {
            keys.clear();
        }
        keys.insert(id.to_string(), (Instant::now(), loaded.clone()));
        loaded.ok_or(Error::InvalidAccessKeyId)
    }

    /// Authenticates a request and checks it is allowed; answers the principal.
    async fn admit(
        &self,
        state: &ApiState,
        parts: &RequestParts<'_>,
        operation: Operation,
        app: Option<&str>,
    ) -> Result<Principal, Error> {
        let claim = parse_authorization(parts).map_err(auth_error)?;
        let active = self.key(state, &claim.key_id).await?;
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
        Ok(principal_of(key))
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

    let open = match &state.gate.enforcement {
        None => true,
        // The API reference and health checks are public; metrics when the operator says so.
        Some(e) => {
            crate::operations::is_public(operation.action)
                || (e.open_metrics && operation.action == "GetMetrics")
        }
    };
    let Some(enforcement) = state.gate.enforcement.as_ref().filter(|_| !open) else {
        parts.extensions.insert(open_principal());
        let response = next.run(Request::from_parts(parts, body)).await;
        audit(None, &response);
        return response;
    };
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
    match enforcement
        .admit(&state, &request_parts, operation, app.as_deref())
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
