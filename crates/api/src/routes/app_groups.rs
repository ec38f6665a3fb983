//! CreateAppGroup, ListAppGroups, DescribeAppGroup, RemoveAppGroup (the SDK's app-group operations).

use algocenter_domain::app_group::{APP_GROUP_TYPES, INTERPRETED_FIELDS, NewAppGroup};
use algocenter_domain::names::validate_app_group_name;
use algocenter_domain::paging::Page;
use algocenter_domain::{Error, now_ms};
use serde_json::{Map, Value};

use axum::Extension;

use super::AppState;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{JsonBody, Query, Segments};
use crate::wire;
use algocenter_service::access::Principal;

/// Longest app group description accepted.
const MAX_DESCRIPTION_LEN: usize = 1024;

fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError(Error::invalid(format_args!(
            "'{key}' must be a string."
        )))),
    }
}

pub async fn create(
    state: AppState,
    Extension(principal): Extension<Principal>,
    body: JsonBody,
) -> ApiResult {
    let mut fields: Map<String, Value> = body.parse()?;
    let name =
        optional_string(&fields, "name")?.ok_or_else(|| Error::invalid("'name' is required."))?;
    validate_app_group_name(&name)?;
    if !principal.allows_app(&name) {
        return Err(Error::Forbidden(format!(
            "this access key may not act on app group '{name}'."
        ))
        .into());
    }
    let app_type = optional_string(&fields, "type")?.unwrap_or_else(|| "enhanced".into());
    if !APP_GROUP_TYPES.contains(&app_type.as_str()) {
        return Err(Error::invalid(format_args!(
            "'type' must be one of {}.",
            APP_GROUP_TYPES.join(", ")
        ))
        .into());
    }
    let description = optional_string(&fields, "description")?.unwrap_or_default();
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(Error::invalid(format_args!(
            "'description' exceeds {MAX_DESCRIPTION_LEN} bytes."
        ))
        .into());
    }
    for key in INTERPRETED_FIELDS {
        fields.remove(key);
    }
    let new = NewAppGroup {
        name,
        app_type,
        description,
        extra: fields,
    };
    let created = state.store().create_app_group(new, now_ms()).await?;
    Ok(Reply::AppGroup {
        result: Some(wire::app_group(&created)),
        total: None,
    })
}

/// A key restricted to some app groups sees only those.
pub async fn list(
    state: AppState,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult {
    let page = Page::new(query.get("pageNumber"), query.get("pageSize"), 10)?;
    let name = query.non_empty("name").map(str::to_string);
    let app_type = query.non_empty("type").map(str::to_string);
    let (groups, total) = if principal.apps.is_empty() {
        state.store().list_app_groups(name, app_type, page).await?
    } else {
        let mut visible = Vec::new();
        for app in &principal.apps {
            match state.store().app_group(app).await {
                Ok(group) => visible.push(group),
                Err(Error::AppNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        visible.retain(|g| {
            name.as_ref().is_none_or(|n| g.name.contains(n.as_str()))
                && app_type.as_ref().is_none_or(|t| &g.app_type == t)
        });
        visible.sort_by_key(|g| g.id);
        let total = visible.len() as u64;
        let page_items = visible
            .into_iter()
            .skip(page.offset() as usize)
            .take(page.size as usize)
            .collect();
        (page_items, total)
    };
    let items = groups.iter().map(wire::app_group).collect();
    Ok(Reply::AppGroup {
        result: Some(Value::Array(items)),
        total: Some(total),
    })
}

pub async fn describe(state: AppState, Segments(app): Segments<String>) -> ApiResult {
    let group = state.store().app_group(&app).await?;
    Ok(Reply::AppGroup {
        result: Some(wire::app_group(&group)),
        total: None,
    })
}

pub async fn remove(state: AppState, Segments(app): Segments<String>) -> ApiResult {
    state.services.remove_app_group(&app).await?;
    Ok(Reply::AppGroup {
        result: None,
        total: None,
    })
}
