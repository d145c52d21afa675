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
        // For the request's log line (`guard`): the code the client was told, beside its id.
        resp.extensions_mut().insert(self.code);
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // The unread rest of an oversized or too-slow body must not be parsed as a next request.
        if matches!(
            self.code,
            ErrorCode::PayloadTooLarge | ErrorCode::RequestTimeout | ErrorCode::HeadersTooLarge
        ) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// Cuts anything shaped like a token down to the form lists show it in (`gpt_<id>…`), so no
/// message, log line or audit record can carry a secret (serde's messages quote the values they
/// reject): after a `gpt_`/`gpa_` prefix in any case, a run of letters and digits longer than an
/// id; without the prefix, a run as long as an id and a secret together. An id alone (lists
/// show `gpt_<id>…`) stays as it is. The one redaction of the daemon; `shown_path` applies it
/// to what a client sent in a request's target.
pub fn redact(s: &str) -> String {
    gatepass_protocol::token::replace_secrets(s, |id, _| format!("{id}…"))
        .unwrap_or_else(|| s.to_owned())
}

/// A request's path (or query) as the log, an audit record or an error body shows it. It is
/// percent-decoded first, as the router decodes it before a handler looks a token up (and again
/// while anything is still encoded), so `%61` for an `a` hides no token from `redact`; what
/// decoding let in that would break a log line or disturb how it reads (control characters,
/// spaces, `%`, characters that reorder text) is encoded again.
pub fn shown_path(raw: &str) -> String {
    let mut text = std::borrow::Cow::Borrowed(raw);
    for _ in 0..4 {
        let decoded = percent_encoding::percent_decode_str(&text).decode_utf8_lossy();
        if decoded == text {
            break;
        }
        text = std::borrow::Cow::Owned(decoded.into_owned());
    }
    let mut shown = String::with_capacity(text.len());
    for c in redact(&text).chars() {
        if c.is_control() || c == ' ' || c == '%' || gatepass_protocol::text::reorders_or_breaks(c)
        {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                shown.push_str(&format!("%{b:02X}"));
            }
        } else {
            shown.push(c);
        }
    }
    shown
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

/// The most a request's head (its request line and header lines) may take; beyond it, 431.
/// Hyper refuses a head it cannot hold in a buffer of this size, but its buffer grows in steps
/// and may hold more: `guard` refuses what it let through.
pub const MAX_HEAD: usize = 64 * 1024;

/// The size of a request's head as it came: `METHOD TARGET HTTP/1.1`, each `name: value`
/// line, and the blank line that ends it.
fn head_len(req: &Request) -> usize {
    let uri = req.uri();
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    let line = req.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + "\r\n".len())
        .sum();
    line + headers + "\r\n".len()
}

/// How long the requests that read the whole store (`GET /v1/backup`, `GET /v1/audit/verify`)
/// may take to start their answer: minutes for a large store.
const WHOLE_STORE_TIMEOUT: Duration = Duration::from_secs(600);

/// Refuses a head larger than `MAX_HEAD` (431), bounds the time to receive and answer a request
/// (a slow-drip body is cut off), and logs it.
async fn guard(req: Request, next: Next, limit: Duration) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let limit = if path == "/v1/backup" || path == "/v1/audit/verify" {
        limit.max(WHOLE_STORE_TIMEOUT)
    } else {
        limit
    };
    let resp = if head_len(&req) > MAX_HEAD {
        ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("the request's head is larger than {} KiB", MAX_HEAD / 1024),
        )
        .into_response()
    } else {
        match tokio::time::timeout(limit, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(ErrorCode::RequestTimeout, "the request took too long")
                .into_response(),
        }
    };
    // An error answer's line holds its code too: the operator who has a host's request id
    // reads why it was refused without the host's copy of the body.
    let code = resp.extensions().get::<ErrorCode>().map(|c| c.as_str());
    let (status, ms) = (resp.status().as_u16(), start.elapsed().as_millis() as u64);
    let path = shown_path(&path);
    if is_probe(&path) && resp.status().is_success() {
        // A load balancer asks every few seconds: its answers are news only when they fail.
        tracing::debug!(%method, %path, status, ms, "request");
    } else {
        tracing::info!(%method, %path, status, code, ms, "request");
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
    fn redact_cuts_anything_token_shaped_to_its_id() {
        let token =
            gatepass_protocol::token::generate(gatepass_protocol::token::TokenKind::Enrollment)
                .unwrap();
        let whole = token.expose().to_owned();
        let id = token.id().to_owned();
        let body = &whole[4..];
        let upper_id = id.to_uppercase();
        for (input, shown) in [
            (format!("bad {whole} here"), format!("bad gpt_{id}… here")),
            (
                format!("x\"{}\"y", whole.to_uppercase()),
                format!("x\"GPT_{upper_id}…\"y"),
            ),
            (format!("/v1/tokens/{body}"), format!("/v1/tokens/{id}…")),
            (format!("{}…", &whole[..30]), format!("gpt_{id}……")),
            (format!("gpa_{body}é"), format!("gpa_{id}…é")),
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

    /// A token in a request's path is cut to its id however it is percent-encoded (the router
    /// decodes it before looking it up); what decoding lets in is shown encoded again.
    #[test]
    fn a_shown_path_holds_no_token_however_it_is_encoded() {
        use gatepass_protocol::token::{TokenKind, generate};
        for kind in [TokenKind::Enrollment, TokenKind::Api] {
            let token = generate(kind).unwrap();
            let whole = token.expose();
            let shown = format!("/v1/tokens/{}", token.display_prefix());
            let one = format!(
                "{}%{:02x}{}",
                &whole[..20],
                whole.as_bytes()[20],
                &whole[21..]
            );
            let all: String = whole.bytes().map(|b| format!("%{b:02X}")).collect();
            let twice = one.replace('%', "%25");
            for path in [whole.to_owned(), one, all, twice] {
                assert_eq!(shown_path(&format!("/v1/tokens/{path}")), shown, "{path}");
            }
        }
        assert_eq!(shown_path("/v1/tokens/web%2001"), "/v1/tokens/web%2001");
        assert_eq!(shown_path("/v1/tokens/a%0Ab"), "/v1/tokens/a%0Ab");
        assert_eq!(
            shown_path("/v1/tokens/a%E2%80%AEb"),
            "/v1/tokens/a%E2%80%AEb"
        );
        assert_eq!(shown_path("/v1/tokens/100%25"), "/v1/tokens/100%25");
        assert_eq!(shown_path("/v1/tokens/é%C3%A9"), "/v1/tokens/éé");
        assert_eq!(shown_path("/v1/tokens/plain-name"), "/v1/tokens/plain-name");
    }
}
