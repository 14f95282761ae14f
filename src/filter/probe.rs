//! One comparison evaluated on a typed row: a `serde::Serializer` that walks the row
//! along the selector's path and tests the value it ends at, so a filter reads the same
//! structs the response is serialized from, with the same field names, and builds no
//! JSON and allocates nothing on the way.
//!
//! Selector rules (go-bexpr's, plus what Consul's users rely on):
//! - struct fields by their JSON name, falling back to an ASCII case-insensitive match
//!   (Go field names); an unknown field is an error;
//! - map keys exactly; a missing key is not an error: `==`, `in`, `matches` are false and
//!   `is empty` is true (the `not` forms flip that);
//! - a numeric segment indexes a list; any other segment applied to a list tests every
//!   element and is true when one is (`Checks.Status == passing`).

use std::fmt;

use serde::Serialize;
use serde::ser::{
    self, Impossible, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
};

use super::parse::Op;

/// Why a comparison could not be evaluated on a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

impl ser::Error for EvalError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EvalError(msg.to_string())
    }
}

/// Fields Consul's types have and disco's rows leave out (enterprise scoping, peering,
/// sockets): valid in a selector, always empty.
const ABSENT_FIELDS: &[&str] = &[
    "Namespace",
    "Partition",
    "PeerName",
    "Locality",
    "SocketPath",
    "ServiceSocketPath",
    "ServicePeerName",
    "LocalServiceAddress",
];

/// Test `op` on the value `row` holds at `path`; the positive form (the caller negates).
pub fn test<T: Serialize + ?Sized>(row: &T, path: &[String], op: &Op) -> Result<bool, EvalError> {
    row.serialize(Probe {
        full: path,
        part: 0,
        op,
        element: false,
    })
}

#[derive(Clone, Copy)]
struct Probe<'p> {
    full: &'p [String],
    /// How many segments of `full` are behind us.
    part: usize,
    op: &'p Op,
    /// Testing a list element for `in`: equality with the operand.
    element: bool,
}

impl<'p> Probe<'p> {
    fn rest(&self) -> &'p [String] {
        &self.full[self.part..]
    }

    fn next(self) -> Probe<'p> {
        Probe {
            part: self.part + 1,
            ..self
        }
    }

    fn at_leaf(&self) -> bool {
        self.part == self.full.len()
    }

    fn not_found(&self, why: &str) -> EvalError {
        EvalError(format!(
            "error finding value in datum: /{} at part {}: {why}",
            self.full.join("/"),
            self.part
        ))
    }

    /// The value a missing map key, an absent field or a null stands for.
    fn missing(&self) -> bool {
        if self.element {
            return false;
        }
        match self.op {
            Op::Equal(v) => v.is_empty(),
            Op::In(_) | Op::Matches(_) => false,
            Op::IsEmpty => true,
        }
    }

    fn scalar_path(&self, kind: &str) -> Result<bool, EvalError> {
        Err(self.not_found(&format!("invalid value kind: {kind}")))
    }

    fn string(&self, s: &str) -> Result<bool, EvalError> {
        if !self.at_leaf() {
            return self.scalar_path("string");
        }
        if self.element {
            return Ok(matches!(self.op, Op::Equal(v) | Op::In(v) if v == s));
        }
        Ok(match self.op {
            Op::Equal(v) => v == s,
            Op::In(v) => s.contains(v.as_str()),
            Op::IsEmpty => s.is_empty(),
            Op::Matches(re) => re.is_match(s),
        })
    }

    /// A number or a bool: only equality, with the operand read as the field's type.
    fn primitive<V: PartialEq + Copy>(
        &self,
        v: V,
        kind: &str,
        parse: fn(&str) -> Option<V>,
    ) -> Result<bool, EvalError> {
        if !self.at_leaf() {
            return self.scalar_path(kind);
        }
        let operand = match self.op {
            Op::Equal(x) => x,
            Op::In(x) if self.element => x,
            Op::In(_) => {
                return Err(EvalError(format!(
                    "Cannot perform in/contains operations on type {kind} for selector: {:?}",
                    self.full.join(".")
                )));
            }
            Op::IsEmpty => {
                return Err(EvalError(format!(
                    "Cannot perform is empty on type {kind} for selector: {:?}",
                    self.full.join(".")
                )));
            }
            Op::Matches(_) => {
                return Err(EvalError(format!(
                    "Value of type {kind} is not convertible to []byte"
                )));
            }
        };
        match parse(operand) {
            Some(x) => Ok(x == v),
            None => Err(EvalError(format!(
                "error getting match value in expression: cannot read {operand:?} as {kind}"
            ))),
        }
    }

    fn uncomparable(&self) -> EvalError {
        EvalError("unable to find suitable primitive comparison function for matching".to_string())
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

macro_rules! primitive {
    ($name:ident, $t:ty, $kind:literal, $parse:expr) => {
        fn $name(self, v: $t) -> Result<bool, EvalError> {
            self.primitive(v, $kind, $parse)
        }
    };
}

impl<'p> ser::Serializer for Probe<'p> {
    type Ok = bool;
    type Error = EvalError;
    type SerializeSeq = SeqProbe<'p>;
    type SerializeTuple = SeqProbe<'p>;
    type SerializeTupleStruct = SeqProbe<'p>;
    type SerializeTupleVariant = SeqProbe<'p>;
    type SerializeMap = MapProbe<'p>;
    type SerializeStruct = StructProbe<'p>;
    type SerializeStructVariant = StructProbe<'p>;

    fn serialize_bool(self, v: bool) -> Result<bool, EvalError> {
        self.primitive(v, "bool", parse_bool)
    }
    primitive!(serialize_i8, i8, "int", |s| s.parse().ok());
    primitive!(serialize_i16, i16, "int", |s| s.parse().ok());
    primitive!(serialize_i32, i32, "int", |s| s.parse().ok());
    primitive!(serialize_i64, i64, "int", |s| s.parse().ok());
    primitive!(serialize_u8, u8, "uint", |s| s.parse().ok());
    primitive!(serialize_u16, u16, "uint", |s| s.parse().ok());
    primitive!(serialize_u32, u32, "uint", |s| s.parse().ok());
    primitive!(serialize_u64, u64, "uint", |s| s.parse().ok());
    primitive!(serialize_f32, f32, "float32", |s| s.parse().ok());
    primitive!(serialize_f64, f64, "float64", |s| s.parse().ok());

    fn serialize_char(self, v: char) -> Result<bool, EvalError> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<bool, EvalError> {
        self.string(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<bool, EvalError> {
        self.string(&String::from_utf8_lossy(v))
    }
    fn serialize_none(self) -> Result<bool, EvalError> {
        Ok(self.missing())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<bool, EvalError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<bool, EvalError> {
        Ok(self.missing())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, EvalError> {
        Ok(self.missing())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, EvalError> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<bool, EvalError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        v: &T,
    ) -> Result<bool, EvalError> {
        v.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<SeqProbe<'p>, EvalError> {
        SeqProbe::new(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<SeqProbe<'p>, EvalError> {
        SeqProbe::new(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<SeqProbe<'p>, EvalError> {
        SeqProbe::new(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<SeqProbe<'p>, EvalError> {
        SeqProbe::new(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapProbe<'p>, EvalError> {
        if self.at_leaf() && matches!(self.op, Op::Equal(_) | Op::Matches(_)) {
            return Err(self.uncomparable());
        }
        Ok(MapProbe {
            probe: self,
            key_matched: false,
            result: None,
            count: 0,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<StructProbe<'p>, EvalError> {
        if self.at_leaf() {
            return Err(self.uncomparable());
        }
        Ok(StructProbe {
            probe: self,
            result: None,
            skipped: false,
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<StructProbe<'p>, EvalError> {
        self.serialize_struct(name, len)
    }
}

/// How a list is read.
enum SeqMode {
    /// The list is the selected value: `in` (an element equal), `is empty`.
    Leaf,
    /// `.N`: one element.
    Index(usize),
    /// Any other segment: every element, true when one is.
    Any,
}

#[doc(hidden)]
pub struct SeqProbe<'p> {
    probe: Probe<'p>,
    mode: SeqMode,
    i: usize,
    result: Option<bool>,
}

impl<'p> SeqProbe<'p> {
    fn new(probe: Probe<'p>) -> Result<SeqProbe<'p>, EvalError> {
        let mode = match probe.rest().first() {
            None => {
                if matches!(probe.op, Op::Equal(_) | Op::Matches(_)) || probe.element {
                    return Err(probe.uncomparable());
                }
                SeqMode::Leaf
            }
            Some(seg) => match seg.parse::<usize>() {
                Ok(n) => SeqMode::Index(n),
                Err(_) => SeqMode::Any,
            },
        };
        Ok(SeqProbe {
            probe,
            mode,
            i: 0,
            result: None,
        })
    }

    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), EvalError> {
        let i = self.i;
        self.i += 1;
        if self.result == Some(true) {
            return Ok(());
        }
        let hit = match self.mode {
            SeqMode::Leaf => match self.probe.op {
                Op::IsEmpty => return Ok(()),
                _ => v.serialize(Probe {
                    element: true,
                    ..self.probe
                })?,
            },
            SeqMode::Index(n) if n == i => v.serialize(self.probe.next())?,
            SeqMode::Index(_) => return Ok(()),
            SeqMode::Any => v.serialize(self.probe)?,
        };
        self.result = Some(self.result.unwrap_or(false) | hit);
        Ok(())
    }

    fn finish(self) -> Result<bool, EvalError> {
        Ok(match self.mode {
            SeqMode::Leaf => match self.probe.op {
                Op::IsEmpty => self.i == 0,
                _ => self.result.unwrap_or(false),
            },
            SeqMode::Index(_) => self.result.unwrap_or_else(|| self.probe.missing()),
            SeqMode::Any => self.result.unwrap_or(false),
        })
    }
}

impl SerializeSeq for SeqProbe<'_> {
    type Ok = bool;
    type Error = EvalError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), EvalError> {
        self.element(v)
    }
    fn end(self) -> Result<bool, EvalError> {
        self.finish()
    }
}

impl SerializeTuple for SeqProbe<'_> {
    type Ok = bool;
    type Error = EvalError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), EvalError> {
        self.element(v)
    }
    fn end(self) -> Result<bool, EvalError> {
        self.finish()
    }
}

impl SerializeTupleStruct for SeqProbe<'_> {
    type Ok = bool;
    type Error = EvalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), EvalError> {
        self.element(v)
    }
    fn end(self) -> Result<bool, EvalError> {
        self.finish()
    }
}

impl SerializeTupleVariant for SeqProbe<'_> {
    type Ok = bool;
    type Error = EvalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), EvalError> {
        self.element(v)
    }
    fn end(self) -> Result<bool, EvalError> {
        self.finish()
    }
}

#[doc(hidden)]
pub struct MapProbe<'p> {
    probe: Probe<'p>,
    /// The key just serialized is the one the path names.
    key_matched: bool,
    result: Option<bool>,
    count: usize,
}

impl SerializeMap for MapProbe<'_> {
    type Ok = bool;
    type Error = EvalError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EvalError> {
        self.count += 1;
        let wanted = match (self.probe.rest().first(), self.probe.op) {
            (Some(seg), _) => seg.as_str(),
            (None, Op::In(v)) => v.as_str(),
            (None, _) => return Ok(()),
        };
        self.key_matched = key.serialize(KeyIs(wanted))?;
        if self.probe.at_leaf() && self.key_matched {
            self.result = Some(true);
        }
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), EvalError> {
        if self.key_matched && !self.probe.at_leaf() && self.result.is_none() {
            self.result = Some(v.serialize(self.probe.next())?);
        }
        self.key_matched = false;
        Ok(())
    }

    fn end(self) -> Result<bool, EvalError> {
        if self.probe.at_leaf() {
            return Ok(match self.probe.op {
                Op::IsEmpty => self.count == 0,
                _ => self.result.unwrap_or(false),
            });
        }
        Ok(self.result.unwrap_or_else(|| self.probe.missing()))
    }
}

#[doc(hidden)]
pub struct StructProbe<'p> {
    probe: Probe<'p>,
    result: Option<bool>,
    /// The named field exists but was left out of this row (an empty optional field).
    skipped: bool,
}

impl StructProbe<'_> {
    fn names(&self, key: &str) -> bool {
        let seg = &self.probe.full[self.probe.part];
        key == seg || key.eq_ignore_ascii_case(seg)
    }
}

impl SerializeStruct for StructProbe<'_> {
    type Ok = bool;
    type Error = EvalError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), EvalError> {
        if self.result.is_none() && self.names(key) {
            self.result = Some(v.serialize(self.probe.next())?);
        }
        Ok(())
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), EvalError> {
        if self.names(key) {
            self.skipped = true;
        }
        Ok(())
    }

    fn end(self) -> Result<bool, EvalError> {
        if let Some(r) = self.result {
            return Ok(r);
        }
        let seg = &self.probe.full[self.probe.part];
        if self.skipped || ABSENT_FIELDS.contains(&seg.as_str()) {
            return Ok(self.probe.next().missing());
        }
        Err(self.probe.not_found(&format!(
            "couldn't find key: struct field with name {seg:?}"
        )))
    }
}

impl SerializeStructVariant for StructProbe<'_> {
    type Ok = bool;
    type Error = EvalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), EvalError> {
        SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Result<bool, EvalError> {
        SerializeStruct::end(self)
    }
}

/// Compares a map key with a wanted string without building the key.
struct KeyIs<'w>(&'w str);

impl ser::Serializer for KeyIs<'_> {
    type Ok = bool;
    type Error = EvalError;
    type SerializeSeq = Impossible<bool, EvalError>;
    type SerializeTuple = Impossible<bool, EvalError>;
    type SerializeTupleStruct = Impossible<bool, EvalError>;
    type SerializeTupleVariant = Impossible<bool, EvalError>;
    type SerializeMap = Impossible<bool, EvalError>;
    type SerializeStruct = Impossible<bool, EvalError>;
    type SerializeStructVariant = Impossible<bool, EvalError>;

    fn serialize_str(self, v: &str) -> Result<bool, EvalError> {
        Ok(v == self.0)
    }
    fn serialize_bool(self, v: bool) -> Result<bool, EvalError> {
        Ok(parse_bool(self.0) == Some(v))
    }
    fn serialize_i64(self, v: i64) -> Result<bool, EvalError> {
        Ok(self.0.parse::<i64>().ok() == Some(v))
    }
    fn serialize_u64(self, v: u64) -> Result<bool, EvalError> {
        Ok(self.0.parse::<u64>().ok() == Some(v))
    }
    fn serialize_i8(self, v: i8) -> Result<bool, EvalError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<bool, EvalError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<bool, EvalError> {
        self.serialize_i64(v.into())
    }
    fn serialize_u8(self, v: u8) -> Result<bool, EvalError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<bool, EvalError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<bool, EvalError> {
        self.serialize_u64(v.into())
    }
    fn serialize_f32(self, v: f32) -> Result<bool, EvalError> {
        Ok(self.0.parse::<f32>().ok() == Some(v))
    }
    fn serialize_f64(self, v: f64) -> Result<bool, EvalError> {
        Ok(self.0.parse::<f64>().ok() == Some(v))
    }
    fn serialize_char(self, v: char) -> Result<bool, EvalError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<bool, EvalError> {
        Ok(v == self.0.as_bytes())
    }
    fn serialize_none(self) -> Result<bool, EvalError> {
        Ok(false)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<bool, EvalError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<bool, EvalError> {
        Ok(false)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, EvalError> {
        Ok(false)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, EvalError> {
        Ok(variant == self.0)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<bool, EvalError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, EvalError> {
        Ok(false)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, EvalError> {
        Err(EvalError("map keys must be strings".into()))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, EvalError> {
        Err(EvalError("map keys must be strings".into()))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, EvalError> {
        Err(EvalError("map keys must be strings".into()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EvalError> {
        Err(EvalError("map keys must be strings".into()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, EvalError> {
        Err(EvalError("map keys must be strings".into()))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, EvalError> {
        Err(EvalError("map keys must be strings".into()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EvalError> {
        Err(EvalError("map keys must be strings".into()))
    }
}
