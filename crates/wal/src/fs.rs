//! The small file-system interface the WAL is written against.
//!
//! The WAL never calls `std::fs` directly; it goes through [`WalFs`] so that
//! tests can swap the real disk ([`RealFs`]) for an in-memory model that can
//! lose power at any moment ([`SimFs`](crate::SimFs)).
//!
//! Durability contract the WAL relies on, which both implementations honour:
//!
//! - Bytes written with [`WalFile::write_all`] survive a power cut only after a
//!   later [`WalFile::sync_data`] on the same file returned `Ok`.
//! - A new directory entry (from [`WalFs::create`], [`WalFs::rename`],
//!   [`WalFs::create_dir_all`]) or a removal survives only after
//!   [`WalFs::sync_dir`] on the parent returned `Ok`. `RealFs` additionally
//!   syncs the parent itself after create, rename and remove; the WAL still
//!   calls `sync_dir` explicitly, so the simulated file system, which does not
//!   sync on its own, checks that every such call is in place.
//! - [`WalFs::set_len`] is durable when it returns.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

/// An open file that the WAL appends to.
///
/// Handles are shared (`Arc`) between the appending thread and the thread that
/// runs fsync for a commit group, so every method takes `&self`.
pub trait WalFile: Send + Sync + fmt::Debug {
    /// Appends all of `buf` at the end of the file. On error, a prefix of
    /// `buf` may have been written.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;

    /// Makes every byte written so far durable (`fdatasync`). After an error
    /// the state of unsynced bytes is unknown and must not be retried as if
    /// nothing happened.
    fn sync_data(&self) -> io::Result<()>;

    /// Truncates (or zero-extends) the file to `len` bytes. Not durable by
    /// itself; follow with [`WalFile::sync_data`].
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The file name (last path component), lossily converted to UTF-8.
    pub name: String,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// The file-system operations the WAL needs.
///
/// Implementations must be usable from many threads at once.
pub trait WalFs: Send + Sync + fmt::Debug {
    /// Creates `dir` and any missing parents. Not durable until the parent
    /// is synced with [`WalFs::sync_dir`].
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Creates an empty file at `path` (truncating an existing one) and opens
    /// it for appending.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;

    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;

    /// Reads the whole file into memory.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// Maps the whole file read-only for random access: `mmap` on the real disk,
    /// a private copy by default. The file must not be written while mapped
    /// (block files are immutable once renamed into place).
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        self.read(path).map(Mapped::from)
    }

    /// Reads up to `buf.len()` bytes at byte `offset`; returns how many were
    /// read (0 at or past the end).
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Returns the file's length in bytes.
    fn file_len(&self, path: &Path) -> io::Result<u64>;

    /// Lists the entries of `dir` in no particular order.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;

    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Removes a directory and everything below it.
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Atomically renames `from` to `to` (files or directories).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Truncates the file at `path` to `len` bytes and makes that durable.
    fn set_len(&self, path: &Path, len: u64) -> io::Result<()>;

    /// Makes the entries of `dir` (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Makes `to` a second name of the immutable file `from` (a hard link on
    /// the real disk; a synced copy by default). Durable once the parent of
    /// `to` is synced.
    fn link_or_copy(&self, from: &Path, to: &Path) -> io::Result<()> {
        let bytes = self.read(from)?;
        let file = self.create(to)?;
        file.write_all(&bytes)?;
        file.sync_data()
    }
}

/// Creates `dir` and its missing ancestors, syncing each new entry's parent, so
/// that the whole path survives a power cut.
pub fn create_dir_durably(fs: &dyn WalFs, dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> =
        dir.ancestors().filter(|a| !a.as_os_str().is_empty()).take_while(|a| fs.list_dir(a).is_err()).collect();
    fs.create_dir_all(dir)?;
    for created in missing.iter().rev() {
        let parent = match created.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs.sync_dir(parent)?;
    }
    Ok(())
}

/// A read-only view of a whole file: a memory map or an owned copy.
pub struct Mapped(MappedInner);

enum MappedInner {
    Owned(Vec<u8>),
    Mmap(memmap2::Mmap),
}

impl From<Vec<u8>> for Mapped {
    fn from(bytes: Vec<u8>) -> Self {
        Self(MappedInner::Owned(bytes))
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            MappedInner::Owned(v) => v,
            MappedInner::Mmap(m) => m,
        }
    }
}

impl Mapped {
    /// Takes `len` bytes at `offset` out of the process's resident memory: the
    /// pages of a mapped file stay in the page cache, and reading them again
    /// maps them again, with the same bytes. A no-op for an owned copy, and
    /// past the end. A full scan of large blocks would otherwise leave every
    /// page of them counted in the process's resident set.
    #[expect(unsafe_code, reason = "madvise(MADV_DONTNEED) on a read-only file mapping; see SAFETY")]
    pub fn release(&self, offset: usize, len: usize) {
        let MappedInner::Mmap(map) = &self.0 else {
            return;
        };
        let len = len.min(map.len().saturating_sub(offset));
        if len == 0 {
            return;
        }
        // SAFETY: the map is a read-only mapping of a file that is never
        // written in place (see `RealFs::map`). Dropping its pages changes no
        // byte anyone reads through it: the next read faults the same file
        // contents back in from the page cache (or the disk).
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
    }
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            MappedInner::Owned(_) => "owned",
            MappedInner::Mmap(_) => "mmap",
        };
        f.debug_struct("Mapped").field("kind", &kind).field("len", &self.len()).finish()
    }
}

/// The real file system through `std::fs`.
///
/// Create, rename and remove fsync the parent directory before returning, so
/// namespace changes are durable on their own; `sync_data` is `fdatasync`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl RealFs {
    /// Returns a handle to the real file system.
    pub fn new() -> Self {
        Self
    }
}

#[derive(Debug)]
struct RealFile(File);

impl WalFile for RealFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        (&self.0).write_all(buf)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

impl WalFs for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        // `append` cannot be combined with `truncate`; truncate explicitly.
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        file.set_len(0)?;
        sync_parent(path)?;
        Ok(Arc::new(RealFile(file)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Arc::new(RealFile(file)))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    #[expect(unsafe_code, reason = "memory-mapping immutable block files is the point; see SAFETY")]
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Mapped::from(Vec::new()));
        }
        // SAFETY: block files are immutable after they are renamed into place and
        // are only ever replaced by rename, never written in place; a removed file
        // stays mapped until the map is dropped.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Mapped(MappedInner::Mmap(map)))
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            entries.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                is_dir: entry.file_type()?.is_dir(),
            });
        }
        Ok(entries)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)?;
        sync_parent(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::remove_dir_all(dir)?;
        sync_parent(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)?;
        sync_parent(to)?;
        if from.parent() != to.parent() {
            sync_parent(from)?;
        }
        Ok(())
    }

    fn set_len(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn link_or_copy(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to)
    }
}
