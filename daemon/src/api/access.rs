//! Who is calling and what they may do. Over the Unix socket the caller is the peer's user
//! (SO_PEERCRED, on every connection); over the HTTPS admin listener it is the user of a personal
//! API token (`gpa_…`). Roles come from `[access]` in the config; the daemon's own user and root
//! are admins; anyone else without a role is refused. An API token acts in the one tenant it was
//! made in, and only while its user holds the REST API role there (checked on every use). Every
//! refusal is audited, in the tenant it happened in (`Caller::denial_tenant`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gatepass_protocol::token::{self, TokenKind};
use gatepass_protocol::{DEFAULT_TENANT, ErrorCode, Timestamp};

use super::{ApiError, Peer, State, blocking};
use crate::domain::AuditDraft;
use crate::domain::tenants::TenantRefusal;

pub use gatepass_protocol::Role;

/// The authenticated caller of an admin request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub uid: Option<u32>,
    /// The strongest role the caller holds in any tenant.
    pub role: Role,
    /// The tenants the caller has a role in, with their role there (root and the daemon's
    /// own user: admins of every tenant).
    pub tenants: Vec<(String, Role)>,
    /// The role the caller holds in every tenant (`[access]`; admin for root and the daemon's
    /// own user), if any.
    pub global: Option<Role>,
    /// The API token used, when the call came over HTTPS.
    pub api_token: Option<ApiTokenUse>,
    /// `METHOD /path`, for denial records: the path as `api::shown_path` shows it (decoded,
    /// every token in it cut to its id).
    pub request: String,
}

/// The API token a call over HTTPS came with.
#[derive(Debug, Clone)]
pub struct ApiTokenUse {
    pub id: String,
    /// The one tenant it acts in.
    pub tenant: String,
    pub expires_at: Timestamp,
}

impl Caller {
    /// The caller's role in `tenant`.
    pub fn role_in(&self, tenant: &str) -> Option<Role> {
        self.tenants
            .iter()
            .find(|(t, _)| t == tenant)
            .map(|(_, r)| *r)
    }

    /// Whether the caller sees all of `tenant` (an admin or auditor there).
    pub fn sees_tenant(&self, tenant: &str) -> bool {
        matches!(self.role_in(tenant), Some(Role::Admin | Role::Auditor))
    }

    /// Whether the caller sees every tenant whole: a global admin or auditor.
    pub fn sees_all(&self) -> bool {
        matches!(self.global, Some(Role::Admin | Role::Auditor))
    }

    /// Whether the caller sees an object of `tenant` whose hosts belong to `owner`: admins
    /// and auditors of the tenant see all of it, its operators what they own, everyone else
    /// nothing (it is "not found" to them).
    pub fn may_see(&self, tenant: &str, owner: &str) -> bool {
        match self.role_in(tenant) {
            Some(Role::Admin | Role::Auditor) => true,
            Some(Role::Operator) => owner == self.user,
            None => false,
        }
    }

    /// Refuses a change in `tenant` to a caller who is only an auditor there (403, audited).
    pub async fn require_write(&self, state: &Arc<State>, tenant: &str) -> Result<(), ApiError> {
        if !matches!(self.role_in(tenant), Some(Role::Admin | Role::Operator)) {
            return Err(self
                .deny_in(
                    state,
                    tenant,
                    &format!("read-only access in tenant {tenant:?}"),
                )
                .await);
        }
        Ok(())
    }

    /// Refuses a caller who is an admin or auditor nowhere (403, audited): for reads over a
    /// tenant's whole log, such as metrics or verification.
    pub async fn require_overview(&self, state: &Arc<State>) -> Result<(), ApiError> {
        if !self.tenants.iter().any(|(t, _)| self.sees_tenant(t)) {
            return Err(self
                .deny(state, "this needs the admin or auditor role")
                .await);
        }
        Ok(())
    }

    /// Refuses anyone but an admin of every tenant (403, audited): for what holds every
    /// tenant's data at once, such as a backup.
    pub async fn require_global_admin(
        &self,
        state: &Arc<State>,
        what: &str,
    ) -> Result<(), ApiError> {
        if self.global != Some(Role::Admin) {
            return Err(self
                .deny(state, &format!("only admins of every tenant may {what}"))
                .await);
        }
        Ok(())
    }

    /// The tenant a write of the caller happens in: the one `asked` for (where they must have
    /// a role: another is "not found"), else their only one (`domain::tenants`).
    pub fn write_tenant(&self, state: &State, asked: Option<&str>) -> Result<String, ApiError> {
        let mine: Vec<(&str, Role)> = self.tenants.iter().map(|(t, r)| (t.as_str(), *r)).collect();
        crate::domain::tenants::choose_write_tenant(&mine, state.tenants.several(), asked).map_err(
            |refusal| match refusal {
                TenantRefusal::Required => ApiError::new(
                    ErrorCode::TenantRequired,
                    format!(
                        "{} has a role in several tenants: name the one to act in (--tenant \
                         NAME); yours: {}",
                        self.user,
                        self.tenant_names().join(", ")
                    ),
                ),
                TenantRefusal::Unknown(t) => no_tenant(&t),
            },
        )
    }

    /// The names of the caller's tenants, sorted.
    pub fn tenant_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tenants.iter().map(|(t, _)| t.as_str()).collect();
        names.sort_unstable();
        names
    }

    /// Checks a `tenant` filter of a read: a tenant the caller has a role in, else the answer a
    /// tenant that does not exist gets (404 `no tenant "T"`: whether it exists is not revealed).
    pub fn check_tenant(&self, asked: Option<&str>) -> Result<(), ApiError> {
        match asked {
            Some(t) if self.role_in(t).is_none() => Err(no_tenant(t)),
            _ => Ok(()),
        }
    }

    /// Refuses the request (403), audited in the tenant it acted in as far as that is known
    /// (`denial_tenant`).
    pub async fn deny(&self, state: &Arc<State>, reason: &str) -> ApiError {
        self.deny_in_tenant(state, self.denial_tenant(None), reason)
            .await
    }

    /// `deny`, for a request that acted in `tenant` (the tenant of the object it named, or the
    /// one it wrote in).
    pub async fn deny_in(&self, state: &Arc<State>, tenant: &str, reason: &str) -> ApiError {
        self.deny_in_tenant(state, self.denial_tenant(Some(tenant)), reason)
            .await
    }

    async fn deny_in_tenant(&self, state: &Arc<State>, tenant: String, reason: &str) -> ApiError {
        audit_denial(state, &self.user, &self.request, reason, tenant).await;
        ApiError::new(
            ErrorCode::Forbidden,
            format!("{} ({}): {reason}", self.user, self.role.as_str()),
        )
    }

    /// The tenant a denial of this caller is filed under, so that its admins and auditors read
    /// of it and no other tenant's do: the one the request acted in (`acted_in`, else the API
    /// token's), else where the caller's roles place them (`file_under`).
    pub fn denial_tenant(&self, acted_in: Option<&str>) -> String {
        match (acted_in, &self.api_token) {
            (Some(t), _) => t.to_owned(),
            (None, Some(api)) => api.tenant.clone(),
            (None, None) => file_under(&self.tenants),
        }
    }
}

/// Where an event of a user with roles in `tenants` is filed when no tenant of the request is
/// known: their only tenant; else `default` when they have a role there (or none anywhere);
/// else the first of theirs by name. Never a tenant they have no role in.
pub fn file_under(tenants: &[(String, Role)]) -> String {
    match tenants {
        [(only, _)] => only.clone(),
        _ if tenants.is_empty() || tenants.iter().any(|(t, _)| t == DEFAULT_TENANT) => {
            DEFAULT_TENANT.to_owned()
        }
        _ => tenants
            .iter()
            .map(|(t, _)| t)
            .min()
            .map_or_else(|| DEFAULT_TENANT.to_owned(), Clone::clone),
    }
}

/// The one answer to a tenant the caller may not name, whether or not it exists (404).
pub fn no_tenant(tenant: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no tenant {tenant:?}"))
}

/// A user's roles: the strongest anywhere, their role in each tenant, and the one they hold in
/// every tenant.
#[derive(Debug, Clone)]
pub struct Access {
    pub role: Role,
    pub tenants: Vec<(String, Role)>,
    pub global: Option<Role>,
}

/// The role of a user name (and uid, over the socket): the strongest they hold anywhere, and
/// their role in each tenant. `None`: no role in any tenant.
pub fn role_of(state: &State, uid: Option<u32>, user: &str) -> Option<Access> {
    let implicit = (uid.is_some_and(|u| u == 0 || u == state.daemon_uid)
        || is_daemon_admin(state, user))
    .then_some(Role::Admin);
    let global = implicit.or_else(|| state.tenants.global_role(user));
    let tenants: Vec<(String, Role)> = state
        .tenants
        .tenants_with(user, implicit)
        .into_iter()
        .map(|(t, r)| (t.to_owned(), r))
        .collect();
    let role = state
        .tenants
        .strongest_of(tenants.iter().map(|(_, r)| *r))?;
    Some(Access {
        role,
        tenants,
        global,
    })
}

/// Whether `user` is an admin by being root or the daemon's own user (by name: over HTTPS
/// there is no uid).
pub fn is_daemon_admin(state: &State, user: &str) -> bool {
    user == "root" || user == state.daemon_user
}

async fn audit_denial(
    state: &Arc<State>,
    actor: &str,
    request: &str,
    reason: &str,
    tenant: String,
) {
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
        tenant,
    };
    if let Err(e) = blocking(state, move |s| s.append_audit(draft)).await {
        tracing::error!(error = ?e, "could not audit a denial");
    }
}

impl FromRequestParts<Arc<State>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        let request = format!("{} {}", parts.method, super::shown_path(parts.uri.path()));
        match parts.extensions.get::<Peer>().cloned() {
            Some(Peer::Unix { uid, user }) => {
                // Enrollment tokens open the redeem endpoint and nothing else; the socket needs none.
                if parts.headers.contains_key(header::AUTHORIZATION) {
                    let tenant = role_of(state, Some(uid), &user)
                        .map_or_else(gatepass_protocol::default_tenant, |a| {
                            file_under(&a.tenants)
                        });
                    let reason = "bearer token on the admin socket";
                    audit_denial(state, &user, &request, reason, tenant).await;
                    return Err(ApiError::unauthorized());
                }
                match role_of(state, Some(uid), &user) {
                    Some(Access {
                        role,
                        tenants,
                        global,
                    }) => Ok(Caller {
                        user,
                        uid: Some(uid),
                        role,
                        tenants,
                        global,
                        api_token: None,
                        request,
                    }),
                    None => {
                        let tenant = gatepass_protocol::default_tenant();
                        audit_denial(state, &user, &request, "no role", tenant).await;
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

/// The host of a Referer URL as a browser reads it (the WHATWG URL standard): in the special
/// schemes (`http`, `https`, `ws`, `wss`, `ftp`) a backslash is a path separator as `/` is and
/// any run of either may follow the scheme, the host is what follows the last `@` of the
/// authority, percent-decoded. No scheme, no host; nor a host that is not a domain's letters,
/// digits, `-`, `.` and `_` (or an IPv6 address in brackets).
fn referer_host(referer: &str) -> Option<String> {
    let url: String = referer
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let (scheme, rest) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid {
        return None;
    }
    let special = ["http", "https", "ws", "wss", "ftp"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s));
    let authority = if special {
        rest.trim_start_matches(['/', '\\'])
            .split(['/', '\\', '?', '#'])
            .next()?
    } else {
        rest.strip_prefix("//")?.split(['/', '?', '#']).next()?
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(bracketed) = host.strip_prefix('[') {
        let (v6, _) = bracketed.split_once(']')?;
        return v6.parse::<std::net::Ipv6Addr>().ok().map(|a| a.to_string());
    }
    let host = host.split(':').next()?;
    let host = percent_encoding::percent_decode_str(host)
        .decode_utf8()
        .ok()?;
    let domain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    domain.then(|| host.to_ascii_lowercase())
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
            gatepass_protocol::default_tenant(),
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
    // Unknown, wrong, expired: 401, one answer for all. A good token used outside its
    // restrictions: 403 saying which.
    let refusal = match &rec {
        None => Some("unknown API token"),
        Some(r) if !crate::secrets::hash_eq(hash.as_bytes(), r.secret_hash.as_bytes()) => {
            Some("wrong secret")
        }
        Some(r) if now >= r.token.expires_at => Some("API token expired"),
        Some(_) => None,
    };
    if let Some(reason) = refusal {
        // A wrong secret or an expired token is filed in its tenant: its admins read of
        // attempts on it. An unknown one belongs to no tenant.
        let tenant = rec
            .as_ref()
            .map_or_else(gatepass_protocol::default_tenant, |r| {
                r.token.tenant.clone()
            });
        audit_denial(state, &actor(&id), &request, reason, tenant).await;
        return Err(ApiError::unauthorized());
    }
    let Some(rec) = rec else {
        return Err(ApiError::unauthorized());
    };
    let path = parts.uri.path();
    let outside = if let Some(p) = rec
        .token
        .path_prefix
        .as_ref()
        .filter(|p| !path.starts_with(p.as_str()))
    {
        Some((
            ErrorCode::PathDenied,
            format!("this API token is valid only for paths under {p}"),
        ))
    } else if let Some(want) = rec.token.referrer.as_ref().filter(|want| {
        let host = parts
            .headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(referer_host);
        !host.is_some_and(|h| crate::domain::api_tokens::referrer_allows(want, &h))
    }) {
        Some((
            ErrorCode::ReferrerDenied,
            format!("this API token is valid only for Referer hosts under {want}"),
        ))
    } else if !rec.token.scope.allows(parts.method.as_str(), path) {
        Some((
            ErrorCode::ScopeDenied,
            format!(
                "this API token's scope is {}: it does not allow {request}",
                rec.token.scope.as_str()
            ),
        ))
    } else {
        None
    };
    let tenant = rec.token.tenant.clone();
    if let Some((code, message)) = outside {
        audit_denial(state, &actor(&id), &request, &message, tenant).await;
        return Err(ApiError::new(code, message));
    }
    let user = rec.token.user;
    let Some(access) = role_of(state, None, &user) else {
        audit_denial(state, &user, &request, "no role", tenant).await;
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("{user} has no role on this daemon"),
        ));
    };
    // The REST API role, on every use: the token acts in its own tenant alone, as its user's
    // role there, and only while the user is an API user there (in the tenant, or in
    // `[access]`).
    let role = access
        .tenants
        .iter()
        .find(|(t, _)| *t == tenant)
        .map(|(_, r)| *r)
        .filter(|_| state.tenants.is_api_user_in(&user, &tenant));
    let Some(role) = role else {
        let reason = format!("no REST API role (api_users) in tenant {tenant:?}");
        audit_denial(state, &user, &request, &reason, tenant.clone()).await;
        return Err(ApiError::new(
            ErrorCode::ApiRoleRequired,
            format!(
                "{user} does not hold the REST API role in tenant {tenant:?}, where this API \
                 token acts: an admin must add \"{user}\" to api_users (in [access] or \
                 [tenants.{tenant}]) in gatepassd.toml"
            ),
        ));
    };
    // Where its tenant is the only one, a role in every tenant still is one.
    let global = access.global.filter(|_| !state.tenants.several());
    Ok(Caller {
        user,
        uid: None,
        role,
        tenants: vec![(tenant.clone(), role)],
        global,
        api_token: Some(ApiTokenUse {
            id,
            tenant,
            expires_at: rec.token.expires_at,
        }),
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host a browser reads (the WHATWG URL standard): in the special schemes a backslash
    /// is a path separator as `/` is, and any run of either may follow the scheme.
    #[test]
    fn a_referers_host_is_the_one_a_browser_reads() {
        for (referer, host) in [
            ("https://evil.net\\@example.com/", Some("evil.net")),
            ("https:\\\\evil.net\\@example.com/", Some("evil.net")),
            ("https://evil.net\\.example.com/", Some("evil.net")),
            ("https:/\\Example.com\\x", Some("example.com")),
            ("https:example.com", Some("example.com")),
            ("HTTPS://a.Example.COM?x#y", Some("a.example.com")),
            ("https://example%2Ecom/", Some("example.com")),
            ("https://evil.net%2F.example.com/", None),
            (" https://exa\tmple.com/ ", Some("example.com")),
            ("android-app://com.example/x", Some("com.example")),
            ("foo:\\\\example.com\\", None),
            ("example.com/x", None),
            ("https:///", None),
        ] {
            assert_eq!(referer_host(referer).as_deref(), host, "{referer}");
        }
    }

    #[test]
    fn an_event_without_a_tenant_is_filed_under_one_of_the_callers() {
        let t = |names: &[&str]| -> Vec<(String, Role)> {
            names
                .iter()
                .map(|n| ((*n).to_owned(), Role::Operator))
                .collect()
        };
        assert_eq!(file_under(&t(&[])), "default");
        assert_eq!(file_under(&t(&["globex"])), "globex");
        assert_eq!(file_under(&t(&["acme", "default", "globex"])), "default");
        assert_eq!(file_under(&t(&["globex", "acme2", "acme"])), "acme");
    }

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
