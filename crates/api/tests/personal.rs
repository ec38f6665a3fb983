//! Personal completions and hints over HTTP: `user_id` on the suggest path, the privacy rule, and the live tail
//! of `near_realtime` instances (searches pushed after training count within seconds, without a new generation).

use std::time::Duration;

use algocenter_domain::data::DAY_MS;
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_testkit::{TestApp, spawn_app, wait_until};
use serde_json::{Value, json};

const BULK: &str =
    "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions/bulk";
const APP: &str = "/v3/openapi/apps/shop";

fn search(user: &str, query: &str, at_ms: i64, rn: &str) -> Value {
    json!({"cmd": "ADD", "fields": {
        "user_id": user, "biz_id": "shop", "trace_id": "t", "rn": rn, "bhv_type": "search",
        "bhv_time": at_ms, "reach_time": at_ms, "raw_query": query, "hits": 10,
    }})
}

async fn push(server: &TestApp, records: Vec<Value>) {
    let answer = server
        .call("POST", BULK, Some(&Value::Array(records).to_string()))
        .await;
    assert_eq!(answer.body["status"], "OK", "{}", answer.body);
}

async fn train(server: &TestApp, function: &str, instance: &str) {
    let body = json!({"instanceName": instance, "modelType": "near_realtime"});
    server.create_and_train("shop", function, &body).await;
}

async fn texts(server: &TestApp, path: &str, field: &str, key: &str) -> Vec<String> {
    let answer = server.call("GET", path, None).await;
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer.body[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[key].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_completions_and_hints_follow_the_user_and_the_live_tail() {
    let server = spawn_app(algocenter_testkit::AppOptions::training(
        Trainers::builtin(),
        1,
    ))
    .await;
    server.create_app("shop").await;
    let now = now_ms();
    let mut records = Vec::new();
    // Thirty people search a few shared queries over the last days; "ann" searches her own query twice.
    for u in 0..30 {
        for (k, query) in [
            "zebra print dress",
            "zip hoodie",
            "zoo tickets",
            "zoom lens",
        ]
        .iter()
        .enumerate()
        {
            let at = now - (1 + (u + k as i64) % 5) * DAY_MS - u * 1000;
            records.push(search(&format!("u{u}"), query, at, &format!("r{u}-{k}")));
        }
    }
    for i in 0..2 {
        records.push(search(
            "ann",
            "zebrafish tank heater",
            now - (2 + i) * DAY_MS,
            &format!("ann{i}"),
        ));
    }
    push(&server, records).await;
    train(&server, "suggest", "sug").await;
    train(&server, "hint", "hin").await;

    let suggest = |user: &str| {
        let user = if user.is_empty() {
            String::new()
        } else {
            format!("&user_id={user}")
        };
        format!("{APP}/suggest/sug/search?query=zebr&hit=5{user}")
    };
    let ann = texts(&server, &suggest("ann"), "suggestions", "suggestion").await;
    assert_eq!(
        ann,
        ["zebrafish tank heater", "zebra print dress"],
        "her own query, and the shared one"
    );
    for other in ["u1", "stranger", ""] {
        let list = texts(&server, &suggest(other), "suggestions", "suggestion").await;
        assert_eq!(
            list,
            ["zebra print dress"],
            "{other:?}: one user's query is hers alone"
        );
    }

    // Searches pushed after training count for their user within seconds, through the live tail.
    let later = now_ms();
    push(
        &server,
        vec![
            search("bob", "zebra crossing lessons", later, "bob1"),
            search("bob", "zebra crossing lessons", later + 1, "bob2"),
        ],
    )
    .await;
    wait_until(
        "bob's new search to be suggested to him",
        Duration::from_secs(20),
        || async {
            let list = texts(&server, &suggest("bob"), "suggestions", "suggestion").await;
            (list.first().map(String::as_str) == Some("zebra crossing lessons")).then_some(())
        },
    )
    .await;
    assert_eq!(
        texts(&server, &suggest("u2"), "suggestions", "suggestion").await,
        ["zebra print dress"],
        "and to no one else"
    );
    wait_until(
        "bob's repeated search to be one of his hints",
        Duration::from_secs(20),
        || async {
            let path = format!("{APP}/actions/hint?model_name=hin&user_id=bob");
            let hints = texts(&server, &path, "result", "hot").await;
            (hints.first().map(String::as_str) == Some("zebra crossing lessons")).then_some(())
        },
    )
    .await;
    let path = format!("{APP}/actions/hint?model_name=hin&user_id=u3");
    assert!(
        !texts(&server, &path, "result", "hot")
            .await
            .contains(&"zebra crossing lessons".to_string())
    );
}
