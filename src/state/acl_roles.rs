//! The ACL roles table: named bundles of policies and identities that tokens link to, by ID
//! with a unique-name index.

use serde::{Deserialize, Serialize};

use super::acl_named::{Named, NamedTable};
use super::acl_tokens::{NodeIdentity, ServiceIdentity};
use super::model::Name;

/// A role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRole {
    /// UUID.
    pub id: Name,
    /// Unique name.
    pub name: Name,
    /// Free text.
    pub description: String,
    /// Linked policy IDs.
    pub policies: Vec<String>,
    /// Service identities.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    pub node_identities: Vec<NodeIdentity>,
    /// Content hash.
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// Roles: by ID, with the unique-name index.
pub type RolesTable = NamedTable<AclRole>;

impl Named for AclRole {
    fn id(&self) -> &Name {
        &self.id
    }

    fn name(&self) -> &Name {
        &self.name
    }
}
