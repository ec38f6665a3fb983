//! The conformance suite every store implementation must pass (Quickwit-style: one suite, instantiated per
//! backend by [`conformance_suite!`]), split by area. Each test gets a fresh, empty store; tests of concurrency run
//! many writers at once (on PostgreSQL also several processes, each a store with its own pool), and tests of
//! damaged state change rows behind the store's back and check that it refuses, never guesses.

mod events;
mod instances;
mod keys;
mod queue;
mod resources;
mod rules;
mod tasks;

use std::path::PathBuf;
use std::sync::Arc;

use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::data::TrainingData;
use algocenter_domain::instance::NewInstance;
use algocenter_domain::paging::Page;
use algocenter_domain::{Error, Function, Result};
use serde_json::Map;

use crate::{ArtifactKey, Completion, Store};

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

/// Whether `result` is the refusal of an unreadable `table.column`.
fn is_corrupt<T>(result: &Result<T>, table: &str, column: &str) -> bool {
    matches!(result, Err(Error::Corrupt { table: t, column: c, .. }) if *t == table && *c == column)
}

/// One backend under test: its store, and what some tests need beyond the store's traits.
pub(crate) struct Backend {
    pub store: Arc<dyn Store>,
    database: Database,
    /// Keeps the embedded store's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
}

enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::sqlite::SqliteStore::open(dir.path(), 4, crate::sqlite::Synchronous::Normal)
                .unwrap();
        Backend {
            database: Database::Sqlite(store.path().to_path_buf()),
            store: Arc::new(store),
            _dir: Some(dir),
        }
    }

    /// A new database on the test cluster (see `postgres::testing`).
    async fn postgres() -> Backend {
        let url = crate::postgres::testing::fresh_database().await;
        let store = crate::postgres::PostgresStore::connect(&url, 8)
            .await
            .unwrap();
        Backend {
            store: Arc::new(store),
            database: Database::Postgres(url),
            _dir: None,
        }
    }

    /// `n` stores on the same data, as `n` processes would open it: on PostgreSQL each with its own pool; the
    /// embedded store is one process's by design (the data directory is locked), so all `n` are the one store.
    async fn processes(&self, n: usize) -> Vec<Arc<dyn Store>> {
        let mut stores = vec![Arc::clone(&self.store)];
        for _ in 1..n {
            let store: Arc<dyn Store> = match &self.database {
                Database::Sqlite(_) => Arc::clone(&self.store),
                Database::Postgres(url) => Arc::new(
                    crate::postgres::PostgresStore::connect(url, 4)
                        .await
                        .unwrap(),
                ),
            };
            stores.push(store);
        }
        stores
    }

    /// Runs `sql` on the database behind the store's back (SQL both backends understand): how tests damage
    /// stored state.
    async fn tamper(&self, sql: &str) {
        match &self.database {
            Database::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Database::Postgres(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                let connection = tokio::spawn(connection);
                client.batch_execute(sql).await.unwrap();
                drop(client);
                connection.await.unwrap().unwrap();
            }
        }
    }
}

/// Instantiates the suite for one backend: `$make` is an async expression giving a [`Backend`]. Tests of the
/// store's traits alone are listed under `store:`, tests that also need the backend under `backend:`.
macro_rules! conformance_suite {
    ($make:expr) => {
        conformance_suite!(@store $make;
            instances::app_groups_by_name_and_id,
            instances::instances_crud_paging_and_filters,
            instances::default_instance_set_replace_clear_and_follow_deletion,
            resources::resources_and_references,
            rules::rules_with_one_default,
            tasks::one_active_task_and_monotonic_generations,
            tasks::concurrent_enqueues_create_exactly_one_task,
            tasks::task_lookup_listing_filters_and_order,
            tasks::serving_generation_follows_gate_and_deletion,
            tasks::pinned_generation_serves_until_unpinned,
            tasks::cancel_queued_and_running_tasks,
            queue::retention_keeps_newest_and_serving,
            queue::expired_leases_and_start_up_reconciliation,
            queue::schedule_firing_is_idempotent,
            events::events_are_stored_once_and_read_back_by_window,
            events::concurrent_overlapping_pushes_store_each_event_once,
            events::documents_add_merge_delete,
            events::data_status_counts_by_day_and_type,
            events::retention_and_app_deletion_remove_events,
            keys::access_keys_create_list_revoke,
            keys::concurrent_revocations_keep_one_admin_key
        );
        conformance_suite!(@backend $make;
            instances::unreadable_app_groups_and_instances_are_refused,
            resources::unreadable_resources_are_refused,
            queue::workers_of_several_processes_claim_each_task_once,
            queue::one_of_several_schedulers_fires_a_due_schedule,
            queue::a_task_whose_instance_is_unreadable_fails_instead_of_training_on_defaults,
            events::unreadable_documents_are_refused_and_never_rewritten,
            events::unreadable_sketches_and_blocks_are_refused,
            keys::a_key_with_unreadable_app_groups_is_refused
        );
    };
    (@store $make:expr; $($area:ident::$name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let backend = $make.await;
                $crate::conformance::$area::$name(std::sync::Arc::clone(&backend.store)).await;
            }
        )*
    };
    (@backend $make:expr; $($area:ident::$name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let backend = $make.await;
                $crate::conformance::$area::$name(&backend).await;
            }
        )*
    };
}

mod sqlite {
    conformance_suite!(super::Backend::sqlite());
}

/// The same suite on PostgreSQL: each test gets a new database on the test cluster.
mod postgres {
    conformance_suite!(super::Backend::postgres());
}
