//! Personal API tokens (`gpa_…`, for the HTTPS admin listener): each user lists, creates and
//! deletes their own; a tenant's admins list and delete those that act in their tenant. Each is
//! made in one tenant where its user holds the REST API role, and acts there alone
//! (`api::access`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State as S};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatepass_protocol::{
    ApiToken, ApiTokenQuery, CreateApiTokenRequest, CreateApiTokenResponse, ErrorCode,
};

use super::{Routes, Verb, path_id, query};
use crate::api::access::{Caller, Role};
use crate::api::{ApiError, State, blocking, read_json};
use crate::domain;
use crate::domain::tenants::{TenantRefusal, choose_write_tenant};

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/api-tokens", list_api_tokens)
        .add(Verb::Post, "/v1/api-tokens", create_api_token)
        .add(Verb::Delete, "/v1/api-tokens/{id}", delete_api_token)
}

/// Whether `caller` sees API token `t`: every one acting in a tenant they are an admin of, and
/// their own (with an API token: those acting in its tenant; over the socket all, so that one
/// acting nowhere any more can be deleted).
fn sees(caller: &Caller, t: &ApiToken) -> bool {
    let own = t.user == caller.user
        && (caller.api_token.is_none() || caller.role_in(&t.tenant).is_some());
    own || caller.role_in(&t.tenant) == Some(Role::Admin)
}

/// 403 `api_role_required` (audited): `caller` holds the REST API role nowhere, or not in
/// `tenant`.
async fn api_role_required(caller: &Caller, state: &Arc<State>, tenant: Option<&str>) -> ApiError {
    let user = &caller.user;
    let (reason, place) = match tenant {
        Some(t) => (
            format!("no REST API role (api_users) in tenant {t:?}"),
            format!(" in tenant {t:?}"),
        ),
        None => ("no REST API role (api_users)".to_owned(), String::new()),
    };
    let _ = match tenant {
        Some(t) => caller.deny_in(state, t, &reason).await,
        None => caller.deny(state, &reason).await,
    };
    ApiError::new(
        ErrorCode::ApiRoleRequired,
        format!(
            "{user} may not create API tokens{place}: only users with the REST API role may; an \
             admin must add \"{user}\" to api_users (in [access] or a tenant) in gatepassd.toml"
        ),
    )
}

/// `GET /v1/api-tokens`: the caller's own API tokens (admins: all of their tenants'), of one
/// tenant with `?tenant=`.
async fn list_api_tokens(
    caller: Caller,
    S(state): S<Arc<State>>,
    q: Result<Query<ApiTokenQuery>, QueryRejection>,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    let q = query(q)?;
    caller.check_tenant(q.tenant.as_deref())?;
    let list = blocking(&state, move |s| s.list_api_tokens(None)).await?;
    Ok(Json(
        list.into_iter()
            .map(|r| r.token)
            .filter(|t| sees(&caller, t))
            .filter(|t| q.tenant.as_ref().is_none_or(|want| *want == t.tenant))
            .collect(),
    ))
}

/// `POST /v1/api-tokens`: a token for the caller alone, acting in one tenant (`tenant`, or the
/// caller's only API tenant; 400 `tenant_required`), shown once; only for users with the REST
/// API role there (403 `api_role_required`).
async fn create_api_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    req: Request,
) -> Result<Response, ApiError> {
    // The REST API role: only users assigned to it, administrators included, in the tenants
    // where they are (with a role there; `[access]`: all of theirs).
    let api_tenants: Vec<(&str, Role)> = caller
        .tenants
        .iter()
        .filter(|(t, _)| state.tenants.is_api_user_in(&caller.user, t))
        .map(|(t, r)| (t.as_str(), *r))
        .collect();
    if api_tenants.is_empty() {
        return Err(api_role_required(&caller, &state, None).await);
    }
    let body: CreateApiTokenRequest = read_json(req, state.config.limits.admin_max_body).await?;
    let now = state.clock.now();
    // The one tenant it acts in: the one named, else the caller's only API tenant. A tenant
    // where the caller has no role is "not found", as when minting.
    let asked = body.tenant.clone();
    if let Some(t) = asked.as_deref()
        && caller.role_in(t).is_some()
        && !api_tenants.iter().any(|(name, _)| *name == t)
    {
        return Err(api_role_required(&caller, &state, Some(t)).await);
    }
    let tenant = choose_write_tenant(&api_tenants, state.tenants.several(), asked.as_deref())
        .map_err(|refusal| match refusal {
            TenantRefusal::Required => {
                let mut names: Vec<&str> = api_tenants.iter().map(|(t, _)| *t).collect();
                names.sort_unstable();
                ApiError::new(
                    ErrorCode::TenantRequired,
                    format!(
                        "{} holds the REST API role in several tenants: name the one the API \
                         token acts in (--tenant NAME); yours: {}",
                        caller.user,
                        names.join(", ")
                    ),
                )
            }
            TenantRefusal::Unknown(t) => {
                ApiError::new(ErrorCode::NotFound, format!("no tenant {t:?}"))
            }
        })?;
    let (record, secret) = domain::api_tokens::issue(body, &caller.user, &tenant, &state.key, now)?;
    let name = record.token.name.clone();
    let stored = blocking(&state, move |s| s.create_api_token(record))
        .await
        .map_err(|e| match e.code {
            // Taken among the caller's own API tokens (the store's wording is for enrollment
            // tokens).
            ErrorCode::NameTaken => ApiError::new(
                ErrorCode::NameTaken,
                format!("you already have an API token named {name:?}"),
            ),
            _ => e,
        })?;
    let answer = CreateApiTokenResponse {
        api_token: stored.token.clone(),
        secret: secret.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(&answer)).into_response())
}

/// `DELETE /v1/api-tokens/{id-or-name}`: the caller's own (admins: any of their tenants');
/// stops working at once.
async fn delete_api_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ApiToken>, ApiError> {
    let key = path_id(id)?;
    let (k, me, who) = (key.clone(), caller.user.clone(), caller.clone());
    let found = blocking(&state, move |s| {
        let mut visible = s.list_api_tokens(None)?;
        visible.retain(|r| sees(&who, &r.token));
        // By id; by name only among the caller's own tokens (names are unique per user).
        let by_id = visible.iter().find(|r| r.token.id == k);
        let by_name = || {
            visible
                .iter()
                .find(|r| r.token.name == k && r.token.user == me)
        };
        Ok(by_id.or_else(by_name).cloned())
    })
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no API token {key:?}")))?;
    let now = state.clock.now();
    let actor = caller.user.clone();
    let gone = blocking(&state, move |s| {
        s.delete_api_token(&found.token.id, &actor, now)
    })
    .await?;
    Ok(Json(gone.token))
}
