//! The server side of the server RPC: what each [`Request`] does on this agent. Forwarded
//! API calls go to the HTTP router, `Apply` to the agent's write path, Raft messages to
//! the consensus layer and `NodeEntries` to the state store.
//!
//! Where it sits: the frames (`mod.rs`) and the transport (`client.rs`, `server.rs`)
//! import only `state`, so the agent and the consensus layer can use them. This file is
//! the one part of `rpc/` above them: it holds the agent, and it gets the HTTP router
//! passed in as an [`HttpRouter`], so `rpc/` never imports `http/` (or axum) and the router
//! stays the single way into the API.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Handler, Reply, Request};
use crate::agent::{Agent, AgentError};
use crate::state::{Command, Response};

/// Runs an API call that arrived over the RPC as if it had arrived over HTTP.
pub trait HttpRouter: Send + Sync + 'static {
    /// Execute `method uri` with `body`; `from_server` marks a call a follower sent its
    /// leader, which must be answered here and never forwarded again.
    fn call(
        &self,
        method: String,
        uri: String,
        body: Vec<u8>,
        from_server: bool,
        token: String,
    ) -> Pin<Box<dyn Future<Output = Reply> + Send + '_>>;
}

/// Serves the server RPC for one agent (given to [`serve`](super::serve)).
pub struct Dispatcher {
    agent: Arc<Agent>,
    http: Arc<dyn HttpRouter>,
}

impl Dispatcher {
    /// A dispatcher running requests on `agent`, API calls through `http`.
    pub fn new(agent: Arc<Agent>, http: Arc<dyn HttpRouter>) -> Arc<Dispatcher> {
        Arc::new(Dispatcher { agent, http })
    }

    async fn run(&self, req: Request) -> Reply {
        match req {
            Request::Http {
                method,
                uri,
                body,
                from_server,
                token,
            } => self.http.call(method, uri, body, from_server, token).await,
            Request::ResolveToken(secret) => Reply::Token(self.agent.describe_token(&secret)),
            Request::Apply {
                cmd,
                from_server,
                token,
            } => self.apply(cmd, from_server, token).await,
            Request::Raft { kind, payload } => match &self.agent.consensus {
                Some(c) => Reply::Raft(c.serve_rpc(kind, &payload).await),
                None => Reply::Error("not a server".into()),
            },
            Request::NodeEntries { node, token } => self.node_entries(&node, &token),
        }
    }

    /// Commit a command: a follower's own write is committed here or fails; a client
    /// agent's may travel on to the leader. A rejected command is an answer, not an error.
    async fn apply(&self, cmd: Command, from_server: bool, token: String) -> Reply {
        // With ACLs on, the write is decided with the token it carries, as the same write
        // through the HTTP API would be.
        if let Err(denied) = self.agent.authorize_apply(&cmd, &token) {
            return Reply::Applied(Response::Error(denied));
        }
        let r = if from_server {
            self.agent.write_here(cmd, &token).await
        } else {
            self.agent.write_as(cmd, &token).await
        };
        match r {
            Ok(r) => Reply::Applied(r),
            Err(AgentError::BadRequest(e) | AgentError::PermissionDenied(e)) => {
                Reply::Applied(Response::Error(e))
            }
            Err(e) => Reply::Error(e.to_string()),
        }
    }

    /// The leader's catalog entries of one node, for a client agent's anti-entropy diff:
    /// with ACLs on, only what the token may read (node read, then service read per entry),
    /// as Consul's catalog read filters them.
    fn node_entries(&self, node: &str, token: &str) -> Reply {
        if let Err(e) = self.agent.require_leader() {
            return Reply::Error(e.to_string());
        }
        let (services, checks) = {
            let s = self.agent.store.read();
            (
                s.node_services(node).into_iter().cloned().collect(),
                s.node_checks(node).into_iter().cloned().collect(),
            )
        };
        match self
            .agent
            .filter_node_entries(node, token, services, checks)
        {
            Ok((services, checks)) => Reply::NodeEntries(services, checks),
            Err(denied) => Reply::Error(denied),
        }
    }
}

impl Handler for Dispatcher {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = Reply> + Send + '_>> {
        Box::pin(self.run(req))
    }
}
