//! A store of its own for a test of the engine or serving alone.

use std::sync::Arc;

use algocenter_store::artifacts::LocalArtifacts;
use algocenter_store::sqlite::{SqliteStore, Synchronous};
use algocenter_store::{ArtifactStore, Store};

/// The embedded store and local artifacts in a fresh directory, removed when dropped.
pub struct TempStore {
    pub store: Arc<dyn Store>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub dir: tempfile::TempDir,
}

impl TempStore {
    pub fn open() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(dir.path(), 2, Synchronous::Normal).expect("a fresh SQLite store"),
        );
        let artifacts: Arc<dyn ArtifactStore> = Arc::new(
            LocalArtifacts::open(dir.path().join("artifacts")).expect("a fresh artifact directory"),
        );
        TempStore {
            store,
            artifacts,
            dir,
        }
    }
}
