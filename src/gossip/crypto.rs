//! Gossip encryption: every UDP packet and TCP frame is sealed with AES-GCM under the
//! cluster key (`encrypt`), so only agents holding the key are admitted.
//!
//! Envelope: one version byte (`0` plaintext, `1` sealed), then for sealed messages a 12-byte
//! random nonce and the ciphertext with its 16-byte tag.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AesGcm, aead::consts::U12};
use base64::Engine as _;

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

/// The installed gossip key, or none (plaintext cluster).
pub struct Keyring {
    cipher: Option<Cipher>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring(encrypted: {})", self.cipher.is_some())
    }
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
        let cipher = match key {
            None => None,
            Some(k) => Some(match k.len() {
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
            }),
        };
        Ok(Keyring { cipher })
    }

    /// Whether messages are sealed.
    pub fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// Wrap `plain` in an envelope (sealed when a key is installed).
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let Some(c) = &self.cipher else {
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
        match (ver, &self.cipher) {
            (PLAIN, None) => Ok(rest.to_vec()),
            (PLAIN, Some(_)) => Err(OpenError::Plaintext),
            (SEALED, None) => Err(OpenError::NoKey),
            (SEALED, Some(c)) => {
                if rest.len() < 12 + 16 {
                    return Err(OpenError::Truncated);
                }
                let (nonce, ct) = rest.split_at(12);
                let nonce: [u8; 12] = nonce.try_into().map_err(|_| OpenError::Truncated)?;
                let n = (&nonce).into();
                match c {
                    Cipher::A128(c) => c.decrypt(n, ct),
                    Cipher::A192(c) => c.decrypt(n, ct),
                    Cipher::A256(c) => c.decrypt(n, ct),
                }
                .map_err(|_| OpenError::Decrypt)
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
    fn keys_decode_like_consul() {
        let k = generate_key();
        assert_eq!(k.len(), 44);
        assert_eq!(decode_key(&k).unwrap().len(), 32);
        assert!(matches!(decode_key("abc"), Err(KeyError::Base64(_))));
        assert_eq!(decode_key("AAAA"), Err(KeyError::Size(3)));
    }
}
