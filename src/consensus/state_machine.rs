//! The Raft state machine: applies committed commands to the in-memory [`Store`].
//!
//! The store itself is not written to disk on every apply (like Consul's FSM over memdb):
//! durability comes from the fsynced log plus periodic snapshots stored in sled. On start,
//! openraft restores the latest snapshot and re-applies the committed log after it.

use std::io::{self, Cursor};
use std::sync::{Arc, RwLock};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
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
    applied: Arc<std::sync::Mutex<Applied>>,
    db: sled::Db,
    snapshots: sled::Tree,
    durable: bool,
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl StateMachine {
    /// Open the snapshot tree of `db` around the shared store.
    pub fn open(db: &sled::Db, store: Arc<RwLock<Store>>, durable: bool) -> sled::Result<Self> {
        Ok(StateMachine {
            store,
            applied: Arc::default(),
            db: db.clone(),
            snapshots: db.open_tree("raft_snapshot")?,
            durable,
        })
    }

    fn load_snapshot(&self) -> io::Result<Option<StoredSnapshot>> {
        match self.snapshots.get(SNAPSHOT_KEY).map_err(io_err)? {
            Some(bytes) => Ok(Some(postcard::from_bytes(&bytes).map_err(io_err)?)),
            None => Ok(None),
        }
    }

    async fn save_snapshot(&self, snap: &StoredSnapshot) -> io::Result<()> {
        let bytes = postcard::to_stdvec(snap).map_err(io_err)?;
        self.snapshots.insert(SNAPSHOT_KEY, bytes).map_err(io_err)?;
        if self.durable {
            self.db.flush_async().await.map_err(io_err)?;
        }
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(
        &mut self,
    ) -> Result<SnapshotOf<TypeConfig, Self::SnapshotData>, io::Error> {
        // Serialize under the read lock together with the applied position so both match.
        let (data, meta) = {
            let store = self.store.read().map_err(io_err)?;
            let applied = self.applied.lock().map_err(io_err)?;
            let data = store.to_snapshot().map_err(io_err)?;
            let meta = SnapshotMetaOf::<TypeConfig> {
                last_log_id: applied.last_applied,
                last_membership: applied.last_membership.clone(),
            };
            (data, meta)
        };
        let snap = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.save_snapshot(&snap).await?;
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
        let a = self.applied.lock().map_err(io_err)?;
        Ok((a.last_applied, a.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let index = entry.log_id.index;
            let response = match &entry.payload {
                EntryPayload::Blank => {
                    self.store.write().map_err(io_err)?.advance(index);
                    Response::None
                }
                EntryPayload::Normal(cmd) => self.store.write().map_err(io_err)?.apply(index, cmd),
                EntryPayload::Membership(m) => {
                    self.store.write().map_err(io_err)?.advance(index);
                    self.applied.lock().map_err(io_err)?.last_membership =
                        StoredMembershipOf::<TypeConfig>::new(Some(entry.log_id), m.clone());
                    Response::None
                }
            };
            self.applied.lock().map_err(io_err)?.last_applied = Some(entry.log_id);
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
        self.store
            .write()
            .map_err(io_err)?
            .restore(&data)
            .map_err(io_err)?;
        {
            let mut a = self.applied.lock().map_err(io_err)?;
            a.last_applied = meta.last_log_id;
            a.last_membership = meta.last_membership.clone();
        }
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
