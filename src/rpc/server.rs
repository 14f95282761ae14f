//! The serving side: decode frames, run each request concurrently, answer in any order.

use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tracing::{debug, warn};

use super::{Frame, MAX_FRAME, Reply, Request, VERSION};

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
                while let Some(b) = out_rx.recv().await {
                    if sink.send(b).await.is_err() {
                        break;
                    }
                }
            });
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
                let handler = handler.clone();
                let out = out.clone();
                tokio::spawn(async move {
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
