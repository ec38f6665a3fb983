//! What each page shows, ready to render: the templates in `templates/` only lay these out (askama escapes every
//! value).

use algocenter_domain::task::{Task, TaskState};
use askama::Template;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::chart::{Bars, Chart};

/// Characters escaped in a path segment (names may hold anything the API accepts).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

pub fn app_href(app: &str) -> String {
    format!("/ui/apps/{}", segment(app))
}

pub fn instance_href(app: &str, function: &str, instance: &str) -> String {
    format!(
        "/ui/apps/{}/functions/{}/instances/{}",
        segment(app),
        segment(function),
        segment(instance)
    )
}

/// The header of every page.
pub struct Nav {
    /// Who is logged in (a key id, or "checking off"); `None` on the login page.
    pub who: Option<String>,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub nav: Nav,
    pub error: Option<String>,
    pub next: String,
}

pub struct AppRow {
    pub name: String,
    pub href: String,
    pub app_type: String,
    pub description: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "apps.html")]
pub struct AppsPage {
    pub nav: Nav,
    pub apps: Vec<AppRow>,
    pub total: u64,
}

pub struct InstanceRow {
    pub function: &'static str,
    pub name: String,
    pub href: String,
    pub model_type: String,
    pub cron: String,
    pub status: &'static str,
    pub serving: String,
    pub pinned: bool,
    /// The newest task: generation and status.
    pub last_generation: String,
    pub last_status: &'static str,
}

pub struct DayRow {
    pub day: String,
    /// One count per column of [`AppPage::kinds`].
    pub counts: Vec<u64>,
    pub total: u64,
}

#[derive(Template)]
#[template(path = "app.html")]
pub struct AppPage {
    pub nav: Nav,
    pub name: String,
    pub app_type: String,
    pub description: String,
    pub instances: Vec<InstanceRow>,
    /// Instances beyond the 100 listed per function.
    pub more_instances: bool,
    pub window_days: i64,
    pub kinds: Vec<String>,
    pub days: Vec<DayRow>,
    pub total_events: u64,
    pub distinct_users: u64,
    pub distinct_queries: u64,
    pub items: u64,
    pub users: u64,
}

pub struct TaskRow {
    pub generation: i64,
    pub status: &'static str,
    pub progress: i64,
    pub step: String,
    pub run_id: String,
    pub started: String,
    pub duration: String,
    pub errors: String,
    pub active: bool,
    pub can_pin: bool,
    pub serving: bool,
    pub pinned: bool,
}

impl TaskRow {
    pub fn new(task: &Task, serving: Option<i64>, pinned: Option<i64>, now_ms: i64) -> Self {
        let active = matches!(task.state, TaskState::Queued | TaskState::Running);
        let errors = serde_json::from_str::<serde_json::Value>(&task.extend_info)
            .ok()
            .and_then(|v| v.get("errors").cloned())
            .and_then(|e| e.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("; ");
        let duration = match (task.started_ms, task.ended_ms) {
            (Some(start), Some(end)) => duration(end - start),
            (Some(start), None) if active => duration(now_ms - start),
            _ => String::new(),
        };
        TaskRow {
            generation: task.generation,
            status: task.state.as_str(),
            progress: task.progress.clamp(0, 100),
            step: task.step.clone(),
            run_id: task.run_id.clone(),
            started: time(task.start_time_ms()),
            duration,
            errors,
            active,
            can_pin: task.state == TaskState::Success && pinned != Some(task.generation),
            serving: serving == Some(task.generation),
            pinned: pinned == Some(task.generation),
        }
    }
}

/// The part of the instance page that refreshes itself.
pub struct Live {
    pub tasks: Vec<TaskRow>,
    pub charts: Vec<Chart>,
    /// Feature importances of the newest generation that reports them (`rank`).
    pub importance: Option<Bars>,
    /// A task is queued or running: refresh often.
    pub active: bool,
    pub status: &'static str,
    pub serving: String,
    pub pinned: Option<i64>,
}

#[derive(Template)]
#[template(path = "instance.html")]
pub struct InstancePage {
    pub nav: Nav,
    pub app: String,
    pub app_href: String,
    pub function: &'static str,
    pub name: String,
    pub base: String,
    pub model_type: String,
    pub function_type: String,
    pub cron: String,
    pub description: String,
    pub can_write: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub live: Live,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "live.html")]
pub struct LiveFragment {
    pub base: String,
    pub can_write: bool,
    pub csrf: String,
    pub live: Live,
}

pub struct EndpointRow {
    pub method: &'static str,
    pub path: &'static str,
    pub action: &'static str,
    pub scope: &'static str,
    pub group: &'static str,
    pub summary: &'static str,
    pub query: String,
    pub body: bool,
}

#[derive(Template)]
#[template(path = "api.html")]
pub struct ApiPage {
    pub nav: Nav,
    pub endpoints: Vec<EndpointRow>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub nav: Nav,
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

/// `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, ms / 60_000 % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_in_links_and_durations_read_well() {
        assert_eq!(
            instance_href("a b", "pop", "x/y?#"),
            "/ui/apps/a%20b/functions/pop/instances/x%2Fy%3F%23"
        );
        assert_eq!(app_href("店铺"), "/ui/apps/%E5%BA%97%E9%93%BA");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_345), "12.3 s");
        assert_eq!(duration(245_000), "4 min 05 s");
        assert_eq!(duration(7_380_000), "2 h 03 min");
        assert_eq!(time(0), "1970-01-01 00:00:00");
    }
}
