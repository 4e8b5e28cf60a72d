//! The accept loop. `axum::serve` has no deadline for a request head, so a client that sends
//! half a request, or opens connections and sends nothing, holds them for ever; here each head
//! must arrive within `http.header_read_timeout_ms` (hyper starts the same clock when a
//! keep-alive connection goes idle), and at most `http.max_connections` are open at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The most a request head may take (hyper reads up to ~400 KiB by default): nginx's default is
/// four 8 KiB buffers, and no client of ours needs more than a token and a few cookies.
const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `close` is cancelled, then stops accepting, ends idle
/// connections and returns once the requests in flight are answered.
pub async fn serve(listener: TcpListener, router: Router, limits: ConnectionLimits, close: CancellationToken) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).max_buf_size(MAX_HEAD_BYTES);
    loop {
        // At the cap, new connections wait in the kernel's backlog until one of ours ends.
        let permit = tokio::select! {
            () = close.cancelled() => break,
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = close.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: accepting again at once would spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let response = router.clone().oneshot(request);
            async move { Ok::<_, Infallible>(response.await.unwrap_or_else(|never| match never {})) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::sync::CancellationToken;

    use super::{ConnectionLimits, serve};

    /// Far longer than the head deadline below: reaching it means the connection was kept.
    const PATIENCE: Duration = Duration::from_secs(20);

    async fn server(max_connections: usize) -> (std::net::SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let limits = ConnectionLimits { header_read_timeout: Duration::from_millis(300), max_connections };
        let close = CancellationToken::new();
        tokio::spawn(serve(listener, router, limits, close.clone()));
        (addr, close)
    }

    /// Reads until the server closes the connection; what it sent on the way.
    async fn until_closed(stream: &mut TcpStream) -> String {
        let mut seen = Vec::new();
        let read = tokio::time::timeout(PATIENCE, async {
            let mut buffer = [0_u8; 1024];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await;
        assert!(read.is_ok(), "the server kept the connection open: {}", String::from_utf8_lossy(&seen));
        String::from_utf8_lossy(&seen).into_owned()
    }

    #[tokio::test]
    async fn a_half_sent_request_head_is_cut_off() {
        let (addr, _close) = server(16).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n").await.unwrap();
        let seen = until_closed(&mut stream).await;
        assert!(!seen.contains("200 OK"), "{seen}");
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_its_answer() {
        let (addr, _close) = server(16).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let seen = until_closed(&mut stream).await;
        assert!(seen.starts_with("HTTP/1.1 200 OK"), "{seen}");
    }

    #[tokio::test]
    async fn connections_that_send_nothing_cannot_keep_others_out() {
        let (addr, _close) = server(1).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let seen = until_closed(&mut client).await;
        assert!(seen.starts_with("HTTP/1.1 200 OK"), "the second client is answered once the first is cut off: {seen}");
        until_closed(&mut silent).await;
    }

    #[tokio::test]
    async fn closing_stops_accepting() {
        let (addr, close) = server(16).await;
        close.cancel();
        let refused = tokio::time::timeout(PATIENCE, async {
            loop {
                if TcpStream::connect(addr).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(refused.is_ok(), "the listener is closed once serving stops");
    }
}
