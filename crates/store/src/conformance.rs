//! The conformance suite every store implementation must pass (Quickwit-style: one suite, instantiated per
//! backend by [`conformance_suite!`]). Each test gets a fresh, empty store.

use std::sync::Arc;

use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::instance::{InstanceFilter, InstanceUpdate, NewInstance};
use algocenter_domain::paging::Page;
use algocenter_domain::resource::{NewResource, ResourceData, ResourceType};
use algocenter_domain::task::{TaskFilter, TaskState, Trigger, WireStatus};
use algocenter_domain::{Error, Function};
use serde_json::Map;

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::TrainingData;
use algocenter_domain::document::{Document, DocumentKind, DocumentOp};

use crate::{AppendOutcome, ArtifactKey, Completion, FireOutcome, Store};

const APP: &str = "shop";
const T0: i64 = 1_700_000_000_000;

fn page(number: u32, size: u32) -> Page {
    Page { number, size }
}

async fn with_app(store: &dyn Store) {
    let new = NewAppGroup {
        name: APP.into(),
        app_type: "enhanced".into(),
        description: String::new(),
        extra: Map::new(),
    };
    store.create_app_group(new, T0).await.unwrap();
}

fn new_instance(name: &str) -> NewInstance {
    NewInstance {
        function: Function::Pop,
        name: name.into(),
        model_type: "pop".into(),
        function_type: "PAAS".into(),
        description: "d".into(),
        cron: String::new(),
        version_id: 201,
        create_parameters: vec![Parameter {
            name: "half_life_days".into(),
            value: "3".into(),
        }],
        usage_parameters: vec![],
        resource_refs: vec![],
        next_fire_ms: None,
    }
}

fn success(generation: i64, serve: bool) -> Completion {
    Completion::Success {
        artifact: ArtifactKey::new(0, generation),
        metrics: Map::new(),
        serve,
    }
}

/// Claims, then completes the next queued task as `completion(generation)`.
async fn run_next(store: &dyn Store, completion: impl FnOnce(i64) -> Completion) -> i64 {
    let claimed = store
        .claim_task("w1", T0, T0 + 60_000)
        .await
        .unwrap()
        .expect("a queued task");
    let generation = claimed.task.generation;
    let outcome = store
        .complete_task(claimed.task.id, "w1", completion(generation), 3, T0 + 1)
        .await
        .unwrap();
    assert!(outcome.recorded);
    generation
}

pub async fn app_groups_by_name_and_id(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let dup = NewAppGroup {
        name: APP.into(),
        app_type: "enhanced".into(),
        description: String::new(),
        extra: Map::new(),
    };
    assert!(matches!(
        store.create_app_group(dup, T0).await,
        Err(Error::AppDuplicated(_))
    ));
    let app = store.app_group(APP).await.unwrap();
    assert_eq!(
        store.app_group(&app.id.to_string()).await.unwrap().name,
        APP
    );
    assert!(matches!(
        store.app_group("nope").await,
        Err(Error::AppNotFound(_))
    ));
    let (list, total) = store
        .list_app_groups(Some("ho".into()), None, page(1, 10))
        .await
        .unwrap();
    assert_eq!((list.len(), total), (1, 1));
    let (list, total) = store
        .list_app_groups(None, Some("standard".into()), page(1, 10))
        .await
        .unwrap();
    assert_eq!((list.len(), total), (0, 0));
    store.delete_app_group(APP).await.unwrap();
    assert!(matches!(
        store.app_group(APP).await,
        Err(Error::AppNotFound(_))
    ));
}

pub async fn instances_crud_paging_and_filters(store: Arc<dyn Store>) {
    with_app(&*store).await;
    for i in 0..5 {
        store
            .create_instance(APP, new_instance(&format!("p{i}")), T0 + i)
            .await
            .unwrap();
    }
    assert!(matches!(
        store.create_instance(APP, new_instance("p0"), T0).await,
        Err(Error::InstanceDuplicated(_))
    ));
    assert!(matches!(
        store.create_instance("nope", new_instance("x"), T0).await,
        Err(Error::AppNotFound(_))
    ));

    let all = InstanceFilter {
        include_user: true,
        ..Default::default()
    };
    let (first, total) = store
        .list_instances(APP, Function::Pop, all.clone(), page(1, 2))
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        first.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["p0", "p1"]
    );
    let (last, _) = store
        .list_instances(APP, Function::Pop, all.clone(), page(3, 2))
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    let (other_fn, total) = store
        .list_instances(APP, Function::Ctr, all.clone(), page(1, 10))
        .await
        .unwrap();
    assert!(other_fn.is_empty() && total == 0);
    let by_model = InstanceFilter {
        model_type: Some("tf_checkpoint".into()),
        ..all.clone()
    };
    assert_eq!(
        store
            .list_instances(APP, Function::Pop, by_model, page(1, 10))
            .await
            .unwrap()
            .1,
        0
    );
    let builtin = InstanceFilter {
        include_user: false,
        ..Default::default()
    };
    assert_eq!(
        store
            .list_instances(APP, Function::Pop, builtin, page(1, 10))
            .await
            .unwrap()
            .1,
        0
    );

    let update = InstanceUpdate {
        description: Some("new".into()),
        create_parameters: Some(vec![]),
        ..Default::default()
    };
    let updated = store
        .update_instance(APP, Function::Pop, "p1", update, T0 + 10)
        .await
        .unwrap();
    assert_eq!(updated.description, "new");
    assert!(updated.create_parameters.is_empty());
    assert_eq!(
        updated.cron, "",
        "fields not named in the update keep their values"
    );
    assert_eq!(updated.updated_ms, T0 + 10);

    store
        .delete_instance(APP, Function::Pop, "p1")
        .await
        .unwrap();
    assert!(matches!(
        store.instance(APP, Function::Pop, "p1").await,
        Err(Error::InstanceNotExist(_))
    ));
    assert!(matches!(
        store.delete_instance(APP, Function::Pop, "p1").await,
        Err(Error::InstanceNotExist(_))
    ));
}

pub async fn default_instance_set_replace_clear_and_follow_deletion(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("a"), T0)
        .await
        .unwrap();
    store
        .create_instance(APP, new_instance("b"), T0)
        .await
        .unwrap();
    assert!(matches!(
        store.default_instance(APP, Function::Pop).await,
        Err(Error::DefaultInstanceNotExist(_))
    ));
    store
        .set_default_instance(APP, Function::Pop, Some("a".into()))
        .await
        .unwrap();
    assert_eq!(
        store.default_instance(APP, Function::Pop).await.unwrap(),
        "a"
    );
    store
        .set_default_instance(APP, Function::Pop, Some("b".into()))
        .await
        .unwrap();
    assert_eq!(
        store.default_instance(APP, Function::Pop).await.unwrap(),
        "b"
    );
    assert!(matches!(
        store
            .set_default_instance(APP, Function::Pop, Some("zzz".into()))
            .await,
        Err(Error::InstanceNotExist(_))
    ));
    assert_eq!(
        store.default_instance(APP, Function::Pop).await.unwrap(),
        "b",
        "a refused change keeps the default"
    );
    store
        .set_default_instance(APP, Function::Pop, None)
        .await
        .unwrap();
    assert!(store.default_instance(APP, Function::Pop).await.is_err());
    store
        .set_default_instance(APP, Function::Pop, Some("a".into()))
        .await
        .unwrap();
    store
        .delete_instance(APP, Function::Pop, "a")
        .await
        .unwrap();
    assert!(matches!(
        store.default_instance(APP, Function::Pop).await,
        Err(Error::DefaultInstanceNotExist(_))
    ));
}

pub async fn resources_and_references(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let raw = |name: &str| NewResource {
        name: name.into(),
        resource_type: ResourceType::RawFile,
        description: "words".into(),
        data: ResourceData {
            content: "bad\nworse\n".into(),
            generators: vec![],
        },
    };
    store
        .create_resource(APP, Function::Hot, raw("blocked"), T0)
        .await
        .unwrap();
    store
        .create_resource(APP, Function::Hot, raw("other"), T0)
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_resource(APP, Function::Hot, raw("blocked"), T0)
            .await,
        Err(Error::ResourceDuplicated(_))
    ));

    let mut hot = new_instance("hot1");
    hot.function = Function::Hot;
    hot.resource_refs = vec![("blacklist".into(), "missing".into())];
    let err = store
        .create_instance(APP, hot.clone(), T0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("blacklist"), "{err}");
    hot.resource_refs = vec![("blacklist".into(), "blocked".into())];
    store.create_instance(APP, hot, T0).await.unwrap();

    let resource = store.resource(APP, Function::Hot, "blocked").await.unwrap();
    assert_eq!(resource.referenced_instances, ["hot1"]);
    assert!(matches!(
        store.delete_resource(APP, Function::Hot, "blocked").await,
        Err(Error::ResourceInUse { .. })
    ));

    let (list, total) = store
        .list_resources(APP, Function::Hot, Some(ResourceType::RawFile), page(1, 1))
        .await
        .unwrap();
    assert_eq!((list.len(), total), (1, 2));
    assert_eq!(
        store
            .list_resources(
                APP,
                Function::Hot,
                Some(ResourceType::FeatureGenerator),
                page(1, 10)
            )
            .await
            .unwrap()
            .1,
        0
    );

    let data = ResourceData {
        content: "new\n".into(),
        generators: vec![],
    };
    store
        .update_resource(APP, Function::Hot, "blocked", None, Some(data), T0 + 5)
        .await
        .unwrap();
    let updated = store.resource(APP, Function::Hot, "blocked").await.unwrap();
    assert_eq!(
        (
            updated.data.content.as_str(),
            updated.description.as_str(),
            updated.modified_ms
        ),
        ("new\n", "words", T0 + 5)
    );

    // Dropping the reference frees the resource.
    let update = InstanceUpdate {
        resource_refs: Some(vec![]),
        ..Default::default()
    };
    store
        .update_instance(APP, Function::Hot, "hot1", update, T0)
        .await
        .unwrap();
    store
        .delete_resource(APP, Function::Hot, "blocked")
        .await
        .unwrap();
    assert!(matches!(
        store.resource(APP, Function::Hot, "blocked").await,
        Err(Error::ResourceNotExist(_))
    ));

    // Deleting the app group removes referenced resources with their instances.
    let update = InstanceUpdate {
        resource_refs: Some(vec![("blacklist".into(), "other".into())]),
        ..Default::default()
    };
    store
        .update_instance(APP, Function::Hot, "hot1", update, T0)
        .await
        .unwrap();
    store.delete_app_group(APP).await.unwrap();
}

pub async fn one_active_task_and_monotonic_generations(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    let first = store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
        .await
        .unwrap();
    assert_eq!((first.generation, first.state), (1, TaskState::Queued));
    assert_eq!(first.run_id, "trigger__2023-11-14T22:13:20");
    assert_eq!(
        store.task_counts().await.unwrap(),
        vec![crate::TaskCount {
            function: "pop".into(),
            state: "queued".into(),
            tasks: 1,
        }]
    );
    assert!(
        store.training_times().await.unwrap().is_empty(),
        "no task succeeded yet"
    );
    assert!(matches!(
        store
            .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
            .await,
        Err(Error::TaskIsRunning(_))
    ));

    assert_eq!(run_next(&*store, |g| success(g, true)).await, 1);
    let second = store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0 + 2)
        .await
        .unwrap();
    assert_eq!(second.generation, 2);
    run_next(&*store, |_| Completion::Failed {
        errors: vec!["boom".into()],
        metrics: Map::new(),
    })
    .await;

    // Deleting generation 2 does not free its number.
    store
        .delete_task(APP, Function::Pop, "p", "2")
        .await
        .unwrap();
    assert_eq!(
        store
            .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
            .await
            .unwrap()
            .generation,
        3
    );
    assert!(matches!(
        store.delete_task(APP, Function::Pop, "p", "3").await,
        Err(Error::TaskIsRunning(_))
    ));
    store
        .cancel_task(APP, Function::Pop, "p", "3", T0)
        .await
        .unwrap();

    // Neither does deleting and re-creating the instance.
    store
        .delete_instance(APP, Function::Pop, "p")
        .await
        .unwrap();
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    assert_eq!(
        store
            .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
            .await
            .unwrap()
            .generation,
        4
    );
    let (tasks, total) = store
        .list_tasks(APP, Function::Pop, "p", TaskFilter::default(), page(1, 10))
        .await
        .unwrap();
    assert_eq!(
        (tasks.len(), total),
        (1, 1),
        "the re-created instance starts without the old records"
    );
}

pub async fn concurrent_enqueues_create_exactly_one_task(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..50 {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            store
                .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
                .await
        }));
    }
    let (mut created, mut running) = (0, 0);
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => created += 1,
            Err(Error::TaskIsRunning(_)) => running += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((created, running), (1, 49));
}

pub async fn task_lookup_listing_filters_and_order(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    for i in 0..4 {
        store
            .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0 + i * 1000)
            .await
            .unwrap();
        let claimed = store
            .claim_task("w", T0 + i * 1000 + 10, T0 + 1_000_000)
            .await
            .unwrap()
            .unwrap();
        let completion = if i % 2 == 0 {
            success(i + 1, true)
        } else {
            Completion::Failed {
                errors: vec!["x".into()],
                metrics: Map::new(),
            }
        };
        store
            .complete_task(claimed.task.id, "w", completion, 10, T0 + i * 1000 + 500)
            .await
            .unwrap();
    }
    store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0 + 9000)
        .await
        .unwrap();

    let all = |filter| store.list_tasks(APP, Function::Pop, "p", filter, page(1, 100));
    let (tasks, total) = all(TaskFilter::default()).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        tasks.iter().map(|t| t.generation).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1],
        "newest first"
    );
    let status = |s| TaskFilter {
        status: Some(s),
        ..Default::default()
    };
    assert_eq!(all(status(WireStatus::Success)).await.unwrap().1, 2);
    assert_eq!(all(status(WireStatus::Failed)).await.unwrap().1, 2);
    assert_eq!(
        all(status(WireStatus::Running)).await.unwrap().1,
        1,
        "queued tasks count as running"
    );
    let since = TaskFilter {
        start_time_ms: Some(T0 + 2000),
        ..Default::default()
    };
    assert_eq!(all(since).await.unwrap().1, 3);
    let until = TaskFilter {
        end_time_ms: Some(T0 + 1500),
        ..Default::default()
    };
    assert_eq!(
        all(until).await.unwrap().1,
        2,
        "unfinished tasks never match endTime"
    );

    let (page2, total) = store
        .list_tasks(APP, Function::Pop, "p", TaskFilter::default(), page(2, 2))
        .await
        .unwrap();
    assert_eq!(
        (
            page2.iter().map(|t| t.generation).collect::<Vec<_>>(),
            total
        ),
        (vec![3, 2], 5)
    );

    let task = store.task(APP, Function::Pop, "p", "3").await.unwrap();
    assert_eq!(
        (task.state, task.progress, task.started_ms, task.ended_ms),
        (TaskState::Success, 100, Some(T0 + 2010), Some(T0 + 2500))
    );
    let app_id = store.app_group(APP).await.unwrap().id.to_string();
    assert_eq!(
        store
            .task(&app_id, Function::Pop, "p", "3")
            .await
            .unwrap()
            .generation,
        3,
        "app by id works too"
    );
    for missing in ["99", "0", "-1", "abc"] {
        assert!(
            matches!(
                store.task(APP, Function::Pop, "p", missing).await,
                Err(Error::TaskNotExist { .. })
            ),
            "{missing}"
        );
    }
    assert!(matches!(
        store.task(APP, Function::Pop, "q", "1").await,
        Err(Error::InstanceNotExist(_))
    ));
    assert!(matches!(
        store.task("zz", Function::Pop, "p", "1").await,
        Err(Error::AppNotFound(_))
    ));
}

pub async fn serving_generation_follows_gate_and_deletion(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    let serving = || async {
        store
            .instance(APP, Function::Pop, "p")
            .await
            .unwrap()
            .serving_generation
    };
    assert_eq!(serving().await, None);
    for serve in [true, true, false] {
        store
            .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
            .await
            .unwrap();
        run_next(&*store, |g| success(g, serve)).await;
    }
    assert_eq!(
        serving().await,
        Some(2),
        "generation 3 failed its gate and does not serve"
    );
    let instance = store.instance(APP, Function::Pop, "p").await.unwrap();
    assert_eq!(
        (instance.status(), instance.dag_status()),
        ("available", "success")
    );
    store
        .delete_task(APP, Function::Pop, "p", "2")
        .await
        .unwrap();
    assert_eq!(
        serving().await,
        Some(1),
        "deleting the serving generation falls back to the previous one"
    );
    store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
        .await
        .unwrap();
    run_next(&*store, |_| Completion::Failed {
        errors: vec![],
        metrics: Map::new(),
    })
    .await;
    assert_eq!(
        serving().await,
        Some(1),
        "a failed task never changes what is served"
    );
}

pub async fn pinned_generation_serves_until_unpinned(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    let instance = || async { store.instance(APP, Function::Pop, "p").await.unwrap() };
    // Generations: 1 serves, 2 below its gate, 3 failed.
    for serve in [true, false] {
        store
            .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
            .await
            .unwrap();
        run_next(&*store, |g| success(g, serve)).await;
    }
    store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
        .await
        .unwrap();
    run_next(&*store, |_| Completion::Failed {
        errors: vec![],
        metrics: Map::new(),
    })
    .await;
    for (generation, refused) in [("2", "quality gate"), ("3", "failed")] {
        match store
            .pin_generation(APP, Function::Pop, "p", Some(generation), T0)
            .await
        {
            Err(Error::TaskNotServable(message)) => assert!(message.contains(refused), "{message}"),
            other => panic!("pinning generation {generation}: {other:?}"),
        }
    }
    assert!(matches!(
        store
            .pin_generation(APP, Function::Pop, "p", Some("9"), T0)
            .await,
        Err(Error::TaskNotExist { .. })
    ));
    let pinned = store
        .pin_generation(APP, Function::Pop, "p", Some("1"), T0)
        .await
        .unwrap();
    assert_eq!(
        (pinned.pinned_generation, pinned.serving_generation),
        (Some(1), Some(1))
    );

    // A newer generation that passes its gate trains but does not serve while 1 is pinned.
    store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
        .await
        .unwrap();
    run_next(&*store, |g| success(g, true)).await;
    assert_eq!(instance().await.serving_generation, Some(1));
    assert!(matches!(
        store.delete_task(APP, Function::Pop, "p", "1").await,
        Err(Error::TaskIsPinned(_))
    ));
    // Deleting another generation keeps the pin.
    store
        .delete_task(APP, Function::Pop, "p", "2")
        .await
        .unwrap();
    assert_eq!(instance().await.serving_generation, Some(1));

    let unpinned = store
        .pin_generation(APP, Function::Pop, "p", None, T0)
        .await
        .unwrap();
    assert_eq!(
        (unpinned.pinned_generation, unpinned.serving_generation),
        (None, Some(4)),
        "unpinning serves the newest servable generation"
    );
    store
        .delete_task(APP, Function::Pop, "p", "1")
        .await
        .unwrap();
}

pub async fn retention_keeps_newest_and_serving(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    let mut pruned = Vec::new();
    for generation in 1..=5 {
        store
            .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
            .await
            .unwrap();
        let claimed = store
            .claim_task("w", T0, T0 + 60_000)
            .await
            .unwrap()
            .unwrap();
        // Only generation 1 passes the gate, so it stays serving while newer ones arrive.
        let outcome = store
            .complete_task(
                claimed.task.id,
                "w",
                success(generation, generation == 1),
                2,
                T0,
            )
            .await
            .unwrap();
        pruned.extend(outcome.pruned);
    }
    assert_eq!(pruned, vec![ArtifactKey::new(0, 2), ArtifactKey::new(0, 3)]);
    let mut kept = store.referenced_artifacts().await.unwrap();
    kept.sort();
    assert_eq!(
        kept,
        vec![
            ArtifactKey::new(0, 1),
            ArtifactKey::new(0, 4),
            ArtifactKey::new(0, 5)
        ]
    );
}

pub async fn cancel_queued_and_running_tasks(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
        .await
        .unwrap();
    let cancelled = store
        .cancel_task(APP, Function::Pop, "p", "1", T0 + 5)
        .await
        .unwrap();
    assert_eq!(
        (cancelled.state, cancelled.ended_ms),
        (TaskState::Failed, Some(T0 + 5))
    );
    assert!(cancelled.extend_info.contains("cancelled"));
    assert!(matches!(
        store.cancel_task(APP, Function::Pop, "p", "1", T0).await,
        Err(Error::TaskFinished { .. })
    ));

    store
        .enqueue_task(APP, Function::Pop, "p", Trigger::Manual, T0)
        .await
        .unwrap();
    let claimed = store
        .claim_task("w", T0, T0 + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .heartbeat(claimed.task.id, "w", 40, "training", T0 + 60_000)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .task(APP, Function::Pop, "p", "2")
            .await
            .unwrap()
            .progress,
        40
    );
    store
        .cancel_task(APP, Function::Pop, "p", "2", T0)
        .await
        .unwrap();
    assert!(
        !store
            .heartbeat(claimed.task.id, "w", 50, "training", T0 + 60_000)
            .await
            .unwrap()
    );
    let outcome = store
        .complete_task(claimed.task.id, "w", success(2, true), 3, T0)
        .await
        .unwrap();
    assert!(
        !outcome.recorded,
        "a cancelled task's late result is discarded"
    );
    let task = store.task(APP, Function::Pop, "p", "2").await.unwrap();
    assert_eq!((task.state, task.progress), (TaskState::Failed, 40));
    assert_eq!(
        store
            .instance(APP, Function::Pop, "p")
            .await
            .unwrap()
            .serving_generation,
        None
    );
}

pub async fn expired_leases_and_start_up_reconciliation(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("a"), T0)
        .await
        .unwrap();
    store
        .create_instance(APP, new_instance("b"), T0)
        .await
        .unwrap();
    store
        .enqueue_task(APP, Function::Pop, "a", Trigger::Manual, T0)
        .await
        .unwrap();
    store
        .enqueue_task(APP, Function::Pop, "b", Trigger::Manual, T0)
        .await
        .unwrap();
    let a = store.claim_task("w", T0, T0 + 1000).await.unwrap().unwrap();
    let b = store.claim_task("w", T0, T0 + 5000).await.unwrap().unwrap();
    assert_eq!(
        store
            .fail_expired_tasks(T0 + 2000, "lease expired")
            .await
            .unwrap(),
        vec![a.task.id]
    );
    let failed = store.task(APP, Function::Pop, "a", "1").await.unwrap();
    assert_eq!(failed.state, TaskState::Failed);
    assert!(failed.extend_info.contains("lease expired"));
    assert!(
        !store
            .heartbeat(a.task.id, "w", 10, "x", T0 + 9000)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .fail_all_running_tasks(T0 + 3000, "restarted")
            .await
            .unwrap(),
        vec![b.task.id]
    );
    assert_eq!(
        store
            .claim_task("w", T0, T0)
            .await
            .unwrap()
            .map(|c| c.task.id),
        None
    );
}

pub async fn schedule_firing_is_idempotent(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let mut scheduled = new_instance("p");
    scheduled.cron = "* * * * *".into();
    scheduled.next_fire_ms = Some(T0 + 60_000);
    store.create_instance(APP, scheduled, T0).await.unwrap();
    assert!(store.due_schedules(T0, 10).await.unwrap().is_empty());
    let due = store.due_schedules(T0 + 60_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let FireOutcome::Queued(task) = store
        .fire_schedule(&due[0], Some(T0 + 120_000))
        .await
        .unwrap()
    else {
        panic!("expected a queued task")
    };
    assert_eq!(task.run_id, "scheduled__2023-11-14T22:14:20");
    assert!(matches!(
        store
            .fire_schedule(&due[0], Some(T0 + 120_000))
            .await
            .unwrap(),
        FireOutcome::AlreadyHandled
    ));
    let due = store.due_schedules(T0 + 120_000, 10).await.unwrap();
    assert!(matches!(
        store
            .fire_schedule(&due[0], Some(T0 + 180_000))
            .await
            .unwrap(),
        FireOutcome::SkippedActive
    ));
    // Clearing the cron stops firing.
    let update = InstanceUpdate {
        cron: Some(String::new()),
        next_fire_ms: Some(None),
        ..Default::default()
    };
    store
        .update_instance(APP, Function::Pop, "p", update, T0)
        .await
        .unwrap();
    assert!(store.due_schedules(i64::MAX, 10).await.unwrap().is_empty());
}

fn event(user: &str, item: &str, bhv_type: &str, at_ms: i64) -> BehaviourEvent {
    BehaviourEvent {
        user_id: user.into(),
        imei: String::new(),
        biz_id: "default".into(),
        trace_id: "Alibaba".into(),
        rn: format!("rn-{user}"),
        // A search names no item; `item` is then the query.
        item_id: if bhv_type == "search" {
            String::new()
        } else {
            item.into()
        },
        item_type: "item".into(),
        bhv_type: bhv_type.into(),
        bhv_time_ms: at_ms,
        reach_time_ms: at_ms,
        raw_query: if bhv_type == "search" {
            format!("Query {item}")
        } else {
            String::new()
        },
        hits: None,
        position: Some(1),
        context: vec![],
        extra: vec![],
    }
}

fn collect(data: &dyn TrainingData, from: i64, to: i64) -> Vec<BehaviourEvent> {
    let mut seen = Vec::new();
    data.for_each_event(from, to, &mut |e| {
        seen.push(e.clone());
        Ok(())
    })
    .unwrap();
    seen
}

pub async fn events_are_stored_once_and_read_back_by_window(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let day = 86_400_000;
    let batch: Vec<_> = (0..100)
        .map(|i| {
            event(
                &format!("u{}", i % 7),
                &format!("i{i}"),
                "click",
                T0 + i * 1000,
            )
        })
        .collect();
    let mut with_dup = batch[..10].to_vec();
    with_dup.push(batch[0].clone());
    let first = store.append_events(APP, with_dup).await.unwrap();
    assert_eq!(
        first,
        AppendOutcome {
            stored: 10,
            duplicates: 1
        },
        "a duplicate inside one request is stored once"
    );
    let second = store.append_events(APP, batch.clone()).await.unwrap();
    assert_eq!(
        second,
        AppendOutcome {
            stored: 90,
            duplicates: 10
        }
    );
    let next_day: Vec<_> = (0..5)
        .map(|i| event("u1", &format!("j{i}"), "search", T0 + day + i))
        .collect();
    store.append_events(APP, next_day).await.unwrap();
    assert!(matches!(
        store.append_events("ghost", batch.clone()).await,
        Err(Error::AppNotFound(_))
    ));

    let app = APP.to_string();
    let window = tokio::task::spawn_blocking({
        let store = Arc::clone(&store);
        move || {
            let data = store.training_data(&app).unwrap();
            let all = collect(&*data, 0, i64::MAX);
            let first_day = collect(&*data, T0, T0 + day);
            let slice = collect(&*data, T0 + 5_000, T0 + 15_000);
            (
                all,
                first_day,
                slice,
                data.estimate_events(T0 + day, i64::MAX).unwrap(),
            )
        }
    })
    .await
    .unwrap();
    let (all, first_day, slice, estimate) = window;
    assert_eq!(all.len(), 105);
    assert_eq!(first_day.len(), 100);
    assert_eq!(
        slice.iter().map(|e| e.bhv_time_ms).collect::<Vec<_>>(),
        (5..15).map(|i| T0 + i * 1000).collect::<Vec<_>>()
    );
    assert_eq!(
        all.iter().find(|e| e.item_id == "i42").unwrap(),
        &batch[42],
        "events come back as they went in"
    );
    assert_eq!(estimate, 5);
}

pub async fn documents_add_merge_delete(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let doc = |id: &str, attrs: serde_json::Value| Document {
        id: id.into(),
        attributes: attrs.as_object().unwrap().clone(),
    };
    let ops = vec![
        DocumentOp::Add(doc(
            "1",
            serde_json::json!({"title": "red dress", "price": 10}),
        )),
        DocumentOp::Add(doc("2", serde_json::json!({"title": "shoe"}))),
        DocumentOp::Update(doc("1", serde_json::json!({"price": 12, "brand": "acme"}))),
        DocumentOp::Update(doc("3", serde_json::json!({"title": "new via update"}))),
        DocumentOp::Delete("2".into()),
        DocumentOp::Delete("404".into()),
    ];
    assert_eq!(
        store
            .apply_documents(APP, DocumentKind::Item, ops, T0)
            .await
            .unwrap(),
        6
    );
    let users = vec![DocumentOp::Add(doc("u1", serde_json::json!({"age": 30})))];
    store
        .apply_documents(APP, DocumentKind::User, users, T0)
        .await
        .unwrap();
    let items = tokio::task::spawn_blocking({
        let store = Arc::clone(&store);
        move || {
            let data = store.training_data(APP).unwrap();
            let mut items = Vec::new();
            data.for_each_document(DocumentKind::Item, &mut |d| {
                items.push(d.clone());
                Ok(())
            })
            .unwrap();
            items
        }
    })
    .await
    .unwrap();
    assert_eq!(items.len(), 2);
    let one = items.iter().find(|d| d.id == "1").unwrap();
    assert_eq!(
        serde_json::Value::Object(one.attributes.clone()),
        serde_json::json!({"title": "red dress", "price": 12, "brand": "acme"})
    );
    let status = store.data_status(APP, 0, i64::MAX).await.unwrap();
    assert_eq!((status.items, status.users), (2, 1));
    // Lookup by id: in the order asked, deleted and unknown ids left out, kinds kept apart.
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let found = store
        .documents(APP, DocumentKind::Item, ids(&["3", "2", "1", "u1", "404"]))
        .await
        .unwrap();
    let found_ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(found_ids, ["3", "1"]);
    assert_eq!(found[1].attributes["brand"], "acme");
    assert_eq!(
        store
            .documents(APP, DocumentKind::User, ids(&["u1"]))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn data_status_counts_by_day_and_type(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let day = 86_400_000;
    let mut events = Vec::new();
    for i in 0..300 {
        events.push(event(
            &format!("u{}", i % 50),
            &format!("i{}", i % 40),
            "expose",
            T0 + i,
        ));
    }
    for i in 0..30 {
        events.push(event(
            &format!("u{i}"),
            &format!("i{i}"),
            "click",
            T0 + day + i,
        ));
        events.push(event(
            &format!("u{i}"),
            &format!("q{}", i % 3),
            "search",
            T0 + day + i,
        ));
    }
    store.append_events(APP, events).await.unwrap();
    let status = store.data_status(APP, T0, T0 + 2 * day).await.unwrap();
    assert_eq!(status.days.len(), 2);
    assert_eq!(status.days[0].events.get("expose"), Some(&300));
    assert_eq!(status.days[1].events.get("click"), Some(&30));
    assert_eq!(
        (
            status.totals.exposures,
            status.totals.clicks,
            status.totals.searches
        ),
        (300, 30, 30)
    );
    assert_eq!(status.totals.engagements, 30);
    assert_eq!(
        status.totals.distinct_items, 40,
        "small sets are counted exactly by the sketch"
    );
    assert_eq!((status.distinct_users, status.distinct_queries), (50, 3));
    let all = status.totals.exposures + status.totals.engagements + status.totals.searches;
    assert_eq!(store.events_stored().await.unwrap(), all);
    let later = store
        .data_status(APP, T0 + day, T0 + 2 * day)
        .await
        .unwrap();
    assert_eq!((later.days.len(), later.totals.exposures), (1, 0));
}

pub async fn retention_and_app_deletion_remove_events(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let day = 86_400_000;
    let old = vec![
        event("u", "old", "click", T0),
        event("u", "old2", "click", T0 + 10),
    ];
    let new = vec![event("u", "new", "click", T0 + 3 * day)];
    store.append_events(APP, old.clone()).await.unwrap();
    store.append_events(APP, new.clone()).await.unwrap();
    assert_eq!(store.delete_events_before(T0 + 2 * day).await.unwrap(), 2);
    assert_eq!(
        store
            .data_status(APP, 0, i64::MAX)
            .await
            .unwrap()
            .totals
            .clicks,
        1
    );
    assert_eq!(
        store.append_events(APP, old).await.unwrap().stored,
        2,
        "expired days no longer block re-pushes"
    );
    store.delete_app_group(APP).await.unwrap();
    with_app(&*store).await;
    assert_eq!(
        store.append_events(APP, new).await.unwrap().stored,
        1,
        "a deleted app group takes its keys along"
    );
}

pub async fn access_keys_create_list_revoke(store: Arc<dyn Store>) {
    use algocenter_domain::access_key::{AccessKey, Scope};
    assert!(!store.has_keys().await.unwrap());
    let key = |id: &str, scope: Scope, apps: &[&str]| AccessKey {
        id: id.into(),
        scope,
        apps: apps.iter().map(|a| a.to_string()).collect(),
        description: format!("{id} key"),
        created_ms: T0,
        revoked_ms: None,
    };
    store
        .create_key(key("admin1", Scope::Admin, &[]), b"sealed-1".to_vec())
        .await
        .unwrap();
    store
        .create_key(
            key("reader", Scope::Read, &["shop", "blog"]),
            b"sealed-2".to_vec(),
        )
        .await
        .unwrap();
    assert!(store.has_keys().await.unwrap());
    assert!(matches!(
        store
            .create_key(key("reader", Scope::Write, &[]), vec![])
            .await,
        Err(Error::AccessKeyDuplicated(_))
    ));
    let (found, sealed) = store.key("reader").await.unwrap().unwrap();
    assert_eq!(
        (found.scope, found.apps.clone(), sealed),
        (
            Scope::Read,
            vec!["shop".to_string(), "blog".into()],
            b"sealed-2".to_vec()
        )
    );
    assert!(store.key("nobody").await.unwrap().is_none());
    assert_eq!(
        store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>(),
        ["admin1", "reader"]
    );

    assert!(
        matches!(
            store.revoke_key("admin1", T0).await,
            Err(Error::LastAdminKey(_))
        ),
        "the last admin key stays"
    );
    store
        .create_key(key("admin2", Scope::Admin, &[]), vec![1])
        .await
        .unwrap();
    assert_eq!(
        store.revoke_key("admin1", T0 + 5).await.unwrap().revoked_ms,
        Some(T0 + 5)
    );
    assert_eq!(
        store.key("admin1").await.unwrap().unwrap().0.revoked_ms,
        Some(T0 + 5)
    );
    assert!(matches!(
        store.revoke_key("admin2", T0).await,
        Err(Error::LastAdminKey(_))
    ));
    assert!(matches!(
        store.revoke_key("nobody", T0).await,
        Err(Error::AccessKeyNotExist(_))
    ));
}

/// Instantiates the suite for one backend: `$make` is an async expression giving `(Arc<dyn Store>, guard)`;
/// the guard (e.g. a temp dir) lives until the test ends.
macro_rules! conformance_suite {
    ($make:expr) => {
        conformance_suite!(@tests $make;
            app_groups_by_name_and_id,
            instances_crud_paging_and_filters,
            default_instance_set_replace_clear_and_follow_deletion,
            resources_and_references,
            one_active_task_and_monotonic_generations,
            concurrent_enqueues_create_exactly_one_task,
            task_lookup_listing_filters_and_order,
            serving_generation_follows_gate_and_deletion,
            pinned_generation_serves_until_unpinned,
            retention_keeps_newest_and_serving,
            cancel_queued_and_running_tasks,
            expired_leases_and_start_up_reconciliation,
            schedule_firing_is_idempotent,
            events_are_stored_once_and_read_back_by_window,
            documents_add_merge_delete,
            data_status_counts_by_day_and_type,
            retention_and_app_deletion_remove_events,
            access_keys_create_list_revoke
        );
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make.await;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

mod sqlite {
    use std::sync::Arc;

    use crate::Store;
    use crate::sqlite::{SqliteStore, Synchronous};

    async fn make() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), 4, Synchronous::Normal).unwrap();
        (Arc::new(store), dir)
    }

    conformance_suite!(make());
}

/// The same suite on PostgreSQL: each test gets a new database on the test cluster (see `postgres::testing`).
mod postgres {
    use std::sync::Arc;

    use crate::Store;
    use crate::postgres::PostgresStore;
    use crate::postgres::testing::fresh_database;

    async fn make() -> (Arc<dyn Store>, ()) {
        let url = fresh_database().await;
        let store = PostgresStore::connect(&url, 8).await.unwrap();
        (Arc::new(store), ())
    }

    conformance_suite!(make());
}
