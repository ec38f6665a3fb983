//! The OpenAPI 3 document of every endpoint, made from [`ENDPOINTS`] (the table the router is built from), so
//! that it can neither miss an endpoint nor list one that is gone.

use serde_json::{Map, Value, json};

use algocenter_service::operations::{ENDPOINTS, Endpoint, is_public};

/// Path parameters of a template, in order: `{app}` → `app`.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

fn operation(e: &Endpoint) -> Value {
    let mut parameters: Vec<Value> = path_parameters(e.path)
        .into_iter()
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect();
    parameters.extend(e.query.iter().map(|name| {
        json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}})
    }));
    let data_plane = e.path.starts_with("/v3/");
    let (ok, error) = if data_plane {
        (
            "#/components/schemas/DataPlaneAnswer",
            "#/components/schemas/DataPlaneError",
        )
    } else {
        (
            "#/components/schemas/Envelope",
            "#/components/schemas/Error",
        )
    };
    let success = match e.action {
        "GetMetrics" => json!({"description": "Prometheus text exposition (OpenMetrics 1.0)",
            "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}),
        "ExportData" => json!({"description": "JSON Lines of push records",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}),
        "GetHealthLive" | "GetHealthReady" => {
            json!({"description": "`{\"status\": \"live\"}` or `{\"status\": \"ready\"}`; 503 when not ready",
            "content": {"application/json": {"schema": {"type": "object"}}}})
        }
        "GetOpenApi" => json!({"description": "This document",
            "content": {"application/json": {"schema": {"type": "object"}}}}),
        _ => json!({"description": "Success",
            "content": {"application/json": {"schema": {"$ref": ok}}}}),
    };
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id(e)));
    op.insert("summary".into(), json!(e.summary));
    op.insert("tags".into(), json!([e.group]));
    op.insert(
        "description".into(),
        json!(if is_public(e.action) {
            format!("Action `{}`; public, no access key needed.", e.action)
        } else {
            format!(
                "Action `{}`; needs an access key of scope `{}`.",
                e.action,
                e.scope.as_str()
            )
        }),
    );
    op.insert("parameters".into(), Value::Array(parameters));
    if e.body {
        let body = if e.action == "PushData" {
            json!({"type": "array", "items": {"type": "object"}})
        } else {
            json!({"type": "object"})
        };
        op.insert(
            "requestBody".into(),
            json!({"required": false, "content": {"application/json": {"schema": body}}}),
        );
    }
    op.insert(
        "responses".into(),
        json!({
            "200": success,
            "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": error}}}},
        }),
    );
    Value::Object(op)
}

/// Unique per endpoint: the action, and for the default-instance predict a suffix.
fn operation_id(e: &Endpoint) -> String {
    if e.action == "Predict" && !e.path.contains("{instance}") {
        "PredictDefaultInstance".into()
    } else {
        e.action.into()
    }
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let entry = paths
            .entry(e.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(e.method.to_ascii_lowercase(), operation(e));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "algocenter",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The OpenSearch 2017-12-25 algorithm-function API, app groups, data push and serving, \
                and algocenter's extensions. Requests are signed as the Alibaba Cloud SDKs sign them \
                (ACS3-HMAC-SHA256, or the legacy and OpenSearch v3 schemes); see the README's Security section."
        },
        "servers": [{"url": "/"}],
        "security": [{"acs3": []}],
        "components": {
            "securitySchemes": {
                "acs3": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "ACS3-HMAC-SHA256 Credential=KEY,SignedHeaders=…,Signature=… as the SDKs compute it"}
            },
            "schemas": {
                "Envelope": {"type": "object", "properties": {
                    "RequestId": {"type": "string"}, "Status": {"type": "string"}, "HttpCode": {"type": "integer"},
                    "Code": {"type": "string"}, "Message": {"type": "string"}, "Latency": {"type": "integer"},
                    "Result": {}, "TotalCount": {"type": "integer"}}},
                "Error": {"type": "object", "required": ["RequestId", "Code", "Message"], "properties": {
                    "RequestId": {"type": "string"}, "Status": {"type": "string"}, "HttpCode": {"type": "integer"},
                    "Code": {"type": "string"}, "Message": {"type": "string"}, "Latency": {"type": "integer"}}},
                "DataPlaneAnswer": {"type": "object", "properties": {
                    "request_id": {"type": "string"}, "status": {"type": "string"}, "result": {},
                    "searchtime": {"type": "number"}, "suggestions": {"type": "array"}, "errors": {"type": "array"}}},
                "DataPlaneError": {"type": "object", "properties": {
                    "request_id": {"type": "string"}, "status": {"type": "string"}, "errors": {"type": "array"}}}
            }
        },
        "paths": Value::Object(paths),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_documented_once_with_its_parameters() {
        let doc = document();
        let mut count = 0;
        let mut ids = std::collections::HashSet::new();
        for (path, methods) in doc["paths"].as_object().unwrap() {
            for (method, op) in methods.as_object().unwrap() {
                count += 1;
                assert!(
                    ids.insert(op["operationId"].as_str().unwrap().to_string()),
                    "{method} {path}"
                );
                let in_path = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .count();
                assert_eq!(in_path, path_parameters(path).len(), "{method} {path}");
            }
        }
        assert_eq!(count, ENDPOINTS.len());
        assert!(doc["paths"]["/v4/openapi/app-groups/{app}/functions/{function}/instances"]["post"]["requestBody"].is_object());
    }
}
