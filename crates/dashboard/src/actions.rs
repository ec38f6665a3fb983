//! The buttons of an instance page: start a run, cancel one, pin and unpin the serving generation. Each needs a
//! session whose form token matches and a key that may write on the app group, acts through the engine like the
//! API's operations, writes the same audit line, and returns to the page with the outcome.

use std::collections::HashMap;

use algocenter_domain::{Error, Function};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use crate::Dashboard;
use crate::pages::{InstancePath, Shared, generation_text};
use crate::render::{form, redirect};
use crate::session::token_matches;
use crate::viewer::{Viewer, viewer};
use crate::views::instance_href;

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
