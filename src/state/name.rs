//! Shared strings for what repeats across catalog rows.
//!
//! A fleet's catalog says the same few things over and over: every instance and check on a
//! node names the node, every instance of a service names the service and usually carries
//! the same tags, every check of an instance repeats its ID, name and tags, and there are
//! only three check statuses. As plain `String`s each repetition was its own allocation.
//! [`Name`] and [`Tags`] are reference-counted instead, and the tables hand a new row the
//! allocation an existing row or key already holds (see `catalog.rs`), so the table's own
//! keys are the intern table: nothing to sweep when a name goes away.
//!
//! Both serialise exactly as the `String` / `Vec<String>` they replace, so Raft log
//! entries and snapshots written before them still decode.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable, cheaply cloned string: a node, service or check name or ID, or a status.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

static EMPTY: LazyLock<Name> = LazyLock::new(|| Name(Arc::from("")));

impl Name {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared string itself, for a field that holds an `Arc<str>`.
    pub fn to_arc(&self) -> Arc<str> {
        self.0.clone()
    }

    /// Whether both share one allocation (what interning achieved).
    pub fn ptr_eq(&self, other: &Name) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// `other` if it spells the same, else `self`: how a table hands a row the copy it
    /// already holds.
    pub fn share(self, other: &Name) -> Name {
        if *self.0 == *other.0 {
            other.clone()
        } else {
            self
        }
    }

    /// A registered check's status: an empty one starts critical, as Consul's does.
    pub fn status_or_critical(s: &str) -> Name {
        Name::status(if s.is_empty() {
            super::status::CRITICAL
        } else {
            s
        })
    }

    /// A check status, with the three valid ones shared process-wide.
    pub fn status(s: &str) -> Name {
        static STATUSES: LazyLock<[Name; 3]> = LazyLock::new(|| {
            [
                super::status::PASSING,
                super::status::WARNING,
                super::status::CRITICAL,
            ]
            .map(|s| Name(Arc::from(s)))
        });
        match STATUSES.iter().find(|n| n.as_str() == s) {
            Some(n) => n.clone(),
            None => Name::from(s),
        }
    }
}

impl Default for Name {
    fn default() -> Self {
        EMPTY.clone()
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        if s.is_empty() {
            Name::default()
        } else {
            Name(Arc::from(s))
        }
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        if s.is_empty() {
            Name::default()
        } else {
            Name(Arc::from(s))
        }
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name::from(s.as_str())
    }
}

impl From<&Name> for Name {
    fn from(s: &Name) -> Self {
        s.clone()
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

/// A service's tag list, shared by its instances and their checks when they carry the same.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tags(Arc<[String]>);

static NO_TAGS: LazyLock<Tags> = LazyLock::new(|| Tags(Arc::from(Vec::new())));

impl Tags {
    /// Whether both share one allocation.
    pub fn ptr_eq(&self, other: &Tags) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// `other` if it holds the same tags, else `self`.
    pub fn share(self, other: &Tags) -> Tags {
        if *self.0 == *other.0 {
            other.clone()
        } else {
            self
        }
    }
}

impl Default for Tags {
    fn default() -> Self {
        NO_TAGS.clone()
    }
}

impl Deref for Tags {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<Vec<String>> for Tags {
    fn from(v: Vec<String>) -> Self {
        if v.is_empty() {
            Tags::default()
        } else {
            Tags(Arc::from(v))
        }
    }
}

impl From<&[String]> for Tags {
    fn from(v: &[String]) -> Self {
        Tags::from(v.to_vec())
    }
}

impl FromIterator<String> for Tags {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Tags::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl PartialEq<Vec<String>> for Tags {
    fn eq(&self, other: &Vec<String>) -> bool {
        *self.0 == **other
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Tags::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_string_types_it_replaced() {
        let n = Name::from("web-1");
        assert_eq!(
            postcard::to_stdvec(&n).unwrap(),
            postcard::to_stdvec(&"web-1".to_string()).unwrap()
        );
        let t = Tags::from(vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            postcard::to_stdvec(&t).unwrap(),
            postcard::to_stdvec(&vec!["a".to_string(), "b".to_string()]).unwrap()
        );
        let back: Tags = postcard::from_bytes(&postcard::to_stdvec(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"web-1\"");
    }

    #[test]
    fn share_hands_back_the_existing_allocation_only_when_equal() {
        let held = Name::from("node-1");
        let incoming = Name::from("node-1".to_string());
        assert!(!incoming.ptr_eq(&held));
        assert!(incoming.share(&held).ptr_eq(&held));
        assert!(!Name::from("node-2").share(&held).ptr_eq(&held));
        assert!(Name::status("passing").ptr_eq(&Name::status("passing")));
        assert_eq!(Name::status("bogus"), "bogus");
        assert!(Name::from("").ptr_eq(&Name::default()));
    }
}
