//! ACL writes that span the token, policy and role tables, decided in the state machine so
//! two racing writers cannot both win: a name or ID already taken, a second bootstrap, the
//! deletion of a built-in.

use serde::{Deserialize, Serialize};

use super::acl_policies::{AclPolicy, GLOBAL_MANAGEMENT_ID};
use super::acl_roles::AclRole;
use super::acl_tokens::AclToken;
use super::changes::Changes;
use super::command::Response;
use super::store::Store;

/// Accessor ID of the anonymous token, which requests without a token act as.
pub const ANONYMOUS_ACCESSOR: &str = "00000000-0000-0000-0000-000000000002";
/// Secret of the anonymous token.
pub const ANONYMOUS_SECRET: &str = "anonymous";

/// One ACL write.
// Ops are built once and moved into the log; boxing the large variants buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclOp {
    /// What a leader installs when it takes office: the built-in policies and the
    /// anonymous token when missing, and the configured initial management token when no
    /// token has its secret (which also ends the bootstrap).
    Init {
        /// Built-in policies.
        policies: Vec<AclPolicy>,
        /// The anonymous token.
        anonymous: AclToken,
        /// `acl.tokens.initial_management`, as a token.
        initial_management: Option<AclToken>,
    },
    /// `PUT /v1/acl/bootstrap`: allowed once, or again with the reset index.
    Bootstrap {
        /// The management token to create.
        token: AclToken,
        /// The reset index read from `acl-bootstrap-reset` (0: none).
        reset_index: u64,
    },
    /// Create (`create`) or update a token.
    TokenSet {
        /// The token, links resolved to IDs.
        token: AclToken,
        /// Create rather than update.
        create: bool,
    },
    /// Delete a token (unknown: nothing happens).
    TokenDelete {
        /// Accessor ID.
        accessor: String,
    },
    /// Create or update a policy.
    PolicySet {
        /// The policy.
        policy: AclPolicy,
        /// Create rather than update.
        create: bool,
    },
    /// Delete a policy.
    PolicyDelete {
        /// Policy ID.
        id: String,
    },
    /// Create or update a role.
    RoleSet {
        /// The role.
        role: AclRole,
        /// Create rather than update.
        create: bool,
    },
    /// Delete a role.
    RoleDelete {
        /// Role ID.
        id: String,
    },
}

impl std::fmt::Display for AclOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach a log line: only accessors and IDs.
        match self {
            AclOp::Init { .. } => write!(f, "acl-init"),
            AclOp::Bootstrap { token, .. } => write!(f, "acl-bootstrap {}", token.accessor_id),
            AclOp::TokenSet { token, create } => {
                write!(f, "acl-token-set {} create={create}", token.accessor_id)
            }
            AclOp::TokenDelete { accessor } => write!(f, "acl-token-delete {accessor}"),
            AclOp::PolicySet { policy, create } => {
                write!(f, "acl-policy-set {} create={create}", policy.id)
            }
            AclOp::PolicyDelete { id } => write!(f, "acl-policy-delete {id}"),
            AclOp::RoleSet { role, create } => {
                write!(f, "acl-role-set {} create={create}", role.id)
            }
            AclOp::RoleDelete { id } => write!(f, "acl-role-delete {id}"),
        }
    }
}

fn err(s: impl Into<String>) -> Response {
    Response::Error(s.into())
}

impl Store {
    /// Apply one ACL write at `index`. A refused write changes nothing.
    pub(super) fn apply_acl(&mut self, index: u64, op: &AclOp, changes: &mut Changes) -> Response {
        match op {
            AclOp::Init {
                policies,
                anonymous,
                initial_management,
            } => {
                for p in policies {
                    if self.acl_policies.get(&p.id).is_none() {
                        let mut p = p.clone();
                        p.create_index = index;
                        p.modify_index = index;
                        self.acl_policies.put(p, index, changes);
                    }
                }
                if self.acl_tokens.get(&anonymous.accessor_id).is_none() {
                    self.insert_token(index, anonymous.clone(), changes);
                }
                if let Some(t) = initial_management
                    && self.acl_tokens.by_secret(&t.secret_id).is_none()
                    && !self.acl_tokens.id_in_use(&t.accessor_id)
                {
                    self.insert_token(index, t.clone(), changes);
                    if self.acl_tokens.bootstrap_index() == 0 {
                        self.acl_tokens.set_bootstrapped(index, changes);
                    }
                }
                Response::Bool(true)
            }
            AclOp::Bootstrap { token, reset_index } => {
                let done = self.acl_tokens.bootstrap_index();
                if done != 0 && *reset_index != done {
                    return err(if *reset_index == 0 {
                        format!("ACL bootstrap no longer allowed (reset index: {done})")
                    } else {
                        format!(
                            "Invalid bootstrap reset index (specified {reset_index}, reset index: {done})"
                        )
                    });
                }
                if let Some(e) = self.token_ids_taken(token) {
                    return e;
                }
                self.insert_token(index, token.clone(), changes);
                self.acl_tokens.set_bootstrapped(index, changes);
                Response::Bool(true)
            }
            AclOp::TokenSet { token, create } => {
                if *create {
                    if let Some(e) = self.token_ids_taken(token) {
                        return e;
                    }
                    self.insert_token(index, token.clone(), changes);
                } else {
                    let Some(old) = self.acl_tokens.get(&token.accessor_id) else {
                        return err(format!(
                            "Cannot find token {:?}",
                            token.accessor_id.as_str()
                        ));
                    };
                    if old.secret_id != token.secret_id {
                        return err("Invalid Token: Cannot change the SecretID of a token");
                    }
                    let mut t = token.clone();
                    t.create_index = old.create_index;
                    t.create_time_ns = old.create_time_ns;
                    t.modify_index = index;
                    self.acl_tokens.put(t, index, changes);
                }
                Response::Bool(true)
            }
            AclOp::TokenDelete { accessor } => {
                if accessor == ANONYMOUS_ACCESSOR {
                    return err("Delete operation not permitted on the anonymous token");
                }
                self.acl_tokens.remove(accessor, index, changes);
                Response::Bool(true)
            }
            AclOp::PolicySet { policy, create } => self.set_policy(index, policy, *create, changes),
            AclOp::PolicyDelete { id } => {
                if id == GLOBAL_MANAGEMENT_ID {
                    return err(
                        "Delete operation not permitted on the builtin global-management policy",
                    );
                }
                if self.acl_policies.remove(id, index, changes).is_none() {
                    return err("Cannot find policy to delete");
                }
                Response::Bool(true)
            }
            AclOp::RoleSet { role, create } => {
                if let Some(other) = self.acl_roles.by_name(&role.name)
                    && other.id != role.id
                {
                    return err(format!(
                        "Invalid Role: A Role with Name {:?} already exists",
                        role.name.as_str()
                    ));
                }
                let mut r = role.clone();
                match (self.acl_roles.get(&role.id), create) {
                    (Some(_), true) => return err("Invalid Role: ID is already in use"),
                    (None, false) => {
                        return err(format!("Cannot find role {}", role.id));
                    }
                    (Some(old), false) => r.create_index = old.create_index,
                    (None, true) => r.create_index = index,
                }
                r.modify_index = index;
                self.acl_roles.put(r, index, changes);
                Response::Bool(true)
            }
            AclOp::RoleDelete { id } => {
                if self.acl_roles.remove(id, index, changes).is_none() {
                    return err("Cannot find role to delete");
                }
                Response::Bool(true)
            }
        }
    }

    fn set_policy(
        &mut self,
        index: u64,
        policy: &AclPolicy,
        create: bool,
        changes: &mut Changes,
    ) -> Response {
        if let Some(other) = self.acl_policies.by_name(&policy.name)
            && other.id != policy.id
        {
            return err(format!(
                "Invalid Policy: A Policy with Name {:?} already exists",
                policy.name.as_str()
            ));
        }
        let mut p = policy.clone();
        match (self.acl_policies.get(&policy.id), create) {
            (Some(_), true) => return err("Invalid Policy: ID is already in use"),
            (None, false) => return err(format!("Cannot find policy {}", policy.id)),
            (Some(old), false) => {
                if old.id.as_str() == GLOBAL_MANAGEMENT_ID
                    && (old.rules != p.rules || old.datacenters != p.datacenters)
                {
                    return err(
                        "Changing the Rules for the builtin global-management policy is not permitted",
                    );
                }
                p.create_index = old.create_index;
            }
            (None, true) => p.create_index = index,
        }
        p.modify_index = index;
        self.acl_policies.put(p, index, changes);
        Response::Bool(true)
    }

    /// An error when the token's accessor or secret is already used as either.
    fn token_ids_taken(&self, t: &AclToken) -> Option<Response> {
        if self.acl_tokens.id_in_use(&t.accessor_id) {
            return Some(err("Invalid Token: AccessorID is already in use"));
        }
        if self.acl_tokens.id_in_use(&t.secret_id) {
            return Some(err("Invalid Token: SecretID is already in use"));
        }
        None
    }

    fn insert_token(&mut self, index: u64, mut t: AclToken, changes: &mut Changes) {
        t.create_index = index;
        t.modify_index = index;
        self.acl_tokens.put(t, index, changes);
    }

    // ---- ACL queries ----

    /// One token by accessor ID.
    pub fn acl_token(&self, accessor: &str) -> Option<&AclToken> {
        self.acl_tokens.get(accessor)
    }

    /// One token by secret.
    pub fn acl_token_by_secret(&self, secret: &str) -> Option<&AclToken> {
        self.acl_tokens.by_secret(secret)
    }

    /// Every token, by accessor ID.
    pub fn acl_tokens(&self) -> impl Iterator<Item = &AclToken> {
        self.acl_tokens.iter()
    }

    /// The bootstrap's index (0 before it): the reset index an operator writes back.
    pub fn acl_bootstrap_index(&self) -> u64 {
        self.acl_tokens.bootstrap_index()
    }

    /// One policy by ID.
    pub fn acl_policy(&self, id: &str) -> Option<&AclPolicy> {
        self.acl_policies.get(id)
    }

    /// One policy by name.
    pub fn acl_policy_by_name(&self, name: &str) -> Option<&AclPolicy> {
        self.acl_policies.by_name(name)
    }

    /// Every policy, by ID.
    pub fn acl_policies(&self) -> impl Iterator<Item = &AclPolicy> {
        self.acl_policies.iter()
    }

    /// One role by ID.
    pub fn acl_role(&self, id: &str) -> Option<&AclRole> {
        self.acl_roles.get(id)
    }

    /// One role by name.
    pub fn acl_role_by_name(&self, name: &str) -> Option<&AclRole> {
        self.acl_roles.by_name(name)
    }

    /// Every role, by ID.
    pub fn acl_roles(&self) -> impl Iterator<Item = &AclRole> {
        self.acl_roles.iter()
    }
}
