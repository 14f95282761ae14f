//! The few calls of Docker's Engine API registrator needs (list, inspect, the event
//! stream), over its Unix socket or TCP. Podman's Docker-compatible socket answers the
//! same calls.

use std::time::Duration;

use serde_json::Value;

/// Why the engine could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The socket or address could not be reached, or the request failed.
    #[error("docker {url}: {reason}")]
    Request {
        /// What was asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The engine answered with an error.
    #[error("docker {url}: {status}: {body}")]
    Status {
        /// What was asked.
        url: String,
        /// HTTP status.
        status: u16,
        /// The engine's message.
        body: String,
    },
    /// `DOCKER_HOST` names a transport we do not speak.
    #[error("unsupported docker host {0:?}: want unix:///path or tcp://host:port")]
    Host(String),
}

/// A client for one engine.
#[derive(Clone)]
pub struct Docker {
    http: reqwest::Client,
    /// Requests with no timeout, for the event stream.
    stream: reqwest::Client,
    base: String,
}

/// One container lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `start`, `die`, ...
    pub action: String,
    /// The container's ID.
    pub id: String,
}

impl Docker {
    /// `host` as `DOCKER_HOST` spells it (default `unix:///var/run/docker.sock`).
    pub fn new(host: &str) -> Result<Docker, DockerError> {
        let build = |timeout: Option<Duration>| {
            let mut b = reqwest::Client::builder();
            if let Some(t) = timeout {
                b = b.timeout(t);
            }
            if let Some(path) = host.strip_prefix("unix://") {
                b = b.unix_socket(path);
            }
            b.build().map_err(|e| DockerError::Request {
                url: host.to_string(),
                reason: e.to_string(),
            })
        };
        let base = if host.starts_with("unix://") {
            // The host part is ignored over a Unix socket.
            "http://docker".to_string()
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            format!("http://{addr}")
        } else {
            return Err(DockerError::Host(host.to_string()));
        };
        Ok(Docker {
            http: build(Some(Duration::from_secs(30)))?,
            stream: build(None)?,
            base,
        })
    }

    async fn get(&self, path: &str) -> Result<Value, DockerError> {
        let url = format!("{}{path}", self.base);
        let fail = |e: reqwest::Error| DockerError::Request {
            url: path.to_string(),
            reason: e.to_string(),
        };
        let resp = self.http.get(&url).send().await.map_err(fail)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(fail)?;
        if status >= 300 {
            return Err(DockerError::Status {
                url: path.to_string(),
                status,
                body: String::from_utf8_lossy(&body).trim().to_string(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| DockerError::Request {
            url: path.to_string(),
            reason: format!("decoding: {e}"),
        })
    }

    /// IDs of the running containers.
    pub async fn running(&self) -> Result<Vec<String>, DockerError> {
        let list = self.get("/containers/json").await?;
        Ok(list
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["Id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A container's full description (`None` once it is gone).
    pub async fn inspect(&self, id: &str) -> Result<Option<Value>, DockerError> {
        match self.get(&format!("/containers/{id}/json")).await {
            Ok(v) => Ok(Some(v)),
            Err(DockerError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Follow container `start` and `die` events, sending each; returns when the stream
    /// ends or fails (the caller reconnects and resyncs).
    pub async fn events(
        &self,
        tx: &tokio::sync::mpsc::UnboundedSender<Event>,
    ) -> Result<(), DockerError> {
        let path = "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22start%22%2C%22die%22%5D%7D";
        let fail = |e: reqwest::Error| DockerError::Request {
            url: "/events".into(),
            reason: e.to_string(),
        };
        let mut resp = self
            .stream
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(fail)?;
        if !resp.status().is_success() {
            return Err(DockerError::Status {
                url: "/events".into(),
                status: resp.status().as_u16(),
                body: String::new(),
            });
        }
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(fail)? {
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let Some(ev) = parse_event(&line)
                    && tx.send(ev).is_err()
                {
                    return Ok(());
                }
            }
            // A line longer than any event is garbage: drop it rather than grow forever.
            if buf.len() > 1 << 20 {
                buf.clear();
            }
        }
        Ok(())
    }
}

/// One line of the event stream (old engines say `status`/`id`, new ones
/// `Action`/`Actor.ID`; both are sent today).
pub fn parse_event(line: &[u8]) -> Option<Event> {
    let v: Value = serde_json::from_slice(line).ok()?;
    if v["Type"].as_str().is_some_and(|t| t != "container") {
        return None;
    }
    let action = v["Action"].as_str().or_else(|| v["status"].as_str())?;
    let id = v["Actor"]["ID"].as_str().or_else(|| v["id"].as_str())?;
    Some(Event {
        action: action.to_string(),
        id: id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_in_either_spelling_and_garbage_is_skipped() {
        let new = br#"{"status":"die","id":"abc","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{}}}"#;
        assert_eq!(
            parse_event(new),
            Some(Event {
                action: "die".into(),
                id: "abc".into()
            })
        );
        assert_eq!(
            parse_event(br#"{"status":"start","id":"x"}"#).map(|e| e.action),
            Some("start".into())
        );
        assert_eq!(
            parse_event(br#"{"Type":"network","Action":"connect","Actor":{"ID":"n"}}"#),
            None
        );
        assert_eq!(parse_event(b"\x00garbage"), None);
        assert!(Docker::new("ssh://host").is_err());
    }
}
