//! `ctr` end to end over HTTP: pushed items and behaviour, training through the function API, reranking through
//! `predict`, items looked up from the store, the quality gate and bad requests.

use algocenter_domain::document::DocumentKind;
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_generator::{GeneratorConfig, World, document_record, push_record};
use algocenter_testkit::{Answer, AppOptions, TestApp, spawn_app};
use serde_json::{Value, json};

const BULK: &str = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type";
const FUNCTIONS: &str = "/v4/openapi/app-groups/shop/functions";

async fn push(server: &TestApp, kind: &str, records: Vec<Value>) {
    for chunk in records.chunks(2000) {
        let body = Value::Array(chunk.to_vec()).to_string();
        let answer = server
            .call("POST", &format!("{BULK}/{kind}/actions/bulk"), Some(&body))
            .await;
        assert_eq!(answer.body["status"], "OK", "{}", answer.body);
    }
}

/// A server with a generated shop's items and all its behaviour.
async fn shop() -> (TestApp, World) {
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 2)).await;
    server.create_app("shop").await;
    let world = World::new(GeneratorConfig {
        end_ms: now_ms(),
        days: 10,
        searches: 8_000,
        users: 300,
        items: 300,
        queries: 600,
        ..GeneratorConfig::default()
    });
    let items = world
        .item_documents()
        .map(|d| document_record(DocumentKind::Item, &d))
        .collect();
    push(&server, "item_info", items).await;
    let mut events = Vec::new();
    world.events(&mut |e, _| events.push(push_record(e)));
    push(&server, "behavior", events).await;
    (server, world)
}

async fn create(server: &TestApp, name: &str, extra: &[(&str, &str)]) {
    // A small tuning budget: the comparison leaves out the deep model, whose run would outlast the wait below.
    let mut parameters = vec![
        json!({"name": "id_field", "value": "item_id"}),
        json!({"name": "title_field", "value": "title"}),
        json!({"name": "tuning_budget_seconds", "value": "5"}),
    ];
    parameters.extend(extra.iter().map(|(n, v)| json!({"name": n, "value": v})));
    let body =
        json!({"instanceName": name, "modelType": "tf_checkpoint", "createParameters": parameters});
    server
        .create_instance("shop", "ctr", &body.to_string())
        .await
        .assert_ok();
}

async fn predict(server: &TestApp, path: &str, body: Value) -> Answer {
    server
        .call(
            "POST",
            &format!("{FUNCTIONS}/ctr/{path}"),
            Some(&body.to_string()),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctr_trains_on_pushed_behaviour_and_reranks_candidates() {
    let (server, world) = shop().await;
    create(&server, "rank", &[]).await;
    let metrics = server.train("shop", "ctr", "rank", 1).await;
    for key in [
        "auc",
        "logloss",
        "calibration",
        "baseline_lr_auc",
        "baseline_pop_auc",
        "examples_holdout",
    ] {
        assert!(metrics[key].is_number(), "{key}: {metrics}");
    }
    assert!(metrics["auc"].as_f64().unwrap() > 0.7, "{metrics}");
    assert_eq!(metrics["quality_gate_passed"], true);

    // A query of one leaf, candidates from everywhere: the items of that leaf should come first.
    let query = &world.queries()[0];
    let documents: Vec<_> = world.item_documents().take(60).collect();
    let ids: Vec<&str> = documents.iter().map(|d| d.id.as_str()).collect();
    let answer = predict(
        &server,
        "instances/rank/predict",
        json!({"query": query.text, "userId": "u1", "context": {"device": "ios"}, "items": ids}),
    )
    .await;
    let result = answer.assert_ok()["Result"].clone();
    assert_eq!(result["InstanceName"], "rank");
    assert_eq!(result["Generation"], "1");
    assert_eq!(result["Position"], 1);
    let items = result["Items"].as_array().unwrap();
    assert_eq!(items.len(), 60);
    let scores: Vec<f64> = items.iter().map(|i| i["Score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    assert!(scores.iter().all(|s| *s > 0.0 && *s < 1.0));
    assert!(items.iter().all(|i| i["Features"] == "model"));
    let mut inputs: Vec<u64> = items
        .iter()
        .map(|i| i["InputIndex"].as_u64().unwrap())
        .collect();
    inputs.sort_unstable();
    assert_eq!(
        inputs,
        (0..60).collect::<Vec<u64>>(),
        "every candidate once"
    );
    // The query's own category ranks above the rest on average.
    let leaf_of = |id: &str| {
        world
            .items()
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.leaf)
            .unwrap()
    };
    let ranks: Vec<(bool, usize)> = items
        .iter()
        .enumerate()
        .map(|(rank, i)| (leaf_of(i["ItemId"].as_str().unwrap()) == query.leaf, rank))
        .collect();
    let mean = |own: bool| {
        let r: Vec<usize> = ranks.iter().filter(|r| r.0 == own).map(|r| r.1).collect();
        r.iter().sum::<usize>() as f64 / r.len().max(1) as f64
    };
    if ranks.iter().any(|r| r.0) {
        assert!(mean(true) < mean(false), "{ranks:?}");
    }

    // Through the default instance, with an item the model has never seen: pushed after training, its
    // attributes come from the store; given in the request, from there; unknown anywhere, its id alone.
    server
        .call(
            "PUT",
            &format!("{FUNCTIONS}/ctr/default-instance"),
            Some(r#"{"instanceName": "rank"}"#),
        )
        .await
        .assert_ok();
    push(
        &server,
        "item_info",
        vec![json!({"cmd": "ADD", "fields": {"item_id": "fresh", "title": "new dress", "category": "女装>连衣裙"}})],
    )
    .await;
    let answer = predict(
        &server,
        "predict",
        json!({"query": query.text, "items": [
            "fresh",
            {"item_id": "given", "title": "given dress", "category": "女装>连衣裙"},
            "ghost",
            ids[0],
            {"item_id": ids[1]},
        ]}),
    )
    .await;
    let items = answer.assert_ok()["Result"]["Items"]
        .as_array()
        .unwrap()
        .clone();
    let source = |id: &str| {
        items
            .iter()
            .find(|i| i["ItemId"] == id)
            .map(|i| i["Features"].clone())
            .unwrap()
    };
    assert_eq!(source("fresh"), "store");
    assert_eq!(source("given"), "request");
    assert_eq!(source("ghost"), "unknown");
    assert_eq!(source(ids[0]), "model");
    assert_eq!(
        source(ids[1]),
        "model",
        "an object with the id alone is an id"
    );

    // Bad requests: clear errors, nothing served.
    let too_many: Vec<String> = (0..1001).map(|i| format!("i{i}")).collect();
    for body in [
        json!({"items": too_many}),
        json!({"query": "x"}),
        json!({"items": [true]}),
        json!({"items": [{"title": "no id"}]}),
        json!({"items": ["a"], "context": {"k": 1}}),
        json!({"items": ["a"], "context": "device=ios"}),
        json!({"items": ["a"], "query": 3}),
    ] {
        predict(&server, "instances/rank/predict", body)
            .await
            .assert_error(400, "InvalidParameter");
    }
    predict(&server, "instances/nope/predict", json!({"items": ["a"]}))
        .await
        .assert_error(404, "Instance.NotExist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_below_the_quality_gate_does_not_serve() {
    let (server, _) = shop().await;
    create(&server, "strict", &[("available_threshold", "0.999")]).await;
    let metrics = server.train("shop", "ctr", "strict", 1).await;
    assert_eq!(metrics["quality_gate_passed"], false, "{metrics}");
    assert!(
        metrics["quality_gate"]
            .as_str()
            .unwrap()
            .contains("does not serve")
    );
    predict(
        &server,
        "instances/strict/predict",
        json!({"items": ["i1"]}),
    )
    .await
    .assert_error(409, "Instance.Unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_history_is_trained_reported_and_served() {
    let (server, world) = shop().await;
    create(
        &server,
        "history",
        &[("user_history", "20"), ("model", "lr"), ("max_epochs", "3")],
    )
    .await;
    let metrics = server.train("shop", "ctr", "history", 1).await;
    let history = &metrics["user_history"];
    assert_eq!(history["limit"], 20, "{metrics}");
    assert!(history["users"].as_u64().unwrap() > 100, "{history}");
    // Every user held chose at least one item, and at most the limit.
    let (items, users) = (
        history["items"].as_u64().unwrap(),
        history["users"].as_u64().unwrap(),
    );
    assert!(items >= users && items <= 20 * users, "{history}");
    assert!(history["bytes"].as_u64().unwrap() > 0, "{history}");
    assert!(
        metrics["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("user_history")),
        "{metrics}"
    );
    // The generation serves (artifact format 4 with the histories), for a known user and an unknown one alike.
    let ids: Vec<String> = world.item_documents().take(20).map(|d| d.id).collect();
    for user in ["u1", "u2", "nobody"] {
        let answer = predict(
            &server,
            "instances/history/predict",
            json!({"userId": user, "items": ids}),
        )
        .await;
        let items = answer.assert_ok()["Result"]["Items"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(items.len(), 20);
        assert!(items.iter().all(|i| {
            let s = i["Score"].as_f64().unwrap();
            s > 0.0 && s < 1.0
        }));
    }
}
