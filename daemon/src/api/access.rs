//! Who is calling and what they may do. Over the Unix socket the caller is the peer's user
//! (SO_PEERCRED, on every connection); over the HTTPS admin listener it is the user of a personal
//! API token (`gpa_…`). Roles come from `[access]` in the config; the daemon's own user and root
//! are admins; anyone else without a role is refused. Every refusal is audited.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gatepass_protocol::ErrorCode;
use gatepass_protocol::token::{self, TokenKind};

use super::{ApiError, Peer, State, blocking};
use crate::domain::AuditDraft;

pub use gatepass_protocol::Role;

/// The authenticated caller of an admin request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub uid: Option<u32>,
    pub role: Role,
    /// The API token used, when the call came over HTTPS.
    pub api_token: Option<String>,
    /// `METHOD /path`, for denial records.
    pub request: String,
}

impl Caller {
    /// Admins and auditors see every token; operators their own.
    pub fn sees_all(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Auditor)
    }

    pub fn may_see(&self, owner: &str) -> bool {
        self.sees_all() || owner == self.user
    }

    /// Refuses auditors (403, audited).
    pub async fn require_write(&self, state: &Arc<State>) -> Result<(), ApiError> {
        if self.role == Role::Auditor {
            return Err(self.deny(state, "auditors have read-only access").await);
        }
        Ok(())
    }

    /// Refuses operators (403, audited): for log-wide reads such as metrics or verification.
    pub async fn require_overview(&self, state: &Arc<State>) -> Result<(), ApiError> {
        if self.role == Role::Operator {
            return Err(self
                .deny(state, "this needs the admin or auditor role")
                .await);
        }
        Ok(())
    }

    pub async fn deny(&self, state: &Arc<State>, reason: &str) -> ApiError {
        audit_denial(state, &self.user, &self.request, reason).await;
        ApiError::new(
            ErrorCode::Forbidden,
            format!("{} ({}): {reason}", self.user, self.role.as_str()),
        )
    }
}

/// The role of a user name (and uid, over the socket).
pub fn role_of(state: &State, uid: Option<u32>, user: &str) -> Option<Role> {
    let a = &state.config.access;
    if uid.is_some_and(|u| u == 0 || u == state.daemon_uid)
        || user == "root"
        || user == state.daemon_user
    {
        return Some(Role::Admin);
    }
    let has = |list: &[String]| list.iter().any(|u| u == user);
    if has(&a.admins) {
        Some(Role::Admin)
    } else if has(&a.operators) {
        Some(Role::Operator)
    } else if has(&a.auditors) {
        Some(Role::Auditor)
    } else {
        None
    }
}

async fn audit_denial(state: &Arc<State>, actor: &str, request: &str, reason: &str) {
    let mut details = BTreeMap::new();
    details.insert("request".to_string(), request.to_string());
    details.insert("reason".to_string(), reason.to_string());
    let draft = AuditDraft {
        at: state.clock.now(),
        actor: actor.to_owned(),
        action: gatepass_protocol::AuditAction::Denied,
        target: String::new(),
        target_name: None,
        details,
    };
    if let Err(e) = blocking(state, move |s| s.append_audit(draft)).await {
        tracing::error!(error = ?e, "could not audit a denial");
    }
}

impl FromRequestParts<Arc<State>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        let request = format!("{} {}", parts.method, parts.uri.path());
        match parts.extensions.get::<Peer>().cloned() {
            Some(Peer::Unix { uid, user }) => {
                // Enrollment tokens open the redeem endpoint and nothing else; the socket needs none.
                if parts.headers.contains_key(header::AUTHORIZATION) {
                    audit_denial(state, &user, &request, "bearer token on the admin socket").await;
                    return Err(ApiError::unauthorized());
                }
                match role_of(state, Some(uid), &user) {
                    Some(role) => Ok(Caller {
                        user,
                        uid: Some(uid),
                        role,
                        api_token: None,
                        request,
                    }),
                    None => {
                        audit_denial(state, &user, &request, "no role").await;
                        Err(ApiError::new(
                            ErrorCode::Forbidden,
                            format!(
                                "{user} has no role on this daemon: an admin must add \"{user}\" to access.operators (or admins, auditors) in its gatepassd.toml"
                            ),
                        ))
                    }
                }
            }
            Some(Peer::Tcp { addr }) => api_token_caller(parts, state, addr, request).await,
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// The host part of a Referer URL.
fn referer_host(referer: &str) -> Option<String> {
    let rest = referer.split_once("://").map_or(referer, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

async fn api_token_caller(
    parts: &Parts,
    state: &Arc<State>,
    addr: SocketAddr,
    request: String,
) -> Result<Caller, ApiError> {
    let presented = super::bearer(&parts.headers);
    let actor = |who: &str| format!("api:{who}@{}", addr.ip());
    let Ok(parsed) = token::parse_kind(presented, TokenKind::Api) else {
        audit_denial(
            state,
            &actor("?"),
            &request,
            "missing or malformed API token",
        )
        .await;
        return Err(ApiError::unauthorized());
    };
    let id = parsed.id().to_owned();
    let hash = crate::model::hex(&state.key.hash(parsed.expose()));
    drop(parsed);
    let lookup = id.clone();
    let rec = blocking(state, move |s| s.get_api_token(&lookup)).await?;
    let now = state.clock.now();
    let refusal = match &rec {
        None => Some("unknown API token"),
        Some(r) if !crate::secrets::hash_eq(hash.as_bytes(), r.secret_hash.as_bytes()) => {
            Some("wrong secret")
        }
        Some(r) if now >= r.token.expires_at => Some("API token expired"),
        Some(r)
            if r.token
                .path_prefix
                .as_ref()
                .is_some_and(|p| !parts.uri.path().starts_with(p.as_str())) =>
        {
            Some("path outside the API token's restriction")
        }
        Some(r) => match &r.token.referrer {
            Some(want) => {
                let host = parts
                    .headers
                    .get(header::REFERER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(referer_host);
                (!host.is_some_and(|h| crate::domain::api_tokens::referrer_allows(want, &h)))
                    .then_some("referrer outside the API token's restriction")
            }
            None => None,
        },
    };
    if let Some(reason) = refusal {
        audit_denial(state, &actor(&id), &request, reason).await;
        return Err(ApiError::unauthorized());
    }
    let Some(rec) = rec else {
        return Err(ApiError::unauthorized());
    };
    let user = rec.token.user;
    match role_of(state, None, &user) {
        Some(role) => Ok(Caller {
            user,
            uid: None,
            role,
            api_token: Some(id),
            request,
        }),
        None => {
            audit_denial(state, &user, &request, "no role").await;
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("{user} has no role on this daemon"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referer_hosts_are_extracted() {
        assert_eq!(
            referer_host("https://ci.example.org/job/1").as_deref(),
            Some("ci.example.org")
        );
        assert_eq!(
            referer_host("https://u:p@Example.org:8443/x").as_deref(),
            Some("example.org")
        );
        assert_eq!(referer_host("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(referer_host("").as_deref(), None);
    }
}
