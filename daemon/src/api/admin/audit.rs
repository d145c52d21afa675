//! The audit log: reading it (admins and auditors all of it; operators their own actions and
//! their own tokens' trails, filtered inside the read) and verifying its hash chain.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as S};
use gatepass_protocol::AuditQuery;
use gatepass_protocol::token;

use super::{Routes, Verb, query, resolve};
use crate::api::access::Caller;
use crate::api::{ApiError, State, blocking};
use crate::domain;

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
    if caller.sees_all() {
        return Ok(Json(blocking(&state, move |s| s.audit(&q)).await?));
    }
    // Operators read their own actions and the trails of their own tokens and API tokens,
    // filtered inside the read (a limit and a cursor count their events only).
    let user = caller.user.clone();
    let events = blocking(&state, move |s| {
        let mut targets: std::collections::BTreeSet<String> = s
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
        let scope = domain::audit::AuditScope {
            actor: user,
            targets,
        };
        s.audit_scoped(&q, Some(&scope))
    })
    .await?;
    Ok(Json(events))
}

async fn audit_verify(
    caller: Caller,
    S(state): S<Arc<State>>,
) -> Result<Json<crate::domain::AuditCheck>, ApiError> {
    caller.require_overview(&state).await?;
    Ok(Json(blocking(&state, |s| s.verify_audit()).await?))
}
