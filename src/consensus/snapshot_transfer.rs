//! Shipping a snapshot to a follower in chunks, so a store of any size crosses the server
//! RPC (whose frames are capped at 64 MiB) without either side holding it whole in memory,
//! and heartbeats keep flowing between chunks.
//!
//! The leader reads the snapshot file a chunk at a time and sends each as its own call; the
//! follower appends them to a temporary file beside its own snapshot and, on the last one,
//! hands that file to openraft, which installs it (streamed) and keeps it as the current
//! snapshot.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{SnapshotData, TypeConfig};

/// Bytes per chunk: large enough that a gigabyte is a few hundred calls, small enough that
/// a heartbeat waits behind at most one on a slow link.
pub const CHUNK: usize = 4 << 20;

/// One chunk of a snapshot on the wire.
#[derive(Serialize, Deserialize)]
pub struct ChunkWire {
    /// The sender's vote (checked by openraft on the last chunk).
    pub vote: VoteOf<TypeConfig>,
    /// The snapshot's metadata.
    pub meta: SnapshotMetaOf<TypeConfig>,
    /// Identifies one transfer; a new one abandons an unfinished one.
    pub transfer: u64,
    /// Where this chunk starts.
    pub offset: u64,
    /// The whole snapshot's size.
    pub total: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Read the next chunk of `data` (blocking). Returns the data back with the chunk.
pub fn read_chunk(mut data: SnapshotData, offset: u64) -> io::Result<(SnapshotData, Vec<u8>)> {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    match &mut data {
        SnapshotData::File(f) | SnapshotData::Received(f, _) => {
            f.seek(SeekFrom::Start(offset))?;
            while filled < buf.len() {
                let n = f.read(&mut buf[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
        }
        SnapshotData::Memory(c) => {
            let bytes = c.get_ref();
            let start = (offset as usize).min(bytes.len());
            let end = (start + CHUNK).min(bytes.len());
            buf[..end - start].copy_from_slice(&bytes[start..end]);
            filled = end - start;
        }
    }
    buf.truncate(filled);
    Ok((data, buf))
}

/// The size of `data` in bytes (blocking).
pub fn size_of(data: &SnapshotData) -> io::Result<u64> {
    match data {
        SnapshotData::File(f) | SnapshotData::Received(f, _) => Ok(f.metadata()?.len()),
        SnapshotData::Memory(c) => Ok(c.get_ref().len() as u64),
    }
}

struct Incoming {
    transfer: u64,
    written: u64,
    sink: Sink,
}

enum Sink {
    File(std::fs::File, PathBuf),
    Memory(Vec<u8>),
}

/// The follower's side: the one transfer being received.
pub struct Inbox {
    /// Where received snapshots are assembled (`None`: in memory, `-dev`).
    dir: Option<PathBuf>,
    /// The snapshot file's name without its extension; pieces are `<stem>.incoming<n>`.
    stem: String,
    current: Mutex<Option<Incoming>>,
}

/// What a received chunk amounts to.
pub enum Received {
    /// More chunks are due.
    Partial,
    /// The last chunk arrived: the whole snapshot, ready to install.
    Complete(SnapshotData),
}

impl Inbox {
    /// An inbox assembling snapshots beside `snapshot_file` (in memory without one). Removes
    /// what an interrupted transfer or snapshot build left there.
    pub fn new(snapshot_file: Option<PathBuf>) -> Self {
        let dir = snapshot_file
            .as_ref()
            .and_then(|p| p.parent())
            .map(|p| p.to_path_buf());
        if let (Some(file), Some(dir)) = (&snapshot_file, &dir) {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let leftovers = std::fs::read_dir(dir).into_iter().flatten().flatten();
            for entry in leftovers {
                let name = entry.file_name().to_string_lossy().into_owned();
                let ext = name.strip_prefix(&format!("{stem}.")).unwrap_or("");
                if ext.starts_with("incoming") || ext.starts_with("tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Inbox {
            dir,
            stem: snapshot_file
                .as_ref()
                .and_then(|f| f.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "raft-snapshot".into()),
            current: Mutex::new(None),
        }
    }

    /// Take one chunk. Blocking file I/O: call it off the runtime.
    pub fn receive(&self, c: &ChunkWire) -> io::Result<Received> {
        // Take the transfer out so no guard is held across the write.
        let taken = self.current.lock().take();
        let mut incoming = match taken {
            Some(i) if i.transfer == c.transfer && i.written == c.offset => i,
            other => {
                if let Some(Incoming {
                    sink: Sink::File(_, path),
                    ..
                }) = other
                {
                    let _ = std::fs::remove_file(path);
                }
                if c.offset != 0 {
                    return Err(io::Error::other(format!(
                        "snapshot chunk at {} of an unknown transfer",
                        c.offset
                    )));
                }
                Incoming {
                    transfer: c.transfer,
                    written: 0,
                    sink: match &self.dir {
                        Some(dir) => {
                            let path = dir.join(format!("{}.incoming{}", self.stem, c.transfer));
                            (std::fs::File::create(&path)?, path).into()
                        }
                        None => Sink::Memory(Vec::new()),
                    },
                }
            }
        };
        match &mut incoming.sink {
            Sink::File(f, _) => f.write_all(&c.data)?,
            Sink::Memory(v) => v.extend_from_slice(&c.data),
        }
        incoming.written += c.data.len() as u64;
        if incoming.written < c.total {
            *self.current.lock() = Some(incoming);
            return Ok(Received::Partial);
        }
        Ok(Received::Complete(match incoming.sink {
            Sink::File(f, path) => {
                f.sync_all()?;
                drop(f);
                SnapshotData::Received(std::fs::File::open(&path)?, path)
            }
            Sink::Memory(v) => SnapshotData::Memory(io::Cursor::new(v)),
        }))
    }
}

impl From<(std::fs::File, PathBuf)> for Sink {
    fn from((f, p): (std::fs::File, PathBuf)) -> Self {
        Sink::File(f, p)
    }
}
