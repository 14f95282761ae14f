//! The console's network side: one task per live list, following the agent with blocking
//! queries where the API has them (services, checks, instances, KV folders) and polling
//! where it does not (members, Raft peers, the agent itself), plus one task per write or one-off read.
//! Nothing here blocks the UI: results arrive as [`Update`]s on a channel.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::model;
use super::msg::{Effect, Feed, Update, Write};
use super::views::kv::Preview;
use crate::api::path_escape;
use crate::client::{Client, ClientError};

/// How long one blocking query waits for a change.
const WAIT: &str = "5m";
/// How often members and Raft peers are polled.
const POLL: Duration = Duration::from_secs(2);
/// Least time between two answers of one followed list: a cluster changing many times a
/// second is shown once a second, which is as fast as anyone reads.
const MIN_REFRESH: Duration = Duration::from_secs(1);

/// Follow `path` with blocking queries, sending `decode(body)` on every change.
async fn follow(
    client: Client,
    path: String,
    tx: UnboundedSender<Update>,
    decode: impl Fn(&Value) -> Update + Send + 'static,
) {
    follow_as::<Value>(client, path, tx, move |v| decode(&v)).await
}

/// [`follow`] with the body decoded straight into `T`.
async fn follow_as<T: serde::de::DeserializeOwned + Default + Send>(
    client: Client,
    path: String,
    tx: UnboundedSender<Update>,
    decode: impl Fn(T) -> Update + Send + 'static,
) {
    let mut index = 0u64;
    let mut last_change: Option<tokio::time::Instant> = None;
    loop {
        if let Some(t) = last_change {
            tokio::time::sleep_until(t + MIN_REFRESH).await;
        }
        match client.get_indexed_as::<T>(&path, index, WAIT).await {
            Ok((v, next)) => {
                if index == 0 || next != index {
                    if tx.send(decode(v)).is_err() {
                        return;
                    }
                    last_change = Some(tokio::time::Instant::now());
                }
                // An index that went backwards (a restored snapshot, another server) starts over.
                index = if next < index { 0 } else { next };
                if index == 0 {
                    tokio::time::sleep(POLL).await;
                }
            }
            Err(e) => {
                let (update, pause) = failure(&path, e);
                if tx.send(update).is_err() {
                    return;
                }
                index = 0;
                last_change = None;
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// What a failed read tells the console, and how long to wait before the next try: a 403
/// is the token's rights, not a lost agent, and is asked again only now and then.
fn failure(path: &str, e: ClientError) -> (Update, Duration) {
    match e {
        ClientError::Status { code: 403, body } => (
            Update::Denied(format!(
                "{}: {body}",
                path.split('?').next().unwrap_or(path)
            )),
            Duration::from_secs(10),
        ),
        e => (Update::Disconnected(e.to_string()), Duration::from_secs(1)),
    }
}

/// Follow who the console's token is and which of the console's actions it may take:
/// `token/self` for the description (401: ACLs are off), then one authorize call.
async fn rights(client: Client, tx: UnboundedSender<Update>) {
    use super::rights::{Right, Rights, authorize_request, denied_in};
    let mut last: Option<Rights> = None;
    loop {
        let now = match client.get_as::<Value>("/v1/acl/token/self").await {
            Ok(t) => {
                let description = t["Description"].as_str().unwrap_or_default().to_string();
                let body = authorize_request().to_string().into_bytes();
                let denied = match client
                    .send(Method::POST, "/v1/internal/acl/authorize", Some(body))
                    .await
                {
                    Ok((_, b)) => serde_json::from_slice::<Value>(&b)
                        .map(|v| denied_in(&v))
                        .unwrap_or_default(),
                    Err(_) => Default::default(),
                };
                Some(Rights {
                    token: Some(if description.is_empty() {
                        "token without a description".into()
                    } else {
                        description
                    }),
                    denied,
                })
            }
            Err(ClientError::Status { code: 401, .. }) => Some(Rights::default()),
            Err(ClientError::Status { code: 403, .. }) => Some(Rights {
                token: Some("unknown token (ACL not found)".into()),
                denied: Right::ALL.into_iter().collect(),
            }),
            Err(_) => None,
        };
        if let Some(now) = now
            && last.as_ref() != Some(&now)
        {
            if tx.send(Update::Rights(now.clone())).is_err() {
                return;
            }
            last = Some(now);
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// Poll `path` every `every`, sending `decode(body)` when it changed.
async fn poll(
    client: Client,
    path: &'static str,
    every: Duration,
    tx: UnboundedSender<Update>,
    decode: impl Fn(&Value) -> Update + Send + 'static,
) {
    let mut last: Option<Value> = None;
    loop {
        match client.get_indexed(path, 0, WAIT).await {
            Ok((v, _)) => {
                if last.as_ref() != Some(&v) {
                    if tx.send(decode(&v)).is_err() {
                        return;
                    }
                    last = Some(v);
                }
            }
            Err(e) => {
                last = None;
                let (update, _) = failure(path, e);
                if tx.send(update).is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// The running feeds of one console.
pub struct Feeds {
    client: Client,
    tx: UnboundedSender<Update>,
    background: Vec<JoinHandle<()>>,
    instances: Option<JoinHandle<()>>,
    kv: Option<JoinHandle<()>>,
    checks: Option<JoinHandle<()>>,
    locks: Option<JoinHandle<()>>,
}

impl Feeds {
    /// Start following the agent behind `client`.
    pub fn start(client: Client, tx: UnboundedSender<Update>) -> Feeds {
        let background = Self::background(&client, &tx);
        Feeds {
            client,
            tx,
            background,
            instances: None,
            kv: None,
            checks: None,
            locks: None,
        }
    }

    /// Follow datacenter `dc` (`None`: the agent's own) from now on: every feed stops and
    /// the background ones start again through a client that asks it.
    fn switch_datacenter(&mut self, dc: Option<String>) {
        self.stop_all();
        self.client = self.client.clone().with_datacenter(dc);
        self.background = Self::background(&self.client, &self.tx);
    }

    fn stop_all(&mut self) {
        for h in self.background.drain(..) {
            h.abort();
        }
        for h in [
            self.instances.take(),
            self.kv.take(),
            self.checks.take(),
            self.locks.take(),
        ]
        .into_iter()
        .flatten()
        {
            h.abort();
        }
    }

    /// The feeds that always run: the agent, the token's rights, the service list, the
    /// problem counts, sessions, events, members, Raft peers and the datacenter list.
    fn background(client: &Client, tx: &UnboundedSender<Update>) -> Vec<JoinHandle<()>> {
        let mut background = Vec::new();
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(poll(
            c,
            "/v1/catalog/datacenters",
            Duration::from_secs(30),
            t,
            |v| Update::Datacenters(serde_json::from_value(v.clone()).unwrap_or_default()),
        )));
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(poll(
            c,
            "/v1/agent/self",
            Duration::from_secs(3),
            t,
            |v| Update::Connected(model::overview(v)),
        )));
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(rights(c, t)));
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(follow_as::<Vec<model::UiService>>(
            c,
            "/v1/internal/ui/services".into(),
            t,
            |v| Update::Services(v.into_iter().map(Into::into).collect()),
        )));
        let (c, t) = (client.clone(), tx.clone());
        // Only the problem counts, for the header: usually a handful of checks, where every
        // check of a large cluster would be megabytes on each change.
        background.push(tokio::spawn(follow(
            c,
            "/v1/health/state/critical".into(),
            t,
            |v| Update::CriticalCount(v.as_array().map_or(0, Vec::len)),
        )));
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(follow(
            c,
            "/v1/health/state/warning".into(),
            t,
            |v| Update::WarningCount(v.as_array().map_or(0, Vec::len)),
        )));
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(follow(c, "/v1/session/list".into(), t, |v| {
            Update::Sessions(model::sessions(v))
        })));
        let (c, t) = (client.clone(), tx.clone());
        // At most 256 events, kept by the agent itself.
        background.push(tokio::spawn(follow(c, "/v1/event/list".into(), t, |v| {
            Update::Events(model::events(v))
        })));
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(poll(c, "/v1/agent/members", POLL, t, |v| {
            Update::Members(model::members(v))
        })));
        let (c, t) = (client.clone(), tx.clone());
        background.push(tokio::spawn(poll(
            c,
            "/v1/operator/raft/configuration",
            POLL,
            t,
            |v| Update::Raft(model::raft(v)),
        )));
        background
    }

    /// Carry out an effect in the background.
    pub fn run(&mut self, effect: Effect) {
        let (client, tx) = (self.client.clone(), self.tx.clone());
        match effect {
            Effect::Follow(Feed::Instances(name)) => {
                if let Some(h) = self.instances.take() {
                    h.abort();
                }
                if let Some(name) = name {
                    let path = format!("/v1/health/service/{}", path_escape(&name));
                    self.instances = Some(tokio::spawn(follow(client, path, tx, move |v| {
                        Update::Instances(name.clone(), model::instances(v))
                    })));
                }
            }
            Effect::Follow(Feed::Kv(prefix)) => {
                if let Some(h) = self.kv.take() {
                    h.abort();
                }
                let path = format!("/v1/kv/{}?keys&separator=/", path_escape(&prefix));
                self.kv = Some(tokio::spawn(follow(client, path, tx, move |v| {
                    Update::KvKeys(prefix.clone(), model::kv_keys(v))
                })));
            }
            Effect::Follow(Feed::Checks(on)) => {
                if let Some(h) = self.checks.take() {
                    h.abort();
                }
                if on {
                    self.checks = Some(tokio::spawn(follow(
                        client,
                        "/v1/health/state/any".into(),
                        tx,
                        |v| Update::Checks(model::checks(v)),
                    )));
                }
            }
            Effect::Follow(Feed::Locks(on)) => {
                if let Some(h) = self.locks.take() {
                    h.abort();
                }
                // Consul's API has no list of locked keys: they are read from the whole
                // tree, only while the Sessions view is shown.
                if on {
                    self.locks = Some(tokio::spawn(follow_as::<Vec<crate::api::kv::KvPair>>(
                        client,
                        "/v1/kv/?recurse".into(),
                        tx,
                        |v| Update::Locks(model::held_keys(v)),
                    )));
                }
            }
            Effect::LoadValue(key) => {
                tokio::spawn(async move {
                    let path = format!("/v1/kv/{}", path_escape(&key));
                    let u = match client.get_as::<Vec<crate::api::kv::KvPair>>(&path).await {
                        Ok(entries) => {
                            let e = entries.into_iter().next();
                            Update::KvValue(Preview {
                                value: e.as_ref().map(|e| e.value()),
                                holder: e.as_ref().and_then(|e| e.holder().map(str::to_string)),
                                key,
                            })
                        }
                        Err(e) => Update::Done {
                            ok: false,
                            message: format!("reading {key}: {e}"),
                        },
                    };
                    let _ = tx.send(u);
                });
            }
            Effect::Datacenter(dc) => self.switch_datacenter(dc),
            Effect::Write(w) => {
                tokio::spawn(async move {
                    let u = write(&client, w).await;
                    let _ = tx.send(u);
                });
            }
        }
    }
}

impl Drop for Feeds {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// One write; its outcome for the status line.
async fn write(client: &Client, w: Write) -> Update {
    let (what, result) = match w {
        Write::Register(body) => {
            let name = body["Name"].as_str().unwrap_or_default().to_string();
            let bytes = body.to_string().into_bytes();
            (
                format!("registered {name}"),
                client
                    .send(Method::PUT, "/v1/agent/service/register", Some(bytes))
                    .await,
            )
        }
        Write::Deregister { node, id, local } => {
            if local {
                let path = format!("/v1/agent/service/deregister/{}", path_escape(&id));
                (
                    format!("deregistered {id}"),
                    client.send(Method::PUT, &path, None).await,
                )
            } else {
                let body = json!({"Node": node, "ServiceID": id})
                    .to_string()
                    .into_bytes();
                (
                    format!("deregistered {id} on {node} from the catalog"),
                    client
                        .send(Method::PUT, "/v1/catalog/deregister", Some(body))
                        .await,
                )
            }
        }
        Write::ForceLeave(node) => {
            let path = format!("/v1/agent/force-leave/{}", path_escape(&node));
            (
                format!("{node} forced to leave"),
                client.send(Method::PUT, &path, None).await,
            )
        }
        Write::TransferLeader(peer) => {
            let id = peer.map(|p| p.id);
            let path = match &id {
                Some(id) => format!("/v1/operator/raft/transfer-leader?id={}", path_escape(id)),
                None => "/v1/operator/raft/transfer-leader".to_string(),
            };
            (
                match &id {
                    Some(id) => format!("leadership transferred to {id}"),
                    None => "leadership transferred".to_string(),
                },
                client.send(Method::POST, &path, None).await,
            )
        }
        Write::KvPut { key, value } => {
            let path = format!("/v1/kv/{}", path_escape(&key));
            (
                format!("saved {key}"),
                client
                    .send(Method::PUT, &path, Some(value.into_bytes()))
                    .await,
            )
        }
        Write::KvDelete(key) => {
            let path = if key.ends_with('/') {
                format!("/v1/kv/{}?recurse", path_escape(&key))
            } else {
                format!("/v1/kv/{}", path_escape(&key))
            };
            (
                format!("deleted {key}"),
                client.send(Method::DELETE, &path, None).await,
            )
        }
        Write::SessionDestroy { id, name, .. } => {
            let path = format!("/v1/session/destroy/{}", path_escape(&id));
            let who = if name.is_empty() { id } else { name };
            (
                format!("destroyed session {who}"),
                client.send(Method::PUT, &path, None).await,
            )
        }
    };
    match result {
        Ok((404, body)) => Update::Done {
            ok: false,
            message: String::from_utf8_lossy(&body).trim().to_string(),
        },
        Ok(_) => Update::Done {
            ok: true,
            message: what,
        },
        Err(e) => Update::Done {
            ok: false,
            message: e.to_string(),
        },
    }
}
