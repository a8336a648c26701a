//! A real, small file system for disk-full tests: a tmpfs mounted for the test
//! (the suite runs as root, as CI does) and unmounted when dropped, and a way to
//! fill it. Shared by `wk-tsdb`'s and `wk-server`'s tests (`#[path]`-included).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted at a directory until dropped.
pub struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` (e.g. `"16m"`) at `dir`, creating it.
    pub fn tmpfs(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount(8)");
        assert!(status.success(), "mounting a tmpfs needs root, as the suite runs in CI");
        Self(dir.to_owned())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Bytes available to unprivileged writers on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> u64 {
    let st = rustix::fs::statvfs(dir).unwrap();
    st.f_bavail * st.f_frsize
}

/// Writes a ballast file into `dir` that leaves about `leave` bytes free;
/// returns its path (remove it to give the space back).
pub fn fill_leaving(dir: &Path, leave: u64) -> PathBuf {
    let ballast = dir.join("ballast");
    let size = free_bytes(dir).saturating_sub(leave);
    std::fs::write(&ballast, vec![1u8; size as usize]).unwrap();
    ballast
}
