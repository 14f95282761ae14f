//! `disco registrator`: registrator's job built in. It follows a container engine's
//! events and registers each published port of a running container as a service with
//! the local agent, deregisters them when the container dies, and resyncs (registering
//! what runs, removing what it registered for containers that are gone) at start, after
//! the event stream reconnects, and every `-resync` interval.
//!
//! Services it owns are recognised by their ID, `<hostname>:<container>:<port>`, so a
//! restart finds and cleans up after itself without any state of its own.

pub mod docker;
pub mod service;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::api::path_escape;
use crate::client::Client;
use docker::{Docker, Event};
pub use service::{Options, services_for};

/// A registrator run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DOCKER_HOST`-style address of the engine.
    pub docker_host: String,
    /// How services are derived.
    pub options: Options,
    /// Full resync period (`None`: only at start and after reconnecting).
    pub resync: Option<Duration>,
    /// Remove services it registered whose container is gone.
    pub cleanup: bool,
    /// Log each registration to stderr.
    pub verbose: bool,
}

enum Msg {
    Event(Event),
    /// The event stream ended or failed: resync once it is back.
    Reconnected,
}

struct Registrar {
    client: Client,
    docker: Docker,
    cfg: Config,
    /// Container ID → the service IDs registered for it.
    by_container: BTreeMap<String, Vec<String>>,
}

impl Registrar {
    fn log(&self, msg: &str) {
        if self.cfg.verbose {
            eprintln!("disco registrator: {msg}");
        }
    }

    /// Register a container's services; remembers them for its `die`.
    async fn add(&mut self, id: &str) {
        let c = match self.docker.inspect(id).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                eprintln!("disco registrator: inspect {}: {e}", short(id));
                return;
            }
        };
        if !c["State"]["Running"].as_bool().unwrap_or(true) {
            return;
        }
        let defs = services_for(&c, &self.cfg.options);
        let mut ids = Vec::new();
        for def in defs {
            let sid = def["ID"].as_str().unwrap_or("").to_string();
            let body = def.to_string().into_bytes();
            match self
                .client
                .send(
                    reqwest::Method::PUT,
                    "/v1/agent/service/register",
                    Some(body),
                )
                .await
            {
                Ok(_) => {
                    self.log(&format!("added {} ({})", sid, def["Name"]));
                    ids.push(sid);
                }
                Err(e) => eprintln!("disco registrator: register {sid}: {e}"),
            }
        }
        self.by_container.insert(id.to_string(), ids);
    }

    /// Deregister what was registered for a container.
    async fn remove(&mut self, id: &str) {
        let Some(ids) = self.by_container.remove(id) else {
            return;
        };
        for sid in ids {
            self.deregister(&sid).await;
        }
    }

    async fn deregister(&self, sid: &str) {
        let path = format!("/v1/agent/service/deregister/{}", path_escape(sid));
        match self.client.send(reqwest::Method::PUT, &path, None).await {
            Ok(_) => self.log(&format!("removed {sid}")),
            Err(e) => eprintln!("disco registrator: deregister {sid}: {e}"),
        }
    }

    /// Register every running container, and remove what this host registered for
    /// containers that no longer run.
    async fn resync(&mut self) -> Result<(), String> {
        let running = self.docker.running().await.map_err(|e| e.to_string())?;
        let running_set: BTreeSet<&String> = running.iter().collect();
        let gone: Vec<String> = self
            .by_container
            .keys()
            .filter(|id| !running_set.contains(id))
            .cloned()
            .collect();
        for id in gone {
            self.remove(&id).await;
        }
        for id in &running {
            self.add(id).await;
        }
        if self.cfg.cleanup {
            let ours: BTreeSet<String> = self.by_container.values().flatten().cloned().collect();
            let prefix = format!("{}:", self.cfg.options.hostname);
            let registered: BTreeMap<String, serde_json::Value> = self
                .client
                .get_as("/v1/agent/services")
                .await
                .map_err(|e| e.to_string())?;
            for sid in registered.keys() {
                if sid.starts_with(&prefix) && !ours.contains(sid) {
                    self.deregister(sid).await;
                }
            }
        }
        Ok(())
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Run until SIGINT/SIGTERM; the exit code.
pub async fn run(cfg: Config, client: Client) -> i32 {
    let docker = match Docker::new(&cfg.docker_host) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("disco registrator: {e}");
            return 1;
        }
    };
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("disco registrator: cannot install signal handlers");
        return 1;
    };
    let mut r = Registrar {
        client,
        docker: docker.clone(),
        cfg: cfg.clone(),
        by_container: BTreeMap::new(),
    };
    // Follow events before the first sync, so nothing starting in between is missed.
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let stream = tokio::spawn(async move {
        let (etx, mut erx) = mpsc::unbounded_channel::<Event>();
        let fwd = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = erx.recv().await {
                if fwd.send(Msg::Event(e)).is_err() {
                    return;
                }
            }
        });
        loop {
            if let Err(e) = docker.events(&etx).await {
                eprintln!("disco registrator: {e}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            if tx.send(Msg::Reconnected).is_err() {
                return;
            }
        }
    });
    if let Err(e) = r.resync().await {
        eprintln!("disco registrator: {e}");
        stream.abort();
        return 1;
    }
    r.log("synced; following events");
    let period = cfg.resync.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let code = loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(Msg::Event(e)) if e.action == "start" => r.add(&e.id).await,
                Some(Msg::Event(e)) if e.action == "die" => r.remove(&e.id).await,
                Some(Msg::Event(_)) => {}
                Some(Msg::Reconnected) => {
                    if let Err(e) = r.resync().await {
                        eprintln!("disco registrator: resync: {e}");
                    }
                }
                None => break 1,
            },
            _ = tick.tick() => {
                if let Err(e) = r.resync().await {
                    eprintln!("disco registrator: resync: {e}");
                }
            }
            _ = term.recv() => break 0,
            _ = int.recv() => break 0,
        }
    };
    stream.abort();
    code
}
