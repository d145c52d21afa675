//! `GET /v1/tenants`: the tenants open to the caller, by name, each with the caller's role
//! there, the tokens and hosts of it the caller sees (an operator: their own), and — where the
//! caller may mint for others (an admin there) — its members, the owners a token may be minted
//! for. Another tenant never appears; with no tenant configured the list is `default` alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State as S;
use gatepass_protocol::TenantSummary;

use super::{Routes, Verb};
use crate::api::access::{Caller, Role};
use crate::api::{ApiError, State, blocking};

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/tenants", list_tenants)
}

async fn list_tenants(
    caller: Caller,
    S(state): S<Arc<State>>,
) -> Result<Json<Vec<TenantSummary>>, ApiError> {
    // The caller's tenants come sorted by name from the config (a BTreeMap).
    let mut counts: BTreeMap<String, (u64, u64)> = caller
        .tenants
        .iter()
        .map(|(t, _)| (t.clone(), (0, 0)))
        .collect();
    let who = caller.clone();
    let counts = blocking(&state, move |s| {
        for t in s.list_tokens()? {
            if who.may_see(&t.tenant, &t.owner)
                && let Some(c) = counts.get_mut(&t.tenant)
            {
                c.0 += 1;
            }
        }
        for h in s.list_hosts(None)? {
            if who.may_see(&h.host.tenant, &h.host.owner)
                && let Some(c) = counts.get_mut(&h.host.tenant)
            {
                c.1 += 1;
            }
        }
        Ok(counts)
    })
    .await?;
    let mut list: Vec<TenantSummary> = caller
        .tenants
        .iter()
        .map(|(name, role)| {
            let (tokens, hosts) = counts.get(name).copied().unwrap_or_default();
            TenantSummary {
                name: name.clone(),
                role: *role,
                tokens,
                hosts,
                members: if *role == Role::Admin {
                    state.tenants.members(name)
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(list))
}
