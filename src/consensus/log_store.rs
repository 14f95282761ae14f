//! The Raft log and vote in sled.
//!
//! Entries are keyed by their index as big-endian `u64` so ranges iterate in order. An
//! appended batch is acknowledged to Raft only after a `flush` of the database has made it
//! durable, but `append` itself returns as soon as the entries are readable: the leader
//! replicates them while its own fsync runs (as etcd does), and a follower's fsync overlaps
//! the next request's decoding.
//!
//! At most one fsync is in flight. An append that finds one running waits for it before
//! handing off its own; meanwhile Raft keeps queueing client writes, so under load each
//! append (and each fsync) carries a large batch, as it did when every append waited for its
//! own fsync (group commit), while a lone write never waits behind anything.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::type_config::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::{LogState, OptionalSend, RaftLogReader};

use super::TypeConfig;

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"last_purged";

/// sled-backed log store; cheap to clone (sled trees are shared handles).
#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    durable: bool,
    /// Held by the background purge thread; purges run one after another.
    purging: std::sync::Arc<parking_lot::Mutex<()>>,
    /// One permit: held by the fsync in flight. Every write that must be ordered after the
    /// pending fsync's acknowledgement (the next append, a vote, a truncation, a purge mark)
    /// takes it first.
    flushing: std::sync::Arc<tokio::sync::Semaphore>,
    /// The fsync thread of durable stores (see [`FsyncThread`]).
    fsync: Option<std::sync::Arc<FsyncThread>>,
}

/// An append waiting for its fsync: the acknowledgement, and the in-flight permit it holds.
type PendingFsync = (IOFlushed<TypeConfig>, tokio::sync::OwnedSemaphorePermit);

/// One thread that fsyncs appended entries and acknowledges them to Raft.
///
/// Written here rather than using sled's `flush_async`: that hands each flush to sled's
/// shared pool, whose queue wakes every idle pool thread (`notify_all`, up to seven) per
/// job. With one fsync per append that herd cost more CPU on a two-core server than the
/// fsync itself.
struct FsyncThread {
    jobs: std::sync::mpsc::Sender<PendingFsync>,
}

impl FsyncThread {
    fn start(db: sled::Db) -> io::Result<FsyncThread> {
        let (tx, rx) = std::sync::mpsc::channel::<PendingFsync>();
        std::thread::Builder::new()
            .name("raft-log-fsync".into())
            .spawn(move || {
                // Ends when the last log store handle (and with it the sender) is dropped.
                while let Ok((callback, permit)) = rx.recv() {
                    let res = db.flush().map(|_| ()).map_err(io_err);
                    if let Err(e) = &res {
                        tracing::error!("raft log fsync failed: {e}");
                    }
                    callback.io_completed(res);
                    drop(permit);
                }
            })?;
        Ok(FsyncThread { jobs: tx })
    }

    /// Queue the fsync for an append; a stopped thread answers the append with an error.
    fn submit(&self, job: PendingFsync) {
        let sent = self.jobs.send(job);
        if let Err(std::sync::mpsc::SendError((callback, _))) = sent {
            callback.io_completed(Err(io::Error::other("raft log fsync thread stopped")));
        }
    }
}

/// Remove the log entries at or below `upto`, in small batches: one sled batch of hundreds
/// of thousands of removals makes sled hold on to well over a gigabyte for the life of the
/// process.
fn remove_upto(log: &sled::Tree, upto: u64) -> sled::Result<()> {
    const CHUNK: usize = 1024;
    loop {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in log.range(..=upto.to_be_bytes()).take(CHUNK) {
            let (k, _) = item?;
            batch.remove(k);
            n += 1;
        }
        log.apply_batch(batch)?;
        if n < CHUNK {
            return Ok(());
        }
    }
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn encode<T: serde::Serialize>(v: &T) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(io_err)
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> io::Result<T> {
    postcard::from_bytes(b).map_err(io_err)
}

impl LogStore {
    /// Open the log trees of `db`. With `durable`, appends and votes are fsynced.
    pub fn open(db: &sled::Db, durable: bool) -> sled::Result<Self> {
        let fsync = match durable {
            true => Some(std::sync::Arc::new(
                FsyncThread::start(db.clone()).map_err(sled::Error::Io)?,
            )),
            false => None,
        };
        Ok(LogStore {
            db: db.clone(),
            log: db.open_tree("raft_log")?,
            meta: db.open_tree("raft_meta")?,
            durable,
            purging: Default::default(),
            flushing: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            fsync,
        })
        .inspect(|store| {
            // Entries a crash left below the purge mark are removed in the background.
            if let Ok(Some(purged)) = store.get_meta::<LogIdOf<TypeConfig>>(PURGED) {
                store.remove_purged_in_background(purged.index());
            }
        })
    }

    /// Wait until the fsync in flight (if any) has been acknowledged to Raft. Holding the
    /// permit orders the caller's write and fsync after it, so a truncation can never be
    /// overtaken by the acknowledgement of entries it removed.
    async fn after_pending_fsync(&self) -> io::Result<tokio::sync::SemaphorePermit<'_>> {
        self.flushing.acquire().await.map_err(io_err)
    }

    /// Make every write so far durable (`durable` stores only).
    async fn flush(&self) -> io::Result<()> {
        if self.durable {
            self.db.flush_async().await.map_err(io_err)?;
        }
        Ok(())
    }

    /// Delete the entries at or below `upto` on a background thread, one purge at a time.
    fn remove_purged_in_background(&self, upto: u64) {
        let (log, db, lock) = (self.log.clone(), self.db.clone(), self.purging.clone());
        let spawned = std::thread::Builder::new()
            .name("raft-log-purge".into())
            .spawn(move || {
                let _one_at_a_time = lock.lock();
                if let Err(e) = remove_upto(&log, upto) {
                    tracing::warn!("raft log purge up to {upto} stopped: {e}");
                }
                let _ = db.flush();
                super::state_machine::release_freed_memory();
            });
        if let Err(e) = spawned {
            tracing::warn!("raft log purge not started: {e}");
        }
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        match self.meta.get(key).map_err(io_err)? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    fn range_bytes<RB: RangeBounds<u64>>(range: &RB) -> (Bound<[u8; 8]>, Bound<[u8; 8]>) {
        let map = |b: Bound<&u64>| match b {
            Bound::Included(i) => Bound::Included(i.to_be_bytes()),
            Bound::Excluded(i) => Bound::Excluded(i.to_be_bytes()),
            Bound::Unbounded => Bound::Unbounded,
        };
        (map(range.start_bound()), map(range.end_bound()))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<EntryOf<TypeConfig>>, io::Error> {
        let mut out = Vec::new();
        for item in self.log.range(Self::range_bytes(&range)) {
            let (_, v) = item.map_err(io_err)?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<TypeConfig>>, io::Error> {
        self.get_meta(VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged: Option<LogIdOf<TypeConfig>> = self.get_meta(PURGED)?;
        let last = match self.log.last().map_err(io_err)? {
            Some((_, v)) => Some(decode::<EntryOf<TypeConfig>>(&v)?.log_id()),
            None => None,
        };
        // Entries still waiting for the background purge do not count.
        let last = match (last, &last_purged) {
            (Some(l), Some(p)) if l.index() <= p.index() => last_purged,
            (None, _) => last_purged,
            (l, _) => l,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<TypeConfig>) -> Result<(), io::Error> {
        let _turn = self.after_pending_fsync().await?;
        self.meta.insert(VOTE, encode(vote)?).map_err(io_err)?;
        self.flush().await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        // Not fsynced on its own: a lost value only means re-applying a little more after a
        // restart (it rides along with the next append's flush).
        self.meta
            .insert(COMMITTED, encode(&committed)?)
            .map_err(io_err)?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<TypeConfig>>, io::Error> {
        Ok(self
            .get_meta::<Option<LogIdOf<TypeConfig>>>(COMMITTED)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = EntryOf<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            batch.insert(&entry.index().to_be_bytes(), encode(&entry)?);
        }
        let Some(fsync) = &self.fsync else {
            self.log.apply_batch(batch).map_err(io_err)?;
            callback.io_completed(Ok(()));
            return Ok(());
        };
        // Wait for the fsync in flight: its acknowledgement goes first, and the writes Raft
        // queues meanwhile become the next (larger) batch.
        let turn = self
            .flushing
            .clone()
            .acquire_owned()
            .await
            .map_err(io_err)?;
        self.log.apply_batch(batch).map_err(io_err)?;
        // The entries are readable now (replication may send them); durability follows.
        fsync.submit((callback, turn));
        Ok(())
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        let _turn = self.after_pending_fsync().await?;
        let start = last_log_id.map(|l| l.index() + 1).unwrap_or(0);
        let mut batch = sled::Batch::default();
        for item in self.log.range(start.to_be_bytes()..) {
            let (k, _) = item.map_err(io_err)?;
            batch.remove(k);
        }
        self.log.apply_batch(batch).map_err(io_err)?;
        self.flush().await
    }

    async fn purge(&mut self, log_id: LogIdOf<TypeConfig>) -> Result<(), io::Error> {
        // Stored bare (not as an Option): `get_log_state` reads it back as a `LogId`.
        let _turn = self.after_pending_fsync().await?;
        self.meta.insert(PURGED, encode(&log_id)?).map_err(io_err)?;
        self.flush().await?;
        // The entries themselves go on a background thread: nothing reads below the purge
        // mark once it is stored, and deleting a few hundred thousand keys inline would hold
        // up appends and heartbeat answers for a noticeable time.
        self.remove_purged_in_background(log_id.index());
        Ok(())
    }
}
