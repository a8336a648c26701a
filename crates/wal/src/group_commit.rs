//! Group commit: the state shared by all appenders and the leader/follower
//! fsync protocol.
//!
//! Group commit is a leader/follower scheme on one mutex and one condition
//! variable. An appender writes its frames under the mutex and takes a batch
//! sequence number. Under [`FsyncMode::Always`](crate::FsyncMode::Always) it then waits until the
//! durable sequence number reaches its own. If no fsync is running, the
//! waiter becomes the *leader*: it notes the highest sequence number written
//! so far, releases the mutex, fsyncs, and on return marks everything up to
//! that number durable and wakes all waiters. Appenders that arrive while the
//! leader is in fsync write their frames meanwhile and are covered by the
//! next fsync, so N concurrent appenders share about one fsync per round.
//!
//! After a failed write that cannot be undone, or any failed fsync, the log
//! is poisoned: the kernel may have dropped dirty pages, so retrying the
//! fsync could report success for lost data. Every later call fails with
//! [`Error::Poisoned`] until the log is reopened, which recovers from disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::fs::{WalFile, WalFs};
use crate::options::WalOptions;
use crate::record;
use crate::segment::{self, SEGMENT_HEADER_LEN};
use crate::stats::WalStats;
use crate::writer::Lsn;

/// What every handle of one log shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) fs: Arc<dyn WalFs>,
    pub(crate) dir: PathBuf,
    pub(crate) options: WalOptions,
    pub(crate) stats: Arc<WalStats>,
    pub(crate) state: Mutex<State>,
    pub(crate) durable: Condvar,
    pub(crate) stop: Mutex<bool>,
    pub(crate) stop_signal: Condvar,
}

/// The mutable state behind [`Shared::state`].
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) file: Arc<dyn WalFile>,
    pub(crate) segment: u64,
    pub(crate) offset: u64,
    pub(crate) written: u64,
    pub(crate) synced: u64,
    pub(crate) syncing: bool,
    pub(crate) poisoned: Option<String>,
    pub(crate) buf: Vec<u8>,
}

impl State {
    pub(crate) fn lsn(&self) -> Lsn {
        Lsn { segment: self.segment, offset: self.offset }
    }
}

impl Shared {
    /// Builds the shared state of a log whose active segment is `file`
    /// (number `segment`, header already written and synced).
    pub(crate) fn new(
        fs: Arc<dyn WalFs>,
        dir: PathBuf,
        options: WalOptions,
        stats: Arc<WalStats>,
        file: Arc<dyn WalFile>,
        segment: u64,
    ) -> Self {
        Self {
            fs,
            dir,
            options,
            stats,
            state: Mutex::new(State {
                file,
                segment,
                offset: SEGMENT_HEADER_LEN as u64,
                written: 0,
                synced: 0,
                syncing: false,
                poisoned: None,
                buf: Vec::new(),
            }),
            durable: Condvar::new(),
            stop: Mutex::new(false),
            stop_signal: Condvar::new(),
        }
    }

    pub(crate) fn check_poisoned(&self, st: &State) -> Result<()> {
        match &st.poisoned {
            Some(reason) => Err(Error::Poisoned { dir: self.dir.clone(), reason: reason.clone() }),
            None => Ok(()),
        }
    }

    pub(crate) fn poison(&self, st: &mut State, err: Error) -> Error {
        tracing::error!(dir = %self.dir.display(), error = %err, "WAL poisoned");
        st.poisoned.get_or_insert_with(|| err.to_string());
        self.durable.notify_all();
        err
    }

    /// Encodes and writes `records`, rolling to new segments as they fill.
    pub(crate) fn write_batch(&self, st: &mut State, records: &[&[u8]]) -> Result<()> {
        let max = self.options.max_record_size;
        let mut buf = std::mem::take(&mut st.buf);
        buf.clear();
        let mut result = Ok(());
        for rec in records {
            let frame = record::frame_len(rec.len()) as u64;
            let used = st.offset + buf.len() as u64;
            if used + frame > self.options.segment_size && used > SEGMENT_HEADER_LEN as u64 {
                result = self.write_out(st, &buf).and_then(|()| self.roll(st));
                buf.clear();
                if result.is_err() {
                    break;
                }
            }
            record::encode(&mut buf, rec, max)?;
        }
        if result.is_ok() {
            result = self.write_out(st, &buf);
        }
        buf.clear();
        st.buf = buf;
        result
    }

    /// Writes encoded frames to the active segment. If the write fails, the
    /// segment is cut back to its previous length so the log stays usable;
    /// if even that fails, the log is poisoned.
    pub(crate) fn write_out(&self, st: &mut State, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let path = segment::segment_path(&self.dir, st.segment);
        if let Err(e) = st.file.write_all(bytes) {
            let err = Error::io("write segment", &path, e);
            if let Err(undo) = st.file.set_len(st.offset) {
                tracing::error!(path = %path.display(), error = %undo, "cannot undo failed WAL write");
                return Err(self.poison(st, err));
            }
            return Err(err);
        }
        st.offset += bytes.len() as u64;
        self.stats.bytes_written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Syncs the active segment and starts the next one.
    pub(crate) fn roll(&self, st: &mut State) -> Result<()> {
        let path = segment::segment_path(&self.dir, st.segment);
        let started = Instant::now();
        if let Err(e) = st.file.sync_data() {
            return Err(self.poison(st, Error::io("fsync segment", &path, e)));
        }
        self.stats.record_fsync(started.elapsed());
        st.synced = st.written;
        self.durable.notify_all();
        match segment::create_segment(&*self.fs, &self.dir, st.segment + 1) {
            Ok(file) => {
                st.file = file;
                st.segment += 1;
                st.offset = SEGMENT_HEADER_LEN as u64;
                self.stats.segments.fetch_add(1, Ordering::Relaxed);
                self.stats.segments_created.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(self.poison(st, e)),
        }
    }

    /// Blocks until batch `seq` is durable, leading an fsync when none runs.
    pub(crate) fn wait_durable(&self, st: &mut MutexGuard<'_, State>, seq: u64) -> Result<()> {
        loop {
            if st.synced >= seq {
                return Ok(());
            }
            self.check_poisoned(st)?;
            if st.syncing {
                self.durable.wait(st);
                continue;
            }
            st.syncing = true;
            let target = st.written;
            let file = Arc::clone(&st.file);
            let path = segment::segment_path(&self.dir, st.segment);
            let started = Instant::now();
            let result = MutexGuard::unlocked(st, || file.sync_data());
            st.syncing = false;
            match result {
                Ok(()) => {
                    self.stats.record_fsync(started.elapsed());
                    st.synced = st.synced.max(target);
                    self.durable.notify_all();
                }
                Err(e) => return Err(self.poison(st, Error::io("fsync segment", &path, e))),
            }
        }
    }

    /// Body of the interval flusher thread.
    pub(crate) fn flush_every(&self, every: Duration) {
        let mut stop = self.stop.lock();
        while !*stop {
            if self.stop_signal.wait_for(&mut stop, every).timed_out() {
                let mut st = self.state.lock();
                let seq = st.written;
                if st.poisoned.is_none()
                    && seq > st.synced
                    && let Err(e) = self.wait_durable(&mut st, seq)
                {
                    tracing::warn!(error = %e, "WAL interval fsync failed");
                }
            }
        }
    }
}
