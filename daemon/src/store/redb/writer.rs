//! The redb engine's writer thread: group commit. It takes the first queued write, then
//! whatever else is already queued (up to `MAX_BATCH`), runs them one after another as one batch
//! inside its write transaction, and hands the batch's journal record to the journal thread
//! (`journal::journal_thread`), which makes it durable and answers; meanwhile the writer builds
//! the next batch. The transaction stays open across batches and is committed to redb without
//! fsync when a write or a reader needs to see it, or `COMMIT_DELAY` after it began;
//! checkpoints (durable commits) let the journal start over.
//!
//! A failed commit, checkpoint or journal write stops the store (`Halt::fail_stop`): what
//! readers may have seen, or what later batches were built on, is then not known to be on disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ::redb::{Database, Durability, WriteTransaction};
use gatepass_protocol::ChangeEvent;
use tokio::sync::broadcast;

use super::batch::Batch;
use super::journal::Journal;
use super::recovery::replay_record;
use super::tables::{JOURNAL_SEQ, META};
use super::visibility::Visibility;
use crate::error::StoreError;

/// A writer with nothing to do for this long folds the journal into the database.
const IDLE_CHECKPOINT: Duration = Duration::from_secs(1);
/// At least this often under steady load, a batch commits durably instead of being journaled.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// The longest a write may wait in the writer's open transaction before readers' snapshots
/// show it (a reader that needs it sooner asks for a commit).
const COMMIT_DELAY: Duration = Duration::from_millis(50);
const MAX_BATCH: usize = 256;
/// At most this many journaled redemptions between checkpoints: a restart after a crash redoes
/// them at ~25 µs each (measured: 70,000 in 1.8 s), so a few seconds at worst.
const MAX_REPLAY_REDEMPTIONS: u64 = 200_000;

/// The writer's timings and bounds (tests shorten or lengthen them).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuning {
    pub(super) commit_delay: Duration,
    pub(super) max_replay: u64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            commit_delay: COMMIT_DELAY,
            max_replay: MAX_REPLAY_REDEMPTIONS,
        }
    }
}

/// How a queued write is answered once its batch is durable, or dropped with its cause.
pub(super) type Reply = Box<dyn FnOnce(Result<(), Arc<StoreError>>) + Send>;
/// A batch's journal record, shared by the journal thread (which writes it) and the writer
/// (which keeps it until its transaction commits, to redo it should that transaction be dropped).
pub(super) type Record = Arc<Vec<u8>>;
/// A queued write: runs inside the batch transaction and returns the storage error it hit, if
/// any (which aborts the batch), and how to answer its caller once the commit is known.
pub(super) type Job = Box<dyn FnOnce(&mut Batch<'_>) -> (Option<Arc<StoreError>>, Reply) + Send>;

/// The writer thread's state. It runs batches one after another inside a write transaction and
/// hands their journal records, in order, to the journal thread, which makes them durable and
/// answers; so the next batch is built while the last one's record is written. The transaction
/// stays open across batches (each page a burst touches is copied once, not once per batch) and
/// is committed without fsync when a write or a reader needs to see it, or the commit delay
/// (`COMMIT_DELAY`) after it began; the journal makes it durable meanwhile.
pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    /// How long a batch that need not be visible at once may wait for the commit.
    pub(super) commit_delay: Duration,
    /// Most redemptions journaled between checkpoints (`MAX_REPLAY_REDEMPTIONS`).
    pub(super) max_replay: u64,
    /// Where change events go: the writer only builds them while someone listens.
    pub(super) events: broadcast::Sender<ChangeEvent>,
    /// The open transaction, when it holds answered (or about to be) batches, and when it began.
    pub(super) open: Option<(WriteTransaction, Instant)>,
    /// The journal records of the batches in `open`: redone into a new transaction when a
    /// later batch in it fails and the transaction must be dropped.
    pub(super) held: Vec<Record>,
    /// Sequence number of the last batch journaled or checkpointed.
    pub(super) seq: u64,
    /// Bytes of journal records handed over since the last checkpoint, and the room there is.
    pub(super) used: u64,
    pub(super) capacity: u64,
    /// Redemptions journaled (as their inputs) since the last checkpoint: a restart runs each
    /// again, so their number, not the journal's bytes, bounds how long it takes.
    pub(super) redeemed: u64,
    pub(super) last_checkpoint: Instant,
    /// The test seam `Options::hold_checkpoints`.
    pub(super) hold_checkpoints: Option<std::path::PathBuf>,
    pub(super) synced: mpsc::Sender<Synced>,
    pub(super) counters: Arc<Counters>,
    pub(super) visibility: Arc<Visibility>,
    /// Stops the store when the disk fails.
    pub(super) halt: Arc<Halt>,
}

/// What a store does when it stops after a failure, besides refusing every later call: the
/// daemon stops the process (`abort_process`), tests look at the store.
pub type OnHalt = Arc<dyn Fn(&str) + Send + Sync>;

/// The daemon's `OnHalt`: the log is flushed and the process stops at once (systemd restarts
/// it), without closing the database, which would make what it holds durable behind the
/// journal's back. A restart recovers the last checkpoint plus every whole journal record.
pub fn abort_process(reason: &str) {
    crate::logging::flush();
    eprintln!("gatepassd: {reason}; stopping so that a restart recovers from the journal");
    std::process::abort()
}

/// The unwinding payload of `fail_stop`: ends the thread that raised it without running the
/// panic hook; `Halt::guard` catches it.
struct FailStop(String);

/// A store stopped by a failure: why, and the database kept from being closed.
pub(super) struct Halt {
    reason: Mutex<Option<String>>,
    /// Forgotten (never dropped) when the store halts: dropping the last handle would close
    /// the database cleanly and make its non-durable commits durable.
    db: Mutex<Option<Arc<Database>>>,
    visibility: Arc<Visibility>,
    on_halt: OnHalt,
}

impl Halt {
    pub(super) fn new(db: Arc<Database>, visibility: Arc<Visibility>, on_halt: OnHalt) -> Halt {
        Halt {
            reason: Mutex::new(None),
            db: Mutex::new(Some(db)),
            visibility,
            on_halt,
        }
    }

    /// Why the store stopped, once it has.
    pub(super) fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Stops the store (the first reason wins): every later call fails with `Stopped`.
    pub(super) fn stop(&self, reason: String) {
        {
            let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
            if r.is_some() {
                return;
            }
            *r = Some(reason.clone());
        }
        tracing::error!("the store stopped: {reason}");
        if let Some(db) = self.db.lock().unwrap_or_else(|p| p.into_inner()).take() {
            std::mem::forget(db);
        }
        self.visibility.halt();
        (self.on_halt)(&reason);
    }

    /// Stops the store after a failed commit or journal write, before any caller of the
    /// batches in flight hears of it; the calling thread then unwinds to `Halt::guard`.
    pub(super) fn fail_stop(&self, what: &str, e: &dyn std::fmt::Display) -> ! {
        let reason = format!("{what}: {e}");
        self.stop(reason.clone());
        std::panic::resume_unwind(Box::new(FailStop(reason)))
    }

    /// Runs a store thread: a `fail_stop` or a panic in it halts the store.
    pub(super) fn guard(&self, thread: &str, run: impl FnOnce()) {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            let reason = match payload.downcast::<FailStop>() {
                Ok(stop) => stop.0,
                Err(panic) => format!("the {thread} thread panicked: {}", panic_text(&*panic)),
            };
            self.stop(reason);
        }
    }
}

/// A panic's message, when it has one.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// The writer's counters, read by `durability_stats`.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) journaled: AtomicU64,
    pub(super) checkpoints: AtomicU64,
    pub(super) journal_bytes: AtomicU64,
    /// The journal's size, fixed once the store is open.
    pub(super) journal_capacity: u64,
    /// Batch sizes, commit and checkpoint times, for `/metrics`.
    pub(super) metrics: crate::metrics::StoreMetrics,
}

/// A committed batch on its way to its callers, in commit order.
pub(super) struct Synced {
    /// The batch's journal record, or `None` for a checkpoint (durable already, with everything
    /// before it: the journal starts over) or a batch that changed nothing.
    pub(super) record: Option<(u64, Record)>,
    pub(super) checkpoint: bool,
    /// The writer's sequence number when it handed this over: durable once this item is.
    pub(super) upto: u64,
    pub(super) replies: Vec<Reply>,
    pub(super) changes: Vec<ChangeEvent>,
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<Job>) {
        loop {
            let wait = match &self.open {
                Some((_, since)) => self.commit_delay.saturating_sub(since.elapsed()),
                None => IDLE_CHECKPOINT,
            };
            let first = match rx.recv_timeout(wait) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    match self.open.take() {
                        Some((txn, _)) => self.commit(txn),
                        None if self.checkpoints_held() => {}
                        None => self.checkpoint_if_needed(),
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.checkpoint_if_needed();
                    return;
                }
            };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let (txn, since) = match self.open.take() {
                Some(open) => open,
                None => match self.db.begin_write() {
                    Ok(t) => (t, Instant::now()),
                    Err(e) => self
                        .halt
                        .fail_stop("a write transaction could not be started", &e),
                },
            };
            self.counters.metrics.batch_size.observe(jobs.len() as f64);
            let mut replies = Vec::with_capacity(jobs.len());
            let mut failed: Option<Arc<StoreError>> = None;
            // The batch borrows the transaction for its tables, which close (handing their
            // roots back to the transaction) when it ends with this block.
            let (events, log, checkpoint, visible_now, redemptions) = {
                let mut batch = Batch::new(&txn, self.events.receiver_count() > 0);
                for job in jobs {
                    let (fatal, reply) = job(&mut batch);
                    replies.push(reply);
                    if fatal.is_some() {
                        failed = fatal;
                        break;
                    }
                }
                if failed.is_none()
                    && let Err(e) = batch.store_head()
                {
                    tracing::error!(error = %e, "cannot store the audit chain's head");
                    failed = Some(Arc::new(e));
                }
                (
                    batch.events,
                    batch.log,
                    batch.checkpoint,
                    batch.visible_now,
                    batch.redemptions,
                )
            };
            if let Some(cause) = failed {
                // Nothing of the batch is kept: its callers learn so now. The batches before it
                // in the same transaction are redone into a new one.
                let _ = txn.abort();
                let disk_failed = cause.is_engine_failure();
                if disk_failed {
                    // The disk (or the engine) failed: what the open transaction holds can no
                    // longer be trusted to reach it. Stopped before any caller hears of it.
                    self.halt.stop(format!(
                        "a write batch failed in the database engine: {cause}"
                    ));
                }
                for reply in replies {
                    reply(Err(cause.clone()));
                }
                if disk_failed {
                    self.halt
                        .fail_stop("a write batch failed in the database engine", &cause);
                }
                self.redo_held(since);
                continue;
            }
            let (record, checkpoint) = self.finish(
                txn,
                since,
                log,
                checkpoint || self.redeemed + redemptions > self.max_replay,
                visible_now,
            );
            if record.is_some() {
                self.redeemed += redemptions;
            }
            self.hand_over(Synced {
                record,
                checkpoint,
                upto: self.seq,
                replies,
                changes: events,
            });
        }
    }

    /// Ends a batch: its record goes to the journal when it fits (the transaction stays open
    /// unless the batch or its age asks for a commit), else the transaction is committed durably
    /// as a checkpoint. Returns the record to journal, and whether this was a checkpoint.
    fn finish(
        &mut self,
        txn: WriteTransaction,
        since: Instant,
        log: Vec<u8>,
        force_checkpoint: bool,
        visible_now: bool,
    ) -> (Option<(u64, Record)>, bool) {
        let due = visible_now || since.elapsed() >= self.commit_delay;
        if log.is_empty() && !force_checkpoint {
            // Nothing changed; answered once what it saw is durable.
            if self.held.is_empty() {
                let _ = txn.abort();
            } else if due {
                self.commit(txn);
            } else {
                self.open = Some((txn, since));
            }
            return (None, false);
        }
        let len = Journal::record_len(log.len());
        if !force_checkpoint
            && (self.last_checkpoint.elapsed() < CHECKPOINT_EVERY || self.checkpoints_held())
            && self.used + len <= self.capacity
        {
            self.seq += 1;
            self.used += len;
            self.visibility.applied.store(self.seq, Ordering::SeqCst);
            self.counters.journaled.fetch_add(1, Ordering::Relaxed);
            self.counters
                .journal_bytes
                .store(self.used, Ordering::Relaxed);
            // Shared with the journal thread, not copied.
            let log = std::sync::Arc::new(log);
            self.held.push(log.clone());
            if due {
                self.commit(txn);
            } else {
                self.open = Some((txn, since));
            }
            return (Some((self.seq, log)), false);
        }
        if let Err(e) = self.checkpoint(txn) {
            self.halt
                .fail_stop("a checkpoint could not be committed", &e);
        }
        (None, true)
    }

    /// Commits the open transaction without fsync: its batches are journaled (or on their way).
    /// A failed commit stops the process (`fail_stop`).
    fn commit(&mut self, mut txn: WriteTransaction) {
        self.visibility.committed.store(self.seq, Ordering::SeqCst);
        if let Err(e) = txn.set_durability(Durability::None) {
            self.halt
                .fail_stop("a write batch could not be committed", &e);
        }
        let commit_seconds = self.counters.metrics.commit_seconds.clone();
        if let Err(e) = crate::metrics::StoreMetrics::time(&commit_seconds, || txn.commit()) {
            self.halt
                .fail_stop("a write batch could not be committed", &e);
        }
        self.visibility.set_visible(self.seq);
        self.held.clear();
    }

    /// After a failed batch: a new transaction holding again the batches the dropped one held
    /// (answered, or about to be, once journaled). Failing that stops the process.
    fn redo_held(&mut self, since: Instant) {
        if self.held.is_empty() {
            return;
        }
        let redone = self
            .db
            .begin_write()
            .map_err(StoreError::from)
            .and_then(|txn| {
                for log in &self.held {
                    replay_record(&txn, log)?;
                }
                Ok(txn)
            });
        match redone {
            Ok(txn) => self.open = Some((txn, since)),
            Err(e) => self
                .halt
                .fail_stop("the batches before a failed one could not be redone", &e),
        }
    }

    /// A durable commit that also records the last batch the database holds.
    fn checkpoint(&mut self, txn: WriteTransaction) -> Result<(), StoreError> {
        let took = self.counters.metrics.checkpoint_seconds.clone();
        crate::metrics::StoreMetrics::time(&took, || self.checkpoint_untimed(txn))
    }

    fn checkpoint_untimed(&mut self, mut txn: WriteTransaction) -> Result<(), StoreError> {
        self.visibility.committed.store(self.seq, Ordering::SeqCst);
        txn.open_table(META)?
            .insert(JOURNAL_SEQ, self.seq.to_le_bytes().as_slice())?;
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        self.visibility.set_visible(self.seq);
        self.held.clear();
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.counters.journal_bytes.store(0, Ordering::Relaxed);
        self.used = 0;
        self.redeemed = 0;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Whether a test holds back the checkpoints that may wait (`Options::hold_checkpoints`;
    /// never in a build without the `test-seams` feature).
    fn checkpoints_held(&self) -> bool {
        cfg!(feature = "test-seams")
            && self
                .hold_checkpoints
                .as_deref()
                .is_some_and(std::path::Path::exists)
    }

    /// When idle or stopping: folds the journal into the database so a restart redoes little.
    fn checkpoint_if_needed(&mut self) {
        if self.used == 0 && self.open.is_none() {
            return;
        }
        let done = match self.open.take() {
            Some((txn, _)) => Ok(txn),
            None => self.db.begin_write().map_err(StoreError::from),
        }
        .and_then(|txn| self.checkpoint(txn));
        if let Err(e) = done {
            self.halt
                .fail_stop("a checkpoint could not be committed", &e);
        }
        self.hand_over(Synced {
            record: None,
            checkpoint: true,
            upto: self.seq,
            replies: Vec::new(),
            changes: Vec::new(),
        });
    }

    fn hand_over(&self, s: Synced) {
        if self.synced.send(s).is_err() {
            // The journal thread is gone: nothing committed from now on could become durable.
            self.halt
                .fail_stop("the journal thread has stopped", &"no receiver");
        }
    }
}
