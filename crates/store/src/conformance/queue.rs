//! Tasks, worker and scheduler side: claims, leases, retention of artifacts, cron firing, and claims of tasks whose
//! instance is unreadable.

use std::collections::HashSet;
use std::sync::Arc;

use algocenter_domain::Function;
use algocenter_domain::instance::InstanceUpdate;
use algocenter_domain::task::{TaskState, Trigger};

use super::{APP, Backend, T0, new_instance, success, with_app};
use crate::{ArtifactKey, FireOutcome, Store};

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

pub async fn workers_of_several_processes_claim_each_task_once(backend: &Backend) {
    let stores = backend.processes(3).await;
    with_app(&*stores[0]).await;
    for i in 0..30 {
        let name = format!("p{i}");
        stores[0]
            .create_instance(APP, new_instance(&name), T0)
            .await
            .unwrap();
        stores[0]
            .enqueue_task(APP, Function::Pop, &name, Trigger::Manual, T0 + i)
            .await
            .unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..12 {
        let store = Arc::clone(&stores[w % stores.len()]);
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(task) = store
                .claim_task(&format!("w{w}"), T0, T0 + 60_000)
                .await
                .unwrap()
            {
                claimed.push(task.task.id);
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        (all.len(), distinct.len()),
        (30, 30),
        "every task claimed exactly once"
    );
}

pub async fn one_of_several_schedulers_fires_a_due_schedule(backend: &Backend) {
    let stores = backend.processes(3).await;
    with_app(&*stores[0]).await;
    let mut scheduled = new_instance("p");
    scheduled.cron = "* * * * *".into();
    scheduled.next_fire_ms = Some(T0);
    stores[0].create_instance(APP, scheduled, T0).await.unwrap();
    let due = stores[1].due_schedules(T0, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let mut firings = Vec::new();
    for i in 0..12 {
        let (store, due) = (Arc::clone(&stores[i % stores.len()]), due[0].clone());
        firings.push(tokio::spawn(async move {
            store.fire_schedule(&due, Some(T0 + 60_000)).await.unwrap()
        }));
    }
    let mut queued = 0;
    for firing in firings {
        match firing.await.unwrap() {
            FireOutcome::Queued(_) => queued += 1,
            FireOutcome::AlreadyHandled => {}
            FireOutcome::SkippedActive => panic!("the firing was taken twice"),
        }
    }
    assert_eq!(queued, 1);
}

pub async fn a_task_whose_instance_is_unreadable_fails_instead_of_training_on_defaults(
    backend: &Backend,
) {
    let store = &backend.store;
    with_app(&**store).await;
    for (name, at) in [("a", T0), ("b", T0 + 1), ("c", T0 + 2)] {
        store
            .create_instance(APP, new_instance(name), T0)
            .await
            .unwrap();
        store
            .enqueue_task(APP, Function::Pop, name, Trigger::Manual, at)
            .await
            .unwrap();
    }
    backend
        .tamper("UPDATE instance SET create_parameters = '[{\"name\": 3}]' WHERE name = 'a'")
        .await;
    backend
        .tamper("UPDATE instance SET usage_parameters = '' WHERE name = 'b'")
        .await;
    // The two oldest tasks cannot train: the claim fails them and hands out the next one.
    let claimed = store
        .claim_task("w", T0 + 10, T0 + 60_000)
        .await
        .unwrap()
        .expect("task of c");
    assert_eq!(claimed.instance_name, "c");
    assert_eq!(
        claimed.create_parameters.len(),
        1,
        "a readable instance trains on its own parameters"
    );
    for (name, column) in [("a", "create_parameters"), ("b", "usage_parameters")] {
        let task = store.task(APP, Function::Pop, name, "1").await.unwrap();
        assert_eq!(task.state, TaskState::Failed, "{name}");
        let info: serde_json::Value = serde_json::from_str(&task.extend_info).unwrap();
        let reason = info["errors"][0].as_str().unwrap();
        assert!(
            reason.contains("stored state is unreadable") && reason.contains(column),
            "{reason}"
        );
    }
    assert!(
        store
            .claim_task("w", T0 + 10, T0 + 60_000)
            .await
            .unwrap()
            .is_none()
    );
}
