//! The Raft log and vote. The vote and the commit and purge marks live in sled; the entries
//! of a server with a data directory live in segment files ([`super::log_files`]), those of a
//! `-dev` agent in a sled tree keyed by big-endian index.
//!
//! An appended batch is acknowledged to Raft only after an fsync has made it durable, but
//! `append` itself returns as soon as the entries are readable: the leader replicates them
//! while its own fsync runs (as etcd does), and a follower's fsync overlaps the next
//! request's decoding.
//!
//! At most one fsync is in flight. An append that finds one running waits for it before
//! handing off its own; meanwhile Raft keeps queueing client writes, so under load each
//! append (and each fsync) carries a large batch, as it did when every append waited for its
//! own fsync (group commit), while a lone write never waits behind anything.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::type_config::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::{LogState, OptionalSend, RaftLogReader};
use parking_lot::RwLock;

use super::TypeConfig;
use super::log_files::{LogFiles, frame, sync_dir};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"last_purged";

/// Where the entries live.
#[derive(Clone)]
enum Entries {
    /// Segment files (servers with a data directory; durable).
    Files(Arc<RwLock<LogFiles>>),
    /// A sled tree of a temporary database (`-dev`; nothing is fsynced).
    Tree(sled::Tree),
}

/// The Raft log store; cheap to clone (the readers openraft asks for share it).
#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    entries: Entries,
    meta: sled::Tree,
    /// Held by the background purge thread; purges run one after another.
    purging: Arc<parking_lot::Mutex<()>>,
    /// One permit: held by the fsync in flight. Every write that must be ordered after the
    /// pending fsync's acknowledgement (the next append, a vote, a truncation, a purge mark)
    /// takes it first.
    flushing: Arc<tokio::sync::Semaphore>,
    /// The fsync thread of durable stores (see [`FsyncThread`]).
    fsync: Option<Arc<FsyncThread>>,
}

/// An append waiting for its fsync: the file, the acknowledgement, and the in-flight permit.
type PendingFsync = (
    Arc<std::fs::File>,
    IOFlushed<TypeConfig>,
    tokio::sync::OwnedSemaphorePermit,
);

/// One thread that fsyncs appended entries and acknowledges them to Raft, so the Raft core
/// goes on (and replicates) while the disk works.
struct FsyncThread {
    jobs: std::sync::mpsc::Sender<PendingFsync>,
}

impl FsyncThread {
    fn start() -> io::Result<FsyncThread> {
        let (tx, rx) = std::sync::mpsc::channel::<PendingFsync>();
        std::thread::Builder::new()
            .name("raft-log-fsync".into())
            .spawn(move || {
                // Ends when the last log store handle (and with it the sender) is dropped.
                while let Ok((file, callback, permit)) = rx.recv() {
                    let res = file.sync_data();
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
        if let Err(std::sync::mpsc::SendError((_, callback, _))) = self.jobs.send(job) {
            callback.io_completed(Err(io::Error::other("raft log fsync thread stopped")));
        }
    }
}

/// Remove the tree's entries at or below `upto`, in small batches: one sled batch of
/// hundreds of thousands of removals makes sled hold on to well over a gigabyte for the life
/// of the process.
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
    /// Open the log of `db`: in segment files under `dir` (durable: appends and votes are
    /// fsynced), or, without a directory, in a tree of `db` (`-dev`, nothing fsynced).
    /// A log an older version kept in sled moves to `dir` on first open.
    pub fn open(db: &sled::Db, dir: Option<&Path>) -> io::Result<Self> {
        let meta = db.open_tree("raft_meta").map_err(io_err)?;
        let tree = db.open_tree("raft_log").map_err(io_err)?;
        let purged_mark = meta.get(PURGED).map_err(io_err)?;
        let purged = match purged_mark {
            Some(v) => Some(decode::<LogIdOf<TypeConfig>>(&v)?.index()),
            None => None,
        };
        let (entries, fsync) = match dir {
            Some(dir) => {
                if !dir.exists() && !tree.is_empty() {
                    migrate_from_tree(&tree, dir, purged)?;
                }
                let files = LogFiles::open(dir, purged)?;
                (
                    Entries::Files(Arc::new(RwLock::new(files))),
                    Some(Arc::new(FsyncThread::start()?)),
                )
            }
            None => (Entries::Tree(tree.clone()), None),
        };
        let store = LogStore {
            db: db.clone(),
            entries,
            meta,
            purging: Default::default(),
            flushing: Arc::new(tokio::sync::Semaphore::new(1)),
            fsync,
        };
        // Entries a crash left below the purge mark (or a migrated sled log) are removed
        // from the tree in the background.
        match (&store.entries, purged) {
            (Entries::Files(_), _) if !tree.is_empty() => {
                store.remove_from_tree_in_background(tree, u64::MAX)
            }
            (Entries::Tree(_), Some(p)) => store.remove_from_tree_in_background(tree, p),
            _ => {}
        }
        Ok(store)
    }

    /// Wait until the fsync in flight (if any) has been acknowledged to Raft. Holding the
    /// permit orders the caller's write and fsync after it, so a truncation can never be
    /// overtaken by the acknowledgement of entries it removed.
    async fn after_pending_fsync(&self) -> io::Result<tokio::sync::SemaphorePermit<'_>> {
        self.flushing.acquire().await.map_err(io_err)
    }

    /// Make the sled writes so far (vote, marks) durable (durable stores only).
    async fn flush(&self) -> io::Result<()> {
        if self.fsync.is_some() {
            self.db.flush_async().await.map_err(io_err)?;
        }
        Ok(())
    }

    /// Delete the tree's entries at or below `upto` on a background thread, one purge at a
    /// time.
    fn remove_from_tree_in_background(&self, log: sled::Tree, upto: u64) {
        let (db, lock) = (self.db.clone(), self.purging.clone());
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

    /// The last entry's log ID.
    fn last_log_id(&self) -> io::Result<Option<LogIdOf<TypeConfig>>> {
        let last = match &self.entries {
            Entries::Tree(tree) => match tree.last().map_err(io_err)? {
                Some((_, v)) => Some(decode::<EntryOf<TypeConfig>>(&v)?),
                None => None,
            },
            Entries::Files(files) => {
                let spans = {
                    let files = files.read();
                    match files.end() {
                        Some(end) if end > 0 => files.spans(end - 1..end),
                        _ => Vec::new(),
                    }
                };
                let mut last = None;
                for span in spans {
                    span.read(|p| {
                        last = Some(decode::<EntryOf<TypeConfig>>(p)?);
                        Ok(())
                    })?;
                }
                last
            }
        };
        Ok(last.map(|e| e.log_id()))
    }
}

/// Index bounds of `range` as a half-open `start..end`.
fn index_range<RB: RangeBounds<u64>>(range: &RB) -> std::ops::Range<u64> {
    let start = match range.start_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(i) => i.saturating_add(1),
        Bound::Excluded(i) => *i,
        Bound::Unbounded => u64::MAX,
    };
    start..end
}

/// Move a log an older version kept in sled into segment files: written to a temporary
/// directory, fsynced, then renamed into place, so a crash leaves either the sled log or the
/// complete files.
fn migrate_from_tree(tree: &sled::Tree, dir: &Path, purged: Option<u64>) -> io::Result<()> {
    let tmp = dir.with_extension("migrating");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let mut files = LogFiles::open(&tmp, None)?;
    let from = purged.map(|p| p + 1).unwrap_or(0);
    let mut buf = Vec::new();
    let mut lens = Vec::new();
    let mut first = None;
    for item in tree.range(from.to_be_bytes()..) {
        let (k, v) = item.map_err(io_err)?;
        let index = u64::from_be_bytes(k.as_ref().try_into().map_err(io_err)?);
        first.get_or_insert(index);
        lens.push(frame(&mut buf, &v)?);
    }
    if let Some(first) = first {
        let (file, at) = files.prepare_append(first)?;
        std::os::unix::fs::FileExt::write_all_at(&*file, &buf, at)?;
        file.sync_all()?;
        files.appended(&lens);
    }
    drop(files);
    std::fs::rename(&tmp, dir)?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    tracing::info!(
        "raft log: moved {} entries from sled to {}",
        lens.len(),
        dir.display()
    );
    Ok(())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<EntryOf<TypeConfig>>, io::Error> {
        let mut out = Vec::new();
        match &self.entries {
            Entries::Tree(tree) => {
                let r = index_range(&range);
                for item in tree.range(r.start.to_be_bytes()..r.end.to_be_bytes()) {
                    let (_, v) = item.map_err(io_err)?;
                    out.push(decode(&v)?);
                }
            }
            Entries::Files(files) => {
                // Copy the locations out; the reads happen without the lock.
                let spans = files.read().spans(index_range(&range));
                for span in spans {
                    span.read(|p| {
                        out.push(decode(p)?);
                        Ok(())
                    })?;
                }
            }
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
        let last = self.last_log_id()?;
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
        // restart (sled's own background flush, every half second, makes it durable).
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
        let (files, fsync) = match (&self.entries, &self.fsync) {
            (Entries::Files(files), Some(fsync)) => (files, fsync),
            (Entries::Tree(tree), _) => {
                let mut batch = sled::Batch::default();
                for entry in entries {
                    batch.insert(&entry.index().to_be_bytes(), encode(&entry)?);
                }
                tree.apply_batch(batch).map_err(io_err)?;
                callback.io_completed(Ok(()));
                return Ok(());
            }
            (Entries::Files(_), None) => return Err(io::Error::other("raft log has no fsync")),
        };
        let mut buf = Vec::new();
        let mut lens = Vec::new();
        let mut first = None;
        for entry in entries {
            first.get_or_insert(entry.index());
            lens.push(frame(&mut buf, &encode(&entry)?)?);
        }
        let Some(first) = first else {
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
        // Only the Raft core appends, one call at a time: the end of the newest segment
        // cannot move between the lookup and the write.
        let (file, at) = files.write().prepare_append(first)?;
        std::os::unix::fs::FileExt::write_all_at(&*file, &buf, at)?;
        files.write().appended(&lens);
        // The entries are readable now (replication may send them); durability follows.
        fsync.submit((file, callback, turn));
        Ok(())
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        let _turn = self.after_pending_fsync().await?;
        let start = last_log_id.map(|l| l.index() + 1).unwrap_or(0);
        match &self.entries {
            Entries::Tree(tree) => {
                let mut batch = sled::Batch::default();
                for item in tree.range(start.to_be_bytes()..) {
                    let (k, _) = item.map_err(io_err)?;
                    batch.remove(k);
                }
                tree.apply_batch(batch).map_err(io_err)?;
            }
            Entries::Files(files) => {
                let ((remove, cut), dir) = {
                    let mut files = files.write();
                    (files.truncate_from(start), files.dir().to_path_buf())
                };
                if let Some((file, len)) = cut {
                    file.set_len(len)?;
                    file.sync_data()?;
                }
                if !remove.is_empty() {
                    for path in &remove {
                        std::fs::remove_file(path)?;
                    }
                    sync_dir(&dir)?;
                }
            }
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<TypeConfig>) -> Result<(), io::Error> {
        // Stored bare (not as an Option): `get_log_state` reads it back as a `LogId`.
        let _turn = self.after_pending_fsync().await?;
        self.meta.insert(PURGED, encode(&log_id)?).map_err(io_err)?;
        self.flush().await?;
        match &self.entries {
            // The entries themselves go on a background thread: nothing reads below the
            // purge mark once it is stored, and deleting a few hundred thousand keys inline
            // would hold up appends and heartbeat answers for a noticeable time.
            Entries::Tree(tree) => {
                self.remove_from_tree_in_background(tree.clone(), log_id.index())
            }
            // Whole segments only; a crash before the removal leaves files `open` removes.
            Entries::Files(files) => {
                let remove = files.write().purge(log_id.index());
                for path in remove {
                    std::fs::remove_file(path)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::testing::blank_ent;

    #[tokio::test]
    async fn a_log_kept_in_sled_moves_to_segment_files_on_open() {
        let base = std::env::temp_dir().join(format!(
            "disco-log-migrate-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let db = sled::Config::new().path(base.join("db")).open().unwrap();
        // An older version's layout: entries 1..=5 in the `raft_log` tree, 1 and 2 purged.
        let tree = db.open_tree("raft_log").unwrap();
        for i in 1..=5u64 {
            let entry = blank_ent::<TypeConfig>(1, 1, i);
            tree.insert(i.to_be_bytes(), encode(&entry).unwrap())
                .unwrap();
        }
        let meta = db.open_tree("raft_meta").unwrap();
        let purged = blank_ent::<TypeConfig>(1, 1, 2).log_id();
        meta.insert(PURGED, encode(&purged).unwrap()).unwrap();

        let dir = base.join("raft-log");
        let mut store = LogStore::open(&db, Some(&dir)).unwrap();
        let indexes: Vec<u64> = store
            .try_get_log_entries(0..10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.index())
            .collect();
        assert_eq!(indexes, vec![3, 4, 5]);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.map(|l| l.index()), Some(5));
        assert!(dir.join(format!("{:020}.log", 3)).exists());
        drop(store);
        // The tree is emptied in the background; a second open reads the files alone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !tree.is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(tree.is_empty());
        let mut store = LogStore::open(&db, Some(&dir)).unwrap();
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.map(|l| l.index()), Some(5));
        drop((store, tree, meta, db));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
