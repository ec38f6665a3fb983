//! `rank` end to end over HTTP: a feature_generator resource (refused with the generator and field named when
//! wrong), an instance checked against it and against its ctr instance, training, and reranking with
//! explanations.

use algocenter_domain::document::DocumentKind;
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_generator::graded::{GradedConfig, GradedShop};
use algocenter_generator::{document_record, push_record};
use algocenter_testkit::{AppOptions, TestApp, spawn_app};
use serde_json::{Value, json};

const BULK: &str = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type";
const RANK: &str = "/v4/openapi/app-groups/shop/functions/rank";

async fn push(server: &TestApp, kind: &str, records: Vec<Value>) {
    for chunk in records.chunks(2000) {
        let body = Value::Array(chunk.to_vec()).to_string();
        let answer = server
            .call("POST", &format!("{BULK}/{kind}/actions/bulk"), Some(&body))
            .await;
        assert_eq!(answer.body["status"], "OK", "{}", answer.body);
    }
}

async fn shop() -> (TestApp, GradedShop) {
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 2)).await;
    server.create_app("shop").await;
    let shop = GradedShop::new(GradedConfig::for_events(90_000, 6, now_ms(), 5));
    let items = shop
        .item_documents()
        .map(|d| document_record(DocumentKind::Item, &d))
        .collect();
    push(&server, "item_info", items).await;
    let mut events = Vec::new();
    shop.events(&mut |e, _| events.push(push_record(e)));
    push(&server, "behavior", events).await;
    (server, shop)
}

async fn call(
    server: &TestApp,
    method: &str,
    path: &str,
    body: Value,
) -> algocenter_testkit::Answer {
    let body = (!body.is_null()).then(|| body.to_string());
    server
        .call(method, &format!("{RANK}{path}"), body.as_deref())
        .await
}

fn instance(name: &str, parameters: &[(&str, &str)]) -> Value {
    let parameters: Vec<Value> = parameters
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    json!({"instanceName": name, "modelType": "tf_checkpoint", "createParameters": parameters})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rank_trains_on_a_feature_generator_and_explains_its_ranking() {
    let (server, shop) = shop().await;

    // The guide's lowercase array, with options; a raw_file named where a feature_generator belongs.
    let generators = json!([
        {"generator": "raw", "input": {"features": [{"name": "rating", "type": "item"}]}, "output": "rating"},
        {"generator": "raw", "input": {"features": [{"name": "price", "type": "item"}]}, "output": "price"},
        {"generator": "id", "input": {"features": [{"name": "budget", "type": "context"}]}, "output": "budget"},
        {"generator": "overlap", "input": {"features": [{"name": "system_raw_q_ultra", "type": "user"},
            {"name": "title", "type": "item"}]}, "output": "title_match", "method": "query_common_ratio"},
        {"generator": "combo_feature", "input": {"features": [{"name": "system_raw_q_ultra", "type": "user"},
            {"name": "category", "type": "item"}]}, "output": "query_category"},
        {"generator": "lookup", "input": {"features": [{"name": "system_qterm_ctr_decay", "type": "item"},
            {"name": "system_raw_q_terms", "type": "user"}]}, "output": "term_ctr", "options": {"combiner": "max"}},
    ]);
    call(
        &server,
        "POST",
        "/resources",
        json!({"ResourceName": "fg", "ResourceType": "feature_generator", "Data": generators}),
    )
    .await
    .assert_ok();
    let shown = call(&server, "GET", "/resources/fg", Value::Null).await;
    assert_eq!(
        shown.assert_ok()["Result"]["Data"]["Generators"][5]["Options"]["combiner"],
        "max"
    );
    let mismatch = json!({"ResourceName": "bad", "ResourceType": "feature_generator", "Data": {"Generators": [
        {"Generator": "id", "Input": {"Features": [{"Name": "system_item_id", "Type": "item"}]}, "Output": "a"},
        {"Generator": "raw", "Input": {"Features": [{"Name": "system_raw_q_ultra", "Type": "item"}]}, "Output": "b"}]}});
    let refused = call(&server, "POST", "/resources", mismatch).await;
    refused.assert_error(400, "InvalidParameter");
    let message = refused.body["Message"].as_str().unwrap();
    assert!(
        message.contains("Data.Generators[1].Input.Features[0]"),
        "{message}"
    );
    call(
        &server,
        "POST",
        "/resources",
        json!({"ResourceName": "words", "ResourceType": "raw_file", "Data": {"Content": "a"}}),
    )
    .await
    .assert_ok();
    let wrong_type = server
        .create_instance(
            "shop",
            "rank",
            &instance("r", &[("feature_generator", "words")]).to_string(),
        )
        .await;
    wrong_type.assert_error(400, "InvalidParameter");
    assert!(
        wrong_type.body["Message"]
            .as_str()
            .unwrap()
            .contains("feature_generator resource")
    );
    let no_ctr = server
        .create_instance(
            "shop",
            "rank",
            &instance("r", &[("ctr_instance", "nope")]).to_string(),
        )
        .await;
    no_ctr.assert_error(400, "InvalidParameter");

    let params = [
        ("feature_generator", "fg"),
        ("train_window_days", "6"),
        ("num_trees", "80"),
    ];
    server
        .create_instance("shop", "rank", &instance("r", &params).to_string())
        .await
        .assert_ok();
    call(&server, "POST", "/instances/r/tasks", Value::Null)
        .await
        .assert_ok();
    let task = server.wait_task("shop", "rank", "r", "1").await;
    assert_eq!(task["Status"], "success", "{task}");
    let metrics: Value = serde_json::from_str(task["ExtendInfo"].as_str().unwrap()).unwrap();
    for key in [
        "ndcg_at_5",
        "ndcg_at_10",
        "mrr",
        "logged_ndcg_at_10",
        "popularity_ndcg_at_10",
        "examples_fit",
    ] {
        assert!(metrics[key].is_number(), "{key}: {metrics}");
    }
    assert!(
        metrics["feature_importance"]["rating"].as_f64().unwrap() > 0.0,
        "{metrics}"
    );

    // Rerank: ids and one object with its own attributes; explanations on.
    let items: Vec<&str> = shop.items()[..30].iter().map(|i| i.id.as_str()).collect();
    let mut wanted: Vec<Value> = items.iter().map(|i| json!(i)).collect();
    wanted.push(json!({"item_id": "new1", "title": "红色 连衣裙 dress", "rating": 4.9, "price": 20, "category": "女装>连衣裙"}));
    let body = json!({"query": "连衣裙", "userId": "s1", "context": {"budget": "low"}, "items": wanted, "explain": true});
    let answer = call(&server, "POST", "/instances/r/predict", body).await;
    let result = answer.assert_ok()["Result"].clone();
    assert_eq!(result["InstanceName"], "r");
    let ranked = result["Items"].as_array().unwrap();
    assert_eq!(ranked.len(), 31);
    let scores: Vec<f64> = ranked
        .iter()
        .map(|i| i["Score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    for item in ranked {
        let explanation = &item["Explanation"];
        let id = item["ItemId"].as_str().unwrap();
        let rating = explanation["Values"]["rating"].as_f64().unwrap();
        match shop.items().iter().find(|i| i.id == id) {
            Some(known) => assert!((rating - known.rating).abs() < 1e-4, "{item}"),
            None => {
                assert_eq!(item["Features"], "request");
                assert_eq!(rating, 4.9);
                assert_eq!(
                    explanation["Values"]["title_match"], 10.0,
                    "every query term in the title"
                );
            }
        }
        let contributions = explanation["Contributions"].as_array().unwrap();
        assert!(contributions.len() <= 5, "explain_top defaults to 5");
    }
    // Without explain, no explanation.
    let plain = call(
        &server,
        "POST",
        "/instances/r/predict",
        json!({"query": "dress", "items": items}),
    )
    .await;
    assert!(
        plain.assert_ok()["Result"]["Items"][0]
            .get("Explanation")
            .is_none()
    );
    let bad = call(
        &server,
        "POST",
        "/instances/r/predict",
        json!({"items": items, "explain": "yes"}),
    )
    .await;
    bad.assert_error(400, "InvalidParameter");
}
