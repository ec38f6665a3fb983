//! The response envelope, built in one place.
//!
//! Handlers return [`Reply`] or [`Error`]; both become a response that carries only their content in an
//! extension. The [`finalize`] middleware, which wraps every route and the fallbacks, then writes the body with the
//! request id and latency, so that every answer (success, error, unknown route, bad body) has the same shape:
//!
//! * function API (spec §3.0, §5.2): `{"RequestId","Status","HttpCode","Code","Message","Latency","Result","TotalCount"}`
//! * app groups (the SDK reads camelCase there): `{"requestId","result","totalCount"}`
//! * errors, on every path: the PascalCase envelope with `Status: "FAIL"` and HTTP status = `HttpCode` ≥ 400.

use std::time::Instant;

use algocenter_domain::Error;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// A successful answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Function API envelope; `result` and `total` are omitted when `None`; `top_level` keys are added beside
    /// them (GetFunctionDefaultInstance repeats the instance name there).
    Function {
        result: Option<Value>,
        total: Option<u64>,
        top_level: Map<String, Value>,
    },
    /// App-group envelope (camelCase keys).
    AppGroup {
        result: Option<Value>,
        total: Option<u64>,
    },
    /// Data-plane (`/v3/`) body, snake_case as OpenSearch's v3 API; `request_id` is added. `status` is the HTTP
    /// status (a push whose every record was refused answers 400 with this body).
    Data {
        status: u16,
        body: Map<String, Value>,
    },
}

impl Reply {
    pub fn ok() -> Self {
        Reply::Function {
            result: None,
            total: None,
            top_level: Map::new(),
        }
    }

    pub fn result(result: Value) -> Self {
        Reply::Function {
            result: Some(result),
            total: None,
            top_level: Map::new(),
        }
    }

    pub fn list(items: Vec<Value>, total: u64) -> Self {
        Reply::Function {
            result: Some(Value::Array(items)),
            total: Some(total),
            top_level: Map::new(),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// The error half, as an extension (the domain error itself is not `Clone`).
#[derive(Clone, Debug)]
pub struct ErrorReply {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Throttled requests: milliseconds to wait, sent as `x-acs-retry-after` so that the SDKs raise their
    /// throttling exception.
    pub retry_after_ms: Option<u64>,
    /// Seconds to wait before retrying (storage full), sent as the standard `Retry-After`.
    pub retry_after_secs: Option<u64>,
}

/// Wraps the domain error so that handlers can return `Result<Reply, ApiError>` and use `?`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.http_status();
        if status >= 500 {
            tracing::error!(error = %self.0, "request failed");
        }
        let retry_after_ms = match &self.0 {
            Error::Throttled { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        };
        let reply = ErrorReply {
            status,
            code: self.0.code(),
            message: self.0.to_string(),
            retry_after_ms,
            retry_after_secs: self.0.retry_after_secs(),
        };
        let mut response = StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
        response.extensions_mut().insert(reply);
        response
    }
}

pub type ApiResult = Result<Reply, ApiError>;

/// Request id of the current request, for handlers that build their own bodies.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub use algocenter_service::new_request_id;

/// Middleware: assigns the request id, runs the request, writes the envelope and logs one line.
pub async fn finalize(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    // The v3 data plane (pushes, serving) answers errors in its own shape.
    let data_plane = path.starts_with("/v3/");
    // Every log line written while the request runs carries its id (the same as `RequestId` in the answer).
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    let latency = started.elapsed().as_millis() as u64;

    let (status, code, body) = if let Some(reply) = response.extensions_mut().remove::<Reply>() {
        let status = match &reply {
            Reply::Data { status, .. } => *status,
            _ => 200,
        };
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        (status, "", Some(success_body(reply, &request_id, latency)))
    } else if let Some(error) = response.extensions_mut().remove::<ErrorReply>() {
        let body = error_body(&error, &request_id, latency, data_plane);
        if let Some(ms) = error.retry_after_ms
            && let Ok(value) = HeaderValue::from_str(&ms.to_string())
        {
            response.headers_mut().insert("x-acs-retry-after", value);
        }
        if let Some(secs) = error.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        (error.status, error.code, Some(body))
    } else if response.status().is_client_error() || response.status().is_server_error() {
        // A rejection produced outside our handlers (should not happen: every extractor maps its errors).
        let error = ErrorReply {
            status: response.status().as_u16(),
            code: if response.status().is_server_error() {
                "InternalError"
            } else {
                "InvalidParameter"
            },
            message: response
                .status()
                .canonical_reason()
                .unwrap_or("error")
                .to_string(),
            retry_after_ms: None,
            retry_after_secs: None,
        };
        (
            error.status,
            error.code,
            Some(error_body(&error, &request_id, latency, data_plane)),
        )
    } else {
        (response.status().as_u16(), "", None)
    };

    if let Some(body) = body {
        *response.body_mut() = Body::from(body);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        );
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-acs-request-id", value);
    }
    // Successful requests log at debug (one line per request is too much at tens of thousands per second);
    // refused ones at info so that an operator sees them by default.
    if status >= 400 {
        tracing::info!(request_id = %request_id, method = %method, path = %path, status, code, latency_ms = latency, "request refused");
    } else {
        tracing::debug!(request_id = %request_id, method = %method, path = %path, status, latency_ms = latency, "request");
    }
    response
}

fn success_body(reply: Reply, request_id: &str, latency: u64) -> Vec<u8> {
    let mut body = Map::new();
    match reply {
        Reply::Function {
            result,
            total,
            top_level,
        } => {
            body.extend(top_level);
            body.insert("RequestId".into(), Value::from(request_id));
            body.insert("Status".into(), Value::from("OK"));
            body.insert("HttpCode".into(), Value::from(200));
            body.insert("Code".into(), Value::from(""));
            body.insert("Message".into(), Value::from(""));
            body.insert("Latency".into(), Value::from(latency));
            if let Some(result) = result {
                body.insert("Result".into(), result);
            }
            if let Some(total) = total {
                body.insert("TotalCount".into(), Value::from(total));
            }
        }
        Reply::AppGroup { result, total } => {
            body.insert("requestId".into(), Value::from(request_id));
            if let Some(result) = result {
                body.insert("result".into(), result);
            }
            if let Some(total) = total {
                body.insert("totalCount".into(), Value::from(total));
            }
        }
        Reply::Data { body: data, .. } => {
            body.insert("request_id".into(), Value::from(request_id));
            body.extend(data);
        }
    }
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

fn error_body(error: &ErrorReply, request_id: &str, latency: u64, data_plane: bool) -> Vec<u8> {
    if data_plane {
        let body = serde_json::json!({
            "request_id": request_id,
            "status": "FAIL",
            "errors": [{"code": error.code, "message": error.message}],
        });
        return serde_json::to_vec(&body).unwrap_or_default();
    }
    let body = serde_json::json!({
        "RequestId": request_id,
        "Status": "FAIL",
        "HttpCode": error.status,
        "Code": error.code,
        "Message": error.message,
        "Latency": latency,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
