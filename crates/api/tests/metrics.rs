//! `/metrics`: its content after a known sequence of calls, and who may read it.

use std::time::Duration;

use algocenter_api::gate::GateConfig;
use algocenter_functions::Trainers;
use algocenter_testkit::{AppOptions, spawn_app};

/// The value of the sample whose line starts with `name` (labels included), e.g.
/// `algocenter_requests_total{operation="GetFunctionInstance",outcome="ok"}`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_outcomes_pushes_and_tasks() {
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 1)).await;
    server.create_app("shop").await;
    let functions = "/v4/openapi/app-groups/shop/functions/pop";
    server
        .create_instance(
            "shop",
            "pop",
            r#"{"instanceName": "p1", "modelType": "pop"}"#,
        )
        .await
        .assert_ok();
    for _ in 0..2 {
        server
            .call("GET", &format!("{functions}/instances/p1"), None)
            .await
            .assert_ok();
    }
    server
        .call("GET", &format!("{functions}/instances/nope"), None)
        .await
        .assert_error(404, "Instance.NotExist");
    // Two good behaviour records and one refused (no bhv_type).
    let now = algocenter_domain::now_ms();
    let record = |rn: &str, kind: &str| {
        serde_json::json!({"cmd": "ADD", "fields": {"user_id": "u1", "biz_id": "b", "trace_id": "t", "rn": rn,
            "bhv_type": kind, "bhv_time": now, "reach_time": now, "item_id": "i1", "item_type": "item"}})
    };
    let body = serde_json::json!([
        record("r1", "click"),
        record("r2", "expose"),
        record("r3", "")
    ]);
    let pushed = server
        .call(
            "POST",
            "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions/bulk",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(pushed.body["stored"], 2, "{}", pushed.body);
    // A task that fails for lack of data.
    server
        .call("POST", &format!("{functions}/instances/p1/tasks"), None)
        .await
        .assert_ok();
    let task = server.wait_task("shop", "pop", "p1", "1").await;
    assert_eq!(task["Status"], "failed");

    let (status, content_type, text) = server.get_text("/metrics", false).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let get = |name: &str| sample(&text, name).unwrap_or_else(|| panic!("{name} missing:\n{text}"));
    assert_eq!(
        get(r#"algocenter_requests_total{operation="GetFunctionInstance",outcome="ok"}"#),
        2.0
    );
    assert_eq!(
        get(
            r#"algocenter_requests_total{operation="GetFunctionInstance",outcome="Instance.NotExist"}"#
        ),
        1.0
    );
    assert_eq!(
        get(r#"algocenter_requests_total{operation="CreateFunctionInstance",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        get(r#"algocenter_request_duration_seconds_count{operation="GetFunctionInstance"}"#),
        3.0
    );
    assert!(
        get(r#"algocenter_request_duration_seconds_sum{operation="GetFunctionInstance"}"#) > 0.0
    );
    assert_eq!(
        get(r#"algocenter_pushed_records_total{result="stored"}"#),
        2.0
    );
    assert_eq!(
        get(r#"algocenter_pushed_records_total{result="refused"}"#),
        1.0
    );
    assert_eq!(
        get(r#"algocenter_tasks{function="pop",state="failed"}"#),
        1.0
    );
    assert_eq!(get("algocenter_events_stored"), 2.0);
    assert_eq!(text.matches("# EOF").count(), 1);
    assert!(text.ends_with("# EOF\n"));

    // The scrape itself is counted by the next one.
    let (_, _, again) = server.get_text("/metrics", false).await;
    assert_eq!(
        sample(
            &again,
            r#"algocenter_requests_total{operation="GetMetrics",outcome="ok"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_an_admin_key_unless_opened() {
    let closed = spawn_app(AppOptions::checked(GateConfig {
        window: Duration::from_secs(900),
        ..GateConfig::default()
    }))
    .await;
    let (status, _, text) = closed.get_text("/metrics", false).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("IncompleteSignature"), "{text}");
    let (status, _, text) = closed.get_text("/metrics", true).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("algocenter_requests_total"));

    let open = spawn_app(AppOptions::checked(GateConfig {
        open_metrics: true,
        ..GateConfig::default()
    }))
    .await;
    let (status, _, _) = open.get_text("/metrics", false).await;
    assert_eq!(status, 200);
    // Only /metrics is open.
    let (status, _, _) = open.get_text("/v4/openapi/app-groups", false).await;
    assert_eq!(status, 400);
}

/// Trains nothing and succeeds at once: enough for the engine to record a successful run.
struct Instant;

impl algocenter_functions::Trainer for Instant {
    fn train(
        &self,
        _: &algocenter_functions::TrainingJob<'_>,
        _: &mut dyn algocenter_functions::Progress,
    ) -> Result<algocenter_functions::TrainedModel, algocenter_functions::TrainError> {
        Ok(algocenter_functions::TrainedModel {
            artifact: b"test".to_vec(),
            metrics: Default::default(),
            passed_quality_gate: true,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_runs_fill_the_training_duration_histogram() {
    let trainers = Trainers::default().with(
        algocenter_domain::Function::Pop,
        std::sync::Arc::new(Instant),
    );
    let server = spawn_app(AppOptions::training(trainers, 1)).await;
    server.create_app("shop").await;
    server
        .create_instance(
            "shop",
            "pop",
            r#"{"instanceName": "p1", "modelType": "pop"}"#,
        )
        .await
        .assert_ok();
    for generation in ["1", "2"] {
        server
            .call(
                "POST",
                "/v4/openapi/app-groups/shop/functions/pop/instances/p1/tasks",
                None,
            )
            .await
            .assert_ok();
        let task = server.wait_task("shop", "pop", "p1", generation).await;
        assert_eq!(task["Status"], "success", "{task}");
    }
    let (_, _, text) = server.get_text("/metrics", false).await;
    assert_eq!(
        sample(
            &text,
            r#"algocenter_training_duration_seconds_count{function="pop"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"algocenter_tasks{function="pop",state="success"}"#),
        Some(2.0)
    );
    // Buckets are cumulative: the last holds every run.
    assert!(
        text.contains(r#"algocenter_training_duration_seconds_bucket{le="+Inf",function="pop"} 2"#)
            || text.contains(
                r#"algocenter_training_duration_seconds_bucket{function="pop",le="+Inf"} 2"#
            ),
        "{text}"
    );
}
