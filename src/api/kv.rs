//! A KV entry as `GET /v1/kv/<key>` answers it, for clients (the lock and semaphore
//! helpers, the console).

use base64::Engine as _;
use serde::Deserialize;

/// One entry. `Value` is base64 in the JSON, `null` for an empty value written without a
/// body; [`KvPair::value`] decodes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvPair {
    /// Full key.
    pub key: String,
    /// Opaque flags (locks and semaphores mark their keys with theirs).
    #[serde(default)]
    pub flags: u64,
    /// Base64 value.
    #[serde(default)]
    pub value: Option<String>,
    /// The session holding the key, if any.
    #[serde(default)]
    pub session: Option<String>,
    /// How many times the key was locked.
    #[serde(default)]
    pub lock_index: u64,
    /// Raft index of creation.
    #[serde(default)]
    pub create_index: u64,
    /// Raft index of the last change (what `?cas=` compares).
    #[serde(default)]
    pub modify_index: u64,
}

impl KvPair {
    /// The decoded value (empty when absent or not base64).
    pub fn value(&self) -> Vec<u8> {
        self.value
            .as_deref()
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .unwrap_or_default()
    }

    /// The holding session, `None` when the key is not locked.
    pub fn holder(&self) -> Option<&str> {
        self.session.as_deref().filter(|s| !s.is_empty())
    }
}
