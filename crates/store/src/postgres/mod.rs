//! The shared store: PostgreSQL, for several algocenter processes (API nodes and workers) on one database.
//!
//! Same tables and semantics as the embedded store; what SQLite gets from its single writer, this one gets from the
//! database: unique indexes (one active task per instance, one generation number), row locks
//! (`FOR UPDATE SKIP LOCKED` claims, sketches updated under `FOR UPDATE`), and conditional updates (a cron firing
//! is taken by the one process whose `UPDATE … WHERE next_fire_ms = $due` changed the row). Connections come from a
//! bounded pool (`max_connections`); every statement is prepared once per connection.

mod access_state;
mod app_groups;
mod events;
mod instances;
mod keys;
mod nonce_batch;
mod queue;
mod resources;
mod rows;
mod rules;
mod schema;
mod tasks;
pub mod testing;
#[cfg(test)]
mod tests_disk_full;
pub mod tls;

use std::time::Duration;

use algocenter_domain::{Error, Result};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};

pub use self::access_state::PostgresAccessState;
use self::tls::ConnectSettings;

/// How long a request waits for a free connection before it fails (the pool is full: the database is the
/// bottleneck, and queueing longer only hides it).
const POOL_WAIT: Duration = Duration::from_secs(10);

/// Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// How connections are made (a second, smaller pool for request checks is made from it).
    settings: ConnectSettings,
    max_connections: usize,
    /// Where blocking readers (trainers) run their queries.
    runtime: tokio::runtime::Handle,
}

/// Extension to turn PostgreSQL errors into the domain error.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for std::result::Result<T, tokio_postgres::Error> {
    fn db(self) -> Result<T> {
        self.map_err(|e| classify(&e))
    }
}

/// The domain error of a PostgreSQL error: the client's input, a full disk, a passing outage (503, retryable), or
/// an internal error.
pub(crate) fn classify(e: &tokio_postgres::Error) -> Error {
    // PostgreSQL text cannot hold a NUL character (SQLite can): the client's input, not our fault.
    if e.code() == Some(&SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
        return Error::invalid("text values may not contain the NUL character (\\u0000).");
    }
    // 53100 disk_full: the server could not extend a file; the statement (and its transaction) failed
    // whole. The rest of class 53 (memory, connections) is not about storage.
    if e.code() == Some(&SqlState::DISK_FULL) {
        return Error::StorageFull(format!("the database cannot grow: {}", describe(e)));
    }
    if is_transient(e) {
        return Error::Unavailable(format!("database: {}", describe(e)));
    }
    Error::internal(format_args!("database: {}", describe(e)))
}

/// A failure that says nothing about the request and may pass by itself: the server is unreachable, restarting,
/// shutting down, out of connections, a standby after a failover (read only), or the transaction lost a
/// serialization conflict or a deadlock (it was rolled back whole). TLS and authentication failures are not:
/// they are configuration, and retrying will not fix them.
pub(crate) fn is_transient(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08")
            || matches!(
                code,
                "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01" | "25006"
            );
    }
    if e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | NotConnected
                    | BrokenPipe
                    | TimedOut
                    | UnexpectedEof
                    | HostUnreachable
                    | NetworkUnreachable
                    | AddrNotAvailable
            );
        }
        source = cause.source();
    }
    false
}

/// A failed `COMMIT`: when the connection was lost on the way, the transaction may or may not have committed.
pub(crate) fn commit_failed(e: tokio_postgres::Error) -> Error {
    if e.as_db_error().is_none() && is_transient(&e) {
        return Error::CommitUnknown(describe(&e));
    }
    classify(&e)
}

/// The server's own message when there is one (the client error's `Display` hides it behind "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            // "error connecting to server" alone hides why: the causes say it (refused, certificate, …).
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
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
        let settings = ConnectSettings::parse(url)?;
        let pool = pool(settings.config.clone(), &settings, max_connections)?;
        let store = PostgresStore {
            pool,
            settings,
            max_connections,
            runtime: tokio::runtime::Handle::current(),
        };
        let mut client = store.client().await?;
        schema::migrate(&mut client).await?;
        Ok(store)
    }

    /// What the API nodes of this database remember together (nonces, rate buckets, dashboard sessions), on a pool
    /// of its own of half as many connections (at least 2) whose commits do not wait for the disk: losing the last
    /// fraction of a second of nonces in a crash of the database is the price of not adding a disk flush to every
    /// signed request.
    pub fn access_state(&self) -> Result<PostgresAccessState> {
        let mut config = self.settings.config.clone();
        let options = match config.get_options() {
            Some(given) if !given.is_empty() => format!("{given} -c synchronous_commit=off"),
            _ => "-c synchronous_commit=off".to_string(),
        };
        config.options(options);
        let pool = pool(
            config,
            &self.settings,
            self.max_connections.div_ceil(2).max(2),
        )?;
        Ok(PostgresAccessState::new(pool, &self.runtime))
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Connections open now and the pool's limit (for monitoring and tests).
    pub fn pool_status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.max_size)
    }
}

/// A bounded pool of connections made with `config` over the TLS of `settings`.
fn pool(
    config: tokio_postgres::Config,
    settings: &ConnectSettings,
    max_connections: usize,
) -> Result<Pool> {
    let manager = Manager::from_config(
        config,
        settings.tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_connections.max(1))
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(POOL_WAIT))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| Error::internal(format_args!("database pool: {e}")))
}

/// No connection from the pool: the database does not answer (503, retryable), or every connection stayed busy for
/// [`POOL_WAIT`] (503 too: the database is the bottleneck for the moment).
fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(e) => match classify(&e) {
            Error::Unavailable(why) => Error::Unavailable(format!("database unavailable: {why}")),
            other => other,
        },
        PoolError::Timeout(_) => Error::Unavailable(format!(
            "database unavailable: no connection within {} s (all of --database-max-connections busy, or the \
             database slow to accept)",
            POOL_WAIT.as_secs()
        )),
        other => Error::internal(format_args!("database unavailable: {other}")),
    }
}

/// Runs `$body` in a transaction on a pooled connection: `$tx` is the transaction; commits when the body answers
/// `Ok`, rolls back (by dropping the transaction) otherwise.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let $tx = client.transaction().await.db()?;
        let value = $body;
        $tx.commit()
            .await
            .map_err($crate::postgres::commit_failed)?;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_the_server_ends_is_a_passing_outage_not_a_bug() {
        let url = testing::fresh_database().await;
        let store = PostgresStore::connect(&url, 1).await.unwrap();
        let client = store.client().await.unwrap();
        let pid: i32 = query_one(&client, "SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        // As a restart or a failover does: the server ends the session.
        let other = PostgresStore::connect(&url, 1).await.unwrap();
        let admin = other.client().await.unwrap();
        query_one(&admin, "SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
        let err = query_one(&client, "SELECT 1", &[]).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        assert_eq!((err.http_status(), err.code()), (503, "ServiceUnavailable"));
        drop(client);
        // The pool drops the dead connection (once its end is noticed: a request in between may get one more 503,
        // which clients retry) and opens a new one.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let client = store.client().await.unwrap();
            match query_one(&client, "SELECT 1", &[]).await {
                Ok(_) => break,
                Err(e) => assert!(
                    matches!(e, Error::Unavailable(_)) && std::time::Instant::now() < deadline,
                    "the pool did not recover: {e:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_an_error_not_a_hang() {
        // Port 9 (discard) on loopback: nothing listens there.
        let started = std::time::Instant::now();
        let Err(err) = PostgresStore::connect("postgres://nobody@127.0.0.1:9/none", 1).await else {
            panic!("connected to nothing")
        };
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        assert!(err.to_string().contains("database unavailable"), "{err}");
        assert!(started.elapsed() < POOL_WAIT + Duration::from_secs(5));
    }
}
