//! A minimal Lambda Runtime API (the 2018-06-01 interface a function's runtime polls): hands out
//! one event and reports when the function answered it. Enough to time a cold start the way Lambda
//! sees it: from process start to the first response.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the function did with its event.
#[derive(Debug)]
pub enum Outcome {
    /// The runtime asked for its first event: initialization is over.
    Ready {
        at: Instant,
    },
    Response {
        at: Instant,
    },
    Error {
        body: Vec<u8>,
    },
}

pub struct RuntimeApi {
    pub address: String,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves `event` once, on a free local port.
    pub async fn start(event: Vec<u8>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?.to_string();
        let (tx, outcomes) = mpsc::unbounded_channel();
        let event = Arc::new(event);
        let delivered = Arc::new(AtomicBool::new(false));
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (event, delivered, tx) = (event.clone(), delivered.clone(), tx.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        handle(req, event.clone(), delivered.clone(), tx.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            address,
            outcomes,
            server,
        })
    }

    pub async fn outcome(&mut self) -> Option<Outcome> {
        self.outcomes.recv().await
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(
    req: hyper::Request<Incoming>,
    event: Arc<Vec<u8>>,
    delivered: Arc<AtomicBool>,
    tx: mpsc::UnboundedSender<Outcome>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let at = Instant::now();
    if method == hyper::Method::GET && path.ends_with("/invocation/next") {
        if delivered.swap(true, Ordering::SeqCst) {
            // One invocation per cold start: the next poll waits until the process is stopped.
            std::future::pending::<()>().await;
        }
        let _ = tx.send(Outcome::Ready { at });
        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
        let response = hyper::Response::builder()
            .header("lambda-runtime-aws-request-id", "bench-request")
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event.as_ref().clone())))
            .unwrap_or_default();
        return Ok(response);
    }
    let outcome = if path.ends_with("/response") {
        Outcome::Response { at }
    } else {
        Outcome::Error { body }
    };
    let _ = tx.send(outcome);
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"{}")));
    *response.status_mut() = hyper::StatusCode::ACCEPTED;
    Ok(response)
}
