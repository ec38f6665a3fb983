//! The store and artifact store a configuration names.

use std::sync::Arc;

use algocenter_store::access_state::AccessState;
use algocenter_store::artifacts::LocalArtifacts;
use algocenter_store::postgres::PostgresStore;
use algocenter_store::s3_artifacts::S3Artifacts;
use algocenter_store::sqlite::SqliteStore;
use algocenter_store::{ArtifactStore, Store};

use crate::config::{Database, ServerConfig};

/// The opened store; the embedded one also as itself, for its checkpoint at shutdown.
pub(crate) struct Opened {
    pub store: Arc<dyn Store>,
    pub sqlite: Option<Arc<SqliteStore>>,
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Nonces, rate buckets and sessions shared with the other API nodes (PostgreSQL only).
    pub shared_access: Option<Arc<dyn AccessState>>,
}

pub(crate) async fn open(config: &ServerConfig) -> Result<Opened, String> {
    // The embedded file belongs to this process alone; a PostgreSQL database is shared with other processes.
    type Stores = (
        Arc<dyn Store>,
        Option<Arc<SqliteStore>>,
        Option<Arc<dyn AccessState>>,
    );
    let (store, sqlite, shared_access): Stores = match &config.database {
        Database::Postgres {
            url,
            max_connections,
        } => {
            let store = PostgresStore::connect(url, *max_connections)
                .await
                .map_err(|e| format!("database: {e}"))?;
            let shared_access = store.access_state().map_err(|e| format!("database: {e}"))?;
            tracing::info!(max_connections, "using PostgreSQL");
            (Arc::new(store), None, Some(Arc::new(shared_access)))
        }
        Database::Sqlite { synchronous } => {
            let sqlite = Arc::new(
                SqliteStore::open(&config.data_dir, 8, *synchronous).map_err(|e| e.to_string())?,
            );
            (Arc::clone(&sqlite) as Arc<dyn Store>, Some(sqlite), None)
        }
    };
    let artifacts: Arc<dyn ArtifactStore> = match &config.s3 {
        Some(settings) => {
            let s3 = S3Artifacts::open(settings).map_err(|e| e.to_string())?;
            s3.check().await.map_err(|e| e.to_string())?;
            tracing::info!(artifacts = s3.describe(), "artifacts in object storage");
            Arc::new(s3)
        }
        None => Arc::new(
            LocalArtifacts::open(config.data_dir.join("artifacts")).map_err(|e| e.to_string())?,
        ),
    };
    Ok(Opened {
        store,
        sqlite,
        artifacts,
        shared_access,
    })
}
