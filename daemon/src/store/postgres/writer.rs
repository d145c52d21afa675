//! The writer thread of the PostgreSQL engine: group commit. Every write queued while the last
//! batch committed goes into the next one: one transaction that locks the audit chain's head
//! first (the daemons' transactions take turns, so the chain never forks and no two of them
//! deadlock), runs each write's rules, stores the head, queues the batch's change events for
//! the other daemons (`NOTIFY`, delivered at commit) and commits. Only then is anyone
//! answered. The batch goes out in two round trips (`tx`): its start with its reads ahead,
//! then its writes with the commit. A failure of the database answers the whole batch with an
//! error; the next batch reconnects.

use std::sync::mpsc::Receiver;

use gatepass_protocol::ChangeEvent;
use tokio::sync::broadcast;

use super::conn::Pipelined;
use super::tx::{PgTx, SendFailed, Statements};
use super::{Connector, Job, listen};
use crate::domain::{self, Written};
use crate::error::StoreError;

/// Writes in one transaction at most.
const MAX_BATCH: usize = 256;

/// The writer's connection and its prepared statements.
type Conn = (Pipelined, Statements);

pub(super) fn run(
    connector: &Connector,
    rx: Receiver<Job>,
    events: &broadcast::Sender<ChangeEvent>,
    origin: &str,
) {
    let mut conn = connect(connector).ok();
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        if conn.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            conn = match connect(connector) {
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
        let mut result = run_batch(&conn, &writes, origin);
        if let Err(Failed::Before(_)) = &result
            && conn.as_ref().is_none_or(|(c, _)| c.is_closed())
        {
            // The connection broke (the database restarted) before the commit was sent:
            // nothing of the batch happened, so it is tried once on a new connection.
            conn = connect(connector).ok();
            result = run_batch(&conn, &writes, origin);
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
                if let Some((c, _)) = &conn
                    && !c.is_closed()
                {
                    // Whatever the failure left open ends here; an idle connection only
                    // warns.
                    let _ = c.run(c.client.batch_execute("ROLLBACK"));
                }
                let e = std::sync::Arc::new(e);
                for reply in replies {
                    reply.send(Err(StoreError::Aborted(e.clone())));
                }
            }
        }
    }
}

fn connect(connector: &Connector) -> Result<Conn, StoreError> {
    let conn = connector.connect_pipelined()?;
    let st = Statements::prepare(&conn)?;
    Ok((conn, st))
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

/// Runs `writes` in one transaction and commits it. A write the rules refuse is answered with
/// its refusal and the others go on; a failure of the database fails them all.
fn run_batch(
    conn: &Option<Conn>,
    writes: &[domain::Write],
    origin: &str,
) -> Result<(Results, Vec<ChangeEvent>), Failed> {
    let Some((conn, st)) = conn.as_ref() else {
        return Err(Failed::Before(StoreError::Stopped(
            "no connection to the database".into(),
        )));
    };
    // Other daemons' listeners may want change events: always built.
    let mut tx = PgTx::begin(conn, st, true, writes, true).map_err(Failed::Before)?;
    let mut results = Vec::with_capacity(writes.len());
    for w in writes {
        match domain::apply(&mut tx, w.clone()) {
            Ok(written) => results.push(Ok(written)),
            Err(e) if !e.is_fatal() => results.push(Err(e)),
            Err(e) => return Err(Failed::Before(e)),
        }
    }
    let changes = std::mem::take(&mut tx.events);
    let notify = listen::payloads(&changes, origin).map_err(Failed::Before)?;
    tx.commit(notify).map_err(|f| match f {
        SendFailed::Write(e) => Failed::Before(e),
        SendFailed::Commit(e) => Failed::AtCommit(e),
    })?;
    Ok((results, changes))
}
