//! The snapshot file format, written and read one record at a time so that neither side
//! ever holds a second copy of the store in memory.
//!
//! Layout: the magic [`MAGIC`], then frames of a little-endian `u32` length and a postcard
//! [`Record`]. The first record is the header (the Raft metadata, opaque here), the last is
//! [`Record::End`] with the number of records before it, so a cut-off file is an error
//! rather than a smaller store. Snapshots written before this format (one postcard value of
//! the whole store) are still read by [`decode_legacy`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use super::acl_policies::AclPolicy;
use super::acl_roles::AclRole;
use super::acl_tokens::AclToken;
use super::catalog::{share_check, share_service};
use super::model::{Check, KvEntry, Node, Service};
use super::queries::PreparedQuery;
use super::sessions::Session;
use super::store::Store;

/// The first bytes of a snapshot in this format.
pub const MAGIC: &[u8; 8] = b"DISCOSN2";

/// Largest record accepted when reading (a KV value is capped far below this).
const MAX_RECORD: usize = 64 << 20;

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the file failed.
    #[error("snapshot i/o: {0}")]
    Io(#[from] io::Error),
    /// A record did not decode.
    #[error("snapshot record: {0}")]
    Decode(#[from] postcard::Error),
    /// The data is not a snapshot this version knows.
    #[error("not a disco snapshot (bad magic)")]
    BadMagic,
    /// The file ends before its end record, or a record is malformed.
    #[error("snapshot is truncated or corrupt: {0}")]
    Corrupt(&'static str),
}

// Records are encoded one at a time from borrowed rows; boxing the large variants would
// allocate per record for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize)]
enum Record<'a> {
    Header {
        meta: Cow<'a, [u8]>,
    },
    Node(Cow<'a, Node>),
    Service(Cow<'a, Service>),
    Check(Cow<'a, Check>),
    Kv {
        key: Cow<'a, str>,
        value: Cow<'a, [u8]>,
        flags: u64,
        lock_index: u64,
        session: Option<Cow<'a, str>>,
        create_index: u64,
        modify_index: u64,
    },
    Tombstone {
        key: Cow<'a, str>,
        index: u64,
    },
    ServiceIndex {
        name: Cow<'a, str>,
        index: u64,
    },
    Indexes {
        nodes: u64,
        services: u64,
        checks: u64,
        kv: u64,
        graveyard_floor: u64,
        last_index: u64,
    },
    End {
        records: u64,
    },
    // Appended after `End` so the variant numbers of older snapshots stay valid.
    Session(Cow<'a, Session>),
    SessionsIndex {
        index: u64,
    },
    AclToken(Cow<'a, AclToken>),
    AclPolicy(Cow<'a, AclPolicy>),
    AclRole(Cow<'a, AclRole>),
    AclIndexes {
        tokens: u64,
        policies: u64,
        roles: u64,
        bootstrap: u64,
    },
    Query(Cow<'a, PreparedQuery>),
    QueriesIndex {
        index: u64,
    },
}

struct FrameWriter<'w, W: Write> {
    out: &'w mut W,
    scratch: Vec<u8>,
    records: u64,
    bytes: u64,
}

impl<W: Write> FrameWriter<'_, W> {
    fn put(&mut self, rec: &Record<'_>) -> Result<(), SnapshotError> {
        self.scratch.clear();
        let buf = postcard::to_extend(rec, std::mem::take(&mut self.scratch))?;
        let len =
            u32::try_from(buf.len()).map_err(|_| SnapshotError::Corrupt("record too large"))?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&buf)?;
        self.bytes += 4 + buf.len() as u64;
        self.scratch = buf;
        self.records += 1;
        Ok(())
    }
}

/// Write `store` with the opaque header `meta`; returns the bytes written. The caller
/// buffers `out` (a `BufWriter` over the file) and makes it durable.
pub fn write<W: Write>(store: &Store, meta: &[u8], out: &mut W) -> Result<u64, SnapshotError> {
    out.write_all(MAGIC)?;
    let mut w = FrameWriter {
        out,
        scratch: Vec::with_capacity(1024),
        records: 0,
        bytes: MAGIC.len() as u64,
    };
    w.put(&Record::Header {
        meta: Cow::Borrowed(meta),
    })?;
    for n in store.nodes.iter() {
        w.put(&Record::Node(Cow::Borrowed(n)))?;
    }
    for s in store.services.iter() {
        w.put(&Record::Service(Cow::Borrowed(s)))?;
    }
    for (name, index) in store.services.name_indexes() {
        w.put(&Record::ServiceIndex {
            name: Cow::Borrowed(name),
            index,
        })?;
    }
    for c in store.checks.iter() {
        w.put(&Record::Check(Cow::Borrowed(c)))?;
    }
    for s in store.sessions.iter() {
        w.put(&Record::Session(Cow::Borrowed(s)))?;
    }
    for e in store.kv.iter() {
        w.put(&Record::Kv {
            key: Cow::Borrowed(e.key()),
            value: Cow::Borrowed(e.value()),
            flags: e.flags,
            lock_index: e.lock_index,
            session: e.session.as_deref().map(Cow::Borrowed),
            create_index: e.create_index,
            modify_index: e.modify_index,
        })?;
    }
    for (key, index) in store.kv.tombstones() {
        w.put(&Record::Tombstone {
            key: Cow::Borrowed(key),
            index,
        })?;
    }
    w.put(&Record::Indexes {
        nodes: store.nodes.index(),
        services: store.services.index(),
        checks: store.checks.index(),
        kv: store.kv.index(),
        graveyard_floor: store.kv.graveyard_floor(),
        last_index: store.last_index,
    })?;
    w.put(&Record::SessionsIndex {
        index: store.sessions.index(),
    })?;
    for t in store.acl_tokens.iter() {
        w.put(&Record::AclToken(Cow::Borrowed(t)))?;
    }
    for p in store.acl_policies.iter() {
        w.put(&Record::AclPolicy(Cow::Borrowed(p)))?;
    }
    for r in store.acl_roles.iter() {
        w.put(&Record::AclRole(Cow::Borrowed(r)))?;
    }
    w.put(&Record::AclIndexes {
        tokens: store.acl_tokens.index(),
        policies: store.acl_policies.index(),
        roles: store.acl_roles.index(),
        bootstrap: store.acl_tokens.bootstrap_index(),
    })?;
    for q in store.queries.iter() {
        w.put(&Record::Query(Cow::Borrowed(q)))?;
    }
    w.put(&Record::QueriesIndex {
        index: store.queries.index(),
    })?;
    let records = w.records;
    w.put(&Record::End { records })?;
    Ok(w.bytes)
}

/// Encode into memory (snapshots of stores without a data directory, and tests).
pub fn to_vec(store: &Store, meta: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let mut out = Vec::new();
    write(store, meta, &mut out)?;
    Ok(out)
}

struct FrameReader<'r, R: Read> {
    input: &'r mut R,
    buf: Vec<u8>,
}

impl<R: Read> FrameReader<'_, R> {
    fn next(&mut self) -> Result<Record<'_>, SnapshotError> {
        let mut len = [0u8; 4];
        self.input
            .read_exact(&mut len)
            .map_err(|_| SnapshotError::Corrupt("ends before its end record"))?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_RECORD {
            return Err(SnapshotError::Corrupt("record length out of range"));
        }
        self.buf.resize(len, 0);
        self.input
            .read_exact(&mut self.buf)
            .map_err(|_| SnapshotError::Corrupt("ends inside a record"))?;
        Ok(postcard::from_bytes(&self.buf)?)
    }
}

fn check_magic<R: Read>(input: &mut R) -> Result<(), SnapshotError> {
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|_| SnapshotError::BadMagic)?;
    if &magic != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    Ok(())
}

/// Read only the header's metadata.
pub fn read_meta<R: Read>(input: &mut R) -> Result<Vec<u8>, SnapshotError> {
    check_magic(input)?;
    let mut r = FrameReader {
        input,
        buf: Vec::new(),
    };
    match r.next()? {
        Record::Header { meta } => Ok(meta.into_owned()),
        _ => Err(SnapshotError::Corrupt("first record is not the header")),
    }
}

/// Read a whole snapshot: its header's metadata and the store, built record by record.
pub fn read<R: Read>(input: &mut R) -> Result<(Vec<u8>, Store), SnapshotError> {
    check_magic(input)?;
    let mut r = FrameReader {
        input,
        buf: Vec::with_capacity(1024),
    };
    let meta = match r.next()? {
        Record::Header { meta } => meta.into_owned(),
        _ => return Err(SnapshotError::Corrupt("first record is not the header")),
    };
    let mut store = Store::default();
    let mut records = 1u64;
    loop {
        match r.next()? {
            Record::Header { .. } => return Err(SnapshotError::Corrupt("second header")),
            Record::Node(n) => store.nodes.restore(n.into_owned()),
            Record::Service(s) => {
                let s = share_service(&store.nodes, &store.services, s.into_owned());
                store.services.restore(s)
            }
            Record::ServiceIndex { name, index } => store.services.restore_name_index(&name, index),
            Record::Check(c) => {
                let c = share_check(&store.nodes, &store.services, &store.checks, c.into_owned());
                store.checks.restore(c)
            }
            Record::Kv {
                key,
                value,
                flags,
                lock_index,
                session,
                create_index,
                modify_index,
            } => {
                let mut e = KvEntry::new(&key, &value, flags, create_index);
                e.modify_index = modify_index;
                e.lock_index = lock_index;
                e.session = session.map(|s| s.as_ref().into());
                store.kv.restore_entry(e);
            }
            Record::Tombstone { key, index } => store.kv.restore_tombstone(&key, index),
            Record::Session(s) => store.sessions.restore(s.into_owned()),
            Record::SessionsIndex { index } => store.sessions.restore_index(index),
            Record::AclToken(t) => store.acl_tokens.restore(t.into_owned()),
            Record::AclPolicy(p) => store.acl_policies.restore(p.into_owned()),
            Record::AclRole(r) => store.acl_roles.restore(r.into_owned()),
            Record::AclIndexes {
                tokens,
                policies,
                roles,
                bootstrap,
            } => {
                store.acl_tokens.restore_indexes(tokens, bootstrap);
                store.acl_policies.restore_index(policies);
                store.acl_roles.restore_index(roles);
            }
            Record::Query(q) => store.queries.restore(q.into_owned()),
            Record::QueriesIndex { index } => store.queries.restore_index(index),
            Record::Indexes {
                nodes,
                services,
                checks,
                kv,
                graveyard_floor,
                last_index,
            } => {
                store.nodes.restore_index(nodes);
                store.services.restore_index(services);
                store.checks.restore_index(checks);
                store.kv.restore_indexes(kv, graveyard_floor);
                store.last_index = last_index;
            }
            Record::End { records: n } => {
                if n != records {
                    return Err(SnapshotError::Corrupt("record count does not match"));
                }
                return Ok((meta, store));
            }
        }
        records += 1;
    }
}

/// The whole-store value earlier versions wrote as one postcard blob.
#[derive(Deserialize)]
struct LegacyTables {
    nodes: BTreeMap<String, Node>,
    services: BTreeMap<(String, String), Service>,
    checks: BTreeMap<(String, String), Check>,
    kv: BTreeMap<String, LegacyKv>,
    indexes: [u64; 4],
    service_indexes: HashMap<String, u64>,
    last_index: u64,
}

#[derive(Deserialize)]
struct LegacyKv {
    key: String,
    value: Vec<u8>,
    flags: u64,
    lock_index: u64,
    session: String,
    create_index: u64,
    modify_index: u64,
}

/// Decode a snapshot written by an earlier version (one postcard value of the whole store).
pub fn decode_legacy(bytes: &[u8]) -> Result<Store, SnapshotError> {
    let t: LegacyTables = postcard::from_bytes(bytes)?;
    let mut store = Store::default();
    for (_, n) in t.nodes {
        store.nodes.restore(n);
    }
    for (_, s) in t.services {
        let s = share_service(&store.nodes, &store.services, s);
        store.services.restore(s);
    }
    for (_, c) in t.checks {
        let c = share_check(&store.nodes, &store.services, &store.checks, c);
        store.checks.restore(c);
    }
    for (_, e) in t.kv {
        let mut k = KvEntry::new(&e.key, &e.value, e.flags, e.create_index);
        k.modify_index = e.modify_index;
        k.lock_index = e.lock_index;
        k.session = (!e.session.is_empty()).then(|| e.session.as_str().into());
        store.kv.restore_entry(k);
    }
    for (name, index) in t.service_indexes {
        store.services.restore_name_index(&name, index);
    }
    let [nodes, services, checks, kv] = t.indexes;
    store.nodes.restore_index(nodes);
    store.services.restore_index(services);
    store.checks.restore_index(checks);
    store.kv.restore_indexes(kv, 0);
    store.last_index = t.last_index;
    Ok(store)
}
