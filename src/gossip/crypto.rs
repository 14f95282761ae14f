//! Gossip encryption: every UDP packet and TCP frame is sealed with AES-GCM under the
//! cluster key (`encrypt`), so only agents holding the key are admitted.
//!
//! Envelope: one version byte (`0` plaintext, `1` sealed), then for sealed messages a 12-byte
//! random nonce and the ciphertext with its 16-byte tag.
//!
//! The keyring holds several keys so a key can be rotated without a member flapping:
//! messages are sealed with the primary key and opened with any installed one, so a new key
//! is installed everywhere first, then made primary, and only then is the old one removed.
//! The key set is swapped whole (`ArcSwap`): the packet path reads it without a lock.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AesGcm, aead::consts::U12};
use arc_swap::ArcSwap;
use base64::Engine as _;
use std::sync::Arc;

/// Bytes an envelope adds to a sealed message.
pub const OVERHEAD: usize = 1 + 12 + 16;

const PLAIN: u8 = 0;
const SEALED: u8 = 1;

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Empty or shorter than an envelope.
    #[error("truncated message")]
    Truncated,
    /// Unknown version byte.
    #[error("unknown message version {0}")]
    Version(u8),
    /// Sealed but this agent has no key.
    #[error("encrypted message received but no encryption key is configured (-encrypt)")]
    NoKey,
    /// Plaintext but this agent requires encryption.
    #[error(
        "unencrypted message received but encryption is required (the sender has no gossip key, -encrypt)"
    )]
    Plaintext,
    /// The tag did not verify: another key, or tampering.
    #[error("no installed key could decrypt the message (gossip key mismatch)")]
    Decrypt,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not standard base64.
    #[error("failed to decode encryption key: {0}")]
    Base64(String),
    /// Not 16, 24 or 32 bytes.
    #[error("key size must be 16, 24 or 32 bytes, got {0}")]
    Size(usize),
}

enum Cipher {
    A128(Box<AesGcm<Aes128, U12>>),
    A192(Box<AesGcm<Aes192, U12>>),
    A256(Box<AesGcm<Aes256, U12>>),
}

impl Cipher {
    fn new(k: &[u8]) -> Result<Cipher, KeyError> {
        Ok(match k.len() {
            16 => Cipher::A128(Box::new(
                AesGcm::new_from_slice(k).map_err(|_| KeyError::Size(16))?,
            )),
            24 => Cipher::A192(Box::new(
                AesGcm::new_from_slice(k).map_err(|_| KeyError::Size(24))?,
            )),
            32 => Cipher::A256(Box::new(
                AesGcm::new_from_slice(k).map_err(|_| KeyError::Size(32))?,
            )),
            n => return Err(KeyError::Size(n)),
        })
    }
}

/// One installed key.
struct Key {
    raw: Vec<u8>,
    cipher: Cipher,
}

/// The installed keys, the primary first; empty: a plaintext cluster.
#[derive(Default)]
struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    fn from_raw(raws: &[Vec<u8>]) -> Result<KeySet, KeyError> {
        let mut keys: Vec<Key> = Vec::with_capacity(raws.len());
        for r in raws {
            if keys.iter().any(|k| k.raw == *r) {
                continue;
            }
            keys.push(Key {
                cipher: Cipher::new(r)?,
                raw: r.clone(),
            });
        }
        Ok(KeySet { keys })
    }

    fn raws(&self) -> Vec<Vec<u8>> {
        self.keys.iter().map(|k| k.raw.clone()).collect()
    }
}

/// Why a keyring change was refused; the texts are Consul's (memberlist's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// The cluster runs without encryption: there is no keyring to change.
    #[error("No keyring to modify (encryption not enabled)")]
    NotEnabled,
    /// `use` of a key that was never installed.
    #[error("Requested key is not in the keyring")]
    NotInstalled,
    /// `remove` of the key messages are sealed with.
    #[error("Removing the primary key is not allowed")]
    RemovePrimary,
    /// A key of the wrong size or encoding.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The installed gossip keys (the primary seals), or none (plaintext cluster).
pub struct Keyring {
    set: ArcSwap<KeySet>,
    /// Encryption was on at start; a plaintext cluster never gains a key by rotation.
    enabled: bool,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keyring(encrypted: {}, keys: {})",
            self.enabled,
            self.set.load().keys.len()
        )
    }
}

/// A key as `consul keygen` prints it (standard base64).
pub fn encode_key(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Decode a base64 key as `consul keygen` prints it.
pub fn decode_key(b64: &str) -> Result<Vec<u8>, KeyError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| KeyError::Base64(e.to_string()))?;
    match raw.len() {
        16 | 24 | 32 => Ok(raw),
        n => Err(KeyError::Size(n)),
    }
}

/// A fresh 32-byte key in standard base64 (`disco keygen`).
pub fn generate_key() -> String {
    let mut k = [0u8; 32];
    rand::fill(&mut k);
    base64::engine::general_purpose::STANDARD.encode(k)
}

impl Keyring {
    /// A keyring for `key` (raw bytes, 16/24/32), or a plaintext one for `None`.
    pub fn new(key: Option<&[u8]>) -> Result<Keyring, KeyError> {
        let raws: Vec<Vec<u8>> = key.map(|k| vec![k.to_vec()]).unwrap_or_default();
        Keyring::with_keys(&raws)
    }

    /// A keyring holding `keys`, the first one primary; empty: plaintext.
    pub fn with_keys(keys: &[Vec<u8>]) -> Result<Keyring, KeyError> {
        let set = KeySet::from_raw(keys)?;
        Ok(Keyring {
            enabled: !set.keys.is_empty(),
            set: ArcSwap::from_pointee(set),
        })
    }

    /// Whether messages are sealed.
    pub fn encrypted(&self) -> bool {
        self.enabled
    }

    /// The installed keys, the primary first (raw bytes).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        self.set.load().raws()
    }

    /// Change the key set with `f` (given the keys, primary first); the new set replaces
    /// the old whole, so a packet sealed or opened meanwhile sees one or the other.
    fn change(
        &self,
        f: impl FnOnce(&mut Vec<Vec<u8>>) -> Result<(), KeyringError>,
    ) -> Result<(), KeyringError> {
        if !self.enabled {
            return Err(KeyringError::NotEnabled);
        }
        let mut raws = self.set.load().raws();
        f(&mut raws)?;
        self.set.store(Arc::new(KeySet::from_raw(&raws)?));
        Ok(())
    }

    /// Install `key` beside the others (opening messages sealed with it); installing one
    /// already there changes nothing.
    pub fn install(&self, key: &[u8]) -> Result<(), KeyringError> {
        Cipher::new(key)?;
        self.change(|raws| {
            if !raws.iter().any(|r| r == key) {
                raws.push(key.to_vec());
            }
            Ok(())
        })
    }

    /// Make the installed `key` the primary (sealing every message from now on).
    pub fn use_key(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.change(|raws| {
            let i = raws
                .iter()
                .position(|r| r == key)
                .ok_or(KeyringError::NotInstalled)?;
            let k = raws.remove(i);
            raws.insert(0, k);
            Ok(())
        })
    }

    /// Remove `key`; the primary cannot be removed, and an unknown key changes nothing.
    pub fn remove(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.change(|raws| {
            if raws.first().is_some_and(|p| p == key) {
                return Err(KeyringError::RemovePrimary);
            }
            raws.retain(|r| r != key);
            Ok(())
        })
    }

    /// Wrap `plain` in an envelope (sealed when a key is installed).
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let set = self.set.load();
        let Some(Key { cipher: c, .. }) = set.keys.first() else {
            let mut out = Vec::with_capacity(plain.len() + 1);
            out.push(PLAIN);
            out.extend_from_slice(plain);
            return out;
        };
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let n = (&nonce).into();
        let ct = match c {
            Cipher::A128(c) => c.encrypt(n, plain),
            Cipher::A192(c) => c.encrypt(n, plain),
            Cipher::A256(c) => c.encrypt(n, plain),
        }
        .unwrap_or_default();
        let mut out = Vec::with_capacity(13 + ct.len());
        out.push(SEALED);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// A plaintext envelope whatever the key: only for rejection notices, which carry no
    /// state and must be readable by a peer holding the wrong key.
    pub fn plain(plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plain.len() + 1);
        out.push(PLAIN);
        out.extend_from_slice(plain);
        out
    }

    /// Open an envelope.
    pub fn open(&self, msg: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&ver, rest) = msg.split_first().ok_or(OpenError::Truncated)?;
        let set = self.set.load();
        match (ver, set.keys.is_empty()) {
            (PLAIN, true) => Ok(rest.to_vec()),
            (PLAIN, false) => Err(OpenError::Plaintext),
            (SEALED, true) => Err(OpenError::NoKey),
            (SEALED, false) => {
                if rest.len() < 12 + 16 {
                    return Err(OpenError::Truncated);
                }
                let (nonce, ct) = rest.split_at(12);
                let nonce: [u8; 12] = nonce.try_into().map_err(|_| OpenError::Truncated)?;
                let n = (&nonce).into();
                // The primary first: it seals nearly every message; the others only while
                // a rotation is under way.
                set.keys
                    .iter()
                    .find_map(|k| {
                        match &k.cipher {
                            Cipher::A128(c) => c.decrypt(n, ct),
                            Cipher::A192(c) => c.decrypt(n, ct),
                            Cipher::A256(c) => c.decrypt(n, ct),
                        }
                        .ok()
                    })
                    .ok_or(OpenError::Decrypt)
            }
            (v, _) => Err(OpenError::Version(v)),
        }
    }

    /// Open an envelope that may be a plaintext rejection notice from a peer.
    pub fn open_or_plain(&self, msg: &[u8]) -> Result<Vec<u8>, OpenError> {
        match msg.first() {
            Some(&PLAIN) => Ok(msg[1..].to_vec()),
            _ => self.open(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_key_size() {
        for n in [16usize, 24, 32] {
            let key = vec![7u8; n];
            let k = Keyring::new(Some(&key)).unwrap();
            let sealed = k.seal(b"hello");
            assert_eq!(sealed.len(), 5 + OVERHEAD);
            assert_eq!(k.open(&sealed).unwrap(), b"hello");
        }
    }

    #[test]
    fn wrong_key_missing_key_and_garbage_are_refused() {
        let a = Keyring::new(Some(&[1u8; 32])).unwrap();
        let b = Keyring::new(Some(&[2u8; 32])).unwrap();
        let none = Keyring::new(None).unwrap();
        let sealed = a.seal(b"x");
        assert_eq!(b.open(&sealed), Err(OpenError::Decrypt));
        assert_eq!(none.open(&sealed), Err(OpenError::NoKey));
        assert_eq!(a.open(&none.seal(b"x")), Err(OpenError::Plaintext));
        assert_eq!(a.open(&[]), Err(OpenError::Truncated));
        assert_eq!(a.open(&[1, 2, 3]), Err(OpenError::Truncated));
        assert_eq!(a.open(&[9, 2, 3]), Err(OpenError::Version(9)));
    }

    #[test]
    fn a_key_rotates_without_a_message_refused() {
        let (old, new) = ([1u8; 32], [2u8; 16]);
        let a = Keyring::new(Some(&old)).unwrap();
        let b = Keyring::new(Some(&old)).unwrap();
        // Installed on both: either key opens, the old one still seals.
        a.install(&new).unwrap();
        b.install(&new).unwrap();
        // a switches first: b (still sealing with the old key) and a understand each other.
        a.use_key(&new).unwrap();
        assert_eq!(b.open(&a.seal(b"x")).unwrap(), b"x");
        assert_eq!(a.open(&b.seal(b"y")).unwrap(), b"y");
        b.use_key(&new).unwrap();
        assert_eq!(a.remove(&new), Err(KeyringError::RemovePrimary));
        a.remove(&old).unwrap();
        b.remove(&old).unwrap();
        assert_eq!(a.keys(), vec![new.to_vec()]);
        let only_old = Keyring::new(Some(&old)).unwrap();
        assert_eq!(a.open(&only_old.seal(b"z")), Err(OpenError::Decrypt));
        assert_eq!(a.use_key(&old), Err(KeyringError::NotInstalled));
        assert!(matches!(
            a.install(&[0u8; 7]),
            Err(KeyringError::Key(KeyError::Size(7)))
        ));
        let plain = Keyring::new(None).unwrap();
        assert_eq!(plain.install(&new), Err(KeyringError::NotEnabled));
        assert!(!plain.encrypted());
    }

    #[test]
    fn keys_decode_like_consul() {
        let k = generate_key();
        assert_eq!(k.len(), 44);
        assert_eq!(decode_key(&k).unwrap().len(), 32);
        assert!(matches!(decode_key("abc"), Err(KeyError::Base64(_))));
        assert_eq!(decode_key("AAAA"), Err(KeyError::Size(3)));
    }
}
