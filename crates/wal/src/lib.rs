//! `wk-wal`: a segmented, checksummed write-ahead log with group commit.
//!
//! The contract: an acknowledged write is never lost, not by `kill -9`, not
//! by power loss, not by a torn tail; and no bytes on disk make it panic.
//!
//! Map of the crate (write path top to bottom, read path bottom to top):
//!
//! - [`writer`]: [`Wal`]: open with replay, `append` (or `write` returning a
//!   [`WriteTicket`], then `complete`), `sync`, segment
//!   rolls, checkpoint and truncation entry points; `group_commit` (private)
//!   holds the shared state and the leader/follower fsync protocol.
//! - [`options`]: [`WalOptions`] and [`FsyncMode`].
//! - [`checkpoint`]: atomic checkpoint directories and segment removal.
//! - [`reader`]: replay, torn-tail repair, resynchronisation after damage,
//!   [`ReplayReport`].
//! - [`segment`]: segment naming, header, creation.
//! - [`record`]: the frame of one record (length, CRC-32C, type, payload).
//! - [`fs`]: the [`WalFs`] file-system trait and [`RealFs`];
//!   [`sim_fs`]: [`SimFs`], an in-memory disk that can lose power.
//! - [`stats`]: [`WalStats`] counters for self-monitoring.
//! - [`error`]: [`Error`] and [`Result`].
//!
//! The on-disk format is described byte by byte in `docs/storage-format.md`.
//!
//! ```
//! use std::sync::Arc;
//! use wk_wal::{SimFs, Wal, WalOptions};
//!
//! let fs = Arc::new(SimFs::new());
//! let (wal, _report) = Wal::open(fs.clone(), "/data/wal", WalOptions::default())?;
//! wal.append(&[b"first record", b"second record"])?;
//! drop(wal);
//!
//! let mut replayed = Vec::new();
//! let (_wal, report) = Wal::open_with(fs, "/data/wal", WalOptions::default(), |rec| {
//!     replayed.push(rec.payload.to_vec());
//! })?;
//! assert_eq!(replayed, [b"first record".to_vec(), b"second record".to_vec()]);
//! assert!(!report.damage_found());
//! # Ok::<(), wk_wal::Error>(())
//! ```

pub mod checkpoint;
pub mod error;
pub mod fs;
mod group_commit;
pub mod options;
pub mod reader;
pub mod record;
pub mod segment;
pub mod sim_fs;
pub mod stats;
pub mod writer;

pub use checkpoint::CheckpointInfo;
pub use error::{Error, Result};
pub use fs::{DirEntry, Mapped, RealFs, WalFile, WalFs, create_dir_durably};
pub use options::{FsyncMode, WalOptions};
pub use reader::{RecordSource, ReplayRecord, ReplayReport, TornTail};
pub use sim_fs::SimFs;
pub use stats::WalStats;
pub use writer::{Lsn, Wal, WriteTicket};
