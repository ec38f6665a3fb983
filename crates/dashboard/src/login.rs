//! Logging in with an access key id and its secret, and out.

use algocenter_domain::Error;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;

use crate::Dashboard;
use crate::pages::Shared;
use crate::render::{error_page, form, html, redirect};
use crate::session::{set_cookie, token_matches};
use crate::views::{LoginPage, Nav};

/// `next` of the login form, if it stays inside the dashboard (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/ui" || n.starts_with("/ui/")) && !n.contains("//") && !n.contains('\\') =>
        {
            n.to_string()
        }
        _ => "/ui".to_string(),
    }
}

pub async fn login_form(State(d): Shared, uri: Uri) -> Response {
    let next = safe_next(
        uri.query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "next"))
            .map(|(_, v)| v.into_owned())
            .as_deref(),
    );
    if !d.services.keys().checks_requests() {
        // Request checking is off (loopback only): there is no key to ask for.
        return start_session(&d, None, &next).await;
    }
    login_page(StatusCode::OK, None, next)
}

fn login_page(status: StatusCode, error: Option<String>, next: String) -> Response {
    html(
        status,
        LoginPage {
            nav: Nav {
                who: None,
                csrf: String::new(),
            },
            error,
            next,
        },
    )
}

async fn start_session(d: &Dashboard, key_id: Option<String>, next: &str) -> Response {
    match d.sessions.create(key_id).await {
        Ok((token, _)) => {
            let mut response = redirect(next);
            if let Ok(cookie) = HeaderValue::from_str(&set_cookie(Some(&token), d.secure_cookies)) {
                response.headers_mut().insert(SET_COOKIE, cookie);
            }
            response
        }
        Err(e) => error_page(None, e),
    }
}

pub async fn login(State(d): Shared, body: Bytes) -> Response {
    let fields = form(&body);
    let next = safe_next(fields.get("next").map(String::as_str));
    let key_id = fields.get("key_id").map_or("", |s| s.trim());
    let secret = fields.get("secret").map_or("", String::as_str);
    if key_id.is_empty() || secret.is_empty() {
        return login_page(
            StatusCode::BAD_REQUEST,
            Some("Both the access key id and its secret are needed.".into()),
            next,
        );
    }
    // Only well-formed ids reach the log: a secret pasted into the id field must not end up there.
    let logged_id = if algocenter_domain::access_key::validate_key_id(key_id).is_ok() {
        key_id
    } else {
        "<malformed id>"
    };
    if !d.sessions.may_try(key_id) {
        tracing::info!(target: "audit", key_id = logged_id, action = "DashboardLogin", outcome = "Throttling.User", "audit");
        return login_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed logins with this access key id: wait a few minutes.".into()),
            next,
        );
    }
    match d.services.keys().login(key_id, secret).await {
        Ok(principal) => {
            tracing::info!(target: "audit", key_id = logged_id, action = "DashboardLogin", outcome = "ok", "audit");
            start_session(&d, principal.key_id, &next).await
        }
        Err(Error::InvalidAccessKeyId) => {
            d.sessions.failed(key_id);
            tracing::info!(target: "audit", key_id = logged_id, action = "DashboardLogin", outcome = "refused", "audit");
            login_page(
                StatusCode::UNAUTHORIZED,
                Some("Unknown or revoked access key, or a wrong secret.".into()),
                next,
            )
        }
        Err(e) => error_page(None, e),
    }
}

pub async fn logout(State(d): Shared, headers: HeaderMap, body: Bytes) -> Response {
    match d.sessions.of(&headers).await {
        Ok(Some((token, session))) => {
            if !token_matches(form(&body).get("csrf"), &session) {
                return error_page(
                    None,
                    Error::Forbidden("the form is stale; reload the page.".into()),
                );
            }
            if let Err(e) = d.sessions.end(&token).await {
                return error_page(None, e);
            }
        }
        Ok(None) => {}
        Err(e) => return error_page(None, e),
    }
    let mut response = redirect("/ui/login");
    if let Ok(cookie) = HeaderValue::from_str(&set_cookie(None, d.secure_cookies)) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_only_returns_inside_the_dashboard() {
        assert_eq!(safe_next(Some("/ui/apps/shop")), "/ui/apps/shop");
        for outside in [
            "https://evil.example/",
            "//evil.example/ui",
            "/ui//evil",
            "/uix",
            "/ui\\evil",
            "",
        ] {
            assert_eq!(safe_next(Some(outside)), "/ui", "{outside}");
        }
        assert_eq!(safe_next(None), "/ui");
    }
}
