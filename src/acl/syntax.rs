//! Reading policy text into a tree, whichever syntax it is written in.
//!
//! Text starting with `{` is JSON, anything else HCL. HCL version 2 (the `hcl` crate) is a
//! superset of the documented rule forms except one: version 1, which Consul uses, lets a
//! block hold several attributes on one line (`{ policy = "write" intentions = "read" }`)
//! or separate them with commas. When the strict parse fails, such separators are turned
//! into newlines and the text is tried once more; an error still reports the position in
//! the original text.

use super::rules::RulesError;

/// Reads policy text into its top-level `(name, value)` entries, in order and with
/// repetitions kept.
pub(super) fn read(text: &str) -> Result<Vec<(String, Node)>, RulesError> {
    if text.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RulesError::Syntax(one_line(&e.to_string())))?;
        return match from_json(value) {
            Node::Obj(entries) => Ok(entries),
            _ => Err(RulesError::Syntax("expected a JSON object".into())),
        };
    }
    let body = match hcl::parse(text) {
        Ok(body) => body,
        Err(strict) => match relax_hcl1(text).map(|t| hcl::parse(&t)) {
            Some(Ok(body)) => body,
            _ => return Err(RulesError::Syntax(describe_hcl_error(&strict))),
        },
    };
    Ok(from_body(body))
}

/// The shape both syntaxes reduce to: strings, objects (a block is an object under its
/// labels), and anything else kept only as a description for the error message.
pub(super) enum Node {
    Str(String),
    Obj(Vec<(String, Node)>),
    Other(String),
}

impl Node {
    pub(super) fn describe(&self) -> &str {
        match self {
            Node::Str(_) => "a string",
            Node::Obj(_) => "a block or object",
            Node::Other(what) => what,
        }
    }
}

/// Adds `key = value`; a list becomes one entry per element, the way HCL version 1 writes
/// repeated blocks in JSON (`"key": [{"a": {..}}, {"b": {..}}]`).
fn push<T>(entries: &mut Vec<(String, Node)>, key: String, value: T, convert: fn(T) -> Node)
where
    T: ListOrOne,
{
    match value.into_list() {
        Ok(list) => entries.extend(list.into_iter().map(|item| (key.clone(), convert(item)))),
        Err(one) => entries.push((key, convert(one))),
    }
}

/// A value that may be a list, for [`push`].
trait ListOrOne: Sized {
    fn into_list(self) -> Result<Vec<Self>, Self>;
}

impl ListOrOne for serde_json::Value {
    fn into_list(self) -> Result<Vec<Self>, Self> {
        match self {
            serde_json::Value::Array(list) => Ok(list),
            other => Err(other),
        }
    }
}

impl ListOrOne for hcl::Expression {
    fn into_list(self) -> Result<Vec<Self>, Self> {
        match self {
            hcl::Expression::Array(list) => Ok(list),
            other => Err(other),
        }
    }
}

fn from_json(value: serde_json::Value) -> Node {
    use serde_json::Value;
    match value {
        Value::String(s) => Node::Str(s),
        Value::Object(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (key, value) in map {
                push(&mut entries, key, value, from_json);
            }
            Node::Obj(entries)
        }
        Value::Array(_) => Node::Other("a nested list".into()),
        Value::Null => Node::Other("null".into()),
        Value::Bool(_) => Node::Other("a bool".into()),
        Value::Number(_) => Node::Other("a number".into()),
    }
}

fn from_body(body: hcl::Body) -> Vec<(String, Node)> {
    let mut entries = Vec::new();
    for structure in body {
        match structure {
            hcl::Structure::Attribute(attr) => {
                push(
                    &mut entries,
                    attr.key.as_str().to_owned(),
                    attr.expr,
                    from_expr,
                );
            }
            hcl::Structure::Block(block) => {
                let mut node = Node::Obj(from_body(block.body));
                for label in block.labels.into_iter().rev() {
                    node = Node::Obj(vec![(label.into_inner(), node)]);
                }
                entries.push((block.identifier.as_str().to_owned(), node));
            }
        }
    }
    entries
}

fn from_expr(expr: hcl::Expression) -> Node {
    use hcl::Expression;
    match expr {
        Expression::String(s) => Node::Str(s),
        Expression::Object(object) => {
            let mut entries = Vec::with_capacity(object.len());
            for (key, value) in object {
                let key = match key {
                    hcl::ObjectKey::Identifier(id) => id.as_str().to_owned(),
                    hcl::ObjectKey::Expression(Expression::String(s)) => s,
                    hcl::ObjectKey::Expression(_) => {
                        return Node::Other("an object with a computed key".into());
                    }
                    _ => return Node::Other("an object with an unsupported key".into()),
                };
                push(&mut entries, key, value, from_expr);
            }
            Node::Obj(entries)
        }
        Expression::Variable(word) => Node::Other(format!("the bare word {:?}", word.as_str())),
        Expression::TemplateExpr(_) => Node::Other("a template or heredoc".into()),
        Expression::Array(_) => Node::Other("a nested list".into()),
        Expression::Null => Node::Other("null".into()),
        Expression::Bool(_) => Node::Other("a bool".into()),
        Expression::Number(_) => Node::Other("a number".into()),
        _ => Node::Other("an expression".into()),
    }
}

/// `line L, column C: message` from the parser's multi-line report.
fn describe_hcl_error(err: &hcl::Error) -> String {
    match err {
        hcl::Error::Parse(e) => {
            let at = e.location();
            one_line(&format!(
                "line {}, column {}: {}",
                at.line(),
                at.column(),
                e.message()
            ))
        }
        other => one_line(&other.to_string()),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rewrites the separators HCL version 1 allows inside and between blocks into the newlines
/// version 2 requires: a comma in a block or object, the gap between an attribute's value
/// and the next item on the same line, and the inside edges of braces. Strings and comments
/// are copied untouched. `None` when nothing changed, or for a heredoc, which is left to the
/// strict parse.
fn relax_hcl1(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut chars = text.chars().peekable();
    let mut open: Vec<char> = Vec::new();
    let (mut after_eq, mut after_value, mut changed) = (false, false, false);
    while let Some(c) = chars.next() {
        let in_body = matches!(open.last(), None | Some('{'));
        if c == '\n' {
            after_value = false;
            out.push(c);
            continue;
        }
        if c.is_whitespace() {
            out.push(c);
            continue;
        }
        let next = chars.peek().copied();
        if c == '#' || (c == '/' && next == Some('/')) {
            out.push(c);
            while let Some(&n) = chars.peek().filter(|&&n| n != '\n') {
                out.push(n);
                chars.next();
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            out.push_str("/*");
            chars.next();
            let mut prev = ' ';
            for n in chars.by_ref() {
                out.push(n);
                if prev == '*' && n == '/' {
                    break;
                }
                prev = n;
            }
            continue;
        }
        if c == '<' && next == Some('<') {
            return None;
        }
        if after_value && in_body && c != '}' && c != ',' {
            out.push('\n');
            changed = true;
            after_value = false;
        }
        match c {
            '"' => {
                out.push(c);
                let mut escaped = false;
                for n in chars.by_ref() {
                    out.push(n);
                    if n == '"' && !escaped {
                        break;
                    }
                    escaped = n == '\\' && !escaped;
                }
                after_value = std::mem::take(&mut after_eq);
            }
            '{' => {
                out.push(c);
                if in_body {
                    out.push('\n');
                    changed = true;
                }
                open.push(c);
                (after_eq, after_value) = (false, false);
            }
            '[' | '(' => {
                out.push(c);
                open.push(c);
                (after_eq, after_value) = (false, false);
            }
            '}' | ']' | ')' => {
                if c == '}' && open.last() == Some(&'{') {
                    out.push('\n');
                    changed = true;
                }
                out.push(c);
                open.pop();
                after_value = true;
            }
            ',' if in_body => {
                out.push('\n');
                changed = true;
                after_value = false;
            }
            '=' => {
                out.push(c);
                after_eq = true;
            }
            _ if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' => {
                out.push(c);
                while let Some(&n) = chars
                    .peek()
                    .filter(|&&n| n.is_alphanumeric() || matches!(n, '_' | '-' | '.'))
                {
                    out.push(n);
                    chars.next();
                }
                after_value = std::mem::take(&mut after_eq);
            }
            _ => {
                out.push(c);
                (after_eq, after_value) = (false, false);
            }
        }
    }
    changed.then_some(out)
}
