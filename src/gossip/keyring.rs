//! Keyring operations across the pool (`/v1/operator/keyring`, `disco keyring`): each alive
//! member applies the operation to its own keyring and answers with its keys; the caller
//! sums the answers per key as Consul's serf key manager does (`Keys: {key: nodes}`).
//!
//! Consul sends these as serf queries; here the caller asks each member directly on its
//! serf TCP port, sealed with the current primary key, so only a key holder can rotate
//! keys. Every member persists its keyring to `<data_dir>/serf/local.keyring` (the primary
//! first, Consul's file), which a restart reads before the `encrypt` key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tracing::{info, warn};

use super::crypto::{Keyring, KeyringError, encode_key};
use super::pushpull::{read_frame, write_frame};
use super::wire::TcpMsg;

/// How long a member has to answer one operation.
const MEMBER_TIMEOUT: Duration = Duration::from_secs(5);

/// A keyring operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOp {
    /// Report the installed keys.
    List,
    /// Add a key.
    Install,
    /// Make a key primary.
    Use,
    /// Remove a key.
    Remove,
}

/// One member's answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NodeKeyReply {
    /// The operation succeeded there.
    pub ok: bool,
    /// Why not.
    pub message: String,
    /// Its keys afterwards (base64), the primary first.
    pub keys: Vec<String>,
}

/// The pool's answer, summed over members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyringSummary {
    /// Members asked (alive ones, this agent included).
    pub num_nodes: usize,
    /// Members that answered.
    pub num_resp: usize,
    /// Members that failed, by name, with their reason.
    pub messages: BTreeMap<String, String>,
    /// Each key and how many members hold it.
    pub keys: BTreeMap<String, usize>,
    /// Each primary key and how many members seal with it.
    pub primary_keys: BTreeMap<String, usize>,
}

impl KeyringSummary {
    /// Consul's error when a member failed or did not answer.
    pub fn error(&self) -> Option<String> {
        if !self.messages.is_empty() {
            return Some(format!(
                "{}/{} nodes reported failure",
                self.messages.len(),
                self.num_nodes
            ));
        }
        (self.num_resp != self.num_nodes).then(|| {
            format!(
                "{}/{} nodes reported success",
                self.num_resp, self.num_nodes
            )
        })
    }
}

/// The keys a restart should use: the keyring file's when it exists (it overrides
/// `encrypt`, as Consul's does), else `encrypt`'s, which is then written to the file.
pub fn initial_keys(
    file: Option<&Path>,
    encrypt: Option<&[u8]>,
    pool: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let file = file.map(Path::to_path_buf);
    if let Some(f) = &file
        && let Ok(text) = std::fs::read_to_string(f)
    {
        let list: Vec<String> = serde_json::from_str(&text)
            .map_err(|e| format!("Failed to read keyring file {}: {e}", f.display()))?;
        let keys = list
            .iter()
            .map(|k| super::decode_key(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("Invalid key in keyring file {}: {e}", f.display()))?;
        if !keys.is_empty() {
            if encrypt.is_some() {
                warn!(
                    "gossip: WARNING: {pool} keyring exists but -encrypt given, using keyring ({})",
                    f.display()
                );
            }
            return Ok(keys);
        }
    }
    let keys: Vec<Vec<u8>> = encrypt.map(|k| vec![k.to_vec()]).unwrap_or_default();
    if let Some(f) = &file
        && !keys.is_empty()
    {
        persist(f, &keys);
    }
    Ok(keys)
}

/// Write the keyring file (mode 0600, replaced atomically); a failure is logged, the
/// in-memory keyring stays as changed.
fn persist(file: &Path, keys: &[Vec<u8>]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let list: Vec<String> = keys.iter().map(|k| encode_key(k)).collect();
    let body = match serde_json::to_vec(&list) {
        Ok(b) => b,
        Err(e) => return warn!("gossip: encoding the keyring: {e}"),
    };
    let tmp = file.with_extension("keyring.tmp");
    let write = || -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    };
    if let Err(e) = write() {
        warn!("gossip: writing {}: {e}", file.display());
    }
}

/// Apply `op` to this member's keyring and persist the result.
pub(super) fn apply_local(
    ring: &Keyring,
    file: Option<&PathBuf>,
    op: KeyOp,
    key: &[u8],
) -> NodeKeyReply {
    let result = match op {
        KeyOp::List if !ring.encrypted() => Err(KeyringError::NotEnabled),
        KeyOp::List => Ok(()),
        KeyOp::Install => ring.install(key),
        KeyOp::Use => ring.use_key(key),
        KeyOp::Remove => ring.remove(key),
    };
    let keys = ring.keys();
    if result.is_ok() && op != KeyOp::List {
        info!(
            "gossip: keyring {op:?} applied; {} key(s) installed",
            keys.len()
        );
        if let Some(f) = file {
            persist(f, &keys);
        }
    }
    NodeKeyReply {
        ok: result.is_ok(),
        message: result.err().map(|e| e.to_string()).unwrap_or_default(),
        keys: keys.iter().map(|k| encode_key(k)).collect(),
    }
}

/// Ask the member at `addr` to apply `op`.
pub(super) async fn ask(ring: &Keyring, addr: SocketAddr, op: KeyOp, key: &[u8]) -> NodeKeyReply {
    let fail = |m: String| NodeKeyReply {
        ok: false,
        message: m,
        keys: Vec::new(),
    };
    let msg = TcpMsg::Key {
        op,
        key: key.to_vec(),
    };
    let body = match postcard::to_allocvec(&msg) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let io = async {
        let mut s = TcpStream::connect(addr).await?;
        write_frame(&mut s, &ring.seal(&body)).await?;
        read_frame(&mut s).await
    };
    let reply = match tokio::time::timeout(MEMBER_TIMEOUT, io).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(format!("{addr}: {e}")),
        Err(_) => return fail(format!("{addr}: no answer within {MEMBER_TIMEOUT:?}")),
    };
    let plain = match ring.open_or_plain(&reply) {
        Ok(p) => p,
        Err(e) => return fail(format!("{addr}: {e}")),
    };
    match postcard::from_bytes::<TcpMsg>(&plain) {
        Ok(TcpMsg::KeyReply(r)) => r,
        Ok(TcpMsg::Rejected(why)) => fail(why),
        Ok(_) => fail(format!("{addr}: unexpected answer")),
        Err(e) => fail(format!("{addr}: {e}")),
    }
}

/// Sum the members' answers.
pub(super) fn summarize(replies: Vec<(String, NodeKeyReply)>, num_nodes: usize) -> KeyringSummary {
    let mut s = KeyringSummary {
        num_nodes,
        ..KeyringSummary::default()
    };
    for (node, r) in replies {
        s.num_resp += 1;
        if !r.ok {
            s.messages.insert(node, r.message);
        }
        if let Some(p) = r.keys.first() {
            *s.primary_keys.entry(p.clone()).or_default() += 1;
        }
        for k in r.keys {
            *s.keys.entry(k).or_default() += 1;
        }
    }
    s
}
