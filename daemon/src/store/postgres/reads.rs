//! Reads of the PostgreSQL engine: each a query (or one read-only snapshot for the chain
//! check), decoding records as the embedded engine stores them.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use gatepass_protocol::binary::TokenListBuilder;
use gatepass_protocol::{AuditEvent, AuditQuery, SortColumn, Timestamp, TokenKeys};

use super::conn::Pipelined as Client;

use super::tx::{seq_from_db, seq_to_db};
use crate::domain::audit::{AuditScope, ChainCheck};
use crate::domain::{ApiTokenRecord, AuditCheck, AuditHead, HostRecord, TokenRecord};
use crate::error::StoreError;
use crate::store::codec::{add_to_list, decode_token};

const DEFAULT_AUDIT_LIMIT: usize = 1_000;
const MAX_AUDIT_LIMIT: usize = 100_000;
/// At most this many table problems are listed.
const MAX_LISTED: usize = 50;

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(bytes)?)
}

pub(super) fn token(c: &mut Client, id: &str) -> Result<Option<TokenRecord>, StoreError> {
    let row = c.query_opt("SELECT record FROM gp_tokens WHERE id = $1", &[&id])?;
    row.map(|r| decode_token(r.get::<_, &[u8]>(0))).transpose()
}

pub(super) fn token_id_by_name(c: &mut Client, name: &str) -> Result<Option<String>, StoreError> {
    let row = c.query_opt("SELECT id FROM gp_tokens WHERE name = $1", &[&name])?;
    Ok(row.map(|r| r.get(0)))
}

pub(super) fn tokens(c: &mut Client) -> Result<Vec<TokenRecord>, StoreError> {
    c.query("SELECT record FROM gp_tokens", &[])?
        .iter()
        .map(|r| decode_token(r.get::<_, &[u8]>(0)))
        .collect()
}

/// Every token's stored record.
pub(super) fn token_records(c: &mut Client) -> Result<Vec<Vec<u8>>, StoreError> {
    Ok(c.query("SELECT record FROM gp_tokens", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The tokens of `records` that `keep` accepts, sorted by `column`.
pub(super) fn token_list(
    records: &[Vec<u8>],
    now: Timestamp,
    column: SortColumn,
    keep: &(dyn Fn(&TokenKeys<'_>) -> bool + Sync),
) -> Result<TokenListBuilder, StoreError> {
    let mut list = TokenListBuilder::new(column, records.len());
    for r in records {
        add_to_list(r, now, keep, &mut list)?;
    }
    list.sort()
        .map_err(|e| StoreError::Damaged(format!("a stored token does not list: {e}")))?;
    Ok(list)
}

/// Every host, or those of one token, in order of enrollment.
pub(super) fn hosts(c: &mut Client, token_id: Option<&str>) -> Result<Vec<HostRecord>, StoreError> {
    let rows = match token_id {
        Some(t) => c.query("SELECT record FROM gp_hosts WHERE token_id = $1", &[&t])?,
        None => c.query("SELECT record FROM gp_hosts", &[])?,
    };
    let mut out: Vec<HostRecord> = rows
        .iter()
        .map(|r| json(r.get::<_, &[u8]>(0)))
        .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| {
        a.host
            .enrolled_at
            .cmp(&b.host.enrolled_at)
            .then_with(|| a.host.id.cmp(&b.host.id))
    });
    Ok(out)
}

pub(super) fn api_token(c: &mut Client, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
    let row = c.query_opt("SELECT record FROM gp_api_tokens WHERE id = $1", &[&id])?;
    row.map(|r| json(r.get::<_, &[u8]>(0))).transpose()
}

/// All API tokens, or those of one user, oldest first.
pub(super) fn api_tokens(
    c: &mut Client,
    user: Option<&str>,
) -> Result<Vec<ApiTokenRecord>, StoreError> {
    let rows = match user {
        Some(u) => c.query("SELECT record FROM gp_api_tokens WHERE owner = $1", &[&u])?,
        None => c.query("SELECT record FROM gp_api_tokens", &[])?,
    };
    let mut out: Vec<ApiTokenRecord> = rows
        .iter()
        .map(|r| json(r.get::<_, &[u8]>(0)))
        .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| {
        a.token
            .created_at
            .cmp(&b.token.created_at)
            .then_with(|| a.token.id.cmp(&b.token.id))
    });
    Ok(out)
}

/// The newest events matching `q` (up to its limit, below its cursor) and admitted by `scope`,
/// oldest first: every filter is in the query, so the limit counts only what the reader sees.
pub(super) fn audit(
    c: &mut Client,
    q: &AuditQuery,
    scope: Option<&AuditScope>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let limit = q
        .limit
        .unwrap_or(DEFAULT_AUDIT_LIMIT)
        .clamp(1, MAX_AUDIT_LIMIT) as i64;
    let after = seq_to_db(q.after.unwrap_or(0))?;
    let before = match q.before {
        Some(b) => seq_to_db(b)?,
        None => i64::MAX,
    };
    let since = q.since.map(|t| t.0);
    let scope_actor = scope.map(|s| s.actor.clone());
    let scope_targets: Vec<String> = scope
        .map(|s| s.targets.iter().cloned().collect())
        .unwrap_or_default();
    let rows = c.query(
        "SELECT event FROM gp_audit \
         WHERE seq > $1 AND seq < $2 \
           AND ($3::text IS NULL OR target = $3) \
           AND ($4::text IS NULL OR actor = $4) \
           AND ($5::bigint IS NULL OR at >= $5) \
           AND ($6::text IS NULL OR actor = $6 OR target = ANY($7::text[])) \
         ORDER BY seq DESC LIMIT $8",
        &[
            &after,
            &before,
            &q.token,
            &q.actor,
            &since,
            &scope_actor,
            &scope_targets,
            &limit,
        ],
    )?;
    let mut out: Vec<AuditEvent> = rows
        .iter()
        .map(|r| json(r.get::<_, &[u8]>(0)))
        .collect::<Result<_, _>>()?;
    out.reverse();
    Ok(out)
}

/// Walks the chain in one snapshot and checks the tables against it (`ChainCheck`).
pub(super) fn verify(c: &mut Client, seal_key: &[u8; 32]) -> Result<AuditCheck, StoreError> {
    c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let check = verify_in(c, seal_key);
    let end = c.batch_execute(if check.is_ok() { "COMMIT" } else { "ROLLBACK" });
    let check = check?;
    end?;
    Ok(check)
}

/// `verify`'s walk, inside its snapshot.
fn verify_in(txn: &mut Client, seal_key: &[u8; 32]) -> Result<AuditCheck, StoreError> {
    let mut sealed = true;
    let head = txn
        .query_opt("SELECT next_seq, last_hash, seal FROM gp_audit_head", &[])?
        .map(|r| -> Result<AuditHead, StoreError> {
            let head = AuditHead {
                next_seq: seq_from_db(r.get(0))?,
                last_hash: r.get(1),
            };
            let expected = super::seal(seal_key, head.next_seq, &head.last_hash);
            sealed = crate::secrets::hash_eq(expected.as_bytes(), r.get::<_, &str>(2).as_bytes());
            Ok(head)
        })
        .transpose()?;
    let mut walk = ChainCheck::default();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
    let rows = txn.run(txn.client.query_raw(
        "SELECT seq, event, target, actor, at FROM gp_audit ORDER BY seq",
        params,
    ))?;
    let mut rows = std::pin::pin!(rows);
    while let Some(r) = txn.run(rows.next()) {
        let r = r?;
        let seq = seq_from_db(r.get(0))?;
        let ev = match walk.event(seq, r.get::<_, &[u8]>(1)) {
            Ok(ev) => ev,
            Err(bad) => return Ok(bad),
        };
        // The columns the filters read must say what the hashed event says: otherwise an
        // event hidden from `audit --actor` (say) by an edit would pass.
        if (r.get::<_, &str>(2), r.get::<_, &str>(3), r.get::<_, i64>(4))
            != (ev.target.as_str(), ev.actor.as_str(), ev.at.0)
        {
            return Ok(AuditCheck {
                events: seq.saturating_sub(1),
                first_bad: Some(seq),
                problem: Some(format!(
                    "event {seq}'s target, actor or time columns were edited: they differ from \
                     the event they index"
                )),
                tables: Vec::new(),
                at_break: walk.last_link().into_iter().collect(),
            });
        }
    }
    let tokens: Vec<TokenRecord> = txn
        .query("SELECT record FROM gp_tokens", &[])?
        .iter()
        .map(|r| decode_token(r.get::<_, &[u8]>(0)))
        .collect::<Result<_, _>>()?;
    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    for r in txn.query(
        "SELECT token_id, count(*) FROM gp_hosts GROUP BY token_id",
        &[],
    )? {
        stored.insert(r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0));
    }
    let mut problems = walk.counters(&tokens, &stored);
    let mut check = walk.finish(head);
    if !sealed && check.problem.is_none() {
        // The chain is whole up to a head no node wrote: its last events were removed (or the
        // head edited) by hand.
        check.first_bad = Some(check.events + 1);
        check.problem = Some(format!(
            "the chain's head (after event {}) is not the one the daemons sealed: events were \
             removed from its end, or the head was edited",
            check.events
        ));
    }
    if problems.len() > MAX_LISTED {
        let more = problems.len() - MAX_LISTED;
        problems.truncate(MAX_LISTED);
        problems.push(format!("… and {more} more"));
    }
    if check.problem.is_none()
        && let Some(first) = problems.first()
    {
        check.problem = Some(format!("the tables disagree with the audit log: {first}"));
    }
    check.tables = problems;
    Ok(check)
}
