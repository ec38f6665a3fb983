//! The live tail on a cluster: two serving nodes over one store (as two API processes share one database). A
//! search stored through either counts on both within seconds, because each node reads the tail back from
//! the store rather than from its own push path.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::DAY_MS;
use algocenter_domain::instance::NewInstance;
use algocenter_domain::{Function, now_ms};
use algocenter_engine::{Engine, EngineConfig};
use algocenter_functions::Trainers;
use algocenter_serving::suggest::SuggestRequest;
use algocenter_serving::{Serving, Target};
use algocenter_testkit::{TempStore, wait_until};

const APP: &str = "shop";

fn search(user: &str, query: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
    BehaviourEvent {
        user_id: user.into(),
        imei: String::new(),
        biz_id: "shop".into(),
        trace_id: "t".into(),
        rn: rn.into(),
        item_id: String::new(),
        item_type: String::new(),
        bhv_type: "search".into(),
        bhv_time_ms: at_ms,
        reach_time_ms: at_ms,
        raw_query: query.into(),
        hits: Some(10),
        position: None,
        context: Vec::new(),
        extra: Vec::new(),
    }
}

async fn complete(node: &Serving, user: &str) -> Vec<String> {
    node.suggest(SuggestRequest {
        target: Target::new(APP, Some("s")),
        typed: "kay",
        hit: Some(5),
        user: Some(user),
    })
    .await
    .unwrap()
    .suggestions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_stored_through_one_node_counts_on_the_other() {
    let temp = TempStore::open();
    let store = Arc::clone(&temp.store);
    let group = NewAppGroup {
        name: APP.into(),
        app_type: "enhanced".into(),
        description: String::new(),
        extra: Default::default(),
    };
    store.create_app_group(group, now_ms()).await.unwrap();
    let now = now_ms();
    let events: Vec<BehaviourEvent> = (0..150)
        .map(|i| {
            let query = ["kayak", "kayak paddle", "kale chips"][i % 3];
            search(
                &format!("u{}", i % 40),
                query,
                now - (1 + (i as i64) % 6) * DAY_MS - i as i64,
                &format!("r{i}"),
            )
        })
        .collect();
    store.append_events(APP, events).await.unwrap();
    let new = NewInstance {
        function: Function::Suggest,
        name: "s".into(),
        model_type: "near_realtime".into(),
        function_type: "PAAS".into(),
        description: String::new(),
        cron: String::new(),
        version_id: 602,
        create_parameters: vec![],
        usage_parameters: vec![],
        resource_refs: vec![],
        next_fire_ms: None,
    };
    store.create_instance(APP, new, now_ms()).await.unwrap();
    let engine = Engine::new(
        Arc::clone(&store),
        Arc::clone(&temp.artifacts),
        Trainers::builtin(),
        EngineConfig {
            heartbeat: Duration::from_millis(50),
            ..EngineConfig::default()
        },
    );
    let _running = engine.start().await.unwrap();
    engine
        .create_task(APP, Function::Suggest, "s")
        .await
        .unwrap();
    wait_until(
        "the suggest instance to serve",
        Duration::from_secs(60),
        || async {
            let found = store.instance(APP, Function::Suggest, "s").await.unwrap();
            (found.serving_generation == Some(1)).then_some(())
        },
    )
    .await;

    let node = || {
        Serving::new(
            Arc::clone(&store),
            Arc::clone(&temp.artifacts),
            Arc::new(AtomicU64::new(0)),
        )
    };
    let (a, b) = (node(), node());
    assert_eq!(complete(&b, "kim").await, ["kayak", "kayak paddle"]);
    // Kim's searches reach the store through node a (the push path stores them).
    let later = now_ms();
    store
        .append_events(
            APP,
            vec![search("kim", "kayak rental lake tahoe", later, "kim1")],
        )
        .await
        .unwrap();
    for (name, node) in [("b", &b), ("a", &a)] {
        wait_until(
            format_args!("kim's search to count on node {name}"),
            Duration::from_secs(20),
            || async {
                let list = complete(node, "kim").await;
                list.contains(&"kayak rental lake tahoe".to_string())
                    .then_some(())
            },
        )
        .await;
        assert_eq!(complete(node, "lee").await, ["kayak", "kayak paddle"]);
    }
}
