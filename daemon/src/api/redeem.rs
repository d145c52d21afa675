//! `POST /v1/redeem`, the only endpoint an enrollment token opens (served over HTTPS).
//!
//! Cheap offline checks first (token format, body, CSR); then a read-only look-up so that an
//! unknown id or wrong secret costs no certificate signing; then the store's one durable
//! transaction, which checks everything again and spends the use. Every refusal is audited.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State as S};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatepass_protocol::token::{self, TokenKind};
use gatepass_protocol::{ErrorCode, RedeemRequest, RedeemResponse};

use super::{ApiError, Peer, State, blocking, read_json};
use crate::ca;
use crate::domain::{AuditDraft, HostRecord, RedeemAttempt, RedeemOutcome};
use crate::model;

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v1/redeem", post(redeem))
        .route("/healthz", get(|| async { "ok\n" }))
}

fn source_of(req: &Request) -> IpAddr {
    match req.extensions().get::<Peer>() {
        Some(Peer::Tcp { addr }) => addr.ip(),
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}

/// Audits a refusal that happened before the store's transaction, counts it, and returns it.
async fn refuse(
    state: &Arc<State>,
    source: IpAddr,
    token_id: Option<&str>,
    hostname: Option<&str>,
    reason: &'static str,
    err: ApiError,
) -> ApiError {
    state.metrics.redeem(err.code.as_str());
    let mut details = BTreeMap::new();
    details.insert("reason".to_string(), reason.to_string());
    details.insert("source".to_string(), source.to_string());
    if let Some(h) = hostname {
        details.insert("hostname".to_string(), h.to_string());
    }
    let draft = AuditDraft {
        at: state.clock.now(),
        actor: format!("host:{}@{}", hostname.unwrap_or("?"), source),
        action: gatepass_protocol::AuditAction::RedeemFailed,
        target: token_id.unwrap_or_default().to_owned(),
        target_name: None,
        details,
    };
    if let Err(e) = blocking(state, move |s| s.append_audit(draft)).await {
        return e;
    }
    err
}

async fn redeem(S(state): S<Arc<State>>, req: Request) -> Response {
    let source = source_of(&req);
    if let Some(retry) = state.limiter.blocked(source, state.clock.now()) {
        state.metrics.redeem(ErrorCode::TooManyRequests.as_str());
        let e = ApiError::new(
            ErrorCode::TooManyRequests,
            "too many failed attempts from this address; try again later",
        );
        let mut resp = e.into_response();
        if let Ok(v) = header::HeaderValue::from_str(&retry.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    match redeem_inner(&state, req).await {
        Ok(r) => r,
        Err(e) => {
            // Only failures that look like guessing or garbage count: a wrong or malformed token,
            // a bad body. A valid token that is used up, expired or disabled is not an attack,
            // and counting it would lock out a whole fleet behind one NAT. The failure that
            // crosses the limit is audited (once per window).
            let counts = matches!(
                e.code,
                ErrorCode::Unauthorized
                    | ErrorCode::InvalidRequest
                    | ErrorCode::InvalidJson
                    | ErrorCode::PayloadTooLarge
                    | ErrorCode::UnsupportedMediaType
                    | ErrorCode::RequestTimeout
            );
            if counts && state.limiter.failure(source, state.clock.now()) {
                let mut details = BTreeMap::new();
                details.insert("source".to_string(), source.to_string());
                details.insert(
                    "limit_per_minute".to_string(),
                    state.config.limits.redeem_failures_per_minute.to_string(),
                );
                let draft = AuditDraft {
                    at: state.clock.now(),
                    actor: format!("host:?@{source}"),
                    action: gatepass_protocol::AuditAction::RedeemRateLimited,
                    target: String::new(),
                    target_name: None,
                    details,
                };
                if let Err(err) = blocking(&state, move |s| s.append_audit(draft)).await {
                    tracing::error!(error = ?err, "could not audit a rate limit");
                }
            }
            e.into_response()
        }
    }
}

async fn redeem_inner(state: &Arc<State>, req: Request) -> Result<Response, ApiError> {
    let source = source_of(&req);
    let presented = super::bearer(req.headers());
    let parsed = match token::parse_kind(presented, TokenKind::Enrollment) {
        Ok(t) => t,
        Err(_) => {
            let reason = if presented.is_empty() {
                "no_token"
            } else {
                "malformed_token"
            };
            return Err(refuse(state, source, None, None, reason, ApiError::unauthorized()).await);
        }
    };
    let token_id = parsed.id().to_owned();
    // A redemption's body is small (16 KiB at most): it must arrive within the header timeout,
    // or a client dribbling it would hold a connection until the request timeout (slowloris).
    let body_time = std::time::Duration::from_secs(state.config.limits.header_timeout.0);
    let read = tokio::time::timeout(body_time, read_json(req, state.config.redeem.max_body));
    let body: RedeemRequest = match read.await.unwrap_or_else(|_| {
        Err(ApiError::new(
            ErrorCode::RequestTimeout,
            "the request body did not arrive in time",
        ))
    }) {
        Ok(b) => b,
        Err(e) => {
            return Err(refuse(state, source, Some(&token_id), None, "invalid_request", e).await);
        }
    };
    let hostname = body.hostname.clone();
    let bad = |m: String| ApiError::bad(m);
    if let Err(m) = model::validate_hostname(&body.hostname).and(model::validate_facts(&body.facts))
    {
        return Err(refuse(
            state,
            source,
            Some(&token_id),
            None,
            "invalid_request",
            bad(m),
        )
        .await);
    }
    let csr = match &body.csr {
        Some(pem) => match ca::parse_csr(pem) {
            Some(c) => Some(c),
            None => {
                let e = ApiError::bad("csr is not a valid, signed PEM certificate request");
                return Err(refuse(
                    state,
                    source,
                    Some(&token_id),
                    Some(&hostname),
                    "bad_csr",
                    e,
                )
                .await);
            }
        },
        None => None,
    };
    let presented_hash = state.key.hash(parsed.expose());
    drop(parsed);

    // Read-only pre-check: unknown ids and wrong secrets are refused before any signing.
    // A point read of a few pages, usually cached: done in place rather than handed to a
    // blocking thread (a thread hop costs more than the read).
    // Not waiting for pending writes: the writer checks again inside the transaction.
    let matches = state
        .store
        .peek_secret(&token_id, &model::hex(&presented_hash))?;
    if matches != Some(true) {
        let reason = if matches.is_some() {
            "wrong_secret"
        } else {
            "unknown_token"
        };
        let e = ApiError::unauthorized();
        return Err(refuse(state, source, Some(&token_id), Some(&hostname), reason, e).await);
    }

    let now = state.clock.now();
    // Time-ordered, so new hosts land at the end of the hosts table (fewer pages per commit).
    let (millis, seq) = next_host_stamp();
    let host_id = token::time_ordered_id(millis, seq).map_err(ApiError::internal)?;
    let cert_pem = match &csr {
        Some(c) => Some(
            state
                .ca
                .sign_host(&c.params, &host_id, &hostname, now)
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let attempt = RedeemAttempt {
        token_id,
        presented_hash,
        hostname,
        source,
        key_fingerprint: csr.as_ref().map(|c| c.key_fingerprint.clone()),
        facts: body.facts,
        host_id,
        cert_pem,
        now,
        grace_seconds: state.config.redeem.grace_window.0,
    };
    // Queued for the writer's next group commit and awaited: no thread blocks on the commit.
    match crate::domain::redeem_queued(state.store.as_ref(), attempt).await? {
        RedeemOutcome::Enrolled { host, .. } => {
            state.metrics.redeem("enrolled");
            Ok(answer(state, *host))
        }
        RedeemOutcome::Replayed { host } => {
            state.metrics.redeem("replayed");
            Ok(answer(state, *host))
        }
        RedeemOutcome::Denied(d) => {
            state.metrics.redeem(d.code().as_str());
            let message = match d.code() {
                ErrorCode::Unauthorized => return Err(ApiError::unauthorized()),
                ErrorCode::TokenDisabled => "the token is disabled",
                ErrorCode::TokenExpired => "the token has expired",
                ErrorCode::TokenRevoked => "the token was revoked",
                ErrorCode::TokenExhausted => "the token has no uses left",
                ErrorCode::TokenSourceDenied => "the token may not be used from this address",
                ErrorCode::TokenNotYetValid => "the token is not valid yet",
                _ => "refused",
            };
            Err(ApiError::new(d.code(), message))
        }
    }
}

fn answer(state: &State, host: HostRecord) -> Response {
    let h = host.host;
    let body = RedeemResponse {
        host_id: h.id,
        hostname: h.hostname,
        group: h.group,
        labels: h.labels,
        owner: h.owner,
        ca_pem: state.ca.ca_pem.clone(),
        cert_pem: host.cert_pem,
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

/// The time and count for the next host id: the wall clock in milliseconds (never earlier than
/// the last one handed out: a clock stepped back waits for it) and a count within that
/// millisecond, so the ids this process makes are unique and in order, and a burst of
/// thousands a second keeps the clock's time (each id used to add 1 ms: a herd of 17,000/s
/// pushed ids 16 s ahead each second). Only past 131,072 ids in one millisecond does the time
/// move on by itself.
fn next_host_stamp() -> (u64, u32) {
    use std::sync::atomic::{AtomicU64, Ordering};
    const SEQ_BITS: u32 = 17;
    const SEQ_MAX: u64 = (1 << SEQ_BITS) - 1;
    const _: () = assert!(SEQ_MAX < token::IDS_PER_MILLISECOND as u64);
    // Milliseconds above the count: 47 bits of them reach past the year 6000.
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_millis();
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let (millis, seq) = (prev >> SEQ_BITS, prev & SEQ_MAX);
        let next = if now > millis {
            now << SEQ_BITS
        } else if seq < SEQ_MAX {
            prev + 1
        } else {
            (millis + 1) << SEQ_BITS
        };
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return (next >> SEQ_BITS, (next & SEQ_MAX) as u32),
            Err(p) => prev = p,
        }
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_of_a_burst_keep_the_clocks_time_and_are_unique_and_in_order() {
        let mut ids = Vec::new();
        let mut last = 0;
        for _ in 0..20_000 {
            let (millis, seq) = next_host_stamp();
            assert!(millis >= last, "went back from {last} to {millis}");
            last = millis;
            ids.push(token::time_ordered_id(millis, seq).unwrap_or_default());
        }
        // Not ahead of the clock, however many ids a millisecond saw.
        assert!(last <= now_millis(), "{last} is ahead of the clock");
        // Each after the one before: unique, and text order is the order they were made in.
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order");
    }
}
