//! The shared store: PostgreSQL, for several algocenter processes (API nodes and workers) on one database.
//!
//! Same tables and semantics as the embedded store; what SQLite gets from its single writer, this one gets from the
//! database: unique indexes (one active task per instance, one generation number), row locks
//! (`FOR UPDATE SKIP LOCKED` claims, sketches updated under `FOR UPDATE`), and conditional updates (a cron firing
//! is taken by the one process whose `UPDATE … WHERE next_fire_ms = $due` changed the row). Connections come from a
//! bounded pool (`max_connections`); every statement is prepared once per connection.

mod app_groups;
mod events;
mod instances;
mod keys;
mod queue;
mod resources;
mod rows;
mod schema;
mod tasks;
pub mod testing;
#[cfg(test)]
mod tests_disk_full;

use std::time::Duration;

use algocenter_domain::{Error, Result};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

/// How long a request waits for a free connection before it fails (the pool is full: the database is the
/// bottleneck, and queueing longer only hides it).
const POOL_WAIT: Duration = Duration::from_secs(10);

pub struct PostgresStore {
    pool: Pool,
    /// Where blocking readers (trainers) run their queries.
    runtime: tokio::runtime::Handle,
}

/// Extension to turn PostgreSQL errors into the domain error.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for std::result::Result<T, tokio_postgres::Error> {
    fn db(self) -> Result<T> {
        self.map_err(|e| {
            // PostgreSQL text cannot hold a NUL character (SQLite can): the client's input, not our fault.
            if e.code() == Some(&SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
                return Error::invalid("text values may not contain the NUL character (\\u0000).");
            }
            // 53100 disk_full: the server could not extend a file; the statement (and its transaction) failed
            // whole. The rest of class 53 (memory, connections) is not about storage.
            if e.code() == Some(&SqlState::DISK_FULL) {
                return Error::StorageFull(format!("the database cannot grow: {}", describe(&e)));
            }
            Error::internal(format_args!("database: {}", describe(&e)))
        })
    }
}

/// The server's own message when there is one (the client error's `Display` hides it behind "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// A unique (or exclusion) constraint refused the statement.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Parameters of a statement.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Every row of a statement, prepared once per connection.
pub(crate) async fn query(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>> {
    let statement = c.prepare_cached(sql).await.db()?;
    c.query(&statement, params).await.db()
}

/// The row of a statement that answers at most one.
pub(crate) async fn query_opt(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>> {
    let statement = c.prepare_cached(sql).await.db()?;
    c.query_opt(&statement, params).await.db()
}

/// The row of a statement that answers exactly one.
pub(crate) async fn query_one(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row> {
    let statement = c.prepare_cached(sql).await.db()?;
    c.query_one(&statement, params).await.db()
}

/// Rows changed by a statement.
pub(crate) async fn execute(c: &impl GenericClient, sql: &str, params: &Params<'_>) -> Result<u64> {
    let statement = c.prepare_cached(sql).await.db()?;
    c.execute(&statement, params).await.db()
}

/// Column `index` of a row; a type mismatch is an error, never a panic.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T> {
    row.try_get(index).db()
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), with at most `max_connections` open
    /// connections, and applies the schema migrations.
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            Error::invalid(format_args!("database URL is not a PostgreSQL URL: {e}"))
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::internal(format_args!("database pool: {e}")))?;
        let store = PostgresStore {
            pool,
            runtime: tokio::runtime::Handle::current(),
        };
        let mut client = store.client().await?;
        schema::migrate(&mut client).await?;
        Ok(store)
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| Error::internal(format_args!("database unavailable: {e}")))
    }

    /// Connections open now and the pool's limit (for monitoring and tests).
    pub fn pool_status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.max_size)
    }
}

/// Runs `$body` in a transaction on a pooled connection: `$tx` is the transaction; commits when the body answers
/// `Ok`, rolls back (by dropping the transaction) otherwise.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let $tx = client.transaction().await.db()?;
        let value = $body;
        $tx.commit().await.db()?;
        Ok(value)
    }};
}
pub(crate) use in_transaction;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppGroupStore;
    use algocenter_domain::app_group::NewAppGroup;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_starting_together_migrate_once_and_share_data() {
        let url = testing::fresh_database().await;
        let (a, b, c) = tokio::join!(
            PostgresStore::connect(&url, 2),
            PostgresStore::connect(&url, 2),
            PostgresStore::connect(&url, 2)
        );
        let (a, b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
        let client = a.client().await.unwrap();
        let versions: i64 = client
            .query_one("SELECT count(*) FROM algocenter_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(versions, schema::latest_version());
        let new = NewAppGroup {
            name: "shared".into(),
            app_type: "enhanced".into(),
            description: String::new(),
            extra: Default::default(),
        };
        a.create_app_group(new, 1).await.unwrap();
        assert_eq!(b.app_group("shared").await.unwrap().name, "shared");
        assert_eq!(a.pool_status().1, 2, "the pool limit is the one asked for");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_nul_character_is_the_client_s_error_and_names_sort_by_bytes() {
        let url = testing::fresh_database().await;
        let store = PostgresStore::connect(&url, 2).await.unwrap();
        let group = |name: &str, description: &str| NewAppGroup {
            name: name.into(),
            app_type: "enhanced".into(),
            description: description.into(),
            extra: Default::default(),
        };
        let refused = store.create_app_group(group("nul", "a\0b"), 1).await;
        assert!(
            matches!(refused, Err(Error::InvalidParameter(_))),
            "{refused:?}"
        );
        for name in ["b", "B", "a", "A"] {
            store.create_app_group(group(name, ""), 1).await.unwrap();
        }
        let client = store.client().await.unwrap();
        let names: Vec<String> = client
            .query("SELECT name FROM app_group ORDER BY name", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(names, ["A", "B", "a", "b"], "byte order, as in SQLite");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_newer_schema_is_refused() {
        let url = testing::fresh_database().await;
        let store = PostgresStore::connect(&url, 1).await.unwrap();
        store
            .client()
            .await
            .unwrap()
            .execute(
                "INSERT INTO algocenter_schema (version, applied_ms) VALUES ($1, 0)",
                &[&(schema::latest_version() + 1)],
            )
            .await
            .unwrap();
        drop(store);
        let Err(err) = PostgresStore::connect(&url, 1).await else {
            panic!("opened a newer schema")
        };
        assert!(err.to_string().contains("newer algocenter"), "{err}");
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_an_error_not_a_hang() {
        // Port 9 (discard) on loopback: nothing listens there.
        let started = std::time::Instant::now();
        let Err(err) = PostgresStore::connect("postgres://nobody@127.0.0.1:9/none", 1).await else {
            panic!("connected to nothing")
        };
        assert!(err.to_string().contains("database unavailable"), "{err}");
        assert!(started.elapsed() < POOL_WAIT + Duration::from_secs(5));
    }
}
