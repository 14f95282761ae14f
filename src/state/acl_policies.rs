//! The ACL policies table: policies by ID, with the unique-name index that `Name`-linked
//! writes and `/v1/acl/policy/name/<name>` resolve through. Rules are kept as the text the
//! client sent (HCL or JSON) and echoed back unchanged; they were checked before the
//! write entered Raft, and the resolver parses them when it builds an authorizer.

use serde::{Deserialize, Serialize};

use super::acl_named::{Named, NamedTable};
use super::model::Name;

/// ID of the built-in policy that grants everything.
pub const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// ID of the built-in read-only policy.
pub const GLOBAL_READ_ONLY_ID: &str = "00000000-0000-0000-0000-000000000002";

/// A policy: a named set of rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclPolicy {
    /// UUID.
    pub id: Name,
    /// Unique name.
    pub name: Name,
    /// Free text.
    pub description: String,
    /// The rules as written.
    pub rules: String,
    /// Datacenters it applies in (empty: all).
    pub datacenters: Vec<String>,
    /// Content hash.
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// Policies: by ID, with the unique-name index.
pub type PoliciesTable = NamedTable<AclPolicy>;

impl Named for AclPolicy {
    fn id(&self) -> &Name {
        &self.id
    }

    fn name(&self) -> &Name {
        &self.name
    }
}
