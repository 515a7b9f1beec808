//! A small HTTP/1.1 responder for the two operator ports, `/metrics` ([`crate::server::metrics`]) and
//! the AdminServer ([`crate::server::admin`]): one GET per connection, answered and closed. It is
//! written here rather than taken from a framework because both ports need only that, and
//! every limit is visible: a request head of at most [`MAX_REQUEST_HEAD_BYTES`], read within
//! [`REQUEST_TIMEOUT`], at most [`MAX_CONNECTIONS`] connections served at once (more are
//! closed at once), and a response written within [`REQUEST_TIMEOUT`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;

pub use crate::codec::http::{
    encode, parse_head, ParseError, Request, Response, MAX_REQUEST_HEAD_BYTES,
};

/// Connections served at once, at most.
pub const MAX_CONNECTIONS: usize = 32;
/// Reading the request, and separately writing the response, must each end within this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub type BoxFuture = Pin<Box<dyn Future<Output = Response> + Send>>;
/// What answers a request.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture + Send + Sync>;

/// Reads a request head: bytes up to the first blank line, at most [`MAX_REQUEST_HEAD_BYTES`].
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, ParseError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| ParseError::Malformed)?;
        if n == 0 {
            return Err(ParseError::Malformed);
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf
            .get(from..)
            .and_then(|tail| tail.windows(4).position(|w| w == b"\r\n\r\n"))
        {
            if from + end > MAX_REQUEST_HEAD_BYTES {
                return Err(ParseError::TooLarge);
            }
            buf.truncate(from + end);
            return Ok(buf);
        }
        if buf.len() > MAX_REQUEST_HEAD_BYTES {
            return Err(ParseError::TooLarge);
        }
    }
}

async fn serve_one(mut stream: TcpStream, handler: Handler) {
    let response = match timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => return, // silent client: just close
        Ok(Err(ParseError::TooLarge)) => (Response::text(431, "request head too large\n"), false),
        Ok(Err(ParseError::Malformed)) => (Response::text(400, "bad request\n"), false),
        Ok(Ok(head)) => match parse_head(&head) {
            Err(_) => (Response::text(400, "bad request\n"), false),
            Ok(req) if req.method == "GET" || req.method == "HEAD" => {
                let head_only = req.method == "HEAD";
                (handler(req).await, head_only)
            }
            Ok(_) => (Response::text(405, "only GET and HEAD\n"), false),
        },
    };
    let bytes = encode(&response.0, response.1);
    let _ = timeout(REQUEST_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves `listener` with `handler` until the process ends.
pub fn spawn(listener: TcpListener, handler: Handler) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Past the bound a connection is closed at once (dropped), not queued.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                serve_one(stream, handler).await;
                drop(slot);
            });
        }
    });
}
