//! TCP checks.

use std::time::Duration;

use super::Outcome;
use crate::state::status;

/// A TCP connect to `host:port`; passing when the connection opens within the timeout.
#[derive(Clone, Debug)]
pub struct TcpProbe {
    /// `host:port`.
    pub addr: String,
    /// Connect deadline.
    pub timeout: Duration,
}

impl TcpProbe {
    /// Connect once; the connection is closed at once.
    pub async fn run(&self) -> Outcome {
        let critical = |why: String| Outcome {
            status: status::CRITICAL,
            output: format!("dial tcp {}: {}", self.addr, why),
        };
        match tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&self.addr)).await {
            Ok(Ok(_stream)) => Outcome {
                status: status::PASSING,
                output: format!("TCP connect {}: Success", self.addr),
            },
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                critical("connect: connection refused".into())
            }
            Ok(Err(e)) => critical(e.to_string()),
            Err(_) => critical("i/o timeout".into()),
        }
    }
}
