//! Who a request is: a token secret resolved to an [`Identity`] (accessor, description and
//! the [`Authorizer`] of its merged rules).
//!
//! Servers resolve from their own state store; the answer is cached per secret together
//! with the ACL tables' index, so any token, policy or role write invalidates it at once
//! and a read costs one hash lookup. Client agents ask a server over the RPC and keep the
//! answer for `acl.token_ttl`; when no server answers they follow `acl.down_policy`.
//! Parsed rules are cached by policy ID and modify index, so tokens sharing a policy parse
//! it once.
//!
//! Secrets never reach a log line or an error text; only accessor IDs do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::{Agent, AgentError};
use crate::acl::{Authorizer, DefaultPolicy, Rules};
use crate::config::acl::{AgentTokens, DownPolicy};
use crate::rpc::{Reply, Request, ResolvedToken};
use crate::state::{ANONYMOUS_ACCESSOR, ANONYMOUS_SECRET, GLOBAL_MANAGEMENT_ID, Store, Table};

/// The `Description` of the anonymous token.
pub const ANONYMOUS_DESCRIPTION: &str = "Anonymous Token";

/// Secrets that are names of Consul's root policies or the redaction sentinel: never a
/// token (CVE-2019-8336: a secret equal to `<hidden>` once borrowed another token's rights).
const NEVER_SECRETS: &[&str] = &["<hidden>", "allow", "deny", "manage"];

/// A resolved caller.
#[derive(Debug)]
pub struct Identity {
    /// The token's accessor ID (named in `Permission denied` texts).
    pub accessor: String,
    /// The token's description (shown by the console).
    pub description: String,
    /// What it may do.
    pub authorizer: Authorizer,
}

/// Why a token did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Unknown, expired or a reserved name: Consul's `403 ACL not found`.
    #[error("ACL not found")]
    NotFound,
    /// No server could be asked and the down policy does not decide.
    #[error("{0}")]
    Unavailable(String),
}

struct Cached {
    /// The ACL index the entry was built at (servers) or when it was fetched (clients).
    index: u64,
    fetched: Instant,
    identity: Arc<Identity>,
}

/// Token resolution and the agent's own tokens.
pub struct AclResolver {
    /// Secret → identity. A leaf lock: copied out, never held across a call.
    cache: Mutex<HashMap<String, Cached>>,
    /// (policy ID, modify index) → parsed rules. A leaf lock.
    rules: Mutex<HashMap<(String, u64), Arc<Rules>>>,
    /// `acl.tokens`, settable through `/v1/agent/token/<type>`. A leaf lock.
    tokens: RwLock<AgentTokens>,
    /// Local service ID → the token it was registered with, which anti-entropy writes it
    /// with. A leaf lock. Persisted to `data_dir/acl-service-tokens.json`.
    service_tokens: Mutex<HashMap<String, String>>,
    /// Held while the service-token file is rewritten, so two registrations cannot rename
    /// their snapshots out of order. Taken before `service_tokens` (to copy the map out).
    service_tokens_file: Mutex<()>,
}

/// Cap on cached identities, so a flood of random secrets cannot grow memory without
/// bound; past it the cache starts over.
const CACHE_MAX: usize = 16_384;

impl AclResolver {
    /// A resolver starting from the configured agent tokens.
    pub fn new(tokens: AgentTokens) -> Self {
        AclResolver {
            cache: Mutex::new(HashMap::new()),
            rules: Mutex::new(HashMap::new()),
            tokens: RwLock::new(tokens),
            service_tokens: Mutex::new(HashMap::new()),
            service_tokens_file: Mutex::new(()),
        }
    }

    /// Remember the token a local service was registered with (none: forget it); whether
    /// anything changed.
    pub fn set_service_token(&self, service_id: &str, token: &str) -> bool {
        let mut t = self.service_tokens.lock();
        if token.is_empty() {
            t.remove(service_id).is_some()
        } else {
            t.insert(service_id.to_string(), token.to_string())
                .as_deref()
                != Some(token)
        }
    }

    /// Rewrite the service-token file in `dir` (mode 0600, replaced atomically).
    fn persist_service_tokens(&self, dir: &std::path::Path) -> std::io::Result<()> {
        let _file = self.service_tokens_file.lock();
        let map: std::collections::BTreeMap<String, String> = self
            .service_tokens
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        write_private(
            dir,
            SERVICE_TOKENS_FILE,
            &serde_json::to_vec(&map).unwrap_or_default(),
        )
    }

    /// Load the service tokens an earlier run persisted in `dir`.
    fn load_service_tokens(&self, dir: &std::path::Path) {
        let Ok(text) = std::fs::read_to_string(dir.join(SERVICE_TOKENS_FILE)) else {
            return;
        };
        match serde_json::from_str::<HashMap<String, String>>(&text) {
            Ok(map) => *self.service_tokens.lock() = map,
            Err(e) => tracing::warn!(
                "acl: {SERVICE_TOKENS_FILE} is unreadable ({e}); services sync with the agent token"
            ),
        }
    }

    /// The token a local service was registered with.
    pub fn service_token(&self, service_id: &str) -> Option<String> {
        self.service_tokens.lock().get(service_id).cloned()
    }

    /// A copy of the agent's tokens.
    pub fn agent_tokens(&self) -> AgentTokens {
        self.tokens.read().clone()
    }

    /// Replace one of the agent's tokens.
    pub fn set_agent_token(&self, update: impl FnOnce(&mut AgentTokens)) {
        let mut t = self.tokens.write();
        update(&mut t);
    }

    fn rules_of(&self, id: &str, modify_index: u64, text: &str) -> Option<Arc<Rules>> {
        let key = (id.to_string(), modify_index);
        if let Some(r) = self.rules.lock().get(&key) {
            return Some(r.clone());
        }
        // Rules were checked when the policy was written; a policy that no longer parses
        // (written by a newer version) grants nothing rather than failing every request.
        let parsed = Arc::new(crate::acl::parse(text).ok()?);
        let mut cache = self.rules.lock();
        if cache.len() > CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, parsed.clone());
        Some(parsed)
    }

    /// Build the identity of a token found in `store`.
    fn build_from_store(
        &self,
        store: &Store,
        secret: &str,
        default: DefaultPolicy,
        datacenter: &str,
    ) -> Result<Identity, ResolveError> {
        let t = store
            .acl_token_by_secret(secret)
            .ok_or(ResolveError::NotFound)?;
        if t.expired(now_ns()) {
            return Err(ResolveError::NotFound);
        }
        let mut policy_ids: Vec<&str> = t.policies.iter().map(String::as_str).collect();
        let mut services: Vec<&str> = t
            .service_identities
            .iter()
            .filter(|s| s.datacenters.is_empty() || s.datacenters.iter().any(|d| d == datacenter))
            .map(|s| s.service_name.as_str())
            .collect();
        let mut nodes: Vec<&str> = t
            .node_identities
            .iter()
            .filter(|n| n.datacenter == datacenter)
            .map(|n| n.node_name.as_str())
            .collect();
        for rid in &t.roles {
            if let Some(r) = store.acl_role(rid) {
                policy_ids.extend(r.policies.iter().map(String::as_str));
                services.extend(r.service_identities.iter().map(|s| s.service_name.as_str()));
                nodes.extend(
                    r.node_identities
                        .iter()
                        .filter(|n| n.datacenter == datacenter)
                        .map(|n| n.node_name.as_str()),
                );
            }
        }
        let management = policy_ids.contains(&GLOBAL_MANAGEMENT_ID);
        let authorizer = if management {
            Authorizer::management()
        } else {
            let mut rules: Vec<Arc<Rules>> = Vec::new();
            for id in policy_ids {
                let Some(p) = store.acl_policy(id) else {
                    continue;
                };
                if !p.datacenters.is_empty() && !p.datacenters.iter().any(|d| d == datacenter) {
                    continue;
                }
                if let Some(r) = self.rules_of(id, p.modify_index, &p.rules) {
                    rules.push(r);
                }
            }
            let identities: Vec<Rules> = services
                .iter()
                .map(|s| crate::acl::service_identity_rules(s))
                .chain(nodes.iter().map(|n| crate::acl::node_identity_rules(n)))
                .collect();
            Authorizer::from_rules(rules.iter().map(|r| &**r).chain(identities.iter()), default)
        };
        Ok(Identity {
            accessor: t.accessor_id.to_string(),
            description: t.description.clone(),
            authorizer,
        })
    }

    /// What a server tells a client agent about a token.
    pub fn describe(&self, store: &Store, secret: &str) -> Option<ResolvedToken> {
        if NEVER_SECRETS.contains(&secret) {
            return None;
        }
        let t = store.acl_token_by_secret(secret)?;
        if t.expired(now_ns()) {
            return None;
        }
        let mut policies: Vec<String> = Vec::new();
        let mut management = false;
        let mut service_identities: Vec<String> = Vec::new();
        let mut node_identities: Vec<(String, String)> = Vec::new();
        let mut add_policies = |ids: &[String], policies: &mut Vec<String>| {
            for id in ids {
                if id == GLOBAL_MANAGEMENT_ID {
                    management = true;
                } else if let Some(p) = store.acl_policy(id) {
                    policies.push(p.rules.clone());
                }
            }
        };
        add_policies(&t.policies, &mut policies);
        for s in &t.service_identities {
            service_identities.push(s.service_name.clone());
        }
        for n in &t.node_identities {
            node_identities.push((n.node_name.clone(), n.datacenter.clone()));
        }
        for rid in &t.roles {
            if let Some(r) = store.acl_role(rid) {
                add_policies(&r.policies, &mut policies);
                service_identities
                    .extend(r.service_identities.iter().map(|s| s.service_name.clone()));
                node_identities.extend(
                    r.node_identities
                        .iter()
                        .map(|n| (n.node_name.clone(), n.datacenter.clone())),
                );
            }
        }
        Some(ResolvedToken {
            accessor_id: t.accessor_id.to_string(),
            description: t.description.clone(),
            management,
            policies,
            service_identities,
            node_identities,
        })
    }

    fn from_description(r: ResolvedToken, default: DefaultPolicy, datacenter: &str) -> Identity {
        let authorizer = if r.management {
            Authorizer::management()
        } else {
            let mut rules: Vec<Rules> = r
                .policies
                .iter()
                .filter_map(|p| crate::acl::parse(p).ok())
                .collect();
            rules.extend(
                r.service_identities
                    .iter()
                    .map(|s| crate::acl::service_identity_rules(s)),
            );
            rules.extend(
                r.node_identities
                    .iter()
                    .filter(|(_, dc)| dc == datacenter)
                    .map(|(n, _)| crate::acl::node_identity_rules(n)),
            );
            Authorizer::from_rules(rules.iter(), default)
        };
        Identity {
            accessor: r.accessor_id,
            description: r.description,
            authorizer,
        }
    }

    fn cached(&self, secret: &str, valid: impl Fn(&Cached) -> bool) -> Option<Arc<Identity>> {
        let cache = self.cache.lock();
        let c = cache.get(secret)?;
        valid(c).then(|| c.identity.clone())
    }

    fn remember(&self, secret: &str, index: u64, identity: Arc<Identity>) {
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            secret.to_string(),
            Cached {
                index,
                fetched: Instant::now(),
                identity,
            },
        );
    }
}

/// Unix time now in nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl Agent {
    /// The token the agent's own writes carry: `acl.tokens.agent`, else the default token
    /// (empty: none).
    pub fn agent_token(&self) -> String {
        let t = self.acl.tokens.read();
        t.agent
            .clone()
            .or_else(|| t.default.clone())
            .unwrap_or_default()
    }

    /// The token a write about local service `id` carries: the one it was registered with,
    /// else the agent's.
    pub fn token_for_service(&self, id: &str) -> String {
        self.acl
            .service_token(id)
            .unwrap_or_else(|| self.agent_token())
    }

    /// The token one of the agent's catalog writes carries: the service's registration
    /// token for a write about a local service, the agent's own for the rest.
    pub fn token_for(&self, cmd: &crate::state::Command) -> String {
        use crate::state::Command;
        match cmd {
            Command::Register {
                service: Some(s), ..
            } => self.token_for_service(&s.id),
            Command::Deregister {
                service_id: Some(id),
                ..
            } => self.token_for_service(id),
            _ => self.agent_token(),
        }
    }

    /// What of one node's catalog entries `token` may read (node read, else refused; each
    /// service and service check by service read), for the anti-entropy read over the RPC.
    pub fn filter_node_entries(
        &self,
        node: &str,
        token: &str,
        mut services: Vec<crate::state::Service>,
        mut checks: Vec<crate::state::Check>,
    ) -> Result<(Vec<crate::state::Service>, Vec<crate::state::Check>), String> {
        use crate::acl::{Level, Resource};
        if !self.cfg.acl.enabled {
            return Ok((services, checks));
        }
        let id = {
            let store = self.store.read();
            self.resolve_from_store(&store, token)
                .map_err(|e| e.to_string())?
                .0
        };
        let a = &id.authorizer;
        if !a.allows(Resource::Node, node, Level::Read) {
            return Err(format!(
                "Permission denied: token with AccessorID '{}' lacks permission 'node:read' on {node:?}",
                id.accessor
            ));
        }
        services.retain(|s| a.allows(Resource::Service, &s.service, Level::Read));
        checks.retain(|c| {
            c.service_name.is_empty() || a.allows(Resource::Service, &c.service_name, Level::Read)
        });
        Ok((services, checks))
    }

    /// Whether `token` may make a write that arrived over the server RPC, by the same
    /// rules as the HTTP route that makes it. `Err` is Consul's refusal text. Always `Ok`
    /// with ACLs off.
    pub fn authorize_apply(&self, cmd: &crate::state::Command, token: &str) -> Result<(), String> {
        use crate::acl::{Level, Resource};
        use crate::state::{AclOp, Command, KvOp};
        if !self.cfg.acl.enabled {
            return Ok(());
        }
        let store = self.store.read();
        let (id, _) = self
            .resolve_from_store(&store, token)
            .map_err(|e| e.to_string())?;
        let a = &id.authorizer;
        let deny = |kind: Resource, name: &str, level: Level| {
            format!(
                "Permission denied: token with AccessorID '{}' lacks permission '{}:{}' on {name:?}",
                id.accessor,
                kind.as_str(),
                level.as_str()
            )
        };
        let need = |kind: Resource, name: &str, level: Level| {
            if a.allows(kind, name, level) {
                Ok(())
            } else {
                Err(deny(kind, name, level))
            }
        };
        // The service a check of `node` belongs to, for a check given by ID.
        let check_owner = |node: &str, check_id: &str| {
            store
                .check(node, check_id)
                .filter(|c| !c.service_name.is_empty())
                .map(|c| c.service_name.to_string())
        };
        match cmd {
            Command::Register {
                node,
                skip_node_update,
                service,
                checks,
            } => {
                let changes_node = !skip_node_update
                    && store.node(&node.node).is_none_or(|n| {
                        n.address != node.address || (!node.meta.is_empty() && n.meta != node.meta)
                    });
                if changes_node {
                    need(Resource::Node, &node.node, Level::Write)?;
                }
                if let Some(s) = service {
                    need(Resource::Service, &s.service, Level::Write)?;
                    if let Some(old) = store.service(&node.node, &s.id) {
                        need(Resource::Service, &old.service, Level::Write)?;
                    }
                }
                for c in checks {
                    match service.as_ref().filter(|s| s.id == c.service_id) {
                        Some(s) => need(Resource::Service, &s.service, Level::Write)?,
                        None if c.service_id.is_empty() => {
                            need(Resource::Node, &node.node, Level::Write)?
                        }
                        None => match store.service(&node.node, &c.service_id) {
                            Some(s) => need(Resource::Service, &s.service, Level::Write)?,
                            None => need(Resource::Node, &node.node, Level::Write)?,
                        },
                    }
                }
                Ok(())
            }
            Command::Deregister {
                node,
                service_id,
                check_id,
            } => {
                let owner = match (service_id, check_id) {
                    (_, Some(c)) => check_owner(node, c),
                    (Some(s), None) => store.service(node, s).map(|s| s.service.to_string()),
                    (None, None) => None,
                };
                match owner {
                    Some(s) => need(Resource::Service, &s, Level::Write),
                    None => need(Resource::Node, node, Level::Write),
                }
            }
            // An agent reports its own checks: its node's write, or each check's service.
            Command::UpdateChecks(updates) => {
                for u in updates {
                    if a.allows(Resource::Node, &u.node, Level::Write) {
                        continue;
                    }
                    match check_owner(&u.node, &u.check_id) {
                        Some(s) => need(Resource::Service, &s, Level::Write)?,
                        None => need(Resource::Node, &u.node, Level::Write)?,
                    }
                }
                Ok(())
            }
            Command::Kv(KvOp::Delete {
                key, recurse: true, ..
            }) => {
                if a.key_write_prefix(key) {
                    Ok(())
                } else {
                    Err(deny(Resource::Key, key, Level::Write))
                }
            }
            Command::Kv(
                KvOp::Set { key, .. }
                | KvOp::Delete { key, .. }
                | KvOp::Lock { key, .. }
                | KvOp::Unlock { key, .. },
            ) => need(Resource::Key, key, Level::Write),
            Command::SessionCreate(s) => need(Resource::Session, &s.node, Level::Write),
            Command::SessionDestroy { id } => match store.session(id) {
                Some(s) => need(Resource::Session, &s.node, Level::Write),
                None => Ok(()),
            },
            // The bootstrap needs no token (it is allowed once, by the state machine).
            Command::Acl(AclOp::Bootstrap { .. }) => Ok(()),
            Command::Acl(_) => need(Resource::Acl, "", Level::Write),
            // A query's writer needs `query` write on its name, and on the stored one when
            // it renames or deletes.
            Command::Query(op) => {
                let (new, id) = match op {
                    crate::state::QueryOp::Set(q) => (Some(q.name.as_str()), q.id.as_str()),
                    crate::state::QueryOp::Delete { id } => (None, id.as_str()),
                };
                if let Some(n) = new {
                    need(Resource::Query, n, Level::Write)?;
                }
                match store.query(id) {
                    Some(old) => need(Resource::Query, &old.name, Level::Write),
                    None => Ok(()),
                }
            }
            // Transactions travel as API calls (checked operation by operation there); one
            // arriving as a raw write needs rights over every key.
            Command::Txn(_) => {
                if a.allows_all(Resource::Key, Level::Write)
                    && a.allows_all(Resource::Service, Level::Write)
                    && a.allows_all(Resource::Node, Level::Write)
                {
                    Ok(())
                } else {
                    Err(deny(Resource::Key, "", Level::Write))
                }
            }
        }
    }
    pub fn effective_secret(&self, given: &str) -> String {
        if !given.is_empty() {
            return given.to_string();
        }
        self.acl
            .tokens
            .read()
            .default
            .clone()
            .unwrap_or_else(|| ANONYMOUS_SECRET.to_string())
    }

    /// Resolve a request's token (empty: none given) to who it is, with the ACL index it
    /// was resolved at (servers; 0 on client agents). Only called with ACLs enabled.
    pub async fn resolve_token(&self, given: &str) -> Result<(Arc<Identity>, u64), ResolveError> {
        if self.consensus.is_some() {
            let store = self.store.read();
            return self.resolve_from_store(&store, given);
        }
        let secret = self.effective_secret(given);
        if let Some(id) = self.special_identity(&secret)? {
            return Ok((id, 0));
        }
        let acl_cfg = &self.cfg.acl;
        let ttl = acl_cfg.token_ttl;
        if let Some(id) = self.acl.cached(&secret, |c| c.fetched.elapsed() < ttl) {
            return Ok((id, 0));
        }
        match self
            .forward(
                Request::ResolveToken(secret.clone()),
                Duration::from_secs(10),
            )
            .await
        {
            Ok(Reply::Token(Some(r))) => {
                let id = Arc::new(AclResolver::from_description(
                    r,
                    acl_cfg.default_policy,
                    &self.cfg.datacenter,
                ));
                self.acl.remember(&secret, 0, id.clone());
                Ok((id, 0))
            }
            Ok(Reply::Token(None)) => Err(ResolveError::NotFound),
            Ok(other) => Err(ResolveError::Unavailable(format!(
                "unexpected reply resolving a token: {other:?}"
            ))),
            Err(e) => self.down_policy(&secret, e).map(|id| (id, 0)),
        }
    }

    /// A server's resolution from `store` (a version it holds): cached per secret while
    /// the ACL index stays the same, so a blocking read can re-check cheaply on each wake.
    pub fn resolve_from_store(
        &self,
        store: &Store,
        given: &str,
    ) -> Result<(Arc<Identity>, u64), ResolveError> {
        let secret = self.effective_secret(given);
        let index = store.table_index(Table::Acl);
        if let Some(id) = self.special_identity(&secret)? {
            return Ok((id, index));
        }
        if let Some(id) = self.acl.cached(&secret, |c| c.index == index) {
            return Ok((id, index));
        }
        let id = Arc::new(self.acl.build_from_store(
            store,
            &secret,
            self.cfg.acl.default_policy,
            &self.cfg.datacenter,
        )?);
        self.acl.remember(&secret, index, id.clone());
        Ok((id, index))
    }

    /// Secrets decided without the store: the reserved names (never a token) and this
    /// agent's recovery token.
    fn special_identity(&self, secret: &str) -> Result<Option<Arc<Identity>>, ResolveError> {
        if NEVER_SECRETS.contains(&secret) {
            return Err(ResolveError::NotFound);
        }
        let recovery = self.acl.tokens.read().agent_recovery.clone();
        if recovery.as_deref() == Some(secret) {
            return Ok(Some(Arc::new(self.recovery_identity())));
        }
        Ok(None)
    }

    /// No server answered: Consul's `down_policy`.
    fn down_policy(&self, secret: &str, e: AgentError) -> Result<Arc<Identity>, ResolveError> {
        let default = |p| {
            Arc::new(Identity {
                accessor: String::new(),
                description: String::new(),
                authorizer: Authorizer::default_only(p),
            })
        };
        match self.cfg.acl.down_policy {
            DownPolicy::Allow => Ok(default(DefaultPolicy::Allow)),
            DownPolicy::Deny => Ok(default(DefaultPolicy::Deny)),
            DownPolicy::ExtendCache | DownPolicy::AsyncCache => self
                .acl
                .cached(secret, |_| true)
                .ok_or_else(|| ResolveError::Unavailable(e.to_string())),
        }
    }

    /// `acl.tokens.agent_recovery`: this agent's own endpoints, without servers.
    fn recovery_identity(&self) -> Identity {
        let text = format!(
            "agent \"{0}\" {{ policy = \"write\" }}\nnode_prefix \"\" {{ policy = \"read\" }}",
            self.cfg.node_name.replace('"', "")
        );
        let rules = crate::acl::parse(&text).unwrap_or_default();
        Identity {
            accessor: "agent-recovery-token".into(),
            description: "Agent Recovery Token".into(),
            authorizer: Authorizer::from_rules([&rules], DefaultPolicy::Deny),
        }
    }

    /// A server's answer to a client agent resolving a token.
    pub fn describe_token(&self, secret: &str) -> Option<ResolvedToken> {
        let store = self.store.read();
        self.acl.describe(&store, secret)
    }
}

impl Agent {
    /// The leader's ACL establishment, as Consul's leader does when it takes office: the
    /// built-in policies, the anonymous token and `acl.tokens.initial_management`, written
    /// once each when missing. Checked every second while this server leads, so a new
    /// leader (or a snapshot restore) puts back what is missing.
    pub(super) async fn acl_leader_loop(self: Arc<Self>) {
        let Some(c) = &self.consensus else { return };
        if !self.cfg.acl.enabled {
            return;
        }
        let mut shutdown = self.shutdown_signal();
        loop {
            if c.is_leader() {
                self.acl_establish().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
        }
    }

    /// Install what the leader's ACL establishment installs, when something is missing.
    pub(super) async fn acl_establish(&self) {
        if !self.cfg.acl.enabled {
            return;
        }
        let Some(op) = self.acl_init_op() else {
            return;
        };
        if let Err(e) = self.write(crate::state::Command::Acl(op)).await {
            tracing::warn!("acl: could not install the built-in policies and tokens: {e}");
        }
    }

    /// The `Init` write when something it installs is missing.
    fn acl_init_op(&self) -> Option<crate::state::AclOp> {
        use crate::state::{AclOp, AclPolicy, AclToken, GLOBAL_READ_ONLY_ID};
        let store = self.store.read();
        let initial = self.cfg.acl.tokens.initial_management.clone();
        let missing_initial = initial
            .as_deref()
            .is_some_and(|s| store.acl_token_by_secret(s).is_none());
        if store.acl_policy(GLOBAL_MANAGEMENT_ID).is_some()
            && store.acl_policy(GLOBAL_READ_ONLY_ID).is_some()
            && store.acl_token(ANONYMOUS_ACCESSOR).is_some()
            && !missing_initial
        {
            return None;
        }
        drop(store);
        let now = now_ns();
        let policy = |id: &str, name: &str, description: &str, rules: &str| AclPolicy {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            rules: rules.into(),
            hash: content_hash(&(name, rules)),
            ..Default::default()
        };
        let token = |accessor: String, secret: &str, description: &str, policies: Vec<String>| {
            let mut t = AclToken {
                accessor_id: accessor.as_str().into(),
                secret_id: secret.into(),
                description: description.into(),
                policies,
                create_time_ns: now,
                ..Default::default()
            };
            t.hash = token_hash(&t);
            t
        };
        if let Some(s) = initial.as_deref()
            && uuid::Uuid::parse_str(s).is_err()
        {
            tracing::warn!(
                "acl: the initial management token is not a UUID; Consul deprecates such secrets"
            );
        }
        Some(AclOp::Init {
            policies: vec![
                policy(
                    GLOBAL_MANAGEMENT_ID,
                    "global-management",
                    "Builtin Policy that grants unlimited access",
                    crate::acl::GLOBAL_MANAGEMENT_RULES,
                ),
                policy(
                    GLOBAL_READ_ONLY_ID,
                    "builtin/global-read-only",
                    "Builtin Policy that grants unlimited read-only access to all components",
                    crate::acl::GLOBAL_READ_ONLY_RULES,
                ),
            ],
            anonymous: token(
                ANONYMOUS_ACCESSOR.into(),
                ANONYMOUS_SECRET,
                ANONYMOUS_DESCRIPTION,
                Vec::new(),
            ),
            initial_management: initial.map(|s| {
                token(
                    uuid::Uuid::new_v4().to_string(),
                    &s,
                    "Initial Management Token",
                    vec![GLOBAL_MANAGEMENT_ID.to_string()],
                )
            }),
        })
    }
}

/// Consul's `Hash` of a token, policy or role: a digest of its content, so clients can
/// tell whether it changed.
pub fn content_hash(v: &impl std::hash::Hash) -> Vec<u8> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default()
        .hash_one(v)
        .to_be_bytes()
        .to_vec()
}

/// The hash of a token's rights and description.
pub fn token_hash(t: &crate::state::AclToken) -> Vec<u8> {
    content_hash(&(
        &t.description,
        &t.policies,
        &t.roles,
        t.service_identities
            .iter()
            .map(|s| (&s.service_name, &s.datacenters))
            .collect::<Vec<_>>(),
        t.node_identities
            .iter()
            .map(|n| (&n.node_name, &n.datacenter))
            .collect::<Vec<_>>(),
        t.local,
        t.expiration_time_ns,
    ))
}

/// The file `acl.enable_token_persistence` keeps the agent's tokens in.
const TOKENS_FILE: &str = "acl-tokens.json";

impl Agent {
    /// Write the agent's tokens to `data_dir/acl-tokens.json` (mode 0600) when persistence
    /// is on; a no-op otherwise.
    pub fn persist_agent_tokens(&self) -> std::io::Result<()> {
        if !self.cfg.acl.enable_token_persistence {
            return Ok(());
        }
        let Some(dir) = &self.cfg.data_dir else {
            return Ok(());
        };
        let t = self.acl.agent_tokens();
        let mut out = serde_json::Map::new();
        for (k, v) in [
            ("default", &t.default),
            ("agent", &t.agent),
            ("agent_recovery", &t.agent_recovery),
            ("replication", &t.replication),
            (
                "config_file_service_registration",
                &t.config_file_service_registration,
            ),
        ] {
            if let Some(v) = v {
                out.insert(k.into(), serde_json::Value::String(v.clone()));
            }
        }
        write_private(
            dir,
            TOKENS_FILE,
            &serde_json::to_vec(&out).unwrap_or_default(),
        )
    }

    /// Remember the token local service `id` was registered with (empty: forget it) and
    /// persist the change, so anti-entropy keeps using it after a restart.
    pub fn remember_service_token(&self, id: &str, token: &str) {
        if !self.acl.set_service_token(id, token) {
            return;
        }
        if let Some(dir) = &self.cfg.data_dir
            && let Err(e) = self.acl.persist_service_tokens(dir)
        {
            tracing::warn!("acl: writing {SERVICE_TOKENS_FILE}: {e}");
        }
    }

    /// Load the service tokens of an earlier run (at start).
    pub(super) fn load_service_tokens(&self) {
        if let Some(dir) = &self.cfg.data_dir {
            self.acl.load_service_tokens(dir);
        }
    }
}

/// The file the tokens of locally registered services are kept in.
const SERVICE_TOKENS_FILE: &str = "acl-service-tokens.json";

/// Write `name` in `dir` readable by this user alone, through a synced temporary file
/// renamed over it.
fn write_private(dir: &std::path::Path, name: &str, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))
}

/// The tokens persisted by an earlier run over the configured ones (Consul lets the
/// persisted file win), when persistence is on.
pub fn load_persisted_tokens(cfg: &crate::config::AgentConfig) -> AgentTokens {
    let mut tokens = cfg.acl.tokens.clone();
    if !cfg.acl.enable_token_persistence {
        return tokens;
    }
    let Some(dir) = &cfg.data_dir else {
        return tokens;
    };
    let Ok(text) = std::fs::read_to_string(dir.join(TOKENS_FILE)) else {
        return tokens;
    };
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(&text) else {
        tracing::warn!("acl: {TOKENS_FILE} is not a JSON object; using the configured tokens");
        return tokens;
    };
    let get = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_string);
    for (k, slot) in [
        ("default", &mut tokens.default),
        ("agent", &mut tokens.agent),
        ("agent_recovery", &mut tokens.agent_recovery),
        ("replication", &mut tokens.replication),
        (
            "config_file_service_registration",
            &mut tokens.config_file_service_registration,
        ),
    ] {
        if let Some(v) = get(k) {
            *slot = Some(v);
        }
    }
    tokens
}
