//! The function API over real HTTP on 127.0.0.1, against a real SQLite store in a fresh directory.

use std::sync::Arc;
use std::time::Duration;

use algocenter_api::Limits;
use algocenter_domain::Function;
use algocenter_functions::{Progress, TrainError, TrainedModel, Trainer, Trainers, TrainingJob};
use algocenter_testkit::{AppOptions, Deadline, TestApp, spawn_app, wait_until};
use serde_json::{Map, Value, json};

const POP: &str = "/v4/openapi/app-groups/shop/functions/pop";

/// A trainer that lives in this test only: a few progress steps, then a tiny artifact.
struct StepTrainer;

impl Trainer for StepTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        for p in [20, 40, 60, 80] {
            // A run that takes time is the behaviour under test: progress shows while it runs.
            std::thread::sleep(Duration::from_millis(60));
            progress.report("fitting", p)?;
        }
        let mut metrics = Map::new();
        metrics.insert("recall".into(), json!(91));
        Ok(TrainedModel {
            artifact: job.instance.as_bytes().to_vec(),
            metrics,
            passed_quality_gate: true,
        })
    }
}

async fn shop(workers: usize) -> TestApp {
    let server = spawn_app(AppOptions::training(
        Trainers::default().with(Function::Pop, Arc::new(StepTrainer)),
        workers,
    ))
    .await;
    server.create_app("shop").await;
    server
}

async fn pop_instance(server: &TestApp, name: &str) {
    server
        .create_instance(
            "shop",
            "pop",
            &format!(r#"{{"instanceName":"{name}","modelType":"pop"}}"#),
        )
        .await
        .assert_ok();
}

#[tokio::test]
async fn success_and_error_envelopes_have_the_spec_shape() {
    let server = shop(1).await;
    let ok = server
        .create_instance("shop", "pop", r#"{"instanceName":"p1","modelType":"pop"}"#)
        .await;
    let body = ok.assert_ok();
    for key in [
        "RequestId",
        "Status",
        "HttpCode",
        "Code",
        "Message",
        "Latency",
    ] {
        assert!(body.get(key).is_some(), "{key} missing in {body}");
    }
    assert_eq!(
        (body["Status"].as_str(), body["HttpCode"].as_u64()),
        (Some("OK"), Some(200))
    );
    assert!(body["Latency"].is_u64(), "Latency is an integer");
    assert_eq!(ok.request_id_header.as_deref(), body["RequestId"].as_str());

    let err = server
        .call("GET", &format!("{POP}/instances/nope"), None)
        .await;
    err.assert_error(404, "Instance.NotExist");
    assert!(err.body["Latency"].is_u64());
    assert_eq!(
        err.request_id_header.as_deref(),
        err.body["RequestId"].as_str()
    );

    server
        .call("GET", "/v4/openapi/nothing-here", None)
        .await
        .assert_error(404, "NotFound");
    server
        .call("PATCH", &format!("{POP}/instances"), None)
        .await
        .assert_error(405, "MethodNotAllowed");
    let deleted = server
        .call("DELETE", &format!("{POP}/instances/p1"), None)
        .await;
    assert!(
        deleted.assert_ok().get("Result").is_none(),
        "deletes answer 200 with the bare envelope"
    );
}

#[tokio::test]
async fn every_function_path_of_an_unknown_app_answers_app_not_found() {
    let server = shop(1).await;
    let base = "/v4/openapi/app-groups/ghost/functions/pop";
    let calls = [
        (
            "POST",
            format!("{base}/instances"),
            Some(r#"{"instanceName":"a","modelType":"pop"}"#),
        ),
        ("GET", format!("{base}/instances/a"), None),
        ("GET", format!("{base}/instances"), None),
        ("PUT", format!("{base}/instances/a"), Some("{}")),
        ("DELETE", format!("{base}/instances/a"), None),
        ("POST", format!("{base}/instances/a/tasks"), None),
        ("GET", format!("{base}/instances/a/tasks/1"), None),
        ("GET", format!("{base}/instances/a/tasks"), None),
        ("DELETE", format!("{base}/instances/a/tasks/1"), None),
        (
            "POST",
            format!("{base}/instances/a/tasks/1/actions/cancel"),
            None,
        ),
        (
            "POST",
            format!("{base}/resources"),
            Some(r#"{"ResourceName":"r","ResourceType":"raw_file","Data":{"Content":""}}"#),
        ),
        ("GET", format!("{base}/resources/r"), None),
        ("GET", format!("{base}/resources"), None),
        ("PUT", format!("{base}/resources/r"), Some("{}")),
        ("DELETE", format!("{base}/resources/r"), None),
        ("GET", format!("{base}/default-instance"), None),
        (
            "PUT",
            format!("{base}/default-instance"),
            Some(r#"{"instanceName":"a"}"#),
        ),
        ("GET", "/v4/openapi/app-groups/ghost".to_string(), None),
        ("DELETE", "/v4/openapi/app-groups/ghost".to_string(), None),
    ];
    for (method, path, body) in calls {
        let answer = server.call(method, &path, body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, "App.NotFound"),
            "{method} {path}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn encoded_path_segments_are_decoded_one_by_one() {
    let server = shop(1).await;
    let answer = server
        .call(
            "GET",
            "/v4/openapi/app-groups/my%20app%2F1/functions/pop/instances",
            None,
        )
        .await;
    answer.assert_error(404, "App.NotFound");
    assert!(
        answer.message().contains("'my app/1'"),
        "{}",
        answer.message()
    );
    let answer = server
        .call(
            "GET",
            "/v4/openapi/app-groups/shop/functions/p%6Fp/instances",
            None,
        )
        .await;
    assert_eq!(
        answer.assert_ok()["TotalCount"],
        0,
        "an encoded function name is decoded"
    );
    server
        .call(
            "GET",
            "/v4/openapi/app-groups/shop/functions/rank/instances",
            None,
        )
        .await
        .assert_error(404, "Function.NotExist");
}

#[tokio::test]
async fn instance_validation_names_what_is_wrong() {
    let server = shop(1).await;
    let cases = [
        (r#"{"modelType":"pop"}"#, "instanceName"),
        (
            r#"{"instanceName":"1bad","modelType":"pop"}"#,
            "instanceName",
        ),
        (
            r#"{"instanceName":"this_name_is_way_too_long_for_it","modelType":"pop"}"#,
            "instanceName",
        ),
        (r#"{"instanceName":"p"}"#, "modelType"),
        (
            r#"{"instanceName":"p","modelType":"tf_checkpoint"}"#,
            "modelType",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","functionType":"SAAS"}"#,
            "functionType",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","cron":"0 0 3 ? * MON"}"#,
            "cron",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","cron":"every day"}"#,
            "cron",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","createParameters":[{"name":"params1","value":"v1"}]}"#,
            "params1",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","createParameters":[{"name":"half_life_days","value":"soon"}]}"#,
            "half_life_days",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","usageParameters":[{"name":"default_score","value":"2"}]}"#,
            "default_score",
        ),
        (r#"{"instanceName":5,"modelType":"pop"}"#, "invalid type"),
        (r#"{"instanceName":"p","modelType":"pop""#, "EOF"),
        (r#"[1,2]"#, "invalid type"),
    ];
    for (body, needle) in cases {
        let answer = server.create_instance("shop", "pop", body).await;
        answer.assert_error(400, "InvalidParameter");
        assert!(
            answer.message().contains(needle),
            "{body}: {}",
            answer.message()
        );
    }
    let ctr = server
        .create_instance(
            "shop",
            "ctr",
            r#"{"instanceName":"c","modelType":"tf_checkpoint"}"#,
        )
        .await;
    ctr.assert_error(400, "InvalidParameter");
    assert!(
        ctr.message()
            .contains("missing required parameter 'id_field'"),
        "{}",
        ctr.message()
    );
    let listed = server.call("GET", &format!("{POP}/instances"), None).await;
    assert_eq!(
        listed.assert_ok()["TotalCount"],
        0,
        "nothing was stored by refused requests"
    );
}

#[tokio::test]
async fn camel_and_pascal_case_bodies_are_both_accepted() {
    let server = shop(1).await;
    server.create_instance("shop", "pop", r#"{"instanceName":"camel","modelType":"pop","createParameters":[{"name":"half_life_days","value":"3"}]}"#).await.assert_ok();
    server.create_instance("shop", "pop", r#"{"InstanceName":"Pascal","ModelType":"pop","CreateParameters":[{"Name":"half_life_days","Value":"4"}],"Cron":"0 3 ? * 0,1,3,5"}"#).await.assert_ok();
    let answer = server
        .call("GET", &format!("{POP}/instances/Pascal"), None)
        .await;
    let instance = &answer.assert_ok()["Result"];
    assert_eq!(
        instance["CreateParameters"],
        json!([{"Name": "half_life_days", "Value": "4"}])
    );
    assert_eq!(instance["Cron"], "0 3 ? * 0,1,3,5");
    server
        .create_instance(
            "shop",
            "pop",
            r#"{"instanceName":"camel","modelType":"pop"}"#,
        )
        .await
        .assert_error(409, "Instance.Duplicated");
}

#[tokio::test]
async fn output_levels_select_fields() {
    let server = shop(1).await;
    pop_instance(&server, "p").await;
    let get = |level: &'static str| {
        let server = &server;
        async move {
            server
                .call("GET", &format!("{POP}/instances/p?output={level}"), None)
                .await
                .body["Result"]
                .clone()
        }
    };
    let simple = get("simple").await;
    assert!(simple.get("InstanceName").is_some() && simple.get("Status").is_some());
    assert!(
        simple.get("CreateParameters").is_none()
            && simple.get("Cron").is_none()
            && simple.get("Task").is_none()
    );
    let normal = get("normal").await;
    assert!(
        normal.get("CreateParameters").is_some()
            && normal.get("Cron").is_some()
            && normal.get("Belongs").is_some()
    );
    assert!(normal.get("Task").is_none());
    let detail = get("detail").await;
    assert_eq!(
        detail["Task"],
        json!({"DagStatus": "untrained", "LastRunTime": 0})
    );
    server
        .call("GET", &format!("{POP}/instances/p?output=everything"), None)
        .await
        .assert_error(400, "InvalidParameter");
    let listed = server
        .call("GET", &format!("{POP}/instances?output=detail"), None)
        .await;
    assert!(
        listed.assert_ok()["Result"][0].get("Task").is_none(),
        "lists never carry Task (SDK model)"
    );
}

#[tokio::test]
async fn instance_paging_and_filters() {
    let server = shop(1).await;
    for i in 0..25 {
        pop_instance(&server, &format!("p{i:02}")).await;
    }
    let page = |query: &str| {
        let server = &server;
        let path = format!("{POP}/instances?{query}");
        async move { server.call("GET", &path, None).await }
    };
    let first = page("").await;
    assert_eq!(
        (
            first.body["TotalCount"].as_u64(),
            first.body["Result"].as_array().unwrap().len()
        ),
        (Some(25), 10)
    );
    let third = page("pageNumber=3&pageSize=10").await;
    assert_eq!(third.body["Result"].as_array().unwrap().len(), 5);
    assert_eq!(third.body["Result"][0]["InstanceName"], "p20");
    assert_eq!(page("pageNumber=9").await.body["Result"], json!([]));
    assert_eq!(
        page("modelType=pop&functionType=PAAS&source=all")
            .await
            .body["TotalCount"],
        25
    );
    assert_eq!(page("source=builtin").await.body["TotalCount"], 0);
    for bad in [
        "pageSize=0",
        "pageSize=101",
        "pageNumber=0",
        "pageNumber=x",
        "source=mine",
    ] {
        page(bad).await.assert_error(400, "InvalidParameter");
    }
}

#[tokio::test]
async fn update_keeps_omitted_fields_and_replaces_sent_lists() {
    let server = shop(1).await;
    server.create_instance("shop", "pop", r#"{"instanceName":"p","modelType":"pop","description":"d","cron":"0 3 * * *","createParameters":[{"name":"half_life_days","value":"3"}],"usageParameters":[{"name":"default_score","value":"0.1"}]}"#).await.assert_ok();
    let path = format!("{POP}/instances/p");
    server.call("PUT", &path, Some("{}")).await.assert_ok();
    let unchanged = server.call("GET", &path, None).await.body["Result"].clone();
    assert_eq!(
        (
            unchanged["Description"].as_str(),
            unchanged["Cron"].as_str()
        ),
        (Some("d"), Some("0 3 * * *"))
    );
    server
        .call(
            "PUT",
            &path,
            Some(r#"{"cron":"","createParameters":[{"name":"min_evidence","value":"9"}]}"#),
        )
        .await
        .assert_ok();
    let updated = server.call("GET", &path, None).await.body["Result"].clone();
    assert_eq!(updated["Cron"], "");
    assert_eq!(
        updated["CreateParameters"],
        json!([{"Name": "min_evidence", "Value": "9"}])
    );
    assert_eq!(
        updated["UsageParameters"],
        json!([{"Name": "default_score", "Value": "0.1"}])
    );
    assert_eq!(updated["Description"], "d");
    server
        .call("PUT", &path, Some(r#"{"cron":"61 * * * *"}"#))
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "PUT",
            &path,
            Some(r#"{"usageParameters":[{"name":"nope","value":"1"}]}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call("PUT", &format!("{POP}/instances/ghost"), Some("{}"))
        .await
        .assert_error(404, "Instance.NotExist");
}

#[tokio::test]
async fn body_limits_and_malformed_bodies_never_store_anything() {
    let server = spawn_app(AppOptions {
        limits: Limits {
            max_body_bytes: 4096,
            ..Limits::default()
        },
        ..AppOptions::default()
    })
    .await;
    server.create_app("shop").await;
    let huge = format!(
        r#"{{"instanceName":"p","modelType":"pop","description":"{}"}}"#,
        "x".repeat(10_000)
    );
    server
        .call("POST", &format!("{POP}/instances"), Some(&huge))
        .await
        .assert_error(413, "InvalidParameter.PayloadTooLarge");
    server
        .raw(
            "POST",
            &format!("{POP}/instances"),
            Some(vec![0xff, 0xfe, 0x00]),
        )
        .await
        .assert_error(400, "InvalidParameter");
    let long_description = format!(
        r#"{{"instanceName":"p","modelType":"pop","description":"{}"}}"#,
        "x".repeat(2000)
    );
    server
        .call("POST", &format!("{POP}/instances"), Some(&long_description))
        .await
        .assert_error(400, "InvalidParameter");
    assert_eq!(
        server
            .call("GET", &format!("{POP}/instances"), None)
            .await
            .body["TotalCount"],
        0
    );
}

#[tokio::test]
async fn resources_raw_files_generators_references() {
    let server = shop(1).await;
    let hot = "/v4/openapi/app-groups/shop/functions/hot";
    // Exactly what the SDK sends for a raw_file (Generators always present, spec §2.3).
    let raw = r#"{"Data":{"Content":"spam\nads\n","Generators":[]},"ResourceName":"blocked","ResourceType":"raw_file","Description":"words"}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(raw))
        .await
        .assert_ok();
    server
        .call("POST", &format!("{hot}/resources"), Some(raw))
        .await
        .assert_error(409, "Resource.Duplicated");
    let fg = r#"{"Data":{"Generators":[{"Generator":"id_feature","Input":{"Features":[{"Name":"item_id","Type":"item"}]},"Output":"f1"}]},"Description":"fg","ResourceName":"fg_json","ResourceType":"feature_generator"}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(fg))
        .await
        .assert_ok();
    let bare = r#"{"ResourceName":"fg_bare","ResourceType":"feature_generator","Data":[{"generator":"combo","input":{"features":[{"name":"system_user_id","type":"user"},{"name":"system_item_id","type":"item"}]},"output":"comb_uid_nid"}]}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bare))
        .await
        .assert_ok();
    let bad_kind = r#"{"ResourceName":"fg_bad","ResourceType":"feature_generator","Data":{"Generators":[{"Generator":"magic","Input":{"Features":[{"Name":"a","Type":"item"}]},"Output":"o"}]}}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bad_kind))
        .await
        .assert_error(400, "InvalidParameter");
    let bad_name = r#"{"ResourceName":"bad-name","ResourceType":"raw_file","Data":{"Content":""}}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bad_name))
        .await
        .assert_error(400, "Resource.InvalidResourceName");
    let bad_type = r#"{"ResourceName":"x","ResourceType":"model","Data":{"Content":""}}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bad_type))
        .await
        .assert_error(400, "InvalidParameter");

    let got = server
        .call(
            "GET",
            &format!("{hot}/resources/fg_bare?output=detail"),
            None,
        )
        .await;
    assert_eq!(
        got.assert_ok()["Result"]["Data"]["Generators"][0]["Input"]["Features"][1]["Name"],
        "system_item_id"
    );
    let simple = server
        .call(
            "GET",
            &format!("{hot}/resources/blocked?output=simple"),
            None,
        )
        .await;
    assert!(simple.body["Result"].get("Data").is_none());
    let listed = server
        .call(
            "GET",
            &format!("{hot}/resources?resourceType=feature_generator&pageSize=1"),
            None,
        )
        .await;
    assert_eq!(
        (
            listed.body["TotalCount"].as_u64(),
            listed.body["Result"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );

    // A hot instance names the dictionary: it shows as referenced and cannot be deleted.
    let instance = r#"{"instanceName":"top","modelType":"offline_inference","createParameters":[{"name":"blacklist","value":"blocked"}]}"#;
    server
        .create_instance("shop", "hot", instance)
        .await
        .assert_ok();
    let missing = r#"{"instanceName":"top2","modelType":"offline_inference","createParameters":[{"name":"whitelist","value":"nothere"}]}"#;
    let answer = server.create_instance("shop", "hot", missing).await;
    answer.assert_error(400, "InvalidParameter");
    assert!(answer.message().contains("whitelist"));
    let referenced = server
        .call("GET", &format!("{hot}/resources/blocked"), None)
        .await;
    assert_eq!(
        referenced.body["Result"]["ReferencedInstances"],
        json!(["top"])
    );
    server
        .call("DELETE", &format!("{hot}/resources/blocked"), None)
        .await
        .assert_error(409, "Resource.InUse");

    server
        .call(
            "PUT",
            &format!("{hot}/resources/blocked"),
            Some(r#"{"Data":{"Content":"spam\n"}}"#),
        )
        .await
        .assert_ok();
    let changed = server
        .call("GET", &format!("{hot}/resources/blocked"), None)
        .await;
    assert_eq!(
        (
            changed.body["Result"]["Data"]["Content"].as_str(),
            changed.body["Result"]["Description"].as_str()
        ),
        (Some("spam\n"), Some("words"))
    );
    server
        .call(
            "PUT",
            &format!("{hot}/resources/blocked"),
            Some(r#"{"ResourceType":"feature_generator"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");

    server
        .call("DELETE", &format!("{hot}/instances/top"), None)
        .await
        .assert_ok();
    server
        .call("DELETE", &format!("{hot}/resources/blocked"), None)
        .await
        .assert_ok();
    server
        .call("GET", &format!("{hot}/resources/blocked"), None)
        .await
        .assert_error(404, "Resource.NotExist");
}

#[tokio::test]
async fn default_instance_set_replace_clear_and_deleted_instance() {
    let server = shop(1).await;
    pop_instance(&server, "a").await;
    pop_instance(&server, "b").await;
    let path = format!("{POP}/default-instance");
    server
        .call("GET", &path, None)
        .await
        .assert_error(404, "DefaultInstance.NotExist");
    server
        .call("PUT", &path, Some(r#"{"instanceName":"a"}"#))
        .await
        .assert_ok();
    let got = server.call("GET", &path, None).await;
    assert_eq!(
        (
            got.body["Result"]["InstanceName"].as_str(),
            got.body["InstanceName"].as_str(),
            got.body["FunctionName"].as_str()
        ),
        (Some("a"), Some("a"), Some("pop"))
    );
    server
        .call("PUT", &path, Some(r#"{"instanceName":"b"}"#))
        .await
        .assert_ok();
    server
        .call("PUT", &path, Some(r#"{"instanceName":"zzz"}"#))
        .await
        .assert_error(404, "Instance.NotExist");
    assert_eq!(
        server.call("GET", &path, None).await.body["Result"]["InstanceName"],
        "b"
    );
    server
        .call("PUT", &path, Some(r#"{"instanceName":""}"#))
        .await
        .assert_ok();
    server
        .call("GET", &path, None)
        .await
        .assert_error(404, "DefaultInstance.NotExist");
    server
        .call("PUT", &path, Some(r#"{"instanceName":"a"}"#))
        .await
        .assert_ok();
    server
        .call("DELETE", &format!("{POP}/instances/a"), None)
        .await
        .assert_ok();
    server
        .call("GET", &path, None)
        .await
        .assert_error(404, "DefaultInstance.NotExist");
}

#[tokio::test]
async fn tasks_queue_run_report_progress_and_list() {
    let server = shop(1).await;
    pop_instance(&server, "p").await;
    let created = server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await;
    assert_eq!(created.assert_ok()["Result"]["Generation"], "1");
    let mut seen = Vec::new();
    let deadline = Deadline::after(Duration::from_secs(20));
    let task = loop {
        let task = server
            .call("GET", &format!("{POP}/instances/p/tasks/1"), None)
            .await
            .body["Result"]
            .clone();
        seen.push(task["Progress"].as_i64().unwrap());
        if task["Status"] != "running" {
            break task;
        }
        deadline.again(format_args!("the run to end: {task}")).await;
    };
    assert_eq!(
        (task["Status"].as_str(), task["Progress"].as_i64()),
        (Some("success"), Some(100))
    );
    assert!(
        seen.iter().any(|p| (1..100).contains(p)),
        "progress moved while running: {seen:?}"
    );
    let info: Value = serde_json::from_str(task["ExtendInfo"].as_str().unwrap()).unwrap();
    assert_eq!(
        (info["recall"].as_i64(), info["errors"].clone()),
        (Some(91), json!([]))
    );
    assert!(task["RunId"].as_str().unwrap().starts_with("trigger__"));
    assert!(task["EndTime"].as_i64().unwrap() >= task["StartTime"].as_i64().unwrap());
    let instance = server
        .call("GET", &format!("{POP}/instances/p?output=detail"), None)
        .await
        .body["Result"]
        .clone();
    assert_eq!(
        (
            instance["Status"].as_str(),
            instance["Task"]["DagStatus"].as_str()
        ),
        (Some("available"), Some("success"))
    );

    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_ok();
    server.wait_task("shop", "pop", "p", "2").await;
    let listed = server
        .call("GET", &format!("{POP}/instances/p/tasks"), None)
        .await;
    assert_eq!(listed.body["TotalCount"], 2);
    assert_eq!(
        listed.body["Result"].as_array().unwrap().len(),
        1,
        "pageSize defaults to 1"
    );
    assert_eq!(listed.body["Result"][0]["Generation"], "2", "newest first");
    let success = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?status=success&pageSize=10"),
            None,
        )
        .await;
    assert_eq!(success.body["TotalCount"], 2);
    let none = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?status=failed"),
            None,
        )
        .await;
    assert_eq!(none.body["TotalCount"], 0);
    let future = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?startTime=4102444800000"),
            None,
        )
        .await;
    assert_eq!(future.body["TotalCount"], 0);
    let in_seconds = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?endTime=4102444800"),
            None,
        )
        .await;
    assert_eq!(
        in_seconds.body["TotalCount"], 2,
        "times below 10^11 are read as seconds"
    );
    server
        .call("GET", &format!("{POP}/instances/p/tasks?status=done"), None)
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?startTime=yesterday"),
            None,
        )
        .await
        .assert_error(400, "InvalidParameter");

    // Both generations' artifacts exist until generation 1 is deleted with its record.
    let artifact_files = || {
        let mut names: Vec<String> = std::fs::read_dir(server.dir.path().join("artifacts/1"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(artifact_files(), ["1.bin", "2.bin"]);
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_ok();
    server
        .call("GET", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(404, "Task.NotExist");
    wait_until(
        "the deleted generation's artifact to be removed",
        Duration::from_secs(5),
        || async { (artifact_files() == ["2.bin"]).then_some(()) },
    )
    .await;
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(404, "Task.NotExist");
}

#[tokio::test]
async fn queued_tasks_show_as_running_and_can_be_cancelled() {
    // No workers: tasks stay queued, like on an API-only node.
    let server = shop(0).await;
    pop_instance(&server, "p").await;
    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_ok();
    let task = server
        .call("GET", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .body["Result"]
        .clone();
    assert_eq!(
        (
            task["Status"].as_str(),
            task["Progress"].as_i64(),
            task["EndTime"].as_i64()
        ),
        (Some("running"), Some(0), Some(0))
    );
    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_error(409, "Task.IsRunning");
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(409, "Task.IsRunning");
    server
        .call("DELETE", &format!("{POP}/instances/p"), None)
        .await
        .assert_error(409, "Task.IsRunning");
    server
        .call("DELETE", "/v4/openapi/app-groups/shop", None)
        .await
        .assert_error(409, "Task.IsRunning");
    let detail = server
        .call("GET", &format!("{POP}/instances/p?output=detail"), None)
        .await;
    assert_eq!(detail.body["Result"]["Task"]["DagStatus"], "pending");
    let cancelled = server
        .call(
            "POST",
            &format!("{POP}/instances/p/tasks/1/actions/cancel"),
            None,
        )
        .await;
    assert_eq!(cancelled.assert_ok()["Result"]["Status"], "failed");
    assert_eq!(
        cancelled.body["Result"]["ExtendInfo"],
        r#"{"errors":["cancelled"]}"#
    );
    server
        .call(
            "POST",
            &format!("{POP}/instances/p/tasks/1/actions/cancel"),
            None,
        )
        .await
        .assert_error(409, "Task.Finished");
    server
        .call(
            "POST",
            &format!("{POP}/instances/p/tasks/7/actions/cancel"),
            None,
        )
        .await
        .assert_error(404, "Task.NotExist");
    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_ok();
}

#[tokio::test]
async fn pinning_holds_the_serving_generation_until_unpinned() {
    let server = shop(1).await;
    pop_instance(&server, "p").await;
    let train = || async {
        let created = server
            .call("POST", &format!("{POP}/instances/p/tasks"), None)
            .await;
        let generation = created.assert_ok()["Result"]["Generation"]
            .as_str()
            .unwrap()
            .to_string();
        server.wait_task("shop", "pop", "p", &generation).await;
    };
    let generations = || async {
        let instance = server
            .call("GET", &format!("{POP}/instances/p"), None)
            .await
            .body["Result"]
            .clone();
        let info: Value = serde_json::from_str(instance["ExtendInfo"].as_str().unwrap()).unwrap();
        (
            info["serving_generation"].as_i64(),
            info["pinned_generation"].as_i64(),
        )
    };
    let pin = format!("{POP}/instances/p/pinned-generation");
    server
        .call("PUT", &pin, Some(r#"{"generation": 1}"#))
        .await
        .assert_error(404, "Task.NotExist");
    train().await;
    train().await;
    assert_eq!(generations().await, (Some(2), None));

    for body in [
        "{}",
        r#"{"generation": null}"#,
        r#"{"generation": [1]}"#,
        "[1",
    ] {
        server
            .call("PUT", &pin, Some(body))
            .await
            .assert_error(400, "InvalidParameter");
    }
    let pinned = server.call("PUT", &pin, Some(r#"{"generation": 1}"#)).await;
    assert!(
        pinned.assert_ok()["Result"]["ExtendInfo"]
            .as_str()
            .unwrap()
            .contains(r#""pinned_generation":1"#)
    );
    train().await;
    assert_eq!(
        generations().await,
        (Some(1), Some(1)),
        "generation 3 trained but the pin holds"
    );
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(409, "Task.IsPinned");
    server.call("DELETE", &pin, None).await.assert_ok();
    assert_eq!(generations().await, (Some(3), None));
    // A string generation, as the task API spells it.
    server
        .call("PUT", &pin, Some(r#"{"generation": "2"}"#))
        .await
        .assert_ok();
    assert_eq!(generations().await, (Some(2), Some(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_create_task_calls_make_one_task() {
    let server = Arc::new(shop(0).await);
    pop_instance(&server, "p").await;
    let mut calls = Vec::new();
    for _ in 0..50 {
        let server = Arc::clone(&server);
        calls.push(tokio::spawn(async move {
            let answer = server
                .call("POST", &format!("{POP}/instances/p/tasks"), None)
                .await;
            (answer.status, answer.code().to_string())
        }));
    }
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    let created = outcomes.iter().filter(|(s, _)| *s == 200).count();
    let running = outcomes
        .iter()
        .filter(|(s, c)| *s == 409 && c == "Task.IsRunning")
        .count();
    assert_eq!((created, running), (1, 49), "{outcomes:?}");
    let listed = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?pageSize=100"),
            None,
        )
        .await;
    assert_eq!(listed.body["TotalCount"], 1);
}

#[tokio::test]
async fn catalogue_versions() {
    let server = shop(1).await;
    for (function, model_type, id) in [
        ("ctr", "tf_checkpoint", 101),
        ("pop", "pop", 201),
        ("category", "offline_inference", 301),
        ("hot", "offline_inference", 401),
        ("hot", "near_realtime", 402),
        ("hint", "near_realtime", 502),
        ("suggest", "offline_inference", 601),
    ] {
        let answer = server.call("GET", &format!("/v4/openapi/functions/{function}/current-version?modelType={model_type}&functionType=PAAS&domain=ecommerce&category=general"), None).await;
        let version = &answer.assert_ok()["Result"];
        assert_eq!(
            (version["VersionId"].as_i64(), version["ModelType"].as_str()),
            (Some(id), Some(model_type))
        );
        assert!(
            version["VersionConfig"]["CreateParameters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["Required"] == "true" || p["Required"] == "false")
        );
        let by_id = server
            .call(
                "GET",
                &format!("/v4/openapi/functions/{function}/versions/{id}"),
                None,
            )
            .await;
        assert_eq!(by_id.assert_ok()["Result"]["VersionId"], id);
    }
    server
        .call("GET", "/v4/openapi/functions/ctr/current-version", None)
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "GET",
            "/v4/openapi/functions/ctr/current-version?modelType=pop",
            None,
        )
        .await
        .assert_error(404, "Version.NotExist");
    server
        .call("GET", "/v4/openapi/functions/ctr/versions/999", None)
        .await
        .assert_error(404, "Version.NotExist");
    server
        .call("GET", "/v4/openapi/functions/analyzer/versions/1", None)
        .await
        .assert_error(404, "Function.NotExist");
}

#[tokio::test]
async fn app_groups_create_list_describe_remove() {
    let server = spawn_app(AppOptions::training(Trainers::default(), 1)).await;
    let body = r#"{"name":"shop","type":"enhanced","chargeType":"POSTPAY","quota":{"docSize":1,"computeResource":20,"spec":"opensearch.share.common"},"tags":[{"key":"team","value":"search"}]}"#;
    let created = server
        .call("POST", "/v4/openapi/app-groups", Some(body))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let app = &created.body["result"];
    assert_eq!(
        (
            app["name"].as_str(),
            app["chargeType"].as_str(),
            app["quota"]["computeResource"].as_i64()
        ),
        (Some("shop"), Some("POSTPAY"), Some(20))
    );
    assert!(created.body["requestId"].is_string());
    let id = app["id"].as_str().unwrap().to_string();
    server
        .call("POST", "/v4/openapi/app-groups", Some(body))
        .await
        .assert_error(409, "App.Duplicated");
    server
        .call(
            "POST",
            "/v4/openapi/app-groups",
            Some(r#"{"name":"bad name"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "POST",
            "/v4/openapi/app-groups",
            Some(r#"{"type":"enhanced"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "POST",
            "/v4/openapi/app-groups",
            Some(r#"{"name":"x","type":"premium"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server.create_app("other").await;
    let listed = server
        .call("GET", "/v4/openapi/app-groups?name=sho", None)
        .await;
    assert_eq!(
        (
            listed.body["totalCount"].as_u64(),
            listed.body["result"][0]["tags"][0]["value"].as_str()
        ),
        (Some(1), Some("search"))
    );
    assert_eq!(
        server
            .call("GET", "/v4/openapi/app-groups", None)
            .await
            .body["totalCount"],
        2
    );
    let by_id = server
        .call("GET", &format!("/v4/openapi/app-groups/{id}"), None)
        .await;
    assert_eq!(by_id.body["result"]["name"], "shop");
    server
        .call("DELETE", "/v4/openapi/app-groups/shop", None)
        .await;
    server
        .call("GET", "/v4/openapi/app-groups/shop", None)
        .await
        .assert_error(404, "App.NotFound");
}
