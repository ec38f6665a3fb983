//! Data collection, data status and the pop function end to end over HTTP.

use algocenter_api::Limits;
use algocenter_domain::document::DocumentKind;
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_generator::{GeneratorConfig, World, document_record, push_record};
use algocenter_testkit::{Answer, AppOptions, TestApp, spawn_app};
use serde_json::{Value, json};

const BULK: &str = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type";
const POP: &str = "/v4/openapi/app-groups/shop/functions/pop";

fn click(user: &str, item: &str, at_ms: i64) -> Value {
    json!({"cmd": "ADD", "fields": {
        "user_id": user, "biz_id": "default", "trace_id": "Alibaba", "rn": format!("rn-{user}"),
        "item_id": item, "item_type": "item", "bhv_type": "click", "bhv_time": at_ms, "reach_time": at_ms,
    }})
}

async fn shop() -> TestApp {
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 1)).await;
    server.create_app("shop").await;
    server
}

async fn push(server: &TestApp, kind: &str, records: &[Value]) -> Answer {
    let body = Value::Array(records.to_vec()).to_string();
    server
        .call("POST", &format!("{BULK}/{kind}/actions/bulk"), Some(&body))
        .await
}

#[tokio::test]
async fn good_records_are_stored_and_bad_ones_reported_by_index_and_field() {
    let server = shop().await;
    let now = now_ms();
    let mut missing_rn = click("u2", "i2", now);
    missing_rn["fields"].as_object_mut().unwrap().remove("rn");
    let records = vec![
        click("u1", "i1", now),
        missing_rn,
        json!({"cmd": "DELETE", "fields": {"user_id": "u"}}),
        json!("not a record"),
        click("u3", "i3", now - 40 * 86_400_000),
        click("u4", "i4", now),
    ];
    let answer = push(&server, "behavior", &records).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(
        (
            body["status"].as_str(),
            body["stored"].as_u64(),
            body["received"].as_u64()
        ),
        (Some("FAIL"), Some(2), Some(6))
    );
    assert!(body.get("result").is_none() && body["request_id"].is_string());
    let errors: Vec<(u64, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [(1, "rn"), (2, "cmd"), (3, "record"), (4, "bhv_time")]
    );
    assert!(
        body["errors"][3]["message"]
            .as_str()
            .unwrap()
            .contains("retention")
    );

    // Pushing the same events again stores nothing twice.
    let again = push(
        &server,
        "behavior",
        &[click("u1", "i1", now), click("u4", "i4", now)],
    )
    .await;
    assert_eq!(
        (
            again.body["status"].as_str(),
            again.body["result"].as_bool(),
            again.body["stored"].as_u64(),
            again.body["duplicates"].as_u64()
        ),
        (Some("OK"), Some(true), Some(0), Some(2))
    );
    let status = server
        .call("GET", "/v4/openapi/app-groups/shop/data-status", None)
        .await;
    assert_eq!(status.assert_ok()["Result"]["totals"]["clicks"], 2);

    // Nothing valid at all: 400 with the same body shape.
    let none = push(&server, "behavior", &[json!({"cmd": "ADD", "fields": {}})]).await;
    assert_eq!((none.status, none.body["stored"].as_u64()), (400, Some(0)));
}

#[tokio::test]
async fn request_level_errors_answer_in_the_data_plane_shape() {
    let server = spawn_app(AppOptions {
        trainers: Trainers::builtin(),
        limits: Limits {
            max_push_bytes: 2048,
            ..Limits::default()
        },
        ..AppOptions::default()
    })
    .await;
    server.create_app("shop").await;
    let check = |answer: Answer, status: u16, code: &str| {
        assert_eq!(answer.status, status, "{}", answer.body);
        assert_eq!(
            (
                answer.body["status"].as_str(),
                answer.body["errors"][0]["code"].as_str()
            ),
            (Some("FAIL"), Some(code))
        );
        assert!(
            answer.body["request_id"].is_string()
                && answer.body["errors"][0]["message"].is_string()
        );
    };
    check(
        server
            .call("POST", &format!("{BULK}/behavior/actions/bulk"), Some("[{"))
            .await,
        400,
        "InvalidParameter",
    );
    check(
        server
            .call(
                "POST",
                &format!("{BULK}/behavior/actions/bulk"),
                Some(r#"{"cmd":"ADD"}"#),
            )
            .await,
        400,
        "InvalidParameter",
    );
    check(
        server
            .call("POST", &format!("{BULK}/movies/actions/bulk"), Some("[]"))
            .await,
        400,
        "InvalidParameter",
    );
    check(
        server
            .call(
                "POST",
                &format!("{BULK}/INDUSTRY_SPECIFIC/actions/bulk"),
                Some("[]"),
            )
            .await,
        400,
        "InvalidParameter",
    );
    let ghost = "/v3/openapi/app-groups/ghost/data-collections/ghost/data-collection-type/behavior/actions/bulk";
    check(
        server.call("POST", ghost, Some("[]")).await,
        404,
        "App.NotFound",
    );
    let bad_collection = "/v3/openapi/app-groups/shop/data-collections/a%20b/data-collection-type/behavior/actions/bulk";
    check(
        server.call("POST", bad_collection, Some("[]")).await,
        400,
        "InvalidParameter",
    );
    let big = Value::Array(
        (0..50)
            .map(|i| click("u", &format!("i{i}"), now_ms()))
            .collect(),
    )
    .to_string();
    check(
        server
            .call("POST", &format!("{BULK}/behavior/actions/bulk"), Some(&big))
            .await,
        413,
        "InvalidParameter.PayloadTooLarge",
    );
    // Upper-case type as in the docs' enumeration.
    let ok = server
        .call("POST", &format!("{BULK}/BEHAVIOR/actions/bulk"), Some("[]"))
        .await;
    assert_eq!((ok.status, ok.body["status"].as_str()), (200, Some("OK")));
}

#[tokio::test]
async fn items_and_users_add_update_delete() {
    let server = shop().await;
    let items = [
        json!({"cmd": "ADD", "fields": {"item_id": "1", "title": "红色连衣裙", "category": "女装>连衣裙", "price": 199}}),
        json!({"cmd": "ADD", "fields": {"item_id": "2", "title": "shoe"}}),
        json!({"cmd": "UPDATE", "fields": {"item_id": "1", "price": 149}}),
        json!({"cmd": "DELETE", "fields": {"item_id": "2"}}),
        json!({"cmd": "ADD", "fields": {"title": "no id"}}),
    ];
    let answer = push(&server, "item_info", &items).await;
    assert_eq!(
        (
            answer.body["stored"].as_u64(),
            answer.body["errors"][0]["field"].as_str()
        ),
        (Some(4), Some("item_id"))
    );
    push(
        &server,
        "user",
        &[json!({"cmd": "ADD", "fields": {"user_id": "u1", "age": 30}})],
    )
    .await;
    let status = server
        .call(
            "GET",
            "/v4/openapi/app-groups/shop/data-status?days=7",
            None,
        )
        .await;
    let result = &status.assert_ok()["Result"];
    assert_eq!(
        (
            result["items"].as_u64(),
            result["users"].as_u64(),
            result["window_days"].as_u64()
        ),
        (Some(1), Some(1), Some(7))
    );
    let pop = result["readiness"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["function"] == "pop")
        .unwrap();
    assert_eq!(pop["ready"], false);
    assert!(
        pop["reason"]
            .as_str()
            .unwrap()
            .contains("engagements: 0 of 100 needed")
    );
    server
        .call(
            "GET",
            "/v4/openapi/app-groups/shop/data-status?days=0",
            None,
        )
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call("GET", "/v4/openapi/app-groups/ghost/data-status", None)
        .await
        .assert_error(404, "App.NotFound");
}

async fn wait_success(server: &TestApp, generation: &str) -> Value {
    let task = server.wait_task("shop", "pop", "pop1", generation).await;
    assert_eq!(task["Status"], "success", "{task}");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_trains_on_pushed_behaviour_serves_scores_and_switches_generations() {
    let server = shop().await;
    let world = World::new(GeneratorConfig {
        end_ms: now_ms(),
        days: 10,
        searches: 3_000,
        users: 500,
        items: 400,
        queries: 2_000,
        ..GeneratorConfig::default()
    });
    let items: Vec<Value> = world
        .item_documents()
        .map(|d| document_record(DocumentKind::Item, &d))
        .collect();
    assert_eq!(push(&server, "item_info", &items).await.body["stored"], 400);
    let mut events = Vec::new();
    world.events(&mut |e, _| events.push(push_record(e)));
    for chunk in events.chunks(1000) {
        let answer = push(&server, "behavior", chunk).await;
        assert_eq!(answer.body["status"], "OK", "{}", answer.body);
    }

    server
        .create_instance(
            "shop",
            "pop",
            r#"{"instanceName":"untrained","modelType":"pop"}"#,
        )
        .await
        .assert_ok();
    server
        .call(
            "POST",
            &format!("{POP}/instances/untrained/predict"),
            Some(r#"{"items":["i1"]}"#),
        )
        .await
        .assert_error(409, "Instance.Unavailable");

    let body = r#"{"instanceName":"pop1","modelType":"pop","usageParameters":[{"name":"default_score","value":"0.05"}]}"#;
    server
        .create_instance("shop", "pop", body)
        .await
        .assert_ok();
    server
        .call("POST", &format!("{POP}/instances/pop1/tasks"), None)
        .await
        .assert_ok();
    let task = wait_success(&server, "1").await;
    let info: Value = serde_json::from_str(task["ExtendInfo"].as_str().unwrap()).unwrap();
    assert!(info["items_scored"].as_u64().unwrap() > 300, "{info}");
    assert!(info["spearman"].as_f64().unwrap() > 0.2, "{info}");
    assert!(info["train_events"].as_u64().unwrap() > 10_000, "{info}");

    let best = world
        .items()
        .iter()
        .max_by(|a, b| a.quality.total_cmp(&b.quality))
        .unwrap()
        .id
        .clone();
    let worst = world
        .items()
        .iter()
        .min_by(|a, b| a.quality.total_cmp(&b.quality))
        .unwrap()
        .id
        .clone();
    let request = json!({"items": [best, worst, "unknown-item"]}).to_string();
    let answer = server
        .call(
            "POST",
            &format!("{POP}/instances/pop1/predict"),
            Some(&request),
        )
        .await;
    let result = &answer.assert_ok()["Result"];
    assert_eq!(
        (
            result["InstanceName"].as_str(),
            result["Generation"].as_str()
        ),
        (Some("pop1"), Some("1"))
    );
    let scores = result["Scores"].as_array().unwrap();
    assert!(
        scores[0]["Score"].as_f64().unwrap() > scores[1]["Score"].as_f64().unwrap_or(0.05),
        "{result}"
    );
    assert_eq!(
        (scores[2]["Known"].as_bool(), scores[2]["Score"].as_f64()),
        (Some(false), Some(0.05))
    );

    // The default instance serves when the path names none.
    server
        .call("POST", &format!("{POP}/predict"), Some(&request))
        .await
        .assert_error(404, "DefaultInstance.NotExist");
    server
        .call(
            "PUT",
            &format!("{POP}/default-instance"),
            Some(r#"{"instanceName":"pop1"}"#),
        )
        .await
        .assert_ok();
    let by_default = server
        .call("POST", &format!("{POP}/predict"), Some(&request))
        .await;
    assert_eq!(by_default.assert_ok()["Result"]["Scores"], result["Scores"]);

    // A second run becomes generation 2 and serving switches to it.
    server
        .call("POST", &format!("{POP}/instances/pop1/tasks"), None)
        .await
        .assert_ok();
    wait_success(&server, "2").await;
    let answer = server
        .call("POST", &format!("{POP}/predict"), Some(&request))
        .await;
    assert_eq!(answer.assert_ok()["Result"]["Generation"], "2");

    for bad in [r#"{"nothing":1}"#, r#"{"items":[{"a":1}]}"#] {
        server
            .call("POST", &format!("{POP}/predict"), Some(bad))
            .await
            .assert_error(400, "InvalidParameter");
    }
    let too_many =
        json!({"items": (0..1001).map(|i| format!("i{i}")).collect::<Vec<_>>()}).to_string();
    server
        .call("POST", &format!("{POP}/predict"), Some(&too_many))
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "POST",
            "/v4/openapi/app-groups/shop/functions/ctr/predict",
            Some(&request),
        )
        .await
        // ctr serves too, through its default instance, which this app group has not set.
        .assert_error(404, "DefaultInstance.NotExist");
}
