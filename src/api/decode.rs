//! Case-insensitive, schema-aware decoding of request bodies.
//!
//! Consul decodes bodies with Go's `encoding/json` (keys match case-insensitively) and
//! rejects unknown fields. We rewrite every key of a body to its canonical spelling using a
//! schema of the expected shape (so user maps like `Meta` keep their keys untouched), then
//! hand the result to serde. Snake-case aliases (`enable_tag_override`) match too, because
//! keys are compared with case and underscores folded.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// What a field holds.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    /// A scalar or anything taken as is.
    Value,
    /// A map with user-defined keys: keys are kept, values are taken as is.
    Map,
    /// A nested object of this schema.
    Struct(&'static Schema),
    /// A list of objects of this schema.
    List(&'static Schema),
    /// A map from user keys to objects of this schema.
    MapOf(&'static Schema),
}

/// Canonical field names with what they hold, plus extra aliases (alias, canonical).
#[derive(Debug)]
pub struct Schema {
    /// Fields.
    pub fields: &'static [(&'static str, Field)],
    /// Additional spellings that are not case/underscore variants.
    pub aliases: &'static [(&'static str, &'static str)],
}

/// A body that could not be decoded; the text is Consul's 400 body.
#[derive(Debug, thiserror::Error)]
#[error("Request decode failed: {0}")]
pub struct DecodeError(pub String);

fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn canonical(schema: &Schema, key: &str) -> Option<(&'static str, Field)> {
    if let Some(f) = schema.fields.iter().find(|(n, _)| *n == key) {
        return Some(*f);
    }
    let k = fold(key);
    if let Some(f) = schema.fields.iter().find(|(n, _)| fold(n) == k) {
        return Some(*f);
    }
    let alias = schema.aliases.iter().find(|(a, _)| fold(a) == k)?;
    schema.fields.iter().find(|(n, _)| *n == alias.1).copied()
}

/// Rewrite the keys of `v` to their canonical names, rejecting unknown keys.
pub fn normalize(schema: &Schema, v: Value) -> Result<Value, DecodeError> {
    let Value::Object(obj) = v else {
        return match v {
            Value::Null => Ok(Value::Object(Map::new())),
            other => Err(DecodeError(format!(
                "json: cannot unmarshal {} into Go value of type object",
                json_kind(&other)
            ))),
        };
    };
    let mut out = Map::with_capacity(obj.len());
    for (k, val) in obj {
        let Some((name, field)) = canonical(schema, &k) else {
            return Err(DecodeError(format!("json: unknown field \"{k}\"")));
        };
        let val = match (field, val) {
            (_, Value::Null) => Value::Null,
            (Field::Struct(s), v) => normalize(s, v)?,
            (Field::List(s), Value::Array(items)) => Value::Array(
                items
                    .into_iter()
                    .map(|i| normalize(s, i))
                    .collect::<Result<_, _>>()?,
            ),
            (Field::MapOf(s), Value::Object(m)) => Value::Object(
                m.into_iter()
                    .map(|(mk, mv)| Ok((mk, normalize(s, mv)?)))
                    .collect::<Result<_, DecodeError>>()?,
            ),
            (_, v) => v,
        };
        // An exact-case key wins over a folded duplicate, as in encoding/json.
        if out.contains_key(name) && k != name {
            continue;
        }
        out.insert(name.to_string(), val);
    }
    Ok(Value::Object(out))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decode a request body into `T` following `schema`.
pub fn decode<T: DeserializeOwned>(schema: &Schema, body: &[u8]) -> Result<T, DecodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError("EOF".into()));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| DecodeError(e.to_string()))?;
    decode_value(schema, v)
}

/// Decode an already parsed JSON value (a block of a config file) into `T` following
/// `schema`, exactly as a request body would be.
pub fn decode_value<T: DeserializeOwned>(schema: &Schema, v: Value) -> Result<T, DecodeError> {
    let v = normalize(schema, v)?;
    serde_json::from_value(v).map_err(|e| DecodeError(e.to_string()))
}

/// Serde helpers for duration fields that take `"10s"` or integer nanoseconds.
pub mod dur {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    /// Deserialize into nanoseconds; absent/null/empty is 0.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        match v {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .ok_or_else(|| D::Error::custom(format!("invalid duration {n}"))),
            Some(Value::String(s)) if s.is_empty() => Ok(0),
            Some(Value::String(s)) => super::super::duration::parse_go(&s)
                .map(|d| d.as_nanos() as u64)
                .ok_or_else(|| D::Error::custom(format!("time: invalid duration \"{s}\""))),
            Some(other) => Err(D::Error::custom(format!("invalid duration {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static INNER: Schema = Schema {
        fields: &[("HTTP", Field::Value), ("Interval", Field::Value)],
        aliases: &[],
    };
    static OUTER: Schema = Schema {
        fields: &[
            ("Name", Field::Value),
            ("EnableTagOverride", Field::Value),
            ("Meta", Field::Map),
            ("Checks", Field::List(&INNER)),
            ("ScriptArgs", Field::Value),
        ],
        aliases: &[("args", "ScriptArgs")],
    };

    #[test]
    fn keys_fold_and_maps_keep_keys() {
        let v: Value = serde_json::from_str(
            r#"{"name":"web","enable_tag_override":true,"Meta":{"mixedCase":"x"},"checks":[{"http":"h","INTERVAL":"1s"}],"args":["a"]}"#,
        )
        .unwrap();
        let n = normalize(&OUTER, v).unwrap();
        assert_eq!(n["Name"], "web");
        assert_eq!(n["EnableTagOverride"], true);
        assert_eq!(n["Meta"]["mixedCase"], "x");
        assert_eq!(n["Checks"][0]["HTTP"], "h");
        assert_eq!(n["Checks"][0]["Interval"], "1s");
        assert_eq!(n["ScriptArgs"][0], "a");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let v: Value = serde_json::from_str(r#"{"Name":"web","Foo":1}"#).unwrap();
        let e = normalize(&OUTER, v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Request decode failed: json: unknown field \"Foo\""
        );
    }
}
