//! What every request leaves behind for whoever operates the daemon: a request id, a log span,
//! a count and a time. The outermost layer of each router (`layer`):
//!
//! - gives the request an id (`RequestId`: 16 hex digits, unique in this process and unlikely
//!   to repeat across daemons), returned in `X-Request-Id` on every answer and, through a
//!   task-local (`current`), in the body of every error answer (`ApiError`);
//! - runs the request inside a `request` span holding that id and the peer, so every log line
//!   written while it runs carries both (`[log] format = "json"`: under `span`);
//! - counts the answer in `gatepass_http_requests_total` by listener, route template and code,
//!   and times it. The route is axum's matched template (`/v1/tokens/{id}`), never the path: no
//!   id or token reaches a label.
//!
//! An id sent by the client is not taken: the daemon's own ids are the ones its log holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::{Peer, State};

/// The header every answer carries.
pub const HEADER: &str = "x-request-id";

/// Which listener a router serves; the `listener` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The admin router: `socket` on the Unix socket, `admin` on the HTTPS admin listener.
    Admin,
    Redeem,
    /// The plain-HTTP `[metrics] listen`.
    Metrics,
}

impl Listener {
    fn label(self, peer: Option<&Peer>) -> &'static str {
        match (self, peer) {
            (Listener::Admin, Some(Peer::Tcp { .. })) => "admin",
            (Listener::Admin, _) => "socket",
            (Listener::Redeem, _) => "redeem",
            (Listener::Metrics, _) => "metrics",
        }
    }
}

/// A request's id: a random prefix drawn once per process, then a count.
#[derive(Debug, Clone)]
pub struct RequestId(Arc<str>);

impl RequestId {
    pub fn next() -> RequestId {
        static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(|| {
            let mut b = [0u8; 4];
            // Without randomness the ids are still unique within this process.
            let _ = getrandom::fill(&mut b);
            u32::from_le_bytes(b)
        });
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        RequestId(format!("{prefix:08x}{:08x}", n as u32).into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request this task serves, if it serves one.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.as_str().to_owned()).ok()
}

/// The peer as the log shows it: the socket's user, or the TCP address.
pub fn peer_text(peer: Option<&Peer>) -> String {
    match peer {
        Some(Peer::Unix { user, .. }) => format!("unix:{user}"),
        Some(Peer::Tcp { addr }) => addr.to_string(),
        None => "-".into(),
    }
}

/// The middleware: id, span, header, count and time.
pub async fn layer(state: Arc<State>, listener: Listener, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = RequestId::next();
    let peer = req.extensions().get::<Peer>();
    let label = listener.label(peer);
    let span = tracing::info_span!("request", request_id = %id.as_str(), peer = %peer_text(peer));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut resp = CURRENT
        .scope(id.clone(), next.run(req).instrument(span))
        .await;
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        resp.headers_mut().insert(HEADER, v);
    }
    state.metrics.request(
        label,
        route.as_deref().unwrap_or("unmatched"),
        resp.status().as_u16(),
        start.elapsed(),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_fixed_width_hex() {
        let a = RequestId::next();
        let b = RequestId::next();
        assert_ne!(a.as_str(), b.as_str());
        for id in [&a, &b] {
            assert_eq!(id.as_str().len(), 16);
            assert!(id.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        }
    }
}
