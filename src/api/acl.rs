//! Consul's ACL API shapes: token, policy and role bodies as clients send them (keys in any
//! case, as Go's decoder matches them) and as Consul answers (`omitempty` fields left out).

use serde::{Deserialize, Serialize};

use super::decode::{Field, Schema};

/// A link to a policy or role, by ID or by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// ID (empty when given by name).
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Name (filled in at read time).
    #[serde(rename = "Name", default)]
    pub name: String,
}

/// A service identity as the API shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceIdentityJson {
    /// Service name.
    #[serde(rename = "ServiceName", default)]
    pub service_name: String,
    /// Datacenters (absent: all).
    #[serde(rename = "Datacenters", default, skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
}

/// A node identity as the API shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentityJson {
    /// Node name.
    #[serde(rename = "NodeName", default)]
    pub node_name: String,
    /// Datacenter.
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
}

static LINK: Schema = Schema {
    fields: &[("ID", Field::Value), ("Name", Field::Value)],
    aliases: &[],
};

static SERVICE_IDENTITY: Schema = Schema {
    fields: &[("ServiceName", Field::Value), ("Datacenters", Field::Value)],
    aliases: &[],
};

static NODE_IDENTITY: Schema = Schema {
    fields: &[("NodeName", Field::Value), ("Datacenter", Field::Value)],
    aliases: &[],
};

/// `PUT /v1/acl/token[/<id>]` body.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenIn {
    /// Accessor ID (generated when empty).
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    /// Secret (generated when empty).
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// Policies by ID or name.
    #[serde(rename = "Policies")]
    pub policies: Option<Vec<Link>>,
    /// Roles by ID or name.
    #[serde(rename = "Roles")]
    pub roles: Option<Vec<Link>>,
    /// Service identities.
    #[serde(rename = "ServiceIdentities")]
    pub service_identities: Option<Vec<ServiceIdentityJson>>,
    /// Node identities.
    #[serde(rename = "NodeIdentities")]
    pub node_identities: Option<Vec<NodeIdentityJson>>,
    /// Datacenter-local.
    #[serde(rename = "Local")]
    pub local: bool,
    /// Expiry as RFC 3339.
    #[serde(rename = "ExpirationTime")]
    pub expiration_time: Option<String>,
    /// Expiry as a duration from now (`"10m"` or nanoseconds).
    #[serde(rename = "ExpirationTTL", with = "super::decode::dur")]
    pub expiration_ttl_ns: u64,
    /// Legacy field, refused when set.
    #[serde(rename = "Rules")]
    pub rules: Option<String>,
    /// Legacy field, refused when set.
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    /// Templated policies (not supported: refused when non-empty).
    #[serde(rename = "TemplatedPolicies")]
    pub templated_policies: Option<serde_json::Value>,
    /// Auth method (tokens from a login only).
    #[serde(rename = "AuthMethod")]
    pub auth_method: String,
}

/// Schema of [`TokenIn`]; read-only fields a client may echo back are accepted and ignored.
pub static TOKEN_SCHEMA: Schema = Schema {
    fields: &[
        ("AccessorID", Field::Value),
        ("SecretID", Field::Value),
        ("Description", Field::Value),
        ("Policies", Field::List(&LINK)),
        ("Roles", Field::List(&LINK)),
        ("ServiceIdentities", Field::List(&SERVICE_IDENTITY)),
        ("NodeIdentities", Field::List(&NODE_IDENTITY)),
        ("Local", Field::Value),
        ("ExpirationTime", Field::Value),
        ("ExpirationTTL", Field::Value),
        ("Rules", Field::Value),
        ("Type", Field::Value),
        ("TemplatedPolicies", Field::Value),
        ("AuthMethod", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("CreateTime", Field::Value),
        ("Hash", Field::Value),
        ("CreateIndex", Field::Value),
        ("ModifyIndex", Field::Value),
        ("Legacy", Field::Value),
        ("ID", Field::Value),
        ("Name", Field::Value),
    ],
    aliases: &[],
};

/// `PUT /v1/acl/token/<id>/clone` body.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CloneIn {
    /// Description of the copy (empty: the original's).
    #[serde(rename = "Description")]
    pub description: String,
}

/// Schema of [`CloneIn`].
pub static CLONE_SCHEMA: Schema = Schema {
    fields: &[("Description", Field::Value)],
    aliases: &[],
};

/// `PUT /v1/acl/policy[/<id>]` body.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PolicyIn {
    /// ID (only on update).
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// Rules in HCL or JSON.
    #[serde(rename = "Rules")]
    pub rules: String,
    /// Datacenters.
    #[serde(rename = "Datacenters")]
    pub datacenters: Option<Vec<String>>,
}

/// Schema of [`PolicyIn`].
pub static POLICY_SCHEMA: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Name", Field::Value),
        ("Description", Field::Value),
        ("Rules", Field::Value),
        ("Datacenters", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("Hash", Field::Value),
        ("CreateIndex", Field::Value),
        ("ModifyIndex", Field::Value),
    ],
    aliases: &[],
};

/// `PUT /v1/acl/role[/<id>]` body.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleIn {
    /// ID (only on update).
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// Policies by ID or name.
    #[serde(rename = "Policies")]
    pub policies: Option<Vec<Link>>,
    /// Service identities.
    #[serde(rename = "ServiceIdentities")]
    pub service_identities: Option<Vec<ServiceIdentityJson>>,
    /// Node identities.
    #[serde(rename = "NodeIdentities")]
    pub node_identities: Option<Vec<NodeIdentityJson>>,
}

/// Schema of [`RoleIn`].
pub static ROLE_SCHEMA: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Name", Field::Value),
        ("Description", Field::Value),
        ("Policies", Field::List(&LINK)),
        ("ServiceIdentities", Field::List(&SERVICE_IDENTITY)),
        ("NodeIdentities", Field::List(&NODE_IDENTITY)),
        ("TemplatedPolicies", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("Hash", Field::Value),
        ("CreateIndex", Field::Value),
        ("ModifyIndex", Field::Value),
    ],
    aliases: &[],
};

/// `PUT /v1/agent/token/<type>` body.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AgentTokenIn {
    /// The token.
    #[serde(rename = "Token")]
    pub token: String,
}

/// Schema of [`AgentTokenIn`].
pub static AGENT_TOKEN_SCHEMA: Schema = Schema {
    fields: &[("Token", Field::Value)],
    aliases: &[],
};

/// A token as Consul answers it (also the list stub, with `Legacy`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenOut {
    /// Accessor ID.
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    /// Secret, or `<hidden>` for a reader without `acl:write`.
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// Policies.
    #[serde(rename = "Policies", default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Link>,
    /// Roles.
    #[serde(rename = "Roles", default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Link>,
    /// Service identities.
    #[serde(
        rename = "ServiceIdentities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service_identities: Vec<ServiceIdentityJson>,
    /// Node identities.
    #[serde(
        rename = "NodeIdentities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub node_identities: Vec<NodeIdentityJson>,
    /// Datacenter-local.
    #[serde(rename = "Local")]
    pub local: bool,
    /// Expiry (RFC 3339).
    #[serde(
        rename = "ExpirationTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_time: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(rename = "CreateTime")]
    pub create_time: String,
    /// Content hash (base64).
    #[serde(rename = "Hash")]
    pub hash: String,
    /// Legacy (list stubs only; always false).
    #[serde(rename = "Legacy", default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<bool>,
    /// Secret again, under its pre-1.4 name (bootstrap answer only).
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A policy as Consul answers it (the list stub leaves out `Rules`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOut {
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// Rules as written.
    #[serde(rename = "Rules", default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// Datacenters.
    #[serde(rename = "Datacenters", default, skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
    /// Content hash (base64).
    #[serde(rename = "Hash")]
    pub hash: String,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A role as Consul answers it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleOut {
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// Policies.
    #[serde(rename = "Policies", default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Link>,
    /// Service identities.
    #[serde(
        rename = "ServiceIdentities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service_identities: Vec<ServiceIdentityJson>,
    /// Node identities.
    #[serde(
        rename = "NodeIdentities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub node_identities: Vec<NodeIdentityJson>,
    /// Content hash (base64).
    #[serde(rename = "Hash")]
    pub hash: String,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}
