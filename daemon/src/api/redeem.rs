//! `POST /v1/redeem`, the only endpoint an enrollment token opens (served over HTTPS).
//!
//! Cheap offline checks first (token format, body, CSR); then a read-only look-up so that an
//! unknown id or wrong secret costs no certificate signing; then the store's one durable
//! transaction, which checks everything again and spends the use. Every refusal counts toward
//! the address's limit (and the token's, when the request held its secret) at the moment it is
//! decided (`ratelimit`), and is audited through `domain::refusals` (repeats become one event);
//! every request, the limited ones too, is counted in `/metrics`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

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
use crate::ratelimit::Verdict;

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v1/redeem", post(redeem))
        .route("/healthz", get(super::admin::healthz))
}

fn source_of(req: &Request) -> IpAddr {
    match req.extensions().get::<Peer>() {
        Some(Peer::Tcp { addr }) => addr.ip(),
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}

/// Why a redemption got no enrollment.
enum Failure {
    /// Refused: answered (and audited) if the limits allow, 429 otherwise.
    Refused(Box<Refusal>),
    /// The address or the token is over its limit: 429 with this `Retry-After`.
    Limited(u64),
    /// The daemon failed (the store stopped, a certificate could not be signed).
    Error(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure::Error(e)
    }
}

/// A refusal and its audit event.
struct Refusal {
    err: ApiError,
    audit: AuditDraft,
    /// The token, when the request held its secret: the refusal counts against it too.
    holder_of: Option<String>,
}

/// A refusal decided before the store's transaction.
fn refused(
    state: &State,
    source: IpAddr,
    token_id: Option<&str>,
    hostname: Option<&str>,
    reason: &'static str,
    err: ApiError,
) -> Failure {
    let mut details = BTreeMap::new();
    details.insert("reason".to_string(), reason.to_string());
    details.insert("source".to_string(), source.to_string());
    if let Some(h) = hostname {
        details.insert("hostname".to_string(), h.to_string());
    }
    let audit = AuditDraft {
        at: state.clock.now(),
        actor: format!("host:{}@{}", hostname.unwrap_or("?"), source),
        action: gatepass_protocol::AuditAction::RedeemFailed,
        target: token_id.unwrap_or_default().to_owned(),
        target_name: None,
        details,
        tenant: gatepass_protocol::default_tenant(),
    };
    Failure::Refused(Box::new(Refusal {
        err,
        audit,
        holder_of: None,
    }))
}

/// 429, counted in `/metrics`.
fn too_many(state: &State, retry: u64, start: Instant) -> Response {
    state
        .metrics
        .redeem(ErrorCode::TooManyRequests.as_str(), start.elapsed());
    state.metrics.rate_limited();
    let e = ApiError::new(
        ErrorCode::TooManyRequests,
        "too many refused attempts from this address or for this token; try again later",
    );
    let mut resp = e.into_response();
    if let Ok(v) = header::HeaderValue::from_str(&retry.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Writes audit events, logging (once each) those the store would not take.
async fn audit_all(state: &Arc<State>, drafts: Vec<AuditDraft>) {
    for draft in drafts {
        if let Err(e) = blocking(state, move |s| s.append_audit(draft)).await {
            tracing::error!(error = ?e, "could not audit a refused redemption");
        }
    }
}

/// Answers a refusal: counted against the address (and the token, for a holder of its secret)
/// in the same step that decides whether it may be answered at all; audited through the
/// refusal log (repeats become one event).
async fn answer_refusal(
    state: &Arc<State>,
    source: IpAddr,
    r: Refusal,
    start: Instant,
) -> Response {
    let now = state.clock.now();
    match state.limiter.refuse(source, now) {
        Verdict::Limited { retry_after } => return too_many(state, retry_after, start),
        Verdict::Answer { crossed: true } => {
            let mut details = BTreeMap::new();
            details.insert("source".to_string(), source.to_string());
            details.insert(
                "limit_per_minute".to_string(),
                state.config.limits.redeem_failures_per_minute.to_string(),
            );
            let draft = AuditDraft {
                at: now,
                actor: format!("host:?@{source}"),
                action: gatepass_protocol::AuditAction::RedeemRateLimited,
                target: String::new(),
                target_name: None,
                details,
                tenant: gatepass_protocol::default_tenant(),
            };
            audit_all(state, vec![draft]).await;
        }
        Verdict::Answer { crossed: false } => {}
    }
    if let Some(id) = &r.holder_of
        && let Verdict::Limited { retry_after } = state.limiter.refuse_token(id, now)
    {
        return too_many(state, retry_after, start);
    }
    state.metrics.redeem(r.err.code.as_str(), start.elapsed());
    state.metrics.refusal(r.err.code.as_str());
    audit_all(state, state.refusals.note(r.audit)).await;
    r.err.into_response()
}

async fn redeem(S(state): S<Arc<State>>, req: Request) -> Response {
    let start = Instant::now();
    let source = source_of(&req);
    if let Some(retry) = state.limiter.blocked(source, state.clock.now()) {
        return too_many(&state, retry, start);
    }
    match redeem_inner(&state, req, start).await {
        Ok(r) => r,
        Err(Failure::Refused(r)) => answer_refusal(&state, source, *r, start).await,
        Err(Failure::Limited(retry)) => too_many(&state, retry, start),
        Err(Failure::Error(e)) => {
            state.metrics.redeem(e.code.as_str(), start.elapsed());
            e.into_response()
        }
    }
}

async fn redeem_inner(
    state: &Arc<State>,
    req: Request,
    start: Instant,
) -> Result<Response, Failure> {
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
            return Err(refused(
                state,
                source,
                None,
                None,
                reason,
                ApiError::unauthorized(),
            ));
        }
    };
    let token_id = parsed.id().to_owned();
    // A redemption's body is small (16 KiB at most): it must arrive within the header timeout,
    // or a client dribbling it would hold a connection until the request timeout (slowloris).
    let body_time = std::time::Duration::from_secs(state.config.limits.header_timeout.0);
    let read = tokio::time::timeout(body_time, read_json(req, state.config.redeem.max_body));
    let body = read
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                ErrorCode::RequestTimeout,
                "the request body did not arrive in time",
            ))
        })
        .and_then(|b: RedeemRequest| {
            model::validate_hostname(&b.hostname)
                .and(model::validate_facts(&b.facts))
                .map_err(ApiError::bad)?;
            Ok(b)
        });
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return Err(refused(
                state,
                source,
                Some(&token_id),
                None,
                "invalid_request",
                e,
            ));
        }
    };
    let hostname = body.hostname.clone();
    let csr = match &body.csr {
        Some(pem) => match ca::parse_csr(pem) {
            Some(c) => Some(c),
            None => {
                let e = ApiError::bad("csr is not a valid, signed PEM certificate request");
                return Err(refused(
                    state,
                    source,
                    Some(&token_id),
                    Some(&hostname),
                    "bad_csr",
                    e,
                ));
            }
        },
        None => None,
    };
    let presented_hash = state.key.hash(parsed.expose());
    drop(parsed);

    // Read-only pre-check: unknown ids and wrong secrets are refused before any signing.
    // The embedded store answers in place (a point read of a few cached pages: a thread hop
    // costs more); PostgreSQL answers the pre-checks queued together in one statement.
    // Not waiting for pending writes: the writer checks again inside the transaction.
    let matches = state
        .store
        .peek_secret_queued(&token_id, &model::hex(&presented_hash))
        .wait()
        .await
        .map_err(ApiError::from)?;
    if matches != Some(true) {
        let reason = if matches.is_some() {
            "wrong_secret"
        } else {
            "unknown_token"
        };
        let e = ApiError::unauthorized();
        let mut failure = refused(state, source, Some(&token_id), Some(&hostname), reason, e);
        // A wrong secret for a known token is an attempt on it: filed in its tenant, where its
        // admins read of it (an unknown id belongs to no tenant's token: the daemon's).
        if matches.is_some()
            && let Failure::Refused(r) = &mut failure
        {
            let id = token_id.clone();
            if let Ok(Some(t)) = blocking(state, move |s| s.get_token(&id)).await {
                r.audit.tenant = t.tenant;
            }
        }
        return Err(failure);
    }
    // The secret is right: only now, in one step with the counting of wrong guesses, is the
    // address's limit checked — however many guesses were in flight, none past the limit gets
    // an answer that tells it was right.
    let now = state.clock.now();
    if let Some(retry) = state
        .limiter
        .blocked(source, now)
        .or_else(|| state.limiter.token_blocked(&token_id, now))
    {
        return Err(Failure::Limited(retry));
    }

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
        token_id: token_id.clone(),
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
    let outcome = crate::domain::redeem_queued(state.store.as_ref(), attempt)
        .await
        .map_err(ApiError::from)?;
    match outcome {
        RedeemOutcome::Enrolled { host, .. } => {
            state.metrics.redeem("enrolled", start.elapsed());
            Ok(answer(state, *host))
        }
        RedeemOutcome::Replayed { host } => {
            state.metrics.redeem("replayed", start.elapsed());
            Ok(answer(state, *host))
        }
        RedeemOutcome::Denied(d, audit) => {
            let message = match d.code() {
                ErrorCode::Unauthorized => "invalid or missing token",
                ErrorCode::TokenDisabled => "the token is disabled",
                ErrorCode::TokenExpired => "the token has expired",
                ErrorCode::TokenRevoked => "the token was revoked",
                ErrorCode::TokenExhausted => "the token has no uses left",
                ErrorCode::TokenSourceDenied => "the token may not be used from this address",
                ErrorCode::TokenNotYetValid => "the token is not valid yet",
                _ => "refused",
            };
            let holder_of = (d.code() != ErrorCode::Unauthorized).then_some(token_id);
            Err(Failure::Refused(Box::new(Refusal {
                err: ApiError::new(d.code(), message),
                audit: *audit,
                holder_of,
            })))
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
        tenant: h.tenant,
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
