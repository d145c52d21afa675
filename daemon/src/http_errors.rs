//! The JSON error shape for answers hyper writes by itself. A request hyper cannot parse (too
//! many or too large headers: 431; a bare CR, an obs-fold line, a bad method, URI or version:
//! 400; a URI too long: 414) is answered by hyper before any handler runs, with an empty body.
//! `JsonErrors` wraps a connection's stream and gives every such header-only error answer the
//! `{"error": {"code", "message", "request_id"}}` body and an `X-Request-Id`, as every other
//! answer has; the id is a request id like any other, kept (`Answered`) for the connection's
//! log line, which names it (`server`).
//!
//! It recognises, in one write, a whole answer head with a 4xx or 5xx status and
//! `content-length: 0`: hyper writes an answer head in one buffer when the stream does not
//! take vectored writes (this wrapper says it does not). Handlers never answer an error
//! without a body, so nothing else matches.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use gatepass_protocol::{ErrorBody, ErrorCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's stream whose body-less error answers get the JSON error body.
#[derive(Debug)]
pub struct JsonErrors<S> {
    inner: S,
    /// The rewritten answer still being written, and how much of it is written; the caller's
    /// write is reported done (its whole length) only once all of it is.
    pending: Option<(Vec<u8>, usize, usize)>,
    answered: Answered,
}

/// The request id and status of the error answer a connection was given by hyper, if any
/// (hyper closes a connection after one): shared with the task that logs how it ended.
#[derive(Debug, Clone, Default)]
pub struct Answered(Arc<Mutex<Option<(String, u16)>>>);

impl Answered {
    /// The id and status of the answer given, taken out.
    pub fn take(&self) -> Option<(String, u16)> {
        self.0
            .lock()
            .map_or_else(|p| p.into_inner().take(), |mut a| a.take())
    }

    fn set(&self, id: String, status: u16) {
        match self.0.lock() {
            Ok(mut a) => *a = Some((id, status)),
            Err(p) => *p.into_inner() = Some((id, status)),
        }
    }
}

impl<S> JsonErrors<S> {
    pub fn new(inner: S) -> JsonErrors<S> {
        JsonErrors {
            inner,
            pending: None,
            answered: Answered::default(),
        }
    }

    /// Where the id of an error answer written on this stream is kept.
    pub fn answered(&self) -> Answered {
        self.answered.clone()
    }
}

/// The error code and message for a body-less error status.
fn describe(status: u16) -> (ErrorCode, &'static str) {
    match status {
        400 => (ErrorCode::InvalidRequest, "the request could not be parsed"),
        408 => (ErrorCode::RequestTimeout, "the request took too long"),
        414 => (ErrorCode::UriTooLong, "the request target is too long"),
        431 => (
            ErrorCode::HeadersTooLarge,
            "too many request headers, or too large ones",
        ),
        404 => (ErrorCode::NotFound, "no such endpoint"),
        405 => (ErrorCode::MethodNotAllowed, "method not allowed here"),
        s if s >= 500 => (ErrorCode::Internal, "internal error"),
        _ => (ErrorCode::InvalidRequest, "the request was refused"),
    }
}

/// An error answer rewritten with its JSON body.
#[derive(Debug)]
pub struct Rewritten {
    pub bytes: Vec<u8>,
    pub status: u16,
    /// The request id it carries, in `X-Request-Id` and in the body.
    pub id: String,
}

/// The same answer with a JSON error body holding the request id `id()` gives (also in
/// `X-Request-Id`), when `head` is a whole body-less error answer.
pub fn with_json_body(head: &[u8], id: impl FnOnce() -> String) -> Option<Rewritten> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let status: u16 = rest.get(..3)?.parse().ok()?;
    if !(400..600).contains(&status) || !text.ends_with("\r\n\r\n") {
        return None;
    }
    let headers = &text[..text.len() - 2];
    let mut empty = false;
    let mut kept = String::new();
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if lower == "content-length: 0" {
            empty = true;
            continue;
        }
        if lower.starts_with("content-length:")
            || lower.starts_with("content-type:")
            || lower.starts_with("transfer-encoding:")
        {
            return None;
        }
        kept.push_str(line);
        kept.push_str("\r\n");
    }
    if !empty {
        return None;
    }
    let (code, message) = describe(status);
    let id = id();
    let mut body = ErrorBody::new(code, message);
    body.error.request_id = Some(id.clone());
    let body = serde_json::to_string(&body).ok()?;
    kept.push_str(&format!(
        "content-type: application/json\r\nx-request-id: {id}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(Rewritten {
        bytes: kept.into_bytes(),
        status,
        id,
    })
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            let id = || crate::api::observe::RequestId::next().as_str().to_owned();
            match with_json_body(buf, id) {
                Some(answer) => {
                    this.answered.set(answer.id, answer.status);
                    this.pending = Some((answer.bytes, 0, buf.len()));
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        while let Some((answer, written, reported)) = &mut this.pending {
            if *written == answer.len() {
                let n = *reported;
                this.pending = None;
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(0)) => {
                    this.pending = None;
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => {
                    this.pending = None;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_less_error_head_gets_the_json_body_and_nothing_else_does() {
        let head =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = with_json_body(head, || "0123456789abcdef".into()).unwrap();
        assert_eq!(
            (answer.status, answer.id.as_str()),
            (431, "0123456789abcdef")
        );
        let out = String::from_utf8(answer.bytes).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("x-request-id: 0123456789abcdef"), "{head}");
        let v: ErrorBody = serde_json::from_str(body).unwrap();
        assert_eq!(v.error.code, ErrorCode::HeadersTooLarge);
        assert_eq!(v.error.request_id.as_deref(), Some("0123456789abcdef"));
        for not in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{\"error\"",
            b"garbage",
        ] {
            let drawn = std::cell::Cell::new(false);
            let id = || {
                drawn.set(true);
                String::new()
            };
            assert!(
                with_json_body(not, id).is_none() && !drawn.get(),
                "{:?}",
                String::from_utf8_lossy(not)
            );
        }
    }
}
