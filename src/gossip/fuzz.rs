//! A gossip engine fed bytes directly, for the fuzz targets and property tests (`fuzzing` feature and unit tests only). It
//! binds its UDP socket on loopback, so whatever a fuzzed packet makes it send stays there.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::crypto::Keyring;
use super::engine::{Cmd, Engine};
use super::identity::MemberId;
use super::members::Table;
use super::wire::TcpMsg;
use super::{Shared, Stats, Timing};

/// An engine plus the two keyrings a packet can meet (one key installed, and none).
pub struct FuzzEngine {
    engine: Engine,
    sealed: Arc<Keyring>,
    plain: Keyring,
    _commands: mpsc::UnboundedReceiver<Cmd>,
    _events: mpsc::Receiver<super::UserEvent>,
}

impl FuzzEngine {
    /// Start one on 127.0.0.1 with `key` installed. Must run inside a Tokio runtime.
    pub async fn new(key: &[u8]) -> std::io::Result<FuzzEngine> {
        let udp = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?);
        let addr: SocketAddr = udp.local_addr()?;
        let sealed = Arc::new(Keyring::new(Some(key)).map_err(std::io::Error::other)?);
        let plain = Keyring::new(None).map_err(std::io::Error::other)?;
        let me = MemberId {
            addr,
            name: "fuzz".into(),
            bump: 1,
            tags: Default::default(),
        };
        let (pushpull_tx, _) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            table: RwLock::new(Table::new(me.clone())),
            changes: watch::channel(0).0,
            me: RwLock::new(me.clone()),
            stats: Stats::default(),
            pushpull_tx,
            events: event_tx,
        });
        let (cmd_tx, commands) = mpsc::unbounded_channel();
        let engine = Engine::new(me, Timing::lan(), udp, sealed.clone(), shared, cmd_tx, None);
        Ok(FuzzEngine {
            engine,
            sealed,
            plain,
            _commands: commands,
            _events: events,
        })
    }

    /// `data` as a received envelope, and `data` sealed with the key and opened again (so
    /// the payload reaches SWIM whatever the envelope bytes were).
    pub fn datagram(&mut self, data: &[u8]) {
        if let Ok(p) = self.sealed.open(data) {
            self.engine.fuzz_packet(&p);
        }
        let opened = self.sealed.open(&self.sealed.seal(data));
        assert_eq!(
            opened.as_deref(),
            Ok(data),
            "a sealed payload opens to itself"
        );
        self.engine.fuzz_packet(data);
    }

    /// `data` as a plaintext cluster receives it.
    pub fn plain(&mut self, data: &[u8]) {
        if let Ok(p) = self.plain.open(data) {
            self.engine.fuzz_packet(&p);
        }
    }

    /// `data` as a push-pull frame of a plaintext cluster.
    pub fn stream_frame(&mut self, data: &[u8]) {
        let Ok(p) = self.plain.open(data) else {
            return;
        };
        match postcard::from_bytes::<TcpMsg>(&p) {
            Ok(TcpMsg::PushPull {
                members, intents, ..
            }) => self.engine.fuzz_command(Cmd::Merge {
                members,
                intents,
                reply: None,
            }),
            Ok(TcpMsg::Key { op, key }) => {
                let _ = super::keyring::apply_local(&self.plain, None, op, &key);
            }
            Ok(_) | Err(_) => {}
        }
    }
}
