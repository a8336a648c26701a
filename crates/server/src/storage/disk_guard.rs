//! Disk protection: writes stop with a clear, retryable error *before* the file
//! system holding the data directory is full, and resume by themselves once space is
//! freed. A full disk would otherwise fail a WAL fsync, which stops every write until
//! a restart; Prometheus users know the crash loops that follow.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wk_model::{Labels, Sample};
use wk_storage::{AppendError, Appendable, Appender, CommitSummary, SeriesRef};

/// How often free space is measured at most.
const RECHECK: Duration = Duration::from_millis(500);

/// Watches free space on the data directory's file system.
#[derive(Debug)]
pub struct DiskGuard {
    dir: PathBuf,
    min_free_bytes: u64,
    last_check: Mutex<Option<Instant>>,
    free_bytes: AtomicU64,
    full: AtomicBool,
}

impl DiskGuard {
    /// A guard refusing writes while fewer than `min_free_bytes` are free under `dir`.
    pub fn new(dir: PathBuf, min_free_bytes: u64) -> Self {
        let guard = Self {
            dir,
            min_free_bytes,
            last_check: Mutex::new(None),
            free_bytes: AtomicU64::new(u64::MAX),
            full: AtomicBool::new(false),
        };
        guard.refresh();
        guard
    }

    fn refresh(&self) {
        let mut last = self.last_check.lock();
        if last.is_some_and(|t| t.elapsed() < RECHECK) {
            return;
        }
        *last = Some(Instant::now());
        if let Ok(st) = rustix::fs::statvfs(&self.dir) {
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            self.free_bytes.store(free, Ordering::Relaxed);
            let full = free < self.min_free_bytes;
            let was = self.full.swap(full, Ordering::Relaxed);
            if full && !was {
                tracing::error!(
                    dir = %self.dir.display(),
                    free_bytes = free,
                    min_free_bytes = self.min_free_bytes,
                    "disk almost full: refusing writes until space is freed (storage.min_free_space)"
                );
            } else if was && !full {
                tracing::info!(dir = %self.dir.display(), free_bytes = free, "disk space available again: accepting writes");
            }
        }
    }

    /// Whether writes are refused now.
    pub fn is_full(&self) -> bool {
        self.refresh();
        self.full.load(Ordering::Relaxed)
    }

    /// Free bytes at the last measurement.
    pub fn free_bytes(&self) -> u64 {
        self.free_bytes.load(Ordering::Relaxed)
    }

    fn error(&self) -> AppendError {
        AppendError::Unavailable {
            detail: format!(
                "disk almost full: {} MiB free on the file system of {}, below storage.min_free_space ({} MiB); writes resume when space is freed",
                self.free_bytes() >> 20,
                self.dir.display(),
                self.min_free_bytes >> 20
            ),
        }
    }
}

/// A store whose commits are refused while the disk guard says the disk is full.
#[derive(Debug)]
pub struct Guarded<S: ?Sized> {
    pub(crate) guard: Arc<DiskGuard>,
    pub(crate) inner: Arc<S>,
}

impl<S: Appendable + ?Sized> Appendable for Guarded<S> {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(GuardedAppender { guard: &self.guard, inner: self.inner.appender() })
    }
}

struct GuardedAppender<'a> {
    guard: &'a DiskGuard,
    inner: Box<dyn Appender + 'a>,
}

impl Appender for GuardedAppender<'_> {
    fn append(&mut self, hint: Option<SeriesRef>, labels: &Labels, sample: Sample) -> Result<SeriesRef, AppendError> {
        self.inner.append(hint, labels, sample)
    }

    fn commit(&mut self) -> Result<CommitSummary, AppendError> {
        if self.guard.is_full() {
            self.inner.rollback();
            return Err(self.guard.error());
        }
        self.inner.commit()
    }

    fn rollback(&mut self) {
        self.inner.rollback();
    }
}
