//! consul-template's functions for the Go template engine: the data functions read the
//! current answers and record what a render used and what it still lacks; the helpers
//! are pure.
//!
//! Argument order follows consul-template, where a pipeline's value arrives last:
//! `{{ .Tags | join "," }}` is `join "," .Tags`, `{{ .Tags | contains "x" }}` is
//! `contains "x" .Tags`, `{{ 10 | subtract 3 }}` is 7.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use gotmpl::{Template, TemplateError, Value};
use parking_lot::Mutex;

use super::deps::{Dep, json_value};

/// The answers a render reads, and what it touched.
#[derive(Default)]
pub struct RenderState {
    /// Every dependency answered so far, by query.
    pub data: Arc<HashMap<Dep, Value>>,
    /// Queries this render read.
    pub used: BTreeSet<Dep>,
    /// Queries this render needed and had no answer for (or, for `key`, no key yet).
    pub missing: BTreeSet<Dep>,
    /// `scratch`: per template, cleared before each render.
    pub scratch: BTreeMap<String, Value>,
}

type Shared = Arc<Mutex<RenderState>>;

fn err(msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec(msg.into())
}

fn str_arg(args: &[Value], i: usize, func: &str) -> gotmpl::Result<String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(v @ (Value::Int(_) | Value::Uint(_) | Value::Float(_) | Value::Bool(_))) => {
            Ok(v.to_string())
        }
        Some(other) => Err(err(format!(
            "{func}: argument {} must be a string, not {}",
            i + 1,
            other.type_name()
        ))),
        None => Err(err(format!("{func}: missing argument {}", i + 1))),
    }
}

/// The optional first argument of `services`, `node`, `nodes` ("" when left out).
fn opt_str_arg(args: &[Value], func: &str) -> gotmpl::Result<String> {
    if args.is_empty() {
        Ok(String::new())
    } else {
        str_arg(args, 0, func)
    }
}

fn arity(args: &[Value], min: usize, max: usize, func: &str) -> gotmpl::Result<()> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(err(format!(
            "{func}: wrong number of arguments: want {want}, got {}",
            args.len()
        )));
    }
    Ok(())
}

/// Look a query up: its answer, or `None` (recorded as missing) when it has none yet.
fn recall(state: &Shared, dep: Dep) -> Option<Value> {
    let mut st = state.lock();
    let found = st.data.get(&dep).cloned();
    if found.is_none() {
        st.missing.insert(dep.clone());
    }
    st.used.insert(dep);
    found
}

fn block_on(state: &Shared, dep: &Dep) {
    state.lock().missing.insert(dep.clone());
}

fn at_dc(s: &str) -> (String, Option<String>) {
    match s.rsplit_once('@') {
        Some((a, d)) if !d.is_empty() => (a.to_string(), Some(d.to_string())),
        _ => (s.to_string(), None),
    }
}

fn list(v: Vec<Value>) -> Value {
    Value::List(Arc::from(v))
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.to_vec(),
        Value::Nil => Vec::new(),
        other => vec![other.clone()],
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Map(m) => m.get(name),
        _ => None,
    }
}

/// `ls`/`tree` entries with `Key` relative to `prefix`; `top` keeps direct children only.
fn kv_entries(all: &Value, prefix: &str, top: bool) -> Value {
    let prefix = prefix.trim_start_matches('/');
    let mut out = Vec::new();
    for e in items(all) {
        let Some(Value::String(path)) = field(&e, "Key") else {
            continue;
        };
        let rel = path
            .strip_prefix(prefix)
            .unwrap_or(path)
            .trim_start_matches('/')
            .to_string();
        if rel.is_empty() || rel.ends_with('/') || (top && rel.contains('/')) {
            continue;
        }
        if let Value::Map(m) = &e {
            let mut m = (**m).clone();
            m.insert(Arc::from("Key"), Value::from(rel.as_str()));
            out.push(Value::Map(Arc::new(m)));
        }
    }
    list(out)
}

/// Go's `json.Marshal` escapes `<`, `>` and `&` (and the JS line separators).
fn html_safe_json(s: String) -> String {
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A template value as JSON (maps are sorted, as Go's encoder sorts them).
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Uint(u) => J::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.to_string()),
        Value::List(l) => J::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        other => J::String(other.to_string()),
    }
}

fn num(v: &Value, func: &str) -> gotmpl::Result<f64> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(u) => Ok(*u as f64),
        Value::Float(f) => Ok(*f),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| err(format!("{func}: {s:?} is not a number"))),
        other => Err(err(format!(
            "{func}: {} is not a number",
            other.type_name()
        ))),
    }
}

fn is_float(v: &Value) -> bool {
    matches!(v, Value::Float(_)) || matches!(v, Value::String(s) if s.contains('.'))
}

/// consul-template's arithmetic: `op b a` is `a op b`, ints stay ints.
fn arith(args: &[Value], func: &str, op: fn(f64, f64) -> Option<f64>) -> gotmpl::Result<Value> {
    arity(args, 2, 2, func)?;
    let (b, a) = (num(&args[0], func)?, num(&args[1], func)?);
    let r = op(a, b).ok_or_else(|| err(format!("{func}: division by zero")))?;
    if is_float(&args[0]) || is_float(&args[1]) {
        Ok(Value::Float(r))
    } else {
        Ok(Value::Int(r.trunc() as i64))
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (x, y) => x.to_string() == y.to_string(),
    }
}

/// `in list x`: element of a list, key of a map, substring of a string.
fn member(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::List(l) => l.iter().any(|e| equal(e, needle)),
        Value::Map(m) => m.contains_key(needle.to_string().as_str()),
        Value::String(s) => s.contains(needle.to_string().as_str()),
        _ => false,
    }
}

/// Go's reference time layout, for `timestamp`.
fn go_time(layout: &str, t: time::OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let tokens: [(&str, String); 17] = [
        ("2006", format!("{:04}", t.year())),
        ("Z07:00", "Z".to_string()),
        ("-07:00", "+00:00".to_string()),
        ("-0700", "+0000".to_string()),
        ("January", format!("{}", t.month())),
        ("Monday", format!("{}", t.weekday())),
        ("Jan", MONTHS[t.month() as usize - 1].to_string()),
        (
            "Mon",
            DAYS[t.weekday().number_days_from_monday() as usize].to_string(),
        ),
        ("MST", "UTC".to_string()),
        (".000", format!(".{:03}", t.millisecond())),
        ("01", format!("{:02}", t.month() as u8)),
        ("02", format!("{:02}", t.day())),
        ("15", format!("{:02}", t.hour())),
        ("04", format!("{:02}", t.minute())),
        ("05", format!("{:02}", t.second())),
        ("06", format!("{:02}", t.year() % 100)),
        ("2", format!("{}", t.day())),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (tok, val) in &tokens {
            if let Some(r) = rest.strip_prefix(tok) {
                out.push_str(val);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Register every function on `t`, the data ones reading `state`.
pub fn register(t: Template, state: &Shared) -> Template {
    let s = state.clone();
    let t = t.func("service", move |args| {
        if args.is_empty() {
            return Err(err("service: missing service name"));
        }
        let words: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let dep = Dep::service(&words).map_err(err)?;
        Ok(recall(&s, dep).unwrap_or_else(|| list(Vec::new())))
    });
    let s = state.clone();
    let t = t.func("services", move |args| {
        arity(args, 0, 1, "services")?;
        let q = opt_str_arg(args, "services")?;
        let (_, dc) = at_dc(&q);
        Ok(recall(&s, Dep::Services { dc }).unwrap_or_else(|| list(Vec::new())))
    });
    let s = state.clone();
    let t = t.func("node", move |args| {
        arity(args, 0, 1, "node")?;
        let q = opt_str_arg(args, "node")?;
        let (name, dc) = at_dc(&q);
        Ok(recall(&s, Dep::Node { name, dc }).unwrap_or(Value::Nil))
    });
    let s = state.clone();
    let t = t.func("nodes", move |args| {
        arity(args, 0, 1, "nodes")?;
        let q = opt_str_arg(args, "nodes")?;
        let (q, near) = match q.split_once('~') {
            Some((a, n)) => (a.to_string(), Some(n.to_string())),
            None => (q, None),
        };
        let (_, dc) = at_dc(&q);
        Ok(recall(&s, Dep::Nodes { dc, near }).unwrap_or_else(|| list(Vec::new())))
    });
    let s = state.clone();
    let t = t.func("key", move |args| {
        arity(args, 1, 1, "key")?;
        let (key, dc) = at_dc(&str_arg(args, 0, "key")?);
        let dep = Dep::Key { key, dc };
        match recall(&s, dep.clone()) {
            Some(Value::Nil) => {
                // The key does not exist yet: the render waits for it.
                block_on(&s, &dep);
                Ok(Value::from(""))
            }
            Some(v) => Ok(v),
            None => Ok(Value::from("")),
        }
    });
    let s = state.clone();
    let t = t.func("keyOrDefault", move |args| {
        arity(args, 2, 2, "keyOrDefault")?;
        let (key, dc) = at_dc(&str_arg(args, 0, "keyOrDefault")?);
        let default = args[1].clone();
        match recall(&s, Dep::Key { key, dc }) {
            Some(Value::String(v)) if !v.is_empty() => Ok(Value::String(v)),
            _ => Ok(default),
        }
    });
    let s = state.clone();
    let t = t.func("keyExists", move |args| {
        arity(args, 1, 1, "keyExists")?;
        let (key, dc) = at_dc(&str_arg(args, 0, "keyExists")?);
        Ok(Value::Bool(matches!(
            recall(&s, Dep::Key { key, dc }),
            Some(Value::String(_))
        )))
    });
    let mut t = t;
    for (name, top, safe) in [
        ("ls", true, false),
        ("tree", false, false),
        ("safeLs", true, true),
        ("safeTree", false, true),
    ] {
        let s = state.clone();
        t = t.func(name, move |args| {
            arity(args, 1, 1, name)?;
            let (prefix, dc) = at_dc(&str_arg(args, 0, name)?);
            let dep = Dep::Tree {
                prefix: prefix.clone(),
                dc,
            };
            let out = match recall(&s, dep.clone()) {
                Some(all) => kv_entries(&all, &prefix, top),
                None => list(Vec::new()),
            };
            if safe && out.len() == Some(0) {
                block_on(&s, &dep);
            }
            Ok(out)
        });
    }
    let t = t
        .func("env", |args| {
            arity(args, 1, 1, "env")?;
            Ok(Value::from(
                std::env::var(str_arg(args, 0, "env")?)
                    .unwrap_or_default()
                    .as_str(),
            ))
        })
        .func("envOrDefault", |args| {
            arity(args, 2, 2, "envOrDefault")?;
            match std::env::var(str_arg(args, 0, "envOrDefault")?) {
                Ok(v) if !v.is_empty() => Ok(Value::from(v.as_str())),
                _ => Ok(args[1].clone()),
            }
        })
        .func("mustEnv", |args| {
            arity(args, 1, 1, "mustEnv")?;
            let name = str_arg(args, 0, "mustEnv")?;
            std::env::var(&name)
                .map(|v| Value::from(v.as_str()))
                .map_err(|_| err(format!("mustEnv: environment variable {name} is not set")))
        });
    let t = t
        .func("byTag", |args| {
            arity(args, 1, 1, "byTag")?;
            let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for svc in items(&args[0]) {
                let tags = field(&svc, "Tags").map(items).unwrap_or_default();
                let mut seen = BTreeSet::new();
                for tag in tags {
                    let tag = tag.to_string();
                    if seen.insert(tag.clone()) {
                        out.entry(tag).or_default().push(svc.clone());
                    }
                }
            }
            Ok(Value::from(
                out.into_iter()
                    .map(|(k, v)| (k, list(v)))
                    .collect::<BTreeMap<String, Value>>(),
            ))
        })
        .func("byKey", |args| {
            arity(args, 1, 1, "byKey")?;
            let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
            for pair in items(&args[0]) {
                let key = field(&pair, "Key")
                    .map(|k| k.to_string())
                    .unwrap_or_default();
                if let Some((top, rest)) = key.split_once('/') {
                    if rest.is_empty() {
                        continue;
                    }
                    let mut p = pair.clone();
                    if let Value::Map(m) = &pair {
                        let mut m = (**m).clone();
                        m.insert(Arc::from("Key"), Value::from(rest));
                        p = Value::Map(Arc::new(m));
                    }
                    out.entry(top.to_string())
                        .or_default()
                        .insert(rest.to_string(), p);
                }
            }
            Ok(Value::from(
                out.into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect::<BTreeMap<String, Value>>(),
            ))
        });
    let t = t
        .func("toJSON", |args| {
            arity(args, 1, 1, "toJSON")?;
            Ok(Value::from(
                html_safe_json(to_json(&args[0]).to_string()).as_str(),
            ))
        })
        .func("toUnescapedJSON", |args| {
            arity(args, 1, 1, "toUnescapedJSON")?;
            Ok(Value::from(to_json(&args[0]).to_string().as_str()))
        })
        .func("toJSONPretty", |args| {
            arity(args, 1, 1, "toJSONPretty")?;
            let text = serde_json::to_string_pretty(&to_json(&args[0]))
                .map_err(|e| err(format!("toJSONPretty: {e}")))?;
            Ok(Value::from(html_safe_json(text).as_str()))
        })
        .func("parseJSON", |args| {
            arity(args, 1, 1, "parseJSON")?;
            let text = str_arg(args, 0, "parseJSON")?;
            if text.trim().is_empty() {
                return Ok(Value::from(BTreeMap::<String, Value>::new()));
            }
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| err(format!("parseJSON: {e}")))?;
            Ok(json_value(&v))
        });
    let t = t
        .func("contains", |args| {
            arity(args, 2, 2, "contains")?;
            Ok(Value::Bool(member(&args[1], &args[0])))
        })
        .func("in", |args| {
            arity(args, 2, 2, "in")?;
            Ok(Value::Bool(member(&args[0], &args[1])))
        });
    let mut t = t;
    for (name, want_all, want_found) in [
        ("containsAll", true, true),
        ("containsAny", false, true),
        ("containsNone", true, false),
        ("containsNotAll", false, false),
    ] {
        t = t.func(name, move |args| {
            arity(args, 2, 2, name)?;
            let needles = items(&args[0]);
            let hay = &args[1];
            let r = if want_all {
                needles.iter().all(|n| member(hay, n) == want_found)
            } else {
                needles.iter().any(|n| member(hay, n) == want_found)
            };
            Ok(Value::Bool(r))
        });
    }
    let t = t
        .func("join", |args| {
            arity(args, 2, 2, "join")?;
            let sep = str_arg(args, 0, "join")?;
            let parts: Vec<String> = items(&args[1]).iter().map(|v| v.to_string()).collect();
            Ok(Value::from(parts.join(&sep).as_str()))
        })
        .func("split", |args| {
            arity(args, 2, 2, "split")?;
            let sep = str_arg(args, 0, "split")?;
            let s = str_arg(args, 1, "split")?;
            if s.is_empty() {
                return Ok(list(Vec::new()));
            }
            Ok(list(s.split(sep.as_str()).map(Value::from).collect()))
        })
        .func("timestamp", |args| {
            arity(args, 0, 1, "timestamp")?;
            let now = time::OffsetDateTime::now_utc();
            let layout = if args.is_empty() {
                "2006-01-02T15:04:05Z07:00".to_string()
            } else {
                str_arg(args, 0, "timestamp")?
            };
            if layout == "unix" {
                return Ok(Value::from(now.unix_timestamp().to_string().as_str()));
            }
            Ok(Value::from(go_time(&layout, now).as_str()))
        });
    let t = t
        .func("toLower", |a| {
            Ok(Value::from(
                str_arg(a, 0, "toLower")?.to_lowercase().as_str(),
            ))
        })
        .func("toUpper", |a| {
            Ok(Value::from(
                str_arg(a, 0, "toUpper")?.to_uppercase().as_str(),
            ))
        })
        .func("toTitle", |a| {
            let s = str_arg(a, 0, "toTitle")?;
            let mut out = String::with_capacity(s.len());
            let mut start = true;
            for c in s.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = c.is_whitespace();
            }
            Ok(Value::from(out.as_str()))
        })
        .func("trimSpace", |a| {
            Ok(Value::from(str_arg(a, 0, "trimSpace")?.trim()))
        })
        .func("trimPrefix", |a| {
            arity(a, 2, 2, "trimPrefix")?;
            let (p, s) = (str_arg(a, 0, "trimPrefix")?, str_arg(a, 1, "trimPrefix")?);
            Ok(Value::from(s.strip_prefix(p.as_str()).unwrap_or(&s)))
        })
        .func("trimSuffix", |a| {
            arity(a, 2, 2, "trimSuffix")?;
            let (p, s) = (str_arg(a, 0, "trimSuffix")?, str_arg(a, 1, "trimSuffix")?);
            Ok(Value::from(s.strip_suffix(p.as_str()).unwrap_or(&s)))
        })
        .func("replaceAll", |a| {
            arity(a, 3, 3, "replaceAll")?;
            let (from, to, s) = (
                str_arg(a, 0, "replaceAll")?,
                str_arg(a, 1, "replaceAll")?,
                str_arg(a, 2, "replaceAll")?,
            );
            Ok(Value::from(s.replace(&from, &to).as_str()))
        })
        .func("regexMatch", |a| {
            arity(a, 2, 2, "regexMatch")?;
            let re = regex::Regex::new(&str_arg(a, 0, "regexMatch")?)
                .map_err(|e| err(format!("regexMatch: {e}")))?;
            Ok(Value::Bool(re.is_match(&str_arg(a, 1, "regexMatch")?)))
        })
        .func("regexReplaceAll", |a| {
            arity(a, 3, 3, "regexReplaceAll")?;
            let re = regex::Regex::new(&str_arg(a, 0, "regexReplaceAll")?)
                .map_err(|e| err(format!("regexReplaceAll: {e}")))?;
            let repl = str_arg(a, 1, "regexReplaceAll")?;
            let s = str_arg(a, 2, "regexReplaceAll")?;
            Ok(Value::from(re.replace_all(&s, repl.as_str()).as_ref()))
        })
        .func("indent", |a| {
            arity(a, 2, 2, "indent")?;
            let n = num(&a[0], "indent")? as usize;
            let pad = " ".repeat(n);
            let s = str_arg(a, 1, "indent")?;
            let out: Vec<String> = s.split('\n').map(|l| format!("{pad}{l}")).collect();
            Ok(Value::from(out.join("\n").as_str()))
        })
        .func("loop", |a| {
            arity(a, 1, 2, "loop")?;
            let (from, to) = if a.len() == 1 {
                (0, num(&a[0], "loop")? as i64)
            } else {
                (num(&a[0], "loop")? as i64, num(&a[1], "loop")? as i64)
            };
            let n = (to - from).clamp(0, 1_000_000);
            Ok(list((from..from + n).map(Value::Int).collect()))
        })
        .func("add", |a| arith(a, "add", |x, y| Some(x + y)))
        .func("subtract", |a| arith(a, "subtract", |x, y| Some(x - y)))
        .func("multiply", |a| arith(a, "multiply", |x, y| Some(x * y)))
        .func("divide", |a| {
            arith(a, "divide", |x, y| (y != 0.0).then(|| x / y))
        })
        .func("modulo", |a| {
            arith(a, "modulo", |x, y| (y != 0.0).then(|| x % y))
        })
        .func("minimum", |a| arith(a, "minimum", |x, y| Some(x.min(y))))
        .func("maximum", |a| arith(a, "maximum", |x, y| Some(x.max(y))))
        .func("base64Encode", |a| {
            use base64::Engine;
            Ok(Value::from(
                base64::engine::general_purpose::STANDARD
                    .encode(str_arg(a, 0, "base64Encode")?)
                    .as_str(),
            ))
        })
        .func("base64Decode", |a| {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(str_arg(a, 0, "base64Decode")?)
                .map_err(|e| err(format!("base64Decode: {e}")))?;
            Ok(Value::from(String::from_utf8_lossy(&bytes).as_ref()))
        });
    register_scratch(t, state)
}

/// `scratch.Set` and friends, spelled `scratch_Set` after [`rewrite_scratch`]: Go calls
/// them as methods of the value `scratch` returns, which the engine has no notion of.
fn register_scratch(t: Template, state: &Shared) -> Template {
    let s = state.clone();
    let t = t.func("scratch_Set", move |a| {
        arity(a, 2, 2, "scratch.Set")?;
        let k = str_arg(a, 0, "scratch.Set")?;
        s.lock().scratch.insert(k, a[1].clone());
        Ok(Value::from(""))
    });
    let s = state.clone();
    let t = t.func("scratch_SetX", move |a| {
        arity(a, 2, 2, "scratch.SetX")?;
        let k = str_arg(a, 0, "scratch.SetX")?;
        s.lock().scratch.entry(k).or_insert_with(|| a[1].clone());
        Ok(Value::from(""))
    });
    let s = state.clone();
    let t = t.func("scratch_Get", move |a| {
        arity(a, 1, 1, "scratch.Get")?;
        let k = str_arg(a, 0, "scratch.Get")?;
        Ok(s.lock().scratch.get(&k).cloned().unwrap_or(Value::Nil))
    });
    let s = state.clone();
    let t = t.func("scratch_Key", move |a| {
        arity(a, 1, 1, "scratch.Key")?;
        let k = str_arg(a, 0, "scratch.Key")?;
        Ok(Value::Bool(s.lock().scratch.contains_key(&k)))
    });
    let mut t = t;
    for (name, overwrite) in [("scratch_MapSet", true), ("scratch_MapSetX", false)] {
        let s = state.clone();
        t = t.func(name, move |a| {
            arity(a, 3, 3, name)?;
            let k = str_arg(a, 0, name)?;
            let mk = str_arg(a, 1, name)?;
            let mut st = s.lock();
            let entry = st
                .scratch
                .entry(k)
                .or_insert_with(|| Value::from(BTreeMap::<String, Value>::new()));
            let mut m = match entry {
                Value::Map(m) => (**m).clone(),
                _ => BTreeMap::new(),
            };
            if overwrite || !m.contains_key(mk.as_str()) {
                m.insert(Arc::from(mk.as_str()), a[2].clone());
            }
            *entry = Value::Map(Arc::new(m));
            Ok(Value::from(""))
        });
    }
    let s = state.clone();
    t.func("scratch_MapValues", move |a| {
        arity(a, 1, 1, "scratch.MapValues")?;
        let k = str_arg(a, 0, "scratch.MapValues")?;
        let st = s.lock();
        Ok(match st.scratch.get(&k) {
            Some(Value::Map(m)) => list(m.values().cloned().collect()),
            _ => list(Vec::new()),
        })
    })
}

/// Rewrite `scratch.Method` to `scratch_Method` inside actions (between the delimiters).
pub fn rewrite_scratch(src: &str, left: &str, right: &str) -> String {
    let re = match regex::Regex::new(r"\bscratch\.(Set|SetX|Get|Key|MapSet|MapSetX|MapValues)\b") {
        Ok(re) => re,
        Err(_) => return src.to_string(),
    };
    if !src.contains("scratch.") {
        return src.to_string();
    }
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find(left) {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after[left.len()..]
            .find(right)
            .map(|j| left.len() + j + right.len())
            .unwrap_or(after.len());
        out.push_str(&re.replace_all(&after[..end], "scratch_$1"));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let state: Shared = Arc::default();
        let t = register(Template::new("t"), &state);
        t.parse(&rewrite_scratch(src, "{{", "}}"))
            .unwrap()
            .execute_to_string(&Value::Nil)
            .unwrap()
    }

    #[test]
    fn helpers_take_consul_templates_argument_order() {
        assert_eq!(render(r#"{{ split "," "a,b,c" | join ";" }}"#), "a;b;c");
        assert_eq!(
            render(r#"{{ if split "," "a,b" | contains "b" }}y{{ end }}"#),
            "y"
        );
        assert_eq!(
            render(r#"{{ if in (split "," "a,b") "c" }}y{{ else }}n{{ end }}"#),
            "n"
        );
        assert_eq!(
            render(r#"{{ 10 | subtract 3 }} {{ add 1 2 }} {{ 7 | divide 2 }}"#),
            "7 3 3"
        );
        assert_eq!(render(r#"{{ range loop 3 }}{{ . }}{{ end }}"#), "012");
        assert_eq!(
            render(r#"{{ if containsAll (split "," "a,b") (split "," "a,b,c") }}all{{ end }}"#),
            "all"
        );
        assert_eq!(
            render(r#"{{ "{\"b\":1,\"a\":[\"<x>\"]}" | parseJSON | toJSON }}"#),
            r#"{"a":["\u003cx\u003e"],"b":1}"#
        );
        assert_eq!(
            render(r#"{{ timestamp "unix" | len | printf "%d" }}"#).len(),
            2
        );
        assert!(render("{{ timestamp }}").ends_with('Z'));
        assert_eq!(
            render(
                r#"{{ scratch.Set "a" "1" }}{{ scratch.SetX "a" "2" }}{{ scratch.Get "a" }}{{ if scratch.Key "a" }}!{{ end }}"#
            ),
            "1!"
        );
        assert_eq!(
            render(
                r#"{{ scratch.MapSet "m" "b" 2 }}{{ scratch.MapSet "m" "a" 1 }}{{ scratch.MapValues "m" }}"#
            ),
            "[1 2]"
        );
        assert_eq!(
            render(r#"{{ "a b" | toUpper }} {{ regexReplaceAll "[0-9]+" "N" "a1b22" }}"#),
            "A B aNbN"
        );
    }

    #[test]
    fn wrong_arguments_are_errors_naming_the_function() {
        let state: Shared = Arc::default();
        let t = register(Template::new("bad.ctmpl"), &state);
        let e = t
            .parse("line one\n{{ join \",\" }}")
            .unwrap()
            .execute_to_string(&Value::Nil)
            .unwrap_err()
            .to_string();
        assert!(e.contains("join: wrong number of arguments"), "{e}");
    }

    #[test]
    fn go_layouts_format_the_reference_time() {
        let t = time::OffsetDateTime::from_unix_timestamp(1772600767)
            .unwrap()
            .replace_millisecond(89)
            .unwrap();
        assert_eq!(
            go_time("2006-01-02T15:04:05Z07:00", t),
            "2026-03-04T05:06:07Z"
        );
        assert_eq!(go_time("Mon Jan 2 2006", t), "Wed Mar 4 2026");
        assert_eq!(go_time("02/01/06 15:04:05.000", t), "04/03/26 05:06:07.089");
    }
}
