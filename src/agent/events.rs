//! User events on this agent: firing one into the gossip pool, and keeping the ones
//! delivered here that pass their filters (Consul's `agent/user_event.go`).
//!
//! The receiving agent broadcasts the event itself. Consul's agent hands it to a server
//! first (`Internal.EventFire`), which broadcasts it in the same LAN pool; the events
//! every agent ends up with are the same, and this skips a hop.

use std::sync::Arc;

use regex::Regex;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{Agent, AgentError};
use crate::gossip::{GossipError, UserEvent as GossipEvent};
use crate::state::UserEvent;

/// Serf event names Consul's user events carry (`userEventPrefix`); the limit on name
/// plus payload counts it, so the usable size matches Consul's.
const EVENT_PREFIX: &str = "consul:event:";
/// Consul's remote-exec event, which is not a user event and is not kept.
const REMOTE_EXEC: &str = "_rexec";

/// Why an event cannot be fired (Consul answers each with a 500 and this text).
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// No name.
    #[error("User event missing name")]
    MissingName,
    /// `tag` was given without `service`.
    #[error("Cannot provide tag filter without service filter")]
    TagWithoutService,
    /// A filter is not a valid regular expression.
    #[error("Invalid {0} filter: {1}")]
    BadFilter(&'static str, String),
    /// Too large for gossip, or gossip is down.
    #[error("{0}")]
    Gossip(#[from] GossipError),
}

/// Check an event's fields as Consul's `validateUserEvent` does.
pub fn validate(ev: &UserEvent) -> Result<(), FireError> {
    if ev.name.is_empty() {
        return Err(FireError::MissingName);
    }
    if !ev.tag_filter.is_empty() && ev.service_filter.is_empty() {
        return Err(FireError::TagWithoutService);
    }
    for (what, re) in [
        ("node", &ev.node_filter),
        ("service", &ev.service_filter),
        ("tag", &ev.tag_filter),
    ] {
        if !re.is_empty() {
            Regex::new(re).map_err(|e| FireError::BadFilter(what, one_line(&e)))?;
        }
    }
    Ok(())
}

fn one_line(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string()
}

impl Agent {
    /// Fire `ev` into the gossip pool. The event is in this agent's ring (if its filters
    /// keep it here) before this returns, so a list right after a fire shows it.
    pub async fn fire_event(&self, mut ev: UserEvent) -> Result<UserEvent, FireError> {
        validate(&ev)?;
        ev.version = 1;
        if let Some(g) = &self.gossip {
            let envelope = postcard::to_allocvec(&ev)
                .map_err(|e| GossipError::Io(format!("encoding user event: {e}")))?;
            let name = format!("{EVENT_PREFIX}{}", ev.name);
            let mut kept = ev.clone();
            kept.ltime = g.user_event(&name, envelope).await?;
            self.keep_event(kept);
        } else {
            self.keep_event(ev.clone());
        }
        Ok(ev)
    }

    /// Keep a delivered event when its filters select this agent.
    fn keep_event(&self, ev: UserEvent) {
        if ev.name == REMOTE_EXEC {
            debug!("agent: ignoring a remote-exec event (remote exec is not supported)");
            return;
        }
        if ev.version > 1 {
            warn!(
                "agent: user event {} has version {}, newer than this agent understands",
                ev.name, ev.version
            );
        }
        match self.selected_by(&ev) {
            Ok(true) => {
                self.events.push(ev);
            }
            Ok(false) => {}
            Err(e) => warn!("agent: dropping user event {}: {e}", ev.name),
        }
    }

    /// Consul's `shouldProcessUserEvent`: the node filter against this node's name, the
    /// service filter against local service names, the tag filter against the tags of a
    /// service that matched. Filters are unanchored regexes.
    fn selected_by(&self, ev: &UserEvent) -> Result<bool, regex::Error> {
        if !ev.node_filter.is_empty() && !Regex::new(&ev.node_filter)?.is_match(self.node_name()) {
            return Ok(false);
        }
        if ev.service_filter.is_empty() {
            return Ok(true);
        }
        let service = Regex::new(&ev.service_filter)?;
        let tag = match ev.tag_filter.as_str() {
            "" => None,
            t => Some(Regex::new(t)?),
        };
        let services = self.local_services();
        Ok(services.iter().any(|s| {
            service.is_match(&s.service)
                && tag
                    .as_ref()
                    .is_none_or(|t| s.tags.iter().any(|tag| t.is_match(tag)))
        }))
    }

    /// Take the events gossip delivers until it stops.
    pub(super) async fn event_loop(self: Arc<Self>, mut rx: mpsc::Receiver<GossipEvent>) {
        while let Some(g) = rx.recv().await {
            let Some(name) = g.name.strip_prefix(EVENT_PREFIX) else {
                debug!("agent: ignoring gossip event {}", g.name);
                continue;
            };
            match postcard::from_bytes::<UserEvent>(&g.payload) {
                Ok(mut ev) if ev.name == name => {
                    ev.ltime = g.ltime;
                    self.keep_event(ev);
                }
                Ok(ev) => debug!("agent: event named {name} carries {}", ev.name),
                Err(e) => debug!("agent: undecodable user event {name}: {e}"),
            }
        }
    }
}

impl From<FireError> for AgentError {
    fn from(e: FireError) -> Self {
        AgentError::Internal(e.to_string())
    }
}
