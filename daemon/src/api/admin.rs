//! The admin API (the Unix socket, and the optional HTTPS admin listener): tokens, hosts,
//! audit, events, API tokens, health and metrics. Every change is audited under the caller's
//! name; what a caller sees and may change follows their role (`api::access`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State as S};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use gatepass_protocol::binary;
use gatepass_protocol::token;
use gatepass_protocol::{
    ApiToken, AuditQuery, ChangeEvent, ChangeKind, CreateApiTokenRequest, CreateApiTokenResponse,
    CreateTokenRequest, CreateTokenResponse, ErrorCode, Host, HostQuery, PatchTokenRequest,
    SortColumn, Token, TokenKeys, TokenQuery, WhoAmI,
};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::access::{Caller, Role};
use super::{ApiError, State, blocking, read_json};
use crate::domain::{self, TokenChange, TokenRecord};
use crate::error::StoreError;

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route(
            "/v1/tokens/{id}",
            get(show_token).patch(patch_token).delete(delete_token),
        )
        .route("/v1/tokens/{id}/revoke", post(revoke_token))
        .route("/v1/tokens/{id}/hosts", get(token_hosts))
        .route("/v1/hosts", get(list_hosts))
        .route("/v1/hosts/{id}", axum::routing::delete(remove_host))
        .route(
            "/v1/api-tokens",
            get(list_api_tokens).post(create_api_token),
        )
        .route(
            "/v1/api-tokens/{id}",
            axum::routing::delete(delete_api_token),
        )
        .route("/v1/audit", get(audit))
        .route("/v1/audit/verify", get(audit_verify))
        .route("/v1/events", get(events))
        .route("/v1/backup", get(backup))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
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
        .filter(|t| caller.may_see(&t.owner))
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no token {asked}")))
}

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
    let mut q = query(q)?;
    if !caller.sees_all() {
        if q.owner.as_ref().is_some_and(|o| *o != caller.user) {
            return Ok(Json(Vec::<Token>::new()).into_response());
        }
        q.owner = Some(caller.user.clone());
    }
    let now = state.clock.now();
    // Decoding, sorting and encoding a large list is CPU work: off the async workers, with the
    // answer written into one buffer sized up front.
    let col = q.sort.unwrap_or(SortColumn::Created);
    let body = blocking(&state, move |s| {
        if binary {
            // Straight from the stored bytes: the records are already in the list's form.
            let list = s.token_list(now, col, &|k| matches(k, &q))?;
            let large = list.len() >= 10_000;
            let body = list
                .finish(q.desc)
                .map_err(|e| StoreError::Damaged(format!("a token list: {e}")))?;
            return Ok((body, Vec::new(), large));
        }
        let mut tokens: Vec<Token> = s
            .list_tokens()?
            .into_iter()
            .map(|r| r.into_view(now))
            .filter(|t| matches(&t.keys(), &q))
            .collect();
        tokens.sort_unstable_by(|a, b| col.compare(a, b));
        if q.desc {
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
    caller.require_write(&state).await?;
    let body: CreateTokenRequest = read_json(req, state.config.limits.admin_max_body).await?;
    // Rounded up: the lifetime counted from the creation time is at least what was asked.
    let now = state.clock.now_rounded_up();
    let owner = match body.owner.clone() {
        Some(o) if o != caller.user => {
            if caller.role != Role::Admin {
                return Err(caller
                    .deny(&state, "only admins may mint tokens for another owner")
                    .await);
            }
            o
        }
        _ => caller.user.clone(),
    };
    let minter = domain::tokens::Minter {
        user: &caller.user,
        owner,
    };
    let (record, secret) = domain::tokens::mint(
        body,
        minter,
        &state.key,
        state.config.lifetime_policy(),
        now,
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
    caller.require_write(&state).await?;
    let patch: PatchTokenRequest = read_json(req, state.config.limits.admin_max_body).await?;
    let rec = resolve(&state, &caller, &id).await?;
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
    caller.require_write(&state).await?;
    let rec = resolve(&state, &caller, &path_id(id)?).await?;
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
    caller.require_write(&state).await?;
    let rec = resolve(&state, &caller, &path_id(id)?).await?;
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

async fn list_hosts(
    caller: Caller,
    S(state): S<Arc<State>>,
    q: Result<Query<HostQuery>, QueryRejection>,
) -> Result<Json<Vec<Host>>, ApiError> {
    let q = query(q)?;
    let token_id = match q.token {
        Some(t) => Some(resolve(&state, &caller, &t).await?.id),
        None => None,
    };
    let hosts = blocking(&state, move |s| s.list_hosts(token_id.as_deref())).await?;
    Ok(Json(
        hosts
            .into_iter()
            .map(|h| h.host)
            .filter(|h| caller.may_see(&h.owner))
            .collect(),
    ))
}

async fn remove_host(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Host>, ApiError> {
    caller.require_write(&state).await?;
    let id = path_id(id)?;
    let not_found = || ApiError::new(ErrorCode::NotFound, format!("no host {id:?}"));
    let lookup = id.clone();
    let hosts = blocking(&state, move |s| s.list_hosts(None)).await?;
    let host = hosts
        .into_iter()
        .find(|h| h.host.id == lookup)
        .ok_or_else(not_found)?;
    if !caller.may_see(&host.host.owner) {
        return Err(not_found());
    }
    let now = state.clock.now();
    let user = caller.user.clone();
    let gone = blocking(&state, move |s| s.remove_host(&host.host.id, &user, now)).await?;
    Ok(Json(gone.host))
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

async fn events(caller: Caller, S(state): S<Arc<State>>) -> Result<Response, ApiError> {
    let mut shutdown = state.shutdown.clone();
    let subscribed = state.events.subscribe();
    // Batches begun before the subscription built no events (nobody listened): they are made
    // visible before the stream opens, so the list a client takes next holds them.
    blocking(&state, |s| s.sync()).await?;
    let stream = BroadcastStream::new(subscribed)
        .filter(move |item| {
            // Operators hear about their own tokens, hosts and actions only.
            let visible = match item {
                Ok(c) if !caller.sees_all() => {
                    c.token.as_ref().is_some_and(|t| t.owner == caller.user)
                        || c.host.as_ref().is_some_and(|h| h.owner == caller.user)
                        || c.audit.as_ref().is_some_and(|a| a.actor == caller.user)
                }
                _ => true,
            };
            std::future::ready(visible)
        })
        .map(|item| {
            let change = match item {
                Ok(c) => c,
                Err(BroadcastStreamRecvError::Lagged(_)) => ChangeEvent {
                    kind: ChangeKind::Resync,
                    token: None,
                    token_id: None,
                    host: None,
                    audit: None,
                },
            };
            let data = serde_json::to_string(&change).unwrap_or_else(|_| "{}".into());
            Ok::<_, Infallible>(Event::default().event(change.kind.as_str()).data(data))
        })
        .take_until(async move {
            crate::server::stopped(&mut shutdown).await;
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// `GET /v1/api-tokens`: the caller's own API tokens (admins: everyone's).
async fn list_api_tokens(
    caller: Caller,
    S(state): S<Arc<State>>,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    let user = (caller.role != Role::Admin).then(|| caller.user.clone());
    let list = blocking(&state, move |s| s.list_api_tokens(user.as_deref())).await?;
    Ok(Json(list.into_iter().map(|r| r.token).collect()))
}

/// `POST /v1/api-tokens`: a token for the caller alone, shown once.
async fn create_api_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    req: Request,
) -> Result<Response, ApiError> {
    let body: CreateApiTokenRequest = read_json(req, state.config.limits.admin_max_body).await?;
    let now = state.clock.now();
    let (record, secret) = domain::api_tokens::issue(body, &caller.user, &state.key, now)?;
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

/// `DELETE /v1/api-tokens/{id-or-name}`: the caller's own (admins: anyone's); stops working at once.
async fn delete_api_token(
    caller: Caller,
    S(state): S<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ApiToken>, ApiError> {
    let key = path_id(id)?;
    let user = (caller.role != Role::Admin).then(|| caller.user.clone());
    let (k, me) = (key.clone(), caller.user.clone());
    let found = blocking(&state, move |s| {
        let visible = s.list_api_tokens(user.as_deref())?;
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

/// The media type of a backup: a redb file that `gatepassd restore` makes a store of.
pub const BACKUP_TYPE: &str = "application/vnd.gatepass.backup";

/// `GET /v1/backup` (admins): a consistent snapshot of the store, written to a private file in
/// the data folder, sent, and removed. Audited as `backup_taken`.
async fn backup(caller: Caller, S(state): S<Arc<State>>) -> Result<Response, ApiError> {
    if caller.role != Role::Admin {
        return Err(caller.deny(&state, "only admins may take a backup").await);
    }
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(ApiError::internal)?;
    let path = state
        .config
        .data_dir()
        .join(format!(".backup-{}.redb", domain::model::hex(&nonce)));
    let file = path.clone();
    let taken = blocking(&state, move |s| {
        let info = s.backup(&file)?;
        // Opened, then unlinked: the snapshot is sent from the open file and leaves nothing
        // behind in the data folder, whatever happens to the connection.
        let opened = std::fs::File::open(&file)?;
        let len = opened.metadata()?.len();
        Ok((info, opened, len))
    })
    .await;
    let _ = std::fs::remove_file(&path);
    let (info, opened, len) = taken?;
    let mut details = BTreeMap::new();
    details.insert("tokens".to_string(), info.tokens.to_string());
    details.insert("hosts".to_string(), info.hosts.to_string());
    details.insert("events".to_string(), info.events.to_string());
    details.insert("bytes".to_string(), len.to_string());
    let draft = domain::AuditDraft {
        at: state.clock.now(),
        actor: caller.user.clone(),
        action: gatepass_protocol::AuditAction::BackupTaken,
        target: String::new(),
        target_name: None,
        details,
    };
    blocking(&state, move |s| s.append_audit(draft)).await?;
    let summary = serde_json::to_string(&info).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, BACKUP_TYPE.to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::HeaderName::from_static("x-gatepass-backup"),
                summary,
            ),
        ],
        axum::body::Body::from_stream(file_chunks(opened)),
    )
        .into_response())
}

/// A file's bytes, 1 MiB at a time, each read on the blocking pool.
fn file_chunks(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = vec![0u8; 1 << 20];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, file))
        })
        .await;
        match read {
            Ok(Ok((buf, _))) if buf.is_empty() => None,
            Ok(Ok((buf, file))) => Some((Ok(bytes::Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e)), None)),
        }
    })
}

/// `GET /healthz` (both listeners): 200 `ok` while the store can serve, else 503
/// `store_unavailable` saying why.
pub(super) async fn healthz(S(state): S<Arc<State>>) -> Result<&'static str, ApiError> {
    blocking(&state, |s| s.health()).await?;
    Ok("ok\n")
}

/// `GET /metrics`: the scrape (`api::health::scrape`). Over the HTTPS admin listener any valid
/// API token may read it (until API tokens have scopes); on the socket, admins and auditors.
async fn metrics(caller: Caller, S(state): S<Arc<State>>) -> Result<Response, ApiError> {
    if caller.api_token.is_none() {
        caller.require_overview(&state).await?;
    }
    Ok(super::health::metrics_answer(
        super::health::scrape(&state).await,
    ))
}
