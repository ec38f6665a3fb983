//! Test support: a small file system of its own (a tmpfs mounted on a directory), for tests of running out of
//! space. Mounting needs root or `CAP_SYS_ADMIN`; where the machine refuses, [`SmallDisk::mount`] says why, and the
//! test skips with that reason.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted when dropped.
pub struct SmallDisk {
    root: PathBuf,
}

/// Name of the file [`SmallDisk::fill`] writes.
const FILLER: &str = "filler";

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` on `at` (created if needed). `Err` holds why it could not, for a skip message.
    pub fn mount(at: &Path, bytes: u64) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(at).map_err(|e| format!("cannot create {}: {e}", at.display()))?;
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0777"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs refused ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(SmallDisk {
            root: at.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Fills the file system with a filler file, then gives `leave` bytes of it back.
    pub fn fill(&self, leave: u64) -> std::io::Result<()> {
        let path = self.root.join(FILLER);
        let mut file = std::fs::File::create(&path)?;
        let chunk = vec![0x5a_u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => return Err(e),
            }
        }
        let written = file.metadata()?.len();
        file.set_len(written.saturating_sub(leave))
    }

    /// Removes the filler file: the space it held is free again.
    pub fn free(&self) -> std::io::Result<()> {
        std::fs::remove_file(self.root.join(FILLER))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a process that still holds a file there (a server being killed) does not keep the mount.
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}
