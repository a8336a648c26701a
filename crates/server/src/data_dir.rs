//! The data directory and its lock. Only one process may use a data directory at a
//! time: two writers would corrupt each other's write-ahead log. The lock is an
//! advisory exclusive `flock` on `DIR/lock`, held for the life of [`DataDir`] and
//! released by the kernel when the process dies, so a crash never leaves a stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "lock";

/// An open, locked data directory. Dropping it releases the lock.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed and takes its lock. Fails with
    /// [`Error::DataDirLocked`], naming the directory, the lock file and the holder's
    /// pid, when another process holds it.
    pub fn open(path: &Path) -> Result<Self> {
        let data_err = |source| Error::DataDir { path: path.to_owned(), source };
        std::fs::create_dir_all(path).map_err(data_err)?;
        let path = &std::fs::canonicalize(path).map_err(data_err)?;
        let lock_path = path.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(data_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::DataDirLocked {
                    dir: path.to_owned(),
                    lock: lock_path,
                    holder: (!holder.is_empty()).then(|| holder.to_owned()),
                });
            }
            Err(TryLockError::Error(source)) => return Err(data_err(source)),
        }
        file.set_len(0).map_err(data_err)?;
        file.rewind().map_err(data_err)?;
        write!(file, "pid {}", std::process::id()).map_err(data_err)?;
        file.sync_data().map_err(data_err)?;
        Ok(Self { path: path.to_owned(), _lock: file })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let err = DataDir::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains("lock"), "{err}");
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        DataDir::open(dir.path()).expect("lock released on drop");
    }
}
