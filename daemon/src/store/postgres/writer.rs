//! The writer thread of the PostgreSQL engine: group commit. Every write queued while the last
//! batch committed goes into the next one: one transaction that locks the audit chain's head
//! first (the daemons' transactions take turns, so the chain never forks and no two of them
//! deadlock), runs each write's rules, stores the head, queues the batch's change events for
//! the other daemons (`NOTIFY`, delivered at commit) and commits. Only then is anyone
//! answered. A failure of the database answers the whole batch with an error; the next batch
//! reconnects.

use std::sync::mpsc::Receiver;

use gatepass_protocol::ChangeEvent;
use postgres::Client;
use tokio::sync::broadcast;

use super::tx::{PgTx, Statements, lock_head};
use super::{Connector, Job, listen};
use crate::domain::{self, Written};
use crate::error::StoreError;

/// Writes in one transaction at most.
const MAX_BATCH: usize = 256;

pub(super) fn run(
    client: Client,
    connector: &Connector,
    rx: Receiver<Job>,
    events: &broadcast::Sender<ChangeEvent>,
    origin: &str,
) {
    let mut conn = prepared(client).ok();
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        connector.metrics.batch_size.observe(jobs.len() as f64);
        if conn.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            connector.metrics.reconnects.inc();
            conn = match connector.connect().and_then(prepared) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the database is unreachable");
                    let e = std::sync::Arc::new(e);
                    for job in jobs {
                        job.reply.send(Err(StoreError::Aborted(e.clone())));
                    }
                    continue;
                }
            };
        }
        let (writes, replies): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.write, j.reply)).unzip();
        let started = std::time::Instant::now();
        let mut result = run_batch(&mut conn, &writes, origin);
        if let Err(Failed::Before(_)) = &result
            && conn.as_ref().is_none_or(|(c, _)| c.is_closed())
        {
            // The connection broke (the database restarted) before the commit was sent:
            // nothing of the batch happened, so it is tried once on a new connection.
            connector.metrics.reconnects.inc();
            conn = connector.connect().and_then(prepared).ok();
            result = run_batch(&mut conn, &writes, origin);
        }
        if result.is_ok() {
            connector
                .metrics
                .transaction_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        match result.map_err(Failed::into_error) {
            Ok((results, changes)) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    reply.send(result);
                }
                for c in changes {
                    let _ = events.send(c); // no listeners is fine
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "a write batch failed");
                let e = std::sync::Arc::new(e);
                for reply in replies {
                    reply.send(Err(StoreError::Aborted(e.clone())));
                }
            }
        }
    }
}

fn prepared(mut client: Client) -> Result<(Client, Statements), StoreError> {
    let st = Statements::prepare(&mut client)?;
    Ok((client, st))
}

type Results = Vec<Result<Written, StoreError>>;

/// How a batch failed: before its commit was sent (nothing happened), or at the commit
/// (whether it happened is not known).
enum Failed {
    Before(StoreError),
    AtCommit(StoreError),
}

impl Failed {
    fn into_error(self) -> StoreError {
        match self {
            Failed::Before(e) | Failed::AtCommit(e) => e,
        }
    }
}

fn run_batch(
    conn: &mut Option<(Client, Statements)>,
    writes: &[domain::Write],
    origin: &str,
) -> Result<(Results, Vec<ChangeEvent>), Failed> {
    match conn.as_mut() {
        Some((client, st)) => batch(client, st, writes, origin),
        None => Err(Failed::Before(StoreError::Stopped(
            "no connection to the database".into(),
        ))),
    }
}

/// Runs `writes` in one transaction and commits it. A write the rules refuse is answered with
/// its refusal and the others go on; a failure of the database fails them all.
fn batch(
    client: &mut Client,
    st: &Statements,
    writes: &[domain::Write],
    origin: &str,
) -> Result<(Results, Vec<ChangeEvent>), Failed> {
    let (txn, results, changes) =
        prepare_batch(client, st, writes, origin).map_err(Failed::Before)?;
    txn.commit().map_err(|e| Failed::AtCommit(e.into()))?;
    Ok((results, changes))
}

/// Everything of a batch but its commit.
fn prepare_batch<'c>(
    client: &'c mut Client,
    st: &Statements,
    writes: &[domain::Write],
    origin: &str,
) -> Result<(postgres::Transaction<'c>, Results, Vec<ChangeEvent>), StoreError> {
    let mut txn = client.transaction()?;
    let head = lock_head(&mut txn, st)?;
    let mut tx = PgTx {
        txn: &mut txn,
        st,
        head: Some(head),
        head_moved: false,
        // Other daemons' listeners may want them: always built.
        listening: true,
        events: Vec::new(),
    };
    let mut results = Vec::with_capacity(writes.len());
    for w in writes {
        match domain::apply(&mut tx, w.clone()) {
            Ok(written) => results.push(Ok(written)),
            Err(e) if !e.is_fatal() => results.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    tx.store_head()?;
    let changes = std::mem::take(&mut tx.events);
    listen::notify(&mut txn, &changes, origin)?;
    Ok((txn, results, changes))
}
