//! Reads of the redb engine, each over one snapshot (`ReadTransaction`): tokens, hosts, API
//! tokens, the audit log (by sequence or by target).

use ::redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};
use gatepass_protocol::{AuditEvent, AuditQuery};

use crate::domain::audit::AuditScope;

use super::tables::{
    ACTOR_PREFIX, API_TOKENS, AUDIT, AUDIT_ACTOR_INDEX_FROM, AUDIT_BY_TARGET, HOSTS, META, NAMES,
    TOKEN_HOSTS, TOKENS, get_json,
};
use crate::domain::{ApiTokenRecord, HostRecord, TokenRecord};
use crate::error::StoreError;
use crate::store::codec::decode_token;

const DEFAULT_AUDIT_LIMIT: usize = 1_000;
const MAX_AUDIT_LIMIT: usize = 100_000;

pub(super) fn token(r: &ReadTransaction, id: &str) -> Result<Option<TokenRecord>, StoreError> {
    let t = r.open_table(TOKENS)?;
    let v = t.get(id)?;
    v.map(|v| decode_token(v.value())).transpose()
}

pub(super) fn token_id_by_name(
    r: &ReadTransaction,
    name: &str,
) -> Result<Option<String>, StoreError> {
    Ok(r.open_table(NAMES)?
        .get(name)?
        .map(|v| v.value().to_owned()))
}

pub(super) fn tokens(r: &ReadTransaction) -> Result<Vec<TokenRecord>, StoreError> {
    let t = r.open_table(TOKENS)?;
    let mut out = Vec::with_capacity(t.len()? as usize);
    for item in t.iter()? {
        let (_, v) = item?;
        out.push(decode_token(v.value())?);
    }
    Ok(out)
}

/// Every host, or those of one token, in order of enrollment.
pub(super) fn hosts(
    r: &ReadTransaction,
    token_id: Option<&str>,
) -> Result<Vec<HostRecord>, StoreError> {
    let hosts = r.open_table(HOSTS)?;
    let mut out = Vec::new();
    match token_id {
        None => {
            for item in hosts.iter()? {
                out.push(get_json(item?.1.value())?);
            }
        }
        Some(tid) => {
            let start = format!("{tid}/");
            let end = format!("{tid}0"); // '0' follows '/' in ASCII
            for item in r
                .open_table(TOKEN_HOSTS)?
                .range(start.as_str()..end.as_str())?
            {
                let (k, _) = item?;
                let host_id = k.value().rsplit('/').next().unwrap_or_default().to_owned();
                if let Some(v) = hosts.get(host_id.as_str())? {
                    out.push(get_json(v.value())?);
                }
            }
        }
    }
    out.sort_by(|a: &HostRecord, b: &HostRecord| {
        a.host
            .enrolled_at
            .cmp(&b.host.enrolled_at)
            .then_with(|| a.host.id.cmp(&b.host.id))
    });
    Ok(out)
}

pub(super) fn api_token(
    r: &ReadTransaction,
    id: &str,
) -> Result<Option<ApiTokenRecord>, StoreError> {
    r.open_table(API_TOKENS)?
        .get(id)?
        .map(|v| get_json(v.value()))
        .transpose()
}

/// All API tokens, or those of one user, oldest first.
pub(super) fn api_tokens(
    r: &ReadTransaction,
    user: Option<&str>,
) -> Result<Vec<ApiTokenRecord>, StoreError> {
    let mut out: Vec<ApiTokenRecord> = Vec::new();
    for item in r.open_table(API_TOKENS)?.iter()? {
        let rec: ApiTokenRecord = get_json(item?.1.value())?;
        if user.is_none_or(|u| rec.token.user == u) {
            out.push(rec);
        }
    }
    out.sort_by(|a, b| {
        a.token
            .created_at
            .cmp(&b.token.created_at)
            .then_with(|| a.token.id.cmp(&b.token.id))
    });
    Ok(out)
}

/// The newest events matching `q` (up to its limit, above `after` and below `before`), oldest
/// first; with a `scope`, only those it admits. Every filter is applied while reading, newest
/// first, so the limit counts matching events only, whatever the log's size.
pub(super) fn audit(
    r: &ReadTransaction,
    q: &AuditQuery,
    scope: Option<&AuditScope>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let limit = q
        .limit
        .unwrap_or(DEFAULT_AUDIT_LIMIT)
        .clamp(1, MAX_AUDIT_LIMIT);
    let after = q.after.unwrap_or(0);
    let before = q.before.unwrap_or(u64::MAX);
    if before <= after.saturating_add(1) {
        return Ok(Vec::new());
    }
    let audit = r.open_table(AUDIT)?;
    let keep = |ev: &AuditEvent| {
        q.since.is_none_or(|s| ev.at >= s)
            && q.actor.as_ref().is_none_or(|a| &ev.actor == a)
            && scope.is_none_or(|s| s.admits(&ev.actor, &ev.target))
    };
    let mut out = Vec::new();
    match &q.token {
        Some(target) => {
            let start = format!("{target}/{:020}", after.saturating_add(1));
            let end = match q.before {
                Some(b) => format!("{target}/{b:020}"),
                None => format!("{target}0"),
            };
            for item in r
                .open_table(AUDIT_BY_TARGET)?
                .range(start.as_str()..end.as_str())?
                .rev()
            {
                let (k, _) = item?;
                let seq: u64 = k
                    .value()
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if let Some(v) = audit.get(seq)? {
                    let ev: AuditEvent = get_json(v.value())?;
                    if keep(&ev) {
                        out.push(ev);
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
            }
        }
        None => {
            let mut before = before;
            // A scope's events from the index: its actor's and its targets' entries, merged
            // newest first. Events older than the actor index (an older version's) are
            // scanned below.
            if let Some(scope) = scope {
                let from = r
                    .open_table(META)?
                    .get(AUDIT_ACTOR_INDEX_FROM)?
                    .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes));
                if let Some(from) = from {
                    let low = from.max(after.saturating_add(1));
                    scoped_seqs(r, scope, low, before, |seq| {
                        if let Some(v) = audit.get(seq)? {
                            let ev: AuditEvent = get_json(v.value())?;
                            if keep(&ev) {
                                out.push(ev);
                            }
                        }
                        Ok(out.len() < limit)
                    })?;
                    if out.len() >= limit || low <= after.saturating_add(1) {
                        out.reverse();
                        return Ok(out);
                    }
                    before = before.min(low);
                }
            }
            for item in audit.range(after.saturating_add(1)..before)?.rev() {
                let item = item?;
                let bytes = item.1.value();
                // Most events of a large log are someone else's: told apart from their actor
                // and target alone, without decoding the rest.
                if let Some(scope) = scope {
                    let Ok(peek) = serde_json::from_slice::<Peek<'_>>(bytes) else {
                        continue;
                    };
                    if !scope.admits(&peek.actor, &peek.target) {
                        continue;
                    }
                }
                let ev: AuditEvent = get_json(bytes)?;
                if keep(&ev) {
                    out.push(ev);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
    }
    out.reverse();
    Ok(out)
}

/// Every audit event as stored (sequence number, target, JSON), and the chain's head.
pub(super) fn audit_export(
    r: &ReadTransaction,
) -> Result<(Vec<crate::domain::StoredEvent>, crate::domain::AuditHead), StoreError> {
    let mut events = Vec::new();
    for item in r.open_table(AUDIT)?.iter()? {
        let (k, v) = item?;
        let ev: AuditEvent = get_json(v.value())?;
        events.push((k.value(), ev.target, v.value().to_vec()));
    }
    let head = r
        .open_table(super::tables::META)?
        .get(super::tables::AUDIT_HEAD)?
        .map(|v| get_json(v.value()))
        .transpose()?
        .unwrap_or_default();
    Ok((events, head))
}

/// Visits the sequence numbers of `scope`'s events in `low..before`, newest first, while
/// `visit` says to go on: a merge of the index entries of its actor and of each of its targets
/// (each already in order).
fn scoped_seqs(
    r: &ReadTransaction,
    scope: &AuditScope,
    low: u64,
    before: u64,
    mut visit: impl FnMut(u64) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    use std::collections::BinaryHeap;
    if before <= low {
        return Ok(());
    }
    let index = r.open_table(AUDIT_BY_TARGET)?;
    let prefixes = std::iter::once(format!("{ACTOR_PREFIX}{}", scope.actor))
        .chain(scope.targets.iter().cloned());
    let seq_of = |key: &str| -> u64 {
        key.rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let mut streams = Vec::new();
    for prefix in prefixes {
        let start = format!("{prefix}/{low:020}");
        let end = format!("{prefix}/{before:020}");
        streams.push(index.range(start.as_str()..end.as_str())?.rev());
    }
    let mut heap = BinaryHeap::new();
    for (i, s) in streams.iter_mut().enumerate() {
        if let Some(item) = s.next() {
            heap.push((seq_of(item?.0.value()), i));
        }
    }
    let mut last = None;
    while let Some((seq, i)) = heap.pop() {
        // The same event under its actor and its target: once.
        if last != Some(seq) {
            last = Some(seq);
            if !visit(seq)? {
                return Ok(());
            }
        }
        if let Some(item) = streams[i].next() {
            heap.push((seq_of(item?.0.value()), i));
        }
    }
    Ok(())
}

/// An event's actor and target, borrowed from its stored form where they need no unescaping.
#[derive(serde::Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    actor: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    target: std::borrow::Cow<'a, str>,
}
