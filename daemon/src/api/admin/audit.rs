//! The audit log: reading it (admins and auditors all of it; operators their own actions and
//! their own tokens' trails, filtered inside the read) and verifying its hash chain.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as S};
use std::collections::BTreeSet;

use gatepass_protocol::token;
use gatepass_protocol::{AuditEvent, AuditQuery};

use super::{Routes, Verb, query, resolve};
use crate::api::access::Caller;
use crate::api::{ApiError, State, blocking};
use crate::domain;
use crate::error::StoreError;

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/audit", audit)
        .add(Verb::Get, "/v1/audit/verify", audit_verify)
}

async fn audit(
    caller: Caller,
    S(state): S<Arc<State>>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<gatepass_protocol::AuditEvent>>, ApiError> {
    let mut q = query(q)?;
    if q.limit == Some(0) {
        return Err(ApiError::bad("limit must be at least 1"));
    }
    // A token may be named by its name while it lives; after deletion only its id finds it.
    if let Some(t) = &q.token
        && !token::looks_like_id(t)
    {
        q.token = Some(resolve(&state, &caller, t).await?.id);
    }
    let tenant = q.tenant.clone();
    if caller.sees_all() && tenant.is_none() {
        return Ok(Json(blocking(&state, move |s| s.audit(&q)).await?));
    }
    // The caller's own actions and the trails of their own tokens and API tokens (what an
    // operator reads), found through the audit index: the fast read for those who see no
    // tenant whole.
    let user = caller.user.clone();
    let own = move |s: &dyn crate::domain::Store| -> Result<BTreeSet<String>, StoreError> {
        let mut targets: BTreeSet<String> = s
            .list_tokens()?
            .into_iter()
            .filter(|t| t.owner == user)
            .map(|t| t.id)
            .collect();
        targets.extend(
            s.list_api_tokens(Some(&user))?
                .into_iter()
                .map(|t| t.token.id),
        );
        Ok(targets)
    };
    if tenant.is_none() && !caller.tenants.iter().any(|(t, _)| caller.sees_tenant(t)) {
        let actor = caller.user.clone();
        let events = blocking(&state, move |s| {
            let scope = domain::audit::AuditScope {
                actor,
                targets: own(s)?,
            };
            s.audit_scoped(&q, Some(&scope))
        })
        .await?;
        return Ok(Json(events));
    }
    // Otherwise, the log read page by page, newest first, keeping what the caller may see:
    // every event of the tenants they see whole, and their own in the others.
    let events = blocking(&state, move |s| {
        let targets = own(s)?;
        let keeps = |e: &AuditEvent| {
            tenant.as_ref().is_none_or(|t| *t == e.tenant)
                && (caller.sees_tenant(&e.tenant)
                    || e.actor == caller.user
                    || targets.contains(&e.target))
        };
        filtered_pages(s, q, &keeps)
    })
    .await?;
    Ok(Json(events))
}

/// The newest events of `q` that `keeps` admits, up to its limit and oldest first, as the
/// engines answer: the log is read a page of `limit` at a time, each below the oldest of the
/// one before, until the limit is reached or the log (or the query's range) ends.
fn filtered_pages(
    s: &dyn crate::domain::Store,
    mut q: AuditQuery,
    keeps: &dyn Fn(&AuditEvent) -> bool,
) -> Result<Vec<AuditEvent>, StoreError> {
    let want = q.limit.unwrap_or(1000).clamp(1, 100_000);
    q.limit = Some(want);
    let mut kept: Vec<AuditEvent> = Vec::new();
    loop {
        let page = s.audit(&q)?;
        let full = page.len() >= want;
        let oldest = page.first().map(|e| e.seq);
        let mut older: Vec<AuditEvent> = page.into_iter().filter(|e| keeps(e)).collect();
        older.append(&mut kept);
        kept = older;
        match oldest {
            Some(seq) if full && kept.len() < want && seq > 1 => q.before = Some(seq),
            _ => break,
        }
    }
    let extra = kept.len().saturating_sub(want);
    kept.drain(..extra);
    Ok(kept)
}

async fn audit_verify(
    caller: Caller,
    S(state): S<Arc<State>>,
) -> Result<Json<crate::domain::AuditCheck>, ApiError> {
    caller.require_overview(&state).await?;
    Ok(Json(blocking(&state, |s| s.verify_audit()).await?))
}
