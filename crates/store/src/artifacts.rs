//! Artifact storage: the trained model bytes of each generation.
//!
//! An artifact is written completely before its task turns `success` (DESIGN invariant 5): the local backend
//! writes a temporary file, syncs it and renames it into place.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use algocenter_domain::{Error, Result};
use async_trait::async_trait;

/// Where one generation's artifact lives: `<instance id>/<generation>`. Instance ids are never reused, so a
/// deleted and re-created instance cannot see its predecessor's files.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactKey(String);

impl ArtifactKey {
    pub fn new(instance_id: i64, generation: i64) -> Self {
        ArtifactKey(format!("{instance_id}/{generation}"))
    }

    /// Rebuilds a key read back from the database.
    pub fn from_stored(key: String) -> Self {
        ArtifactKey(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Stores the bytes durably; only then may the task be recorded as a success.
    async fn put(&self, key: &ArtifactKey, bytes: Vec<u8>) -> Result<()>;
    async fn get(&self, key: &ArtifactKey) -> Result<Vec<u8>>;
    /// Removing a missing artifact is not an error.
    async fn delete(&self, key: &ArtifactKey) -> Result<()>;
    async fn list(&self) -> Result<Vec<ArtifactKey>>;
    /// Whether the store answers (for readiness checks).
    async fn check(&self) -> Result<()>;
}

/// Artifacts as files under a directory (`<data dir>/artifacts`).
pub struct LocalArtifacts {
    root: PathBuf,
}

impl LocalArtifacts {
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| {
            Error::internal(format_args!(
                "cannot create artifact directory {}: {e}",
                root.display()
            ))
        })?;
        remove_temporary_files(&root);
        Ok(LocalArtifacts { root })
    }

    fn path(&self, key: &ArtifactKey) -> PathBuf {
        self.root.join(format!("{}.bin", key.as_str()))
    }
}

/// A temporary file younger than this may belong to a `put` of another process sharing the directory.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the `.bin.tmp` files an interrupted `put` left behind (those older than an hour: another process
/// sharing the directory may be writing a younger one). Runs when the store opens.
fn remove_temporary_files(root: &Path) {
    let Ok(dirs) = std::fs::read_dir(root) else {
        return;
    };
    for dir in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for file in files.flatten() {
            let stale = file
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= STALE_TEMPORARY);
            if stale && file.file_name().to_string_lossy().ends_with(".bin.tmp") {
                let _ = std::fs::remove_file(file.path());
            }
        }
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        // ENOSPC and EDQUOT: nothing is wrong with the request or the server, only the disk is full.
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            Error::StorageFull(format!("{what} {}: {e}", path.display()))
        }
        _ => Error::internal(format_args!("{what} {}: {e}", path.display())),
    }
}

/// Writes `bytes` to `path` and makes them durable.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(|e| io_error("cannot create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| io_error("cannot write", path, e))?;
    file.sync_all()
        .map_err(|e| io_error("cannot sync", path, e))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format_args!("artifact I/O task failed: {e}")))?
}

#[async_trait]
impl ArtifactStore for LocalArtifacts {
    async fn put(&self, key: &ArtifactKey, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(key);
        blocking(move || {
            let dir = path
                .parent()
                .ok_or_else(|| Error::internal("artifact path has no parent"))?;
            std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
            let tmp = path.with_extension("bin.tmp");
            let written = write_synced(&tmp, &bytes).and_then(|()| {
                std::fs::rename(&tmp, &path).map_err(|e| io_error("cannot rename into", &path, e))
            });
            if written.is_err() {
                // A partial file would keep a full disk full until the next start.
                let _ = std::fs::remove_file(&tmp);
            }
            written?;
            // Make the rename itself durable.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error("cannot sync", dir, e))
        })
        .await
    }

    async fn get(&self, key: &ArtifactKey) -> Result<Vec<u8>> {
        let path = self.path(key);
        blocking(move || std::fs::read(&path).map_err(|e| io_error("cannot read", &path, e))).await
    }

    async fn delete(&self, key: &ArtifactKey) -> Result<()> {
        let path = self.path(key);
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot remove", &path, e)),
        })
        .await
    }

    async fn check(&self) -> Result<()> {
        let root = self.root.clone();
        blocking(move || match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(Error::internal(format_args!(
                "{} is not a directory",
                root.display()
            ))),
            Err(e) => Err(io_error("cannot reach", &root, e)),
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ArtifactKey>> {
        let root = self.root.clone();
        blocking(move || {
            let mut keys = Vec::new();
            let dirs = std::fs::read_dir(&root).map_err(|e| io_error("cannot list", &root, e))?;
            for dir in dirs.flatten() {
                let Ok(files) = std::fs::read_dir(dir.path()) else {
                    continue;
                };
                let instance = dir.file_name().to_string_lossy().into_owned();
                for file in files.flatten() {
                    let name = file.file_name().to_string_lossy().into_owned();
                    if let Some(generation) = name.strip_suffix(".bin") {
                        keys.push(ArtifactKey(format!("{instance}/{generation}")));
                    }
                }
            }
            Ok(keys)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_list_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalArtifacts::open(dir.path().join("artifacts")).unwrap();
        let key = ArtifactKey::new(7, 3);
        store.put(&key, b"model".to_vec()).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), b"model");
        assert_eq!(store.list().await.unwrap(), vec![key.clone()]);
        store.delete(&key).await.unwrap();
        store.delete(&key).await.unwrap();
        assert!(store.get(&key).await.is_err());
        assert!(store.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_full_disk_is_storage_full_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let disk = match crate::small_disk::SmallDisk::mount(&dir.path().join("disk"), 1 << 20) {
            Ok(disk) => disk,
            Err(why) => {
                eprintln!("skipped: no small file system for this test: {why}");
                return;
            }
        };
        let store = LocalArtifacts::open(disk.path().join("artifacts")).unwrap();
        disk.fill(64 * 1024).unwrap();
        let key = ArtifactKey::new(1, 1);
        let model = vec![7u8; 256 * 1024];
        match store.put(&key, model.clone()).await {
            Err(Error::StorageFull(message)) => assert!(message.contains("1.bin.tmp"), "{message}"),
            other => panic!("{other:?}"),
        }
        let left: Vec<_> = std::fs::read_dir(disk.path().join("artifacts/1"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "the partial file was removed: {left:?}");
        disk.free().unwrap();
        store.put(&key, model.clone()).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), model);
    }

    #[test]
    fn reopening_removes_files_of_interrupted_writes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("artifacts");
        std::fs::create_dir_all(root.join("1")).unwrap();
        std::fs::write(root.join("1/2.bin.tmp"), b"half").unwrap();
        std::fs::write(root.join("1/3.bin.tmp"), b"being written").unwrap();
        std::fs::write(root.join("1/1.bin"), b"whole").unwrap();
        let old = std::time::SystemTime::now() - STALE_TEMPORARY * 2;
        std::fs::File::options()
            .write(true)
            .open(root.join("1/2.bin.tmp"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        LocalArtifacts::open(&root).unwrap();
        assert!(!root.join("1/2.bin.tmp").exists());
        assert!(
            root.join("1/3.bin.tmp").exists(),
            "a young temporary file may be another process's write"
        );
        assert!(root.join("1/1.bin").exists());
    }
}
