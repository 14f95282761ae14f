//! What the console's token may do: who it is (`/v1/acl/token/self`) and, for each kind of
//! action the console offers, whether the agent's `/v1/internal/acl/authorize` allows it,
//! so actions the token may not take are greyed out and refused with a clear line instead
//! of a 403 after the confirmation.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// A right one of the console's actions needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Right {
    /// Register and deregister services (`service:write`).
    ServiceWrite,
    /// Force-leave members and move leadership (`operator:write`).
    OperatorWrite,
    /// Write and delete keys (`key:write`).
    KeyWrite,
    /// Destroy sessions (`session:write`).
    SessionWrite,
}

impl Right {
    /// Every right, in the order they are asked.
    pub const ALL: [Right; 4] = [
        Right::ServiceWrite,
        Right::OperatorWrite,
        Right::KeyWrite,
        Right::SessionWrite,
    ];

    /// Consul's `resource:access` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Right::ServiceWrite => "service:write",
            Right::OperatorWrite => "operator:write",
            Right::KeyWrite => "key:write",
            Right::SessionWrite => "session:write",
        }
    }

    fn resource(self) -> &'static str {
        self.as_str().split(':').next().unwrap_or_default()
    }
}

/// The console token's identity and the rights it lacks. The default (ACLs off, or not
/// yet known) allows everything: the agent still decides each write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rights {
    /// The token's description (`None`: ACLs are off or it is not known yet).
    pub token: Option<String>,
    /// Rights the token lacks.
    pub denied: BTreeSet<Right>,
}

impl Rights {
    /// Whether the token may take actions needing `r`.
    pub fn allows(&self, r: Right) -> bool {
        !self.denied.contains(&r)
    }
}

/// The body of the authorize call: each right on the empty segment (the `""` prefix, so a
/// token with a narrower grant still sees the action and the agent decides per name).
pub fn authorize_request() -> Value {
    Value::Array(
        Right::ALL
            .iter()
            .map(|r| json!({"Resource": r.resource(), "Segment": "", "Access": "write"}))
            .collect(),
    )
}

/// The rights denied in an authorize answer (same order as the request).
pub fn denied_in(answer: &Value) -> BTreeSet<Right> {
    let Some(list) = answer.as_array() else {
        return BTreeSet::new();
    };
    Right::ALL
        .iter()
        .zip(list)
        .filter(|(_, a)| a.get("Allow").and_then(Value::as_bool) == Some(false))
        .map(|(r, _)| *r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_back_to_the_rights_asked() {
        let req = authorize_request();
        assert_eq!(req.as_array().map(Vec::len), Some(4));
        assert_eq!(req[1]["Resource"], "operator");
        let answer = json!([{"Allow": true}, {"Allow": false}, {"Allow": true}, {"Allow": false}]);
        let denied = denied_in(&answer);
        assert_eq!(
            denied.into_iter().collect::<Vec<_>>(),
            [Right::OperatorWrite, Right::SessionWrite]
        );
        assert!(Rights::default().allows(Right::KeyWrite));
    }
}
