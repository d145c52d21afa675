//! The typed client: the admin API over the Unix socket (or HTTPS), and raw HTTPS requests with
//! CA pinning for the redeem endpoint. One connection per request keeps it simple and robust
//! against a daemon that restarts between two calls.
//!
//! Errors tell "daemon not running" from "daemon said no" from "answer I could not read" by
//! variant, so the CLI and console can react without matching strings.

mod tls;

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use crate::error::{ErrorBody, ErrorCode};
use crate::types::*;

pub use tls::{TrustMode, pin_of_der, pin_of_pem};

/// Largest answer the client reads (a list of 1M tokens is well below).
const MAX_ANSWER: usize = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (absent, or refused): the daemon is not running. The
    /// cause is said inside, so the advice ends the line.
    #[error("the daemon is not running (no answer on {path}: {cause}): start it with `gatepassd`")]
    NotRunning {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The socket exists but we may not open it.
    #[error(
        "permission denied opening {path}: an admin must set access.socket_group in the daemon's gatepassd.toml and add you to that group"
    )]
    PermissionDenied { path: PathBuf },
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    /// The daemon answered with an error.
    #[error("{message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// The daemon answered something this client cannot read.
    #[error("unexpected answer from the daemon (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
    #[error("HTTP: {0}")]
    Http(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("invalid address {0:?}: expected https://HOST:PORT")]
    BadUrl(String),
}

impl ClientError {
    /// The error code when the daemon said no.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True when the daemon could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::NotRunning { .. } | ClientError::Connect { .. }
        )
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// A raw HTTP answer.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error body, when the answer is one.
    pub fn error(&self) -> Option<ErrorBody> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTPS endpoint: `https://host:port` and how to trust it.
#[derive(Debug, Clone)]
pub struct HttpsTarget {
    pub host: String,
    pub port: u16,
    pub trust: TrustMode,
    /// Source address to connect from (tests use 127.0.0.2 to look like another host).
    pub local_addr: Option<std::net::IpAddr>,
}

impl HttpsTarget {
    pub fn parse(url: &str, trust: TrustMode) -> Result<HttpsTarget> {
        let bad = || ClientError::BadUrl(url.to_owned());
        let rest = url.trim().strip_prefix("https://").ok_or_else(bad)?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6.split_once(']').ok_or_else(bad)?;
            (h.to_owned(), p.strip_prefix(':').unwrap_or("443"))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p),
                None => (authority.to_owned(), "443"),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let port = port.parse().map_err(|_| bad())?;
        Ok(HttpsTarget {
            host,
            port,
            trust,
            local_addr: None,
        })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Sends one request on a new TLS connection.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<RawResponse> {
        let tls = self.connect_tls().await?;
        send(tls, &self.authority(), method, path, headers, body).await
    }

    /// Opens one TLS connection for many requests (HTTP/1.1 keep-alive), as a proxy in front of
    /// the daemon would.
    pub async fn keep_alive(&self) -> Result<KeepAlive> {
        let tls = self.connect_tls().await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(KeepAlive {
            sender,
            authority: self.authority(),
        })
    }

    async fn connect_tls(&self) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let addr = self.authority();
        let connect_err = |source| ClientError::Connect {
            addr: addr.clone(),
            source,
        };
        let tcp = match self.local_addr {
            None => TcpStream::connect(&addr).await.map_err(connect_err)?,
            Some(local) => {
                let remote = tokio::net::lookup_host(&addr)
                    .await
                    .map_err(connect_err)?
                    .find(|r| r.is_ipv4() == local.is_ipv4())
                    .ok_or_else(|| connect_err(std::io::ErrorKind::AddrNotAvailable.into()))?;
                let socket = if local.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(connect_err)?;
                socket.bind((local, 0).into()).map_err(connect_err)?;
                socket.connect(remote).await.map_err(connect_err)?
            }
        };
        tls::connect(&self.host, &self.trust, tcp).await
    }
}

/// One kept-alive HTTPS connection: requests go one after another on it.
#[derive(Debug)]
pub struct KeepAlive {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
}

impl KeepAlive {
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<RawResponse> {
        self.sender
            .ready()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let req = build_request(&self.authority, method, path, headers, body)?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        read_response(resp).await
    }
}

fn build_request(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Request<Full<Bytes>>> {
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::Http(e.to_string()))?;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Full::new(Bytes::from(body)))
        .map_err(|e| ClientError::Http(e.to_string()))
}

/// Where the admin API is.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Unix(PathBuf),
    Https {
        target: HttpsTarget,
        api_token: Option<String>,
    },
}

impl Endpoint {
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix:{}", p.display()),
            Endpoint::Https { target, .. } => format!("https://{}", target.authority()),
        }
    }
}

async fn send<S>(
    io: S,
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<RawResponse>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    tokio::spawn(async move {
        // The connection ends with the request; its error, if any, shows in the answer.
        let _ = conn.await;
    });
    let req = build_request(authority, method, path, headers, body)?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    read_response(resp).await
}

async fn read_response(resp: hyper::Response<Incoming>) -> Result<RawResponse> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?
        .to_bytes();
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

async fn connect_unix(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
                path: path.to_owned(),
            },
            _ => ClientError::NotRunning {
                path: path.to_owned(),
                cause: source,
            },
        })
}

/// The admin API client.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    timeout: Duration,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Client {
        Client {
            endpoint,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn unix(path: impl Into<PathBuf>) -> Client {
        Client::new(Endpoint::Unix(path.into()))
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// One raw request to the admin API.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse> {
        self.raw_accepting(method, path, body, None).await
    }

    /// `raw`, with an `Accept` header naming the answer's preferred form.
    pub async fn raw_accepting(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        accept: Option<&str>,
    ) -> Result<RawResponse> {
        let fut = async {
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if body.is_some() {
                headers.push(("content-type", "application/json"));
            }
            if let Some(a) = accept {
                headers.push(("accept", a));
            }
            let body = body.unwrap_or_default();
            match &self.endpoint {
                Endpoint::Unix(p) => {
                    let s = connect_unix(p).await?;
                    send(s, "localhost", method, path, &headers, body).await
                }
                Endpoint::Https { target, api_token } => {
                    let auth;
                    if let Some(t) = api_token {
                        auth = format!("Bearer {t}");
                        headers.push(("authorization", &auth));
                    }
                    target.request(method, path, &headers, body).await
                }
            }
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ClientError::Http(e.to_string()))?),
            None => None,
        };
        let resp = self.raw(method, path, body).await?;
        decode(resp)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call::<(), T>("GET", path, None).await
    }

    pub async fn whoami(&self) -> Result<WhoAmI> {
        self.get("/v1/whoami").await
    }

    /// Asks for the compact binary list (`binary::TOKEN_LIST`); a daemon that answers in JSON
    /// is understood too.
    pub async fn list_tokens(&self, q: &TokenQuery) -> Result<Vec<Token>> {
        let path = format!("/v1/tokens{}", query_string(q));
        let resp = self
            .raw_accepting("GET", &path, None, Some(crate::binary::TOKEN_LIST))
            .await?;
        if (200..300).contains(&resp.status)
            && resp.header("content-type") == Some(crate::binary::TOKEN_LIST)
        {
            return crate::binary::decode_tokens(&resp.body).map_err(|e| ClientError::Decode {
                status: resp.status,
                detail: e.to_string(),
            });
        }
        decode(resp)
    }

    pub async fn create_token(&self, req: &CreateTokenRequest) -> Result<CreateTokenResponse> {
        self.call("POST", "/v1/tokens", Some(req)).await
    }

    /// By id or by name.
    pub async fn get_token(&self, id_or_name: &str) -> Result<Token> {
        self.get(&format!("/v1/tokens/{}", encode(id_or_name)))
            .await
    }

    pub async fn patch_token(&self, id_or_name: &str, patch: &PatchTokenRequest) -> Result<Token> {
        self.call(
            "PATCH",
            &format!("/v1/tokens/{}", encode(id_or_name)),
            Some(patch),
        )
        .await
    }

    pub async fn revoke_token(&self, id_or_name: &str) -> Result<Token> {
        self.call::<(), Token>(
            "POST",
            &format!("/v1/tokens/{}/revoke", encode(id_or_name)),
            None,
        )
        .await
    }

    pub async fn delete_token(&self, id_or_name: &str) -> Result<Token> {
        self.call::<(), Token>(
            "DELETE",
            &format!("/v1/tokens/{}", encode(id_or_name)),
            None,
        )
        .await
    }

    pub async fn token_hosts(&self, id_or_name: &str) -> Result<Vec<Host>> {
        self.get(&format!("/v1/tokens/{}/hosts", encode(id_or_name)))
            .await
    }

    /// `GET /v1/tenants`: the tenants open to the caller.
    pub async fn list_tenants(&self) -> Result<Vec<TenantSummary>> {
        self.get("/v1/tenants").await
    }

    pub async fn list_hosts(&self, q: &HostQuery) -> Result<Vec<Host>> {
        self.get(&format!("/v1/hosts{}", query_string(q))).await
    }

    pub async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
        self.get(&format!("/v1/audit{}", query_string(q))).await
    }

    pub async fn remove_host(&self, id: &str) -> Result<Host> {
        self.call::<(), Host>("DELETE", &format!("/v1/hosts/{}", encode(id)), None)
            .await
    }

    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        self.get("/v1/api-tokens").await
    }

    /// `GET /v1/api-tokens`, filtered (`?tenant=`).
    pub async fn list_api_tokens_in(&self, q: &ApiTokenQuery) -> Result<Vec<ApiToken>> {
        self.get(&format!("/v1/api-tokens{}", query_string(q)))
            .await
    }

    pub async fn create_api_token(
        &self,
        req: &CreateApiTokenRequest,
    ) -> Result<CreateApiTokenResponse> {
        self.call("POST", "/v1/api-tokens", Some(req)).await
    }

    pub async fn delete_api_token(&self, id_or_name: &str) -> Result<ApiToken> {
        self.call::<(), ApiToken>(
            "DELETE",
            &format!("/v1/api-tokens/{}", encode(id_or_name)),
            None,
        )
        .await
    }

    pub async fn healthz(&self) -> Result<RawResponse> {
        self.raw("GET", "/healthz", None).await
    }

    /// Opens `GET /v1/events`: server-sent events of every change.
    pub async fn events(&self) -> Result<EventStream> {
        let Endpoint::Unix(p) = &self.endpoint else {
            return Err(ClientError::Http(
                "events are served on the Unix socket".into(),
            ));
        };
        let s = connect_unix(p).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::builder()
            .uri("/v1/events")
            .header("host", "localhost")
            .header("accept", "text/event-stream")
            .body(Full::new(Bytes::new()))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        if resp.status() != StatusCode::OK {
            let err = decode::<serde_json::Value>(read_response(resp).await?).err();
            return Err(
                err.unwrap_or_else(|| ClientError::Http("events: unexpected answer".into()))
            );
        }
        Ok(EventStream {
            body: resp.into_body(),
            buf: String::new(),
        })
    }
}

/// A stream of change events from `/v1/events`.
pub struct EventStream {
    body: Incoming,
    buf: String,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl EventStream {
    /// The next change, or `None` when the daemon closed the stream. Keep-alive comments are
    /// skipped.
    pub async fn next(&mut self) -> Option<Result<ChangeEvent>> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect::<Vec<_>>()
                    .join("\n");
                if data.is_empty() {
                    continue;
                }
                return Some(
                    serde_json::from_str(&data).map_err(|e| ClientError::Decode {
                        status: 200,
                        detail: e.to_string(),
                    }),
                );
            }
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                Err(e) => return Some(Err(ClientError::Http(e.to_string()))),
            }
        }
    }
}

/// Turns an answer into `T`, or the daemon's error.
pub fn decode<T: DeserializeOwned>(resp: RawResponse) -> Result<T> {
    if (200..300).contains(&resp.status) {
        return serde_json::from_slice(&resp.body).map_err(|e| ClientError::Decode {
            status: resp.status,
            detail: e.to_string(),
        });
    }
    match serde_json::from_slice::<ErrorBody>(&resp.body) {
        Ok(b) => Err(ClientError::Api {
            status: resp.status,
            code: b.error.code,
            message: b.error.message,
        }),
        Err(_) => Err(ClientError::Decode {
            status: resp.status,
            detail: resp.text().chars().take(200).collect(),
        }),
    }
}

/// Percent-encodes a path segment or query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?a=b&c=d` from a flat serializable struct (absent fields skipped).
fn query_string<Q: Serialize>(q: &Q) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(q) else {
        return String::new();
    };
    let parts: Vec<String> = map
        .iter()
        .filter_map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            };
            Some(format!("{}={}", encode(k), encode(&v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_and_without_port() {
        let t = HttpsTarget::parse("https://example.org:8443/v1", TrustMode::Insecure);
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port), ("example.org", 8443));
        let t = HttpsTarget::parse("https://[::1]:9", TrustMode::Insecure);
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
        assert!(HttpsTarget::parse("http://x:1", TrustMode::Insecure).is_err());
        assert!(HttpsTarget::parse("https://x:notaport", TrustMode::Insecure).is_err());
    }

    #[test]
    fn queries_encode_and_skip_absent_fields() {
        let q = TokenQuery {
            status: Some(TokenStatus::Active),
            q: Some("a b&c".into()),
            ..Default::default()
        };
        assert_eq!(query_string(&q), "?q=a%20b%26c&status=active");
        assert_eq!(query_string(&TokenQuery::default()), "");
    }

    #[test]
    fn decode_tells_api_errors_from_garbage() {
        let ok = RawResponse {
            status: 404,
            headers: vec![],
            body: Bytes::from_static(br#"{"error":{"code":"not_found","message":"no token x"}}"#),
        };
        match decode::<Token>(ok) {
            Err(ClientError::Api {
                status: 404,
                code: ErrorCode::NotFound,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        let bad = RawResponse {
            status: 502,
            headers: vec![],
            body: Bytes::from_static(b"<html>"),
        };
        assert!(matches!(
            decode::<Token>(bad),
            Err(ClientError::Decode { status: 502, .. })
        ));
    }
}
