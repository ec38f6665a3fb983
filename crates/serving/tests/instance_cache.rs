//! What serving remembers of instances, against a real SQLite store: remembered for a while, forgotten when the
//! serving epoch moves, and never trusted nor remembered while a change is being committed (a reader that sees
//! the change in the store must not be answered from before it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use algocenter_domain::Function;
use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::instance::{InstanceUpdate, NewInstance, SERVING_CHANGE_IN_FLIGHT};
use algocenter_serving::Serving;
use algocenter_store::Store;
use algocenter_testkit::TempStore;

const T0: i64 = 1_700_000_000_000;

async fn describe(store: &dyn Store, text: &str) {
    let update = InstanceUpdate {
        description: Some(text.into()),
        ..Default::default()
    };
    store
        .update_instance("shop", Function::Pop, "p", update, T0)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_not_remembered_across_a_change_being_committed() {
    let temp = TempStore::open();
    let store = Arc::clone(&temp.store);
    store
        .create_app_group(
            NewAppGroup {
                name: "shop".into(),
                app_type: "enhanced".into(),
                description: String::new(),
                extra: Default::default(),
            },
            T0,
        )
        .await
        .unwrap();
    store
        .create_instance(
            "shop",
            NewInstance {
                function: Function::Pop,
                name: "p".into(),
                model_type: "pop".into(),
                function_type: "PAAS".into(),
                description: "first".into(),
                cron: String::new(),
                version_id: 201,
                create_parameters: vec![],
                usage_parameters: vec![],
                resource_refs: vec![],
                next_fire_ms: None,
            },
            T0,
        )
        .await
        .unwrap();
    let epoch = Arc::new(AtomicU64::new(0));
    let serving = Serving::new(
        Arc::clone(&store),
        Arc::clone(&temp.artifacts),
        Arc::clone(&epoch),
    );
    let seen = || async {
        serving
            .resolve("shop", Function::Pop, Some("p"))
            .await
            .unwrap()
            .description
    };

    assert_eq!(seen().await, "first");
    // Changed in the store without telling serving: still remembered.
    describe(&*store, "second").await;
    assert_eq!(seen().await, "first");

    // A change being committed: every read goes to the store, and none is remembered.
    epoch.fetch_add(SERVING_CHANGE_IN_FLIGHT, Ordering::AcqRel);
    assert_eq!(seen().await, "second");
    describe(&*store, "third").await;
    assert_eq!(seen().await, "third");
    // Done: the epoch moved, the store is read again and remembered.
    epoch.fetch_add(1, Ordering::AcqRel);
    epoch.fetch_sub(SERVING_CHANGE_IN_FLIGHT, Ordering::AcqRel);
    assert_eq!(seen().await, "third");
    describe(&*store, "fourth").await;
    assert_eq!(seen().await, "third", "remembered again once settled");
}
