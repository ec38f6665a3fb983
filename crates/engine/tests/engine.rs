//! The engine against a real SQLite store in a temp directory, with trainers that live only in this test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::instance::NewInstance;
use algocenter_domain::task::{Task, TaskState};
use algocenter_domain::{Function, now_ms};
use algocenter_engine::{Engine, EngineConfig, EngineHandle};
use algocenter_functions::{Progress, TrainError, TrainedModel, Trainer, Trainers, TrainingJob};
use algocenter_store::{ArtifactKey, ArtifactStore, Store};
use algocenter_testkit::{Deadline, TempStore, wait_until};
use serde_json::{Map, Value};

const APP: &str = "shop";

/// Reports progress in `steps` steps, `pause` apart (the time a run takes is what some tests need), then returns
/// `bytes`; behaviour chosen by the instance name.
struct ScriptedTrainer {
    steps: u8,
    pause: Duration,
    runs: AtomicUsize,
    /// Runs that returned, whatever the outcome.
    ended: AtomicUsize,
}

/// Counts a run as ended when the trainer returns (or panics).
struct Ending<'a>(&'a AtomicUsize);

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Trainer for ScriptedTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let _ending = Ending(&self.ended);
        match job.instance {
            "panics" => panic!("deliberate test panic"),
            "fails" => {
                return Err(TrainError::InsufficientData(
                    "no clicks in the window".into(),
                ));
            }
            _ => {}
        }
        for i in 1..=self.steps {
            std::thread::sleep(self.pause);
            progress.report(
                "fitting",
                (u32::from(i) * 100 / u32::from(self.steps)) as u8,
            )?;
        }
        let mut metrics = Map::new();
        metrics.insert("auc".into(), Value::from(0.75));
        metrics.insert(
            "half_life_days".into(),
            Value::from(job.parameters.float("half_life_days").unwrap_or(-1.0)),
        );
        Ok(TrainedModel {
            artifact: format!("model of {} gen {}", job.instance, job.generation).into_bytes(),
            metrics,
            passed_quality_gate: job.instance != "gated",
        })
    }
}

/// Ignores cancellation entirely: keeps "training" until told by the test.
struct StubbornTrainer;

impl Trainer for StubbornTrainer {
    fn train(&self, _: &TrainingJob<'_>, _: &mut dyn Progress) -> Result<TrainedModel, TrainError> {
        // The behaviour under test: longer than grace + give-up (2.3 s), short enough not to hold the test
        // runtime's shutdown for long.
        std::thread::sleep(Duration::from_secs(4));
        Err(TrainError::Failed("unreachable in tests".into()))
    }
}

/// An engine started on a store of its own, with the app group [`APP`].
struct Fixture {
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactStore>,
    handle: Option<EngineHandle>,
    _temp: TempStore,
}

impl Fixture {
    fn engine(&self) -> &Arc<Engine> {
        self.handle.as_ref().unwrap().engine()
    }
}

fn fast_config() -> EngineConfig {
    EngineConfig {
        workers: 2,
        lease: Duration::from_secs(3),
        heartbeat: Duration::from_millis(20),
        poll: Duration::from_millis(50),
        reconcile_every: Duration::from_millis(100),
        schedule_every: Duration::from_millis(50),
        keep_generations: 2,
        shutdown_grace: Duration::from_millis(300),
        ..EngineConfig::default()
    }
}

async fn start(trainers: Trainers, config: EngineConfig) -> Fixture {
    let temp = TempStore::open();
    let (store, artifacts) = (Arc::clone(&temp.store), Arc::clone(&temp.artifacts));
    let new = NewAppGroup {
        name: APP.into(),
        app_type: "enhanced".into(),
        description: String::new(),
        extra: Map::new(),
    };
    store.create_app_group(new, now_ms()).await.unwrap();
    let engine = Engine::new(Arc::clone(&store), Arc::clone(&artifacts), trainers, config);
    let handle = engine.start().await.unwrap();
    Fixture {
        store,
        artifacts,
        handle: Some(handle),
        _temp: temp,
    }
}

fn scripted(steps: u8, pause_ms: u64) -> Arc<ScriptedTrainer> {
    Arc::new(ScriptedTrainer {
        steps,
        pause: Duration::from_millis(pause_ms),
        runs: AtomicUsize::new(0),
        ended: AtomicUsize::new(0),
    })
}

async fn create(
    store: &Arc<dyn Store>,
    function: Function,
    name: &str,
    cron: &str,
    next_fire_ms: Option<i64>,
) {
    let (model_type, version_id) = match function {
        Function::Pop => ("pop", 201),
        _ => ("tf_checkpoint", 101),
    };
    let new = NewInstance {
        function,
        name: name.into(),
        model_type: model_type.into(),
        function_type: "PAAS".into(),
        description: String::new(),
        cron: cron.into(),
        version_id,
        create_parameters: vec![algocenter_domain::catalogue::Parameter {
            name: "half_life_days".into(),
            value: "2.5".into(),
        }],
        usage_parameters: vec![],
        resource_refs: vec![],
        next_fire_ms,
    };
    store.create_instance(APP, new, now_ms()).await.unwrap();
}

/// Waits until the task of `generation` is finished (at most 20 s), recording every progress value seen.
async fn wait_finished(
    store: &Arc<dyn Store>,
    instance: &str,
    generation: i64,
) -> (Task, Vec<i64>) {
    let deadline = Deadline::after(Duration::from_secs(20));
    let mut seen = Vec::new();
    loop {
        match store
            .task(APP, Function::Pop, instance, &generation.to_string())
            .await
        {
            Ok(task) => {
                if seen.last() != Some(&task.progress) {
                    seen.push(task.progress);
                }
                if !task.state.is_active() {
                    return (task, seen);
                }
                deadline
                    .again(format_args!(
                        "task {instance}/{generation} still {:?}",
                        task.state
                    ))
                    .await;
            }
            // Not queued yet (a cron firing is on its way).
            Err(algocenter_domain::Error::TaskNotExist { .. }) => {
                deadline
                    .again(format_args!("task {instance}/{generation} never queued"))
                    .await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// The task of `generation` of instance `p` once `done` holds for it (at most 10 s).
async fn wait_task(f: &Fixture, what: &str, done: impl Fn(&Task) -> bool) -> Task {
    wait_until(what, Duration::from_secs(10), || async {
        let task = f.store.task(APP, Function::Pop, "p", "1").await.unwrap();
        done(&task).then_some(task)
    })
    .await
}

fn errors(task: &Task) -> Vec<String> {
    let v: Value = serde_json::from_str(&task.extend_info).unwrap();
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_without_trainer_fails_honestly() {
    let f = start(Trainers::default(), fast_config()).await;
    create(&f.store, Function::Pop, "p", "", None).await;
    f.engine()
        .create_task(APP, Function::Pop, "p")
        .await
        .unwrap();
    let (task, _) = wait_finished(&f.store, "p", 1).await;
    assert_eq!(task.state, TaskState::Failed);
    assert!(
        errors(&task)[0].contains("no trainer"),
        "{:?}",
        errors(&task)
    );
    assert_eq!(
        f.store
            .instance(APP, Function::Pop, "p")
            .await
            .unwrap()
            .status(),
        "unavailable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_run_persists_progress_artifact_metrics_and_serving_generation() {
    let f = start(
        Trainers::default().with(Function::Pop, scripted(10, 40)),
        fast_config(),
    )
    .await;
    create(&f.store, Function::Pop, "p", "", None).await;
    let queued = f
        .engine()
        .create_task(APP, Function::Pop, "p")
        .await
        .unwrap();
    assert_eq!((queued.generation, queued.progress), (1, 0));
    let (task, seen) = wait_finished(&f.store, "p", 1).await;
    assert_eq!(task.state, TaskState::Success);
    assert_eq!(task.progress, 100);
    assert!(
        seen.iter().any(|p| *p > 0 && *p < 100),
        "progress was persisted while training: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress never goes back: {seen:?}"
    );
    let info: Value = serde_json::from_str(&task.extend_info).unwrap();
    assert_eq!(info["auc"], 0.75);
    assert_eq!(
        info["half_life_days"], 2.5,
        "the trainer saw the instance's parameter"
    );
    assert_eq!(info["quality_gate_passed"], true);
    assert!(info["errors"].as_array().unwrap().is_empty());
    assert!(task.ended_ms.unwrap() >= task.started_ms.unwrap());
    let instance = f.store.instance(APP, Function::Pop, "p").await.unwrap();
    assert_eq!(
        (instance.status(), instance.serving_generation),
        ("available", Some(1))
    );
    let bytes = f
        .artifacts
        .get(&ArtifactKey::new(instance.id, 1))
        .await
        .unwrap();
    assert_eq!(bytes, b"model of p gen 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_panics_end_failed_and_the_engine_keeps_working() {
    let trainer = scripted(1, 1);
    let f = start(
        Trainers::default().with(Function::Pop, trainer.clone()),
        fast_config(),
    )
    .await;
    for name in ["fails", "panics", "fine"] {
        create(&f.store, Function::Pop, name, "", None).await;
    }
    f.engine()
        .create_task(APP, Function::Pop, "fails")
        .await
        .unwrap();
    f.engine()
        .create_task(APP, Function::Pop, "panics")
        .await
        .unwrap();
    let (failed, _) = wait_finished(&f.store, "fails", 1).await;
    assert_eq!(
        errors(&failed),
        ["insufficient data: no clicks in the window"]
    );
    let (panicked, _) = wait_finished(&f.store, "panics", 1).await;
    assert_eq!(panicked.state, TaskState::Failed);
    assert_eq!(
        errors(&panicked),
        ["trainer panicked: deliberate test panic"]
    );
    f.engine()
        .create_task(APP, Function::Pop, "fine")
        .await
        .unwrap();
    assert_eq!(
        wait_finished(&f.store, "fine", 1).await.0.state,
        TaskState::Success
    );
    assert_eq!(trainer.runs.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_below_its_gate_succeeds_but_does_not_serve() {
    let f = start(
        Trainers::default().with(Function::Pop, scripted(1, 1)),
        fast_config(),
    )
    .await;
    create(&f.store, Function::Pop, "gated", "", None).await;
    f.engine()
        .create_task(APP, Function::Pop, "gated")
        .await
        .unwrap();
    let (task, _) = wait_finished(&f.store, "gated", 1).await;
    assert_eq!(task.state, TaskState::Success);
    assert!(task.extend_info.contains("\"quality_gate_passed\":false"));
    assert_eq!(
        f.store
            .instance(APP, Function::Pop, "gated")
            .await
            .unwrap()
            .serving_generation,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_task_stops_the_trainer_and_discards_its_result() {
    let trainer = scripted(100, 20);
    let f = start(
        Trainers::default().with(Function::Pop, trainer.clone()),
        fast_config(),
    )
    .await;
    create(&f.store, Function::Pop, "p", "", None).await;
    f.engine()
        .create_task(APP, Function::Pop, "p")
        .await
        .unwrap();
    wait_task(&f, "the run to make some progress", |t| t.progress >= 5).await;
    let cancelled = f
        .engine()
        .cancel_task(APP, Function::Pop, "p", "1")
        .await
        .unwrap();
    assert_eq!(cancelled.state, TaskState::Failed);
    assert_eq!(errors(&cancelled), ["cancelled"]);
    // The worker tells the trainer at its next progress report; its result, had it any, would be discarded.
    wait_until(
        "the cancelled trainer to stop",
        Duration::from_secs(10),
        || async { (trainer.ended.load(Ordering::SeqCst) == 1).then_some(()) },
    )
    .await;
    let task = f.store.task(APP, Function::Pop, "p", "1").await.unwrap();
    assert_eq!(
        (task.state, errors(&task)),
        (TaskState::Failed, vec!["cancelled".to_string()])
    );
    let instance = f.store.instance(APP, Function::Pop, "p").await.unwrap();
    assert_eq!(instance.serving_generation, None);
    assert!(
        f.artifacts.list().await.unwrap().is_empty(),
        "no artifact of the cancelled run"
    );
    // The instance takes a new run at once.
    let next = f
        .engine()
        .create_task(APP, Function::Pop, "p")
        .await
        .unwrap();
    assert_eq!(next.generation, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_cron_fires_one_scheduled_run() {
    let f = start(
        Trainers::default().with(Function::Pop, scripted(1, 1)),
        fast_config(),
    )
    .await;
    let due = now_ms() - 1000;
    create(&f.store, Function::Pop, "p", "0 3 * * *", Some(due)).await;
    let (task, _) = wait_finished(&f.store, "p", 1).await;
    assert!(task.run_id.starts_with("scheduled__"), "{}", task.run_id);
    assert_eq!(task.state, TaskState::Success);
    // Another look at the due schedules (as the scheduler's next pass, or another node's) fires nothing.
    algocenter_engine::scheduler::fire_due(f.engine()).await;
    let (_, total) = f
        .store
        .list_tasks(
            APP,
            Function::Pop,
            "p",
            Default::default(),
            algocenter_domain::paging::Page {
                number: 1,
                size: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        total, 1,
        "one firing, one run; the next is tomorrow at 03:00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_old_artifact_files() {
    let f = start(
        Trainers::default().with(Function::Pop, scripted(1, 1)),
        fast_config(),
    )
    .await;
    create(&f.store, Function::Pop, "p", "", None).await;
    for generation in 1..=4 {
        f.engine()
            .create_task(APP, Function::Pop, "p")
            .await
            .unwrap();
        wait_finished(&f.store, "p", generation).await;
    }
    let id = f.store.instance(APP, Function::Pop, "p").await.unwrap().id;
    let kept = vec![ArtifactKey::new(id, 3), ArtifactKey::new(id, 4)];
    wait_until(
        "only the artifacts of generations 3 and 4 to be left",
        Duration::from_secs(5),
        || async {
            let mut files = f.artifacts.list().await.unwrap();
            files.sort();
            (files == kept).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_fails_a_task_that_outlives_the_grace_period() {
    let mut f = start(
        Trainers::default().with(Function::Pop, Arc::new(StubbornTrainer)),
        fast_config(),
    )
    .await;
    create(&f.store, Function::Pop, "p", "", None).await;
    f.engine()
        .create_task(APP, Function::Pop, "p")
        .await
        .unwrap();
    wait_task(&f, "the run to start", |t| t.state == TaskState::Running).await;
    let started = Instant::now();
    f.handle.take().unwrap().shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown is bounded even when the trainer ignores it"
    );
    let task = f.store.task(APP, Function::Pop, "p", "1").await.unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert!(
        errors(&task)[0].starts_with("interrupted"),
        "{:?}",
        errors(&task)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_reconciled_to_failed() {
    // No workers in this engine: a task claimed by a "dead" worker elsewhere must still end.
    let config = EngineConfig {
        workers: 0,
        ..fast_config()
    };
    let f = start(Trainers::default(), config).await;
    create(&f.store, Function::Pop, "p", "", None).await;
    f.store
        .enqueue_task(
            APP,
            Function::Pop,
            "p",
            algocenter_domain::task::Trigger::Manual,
            now_ms(),
        )
        .await
        .unwrap();
    let claimed = f
        .store
        .claim_task("dead-worker", now_ms(), now_ms() + 50)
        .await
        .unwrap()
        .unwrap();
    let (task, _) = wait_finished(&f.store, "p", claimed.task.generation).await;
    assert_eq!(task.state, TaskState::Failed);
    assert!(errors(&task)[0].contains("lease expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_past_their_retention_are_deleted() {
    let config = EngineConfig {
        event_retention_days: 2,
        retention_every: Duration::from_millis(50),
        ..fast_config()
    };
    let f = start(Trainers::default(), config).await;
    let day = 86_400_000;
    let click = |item: &str, at_ms: i64| algocenter_domain::behaviour::BehaviourEvent {
        user_id: "u".into(),
        imei: String::new(),
        biz_id: "1".into(),
        trace_id: "t".into(),
        rn: "r".into(),
        item_id: item.into(),
        item_type: "item".into(),
        bhv_type: "click".into(),
        bhv_time_ms: at_ms,
        reach_time_ms: at_ms,
        raw_query: String::new(),
        hits: None,
        position: None,
        context: vec![],
        extra: vec![],
    };
    let now = now_ms();
    f.store
        .append_events(APP, vec![click("old", now - 5 * day)])
        .await
        .unwrap();
    f.store
        .append_events(APP, vec![click("new", now - day / 2)])
        .await
        .unwrap();
    wait_until(
        "the old click to be deleted",
        Duration::from_secs(5),
        || async {
            let status = f.store.data_status(APP, 0, i64::MAX).await.unwrap();
            (status.totals.clicks == 1).then_some(())
        },
    )
    .await;
}
