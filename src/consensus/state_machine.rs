//! The Raft state machine: applies committed commands to a working [`Store`] and publishes
//! a version after each batch.
//!
//! The store itself is not written to disk on every apply (like Consul's FSM over memdb):
//! durability comes from the fsynced log plus periodic snapshots. On start, openraft
//! restores the latest snapshot and re-applies the committed log after it.
//!
//! Versions are persistent maps, so the snapshot builder gets its own O(1) copy of the
//! working version (taken between two batches, with the applied position of exactly that
//! version) and streams it to the snapshot file on a blocking thread while applies go on.
//! No lock is shared between apply, readers and the builder.

use std::io::{self, BufReader, BufWriter, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::TypeConfig;
use crate::state::{Changes, Response, SharedStore, Store, snapshot};

const SNAPSHOT_KEY: &[u8] = b"current";

/// Entries applied before a version is published even inside one batch, so readers see a
/// long catch-up progress.
const PUBLISH_EVERY: usize = 4096;

/// A snapshot's bytes: the snapshot file on servers with a data directory, memory otherwise
/// (and for a snapshot received from the leader, until it is installed).
pub enum SnapshotData {
    /// An open snapshot file (it stays readable when a newer one replaces it).
    File(std::fs::File),
    /// Encoded bytes.
    Memory(Cursor<Vec<u8>>),
    /// A snapshot received from the leader, assembled in a temporary file; installing it
    /// makes that file the current snapshot.
    Received(std::fs::File, PathBuf),
}

impl Read for SnapshotData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SnapshotData::File(f) | SnapshotData::Received(f, _) => f.read(buf),
            SnapshotData::Memory(c) => c.read(buf),
        }
    }
}

/// A stored snapshot of earlier versions: its metadata plus the whole store in one value.
#[derive(Serialize, Deserialize)]
struct LegacySnapshot {
    meta: SnapshotMetaOf<TypeConfig>,
    data: Vec<u8>,
}

#[derive(Clone, Default)]
struct Applied {
    last_applied: Option<LogIdOf<TypeConfig>>,
    last_membership: StoredMembershipOf<TypeConfig>,
}

/// Where snapshots are kept; shared by the state machine and its builders.
#[derive(Clone)]
struct Snapshots {
    /// The legacy home of snapshots, and the only one without a data directory.
    tree: sled::Tree,
    /// Where the current snapshot lives on disk (`None`: in sled's memory, `-dev`).
    file: Option<PathBuf>,
    /// Last log index of the snapshot saved last: an older one never replaces it (a build
    /// and an install can finish in either order).
    saved: Arc<Mutex<u64>>,
    /// Makes temporary file names unique between a build and an install.
    seq: Arc<AtomicU64>,
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn sync_dir(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Hand memory freed after a snapshot back to the OS. glibc keeps freed memory in its
/// arenas, so without this the agent's RSS stays at its peak after a restore.
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn index_of(meta: &SnapshotMetaOf<TypeConfig>) -> u64 {
    meta.last_log_id.map(|l| l.index).unwrap_or(0)
}

impl Snapshots {
    fn tmp_path(path: &Path, seq: &AtomicU64) -> PathBuf {
        path.with_extension(format!("tmp{}", seq.fetch_add(1, Ordering::Relaxed)))
    }

    /// Make `tmp` (complete and fsynced) the current snapshot unless a newer one is saved.
    /// Returns whether it was.
    fn commit_file(&self, tmp: &Path, path: &Path, index: u64) -> io::Result<bool> {
        let mut saved = self.saved.lock();
        if index < *saved {
            let _ = std::fs::remove_file(tmp);
            return Ok(false);
        }
        std::fs::rename(tmp, path)?;
        sync_dir(path)?;
        *saved = index;
        drop(saved);
        // The legacy copy would shadow nothing (the file wins) but wastes space.
        let _ = self.tree.remove(SNAPSHOT_KEY);
        Ok(true)
    }

    /// Stream `store` into a new snapshot and make it current. Blocking: run it off the
    /// runtime. Returns the data to hand to openraft and its size.
    fn save_store(
        &self,
        store: &Store,
        meta: &SnapshotMetaOf<TypeConfig>,
    ) -> io::Result<(SnapshotData, u64)> {
        let meta_bytes = postcard::to_stdvec(meta).map_err(io_err)?;
        match &self.file {
            Some(path) => {
                let tmp = Self::tmp_path(path, &self.seq);
                let file = PacedWriteback::new(std::fs::File::create(&tmp)?);
                let mut w = BufWriter::with_capacity(1 << 20, file);
                let len = snapshot::write(store, &meta_bytes, &mut w).map_err(io_err)?;
                let file = w.into_inner().map_err(|e| e.into_error())?.into_inner();
                file.sync_all()?;
                drop(file);
                self.commit_file(&tmp, path, index_of(meta))?;
                let f = std::fs::File::open(path)?;
                Ok((SnapshotData::File(f), len))
            }
            None => {
                let bytes = snapshot::to_vec(store, &meta_bytes).map_err(io_err)?;
                let len = bytes.len() as u64;
                let mut saved = self.saved.lock();
                if index_of(meta) >= *saved {
                    self.tree
                        .insert(SNAPSHOT_KEY, bytes.as_slice())
                        .map_err(io_err)?;
                    *saved = index_of(meta);
                }
                drop(saved);
                Ok((SnapshotData::Memory(Cursor::new(bytes)), len))
            }
        }
    }

    /// Keep received snapshot bytes as the current snapshot. Blocking.
    fn save_bytes(&self, bytes: &[u8], index: u64) -> io::Result<()> {
        match &self.file {
            Some(path) => {
                let tmp = Self::tmp_path(path, &self.seq);
                {
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(bytes)?;
                    f.sync_all()?;
                }
                self.commit_file(&tmp, path, index)?;
            }
            None => {
                let mut saved = self.saved.lock();
                if index >= *saved {
                    self.tree.insert(SNAPSHOT_KEY, bytes).map_err(io_err)?;
                    *saved = index;
                }
            }
        }
        Ok(())
    }

    /// Make a received (complete, fsynced) snapshot file the current one. Blocking.
    fn save_received(&self, received: &Path, index: u64) -> io::Result<()> {
        match &self.file {
            Some(path) => {
                self.commit_file(received, path, index)?;
            }
            None => {
                let bytes = std::fs::read(received)?;
                let _ = std::fs::remove_file(received);
                self.save_bytes(&bytes, index)?;
            }
        }
        Ok(())
    }

    /// The current snapshot's metadata and data, converting one written by an earlier
    /// version on the way. Blocking.
    fn load(&self) -> io::Result<Option<(SnapshotMetaOf<TypeConfig>, SnapshotData)>> {
        if let Some(path) = &self.file {
            match std::fs::File::open(path) {
                Ok(mut f) => {
                    let mut magic = [0u8; 8];
                    let n = f.read(&mut magic)?;
                    f.rewind()?;
                    if n == magic.len() && &magic == snapshot::MAGIC {
                        let meta =
                            snapshot::read_meta(&mut BufReader::new(&mut f)).map_err(io_err)?;
                        let meta: SnapshotMetaOf<TypeConfig> =
                            postcard::from_bytes(&meta).map_err(io_err)?;
                        f.rewind()?;
                        return Ok(Some((meta, SnapshotData::File(f))));
                    }
                    let mut bytes = Vec::new();
                    f.read_to_end(&mut bytes)?;
                    return self.convert_legacy(&bytes).map(Some);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let Some(bytes) = self.tree.get(SNAPSHOT_KEY).map_err(io_err)? else {
            return Ok(None);
        };
        if bytes.starts_with(snapshot::MAGIC) {
            let meta = snapshot::read_meta(&mut &bytes[..]).map_err(io_err)?;
            let meta: SnapshotMetaOf<TypeConfig> = postcard::from_bytes(&meta).map_err(io_err)?;
            return Ok(Some((
                meta,
                SnapshotData::Memory(Cursor::new(bytes.to_vec())),
            )));
        }
        self.convert_legacy(&bytes).map(Some)
    }

    /// Rewrite a snapshot of an earlier version in the current format.
    fn convert_legacy(
        &self,
        bytes: &[u8],
    ) -> io::Result<(SnapshotMetaOf<TypeConfig>, SnapshotData)> {
        let legacy: LegacySnapshot = postcard::from_bytes(bytes).map_err(io_err)?;
        let store = snapshot::decode_legacy(&legacy.data).map_err(io_err)?;
        let (data, _) = self.save_store(&store, &legacy.meta)?;
        tracing::info!(
            index = index_of(&legacy.meta),
            "raft: converted a snapshot written by an earlier version"
        );
        Ok((legacy.meta, data))
    }
}

/// The state machine: the working version, where it stands in the log, and the shared
/// store it publishes to.
pub struct StateMachine {
    shared: Arc<SharedStore>,
    working: Store,
    applied: Applied,
    snapshots: Snapshots,
}

/// Builds one snapshot from the version frozen when openraft asked for the builder.
pub struct SnapshotBuilder {
    frozen: Store,
    applied: Applied,
    snapshots: Snapshots,
}

impl StateMachine {
    /// Open the state machine publishing to `shared`. With `snapshot_file`, snapshots are
    /// written there (fsynced, replaced atomically); without, they stay in `db`'s memory.
    ///
    /// Snapshots are kept out of sled on purpose: they are large, and Raft purges the log as
    /// soon as one is saved, so the write must be durable beyond doubt before that happens;
    /// a plain fsynced file and a rename give exactly that.
    pub fn open(
        db: &sled::Db,
        shared: Arc<SharedStore>,
        snapshot_file: Option<PathBuf>,
    ) -> sled::Result<Self> {
        Ok(StateMachine {
            working: (*shared.read()).clone(),
            shared,
            applied: Applied::default(),
            snapshots: Snapshots {
                tree: db.open_tree("raft_snapshot")?,
                file: snapshot_file,
                saved: Arc::default(),
                seq: Arc::default(),
            },
        })
    }

    fn publish(&self, changes: &Changes) {
        let old = self.shared.publish(self.working.clone(), changes);
        if changes.is_everything() {
            // A whole store was replaced: free the old one off the runtime.
            tokio::task::spawn_blocking(move || {
                drop(old);
                release_freed_memory();
            });
        }
    }
}

/// A file writer that keeps the dirty pages of a large sequential write to a few MiB.
///
/// Without it a snapshot of a large store leaves hundreds of MiB dirty in the page cache, and
/// the next journal commit (which every Raft log fsync that grows its file causes on ext4's
/// ordered mode) writes them all out first: puts stalled for the length of that writeback.
/// Every `WINDOW` bytes the window just written is handed to writeback, and the one before
/// it is waited for, so the final fsync finds almost nothing left to do.
struct PacedWriteback {
    file: std::fs::File,
    written: u64,
    /// Start of the window not yet handed to writeback.
    pending: u64,
}

impl PacedWriteback {
    const WINDOW: u64 = 8 << 20;

    fn new(file: std::fs::File) -> Self {
        PacedWriteback {
            file,
            written: 0,
            pending: 0,
        }
    }

    fn into_inner(self) -> std::fs::File {
        self.file
    }

    fn pace(&mut self) {
        use std::os::fd::AsRawFd;
        while self.written - self.pending >= Self::WINDOW {
            let fd = self.file.as_raw_fd();
            let (start, len) = (self.pending as i64, Self::WINDOW as i64);
            // SAFETY: plain syscalls on an open descriptor owned by `self.file`; a failure
            // only means the writeback happens later, at the final fsync.
            unsafe {
                libc::sync_file_range(fd, start, len, libc::SYNC_FILE_RANGE_WRITE);
                if start >= len {
                    libc::sync_file_range(
                        fd,
                        start - len,
                        len,
                        libc::SYNC_FILE_RANGE_WAIT_BEFORE
                            | libc::SYNC_FILE_RANGE_WRITE
                            | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                    );
                }
            }
            self.pending += Self::WINDOW;
        }
    }
}

impl Write for PacedWriteback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        self.pace();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotData>, io::Error> {
        let meta = SnapshotMetaOf::<TypeConfig> {
            last_log_id: self.applied.last_applied,
            last_membership: self.applied.last_membership.clone(),
        };
        let (frozen, snapshots, m) = (
            std::mem::take(&mut self.frozen),
            self.snapshots.clone(),
            meta.clone(),
        );
        let started = std::time::Instant::now();
        let (data, len) = tokio::task::spawn_blocking(move || {
            let r = snapshots.save_store(&frozen, &m);
            drop(frozen);
            r
        })
        .await
        .map_err(io_err)??;
        tracing::info!(
            index = index_of(&meta),
            bytes = len,
            "raft: snapshot taken (streamed from a frozen version in {} ms; applies went on)",
            started.elapsed().as_millis()
        );
        Ok(SnapshotOf::<TypeConfig, _> {
            meta,
            snapshot: data,
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<TypeConfig>>, StoredMembershipOf<TypeConfig>), io::Error> {
        Ok((
            self.applied.last_applied,
            self.applied.last_membership.clone(),
        ))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let mut changes = Changes::default();
        let mut replies = Vec::new();
        let mut unpublished = 0usize;
        while let Some((entry, responder)) = entries.try_next().await? {
            let index = entry.log_id.index;
            let response = match &entry.payload {
                EntryPayload::Blank => {
                    self.working.advance(index);
                    Response::None
                }
                EntryPayload::Normal(cmd) => self.working.apply(index, cmd, &mut changes),
                EntryPayload::Membership(m) => {
                    self.working.advance(index);
                    self.applied.last_membership =
                        StoredMembershipOf::<TypeConfig>::new(Some(entry.log_id), m.clone());
                    Response::None
                }
            };
            self.applied.last_applied = Some(entry.log_id);
            if let Some(r) = responder {
                replies.push((r, response));
            }
            unpublished += 1;
            if unpublished >= PUBLISH_EVERY {
                self.publish(&std::mem::take(&mut changes));
                unpublished = 0;
            }
        }
        // Publish before answering, so a client that reads after its write sees it.
        self.publish(&changes);
        for (r, response) in replies {
            r.send(response);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called between batches: this version and this position belong together.
        SnapshotBuilder {
            frozen: self.working.clone(),
            applied: self.applied.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<TypeConfig>,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        // Decode (streaming) and save on a blocking thread; swap in the new version after.
        let snapshots = self.snapshots.clone();
        let index = index_of(meta);
        let store = tokio::task::spawn_blocking(move || -> io::Result<Store> {
            match snapshot {
                SnapshotData::Memory(c) => {
                    let bytes = c.into_inner();
                    let (_, store) = snapshot::read(&mut bytes.as_slice()).map_err(io_err)?;
                    snapshots.save_bytes(&bytes, index)?;
                    Ok(store)
                }
                SnapshotData::File(f) => {
                    let (_, store) = snapshot::read(&mut BufReader::with_capacity(1 << 20, f))
                        .map_err(io_err)?;
                    Ok(store)
                }
                SnapshotData::Received(f, path) => {
                    let read = snapshot::read(&mut BufReader::with_capacity(1 << 20, f));
                    let store = match read {
                        Ok((_, store)) => store,
                        Err(e) => {
                            let _ = std::fs::remove_file(&path);
                            return Err(io_err(e));
                        }
                    };
                    snapshots.save_received(&path, index)?;
                    Ok(store)
                }
            }
        })
        .await
        .map_err(io_err)??;
        self.working = store;
        self.applied = Applied {
            last_applied: meta.last_log_id,
            last_membership: meta.last_membership.clone(),
        };
        self.publish(&Changes::everything());
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, Self::SnapshotData>>, io::Error> {
        let snapshots = self.snapshots.clone();
        let loaded = tokio::task::spawn_blocking(move || snapshots.load())
            .await
            .map_err(io_err)??;
        Ok(loaded.map(|(meta, data)| SnapshotOf::<TypeConfig, _> {
            meta,
            snapshot: data,
        }))
    }
}
