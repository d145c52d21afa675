//! Personal API tokens (`gpa_…`, for the HTTPS admin listener): each user lists, creates and
//! deletes their own; admins list and delete anyone's.

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

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/api-tokens", list_api_tokens)
        .add(Verb::Post, "/v1/api-tokens", create_api_token)
        .add(Verb::Delete, "/v1/api-tokens/{id}", delete_api_token)
}

/// Whether `caller` sees API token `t`: their own, and every one of the tenants they are an
/// admin of.
fn sees(caller: &Caller, t: &ApiToken) -> bool {
    t.user == caller.user || caller.role_in(&t.tenant) == Some(Role::Admin)
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

/// `POST /v1/api-tokens`: a token for the caller alone, shown once; only for users with the
/// REST API role (403 `api_role_required`).
async fn create_api_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    req: Request,
) -> Result<Response, ApiError> {
    // The REST API role: only users assigned to it, administrators included.
    if !state.tenants.is_api_user(&caller.user) {
        let _ = caller.deny(&state, "no REST API role (api_users)").await;
        return Err(ApiError::new(
            ErrorCode::ApiRoleRequired,
            format!(
                "{user} may not create API tokens: only users with the REST API role may; an \
                 admin must add \"{user}\" to api_users (in [access] or a tenant) in gatepassd.toml",
                user = caller.user
            ),
        ));
    }
    let body: CreateApiTokenRequest = read_json(req, state.config.limits.admin_max_body).await?;
    let now = state.clock.now();
    // The caller's only tenant; a user of several (or a global one) holds it in `default`.
    let tenant = caller
        .write_tenant(&state, None)
        .unwrap_or_else(|_| gatepass_protocol::default_tenant());
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
