//! The question asked before a write, derived from the write itself so that a key and its
//! palette command ask the same thing.

use super::msg::Write;

/// The yes/no question for `w`: the verb, the target, and for a catalog deregistration the
/// consequence.
pub fn prompt(w: &Write) -> String {
    match w {
        Write::Register(body) => format!(
            "Register service {}?",
            body["Name"].as_str().unwrap_or_default()
        ),
        Write::Deregister {
            id, local: true, ..
        } => format!("Deregister {id} from this agent?"),
        Write::Deregister { node, id, .. } => format!(
            "Deregister {id} on {node} from the catalog? (its own agent may register it again)"
        ),
        Write::ForceLeave(node) => format!("Force-leave member {node}?"),
        Write::TransferLeader(Some(peer)) => format!("Transfer leadership to {}?", peer.node),
        Write::TransferLeader(None) => "Transfer leadership to another server?".into(),
        Write::KvPut { key, .. } => format!("Save {key}?"),
        Write::KvDelete(key) if key.ends_with('/') => format!("Delete folder {key}?"),
        Write::KvDelete(key) => format!("Delete key {key}?"),
        Write::SessionDestroy { id, name, keys } => {
            let who = if name.is_empty() {
                id.clone()
            } else {
                format!("{name} ({id})")
            };
            match keys {
                Some(0) => format!("Destroy session {who}?"),
                Some(n) => format!("Destroy session {who}? It holds {n} key(s): they are released"),
                None => format!("Destroy session {who}? Any key it holds is released"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::msg::Peer;

    #[test]
    fn prompts_name_the_verb_and_target() {
        let local = Write::Deregister {
            node: "n1".into(),
            id: "web-1".into(),
            local: true,
        };
        assert_eq!(prompt(&local), "Deregister web-1 from this agent?");
        let peer = Write::TransferLeader(Some(Peer {
            id: "id-2".into(),
            node: "node2".into(),
        }));
        assert_eq!(prompt(&peer), "Transfer leadership to node2?");
        assert_eq!(
            prompt(&Write::KvDelete("app/".into())),
            "Delete folder app/?"
        );
        assert_eq!(
            prompt(&Write::KvDelete("app/a".into())),
            "Delete key app/a?"
        );
        let destroy = Write::SessionDestroy {
            id: "abc".into(),
            name: "leader".into(),
            keys: Some(2),
        };
        assert_eq!(
            prompt(&destroy),
            "Destroy session leader (abc)? It holds 2 key(s): they are released"
        );
    }
}
