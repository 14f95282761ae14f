//! The serving side: decode frames, run each request concurrently, answer in any order.

use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tracing::{debug, warn};

use super::{Frame, MAX_FRAME, Reply, Request, VERSION};

/// Requests one connection may have in flight. A client agent multiplexes every call it
/// forwards (long blocking queries included) over one connection, so this is generous; it
/// bounds a flood, not normal use.
const MAX_IN_FLIGHT: usize = 4096;

/// Longest one reply may take to be written before the connection is dropped.
const REPLY_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What executes requests (the agent, through its HTTP router).
pub trait Handler: Send + Sync + 'static {
    /// Serve one request.
    fn handle(
        &self,
        req: Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send + '_>>;
}

/// Accept connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    debug!("rpc: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = async { let _ = shutdown.wait_for(|v| *v).await; } => return,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let codec = LengthDelimitedCodec::builder()
                .max_frame_length(MAX_FRAME)
                .new_codec();
            let (mut sink, mut source) = Framed::new(stream, codec).split();
            let (out, mut out_rx) = mpsc::channel::<Bytes>(256);
            let writer = tokio::spawn(async move {
                // A caller that stops reading must not hold replies (and the tasks that
                // produced them) for good.
                while let Some(b) = out_rx.recv().await {
                    match tokio::time::timeout(REPLY_WRITE_TIMEOUT, sink.send(b)).await {
                        Ok(Ok(())) => {}
                        _ => break,
                    }
                }
            });
            // Requests served at once on this connection; past it, the next frame is not
            // read until one finishes, so a flooding caller is slowed by TCP itself.
            let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
            while let Some(next) = source.next().await {
                let buf = match next {
                    Ok(b) => b,
                    Err(e) => {
                        warn!("rpc: dropping connection from {peer}: {e}");
                        break;
                    }
                };
                let frame = match postcard::from_bytes::<Frame<Request>>(&buf) {
                    Ok(f) if f.version == VERSION => f,
                    Ok(f) => {
                        warn!(
                            "rpc: {peer} speaks protocol version {}, not {VERSION}",
                            f.version
                        );
                        break;
                    }
                    Err(e) => {
                        warn!("rpc: malformed request from {peer}: {e}");
                        break;
                    }
                };
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                let handler = handler.clone();
                let out = out.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let body = handler.handle(frame.body).await;
                    let reply = Frame {
                        version: VERSION,
                        id: frame.id,
                        body,
                    };
                    match postcard::to_stdvec(&reply) {
                        Ok(b) => {
                            let _ = out.send(Bytes::from(b)).await;
                        }
                        Err(e) => warn!("rpc: encoding reply: {e}"),
                    }
                });
            }
            drop(out);
            let _ = writer.await;
        });
    }
}
