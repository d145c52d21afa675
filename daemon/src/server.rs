//! Accept loops: the same axum router served on the Unix socket (identity from SO_PEERCRED on
//! every connection) and on TCP behind rustls, and the metrics router on plain TCP (loopback
//! only). All bound header time, TLS handshakes and request time, and drain in-flight requests
//! on shutdown. Each holds a `ListenerUp` while it accepts (`/readyz` counts them).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::api::Peer;
use crate::api::health::ListenerUp;
use crate::http_errors::JsonErrors;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// Completes once the shutdown flag is set (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_timeout: Duration,
}

fn spawn_conn<S>(io: S, router: Router, peer: Peer, limits: ConnLimits, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer_text = crate::api::observe::peer_text(Some(&peer));
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(peer.clone());
        let router = router.clone();
        async move {
            Ok::<_, Infallible>(
                router
                    .oneshot(req.map(axum::body::Body::new))
                    .await
                    .unwrap_or_else(|e| match e {}),
            )
        }
    });
    let errors = JsonErrors::new(io);
    let answered = errors.answered();
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        // More than 100 headers are 431; so is a head hyper cannot hold in its buffer (the
        // router answers 431 to a head beyond 64 KiB that hyper did hold: `api::MAX_HEAD`).
        .max_buf_size(crate::api::MAX_HEAD)
        // Hyper's own error answers (431, 400 for a bad header) get the JSON error body.
        .serve_connection(TokioIo::new(errors), svc);
    let conn = watcher.watch(conn);
    tokio::spawn(async move {
        let ended = conn.await;
        // An answer hyper gave by itself is logged as a request of its own: its id, peer,
        // status and why, so the id the client was given is found in the log.
        match (ended, answered.take()) {
            (ended, Some((id, status))) => {
                let span = tracing::info_span!("request", request_id = %id, peer = %peer_text);
                let reason = ended
                    .err()
                    .map(|e| crate::api::redact(&e.to_string()))
                    .unwrap_or_default();
                span.in_scope(|| {
                    tracing::info!(status, reason = %reason, "request refused before routing");
                });
            }
            (Err(e), None) => tracing::debug!(error = %e, "connection ended with an error"),
            (Ok(()), None) => {}
        }
    });
}

/// The user name of a uid, or `uid:N` when it has none.
pub fn user_name(uid: u32) -> String {
    gatepass_protocol::paths::user_name(uid)
}

async fn drain(graceful: GracefulShutdown, what: &str) {
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("{what}: connections still open after {DRAIN:?}; closing them");
    }
}

pub async fn serve_unix(
    listener: UnixListener,
    router: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
    up: ListenerUp,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept on the socket failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let uid = match stream.peer_cred() {
                    Ok(c) => c.uid(),
                    Err(e) => {
                        tracing::warn!(error = %e, "no peer credentials; closing the connection");
                        continue;
                    }
                };
                let user = tokio::task::spawn_blocking(move || user_name(uid)).await.unwrap_or_else(|_| format!("uid:{uid}"));
                spawn_conn(stream, router.clone(), Peer::Unix { uid, user }, limits, graceful.watcher());
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop((listener, up));
    drain(graceful, "admin socket").await;
}

pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
    up: ListenerUp,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, addr) = match accepted {
                    Ok(v) => v,
                    Err(e) => {
                        // Typically EMFILE under a flood: back off instead of spinning.
                        tracing::warn!(error = %e, "accept on the redeem listener failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let router = router.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => spawn_conn(stream, router, Peer::Tcp { addr }, limits, watcher),
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop((listener, up));
    drain(graceful, "redeem listener").await;
}

/// The `[metrics] listen` loop: plain HTTP (its config allows loopback addresses only), for a
/// local Prometheus; the router serves the scrape and the health checks, nothing else.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
    up: ListenerUp,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((tcp, addr)) => spawn_conn(tcp, router.clone(), Peer::Tcp { addr }, limits, graceful.watcher()),
                    Err(e) => {
                        tracing::warn!(error = %e, "accept on the metrics listener failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop((listener, up));
    drain(graceful, "metrics listener").await;
}
