//! Operating the daemon: `/healthz` (also on the redeem listener), `/metrics` and `/v1/backup`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State as S;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{Routes, Verb};
use crate::api::access::Caller;
use crate::api::{ApiError, State, blocking};
use crate::domain;

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/backup", backup)
        .add(Verb::Get, "/healthz", healthz)
        .add(Verb::Get, "/metrics", metrics)
}

/// The media type of a backup: a redb file that `gatepassd restore` makes a store of.
pub const BACKUP_TYPE: &str = "application/vnd.gatepass.backup";

/// `GET /v1/backup` (admins): a consistent snapshot of the store, written to a private file in
/// the data folder, sent, and removed. Audited as `backup_taken`.
async fn backup(caller: Caller, S(state): S<Arc<State>>) -> Result<Response, ApiError> {
    // A backup holds every tenant's data.
    caller.require_global_admin(&state, "take a backup").await?;
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
        tenant: gatepass_protocol::default_tenant(),
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
pub async fn healthz(S(state): S<Arc<State>>) -> Result<&'static str, ApiError> {
    blocking(&state, |s| s.health()).await?;
    Ok("ok\n")
}

/// `GET /metrics` (admins and auditors, over the socket or with an API token of theirs; the
/// `read` scope is enough): the scrape (`api::health::scrape_for`), its token counts limited to
/// the tenants the caller sees whole. Where several tenants exist, the series that count every
/// tenant's activity (redemptions, requests, the store's, the process's) are only for those who
/// see every tenant.
async fn metrics(caller: Caller, S(state): S<Arc<State>>) -> Result<Response, ApiError> {
    caller.require_overview(&state).await?;
    let limited = state.tenants.several() && !caller.sees_all();
    let sees: crate::api::health::Sees = if caller.sees_all() {
        Arc::new(|_| true)
    } else {
        Arc::new(move |tenant| caller.sees_tenant(tenant))
    };
    Ok(crate::api::health::metrics_answer(
        crate::api::health::scrape_for(&state, sees, limited).await,
    ))
}
