//! Tasks, API side: one active task per instance, monotonic generations, lookup and listing, the serving
//! generation, pinning, cancellation.

use std::sync::Arc;

use algocenter_domain::task::{TaskFilter, TaskState, Trigger, WireStatus};
use algocenter_domain::{Error, Function};
use serde_json::Map;

use super::{APP, T0, new_instance, page, run_next, success, with_app};
use crate::{Completion, Store};

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
