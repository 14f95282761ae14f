//! `?filter=` expressions, as Consul evaluates them with go-bexpr: parsed once per
//! request, then tested on each typed row an endpoint is about to return.
//!
//! The same expressions drive the console's filter box and `disco template`'s queries,
//! so this module depends on nothing but serde and regex.

mod parse;
mod probe;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

pub use parse::{Expr, Match, Op};
pub use probe::EvalError;

/// A parsed filter.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
}

/// Why a filter failed: the texts Consul answers with (HTTP 500 for both).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The expression does not parse.
    #[error("Failed to create boolean expression evaluator: {0}")]
    Parse(String),
    /// A selector names no field of the row, or a comparison does not fit the value.
    #[error("{0}")]
    Eval(String),
}

impl From<EvalError> for FilterError {
    fn from(e: EvalError) -> Self {
        FilterError::Eval(e.0)
    }
}

impl Filter {
    /// Parse `text` (already percent-decoded).
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        parse::parse(text)
            .map(|expr| Filter { expr })
            .map_err(|e| FilterError::Parse(e.0))
    }

    /// Whether `row` passes, reading it through its `Serialize` impl (the field names
    /// are the JSON ones the endpoint answers with).
    pub fn matches<T: Serialize + ?Sized>(&self, row: &T) -> Result<bool, FilterError> {
        Ok(eval(&self.expr, row)?)
    }

    /// Keep the rows that pass, in order; the first evaluation error fails the lot.
    pub fn retain<T: Serialize>(&self, rows: &mut Vec<T>) -> Result<(), FilterError> {
        let mut err = None;
        rows.retain(|r| {
            if err.is_some() {
                return false;
            }
            match self.matches(r) {
                Ok(keep) => keep,
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        });
        err.map_or(Ok(()), Err)
    }

    /// Keep the map entries whose value passes (the keys, IDs, stay as they are).
    pub fn retain_values<K: Ord, V: Serialize>(
        &self,
        map: &mut std::collections::BTreeMap<K, V>,
    ) -> Result<(), FilterError> {
        let mut err = None;
        map.retain(|_, v| {
            if err.is_some() {
                return false;
            }
            match self.matches(v) {
                Ok(keep) => keep,
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        });
        err.map_or(Ok(()), Err)
    }

    /// The parsed expression, for callers that show or rewrite it.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

/// `Some` filter when the request names a non-empty one.
pub fn optional(text: Option<&str>) -> Result<Option<Filter>, FilterError> {
    match text {
        Some(t) if !t.trim().is_empty() => Filter::parse(t).map(Some),
        _ => Ok(None),
    }
}

fn eval<T: Serialize + ?Sized>(e: &Expr, row: &T) -> Result<bool, EvalError> {
    Ok(match e {
        Expr::Or(a, b) => eval(a, row)? || eval(b, row)?,
        Expr::And(a, b) => eval(a, row)? && eval(b, row)?,
        Expr::Not(a) => !eval(a, row)?,
        Expr::Match(m) => probe::test(row, &m.selector, &m.op)? != m.negate,
    })
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Equal(v) => write!(f, "== {v:?}"),
            Op::In(v) => write!(f, "contains {v:?}"),
            Op::IsEmpty => f.write_str("is empty"),
            Op::Matches(re) => write!(f, "matches {:?}", re.as_str()),
        }
    }
}
