//! The Raft state machine: applies committed commands to the in-memory [`Store`].
//!
//! The store itself is not written to disk on every apply (like Consul's FSM over memdb):
//! durability comes from the fsynced log plus periodic snapshots stored in sled. On start,
//! openraft restores the latest snapshot and re-applies the committed log after it.

use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::TypeConfig;
use crate::state::{Response, Store};

const SNAPSHOT_KEY: &[u8] = b"current";

/// A stored snapshot: its metadata plus the serialized tables.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMetaOf<TypeConfig>,
    data: Vec<u8>,
}

#[derive(Default)]
struct Applied {
    last_applied: Option<LogIdOf<TypeConfig>>,
    last_membership: StoredMembershipOf<TypeConfig>,
}

/// The state machine handle; clones share the same store.
#[derive(Clone)]
pub struct StateMachine {
    store: Arc<RwLock<Store>>,
    /// Where the store stands in the log; written only under the store's write guard, so a
    /// snapshot built under its read guard records exactly the entries its data contains.
    applied: Arc<Mutex<Applied>>,
    /// Size of the last snapshot, to size the next one's buffer.
    last_snapshot_len: Arc<std::sync::atomic::AtomicUsize>,
    snapshots: sled::Tree,
    /// Where the current snapshot lives on disk (`None`: in memory, `-dev`).
    snapshot_file: Option<PathBuf>,
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Replace `path` with `bytes` so that a crash leaves either the old or the new file, and the
/// new one is on disk before this returns.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Hand memory freed after a snapshot back to the OS. Building one allocates (and frees)
/// buffers the size of the whole store; glibc keeps such freed memory in its arenas, so
/// without this the agent's RSS stays at its snapshot-time peak.
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl StateMachine {
    /// Open the state machine around the shared store. With `snapshot_file`, snapshots are
    /// written there (fsynced, replaced atomically); without, they stay in `db`'s memory.
    ///
    /// Snapshots are kept out of sled on purpose: they are large single values, and Raft
    /// purges the log as soon as one is saved, so the write must be durable beyond doubt
    /// before that happens; a plain fsynced file and a rename give exactly that.
    pub fn open(
        db: &sled::Db,
        store: Arc<RwLock<Store>>,
        snapshot_file: Option<PathBuf>,
    ) -> sled::Result<Self> {
        Ok(StateMachine {
            store,
            applied: Arc::default(),
            last_snapshot_len: Arc::default(),
            snapshots: db.open_tree("raft_snapshot")?,
            snapshot_file,
        })
    }

    fn load_snapshot(&self) -> io::Result<Option<StoredSnapshot>> {
        if let Some(path) = &self.snapshot_file {
            match std::fs::read(path) {
                Ok(bytes) => return Ok(Some(postcard::from_bytes(&bytes).map_err(io_err)?)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        // Snapshots written by earlier versions live in the sled tree.
        match self.snapshots.get(SNAPSHOT_KEY).map_err(io_err)? {
            Some(bytes) => Ok(Some(postcard::from_bytes(&bytes).map_err(io_err)?)),
            None => Ok(None),
        }
    }

    async fn save_snapshot(&self, snap: &StoredSnapshot) -> io::Result<()> {
        let bytes = postcard::to_stdvec(snap).map_err(io_err)?;
        match &self.snapshot_file {
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                    .await
                    .map_err(io_err)??;
                // The legacy copy would shadow nothing (the file wins) but wastes space.
                let _ = self.snapshots.remove(SNAPSHOT_KEY);
            }
            None => {
                self.snapshots.insert(SNAPSHOT_KEY, bytes).map_err(io_err)?;
            }
        }
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(
        &mut self,
    ) -> Result<SnapshotOf<TypeConfig, Self::SnapshotData>, io::Error> {
        // Serialize under the read lock together with the applied position so both match,
        // on a blocking thread: a large store takes long enough to stall a runtime worker
        // (and with it heartbeats and reads) on a small machine.
        let (store, applied) = (self.store.clone(), self.applied.clone());
        let guess = self
            .last_snapshot_len
            .load(std::sync::atomic::Ordering::Relaxed);
        let started = std::time::Instant::now();
        let (data, meta) = tokio::task::spawn_blocking(move || -> io::Result<_> {
            let store = store.read();
            let applied = applied.lock();
            let data = store.to_snapshot_sized(guess + guess / 8).map_err(io_err)?;
            let meta = SnapshotMetaOf::<TypeConfig> {
                last_log_id: applied.last_applied,
                last_membership: applied.last_membership.clone(),
            };
            Ok((data, meta))
        })
        .await
        .map_err(io_err)??;
        let serialized = started.elapsed();
        self.last_snapshot_len
            .store(data.len(), std::sync::atomic::Ordering::Relaxed);
        let snap = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.save_snapshot(&snap).await?;
        release_freed_memory();
        tracing::info!(
            index = snap.meta.last_log_id.map(|l| l.index).unwrap_or(0),
            bytes = snap.data.len(),
            "raft: snapshot taken (serialised in {} ms under the store lock, saved in {} ms)",
            serialized.as_millis(),
            (started.elapsed() - serialized).as_millis()
        );
        Ok(SnapshotOf::<TypeConfig, _> {
            meta,
            snapshot: Cursor::new(snap.data),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = Cursor<Vec<u8>>;
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<TypeConfig>>, StoredMembershipOf<TypeConfig>), io::Error> {
        let a = self.applied.lock();
        Ok((a.last_applied, a.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let index = entry.log_id.index;
            let response = {
                // The entry's effect and the applied position change under one guard (store,
                // then applied: the builder's order), never across an await.
                let mut store = self.store.write();
                let response = match &entry.payload {
                    EntryPayload::Blank => {
                        store.advance(index);
                        Response::None
                    }
                    EntryPayload::Normal(cmd) => store.apply(index, cmd),
                    EntryPayload::Membership(m) => {
                        store.advance(index);
                        self.applied.lock().last_membership =
                            StoredMembershipOf::<TypeConfig>::new(Some(entry.log_id), m.clone());
                        Response::None
                    }
                };
                self.applied.lock().last_applied = Some(entry.log_id);
                response
            };
            if let Some(r) = responder {
                r.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<TypeConfig>,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        let data = snapshot.into_inner();
        // Decode on a blocking thread, swap under the write guard for only as long as the swap
        // takes, and free the old tables after it is released.
        let (data, decoded) = tokio::task::spawn_blocking(move || {
            let decoded = Store::decode_snapshot(&data);
            (data, decoded)
        })
        .await
        .map_err(io_err)?;
        let decoded = decoded.map_err(io_err)?;
        let old = {
            let mut store = self.store.write();
            let old = store.install(decoded);
            let mut a = self.applied.lock();
            a.last_applied = meta.last_log_id;
            a.last_membership = meta.last_membership.clone();
            old
        };
        tokio::task::spawn_blocking(move || drop(old));
        self.save_snapshot(&StoredSnapshot {
            meta: meta.clone(),
            data,
        })
        .await
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, Self::SnapshotData>>, io::Error> {
        Ok(self.load_snapshot()?.map(|s| SnapshotOf::<TypeConfig, _> {
            meta: s.meta,
            snapshot: Cursor::new(s.data),
        }))
    }
}
