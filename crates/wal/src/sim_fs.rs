//! An in-memory file system that can lose power, for crash tests.
//!
//! [`SimFs`] keeps, for every file, the bytes *written* apart from the bytes
//! *synced*, and for every directory, the entries the running process sees
//! apart from the entries made durable by [`WalFs::sync_dir`]. A
//! [`SimFs::power_cut`] then throws away everything that was not synced,
//! exactly as a machine losing power would:
//!
//! - a file (or directory) whose parent directory was not synced after its
//!   creation or rename disappears; a removal that was not synced is undone;
//! - bytes appended after the last `sync_data` are dropped;
//! - optionally (`tear = true`), the unsynced tail of each file is *torn*: a
//!   random prefix of it survives, possibly followed by a few garbage or zero
//!   bytes, as when a disk writes part of a request before power fails.
//!
//! Handles opened before a power cut fail every later operation, like the
//! file descriptors of a process that died with the machine.
//!
//! [`SimFs::fail_writes_after`] injects a failing process instead: once the
//! given number of bytes has been written, the write in progress stops part
//! way and every later mutating operation fails until the next power cut.
//!
//! Directories are nodes too, so renaming a directory moves its contents.
//! Paths are resolved component by component from an always-durable root;
//! `.` and `..` components are not supported.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Component, Path};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::fs::{DirEntry, WalFile, WalFs};

const ROOT: u64 = 0;

/// An in-memory [`WalFs`] that models power loss; see the module docs.
///
/// Cloning yields another handle to the same simulated disk.
#[derive(Debug, Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<SimState>>,
}

#[derive(Debug)]
enum Node {
    File { data: Vec<u8>, synced: Vec<u8> },
    Dir { live: BTreeMap<String, u64>, durable: BTreeMap<String, u64> },
}

#[derive(Debug)]
struct SimState {
    nodes: HashMap<u64, Node>,
    next_id: u64,
    generation: u64,
    /// Bytes that may still be written before the injected failure.
    write_budget: Option<u64>,
    /// Set once the injected failure fired: all mutations fail.
    dead: bool,
}

impl Default for SimState {
    fn default() -> Self {
        let root = Node::Dir { live: BTreeMap::new(), durable: BTreeMap::new() };
        Self { nodes: HashMap::from([(ROOT, root)]), next_id: 1, generation: 0, write_budget: None, dead: false }
    }
}

fn err(kind: io::ErrorKind, msg: &str) -> io::Error {
    io::Error::new(kind, msg.to_owned())
}

fn names(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for comp in path.components() {
        match comp {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::Normal(name) => out.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => return Err(err(io::ErrorKind::InvalidInput, "`..` in path")),
        }
    }
    Ok(out)
}

/// A small deterministic generator (SplitMix64) so that the library does not
/// depend on `rand`.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

impl SimState {
    fn check_alive(&self) -> io::Result<()> {
        if self.dead {
            return Err(err(io::ErrorKind::Other, "simulated process failure"));
        }
        Ok(())
    }

    fn dir_live(&mut self, id: u64) -> io::Result<&mut BTreeMap<String, u64>> {
        match self.nodes.get_mut(&id) {
            Some(Node::Dir { live, .. }) => Ok(live),
            _ => Err(err(io::ErrorKind::NotADirectory, "not a directory")),
        }
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let mut id = ROOT;
        for name in names(path)? {
            id = match self.nodes.get(&id) {
                Some(Node::Dir { live, .. }) => {
                    *live.get(&name).ok_or_else(|| err(io::ErrorKind::NotFound, "no such file or directory"))?
                }
                _ => return Err(err(io::ErrorKind::NotADirectory, "not a directory")),
            };
        }
        Ok(id)
    }

    /// Returns the parent directory id and the last component of `path`.
    fn parent_of(&self, path: &Path) -> io::Result<(u64, String)> {
        let mut parts = names(path)?;
        let name = parts.pop().ok_or_else(|| err(io::ErrorKind::InvalidInput, "empty path"))?;
        let parent: std::path::PathBuf = parts.iter().collect();
        Ok((self.lookup(&parent)?, name))
    }

    fn alloc(&mut self, node: Node) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.nodes.insert(id, node);
        id
    }

    fn file_mut(&mut self, id: u64) -> io::Result<(&mut Vec<u8>, &mut Vec<u8>)> {
        match self.nodes.get_mut(&id) {
            Some(Node::File { data, synced }) => Ok((data, synced)),
            _ => Err(err(io::ErrorKind::IsADirectory, "not a file")),
        }
    }

    fn file_data(&self, path: &Path) -> io::Result<&Vec<u8>> {
        match self.nodes.get(&self.lookup(path)?) {
            Some(Node::File { data, .. }) => Ok(data),
            _ => Err(err(io::ErrorKind::IsADirectory, "not a file")),
        }
    }
}

impl SimFs {
    /// Creates an empty simulated disk with only a root directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a power cut: every unsynced byte and directory entry is
    /// lost, and open handles stop working. With `tear`, each file's unsynced
    /// tail is replaced by a random prefix of it, sometimes followed by up to
    /// 32 garbage or zero bytes. `seed` makes the outcome reproducible.
    ///
    /// Whatever survives is the new synced state. An injected failure from
    /// [`SimFs::fail_writes_after`] is cleared.
    pub fn power_cut(&self, seed: u64, tear: bool) {
        let mut state = self.state.lock();
        let mut rng = SplitMix(seed);
        let mut ids: Vec<u64> = state.nodes.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            match state.nodes.get_mut(&id) {
                Some(Node::Dir { live, durable }) => *live = durable.clone(),
                Some(Node::File { data, synced }) => {
                    let mut kept = synced.clone();
                    let extended = data.len() > synced.len() && data.starts_with(synced);
                    if tear && extended {
                        let tail = &data[synced.len()..];
                        let keep = rng.below(tail.len() as u64 + 1) as usize;
                        kept.extend_from_slice(&tail[..keep]);
                        match rng.below(4) {
                            0 => kept.extend((0..rng.below(32) + 1).map(|_| rng.next() as u8)),
                            1 => kept.resize(kept.len() + rng.below(32) as usize + 1, 0),
                            _ => {}
                        }
                    }
                    *data = kept.clone();
                    *synced = kept;
                }
                None => {}
            }
        }
        state.generation += 1;
        state.write_budget = None;
        state.dead = false;
    }

    /// Injects a process failure: after `bytes` more bytes have been written
    /// (across all files), the write that crosses the limit stores only the
    /// bytes up to it and fails, and every later write, sync, create, rename,
    /// removal or truncation fails until [`SimFs::power_cut`].
    pub fn fail_writes_after(&self, bytes: u64) {
        self.state.lock().write_budget = Some(bytes);
    }

    /// Returns the bytes the running process would read from `path`
    /// (written, not necessarily synced), or `None` if it does not exist.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        self.state.lock().file_data(path).ok().cloned()
    }

    /// Replaces the contents of `path` and marks them synced, creating the
    /// file (durably) if needed; for tests that damage files on purpose.
    pub fn overwrite(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        let (parent, name) = state.parent_of(path)?;
        let id = match state.lookup(path) {
            Ok(id) => id,
            Err(_) => {
                let id = state.alloc(Node::File { data: Vec::new(), synced: Vec::new() });
                if let Some(Node::Dir { live, durable }) = state.nodes.get_mut(&parent) {
                    live.insert(name.clone(), id);
                    durable.insert(name, id);
                }
                id
            }
        };
        let (data, synced) = state.file_mut(id)?;
        *data = bytes.to_vec();
        *synced = bytes.to_vec();
        Ok(())
    }
}

#[derive(Debug)]
struct SimFile {
    state: Arc<Mutex<SimState>>,
    id: u64,
    generation: u64,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut SimState) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.state.lock();
        if state.generation != self.generation {
            return Err(err(io::ErrorKind::Other, "handle from before a power cut"));
        }
        state.check_alive()?;
        f(&mut state)
    }
}

impl WalFile for SimFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.with(|state| {
            let allowed = match state.write_budget {
                Some(budget) if budget < buf.len() as u64 => {
                    state.write_budget = Some(0);
                    state.dead = true;
                    budget as usize
                }
                Some(budget) => {
                    state.write_budget = Some(budget - buf.len() as u64);
                    buf.len()
                }
                None => buf.len(),
            };
            let dead = state.dead;
            let (data, _) = state.file_mut(self.id)?;
            data.extend_from_slice(&buf[..allowed]);
            if dead {
                return Err(err(io::ErrorKind::Other, "simulated failure during write"));
            }
            Ok(())
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with(|state| {
            let (data, synced) = state.file_mut(self.id)?;
            synced.clone_from(data);
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|state| {
            let (data, _) = state.file_mut(self.id)?;
            data.resize(len as usize, 0);
            Ok(())
        })
    }
}

impl WalFs for SimFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.check_alive()?;
        let mut id = ROOT;
        for name in names(dir)? {
            let existing = state.dir_live(id)?.get(&name).copied();
            id = match existing {
                Some(child) => child,
                None => {
                    let child = state.alloc(Node::Dir { live: BTreeMap::new(), durable: BTreeMap::new() });
                    state.dir_live(id)?.insert(name, child);
                    child
                }
            };
        }
        state.dir_live(id).map(|_| ())
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let mut state = self.state.lock();
        state.check_alive()?;
        let (parent, name) = state.parent_of(path)?;
        let id = state.alloc(Node::File { data: Vec::new(), synced: Vec::new() });
        state.dir_live(parent)?.insert(name, id);
        let generation = state.generation;
        Ok(Arc::new(SimFile { state: Arc::clone(&self.state), id, generation }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let state = self.state.lock();
        let id = state.lookup(path)?;
        state.file_data(path)?;
        Ok(Arc::new(SimFile { state: Arc::clone(&self.state), id, generation: state.generation }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.state.lock().file_data(path).cloned()
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let state = self.state.lock();
        let data = state.file_data(path)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(self.state.lock().file_data(path)?.len() as u64)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let state = self.state.lock();
        let id = state.lookup(dir)?;
        let Some(Node::Dir { live, .. }) = state.nodes.get(&id) else {
            return Err(err(io::ErrorKind::NotADirectory, "not a directory"));
        };
        Ok(live
            .iter()
            .map(|(name, child)| DirEntry {
                name: name.clone(),
                is_dir: matches!(state.nodes.get(child), Some(Node::Dir { .. })),
            })
            .collect())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.check_alive()?;
        state.file_data(path)?;
        let (parent, name) = state.parent_of(path)?;
        state.dir_live(parent)?.remove(&name);
        Ok(())
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.check_alive()?;
        let (parent, name) = state.parent_of(dir)?;
        let live = state.dir_live(parent)?;
        live.remove(&name).map(|_| ()).ok_or_else(|| err(io::ErrorKind::NotFound, "no such directory"))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.check_alive()?;
        let (from_parent, from_name) = state.parent_of(from)?;
        let (to_parent, to_name) = state.parent_of(to)?;
        let id = state
            .dir_live(from_parent)?
            .remove(&from_name)
            .ok_or_else(|| err(io::ErrorKind::NotFound, "rename source missing"))?;
        state.dir_live(to_parent)?.insert(to_name, id);
        Ok(())
    }

    fn set_len(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        state.check_alive()?;
        let id = state.lookup(path)?;
        let (data, synced) = state.file_mut(id)?;
        data.resize(len as usize, 0);
        synced.clone_from(data);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.check_alive()?;
        let id = state.lookup(dir)?;
        match state.nodes.get_mut(&id) {
            Some(Node::Dir { live, durable }) => {
                durable.clone_from(live);
                Ok(())
            }
            _ => Err(err(io::ErrorKind::NotADirectory, "not a directory")),
        }
    }
}
