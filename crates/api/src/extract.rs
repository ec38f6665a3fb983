//! Request extractors whose every failure is an OpenSearch-style error.

use std::sync::Arc;

use algocenter_domain::{Error, Function};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiState;
use crate::envelope::ApiError;

/// Path parameters, percent-decoded segment by segment (axum matches on the raw path, so an encoded `/` stays
/// inside its segment).
pub struct Segments<T>(pub T);

impl<T, S> FromRequestParts<S> for Segments<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Segments(t))
            .map_err(|e| {
                ApiError(Error::invalid(format_args!(
                    "invalid path: {}",
                    e.body_text()
                )))
            })
    }
}

/// Parses the `{functionName}` path segment.
pub fn function(name: &str) -> Result<Function, ApiError> {
    name.parse().map_err(ApiError)
}

/// The query string, decoded as `application/x-www-form-urlencoded` (`+` is a space; spec §2.2).
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty value (the SDK sends unset optional strings as absent, some clients as empty).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn millis(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(raw) => raw.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError(Error::invalid(format_args!(
                    "{name} must be a time in epoch milliseconds, got '{raw}'."
                )))
            }),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        Ok(Query(
            form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

/// The raw request body, at most `max_body_bytes` (413 beyond).
pub struct JsonBody(pub Bytes);

impl JsonBody {
    /// Parses the body as `T`; an empty body counts as `{}`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes: &[u8] = if self.0.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.0
        };
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError(Error::invalid(format_args!(
                "request body is not valid for this operation: {e}."
            )))
        })
    }
}

/// Reads a request body of at most `limit` bytes (413 beyond, also when `Content-Length` says so up front).
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError(Error::PayloadTooLarge { limit }));
    }
    let limited = http_body_util::Limited::new(body, limit);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError(Error::PayloadTooLarge { limit }))
        }
        Err(e) => Err(ApiError(Error::invalid(format_args!(
            "could not read the request body: {e}"
        )))),
    }
}

impl FromRequest<Arc<ApiState>> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(
        request: Request,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        read_limited(&parts.headers, body, state.limits.max_body_bytes)
            .await
            .map(JsonBody)
    }
}

/// The body of a data push, at most `max_push_bytes`.
pub struct PushBody(pub Bytes);

impl FromRequest<Arc<ApiState>> for PushBody {
    type Rejection = ApiError;

    async fn from_request(
        request: Request,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        read_limited(&parts.headers, body, state.limits.max_push_bytes)
            .await
            .map(PushBody)
    }
}
