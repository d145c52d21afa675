//! Enrolled hosts: the list (all of them, or one token's) and removal. Operators see the hosts
//! they own; others' are "not found" to them.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State as S};
use gatepass_protocol::{ErrorCode, Host, HostQuery};

use super::{Routes, Verb, path_id, query, resolve};
use crate::api::access::Caller;
use crate::api::{ApiError, State, blocking};

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/hosts", list_hosts)
        .add(Verb::Delete, "/v1/hosts/{id}", remove_host)
}

async fn list_hosts(
    caller: Caller,
    S(state): S<Arc<State>>,
    q: Result<Query<HostQuery>, QueryRejection>,
) -> Result<Json<Vec<Host>>, ApiError> {
    let q = query(q)?;
    caller.check_tenant(q.tenant.as_deref())?;
    let token_id = match q.token {
        Some(t) => Some(resolve(&state, &caller, &t).await?.id),
        None => None,
    };
    let hosts = blocking(&state, move |s| s.list_hosts(token_id.as_deref())).await?;
    Ok(Json(
        hosts
            .into_iter()
            .map(|h| h.host)
            .filter(|h| caller.may_see(&h.tenant, &h.owner))
            .filter(|h| q.tenant.as_ref().is_none_or(|t| *t == h.tenant))
            .collect(),
    ))
}

async fn remove_host(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Host>, ApiError> {
    let id = path_id(id)?;
    let not_found = || ApiError::new(ErrorCode::NotFound, format!("no host {id:?}"));
    let lookup = id.clone();
    let hosts = blocking(&state, move |s| s.list_hosts(None)).await?;
    let host = hosts
        .into_iter()
        .find(|h| h.host.id == lookup)
        .ok_or_else(not_found)?;
    if !caller.may_see(&host.host.tenant, &host.host.owner) {
        return Err(not_found());
    }
    caller.require_write(&state, &host.host.tenant).await?;
    let now = state.clock.now();
    let user = caller.user.clone();
    let gone = blocking(&state, move |s| s.remove_host(&host.host.id, &user, now)).await?;
    Ok(Json(gone.host))
}
