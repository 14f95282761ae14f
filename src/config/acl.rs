//! Consul's `acl { ... }` settings, with the legacy top-level `acl_*` keys mapped onto them.

use std::time::Duration;

use crate::acl::DefaultPolicy;

/// What a client agent does with a token it cannot resolve because no server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DownPolicy {
    /// Treat every request as allowed.
    Allow,
    /// Treat every request as denied.
    Deny,
    /// Keep using what was resolved before, past its TTL; a token never resolved is denied.
    #[default]
    ExtendCache,
    /// As `ExtendCache` (the refresh already runs in the background of each request).
    AsyncCache,
}

impl DownPolicy {
    /// Consul's spelling to the policy.
    pub fn parse(s: &str) -> Option<DownPolicy> {
        Some(match s {
            "allow" => DownPolicy::Allow,
            "deny" => DownPolicy::Deny,
            "extend-cache" => DownPolicy::ExtendCache,
            "async-cache" => DownPolicy::AsyncCache,
            _ => return None,
        })
    }
}

/// The tokens an agent uses for itself (`acl.tokens`), settable at runtime through
/// `/v1/agent/token/<type>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentTokens {
    /// Installed by a server on gaining leadership with global-management rights.
    pub initial_management: Option<String>,
    /// The agent's own calls (node registration, node checks); falls back to `default`.
    pub agent: Option<String>,
    /// Works on this agent's own endpoints even without servers.
    pub agent_recovery: Option<String>,
    /// Requests that carry no token, and DNS.
    pub default: Option<String>,
    /// Multi-datacenter replication (stored for `agent/token`, unused in one datacenter).
    pub replication: Option<String>,
    /// Services defined in config files.
    pub config_file_service_registration: Option<String>,
}

/// Consul's `acl` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclConfig {
    /// Enforce ACLs.
    pub enabled: bool,
    /// What a resource no rule mentions gets.
    pub default_policy: DefaultPolicy,
    /// What a client agent does when no server can resolve a token.
    pub down_policy: DownPolicy,
    /// How long a client agent keeps a resolved token (`token_ttl`; also `policy_ttl`,
    /// `role_ttl`, which disco folds into the token's entry).
    pub token_ttl: Duration,
    /// Persist tokens set through `/v1/agent/token/*` to `data_dir/acl-tokens.json`.
    pub enable_token_persistence: bool,
    /// `?recurse` and `?keys` need `list` on the prefix.
    pub enable_key_list_policy: bool,
    /// Shortest `ExpirationTTL` a token may be given.
    pub token_min_expiration_ttl: Duration,
    /// Longest `ExpirationTTL` a token may be given.
    pub token_max_expiration_ttl: Duration,
    /// The agent's own tokens.
    pub tokens: AgentTokens,
}

impl Default for AclConfig {
    fn default() -> Self {
        AclConfig {
            enabled: false,
            default_policy: DefaultPolicy::Allow,
            down_policy: DownPolicy::default(),
            token_ttl: Duration::from_secs(30),
            enable_token_persistence: false,
            enable_key_list_policy: false,
            token_min_expiration_ttl: Duration::from_secs(60),
            token_max_expiration_ttl: Duration::from_secs(24 * 3600),
            tokens: AgentTokens::default(),
        }
    }
}
