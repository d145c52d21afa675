//! HTTP: the shared state, the caller's identity, the one `ApiError`, body reading with limits,
//! and the routers — `admin_router` (Unix socket, HTTPS admin listener), `redeem_router`
//! (HTTPS) and `metrics_router` (`[metrics] listen`). All are plain axum `Router`s, tested
//! without sockets through `tower::ServiceExt::oneshot`; each is wrapped in `observe::layer`
//! (request id, log span, request metrics).

pub mod access;
pub mod admin;
pub mod health;
pub mod observe;
pub mod redeem;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatepass_protocol::{ErrorBody, ErrorCode};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

use crate::domain::Store;
use crate::error::StoreError;

pub use crate::State;

/// The credentials of an `Authorization: Bearer …` header, or "" when there are none. The
/// scheme is case-insensitive (RFC 9110, 11.1): `bearer` and `BEARER` are `Bearer`.
pub fn bearer(headers: &axum::http::HeaderMap) -> &str {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match auth.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_matches(' '),
        _ => "",
    }
}

/// Who is on the other end of a connection; set by the accept loop on every request.
#[derive(Debug, Clone)]
pub enum Peer {
    /// From the socket's peer credentials, checked on every connection.
    Unix {
        uid: u32,
        user: String,
    },
    Tcp {
        addr: SocketAddr,
    },
}

/// The one error type of every handler: a code, a message, and the matching status.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: redact(&message.into()),
        }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    /// 500 with a generic message; the detail goes to the log once, here.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %redact(&detail.to_string()), "internal error");
        ApiError::new(ErrorCode::Internal, "internal error; see the daemon's log")
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, "invalid or missing token")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::new(ErrorCode::NotFound, format!("no {what}")),
            StoreError::NameTaken(n) => ApiError::new(
                ErrorCode::NameTaken,
                format!("a token named {n:?} already exists"),
            ),
            StoreError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            StoreError::Invalid(m) => ApiError::bad(m),
            // The store stopped (a failed disk, a panic inside the engine): never a bare 500.
            failed if failed.is_engine_failure() => {
                tracing::error!(error = %redact(&failed.to_string()), "the store failed");
                ApiError::new(
                    ErrorCode::StoreUnavailable,
                    "the store is unavailable (a failed disk, or a database that cannot be \
                     reached); see the daemon's log",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = ErrorBody::new(self.code, self.message);
        body.error.request_id = observe::current();
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // The unread rest of an oversized or too-slow body must not be parsed as a next request.
        if matches!(
            self.code,
            ErrorCode::PayloadTooLarge | ErrorCode::RequestTimeout
        ) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// Replaces anything shaped like a token's secret with "[redacted]", so no message or log line
/// can carry one (serde's messages quote the values they reject): after a `gpt_`/`gpa_` prefix
/// in any case, a run of letters and digits longer than an id; without the prefix, a run as long
/// as an id and a secret together. An id alone (lists show `gpt_<id>…`) stays readable.
pub fn redact(s: &str) -> String {
    gatepass_protocol::token::replace_secrets(s, |_, _| "[redacted]".to_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// Reads a JSON body: 415 unless it says JSON, 413 past `limit` (before reading when the length
/// is announced), 400 with serde's reason when it does not fit `T`.
pub async fn read_json<T: DeserializeOwned>(req: Request, limit: usize) -> Result<T, ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" && !(mime.starts_with("application/") && mime.ends_with("+json"))
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = Limited::new(req.into_body(), limit)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large()
            } else {
                ApiError::bad("the body could not be read")
            }
        })?
        .to_bytes();
    parse_json(&bytes)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the body is not valid UTF-8",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::bad(e.to_string()),
            _ => ApiError::new(ErrorCode::InvalidJson, format!("malformed JSON: {e}")),
        }
    })
}

/// Runs a store call on the blocking pool so the runtime never waits on the disk.
pub async fn blocking<T: Send + 'static>(
    state: &Arc<State>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// How long the requests that read the whole store (`GET /v1/backup`, `GET /v1/audit/verify`)
/// may take to start their answer: minutes for a large store.
const WHOLE_STORE_TIMEOUT: Duration = Duration::from_secs(600);

/// Bounds the time to receive and answer a request (a slow-drip body is cut off), and logs it.
async fn guard(req: Request, next: Next, limit: Duration) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let limit = if path == "/v1/backup" || path == "/v1/audit/verify" {
        limit.max(WHOLE_STORE_TIMEOUT)
    } else {
        limit
    };
    let resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            ApiError::new(ErrorCode::RequestTimeout, "the request took too long").into_response()
        }
    };
    let (status, ms) = (resp.status().as_u16(), start.elapsed().as_millis() as u64);
    if is_probe(&path) && resp.status().is_success() {
        // A load balancer asks every few seconds: its answers are news only when they fail.
        tracing::debug!(%method, path = %redact(&path), status, ms, "request");
    } else {
        tracing::info!(%method, path = %redact(&path), status, ms, "request");
    }
    resp
}

/// The health probes (`/healthz`, `/readyz`): logged at debug level unless they fail.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

fn finish(router: Router<Arc<State>>, state: Arc<State>, listener: observe::Listener) -> Router {
    let limit = Duration::from_secs(state.config.limits.request_timeout.0);
    let observed = state.clone();
    router
        .route("/readyz", axum::routing::get(health::readyz))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this endpoint",
            )
        })
        .layer(axum::middleware::from_fn(move |req, next| {
            guard(req, next, limit)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            observe::layer(observed.clone(), listener, req, next)
        }))
        .with_state(state)
}

pub fn admin_router(state: Arc<State>) -> Router {
    finish(admin::routes(), state, observe::Listener::Admin)
}

pub fn redeem_router(state: Arc<State>) -> Router {
    finish(redeem::routes(), state, observe::Listener::Redeem)
}

/// The plain-HTTP `[metrics] listen` router: `/metrics`, `/healthz`, `/readyz` only.
pub fn metrics_router(state: Arc<State>) -> Router {
    finish(health::metrics_routes(), state, observe::Listener::Metrics)
}

/// An empty body, for tests and fallbacks.
pub fn empty() -> Body {
    Body::empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_anything_token_shaped() {
        let token =
            gatepass_protocol::token::generate(gatepass_protocol::token::TokenKind::Enrollment)
                .unwrap();
        let whole = token.expose().to_owned();
        let body = &whole[4..];
        for (input, shown) in [
            (
                format!("bad {whole} here"),
                "bad gpt_[redacted] here".to_string(),
            ),
            (
                format!("x\"{}\"y", whole.to_uppercase()),
                "x\"GPT_[redacted]\"y".into(),
            ),
            (format!("/v1/tokens/{body}"), "/v1/tokens/[redacted]".into()),
            (format!("{}…", &whole[..30]), "gpt_[redacted]…".into()),
            (format!("gpa_{body}é"), "gpa_[redacted]é".into()),
        ] {
            assert_eq!(redact(&input), shown);
        }
        // Ids (and the form lists show a token in) stay readable; so does other text.
        assert_eq!(
            redact("no token gpt_AbCdEfGh1234…"),
            "no token gpt_AbCdEfGh1234…"
        );
        assert_eq!(redact("gpa_x\"gpt_y"), "gpa_x\"gpt_y");
        assert_eq!(redact("nothing é ünïcode 12"), "nothing é ünïcode 12");
    }
}
