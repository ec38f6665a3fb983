//! What runs around every dashboard request: its span and request id, and the security headers of a page that
//! loads nothing from elsewhere.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// Every dashboard request runs in a span with its own request id (as API requests do), sent back in
/// `x-acs-request-id`, with the security headers of a page that loads nothing from elsewhere.
pub async fn request_span(request: Request, next: Next) -> Response {
    let request_id = algocenter_service::new_request_id();
    let span = tracing::info_span!("request", request_id = %request_id);
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-acs-request-id", value);
    }
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    let status = response.status().as_u16();
    tracing::debug!(request_id = %request_id, method = %method, path = %path, status, "dashboard request");
    response
}
