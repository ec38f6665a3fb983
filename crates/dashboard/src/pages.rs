//! The dashboard's handlers: each checks the session, reads the store or acts through the engine, and renders a
//! page (or redirects back after a button).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use algocenter_domain::access_key::Scope;
use algocenter_domain::instance::{Instance, InstanceFilter};
use algocenter_domain::paging::{MAX_PAGE_SIZE, Page};
use algocenter_domain::task::{TaskFilter, WireStatus};
use algocenter_domain::{Error, Function, now_ms};
use algocenter_service::access::Principal;
use algocenter_service::operations::{ENDPOINTS, is_public};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Dashboard;
use crate::chart::charts;
use crate::session::{Session, set_cookie, token_matches};
use crate::views::{
    ApiPage, AppPage, AppRow, AppsPage, DayRow, EndpointRow, ErrorPage, InstancePage, InstanceRow,
    Live, LiveFragment, LoginPage, Nav, TaskRow, app_href, instance_href, time,
};

type Shared = State<Arc<Dashboard>>;

/// Pages of app groups read for the app group list (100 each).
const MAX_APP_PAGES: u32 = 50;
/// Tasks listed on an instance page.
const TASKS_SHOWN: u32 = 50;
/// Days of data status on an app group's page.
const DATA_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;
/// Behaviour types shown first in the data status, in the order a search session produces them.
const KIND_ORDER: [&str; 5] = ["search", "expose", "click", "cart", "buy"];

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

/// A logged-in person: the session and what the key may do now.
struct Viewer {
    session: Session,
    principal: Principal,
}

impl Viewer {
    fn nav(&self) -> Nav {
        Nav {
            who: Some(
                self.principal
                    .key_id
                    .clone()
                    .unwrap_or_else(|| "request checking off".into()),
            ),
            csrf: self.session.csrf.clone(),
        }
    }

    fn can_write(&self) -> bool {
        self.principal.scope >= Scope::Write
    }

    /// The app group is among the key's (or `Forbidden`).
    fn may_see(&self, app: &str) -> Result<(), Error> {
        if self.principal.allows_app(app) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "access key {} may not act on app group '{app}'.",
                self.principal.key_id.as_deref().unwrap_or("-")
            )))
        }
    }

    fn error(&self, e: Error) -> Response {
        error_page(Some(self.nav()), e)
    }
}

/// The viewer of a request, or a redirect to the login form (back to `uri` afterwards).
async fn viewer(d: &Dashboard, headers: &HeaderMap, uri: &Uri) -> Result<Viewer, Response> {
    let login = || {
        // After logging in, a refresh of the live fragment returns to its page.
        let next = match uri.path().strip_suffix("/live") {
            Some(page) => page,
            None => uri.path_and_query().map_or("/ui", |p| p.as_str()),
        };
        redirect(&format!(
            "/ui/login?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ))
    };
    let Some((token, session)) = d.sessions.of(headers) else {
        return Err(login());
    };
    match d.services.keys().current(session.key_id.as_deref()).await {
        Ok(principal) => Ok(Viewer { session, principal }),
        Err(Error::InvalidAccessKeyId) => {
            // Revoked since the login.
            d.sessions.end(&token);
            Err(login())
        }
        Err(e) => Err(error_page(None, e)),
    }
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                (CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dashboard page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

fn error_page(nav: Option<Nav>, e: Error) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %e, "dashboard request failed");
    }
    html(
        status,
        ErrorPage {
            nav: nav.unwrap_or(Nav {
                who: None,
                csrf: String::new(),
            }),
            status: status.as_u16(),
            code: e.code(),
            message: e.to_string(),
        },
    )
}

fn form(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

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
        return start_session(&d, None, &next);
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

fn start_session(d: &Dashboard, key_id: Option<String>, next: &str) -> Response {
    match d.sessions.create(key_id) {
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
            start_session(&d, principal.key_id, &next)
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
    if let Some((token, session)) = d.sessions.of(&headers) {
        if !token_matches(form(&body).get("csrf"), &session) {
            return error_page(
                None,
                Error::Forbidden("the form is stale; reload the page.".into()),
            );
        }
        d.sessions.end(&token);
    }
    let mut response = redirect("/ui/login");
    if let Ok(cookie) = HeaderValue::from_str(&set_cookie(None, d.secure_cookies)) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

pub async fn static_file(Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "dashboard.css" => (
            "text/css; charset=utf-8",
            include_str!("../static/dashboard.css"),
        ),
        "dashboard.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../static/dashboard.js"),
        ),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "max-age=300")],
        body,
    )
        .into_response()
}

pub async fn not_found(State(d): Shared, headers: HeaderMap, uri: Uri) -> Response {
    let viewer = match viewer(&d, &headers, &uri).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    viewer.error(Error::RouteNotFound {
        method: "GET".into(),
        path: uri.path().to_string(),
    })
}

pub async fn apps(State(d): Shared, headers: HeaderMap, uri: Uri) -> Response {
    let viewer = match viewer(&d, &headers, &uri).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    // Every page of app groups (a key limited to some may see ones beyond the first page), up to a bound.
    let mut groups = Vec::new();
    let mut total = 0;
    for number in 1..=MAX_APP_PAGES {
        let page = Page {
            number,
            size: MAX_PAGE_SIZE,
        };
        match d.services.store().list_app_groups(None, None, page).await {
            Ok((found, all)) => {
                total = all;
                let last = found.len() < MAX_PAGE_SIZE as usize;
                groups.extend(found);
                if last {
                    break;
                }
            }
            Err(e) => return viewer.error(e),
        }
    }
    let apps: Vec<AppRow> = groups
        .into_iter()
        .filter(|g| viewer.principal.allows_app(&g.name))
        .map(|g| AppRow {
            href: app_href(&g.name),
            created: time(g.created_ms),
            name: g.name,
            app_type: g.app_type,
            description: g.description,
        })
        .collect();
    let total = if viewer.principal.apps.is_empty() {
        total
    } else {
        apps.len() as u64
    };
    html(
        StatusCode::OK,
        AppsPage {
            nav: viewer.nav(),
            apps,
            total,
        },
    )
}

pub async fn app(
    State(d): Shared,
    Path(app): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let viewer = match viewer(&d, &headers, &uri).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    if let Err(e) = viewer.may_see(&app) {
        return viewer.error(e);
    }
    match app_page(&d, &viewer, &app).await {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => viewer.error(e),
    }
}

async fn app_page(d: &Dashboard, viewer: &Viewer, app: &str) -> Result<AppPage, Error> {
    let store = d.services.store();
    let group = store.app_group(app).await?;
    let mut instances = Vec::new();
    let mut more_instances = false;
    for function in Function::ALL {
        let filter = InstanceFilter {
            include_user: true,
            ..InstanceFilter::default()
        };
        let page = Page {
            number: 1,
            size: MAX_PAGE_SIZE,
        };
        let (found, total) = store
            .list_instances(&group.name, function, filter, page)
            .await?;
        more_instances |= total > found.len() as u64;
        instances.extend(found.iter().map(|i| instance_row(&group.name, i)));
    }
    let to = now_ms();
    let status = store
        .data_status(&group.name, to - DATA_DAYS * DAY_MS, to)
        .await?;
    let kinds = sorted_kinds(
        status
            .days
            .iter()
            .flat_map(|d| d.events.keys().cloned())
            .collect(),
    );
    let mut days: Vec<DayRow> = status
        .days
        .iter()
        .map(|day| {
            let counts: Vec<u64> = kinds
                .iter()
                .map(|k| day.events.get(k).copied().unwrap_or(0))
                .collect();
            DayRow {
                day: day.day.clone(),
                total: counts.iter().sum(),
                counts,
            }
        })
        .collect();
    // Newest day first, like the task list.
    days.sort_by(|a, b| b.day.cmp(&a.day));
    let total_events = days.iter().map(|d| d.total).sum();
    Ok(AppPage {
        nav: viewer.nav(),
        name: group.name,
        app_type: group.app_type,
        description: group.description,
        instances,
        more_instances,
        window_days: DATA_DAYS,
        kinds,
        days,
        total_events,
        distinct_users: status.distinct_users,
        distinct_queries: status.distinct_queries,
        items: status.items,
        users: status.users,
    })
}

/// Behaviour types in the order of a search session, the others after them by name.
fn sorted_kinds(kinds: BTreeSet<String>) -> Vec<String> {
    let mut kinds: Vec<String> = kinds.into_iter().collect();
    kinds.sort_by_key(|k| {
        (
            KIND_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(KIND_ORDER.len()),
            k.clone(),
        )
    });
    kinds
}

fn instance_row(app: &str, i: &Instance) -> InstanceRow {
    let (last_generation, last_status) = match &i.last_task {
        Some(t) => (t.generation.to_string(), t.state.as_str()),
        None => (String::new(), ""),
    };
    InstanceRow {
        function: i.function.as_str(),
        name: i.name.clone(),
        href: instance_href(app, i.function.as_str(), &i.name),
        model_type: i.model_type.clone(),
        cron: i.cron.clone(),
        status: i.status(),
        serving: generation_text(i.serving_generation),
        pinned: i.pinned_generation.is_some(),
        last_generation,
        last_status,
    }
}

fn generation_text(generation: Option<i64>) -> String {
    generation.map_or_else(|| "none".into(), |g| g.to_string())
}

/// The path parameters of an instance page.
type InstancePath = Path<(String, String, String)>;

/// Messages carried back to the instance page after a button, as `?notice=` or `?error=`.
fn query_value(uri: &Uri, name: &str) -> Option<String> {
    uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.chars().take(500).collect())
    })
}

/// What both the instance page and its live fragment need: the viewer, allowed to see the app group, the instance
/// and its live part; or the response that refuses.
async fn instance_view(
    d: &Dashboard,
    (app, function, name): (String, String, String),
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(Viewer, Instance, Live), Response> {
    let viewer = viewer(d, headers, uri).await?;
    let loaded = async {
        viewer.may_see(&app)?;
        let function: Function = function.parse()?;
        let instance = d.services.store().instance(&app, function, &name).await?;
        let live = live(d, &instance).await?;
        Ok::<_, Error>((instance, live))
    };
    match loaded.await {
        Ok((instance, live)) => Ok((viewer, instance, live)),
        Err(e) => Err(viewer.error(e)),
    }
}

pub async fn instance(
    State(d): Shared,
    Path(path): InstancePath,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (viewer, instance, live) = match instance_view(&d, path, &headers, &uri).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    html(
        StatusCode::OK,
        InstancePage {
            nav: viewer.nav(),
            app_href: app_href(&instance.app_group),
            function: instance.function.as_str(),
            base: instance_href(
                &instance.app_group,
                instance.function.as_str(),
                &instance.name,
            ),
            app: instance.app_group,
            name: instance.name,
            model_type: instance.model_type,
            function_type: instance.function_type,
            cron: instance.cron,
            description: instance.description,
            can_write: viewer.can_write(),
            notice: query_value(&uri, "notice"),
            error: query_value(&uri, "error"),
            live,
            csrf: viewer.session.csrf.clone(),
        },
    )
}

/// The refreshing part of the instance page alone (polled by `dashboard.js`).
pub async fn instance_live(
    State(d): Shared,
    Path(path): InstancePath,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (viewer, instance, live) = match instance_view(&d, path, &headers, &uri).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    html(
        StatusCode::OK,
        LiveFragment {
            base: instance_href(
                &instance.app_group,
                instance.function.as_str(),
                &instance.name,
            ),
            can_write: viewer.can_write(),
            csrf: viewer.session.csrf.clone(),
            live,
        },
    )
}

async fn live(d: &Dashboard, instance: &Instance) -> Result<Live, Error> {
    let store = d.services.store();
    let (app, function, name) = (&instance.app_group, instance.function, &instance.name);
    let (tasks, _) = store
        .list_tasks(
            app,
            function,
            name,
            TaskFilter::default(),
            Page {
                number: 1,
                size: TASKS_SHOWN,
            },
        )
        .await?;
    let successful = TaskFilter {
        status: Some(WireStatus::Success),
        ..TaskFilter::default()
    };
    let (succeeded, _) = store
        .list_tasks(
            app,
            function,
            name,
            successful,
            Page {
                number: 1,
                size: MAX_PAGE_SIZE,
            },
        )
        .await?;
    let metrics: Vec<(i64, &str)> = succeeded
        .iter()
        .map(|t| (t.generation, t.extend_info.as_str()))
        .collect();
    let now = now_ms();
    let rows: Vec<TaskRow> = tasks
        .iter()
        .map(|t| {
            TaskRow::new(
                t,
                instance.serving_generation,
                instance.pinned_generation,
                now,
            )
        })
        .collect();
    Ok(Live {
        active: rows.iter().any(|t| t.active),
        tasks: rows,
        charts: charts(function, &metrics),
        status: instance.status(),
        serving: generation_text(instance.serving_generation),
        pinned: instance.pinned_generation,
    })
}

/// What a button needs: a session whose form token matches, a key that may write on this app group.
async fn button(
    d: &Dashboard,
    headers: &HeaderMap,
    uri: &Uri,
    app: &str,
    body: &Bytes,
) -> Result<(Viewer, HashMap<String, String>), Response> {
    let viewer = viewer(d, headers, uri).await?;
    viewer.may_see(app).map_err(|e| viewer.error(e))?;
    let fields = form(body);
    if !token_matches(fields.get("csrf"), &viewer.session) {
        return Err(viewer.error(Error::Forbidden(
            "the form is stale or from another site; reload the page.".into(),
        )));
    }
    if !viewer.can_write() {
        return Err(viewer.error(Error::Forbidden(format!(
            "access key {} has scope {}; this button needs write.",
            viewer.principal.key_id.as_deref().unwrap_or("-"),
            viewer.principal.scope
        ))));
    }
    Ok((viewer, fields))
}

/// Back to the instance page with the outcome of a button.
fn back(app: &str, function: &str, name: &str, outcome: Result<String, Error>) -> Response {
    let (key, text) = match outcome {
        Ok(notice) => ("notice", notice),
        Err(e) => ("error", format!("{}: {e}", e.code())),
    };
    let text: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    redirect(&format!(
        "{}?{key}={text}",
        instance_href(app, function, name)
    ))
}

/// Audit line for a dashboard action, like the API's for writes.
fn audit(viewer: &Viewer, action: &str, app: &str, outcome: &Result<String, Error>) {
    tracing::info!(
        target: "audit",
        key_id = viewer.principal.key_id.as_deref().unwrap_or("-"),
        action,
        app,
        outcome = outcome.as_ref().map_or_else(|e| e.code(), |_| "ok"),
        via = "dashboard",
        "audit"
    );
}

pub async fn start_task(
    State(d): Shared,
    Path((app, function, name)): InstancePath,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (viewer, _) = match button(&d, &headers, &uri, &app, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let outcome = async {
        let f: Function = function.parse()?;
        let task = d.services.engine().create_task(&app, f, &name).await?;
        Ok(format!("Generation {} queued.", task.generation))
    }
    .await;
    audit(&viewer, "CreateFunctionTask", &app, &outcome);
    back(&app, &function, &name, outcome)
}

pub async fn cancel_task(
    State(d): Shared,
    Path((app, function, name, generation)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (viewer, _) = match button(&d, &headers, &uri, &app, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let outcome = async {
        let f: Function = function.parse()?;
        let task = d
            .services
            .engine()
            .cancel_task(&app, f, &name, &generation)
            .await?;
        Ok(format!("Generation {} cancelled.", task.generation))
    }
    .await;
    audit(&viewer, "CancelFunctionTask", &app, &outcome);
    back(&app, &function, &name, outcome)
}

pub async fn pin(
    State(d): Shared,
    Path((app, function, name)): InstancePath,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (viewer, fields) = match button(&d, &headers, &uri, &app, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let generation = fields.get("generation").cloned().unwrap_or_default();
    let outcome = async {
        let f: Function = function.parse()?;
        d.services
            .engine()
            .pin_generation(&app, f, &name, Some(&generation))
            .await?;
        Ok(format!(
            "Generation {generation} pinned: it serves until unpinned."
        ))
    }
    .await;
    audit(&viewer, "PinServingGeneration", &app, &outcome);
    back(&app, &function, &name, outcome)
}

pub async fn unpin(
    State(d): Shared,
    Path((app, function, name)): InstancePath,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (viewer, _) = match button(&d, &headers, &uri, &app, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let outcome = async {
        let f: Function = function.parse()?;
        let instance = d
            .services
            .engine()
            .pin_generation(&app, f, &name, None)
            .await?;
        Ok(format!(
            "Unpinned: generation {} serves.",
            generation_text(instance.serving_generation)
        ))
    }
    .await;
    audit(&viewer, "UnpinServingGeneration", &app, &outcome);
    back(&app, &function, &name, outcome)
}

pub async fn api_reference(State(d): Shared, headers: HeaderMap, uri: Uri) -> Response {
    let viewer = match viewer(&d, &headers, &uri).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let endpoints = ENDPOINTS
        .iter()
        .map(|e| EndpointRow {
            method: e.method,
            path: e.path,
            action: e.action,
            scope: if is_public(e.action) {
                "public"
            } else {
                e.scope.as_str()
            },
            group: e.group,
            summary: e.summary,
            query: e.query.join(", "),
            body: e.body,
        })
        .collect();
    html(
        StatusCode::OK,
        ApiPage {
            nav: viewer.nav(),
            endpoints,
        },
    )
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

    #[test]
    fn data_kinds_sort_like_a_search_session() {
        let kinds = ["buy", "click", "collect", "expose", "search"].map(String::from);
        assert_eq!(
            sorted_kinds(kinds.into_iter().collect()),
            ["search", "expose", "click", "buy", "collect"]
        );
    }
}
