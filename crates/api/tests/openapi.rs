//! The API reference at `/openapi.json` against the real routes: every documented endpoint is served (the router
//! and the document come from one table, so nothing is served undocumented), and the document is public.

use std::time::Duration;

use algocenter_api::gate::GateConfig;
use algocenter_testkit::{AppOptions, spawn_app};
use serde_json::Value;

/// A concrete path for a template.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| match s {
            "{app}" | "{collection}" => "shop",
            "{function}" => "pop",
            "{instance}" => "i",
            "{generation}" => "1",
            "{resource}" => "r",
            "{version}" => "201",
            "{kind}" => "behavior",
            "{key}" => "nobody",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_endpoint_is_served_and_the_document_is_public() {
    let server = spawn_app(AppOptions::checked(GateConfig {
        window: Duration::from_secs(900),
        ..GateConfig::default()
    }))
    .await;
    let (status, content_type, text) = server.get_text("/openapi.json", false).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("application/json"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (template, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            operations += 1;
            let method = method.to_uppercase();
            let body = matches!(method.as_str(), "POST" | "PUT").then(|| b"{}".to_vec());
            let path = concrete(template);
            let (status, body) = if !path.starts_with("/v") {
                let (status, _, text) = server.get_text(&path, true).await;
                (status, Value::String(text))
            } else {
                let answer = server.raw(&method, &path, body).await;
                (answer.status, answer.body)
            };
            assert!(status < 500, "{method} {path}: {body}");
            assert!(
                !matches!(body["Code"].as_str(), Some("NotFound" | "MethodNotAllowed")),
                "{method} {template} is documented but not served: {body}"
            );
        }
    }
    // The 18 function operations, the app groups, data, serving and the extensions.
    assert!(operations >= 36, "{operations}");
    for id in [
        "CreateFunctionTask",
        "GetSuggestions",
        "PushData",
        "GetMetrics",
        "PredictDefaultInstance",
    ] {
        assert!(
            text.contains(&format!("\"operationId\":\"{id}\"")),
            "{id} missing"
        );
    }
    for public in ["/health/live", "/health/ready"] {
        let (status, _, text) = server.get_text(public, false).await;
        assert_eq!(status, 200, "{public}: {text}");
    }
    // Not everything is public: the rest still needs a signature.
    let (status, _, _) = server.get_text("/v4/openapi/app-groups", false).await;
    assert_eq!(status, 400);
}
