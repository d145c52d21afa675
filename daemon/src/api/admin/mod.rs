//! The admin API (the Unix socket, and the optional HTTPS admin listener), one module per
//! resource: `tokens`, `hosts`, `audit`, `api_tokens`, `events`, `tenants`, and `ops` (health,
//! metrics, backup). Every change is audited under the caller's name; what a caller sees and may change
//! follows their role (`api::access`).
//!
//! Every endpoint is added through `Routes`, which records its method and path as it routes it:
//! `endpoints()` is the list the in-process tests (`tests.rs`) hold against their role ×
//! endpoint table, so an endpoint cannot be added without a row there.

mod api_tokens;
mod audit;
mod events;
mod hosts;
mod ops;
mod tenants;
#[cfg(test)]
mod tests;
mod tokens;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State as S};
use axum::handler::Handler;
use axum::routing::{MethodRouter, delete, get, patch, post};
use gatepass_protocol::token;
use gatepass_protocol::{ErrorCode, WhoAmI};

use super::access::Caller;
use super::{ApiError, State, blocking};
use crate::domain::TokenRecord;

pub use ops::{BACKUP_TYPE, healthz};
pub use tokens::join_command;

/// An HTTP method an admin endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// One admin endpoint: a method on a path (axum's form, `{id}` for a parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub verb: Verb,
    pub path: &'static str,
}

/// The admin router being built, and the endpoints it has been given so far.
pub(crate) struct Routes {
    router: Router<Arc<State>>,
    endpoints: Vec<Endpoint>,
}

impl Routes {
    fn new() -> Routes {
        Routes {
            router: Router::new(),
            endpoints: Vec::new(),
        }
    }

    /// Routes `verb path` to `handler` and records the endpoint.
    fn add<H, T>(mut self, verb: Verb, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, Arc<State>>,
        T: 'static,
    {
        let method: MethodRouter<Arc<State>> = match verb {
            Verb::Get => get(handler),
            Verb::Post => post(handler),
            Verb::Patch => patch(handler),
            Verb::Delete => delete(handler),
        };
        self.router = self.router.route(path, method);
        self.endpoints.push(Endpoint { verb, path });
        self
    }
}

fn build() -> Routes {
    let r = Routes::new().add(Verb::Get, "/v1/whoami", whoami);
    let r = tokens::routes(r);
    let r = hosts::routes(r);
    let r = api_tokens::routes(r);
    let r = audit::routes(r);
    let r = events::routes(r);
    let r = tenants::routes(r);
    ops::routes(r)
}

/// The admin router, without its state and fallbacks (`api::admin_router` adds them).
pub fn routes() -> Router<Arc<State>> {
    build().router
}

/// Every endpoint `routes` answers, in the order they were added.
pub fn endpoints() -> Vec<Endpoint> {
    build().endpoints
}

fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|e| ApiError::bad(e.body_text()))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad(e.body_text()))
}

/// Finds a live token the caller may see: by id, by the form lists show it in (`gpt_<id>…`),
/// else by name (names never take either form, so neither can stand in for another token). A
/// whole token pasted in is looked up by its id alone, and never echoed. Others' tokens are
/// "not found" for operators, so their existence does not leak.
async fn resolve(
    state: &Arc<State>,
    caller: &Caller,
    id_or_name: &str,
) -> Result<TokenRecord, ApiError> {
    let (key, asked) = match token::parse(id_or_name) {
        Ok(whole) => (whole.id().to_owned(), format!("with id {:?}", whole.id())),
        Err(_) => (
            id_or_name.to_owned(),
            format!("named or with id {id_or_name:?}"),
        ),
    };
    let found = blocking(state, move |s| {
        let id = token::id_in_display_form(&key).unwrap_or(&key);
        if token::looks_like_id(id)
            && let Some(t) = s.get_token(id)?
        {
            return Ok(Some(t));
        }
        match s.token_id_by_name(&key)? {
            Some(id) => s.get_token(&id),
            None => Ok(None),
        }
    })
    .await?;
    found
        .filter(|t| caller.may_see(&t.tenant, &t.owner))
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no token {asked}")))
}

/// `GET /v1/whoami`: the caller's name and role, and what a client needs to know of the daemon.
async fn whoami(caller: Caller, S(state): S<Arc<State>>) -> Json<WhoAmI> {
    Json(WhoAmI {
        user: caller.user.clone(),
        uid: caller.uid,
        role: caller.role,
        daemon_version: env!("CARGO_PKG_VERSION").into(),
        redeem_url: state.redeem_url.clone(),
        ca_pin: state.ca.pin.clone(),
        default_ttl_seconds: state.config.tokens.default_ttl.0,
        allow_no_expiry: state.config.lifetime_policy().allow_no_expiry,
    })
}
