//! The dashboard's pages: app groups, an app group (instances and data status), an instance (tasks with live
//! progress, metric charts) and its live fragment, the API reference, static files and the not-found page.
//! Each checks the viewer and reads the store.

use std::collections::BTreeSet;
use std::sync::Arc;

use algocenter_domain::instance::{Instance, InstanceFilter};
use algocenter_domain::paging::{MAX_PAGE_SIZE, Page};
use algocenter_domain::task::{TaskFilter, WireStatus};
use algocenter_domain::{Error, Function, now_ms};
use algocenter_service::operations::{ENDPOINTS, is_public};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::Dashboard;
use crate::chart::charts;
use crate::render::html;
use crate::viewer::{Viewer, viewer};
use crate::views::{
    ApiPage, AppPage, AppRow, AppsPage, DayRow, EndpointRow, InstancePage, InstanceRow, Live,
    LiveFragment, TaskRow, app_href, instance_href, time,
};

pub(crate) type Shared = State<Arc<Dashboard>>;

/// Pages of app groups read for the app group list (100 each).
const MAX_APP_PAGES: u32 = 50;
/// Tasks listed on an instance page.
const TASKS_SHOWN: u32 = 50;
/// Days of data status on an app group's page.
const DATA_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;
/// Behaviour types shown first in the data status, in the order a search session produces them.
const KIND_ORDER: [&str; 5] = ["search", "expose", "click", "cart", "buy"];

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

pub(crate) fn generation_text(generation: Option<i64>) -> String {
    generation.map_or_else(|| "none".into(), |g| g.to_string())
}

/// The path parameters of an instance page.
pub(crate) type InstancePath = Path<(String, String, String)>;

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
    fn data_kinds_sort_like_a_search_session() {
        let kinds = ["buy", "click", "collect", "expose", "search"].map(String::from);
        assert_eq!(
            sorted_kinds(kinds.into_iter().collect()),
            ["search", "expose", "click", "buy", "collect"]
        );
    }
}
