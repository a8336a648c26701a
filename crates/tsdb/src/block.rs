//! Persistent blocks: immutable files holding every series' samples over a time
//! range, written once from the head or by compaction and read through mmap.
//!
//! - [`codec`]: one series' samples as integer columns (decimal values,
//!   delta-of-delta timestamps, bit-packed groups).
//! - [`format`]: the file layout (sections, tables, footer) and [`BlockMeta`].
//! - [`writer`]: [`BlockWriter`], atomic creation through `WalFs`.
//! - [`reader`]: [`Block`], validated open, selection, sample reads.
//! - [`tombstones`]: [`Tombstones`], deletions recorded beside a block.
//!
//! The byte layout is in `docs/storage-format.md`, "Blocks".

pub mod codec;
pub mod format;
pub mod reader;
pub mod tombstones;
pub mod writer;

pub use format::{BLOCK_SUFFIX, BlockMeta, block_name};
pub use reader::Block;
pub use tombstones::Tombstones;
pub use writer::BlockWriter;

#[cfg(test)]
mod tests;
