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
use super::{COMMIT_BY, Connector, Job, listen};
use crate::domain::{self, Written};
use crate::error::StoreError;

/// Writes in one transaction at most.
const MAX_BATCH: usize = 256;

/// The writer's connection and its prepared statements.
type Conn = (Pipelined, Statements);

pub(super) fn run(
    connector: &Connector,
    busy: &Busy,
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
        connector.metrics.batch_size.observe(jobs.len() as f64);
        if conn.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            connector.metrics.reconnects.inc();
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
        busy.begin();
        run_jobs(&mut conn, connector, jobs, events, origin);
        busy.end();
    }
}

/// Whether the writer is waiting on the database, and since when: `/healthz` says a daemon
/// whose writer has waited longer than a caller would is unavailable (a connection gone
/// silent holds it, while the readers' fresh connections still answer).
#[derive(Default)]
pub(super) struct Busy(std::sync::atomic::AtomicU64);

impl Busy {
    fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn begin(&self) {
        self.0
            .store(Self::now_ms().max(1), std::sync::atomic::Ordering::Relaxed);
    }

    fn end(&self) {
        self.0.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long the current batch has been waiting, if there is one.
    pub(super) fn waiting(&self) -> Option<std::time::Duration> {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            since => Some(std::time::Duration::from_millis(
                Self::now_ms().saturating_sub(since),
            )),
        }
    }
}

/// Runs `jobs` as one batch (again without those too late for their callers, when the batch
/// could not commit in time) and answers each.
fn run_jobs(
    conn: &mut Option<Conn>,
    connector: &Connector,
    mut jobs: Vec<Job>,
    events: &broadcast::Sender<ChangeEvent>,
    origin: &str,
) {
    loop {
        // Callers that have given up (or are about to) are told so, and their writes dropped.
        let (late, kept): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| j.queued_at.elapsed() >= COMMIT_BY);
        for job in late {
            job.reply.send(Err(StoreError::Stopped(
                "the database did not take the write in time".into(),
            )));
        }
        jobs = kept;
        let Some(oldest) = jobs.iter().map(|j| j.queued_at).min() else {
            return;
        };
        let commit_by = oldest + COMMIT_BY;
        let writes: Vec<domain::Write> = jobs.iter().map(|j| j.write.clone()).collect();
        let started = std::time::Instant::now();
        let mut result = run_batch(
            conn.as_ref(),
            &connector.seal_key,
            &writes,
            origin,
            commit_by,
        );
        if let Err(Failed::Before(_)) = &result
            && conn.as_ref().is_none_or(|(c, _)| c.is_closed())
        {
            // The connection broke (the database restarted) before the commit was sent:
            // nothing of the batch happened, so it is tried once on a new connection.
            connector.metrics.reconnects.inc();
            *conn = connect(connector).ok();
            result = run_batch(
                conn.as_ref(),
                &connector.seal_key,
                &writes,
                origin,
                commit_by,
            );
        }
        if result.is_ok() {
            connector
                .metrics
                .transaction_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        if let Err(Failed::Late) = &result {
            rollback(conn);
            continue;
        }
        match result {
            Ok((results, changes)) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    job.reply.send(result);
                }
                for c in changes {
                    let _ = events.send(c); // no listeners is fine
                }
            }
            Err(f) => {
                let e = f.into_error();
                tracing::warn!(error = %e, "a write batch failed");
                rollback(conn);
                let e = std::sync::Arc::new(e);
                for job in jobs {
                    job.reply.send(Err(StoreError::Aborted(e.clone())));
                }
            }
        }
        return;
    }
}

/// Ends whatever a failed batch left open; on an idle connection it only warns.
fn rollback(conn: &Option<Conn>) {
    if let Some((c, _)) = conn
        && !c.is_closed()
    {
        let _ = c.run(c.client.batch_execute("ROLLBACK"));
    }
}

fn connect(connector: &Connector) -> Result<Conn, StoreError> {
    let conn = connector.connect_pipelined()?;
    let st = Statements::prepare(&conn)?;
    Ok((conn, st))
}

type Results = Vec<Result<Written, StoreError>>;

/// How a batch failed: before its commit was sent (nothing happened), at the commit (whether
/// it happened is not known), or too late to commit (nothing happened: rolled back).
enum Failed {
    Before(StoreError),
    AtCommit(StoreError),
    Late,
}

impl Failed {
    fn into_error(self) -> StoreError {
        match self {
            Failed::Before(e) | Failed::AtCommit(e) => e,
            Failed::Late => {
                StoreError::Stopped("the database did not take the write in time".into())
            }
        }
    }
}

/// Runs `writes` in one transaction and commits it. A write the rules refuse is answered with
/// its refusal and the others go on; a failure of the database fails them all.
fn run_batch(
    conn: Option<&Conn>,
    seal_key: &[u8; 32],
    writes: &[domain::Write],
    origin: &str,
    commit_by: std::time::Instant,
) -> Result<(Results, Vec<ChangeEvent>), Failed> {
    let Some((conn, st)) = conn else {
        return Err(Failed::Before(StoreError::Stopped(
            "no connection to the database".into(),
        )));
    };
    // Other daemons' listeners may want change events: always built.
    let mut tx = PgTx::begin(conn, st, seal_key, true, writes, true).map_err(Failed::Before)?;
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
    if std::time::Instant::now() >= commit_by {
        // Its oldest caller stops waiting soon: not committed behind its back.
        return Err(Failed::Late);
    }
    tx.commit(notify).map_err(|f| match f {
        SendFailed::Write(e) => Failed::Before(e),
        SendFailed::Commit(e) => Failed::AtCommit(e),
    })?;
    Ok((results, changes))
}
