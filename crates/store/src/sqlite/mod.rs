//! The embedded store: one SQLite database in WAL mode.
//!
//! Writes go through a single writer connection inside `BEGIN IMMEDIATE` transactions (SQLite has one writer; a
//! single connection avoids lock-upgrade failures); reads use a small pool of read-only connections that WAL lets
//! run beside the writer. All SQLite calls run on tokio's blocking pool.
//!
//! Durability: `synchronous=NORMAL` in WAL mode keeps every committed transaction across a process crash
//! (`kill -9`); `synchronous=FULL` (option `sqlite_synchronous`) also survives power loss at the cost of an fsync
//! per commit.

mod app_groups;
mod events;
mod instances;
mod keys;
mod queue;
mod resources;
mod rows;
mod rules;
mod schema;
mod tasks;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use algocenter_domain::{Error, Result};
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::Semaphore;

/// `synchronous` pragma of the embedded database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    /// Survives process crashes (the default).
    Normal,
    /// Also survives power loss and OS crashes.
    Full,
}

pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<ReaderPool>,
    path: PathBuf,
    /// Held for the life of the store: a second process on the same data directory is refused.
    _lock: File,
}

struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

/// Extension to turn rusqlite errors into the domain error.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(|e| match e.sqlite_error_code() {
            // SQLITE_FULL: the file system (or `max_page_count`) left no room. SQLite rolled the statement back;
            // the transaction is rolled back by the caller, so nothing of the request was stored.
            Some(ErrorCode::DiskFull) => {
                Error::StorageFull(format!("the database cannot grow ({e})"))
            }
            _ => Error::internal(format_args!("database: {e}")),
        })
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `algocenter.db` in `dir`, takes the directory lock and applies migrations.
    pub fn open(dir: &Path, readers: usize, synchronous: Synchronous) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::internal(format_args!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let lock_path = dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(|e| {
            Error::internal(format_args!("cannot create {}: {e}", lock_path.display()))
        })?;
        lock.try_lock().map_err(|_| {
            Error::internal(format_args!(
                "data directory {} is in use by another algocenter process",
                dir.display()
            ))
        })?;
        let path = dir.join("algocenter.db");
        let mut writer = Connection::open(&path).db()?;
        let sync = match synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        writer
            .execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA cache_size=-65536;"
            ))
            .db()?;
        keep_query_plans(&writer)?;
        schema::migrate(&mut writer)?;
        let readers = readers.max(1);
        let mut idle = Vec::with_capacity(readers);
        for _ in 0..readers {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .db()?;
            configure_reader(&conn)?;
            idle.push(conn);
        }
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(ReaderPool {
                idle: Mutex::new(idle),
                permits: Semaphore::new(readers),
            }),
            path,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies the write-ahead log into the database and empties it, so that a stopped data directory is one
    /// self-contained file (for backups). Called at shutdown.
    pub async fn checkpoint(&self) -> Result<()> {
        let writer = Arc::clone(&self.writer);
        run_blocking(move || {
            let conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .db()
        })
        .await
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer; commits when `f` succeeds, rolls back otherwise.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        run_blocking(move || {
            // A panic inside `f` rolls the transaction back while unwinding, so a poisoned lock still guards a
            // consistent connection.
            let mut conn = writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db()?;
            let value = f(&tx)?;
            tx.commit().db()?;
            Ok(value)
        })
        .await
    }

    /// Runs `f` on a pooled read-only connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| Error::internal("reader pool closed"))?;
        let pool = Arc::clone(&self.readers);
        run_blocking(move || {
            let conn = pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .ok_or_else(|| Error::internal("reader pool empty"))?;
            let guard = Checkout {
                conn: Some(conn),
                pool: &pool,
            };
            let conn = guard
                .conn
                .as_ref()
                .ok_or_else(|| Error::internal("reader pool empty"))?;
            f(conn)
        })
        .await
    }
}

/// Settings of every read-only connection.
fn configure_reader(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA busy_timeout=5000;").db()?;
    keep_query_plans(conn)
}

/// Turns on SQLite's query planner stability guarantee. Without it, a cached statement whose plan looked at a
/// bound value (`col = ?`, `LIMIT ?`) is re-parsed and re-planned each time rusqlite resets it, which made
/// statement caching worthless (measured: 21.8 µs instead of 2.6 µs per GetFunctionTask query).
fn keep_query_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .db()?;
    Ok(())
}

/// Returns a reader to the pool when dropped, also during a panic.
struct Checkout<'a> {
    conn: Option<Connection>,
    pool: &'a ReaderPool,
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format_args!("database task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppGroupStore;
    use algocenter_domain::app_group::NewAppGroup;

    #[tokio::test]
    async fn a_second_process_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SqliteStore::open(dir.path(), 1, Synchronous::Normal).unwrap();
        let Err(err) = SqliteStore::open(dir.path(), 1, Synchronous::Normal) else {
            panic!("second open succeeded")
        };
        assert!(err.to_string().contains("in use"), "{err}");
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path(), 1, Synchronous::Full).unwrap();
            let new = NewAppGroup {
                name: "kept".into(),
                app_type: "enhanced".into(),
                description: String::new(),
                extra: Default::default(),
            };
            store.create_app_group(new, 1).await.unwrap();
        }
        let store = SqliteStore::open(dir.path(), 1, Synchronous::Normal).unwrap();
        assert_eq!(store.app_group("kept").await.unwrap().name, "kept");
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path(), 1, Synchronous::Normal).unwrap());
        let conn = Connection::open(dir.path().join("algocenter.db")).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA user_version = {}",
            schema::latest_version() + 1
        ))
        .unwrap();
        drop(conn);
        let Err(err) = SqliteStore::open(dir.path(), 1, Synchronous::Normal) else {
            panic!("opened a newer schema")
        };
        assert!(err.to_string().contains("newer algocenter"), "{err}");
    }
}
