//! The query functions (`hot`, `hint`, `suggest`, `category`) end to end over HTTP: pushed searches, training
//! through the function API, serving on OpenSearch's data-plane paths, and a generation switch under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use algocenter_domain::document::DocumentKind;
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_functions::query::{is_cjk, normalise};
use algocenter_generator::{GeneratorConfig, World, document_record, push_record};
use algocenter_testkit::{Answer, AppOptions, TestApp, spawn_app, wait_until};
use serde_json::{Value, json};

const BULK: &str = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type";
const FUNCTIONS: &str = "/v4/openapi/app-groups/shop/functions";
const APP: &str = "/v3/openapi/apps/shop";

/// A server with the app group `shop` holding a generated world's items and behaviour.
async fn shop_with_searches(searches: u64) -> TestApp {
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 2)).await;
    server.create_app("shop").await;
    let world = World::new(GeneratorConfig {
        end_ms: now_ms(),
        days: 10,
        searches,
        users: 400,
        items: 400,
        queries: 1_500,
        ..GeneratorConfig::default()
    });
    let items: Vec<Value> = world
        .item_documents()
        .map(|d| document_record(DocumentKind::Item, &d))
        .collect();
    let body = Value::Array(items).to_string();
    let answer = server
        .call(
            "POST",
            &format!("{BULK}/item_info/actions/bulk"),
            Some(&body),
        )
        .await;
    assert_eq!(answer.body["stored"], 400, "{}", answer.body);
    let mut events = Vec::new();
    world.events(&mut |e, _| {
        // Exposures are most of the volume and the query functions do not read them.
        if e.bhv_type != "expose" {
            events.push(push_record(e));
        }
    });
    for chunk in events.chunks(2000) {
        let body = Value::Array(chunk.to_vec()).to_string();
        let answer = server
            .call(
                "POST",
                &format!("{BULK}/behavior/actions/bulk"),
                Some(&body),
            )
            .await;
        assert_eq!(answer.body["status"], "OK", "{}", answer.body);
    }
    server
}

async fn create(server: &TestApp, function: &str, body: Value) {
    server
        .create_instance("shop", function, &body.to_string())
        .await
        .assert_ok();
}

/// Runs a task and returns its metrics.
/// A data-plane error: the status and OpenSearch's v3 error body.
#[track_caller]
fn assert_data_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["status"], "FAIL", "{}", answer.body);
    assert_eq!(answer.body["errors"][0]["code"], code, "{}", answer.body);
    assert!(answer.body["request_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_functions_train_on_pushed_searches_and_serve_on_opensearch_paths() {
    let server = shop_with_searches(6_000).await;
    create(
        &server,
        "hot",
        json!({"instanceName": "hot1", "modelType": "offline_inference"}),
    )
    .await;
    let untrained = server
        .call("GET", &format!("{APP}/actions/hot?model_name=hot1"), None)
        .await;
    assert_data_error(&untrained, 409, "Instance.Unavailable");

    let hot = server.train("shop", "hot", "hot1", 1).await;
    assert!(
        hot["holdout_top10_overlap"].as_f64().unwrap() > 0.3,
        "{hot}"
    );
    assert!(hot["searches_counted"].as_u64().unwrap() > 5_000, "{hot}");

    let answer = server
        .call(
            "GET",
            &format!("{APP}/actions/hot?model_name=hot1&hit=5"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["request_id"].is_string() && answer.body["searchtime"].is_f64());
    let result = answer.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 5);
    let pv: Vec<u64> = result.iter().map(|r| r["pv"].as_u64().unwrap()).collect();
    assert!(pv.windows(2).all(|w| w[0] >= w[1]), "{pv:?}");
    assert!(
        result
            .iter()
            .all(|r| r["hot"].is_string() && r["tags"].as_u64().unwrap() <= 2)
    );
    let top_query = result[0]["hot"].as_str().unwrap().to_string();
    for uv in [
        "sort_type=uv",
        "sort_type=default",
        "sort_type=pv&user_id=u1",
    ] {
        let answer = server
            .call(
                "GET",
                &format!("{APP}/actions/hot?model_name=hot1&{uv}"),
                None,
            )
            .await;
        assert_eq!(answer.body["result"].as_array().unwrap().len(), 10, "{uv}");
    }

    // Bad requests get OpenSearch's data-plane errors.
    for (query, status, code) in [
        ("model_name=hot1&hit=0", 400, "InvalidParameter"),
        ("model_name=hot1&hit=31", 400, "InvalidParameter"),
        ("model_name=hot1&hit=ten", 400, "InvalidParameter"),
        ("model_name=hot1&sort_type=best", 400, "InvalidParameter"),
        ("model_name=nope", 404, "Instance.NotExist"),
        ("", 404, "DefaultInstance.NotExist"),
    ] {
        let answer = server
            .call("GET", &format!("{APP}/actions/hot?{query}"), None)
            .await;
        assert_data_error(&answer, status, code);
    }
    let answer = server
        .call("GET", "/v3/openapi/apps/nowhere/actions/hot", None)
        .await;
    assert_data_error(&answer, 404, "App.NotFound");

    // Without model_name the default instance answers.
    server
        .call(
            "PUT",
            &format!("{FUNCTIONS}/hot/default-instance"),
            Some(r#"{"instanceName":"hot1"}"#),
        )
        .await
        .assert_ok();
    let by_default = server
        .call("GET", &format!("{APP}/actions/hot"), None)
        .await;
    assert_eq!(by_default.body["result"][0]["hot"], top_query.as_str());

    // A blacklist resource hides the top query; a referenced resource cannot be deleted.
    let resource = json!({
        "resourceName": "banned", "resourceType": "raw_file",
        "data": {"content": format!("{}\n", top_query.to_uppercase())},
    });
    server
        .call(
            "POST",
            &format!("{FUNCTIONS}/hot/resources"),
            Some(&resource.to_string()),
        )
        .await
        .assert_ok();
    create(
        &server,
        "hot",
        json!({"instanceName": "hot2", "modelType": "offline_inference",
               "createParameters": [{"name": "blacklist", "value": "banned"}]}),
    )
    .await;
    server.train("shop", "hot", "hot2", 1).await;
    let answer = server
        .call(
            "GET",
            &format!("{APP}/actions/hot?model_name=hot2&hit=30"),
            None,
        )
        .await;
    let listed: Vec<String> = answer.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| normalise(r["hot"].as_str().unwrap()))
        .collect();
    assert!(!listed.contains(&normalise(&top_query)), "{listed:?}");
    server
        .call("DELETE", &format!("{FUNCTIONS}/hot/resources/banned"), None)
        .await
        .assert_error(409, "Resource.InUse");

    // hint: three by default; near_realtime knows the users.
    create(
        &server,
        "hint",
        json!({"instanceName": "hint1", "modelType": "near_realtime"}),
    )
    .await;
    let hint = server.train("shop", "hint", "hint1", 1).await;
    assert!(hint["user_profiles"].as_u64().unwrap() > 100, "{hint}");
    assert!(hint["holdout_coverage_at_3"].is_f64(), "{hint}");
    let answer = server
        .call(
            "GET",
            &format!("{APP}/actions/hint?model_name=hint1&user_id=u7"),
            None,
        )
        .await;
    assert_eq!(
        answer.body["result"].as_array().unwrap().len(),
        3,
        "{}",
        answer.body
    );

    // suggest: completion by prefix, Chinese too.
    create(
        &server,
        "suggest",
        json!({"instanceName": "sug1", "modelType": "offline_inference"}),
    )
    .await;
    let suggest = server.train("shop", "suggest", "sug1", 1).await;
    assert!(
        suggest["mrr"].as_f64().unwrap() > 0.2 && suggest["baseline_most_popular_mrr"].is_f64(),
        "{suggest}"
    );
    let answer = server
        .call(
            "GET",
            &format!("{APP}/suggest/sug1/search?query=s&hit=5"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let suggestions: Vec<String> = answer.body["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["suggestion"].as_str().unwrap().to_string())
        .collect();
    assert!(!suggestions.is_empty() && suggestions.len() <= 5);
    // Latin completions start with the prefix; Chinese ones match it by pinyin (手机: shouji).
    assert!(
        suggestions
            .iter()
            .all(|s| normalise(s).starts_with('s') || s.chars().any(is_cjk)),
        "{suggestions:?}"
    );
    // 连 (URL-encoded): Chinese completes by characters.
    let answer = server
        .call(
            "GET",
            &format!("{APP}/suggest/sug1/search?query=%E8%BF%9E"),
            None,
        )
        .await;
    let chinese = answer.body["suggestions"].as_array().unwrap();
    assert!(
        chinese
            .iter()
            .all(|s| s["suggestion"].as_str().unwrap().starts_with('连'))
    );
    let answer = server
        .call("GET", &format!("{APP}/suggest/sug1/search?query="), None)
        .await;
    assert_eq!(answer.body["suggestions"], json!([]));
    assert_data_error(
        &server
            .call("GET", &format!("{APP}/suggest/sug1/search"), None)
            .await,
        400,
        "InvalidParameter",
    );
    let long = "x".repeat(300);
    assert_data_error(
        &server
            .call(
                "GET",
                &format!("{APP}/suggest/sug1/search?query={long}"),
                None,
            )
            .await,
        400,
        "InvalidParameter",
    );
    assert_data_error(
        &server
            .call("GET", &format!("{APP}/suggest/nope/search?query=s"), None)
            .await,
        404,
        "Instance.NotExist",
    );

    // category through the function API's predict.
    create(
        &server,
        "category",
        json!({"instanceName": "cat1", "modelType": "offline_inference"}),
    )
    .await;
    let category = server.train("shop", "category", "cat1", 1).await;
    assert!(category["recall"].as_i64().unwrap() > 50, "{category}");
    assert!(
        category["precision_at_1"].is_f64() && category["f1_at_3"].is_f64(),
        "{category}"
    );
    let answer = server
        .call(
            "POST",
            &format!("{FUNCTIONS}/category/instances/cat1/predict"),
            Some(r#"{"queries": ["连衣裙", "Red DRESS", "qqqq"], "topK": 2}"#),
        )
        .await;
    let predictions = answer.assert_ok()["Result"]["Predictions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(predictions.len(), 3);
    assert_eq!(predictions[0]["Categories"][0]["Category"], "女装>连衣裙");
    assert_eq!(predictions[1]["Categories"][0]["Category"], "女装>连衣裙");
    assert_eq!(predictions[2]["Source"], "prior");
    assert!(
        predictions
            .iter()
            .all(|p| p["Categories"].as_array().unwrap().len() == 2)
    );
    for bad in [
        r#"{"queries": "dress"}"#,
        r#"{"queries": [1]}"#,
        r#"{"queries": ["a"], "topK": 0}"#,
    ] {
        server
            .call(
                "POST",
                &format!("{FUNCTIONS}/category/instances/cat1/predict"),
                Some(bad),
            )
            .await
            .assert_error(400, "InvalidParameter");
    }

    // The other functions answer predict too.
    let answer = server
        .call(
            "POST",
            &format!("{FUNCTIONS}/suggest/instances/sug1/predict"),
            Some(r#"{"query": "s", "hit": 3}"#),
        )
        .await;
    assert!(
        answer.assert_ok()["Result"]["Suggestions"]
            .as_array()
            .unwrap()
            .len()
            <= 3
    );
    let answer = server
        .call(
            "POST",
            &format!("{FUNCTIONS}/hot/predict"),
            Some(r#"{"hit": 2}"#),
        )
        .await;
    assert_eq!(
        answer.assert_ok()["Result"]["Queries"][0]["Query"],
        top_query.as_str()
    );
}

/// Clients hammer the serving endpoints while a new generation trains and starts serving: every answer is a
/// success, and the answers move to the new generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_switch_under_load_gives_no_errors() {
    let server = Arc::new(shop_with_searches(3_000).await);
    create(
        &server,
        "suggest",
        json!({"instanceName": "sug", "modelType": "offline_inference"}),
    )
    .await;
    create(
        &server,
        "hot",
        json!({"instanceName": "hot", "modelType": "offline_inference"}),
    )
    .await;
    server.train("shop", "suggest", "sug", 1).await;
    server.train("shop", "hot", "hot", 1).await;

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    // Clients that were answered by generation 2.
    let switched = Arc::new(AtomicU64::new(0));
    const CLIENTS: u64 = 4;
    let mut clients = Vec::new();
    for n in 0..CLIENTS {
        let (server, stop, answered, switched) = (
            Arc::clone(&server),
            Arc::clone(&stop),
            Arc::clone(&answered),
            Arc::clone(&switched),
        );
        clients.push(tokio::spawn(async move {
            let mut generations = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let answer = if n % 2 == 0 {
                    server
                        .call("GET", &format!("{APP}/suggest/sug/search?query=s"), None)
                        .await
                } else {
                    server
                        .call("GET", &format!("{APP}/actions/hot?model_name=hot"), None)
                        .await
                };
                assert_eq!(answer.status, 200, "{}", answer.body);
                let answer = server
                    .call(
                        "POST",
                        &format!("{FUNCTIONS}/suggest/instances/sug/predict"),
                        Some(r#"{"query": "d"}"#),
                    )
                    .await;
                let generation = answer.assert_ok()["Result"]["Generation"]
                    .as_str()
                    .unwrap()
                    .to_string();
                if generations.last() != Some(&generation) {
                    if generation == "2" {
                        switched.fetch_add(1, Ordering::Relaxed);
                    }
                    generations.push(generation);
                }
                answered.fetch_add(2, Ordering::Relaxed);
            }
            generations
        }));
    }
    server.train("shop", "suggest", "sug", 2).await;
    server.train("shop", "hot", "hot", 2).await;
    wait_until(
        "every client to be answered by generation 2",
        Duration::from_secs(20),
        || async { (switched.load(Ordering::Relaxed) == CLIENTS).then_some(()) },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let generations = client.await.unwrap();
        assert_eq!(
            generations.last().map(String::as_str),
            Some("2"),
            "{generations:?}"
        );
        assert!(
            generations.iter().all(|g| g == "1" || g == "2"),
            "{generations:?}"
        );
    }
    assert!(answered.load(Ordering::Relaxed) > 100);

    // Deleting the serving generation rolls serving back to the one before, at once.
    server
        .call(
            "DELETE",
            &format!("{FUNCTIONS}/suggest/instances/sug/tasks/2"),
            None,
        )
        .await
        .assert_ok();
    for _ in 0..3 {
        let answer = server
            .call(
                "POST",
                &format!("{FUNCTIONS}/suggest/instances/sug/predict"),
                Some(r#"{"query": "d"}"#),
            )
            .await;
        assert_eq!(answer.assert_ok()["Result"]["Generation"], "1");
    }
    // A deleted instance's name, created again, serves its own model, not the deleted one's.
    server
        .call(
            "DELETE",
            &format!("{FUNCTIONS}/suggest/instances/sug"),
            None,
        )
        .await
        .assert_ok();
    create(
        &server,
        "suggest",
        json!({"instanceName": "sug", "modelType": "offline_inference",
               "createParameters": [{"name": "min_count", "value": "100000"}]}),
    )
    .await;
    let answer = server
        .call("GET", &format!("{APP}/suggest/sug/search?query=s"), None)
        .await;
    assert_data_error(&answer, 409, "Instance.Unavailable");
}
