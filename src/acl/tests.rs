//! Cases from Consul's own authorizer and policy tests, plus properties against a naive
//! reference implementation.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use DefaultPolicy::{Allow, Deny};
use Level::{List, Read, Write};
use Resource::*;

fn rules(text: &str) -> Rules {
    parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn authorizer(policies: &[&str], default: DefaultPolicy) -> Authorizer {
    let parsed: Vec<Rules> = policies.iter().map(|p| rules(p)).collect();
    Authorizer::from_rules(&parsed, default)
}

/// Runs `(resource, name, level, expected)` checks, naming the failing row.
fn check(auth: &Authorizer, cases: &[(Resource, &str, Level, bool)]) {
    for &(resource, name, level, expected) in cases {
        assert_eq!(
            auth.allows(resource, name, level),
            expected,
            "{resource}:{level} on {name:?}"
        );
    }
}

#[test]
fn deny_under_a_write_prefix() {
    let auth = authorizer(
        &[
            "key_prefix \"foo/\" { policy = \"write\" }\nkey_prefix \"foo/priv/\" { policy = \"deny\" }",
        ],
        Deny,
    );
    check(
        &auth,
        &[
            (Key, "foo/test", Read, true),
            (Key, "foo/test", Write, true),
            (Key, "foo/priv/test", Read, false),
            (Key, "foo/priv/test", Write, false),
            (Key, "bar", Read, false),
            (Key, "bar", Write, false),
        ],
    );
    assert!(
        !auth.key_write_prefix("foo/"),
        "a recursive delete would reach foo/priv/"
    );
    assert!(auth.key_write_prefix("foo/pub/"));
    assert!(
        !auth.key_write_prefix("bar/"),
        "no rule covers bar/ and the default denies"
    );
    assert!(
        !auth.key_write_prefix(""),
        "everything is under the empty prefix"
    );
}

#[test]
fn exact_rule_beats_prefix_rule() {
    let auth = authorizer(
        &["key_prefix \"\" { policy = \"write\" }\nkey \"secret\" { policy = \"deny\" }"],
        Deny,
    );
    check(
        &auth,
        &[
            (Key, "secret", Read, false),
            (Key, "secret2", Write, true),
            (Key, "secre", Write, true),
        ],
    );
    assert!(
        !auth.key_write_prefix("sec"),
        "the exact deny on secret lies under sec"
    );
    assert!(auth.key_write_prefix("other/"));
}

#[test]
fn policies_merge_deny_first_per_name() {
    let merged = authorizer(
        &[
            "key_prefix \"app/\" { policy = \"write\" }",
            "key_prefix \"app/\" { policy = \"deny\" }",
        ],
        Allow,
    );
    check(
        &merged,
        &[
            (Key, "app/x", Read, false),
            (Key, "app/x", Write, false),
            (Key, "other", Write, true),
        ],
    );

    // A deny on a shorter prefix does not beat a write on a longer one.
    let longer = authorizer(
        &[
            "key_prefix \"app/secret/\" { policy = \"deny\" }",
            "key_prefix \"app/secret/x\" { policy = \"write\" }",
        ],
        Deny,
    );
    check(
        &longer,
        &[
            (Key, "app/secret/x1", Write, true),
            (Key, "app/secret/y", Read, false),
        ],
    );

    // Within one policy a repeated name merges the same way.
    assert_eq!(
        rules("key \"a\" { policy = \"write\" }\nkey \"a\" { policy = \"read\" }"),
        rules("key \"a\" { policy = \"write\" }")
    );
    assert_eq!(
        rules(
            "operator = \"read\"\nkey \"a\" { policy = \"deny\" }\nkey \"a\" { policy = \"write\" }"
        ),
        rules("{\"operator\":\"read\",\"key\":{\"a\":{\"policy\":\"deny\"}}}")
    );
}

#[test]
fn default_allow_never_grants_acl() {
    let auth = Authorizer::default_only(Allow);
    for resource in Resource::ALL {
        for level in [Read, List, Write] {
            assert_eq!(
                auth.allows(resource, "anything", level),
                resource != Acl,
                "{resource}:{level}"
            );
        }
    }
    assert!(auth.key_write_prefix(""));
    let reader = authorizer(&["acl = \"read\""], Allow);
    check(
        &reader,
        &[
            (Acl, "", Read, true),
            (Acl, "", Write, false),
            (Service, "web", Write, true),
        ],
    );

    let nothing = Authorizer::default_only(Deny);
    for resource in Resource::ALL {
        assert!(!nothing.allows(resource, "x", Read), "{resource}");
    }
    assert!(!nothing.key_write_prefix("x"));
}

#[test]
fn operator_and_its_dependents() {
    let auth = authorizer(&["operator = \"read\""], Deny);
    check(
        &auth,
        &[
            (Operator, "", Read, true),
            (Operator, "", Write, false),
            (Mesh, "", Read, true),
            (Mesh, "", Write, false),
            (Peering, "ignored", Read, true),
            (Keyring, "", Read, false),
        ],
    );
    let own = authorizer(
        &[
            "operator = \"read\"",
            "mesh = \"write\"\npeering = \"deny\"",
        ],
        Deny,
    );
    check(
        &own,
        &[
            (Mesh, "", Write, true),
            (Peering, "", Read, false),
            (Operator, "", Write, false),
        ],
    );
}

#[test]
fn list_sits_between_read_and_write() {
    let auth = authorizer(
        &["key_prefix \"l/\" { policy = \"list\" }\nkey_prefix \"r/\" { policy = \"read\" }"],
        Deny,
    );
    check(
        &auth,
        &[
            (Key, "l/x", Read, true),
            (Key, "l/x", List, true),
            (Key, "l/x", Write, false),
            (Key, "r/x", Read, true),
            (Key, "r/x", List, false),
        ],
    );
    let writer = authorizer(&["service_prefix \"\" { policy = \"write\" }"], Deny);
    check(&writer, &[(Service, "web", List, true)]);
}

#[test]
fn hcl_and_json_agree() {
    let hcl = r#"
        # a comment
        key_prefix "" { policy = "read" }
        key_prefix "foo/" { policy = "write" }   // another
        key "foo/bar/secret" { policy = "deny" }
        /* a block
           comment */
        operator = "read"
        service_prefix "" {
          policy     = "write"
          intentions = "read"
        }
        node bare-label { policy = "write" }
    "#;
    let json = r#"{"key_prefix":{"":{"policy":"read"},"foo/":{"policy":"write"}},
        "key":{"foo/bar/secret":{"policy":"deny"}},"operator":"read",
        "service_prefix":{"":{"policy":"write","intentions":"read"}},
        "node":[{"bare-label":{"policy":"write"}}]}"#;
    let parsed = rules(hcl);
    assert_eq!(parsed, rules(json));
    // The HCL object form reads the same as the block form.
    let objects =
        "key_prefix = { \"\" = { policy = \"read\" }, \"foo/\" = { policy = \"write\" } }";
    assert_eq!(
        rules(objects),
        rules("key_prefix \"\" { policy = \"read\" }\nkey_prefix \"foo/\" { policy = \"write\" }")
    );
    let key = parsed.named(Key).expect("key is labelled");
    assert_eq!(key.exact.get("foo/bar/secret"), Some(&Disposition::Deny));
    assert_eq!(key.prefix.get("foo/"), Some(&Disposition::Write));
    assert_eq!(parsed.setting(Operator), Some(Disposition::Read));
    assert_eq!(parsed.intentions().prefix.get(""), Some(&Disposition::Read));
    assert!(parse("").expect("empty is valid").is_empty());
    assert!(
        rules("operator = \"\"").is_empty(),
        "an empty setting is no setting"
    );
    assert!(
        parse("  \n# only a comment\n")
            .expect("comments only")
            .is_empty()
    );
}

#[test]
fn hcl1_separators_are_accepted() {
    let expected = rules("service_prefix \"\" {\n policy = \"write\"\n intentions = \"read\"\n}");
    for text in [
        r#"service_prefix "" { policy = "write" intentions = "read" }"#,
        r#"service_prefix "" { policy = "write", intentions = "read" }"#,
        r#"service_prefix "" { policy = "write"
            intentions = "read" }"#,
    ] {
        assert_eq!(rules(text), expected, "{text}");
    }
    let two = rules(r#"key "a" { policy = "read" } key "b" { policy = "deny" } operator = "read""#);
    assert_eq!(two.named(Key).map(|k| k.exact.len()), Some(2));
    assert_eq!(two.setting(Operator), Some(Disposition::Read));
    assert!(
        rules("key \"a,b {\" { policy = \"read\" }")
            .named(Key)
            .is_some_and(|k| k.exact.contains_key("a,b {"))
    );
}

#[test]
fn bad_rules_name_the_fault_in_one_line() {
    let cases = [
        (
            "kye_prefix \"\" { policy = \"read\" }",
            "Failed to parse ACL rules: unknown resource \"kye_prefix\"",
        ),
        (
            "key_prefix \"foo/\" { policy = \"wirte\" }",
            "Invalid key_prefix policy: \"foo/\" has invalid policy \"wirte\"",
        ),
        (
            "service \"web\" { policy = \"list\" }",
            "Invalid service policy: \"web\" has invalid policy \"list\" (list is only for key and key_prefix)",
        ),
        ("key \"a\" { }", "Invalid key policy: \"a\" has no policy"),
        (
            "namespace \"ns\" { policy = \"read\" }",
            "Failed to parse ACL rules: \"namespace\" rules are a Consul Enterprise feature and not supported",
        ),
        (
            "key \"a\" { polcy = \"read\" }",
            "Failed to parse ACL rules: key \"a\" has unknown attribute \"polcy\"",
        ),
        (
            "key \"a\" { intentions = \"read\" }",
            "Failed to parse ACL rules: key \"a\" has unknown attribute \"intentions\"",
        ),
        ("operator = \"wirte\"", "Invalid operator policy: \"wirte\""),
        ("acl = \"list\"", "Invalid acl policy: \"list\""),
        (
            "service \"web\" { intentions = \"list\" }",
            "Invalid service intentions policy: \"web\" has invalid policy \"list\"",
        ),
        (
            "key \"a\" { policy = read }",
            "Failed to parse ACL rules: key \"a\": policy must be a string, found the bare word \"read\"",
        ),
        (
            "operator { policy = \"read\" }",
            "Failed to parse ACL rules: operator must be a string such as operator = \"read\", found a block or object",
        ),
        (
            "key = \"read\"",
            "Failed to parse ACL rules: key needs a name and a block, as in key \"name\" { policy = \"read\" }, found a string",
        ),
        (
            "{\"key\":",
            "Failed to parse ACL rules: EOF while parsing a value at line 1 column 7",
        ),
        (
            "{\"key\":{\"a\":{\"policy\":1}}}",
            "Failed to parse ACL rules: key \"a\": policy must be a string, found a number",
        ),
        (
            "key \"a\" { policy = \"read\"",
            "Failed to parse ACL rules: line 1, column 26: invalid block body; expected `}`, newline or identifier",
        ),
        (
            "key \"line\\nbreak\" { policy = \"nope\" }",
            "Invalid key policy: \"line\\nbreak\" has invalid policy \"nope\"",
        ),
    ];
    for (text, expected) in cases {
        let message = match parse(text) {
            Ok(r) => panic!("{text:?} should fail, parsed {r:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            message.starts_with(expected),
            "{text:?}\n got: {message}\nwant: {expected}"
        );
        assert!(!message.contains('\n'), "{message:?} spans lines");
    }
    // A service block may carry intentions alone; nothing is granted on the service.
    let only = rules("service \"web\" { intentions = \"deny\" }");
    assert!(only.named(Service).is_some_and(NamedRules::is_empty));
    assert_eq!(only.intentions().exact.get("web"), Some(&Disposition::Deny));
}

#[test]
fn built_in_policies() {
    let all = authorizer(&[GLOBAL_MANAGEMENT_RULES], Deny);
    for resource in Resource::ALL {
        assert!(all.allows(resource, "any/name", Write), "{resource}");
        assert!(all.allows_all(resource, Write), "{resource}");
    }
    assert!(all.key_write_prefix(""));
    let read_only = authorizer(&[GLOBAL_READ_ONLY_RULES], Deny);
    for resource in Resource::ALL {
        assert_eq!(
            read_only.allows(resource, "n", Read),
            resource != Acl,
            "{resource}"
        );
        assert!(!read_only.allows(resource, "n", Write), "{resource}");
    }
    let management = Authorizer::management();
    assert!(management.is_management() && !all.is_management());
    assert!(management.allows(Acl, "", Write) && management.key_write_prefix(""));
}

#[test]
fn identities() {
    let service = Authorizer::from_rules([&service_identity_rules("web")], Deny);
    check(
        &service,
        &[
            (Service, "web", Write, true),
            (Service, "web-sidecar-proxy", Write, true),
            (Service, "web2", Write, false),
            (Service, "db", Read, true),
            (Node, "n1", Read, true),
            (Node, "n1", Write, false),
            (Key, "k", Read, false),
        ],
    );
    let node = Authorizer::from_rules([&node_identity_rules("n1")], Deny);
    check(
        &node,
        &[
            (Node, "n1", Write, true),
            (Node, "n2", Read, false),
            (Service, "db", Read, true),
        ],
    );
}

#[test]
fn any_and_all() {
    let auth = authorizer(
        &["service_prefix \"\" { policy = \"read\" }\nservice \"web\" { policy = \"write\" }"],
        Deny,
    );
    assert!(auth.allows_any(Service, Write) && !auth.allows_all(Service, Write));
    assert!(auth.allows_all(Service, Read) && !auth.allows_any(Node, Read));
    let hole = authorizer(
        &["node_prefix \"\" { policy = \"read\" }\nnode \"secret\" { policy = \"deny\" }"],
        Allow,
    );
    assert!(!hole.allows_all(Node, Read) && hole.allows_all(Service, Write));
    assert!(
        hole.allows_any(Node, Write),
        "the default allows writing other nodes"
    );
    assert!(!hole.allows_all(Acl, Read) && !hole.allows_any(Acl, Read));
    let partial = authorizer(&["node \"a\" { policy = \"write\" }"], Deny);
    assert!(
        !partial.allows_all(Node, Read),
        "without a \"\" prefix the default decides"
    );
}

#[test]
fn default_policy_words() {
    assert_eq!("allow".parse::<DefaultPolicy>(), Ok(Allow));
    assert_eq!("deny".parse::<DefaultPolicy>(), Ok(Deny));
    let err = "Deny".parse::<DefaultPolicy>().expect_err("case matters");
    assert_eq!(
        err.to_string(),
        "invalid ACL default policy \"Deny\": expected \"allow\" or \"deny\""
    );
    assert_eq!(
        Authorizer::default_only(Deny).default_policy().to_string(),
        "deny"
    );
}

#[test]
fn shareable_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Authorizer>();
    shared::<Rules>();
}

/// One rule as generated: kind, prefix form, name, disposition.
type Raw = (Resource, bool, String, Disposition);

fn raw_rule() -> impl Strategy<Value = Raw> {
    let resource = prop_oneof![Just(Key), Just(Service), Just(Node)];
    let d = prop_oneof![
        Just(Disposition::Read),
        Just(Disposition::List),
        Just(Disposition::Write),
        Just(Disposition::Deny)
    ];
    (resource, any::<bool>(), "[ab/é]{0,4}", d).prop_map(|(r, prefix, name, d)| {
        let d = if r != Key && d == Disposition::List {
            Disposition::Read
        } else {
            d
        };
        (r, prefix, name, d)
    })
}

/// How a generated policy is written.
#[derive(Clone, Copy, Debug)]
enum Style {
    /// JSON, with lists so repeated names stay repeated.
    Json,
    /// HCL blocks, one attribute per line.
    Hcl,
    /// HCL version 1 style: everything on one line, blocks separated by commas or spaces.
    OneLine,
}

fn render(policy: &[Raw], style: Style) -> String {
    let kind = |r: Resource, prefix: bool| format!("{r}{}", if prefix { "_prefix" } else { "" });
    match style {
        Style::Json => {
            let mut map = serde_json::Map::new();
            for (r, prefix, name, d) in policy {
                let entry = map
                    .entry(kind(*r, *prefix))
                    .or_insert_with(|| serde_json::json!([]));
                if let Some(list) = entry.as_array_mut() {
                    list.push(serde_json::json!({ name.as_str(): { "policy": d.as_str() } }));
                }
            }
            serde_json::Value::Object(map).to_string()
        }
        Style::Hcl => policy
            .iter()
            .map(|(r, p, name, d)| {
                format!("{} {name:?} {{\n  policy = \"{d}\"\n}}\n", kind(*r, *p))
            })
            .collect(),
        Style::OneLine => policy
            .iter()
            .enumerate()
            .map(|(i, (r, p, name, d))| {
                let sep = if i % 2 == 0 { " " } else { ", " };
                format!("{} {name:?} {{ policy = \"{d}\"{sep}}}{sep}", kind(*r, *p))
            })
            .collect(),
    }
}

/// The obvious implementation: merge everything, then scan all rules per question.
struct Reference(
    HashMap<(Resource, bool, String), Disposition>,
    DefaultPolicy,
);

impl Reference {
    fn new(policies: &[Vec<Raw>], default: DefaultPolicy) -> Self {
        let mut merged = HashMap::new();
        for (r, prefix, name, d) in policies.iter().flatten() {
            let slot = merged.entry((*r, *prefix, name.clone())).or_insert(*d);
            *slot = (*slot).max(*d);
        }
        Reference(merged, default)
    }

    fn grants(d: Option<Disposition>, default: DefaultPolicy, level: Level) -> bool {
        match (d, level) {
            (None, _) => default == Allow,
            (Some(Disposition::Deny), _) => false,
            (Some(Disposition::Write), _) => true,
            (Some(Disposition::List), l) => l != Write,
            (Some(Disposition::Read), l) => l == Read,
        }
    }

    fn longest_prefix(&self, resource: Resource, name: &str) -> Option<Disposition> {
        let covering = self
            .0
            .iter()
            .filter(|((r, p, n), _)| *r == resource && *p && name.starts_with(n.as_str()));
        covering
            .max_by_key(|((_, _, n), _)| n.len())
            .map(|(_, d)| *d)
    }

    fn allows(&self, resource: Resource, name: &str, level: Level) -> bool {
        let exact = self.0.get(&(resource, false, name.to_owned())).copied();
        Self::grants(
            exact.or_else(|| self.longest_prefix(resource, name)),
            self.1,
            level,
        )
    }

    fn key_write_prefix(&self, prefix: &str) -> bool {
        let under = self
            .0
            .iter()
            .filter(|((r, _, n), _)| *r == Key && n.starts_with(prefix));
        Self::grants(self.longest_prefix(Key, prefix), self.1, Write)
            && under.map(|(_, d)| *d).all(|d| d == Disposition::Write)
    }
}

proptest! {
    #[test]
    fn allows_matches_reference(
        policies in prop::collection::vec(prop::collection::vec(raw_rule(), 0..6), 1..4),
        style in prop_oneof![Just(Style::Json), Just(Style::Hcl), Just(Style::OneLine)],
        allow in any::<bool>(),
        names in prop::collection::vec("[ab/é]{0,5}", 1..6),
    ) {
        let default = if allow { Allow } else { Deny };
        let parsed: Vec<Rules> = policies
            .iter()
            .map(|p| parse(&render(p, style)))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("{style:?}: {e}")))?;
        let auth = Authorizer::from_rules(&parsed, default);
        let reference = Reference::new(&policies, default);
        for name in &names {
            for resource in [Key, Service, Node] {
                for level in [Read, List, Write] {
                    prop_assert_eq!(
                        auth.allows(resource, name, level),
                        reference.allows(resource, name, level),
                        "{}:{} on {:?}", resource, level, name
                    );
                }
            }
            prop_assert_eq!(auth.key_write_prefix(name), reference.key_write_prefix(name), "prefix {:?}", name);
        }
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        if let Err(e) = parse(&text) {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn parse_never_panics_on_rule_like_text(
        parts in prop::collection::vec(
            prop_oneof![
                Just("key"), Just("key_prefix"), Just("service"), Just("operator"), Just("policy"),
                Just("intentions"), Just("\"read\""), Just("\"write\""), Just("\"\""), Just("{"),
                Just("}"), Just("["), Just("]"), Just("="), Just(","), Just("\n"), Just(" "), Just("#"),
                Just("//"), Just("/*"), Just("*/"), Just("<<EOT"), Just("EOT"), Just("\""), Just("\\"),
                Just("${"), Just(":"), Just("1"), Just("é"), Just("null"),
            ],
            0..40,
        )
    ) {
        let text: String = parts.concat();
        if let Err(e) = parse(&text) {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }
}
