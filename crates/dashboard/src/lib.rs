//! The web dashboard at `/ui`: server-rendered pages over the same application services as the API
//! (`algocenter-service`: the store, the engine, the access keys), with a little JavaScript that refreshes the
//! live parts of a page (task progress, metric charts) once a second.
//!
//! Pages: app groups → an app group's instances and data status → an instance's tasks (live progress bars, start,
//! cancel, pin and unpin buttons) and a chart of each metric across generations; and the API reference rendered
//! from the same endpoint table as `/openapi.json`. A person logs in with an access key id and secret (checked
//! like the API's keys, with the same scopes and app groups); the session lives in this process's memory, or in the
//! shared database when API nodes share one (any node serves any session).
//!
//! Modules: `middleware` (request span and security headers), `login`, `viewer` (who is asking), `pages`,
//! `actions` (the buttons), `render` (pages, redirects, error pages), `session`, `views` (the templates' data)
//! and `chart`.

mod actions;
mod chart;
mod login;
mod middleware;
mod pages;
mod render;
mod session;
mod viewer;
mod views;

use std::sync::Arc;

use algocenter_service::Services;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// Largest form body accepted (login and buttons send a few short fields).
const MAX_FORM_BYTES: usize = 16 * 1024;

pub struct Dashboard {
    services: Arc<Services>,
    sessions: session::Sessions,
    /// The server speaks HTTPS: session cookies are marked `Secure`.
    secure_cookies: bool,
}

/// The dashboard's routes under `/ui` over the same services as the API, to be merged with the API's router; `https` when the server serves TLS.
pub fn router(services: Arc<Services>, https: bool) -> Router {
    let sessions = session::Sessions::new(services.shared_access().cloned());
    let dashboard = Arc::new(Dashboard {
        services,
        sessions,
        secure_cookies: https,
    });
    const INSTANCE: &str = "/ui/apps/{app}/functions/{function}/instances/{instance}";
    Router::new()
        .route("/ui", get(pages::apps))
        .route("/ui/", get(pages::apps))
        .route("/ui/login", get(login::login_form).post(login::login))
        .route("/ui/logout", post(login::logout))
        .route("/ui/static/{file}", get(pages::static_file))
        .route("/ui/api", get(pages::api_reference))
        .route("/ui/apps/{app}", get(pages::app))
        .route(INSTANCE, get(pages::instance))
        .route(&format!("{INSTANCE}/live"), get(pages::instance_live))
        .route(&format!("{INSTANCE}/start"), post(actions::start_task))
        .route(
            &format!("{INSTANCE}/tasks/{{generation}}/cancel"),
            post(actions::cancel_task),
        )
        .route(&format!("{INSTANCE}/pin"), post(actions::pin))
        .route(&format!("{INSTANCE}/unpin"), post(actions::unpin))
        .route("/ui/{*rest}", get(pages::not_found))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::from_fn(middleware::request_span))
        .with_state(dashboard)
}
