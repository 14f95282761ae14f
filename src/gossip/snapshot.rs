//! Remembered peers under `<data_dir>/serf`, so a restarted agent finds its cluster again
//! without `-join` (Consul's serf snapshot does the same).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// What is remembered.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Gossip addresses of members alive at the last change.
    pub peers: Vec<String>,
    /// This agent left gracefully: do not rejoin on restart unless asked to.
    pub left: bool,
}

/// Replace the snapshot atomically (write then rename).
pub fn write(path: &Path, peers: &[String], left: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let s = Snapshot {
        peers: peers.to_vec(),
        left,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(&s).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

/// The previous snapshot, if readable.
pub fn read(path: &Path) -> Option<Snapshot> {
    let b = std::fs::read(path).ok()?;
    serde_json::from_slice(&b).ok()
}
