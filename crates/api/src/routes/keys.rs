//! Access keys (extension, admin scope): `POST /v4/openapi/access-keys`, `GET /v4/openapi/access-keys`,
//! `DELETE /v4/openapi/access-keys/{id}`. A key restricted to some app groups manages only keys restricted to
//! those app groups, so that it cannot mint itself wider powers.

use algocenter_auth::sealing::generate_key;
use algocenter_domain::access_key::{AccessKey, Scope};
use algocenter_domain::{Error, now_ms};
use axum::Extension;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use crate::envelope::{ApiResult, Reply};
use crate::extract::{JsonBody, Segments};
use algocenter_service::access::Principal;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    #[serde(alias = "Scope")]
    scope: Option<String>,
    #[serde(alias = "Apps", default)]
    apps: Vec<String>,
    #[serde(alias = "Description", default)]
    description: String,
}

fn wire(key: &AccessKey) -> Value {
    json!({
        "AccessKeyId": key.id,
        "Scope": key.scope.as_str(),
        "Apps": key.apps,
        "Description": key.description,
        "CreateTime": key.created_ms,
        "RevokeTime": key.revoked_ms.unwrap_or(0),
        "Status": if key.revoked_ms.is_some() { "revoked" } else { "active" },
    })
}

/// Whether `principal` may manage `key`: an unrestricted key manages all; a restricted one only keys restricted to
/// a subset of its own app groups.
fn manages(principal: &Principal, apps: &[String]) -> bool {
    principal.apps.is_empty() || (!apps.is_empty() && apps.iter().all(|a| principal.allows_app(a)))
}

pub async fn create(
    state: AppState,
    Extension(principal): Extension<Principal>,
    body: JsonBody,
) -> ApiResult {
    let master = state.services.keys().master().ok_or_else(|| {
        Error::invalid(
            "access keys are not used while request checking is off (--insecure-no-auth).",
        )
    })?;
    let body: CreateBody = body.parse()?;
    let scope: Scope = body.scope.as_deref().unwrap_or("read").parse()?;
    if body.description.len() > 256 {
        return Err(Error::invalid("description exceeds 256 bytes.").into());
    }
    let mut apps = body.apps;
    apps.sort();
    apps.dedup();
    if apps.iter().any(|a| a.is_empty() || a.len() > 64) {
        return Err(Error::invalid("apps must be app group names.").into());
    }
    if !manages(&principal, &apps) {
        return Err(Error::Forbidden(
            "a key restricted to app groups can only create keys restricted to some of them."
                .into(),
        )
        .into());
    }
    let (id, secret) = generate_key().map_err(Error::internal)?;
    let sealed = master.seal(&id, &secret).map_err(Error::internal)?;
    let key = AccessKey {
        id,
        scope,
        apps,
        description: body.description,
        created_ms: now_ms(),
        revoked_ms: None,
    };
    state.store().create_key(key.clone(), sealed).await?;
    let mut result = wire(&key);
    // The only time the secret leaves the server.
    result["AccessKeySecret"] = json!(secret);
    Ok(Reply::result(result))
}

pub async fn list(state: AppState, Extension(principal): Extension<Principal>) -> ApiResult {
    let keys = state.store().list_keys().await?;
    let visible: Vec<Value> = keys
        .iter()
        .filter(|k| manages(&principal, &k.apps))
        .map(wire)
        .collect();
    let total = visible.len() as u64;
    Ok(Reply::list(visible, total))
}

pub async fn revoke(
    state: AppState,
    Extension(principal): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult {
    let (key, _) = state
        .store()
        .key(&id)
        .await?
        .ok_or_else(|| Error::AccessKeyNotExist(id.clone()))?;
    if !manages(&principal, &key.apps) {
        // Answer as if the key did not exist: a restricted admin learns nothing about others' keys.
        return Err(Error::AccessKeyNotExist(id).into());
    }
    let revoked = state.services.revoke_key(&id).await?;
    Ok(Reply::result(wire(&revoked)))
}
