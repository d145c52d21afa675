//! Enrollment tokens: list (JSON, or the binary list the console and CLI ask for), mint, show,
//! change, revoke, delete, and the hosts a token enrolled. Operators see and change their own
//! tokens; others' are "not found" to them (`resolve`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State as S};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatepass_protocol::binary;
use gatepass_protocol::{
    CreateTokenRequest, CreateTokenResponse, ErrorCode, Host, PatchTokenRequest, SortColumn, Token,
    TokenKeys, TokenQuery,
};

use super::{Routes, Verb, path_id, query, resolve};
use crate::api::access::{Caller, Role};
use crate::api::{ApiError, State, blocking, read_json};
use crate::domain::{self, TokenChange};
use crate::error::StoreError;

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/tokens", list_tokens)
        .add(Verb::Post, "/v1/tokens", create_token)
        .add(Verb::Get, "/v1/tokens/{id}", show_token)
        .add(Verb::Patch, "/v1/tokens/{id}", patch_token)
        .add(Verb::Delete, "/v1/tokens/{id}", delete_token)
        .add(Verb::Post, "/v1/tokens/{id}/revoke", revoke_token)
        .add(Verb::Get, "/v1/tokens/{id}/hosts", token_hosts)
}

fn matches(t: &TokenKeys<'_>, q: &TokenQuery) -> bool {
    if q.status.is_some_and(|s| s != t.status) {
        return false;
    }
    if q.group
        .as_ref()
        .is_some_and(|g| t.group != Some(g.as_str()))
    {
        return false;
    }
    if q.owner.as_ref().is_some_and(|o| t.owner != o) {
        return false;
    }
    if q.tenant.as_ref().is_some_and(|o| t.tenant != o) {
        return false;
    }
    if let Some(text) =
        q.q.as_ref()
            .map(|s| s.to_lowercase())
            .filter(|s| !s.is_empty())
    {
        let hay = [t.name, t.description, t.group.unwrap_or(""), t.owner, t.id];
        if !hay.iter().any(|h| h.to_lowercase().contains(&text)) {
            return false;
        }
    }
    true
}

async fn list_tokens(
    caller: Caller,
    S(state): S<Arc<State>>,
    headers: HeaderMap,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    // The console and CLI ask for the compact binary list; everyone else gets JSON.
    let binary = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().map(str::trim) == Some(binary::TOKEN_LIST));
    let q = query(q)?;
    caller.check_tenant(q.tenant.as_deref())?;
    // What the caller may see: their tenants, and in those where they are only an operator,
    // their own tokens.
    let now = state.clock.now();
    // Decoding, sorting and encoding a large list is CPU work: off the async workers, with the
    // answer written into one buffer sized up front.
    let col = q.sort.unwrap_or(SortColumn::Created);
    let desc = q.desc;
    let visible = move |k: &TokenKeys<'_>| caller.may_see(k.tenant, k.owner) && matches(k, &q);
    let body = blocking(&state, move |s| {
        if binary {
            // Straight from the stored bytes: the records are already in the list's form.
            let list = s.token_list(now, col, &visible)?;
            let large = list.len() >= 10_000;
            let body = list
                .finish(desc)
                .map_err(|e| StoreError::Damaged(format!("a token list: {e}")))?;
            return Ok((body, Vec::new(), large));
        }
        let mut tokens: Vec<Token> = s
            .list_tokens()?
            .into_iter()
            .map(|r| r.into_view(now))
            .filter(|t| visible(&t.keys()))
            .collect();
        tokens.sort_unstable_by(|a, b| col.compare(a, b));
        if desc {
            tokens.reverse();
        }
        let mut body = Vec::with_capacity(tokens.len() * 512 + 2);
        serde_json::to_writer(&mut body, &tokens)?;
        let large = tokens.len() >= 10_000;
        Ok((body, tokens, large))
    })
    .await?;
    let (body, tokens, large) = body;
    if large && !tokens.is_empty() {
        // A million small allocations: freed off the async workers, now, and handed back.
        tokio::task::spawn_blocking(move || {
            drop(tokens);
            crate::release_freed_memory();
        });
    }
    let content_type = if binary {
        binary::TOKEN_LIST
    } else {
        "application/json"
    };
    if large {
        let body = bytes::Bytes::from_owner(LargeAnswer(body));
        return Ok(([(header::CONTENT_TYPE, content_type)], body).into_response());
    }
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// A large list's answer. Once it has been sent it is freed and the memory handed back to the
/// system, on a blocking thread: an idle daemon does not keep the peak of its last list.
struct LargeAnswer(Vec<u8>);

impl AsRef<[u8]> for LargeAnswer {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for LargeAnswer {
    fn drop(&mut self) {
        let body = std::mem::take(&mut self.0);
        let release = move || {
            drop(body);
            crate::release_freed_memory();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(release)),
            Err(_) => release(),
        }
    }
}

async fn create_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    req: Request,
) -> Result<Response, ApiError> {
    let body: CreateTokenRequest = read_json(req, state.config.limits.admin_max_body).await?;
    let when = domain::tokens::MintTime {
        at: state.clock.now(),
        lifetime_from: state.clock.now_rounded_up(),
    };
    let now = when.at;
    // One tenant, where the caller may write; the owner one of its members.
    if !caller
        .tenants
        .iter()
        .any(|(_, r)| matches!(r, Role::Admin | Role::Operator))
    {
        return Err(caller.deny(&state, "auditors have read-only access").await);
    }
    let tenant = caller.write_tenant(&state, body.tenant.as_deref())?;
    caller.require_write(&state, &tenant).await?;
    let owner = match body.owner.clone() {
        Some(o) if o != caller.user => {
            if caller.role_in(&tenant) != Some(Role::Admin) {
                return Err(caller
                    .deny_in(
                        &state,
                        &tenant,
                        "only admins may mint tokens for another owner",
                    )
                    .await);
            }
            // Root and the daemon's own user too: members only where listed.
            if !state.tenants.is_member(&o, &tenant) {
                return Err(ApiError::new(
                    ErrorCode::UnknownOwner,
                    format!(
                        "{o:?} is not a member of tenant {tenant:?}: an owner must be one of its \
                         members or hold a role there"
                    ),
                ));
            }
            o
        }
        _ => caller.user.clone(),
    };
    let minter = domain::tokens::Minter {
        user: &caller.user,
        owner,
        tenant,
    };
    let (record, secret) = domain::tokens::mint(
        body,
        minter,
        &state.key,
        state.config.lifetime_policy(),
        when,
    )?;
    let stored = blocking(&state, move |s| s.create_token(record)).await?;
    let answer = CreateTokenResponse {
        token: stored.view(now),
        secret: secret.expose().to_owned(),
        join_command: join_command(&state),
    };
    Ok((StatusCode::CREATED, Json(&answer)).into_response())
}

/// The command a host runs to enroll: server and pin included, the token read from the
/// environment or a prompt, never from the command line.
pub fn join_command(state: &State) -> String {
    format!(
        "gatepass redeem --server {} --ca-pin {} --out /etc/gatepass",
        state.redeem_url, state.ca.pin
    )
}

async fn show_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Token>, ApiError> {
    let rec = resolve(&state, &caller, &path_id(id)?).await?;
    Ok(Json(rec.view(state.clock.now())))
}

async fn patch_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Json<Token>, ApiError> {
    let id = path_id(id)?;
    let rec = resolve(&state, &caller, &id).await?;
    caller.require_write(&state, &rec.tenant).await?;
    let patch: PatchTokenRequest = read_json(req, state.config.limits.admin_max_body).await?;
    let now = state.clock.now();
    let change =
        domain::tokens::patch(&rec, patch, state.config.lifetime_policy(), now)?.map_err(|()| {
            ApiError::new(ErrorCode::NameImmutable, "a token's name cannot be changed")
        })?;
    let user = caller.user.clone();
    let rid = rec.id.clone();
    let after = blocking(&state, move |s| s.change_token(&rid, change, &user, now)).await?;
    Ok(Json(after.view(now)))
}

async fn revoke_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Token>, ApiError> {
    let rec = resolve(&state, &caller, &path_id(id)?).await?;
    caller.require_write(&state, &rec.tenant).await?;
    let now = state.clock.now();
    let after = blocking(&state, move |s| {
        s.change_token(&rec.id, TokenChange::Revoke, &caller.user, now)
    })
    .await?;
    Ok(Json(after.view(now)))
}

async fn delete_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Token>, ApiError> {
    let rec = resolve(&state, &caller, &path_id(id)?).await?;
    caller.require_write(&state, &rec.tenant).await?;
    let now = state.clock.now();
    let gone = blocking(&state, move |s| s.delete_token(&rec.id, &caller.user, now)).await?;
    Ok(Json(gone.view(now)))
}

async fn token_hosts(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<Host>>, ApiError> {
    let rec = resolve(&state, &caller, &path_id(id)?).await?;
    let hosts = blocking(&state, move |s| s.list_hosts(Some(&rec.id))).await?;
    Ok(Json(hosts.into_iter().map(|h| h.host).collect()))
}
