//! What one token may do, decided once per token and asked on every request.
//!
//! A token's rules come from several places (its policies, its roles' policies, its service
//! and node identities). They are merged into one [`Authorizer`] when the token is
//! resolved; after that each check is a map lookup or two, with no allocation, because
//! every API request (and every row of a filtered list) asks at least one question.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::rules::{Disposition, NamedRules, Rules};
use super::{LABELLED, Level, Resource, Slot, UNLABELLED};

/// What happens to a name no rule of the token mentions (`acl.default_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefaultPolicy {
    /// Everything except the ACL system itself: Consul's allow-all never grants `acl`
    /// (and so never snapshots), so enabling ACLs in allow mode still protects tokens.
    Allow,
    /// Nothing.
    Deny,
}

impl DefaultPolicy {
    /// Reads the configuration word (`allow` or `deny`, lower case as Consul requires).
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "allow" => Some(DefaultPolicy::Allow),
            "deny" => Some(DefaultPolicy::Deny),
            _ => None,
        }
    }

    /// Whether this default grants `level` on `resource` when no rule decides.
    pub fn grants(self, resource: Resource, _level: Level) -> bool {
        self == DefaultPolicy::Allow && resource != Resource::Acl
    }

    /// The configuration word, also sent as `X-Consul-Default-ACL-Policy`.
    pub fn as_str(self) -> &'static str {
        match self {
            DefaultPolicy::Allow => "allow",
            DefaultPolicy::Deny => "deny",
        }
    }
}

impl std::fmt::Display for DefaultPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `default_policy` that is neither `allow` nor `deny`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid ACL default policy {0:?}: expected \"allow\" or \"deny\"")]
pub struct UnknownDefaultPolicy(pub String);

impl std::str::FromStr for DefaultPolicy {
    type Err = UnknownDefaultPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DefaultPolicy::parse(s).ok_or_else(|| UnknownDefaultPolicy(s.to_owned()))
    }
}

/// The merged rules of one labelled kind, indexed for lookups that allocate nothing.
#[derive(Clone, Debug, Default)]
struct Table {
    exact: BTreeMap<String, Disposition>,
    prefix: BTreeMap<String, Disposition>,
    /// The distinct lengths of the prefix rules, longest first: finding the longest
    /// matching prefix is one map lookup per length, not a scan of every rule.
    prefix_lens: Vec<usize>,
}

impl Table {
    fn absorb(&mut self, rules: &NamedRules) {
        for (map, from) in [
            (&mut self.exact, &rules.exact),
            (&mut self.prefix, &rules.prefix),
        ] {
            for (name, &d) in from {
                let slot = map.entry(name.clone()).or_insert(d);
                *slot = slot.merge(d);
            }
        }
    }

    fn index_prefixes(&mut self) {
        self.prefix_lens = self.prefix.keys().map(String::len).collect();
        self.prefix_lens.sort_unstable_by(|a, b| b.cmp(a));
        self.prefix_lens.dedup();
    }

    /// The longest prefix rule covering `name`.
    fn longest_prefix(&self, name: &str) -> Option<Disposition> {
        self.prefix_lens
            .iter()
            .filter_map(|&len| name.get(..len))
            .find_map(|head| self.prefix.get(head).copied())
    }

    /// An exact rule for `name`, else the longest prefix rule covering it.
    fn lookup(&self, name: &str) -> Option<Disposition> {
        self.exact
            .get(name)
            .copied()
            .or_else(|| self.longest_prefix(name))
    }

    /// Every rule, exact or prefix.
    fn all(&self) -> impl Iterator<Item = Disposition> + '_ {
        self.exact.values().chain(self.prefix.values()).copied()
    }

    /// The rules whose names start with `prefix`, exact or prefix, including `prefix`
    /// itself: everything a recursive operation on `prefix` would reach.
    fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = Disposition> + 'a {
        let from = (Bound::Included(prefix), Bound::Unbounded);
        let exact = self.exact.range::<str, _>(from);
        let prefixes = self.prefix.range::<str, _>(from);
        exact
            .take_while(move |(name, _)| name.starts_with(prefix))
            .chain(prefixes.take_while(move |(name, _)| name.starts_with(prefix)))
            .map(|(_, &d)| d)
    }
}

/// What one token may do: everything (management), or its merged rules over a default.
/// Built once when the token is resolved and shared (it is `Send + Sync`); every check
/// borrows it without allocating.
#[derive(Clone, Debug)]
pub struct Authorizer {
    management: bool,
    default: DefaultPolicy,
    tables: [Table; LABELLED],
    settings: [Option<Disposition>; UNLABELLED],
}

impl Authorizer {
    /// The authorizer of a management token (global-management policy, initial management
    /// token): every check passes. Its default reads as `Allow`, since that is how it
    /// treats names no rule mentions.
    pub fn management() -> Self {
        Authorizer {
            management: true,
            ..Self::default_only(DefaultPolicy::Allow)
        }
    }

    /// A token with no rules at all, such as the anonymous token without policies: only the
    /// default decides.
    pub fn default_only(default: DefaultPolicy) -> Self {
        Authorizer {
            management: false,
            default,
            tables: Default::default(),
            settings: [None; UNLABELLED],
        }
    }

    /// Merges every policy of a token (its own, its roles', its identities') into one
    /// authorizer. Rules for the same kind and name combine as deny > write > list > read,
    /// exact and prefix rules kept apart; what no rule mentions falls to `default`.
    pub fn from_rules<'a>(
        rules: impl IntoIterator<Item = &'a Rules>,
        default: DefaultPolicy,
    ) -> Self {
        let mut auth = Self::default_only(default);
        for policy in rules {
            for resource in Resource::ALL {
                match resource.slot() {
                    Slot::Labelled(i) => {
                        if let (Some(table), Some(named)) =
                            (auth.tables.get_mut(i), policy.named(resource))
                        {
                            table.absorb(named);
                        }
                    }
                    Slot::Unlabelled(i) => {
                        if let (Some(slot), Some(d)) =
                            (auth.settings.get_mut(i), policy.setting(resource))
                        {
                            *slot = Some(slot.map_or(d, |old| old.merge(d)));
                        }
                    }
                }
            }
        }
        auth.tables.iter_mut().for_each(Table::index_prefixes);
        auth
    }

    /// Whether this is a management token, for the operations Consul reserves to
    /// management outright (snapshots).
    pub fn is_management(&self) -> bool {
        self.management
    }

    /// The default this authorizer falls back to.
    pub fn default_policy(&self) -> DefaultPolicy {
        self.default
    }

    /// Whether the token may access `name` of kind `resource` at `level`. For unlabelled
    /// kinds `name` is ignored. An exact rule for the name decides, else the longest
    /// matching prefix rule, else the default. `Level::List` is granted only by `list` and
    /// `write`; whether a key listing needs it (`acl.enable_key_list_policy`) or only read
    /// is the caller's choice.
    pub fn allows(&self, resource: Resource, name: &str, level: Level) -> bool {
        if self.management {
            return true;
        }
        match self.decision(resource, name) {
            Some(d) => d.grants(level),
            None => self.default.grants(resource, level),
        }
    }

    /// Whether a recursive delete of everything under `prefix` is allowed (Consul's
    /// write-prefix check, the fix for CVE-2019-12291): the longest prefix rule covering
    /// `prefix` (or the default) must grant write, and no key rule under `prefix`, exact or
    /// prefix, may grant less, since the delete would reach the keys those rules protect.
    pub fn key_write_prefix(&self, prefix: &str) -> bool {
        if self.management {
            return true;
        }
        let Some(table) = self.table(Resource::Key) else {
            return false;
        };
        let covering = match table.longest_prefix(prefix) {
            Some(d) => d.grants(Level::Write),
            None => self.default.grants(Resource::Key, Level::Write),
        };
        covering && table.under(prefix).all(|d| d.grants(Level::Write))
    }

    /// Whether some name of kind `resource` could be accessed at `level`: any rule grants
    /// it, or the default does. Used to decide whether an action is worth offering at all
    /// (Consul's ServiceWriteAny).
    pub fn allows_any(&self, resource: Resource, level: Level) -> bool {
        if self.management {
            return true;
        }
        match self.table(resource) {
            Some(table) => {
                table.all().any(|d| d.grants(level)) || self.default.grants(resource, level)
            }
            None => self.allows(resource, "", level),
        }
    }

    /// Whether every name of kind `resource` may be accessed at `level`, so a list needs no
    /// filtering: no rule grants less, and the `""` prefix rule or else the default grants
    /// it (Consul's NodeReadAll and ServiceReadAll).
    pub fn allows_all(&self, resource: Resource, level: Level) -> bool {
        if self.management {
            return true;
        }
        match self.table(resource) {
            Some(table) => {
                table.all().all(|d| d.grants(level))
                    && (table.prefix.contains_key("") || self.default.grants(resource, level))
            }
            None => self.allows(resource, "", level),
        }
    }

    fn table(&self, resource: Resource) -> Option<&Table> {
        match resource.slot() {
            Slot::Labelled(i) => self.tables.get(i),
            Slot::Unlabelled(_) => None,
        }
    }

    fn setting(&self, resource: Resource) -> Option<Disposition> {
        match resource.slot() {
            Slot::Unlabelled(i) => self.settings.get(i).copied().flatten(),
            Slot::Labelled(_) => None,
        }
    }

    /// The disposition that governs `name`, if any rule does; mesh and peering fall back to
    /// operator's setting.
    fn decision(&self, resource: Resource, name: &str) -> Option<Disposition> {
        match self.table(resource) {
            Some(table) => table.lookup(name),
            None => self
                .setting(resource)
                .or_else(|| resource.fallback().and_then(|f| self.setting(f))),
        }
    }
}
