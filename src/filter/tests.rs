//! The grammar and semantics, checked on typed rows shaped like Consul's: a table of
//! the expressions Consul's documentation and its clients use, error texts, and
//! properties over generated rows and strings.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Serialize;

use super::*;

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
struct Check {
    #[serde(rename = "CheckID")]
    check_id: String,
    status: String,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
struct Weights {
    passing: i64,
    warning: i64,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    service_name: String,
    service_tags: Vec<String>,
    service_meta: BTreeMap<String, String>,
    service_port: i64,
    service_weights: Weights,
    service_enable_tag_override: bool,
    create_index: u64,
    checks: Vec<Check>,
    #[serde(skip_serializing_if = "String::is_empty")]
    kind: String,
    proxy: Option<String>,
}

fn row() -> Row {
    Row {
        id: "40e4a748-2192-161a-0510-9bf59fe950b5".into(),
        node: "n1".into(),
        service_name: "web".into(),
        service_tags: vec!["prod".into(), "v2".into(), "tag:foo:1".into()],
        service_meta: [("version", "2"), ("env", "qa"), ("my-key", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        service_port: 8080,
        service_weights: Weights {
            passing: 10,
            warning: 1,
        },
        service_enable_tag_override: false,
        create_index: 42,
        checks: vec![
            Check {
                check_id: "serfHealth".into(),
                status: "passing".into(),
            },
            Check {
                check_id: "service:web".into(),
                status: "critical".into(),
            },
        ],
        kind: String::new(),
        proxy: None,
    }
}

fn eval(expr: &str, r: &Row) -> Result<bool, FilterError> {
    Filter::parse(expr)?.matches(r)
}

#[test]
fn documented_and_client_expressions_select_what_consul_selects() {
    let r = row();
    let table: &[(&str, bool)] = &[
        // Equality, with bare, quoted and raw values.
        ("Node == n1", true),
        ("Node == \"n1\"", true),
        ("Node == `n1`", true),
        ("Node==n1", true),
        ("Node != n1", false),
        ("ServiceName == web", true),
        // Numbers and bools are read as the field's type.
        ("ServicePort == 8080", true),
        ("ServicePort == \"8080\"", true),
        ("ServicePort != 80", true),
        ("CreateIndex == 42", true),
        ("ServiceWeights.Passing == 10", true),
        ("ServiceEnableTagOverride == false", true),
        ("ServiceEnableTagOverride == F", true),
        // Lists: membership and emptiness.
        ("\"prod\" in ServiceTags", true),
        ("prod in ServiceTags", true),
        ("ServiceTags contains prod", true),
        ("\"staging\" in ServiceTags", false),
        ("\"staging\" not in ServiceTags", true),
        ("ServiceTags not contains staging", true),
        ("\"tag:foo:1\" in ServiceTags", true),
        ("ServiceTags is not empty", true),
        ("ServiceTags is empty", false),
        // Maps: keys, dotted and bracketed selectors, JSON pointers.
        ("ServiceMeta.version == \"2\"", true),
        ("ServiceMeta.version == 2", true),
        ("ServiceMeta[\"my-key\"] == x", true),
        ("\"/ServiceMeta/my-key\" == x", true),
        ("version in ServiceMeta", true),
        ("\"nope\" in ServiceMeta", false),
        ("ServiceMeta is not empty", true),
        // A missing map key is never an error.
        ("ServiceMeta.nope == 1", false),
        ("ServiceMeta.nope != 1", true),
        ("ServiceMeta.nope is empty", true),
        ("ServiceMeta.nope matches \".*\"", false),
        // Substrings and regular expressions on strings.
        ("ServiceName contains we", true),
        ("\"eb\" in ServiceName", true),
        ("Node matches \"^n[0-9]$\"", true),
        ("Node not matches \"^n2\"", true),
        ("ServiceName matches `^(web|api)$`", true),
        // Through a list: any element; or one by index.
        ("Checks.Status == passing", true),
        ("Checks.Status == critical", true),
        ("Checks.Status == warning", false),
        ("Checks.Status != warning", true),
        ("Checks.0.Status == passing", true),
        ("Checks.1.Status == passing", false),
        ("Checks.5.Status == passing", false),
        ("Checks.CheckID == \"service:web\"", true),
        ("Checks is not empty", true),
        // Go field names, case-insensitively; fields left out of this row.
        (
            "id != \"\" and Id == \"40e4a748-2192-161a-0510-9bf59fe950b5\"",
            true,
        ),
        ("Kind == \"\"", true),
        ("Kind is empty", true),
        ("Proxy is empty", true),
        ("Namespace == \"\"", true),
        // Boolean structure and precedence: not > and > or.
        ("Node == n1 and ServiceName == web", true),
        ("Node == n2 or ServiceName == web", true),
        (
            "Node == n2 or ServiceName == web and ServicePort == 1",
            false,
        ),
        (
            "(Node == n2 or ServiceName == web) and ServicePort == 8080",
            true,
        ),
        ("not Node == n2", true),
        ("not not Node == n2", false),
        ("not (Node == n1 and ServicePort == 1)", true),
        (
            "ServiceMeta.version == \"2\" and not (Node matches \"^n2\")",
            true,
        ),
        ("( Node == n1 )", true),
        ("  Node == n1  ", true),
        ("Node == n1\nand\tServicePort == 8080", true),
        // Escapes in double-quoted strings.
        ("ServiceName == \"w\\x65b\"", true),
        ("ServiceName == \"w\\u0065b\"", true),
    ];
    for (expr, want) in table {
        assert_eq!(eval(expr, &r), Ok(*want), "{expr}");
    }
}

#[test]
fn bad_expressions_fail_with_the_evaluator_prefix_and_a_position() {
    for (expr, wanted) in [
        ("not a valid expression((", "no match found"),
        ("Node ==", "no match found"),
        ("Node = n1", "no match found"),
        ("== n1", "no match found"),
        ("Node == n1 and", "no match found"),
        ("(Node == n1", "Unmatched parentheses"),
        ("Node == \"n1", "Unterminated string literal"),
        ("ServicePort == 80x", "Invalid number literal"),
        ("ServiceMeta[x] == 1", "Invalid index"),
        ("ServiceMeta[\"x\" == 1", "Unclosed index expression"),
        ("Node matches \"(\"", "Failed to compile regular expression"),
        ("\"a\" in ", "Invalid selector"),
        ("Node == 'n1'", "no match found"),
        ("", "no match found"),
    ] {
        let err = Filter::parse(expr).expect_err(expr).to_string();
        assert!(
            err.starts_with("Failed to create boolean expression evaluator: "),
            "{expr}: {err}"
        );
        assert!(err.contains(wanted), "{expr}: wanted {wanted:?} in {err}");
        assert_eq!(err.lines().count(), 1, "{expr}: {err}");
    }
    let err = Filter::parse("Node = n1").unwrap_err().to_string();
    assert!(err.contains("1:6 (5)"), "{err}");
    assert!(err.contains("\"==\""), "{err}");
}

#[test]
fn evaluation_errors_name_the_selector_and_the_reason() {
    let r = row();
    let err = eval("NoSuchField == 1", &r).unwrap_err().to_string();
    assert_eq!(
        err,
        "error finding value in datum: /NoSuchField at part 0: couldn't find key: struct field with name \"NoSuchField\""
    );
    let err = eval("Checks.Nope == 1", &r).unwrap_err().to_string();
    assert!(err.contains("/Checks/Nope at part 1"), "{err}");
    assert!(eval("ServicePort == abc", &r).is_err());
    assert!(eval("ServicePort contains 1", &r).is_err());
    assert!(eval("ServiceTags == prod", &r).is_err());
    assert!(eval("ServiceWeights == 1", &r).is_err());
    assert!(eval("Node.Deeper == 1", &r).is_err());
    // `and` stops at the first false, as go-bexpr does: no error reached.
    assert_eq!(eval("Node == n2 and NoSuchField == 1", &r), Ok(false));
    // On no rows there is nothing to evaluate.
    let mut none: Vec<Row> = Vec::new();
    Filter::parse("NoSuchField == 1")
        .unwrap()
        .retain(&mut none)
        .unwrap();
}

#[test]
fn retain_keeps_order_and_fails_whole_on_an_error() {
    let mut rows: Vec<Row> = (0..5)
        .map(|i| Row {
            node: format!("n{i}"),
            ..row()
        })
        .collect();
    Filter::parse("Node != n2 and Node != n4")
        .unwrap()
        .retain(&mut rows)
        .unwrap();
    let nodes: Vec<_> = rows.iter().map(|r| r.node.as_str()).collect();
    assert_eq!(nodes, ["n0", "n1", "n3"]);
    assert!(
        Filter::parse("Nope == 1")
            .unwrap()
            .retain(&mut rows)
            .is_err()
    );
}

/// A string as a Go double-quoted literal.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\x22"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn meta_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map("[a-z]{1,4}", "[a-z0-9]{0,3}", 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the input, parsing answers (no panic), and a failure carries the prefix.
    #[test]
    fn parsing_never_panics(s in "\\PC{0,40}") {
        if let Err(e) = Filter::parse(&s) {
            prop_assert!(e.to_string().starts_with("Failed to create boolean expression evaluator: "));
        }
    }

    /// Map selectors agree with the map: equality, membership, and their negations.
    #[test]
    fn map_selectors_agree_with_the_map(meta in meta_strategy(), key in "[a-z]{1,4}", value in "[a-z0-9]{0,3}") {
        let r = Row { service_meta: meta.clone(), ..row() };
        let eq = meta.get(&key) == Some(&value) || (!meta.contains_key(&key) && value.is_empty());
        prop_assert_eq!(eval(&format!("ServiceMeta.{key} == {}", go_quote(&value)), &r), Ok(eq));
        prop_assert_eq!(eval(&format!("ServiceMeta.{key} != {}", go_quote(&value)), &r), Ok(!eq));
        prop_assert_eq!(eval(&format!("{} in ServiceMeta", go_quote(&key)), &r), Ok(meta.contains_key(&key)));
        prop_assert_eq!(eval(&format!("{} not in ServiceMeta", go_quote(&key)), &r), Ok(!meta.contains_key(&key)));
        prop_assert_eq!(eval("ServiceMeta is empty", &r), Ok(meta.is_empty()));
    }

    /// Any string survives quoting: a row holding it is found by it.
    #[test]
    fn quoted_strings_round_trip(name in "\\PC{0,12}") {
        let r = Row { service_name: name.clone(), ..row() };
        let quoted = go_quote(&name);
        prop_assert_eq!(eval(&format!("ServiceName == {quoted}"), &r), Ok(true));
        prop_assert_eq!(eval(&format!("ServiceName != {quoted}"), &r), Ok(false));
        prop_assert_eq!(eval(&format!("{quoted} in ServiceName"), &r), Ok(true));
        if !name.contains('`') {
            prop_assert_eq!(eval(&format!("ServiceName == `{name}`"), &r), Ok(true));
        }
    }

    /// `and`, `or` and `not` are the boolean operators over the comparisons' results.
    #[test]
    fn connectives_are_boolean(a in any::<bool>(), b in any::<bool>(), c in any::<bool>()) {
        let r = row();
        let lit = |v: bool| if v { "Node == n1" } else { "Node == n9" };
        let (x, y, z) = (lit(a), lit(b), lit(c));
        prop_assert_eq!(eval(&format!("{x} and {y} or {z}"), &r), Ok(a && b || c));
        prop_assert_eq!(eval(&format!("{x} or {y} and {z}"), &r), Ok(a || b && c));
        prop_assert_eq!(eval(&format!("not {x} and {y}"), &r), Ok(!a && b));
        prop_assert_eq!(eval(&format!("not ({x} or {y})"), &r), Ok(!(a || b)));
        prop_assert_eq!(eval(&format!("(({x}) and (({y})))"), &r), Ok(a && b));
    }

    /// Tags: membership is element equality, never a substring of an element.
    #[test]
    fn list_membership_is_element_equality(tags in proptest::collection::vec("[a-c]{1,3}", 0..5), probe in "[a-c]{1,3}") {
        let r = Row { service_tags: tags.clone(), ..row() };
        prop_assert_eq!(eval(&format!("{probe} in ServiceTags"), &r), Ok(tags.contains(&probe)));
        prop_assert_eq!(eval("ServiceTags is empty", &r), Ok(tags.is_empty()));
    }

    /// Through a list, a comparison holds when it holds for some element.
    #[test]
    fn selectors_through_lists_mean_any(statuses in proptest::collection::vec(prop_oneof!["passing", "warning", "critical"], 0..4)) {
        let r = Row {
            checks: statuses.iter().enumerate().map(|(i, s)| Check { check_id: format!("c{i}"), status: s.to_string() }).collect(),
            ..row()
        };
        for s in ["passing", "warning", "critical"] {
            let any = statuses.iter().any(|x| x == s);
            prop_assert_eq!(eval(&format!("Checks.Status == {s}"), &r), Ok(any));
            prop_assert_eq!(eval(&format!("Checks.Status != {s}"), &r), Ok(!any));
        }
    }
}
