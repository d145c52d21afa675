//! The embedded engine on redb, with group commit through a redo journal. One module a job:
//!
//! - `tables`: the on-disk tables, the journal's table tags, `apply_op`;
//! - `codec`: the stored form of a token record and of a journaled redemption;
//! - `batch`: a write batch, the `Tx` the rules run on, recording the journal record;
//! - `writer`: the writer thread (group commit, checkpoints) and the halt after a failure;
//! - `journal`: the journal file (format, appends, replay reading) and its thread;
//! - `visibility`: what readers may see, and when it is durable;
//! - `recovery`: redoing the journal at start;
//! - `list`: the large token list, read in two halves at once;
//! - `reads`: every other read;
//! - `check`: the audit chain, the counters against it and the indexes against their tables;
//! - `backup`: a consistent snapshot of a running store.
//!
//! This module ties them together: `RedbStore` opens the files, starts the threads, queues
//! writes and runs reads. A write's own refusal (name taken, token exhausted) leaves nothing
//! behind but what it chose to write; a storage error drops the whole batch and every write in
//! it answers with that error, so nothing unacknowledged is ever reported done.

mod backup;
mod batch;
mod check;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod journal;
mod list;
mod reads;
mod recovery;
mod tables;
mod visibility;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use ::redb::{Database, ReadableDatabase, StorageBackend};
use gatepass_protocol::binary::TokenListBuilder;
use gatepass_protocol::{AuditEvent, AuditQuery, ChangeEvent, SortColumn, Timestamp, TokenKeys};
use tokio::sync::broadcast;

pub use self::backup::restore;
use self::batch::Batch;
use self::journal::Journal;
#[cfg(test)]
use self::tables::Tbl;
use self::visibility::Visibility;
use self::writer::{Counters, Halt, Job, Reply, Synced, Tuning, Writer};
pub use self::writer::{OnHalt, abort_process};
use crate::domain::{
    ApiTokenRecord, AuditCheck, BackupInfo, DurabilityStats, HostRecord, Queued, Store,
    TokenRecord, Write, Written,
};
use crate::error::{Error, StoreError};
use crate::store::codec::with_secret_hash;

/// How to open a store: its cache, its journal's size, and what to do if it must stop.
#[derive(Clone)]
pub struct Options {
    pub cache_bytes: usize,
    /// The journal's size; 0 turns it off (every batch is a durable commit).
    pub journal_bytes: u64,
    pub on_halt: OnHalt,
    /// Start even if the journal is refused (missing, emptied, another store's, older,
    /// damaged), without what it held; the audit log records it.
    pub accept_journal_loss: bool,
    /// Verify every page's checksum before anything else (redb's integrity check): a file
    /// altered at rest is refused instead of trusted.
    pub check_integrity: bool,
    /// Where the writer and journal threads time their batches, commits and syncs.
    pub metrics: crate::metrics::StoreMetrics,
    /// A test seam: while this file exists the writer puts off every checkpoint it may (idle,
    /// periodic), so a test can fill the journal of a real daemon; a record that does not fit
    /// is still checkpointed. Honoured only in a build with the `test-seams` feature.
    pub hold_checkpoints: Option<std::path::PathBuf>,
    tuning: Tuning,
}

impl Options {
    /// The daemon's options: a store that fails stops the process (`abort_process`).
    pub fn new(cache_bytes: usize, journal_bytes: u64) -> Options {
        Options {
            cache_bytes,
            journal_bytes,
            on_halt: Arc::new(abort_process),
            accept_journal_loss: false,
            check_integrity: true,
            metrics: crate::metrics::StoreMetrics::new(),
            hold_checkpoints: None,
            tuning: Tuning::default(),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("cache_bytes", &self.cache_bytes)
            .field("journal_bytes", &self.journal_bytes)
            .field("tuning", &self.tuning)
            .finish_non_exhaustive()
    }
}

pub struct RedbStore {
    db: Arc<Database>,
    counters: Arc<Counters>,
    visibility: Arc<Visibility>,
    halt: Arc<Halt>,
    // Sending half of the writer's queue; the writer thread ends when the store is dropped.
    queue: mpsc::Sender<Job>,
    /// The writer and journal threads, joined when the store is dropped: once `drop` returns,
    /// the database is closed (its last checkpoint made) and the folder can be opened again.
    threads: Vec<std::thread::JoinHandle<()>>,
    /// From how many tokens on a list is read in two halves at once (`list::PARALLEL_LIST`).
    parallel_list: usize,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbStore")
    }
}

fn in_use(path: &Path, e: ::redb::DatabaseError) -> Error {
    match e {
        ::redb::DatabaseError::DatabaseAlreadyOpen => {
            Error::InUse(path.parent().unwrap_or(path).to_owned())
        }
        ::redb::DatabaseError::Storage(::redb::StorageError::Corrupted(problem)) => {
            Error::Damaged {
                path: path.to_owned(),
                problem: format!("is damaged ({problem}){RESTORE_ADVICE}"),
            }
        }
        other => Error::Store(StoreError::from(other)),
    }
}

/// What a message about a damaged database advises.
pub(super) const RESTORE_ADVICE: &str = "; restore it from a backup (`gatepassd restore`)";

impl RedbStore {
    /// Opens (or creates, 0600) the database at `path` and its journal beside it (same name,
    /// `.journal`, preallocated to `journal_bytes`), redoes the batches the journal holds past
    /// the last checkpoint, and starts the writer thread. Change events are sent on `events`
    /// after each commit. A store that fails stops the process.
    pub fn open(
        path: &Path,
        events: broadcast::Sender<ChangeEvent>,
        cache_bytes: usize,
        journal_bytes: u64,
    ) -> Result<RedbStore, Error> {
        Self::open_with(path, events, Options::new(cache_bytes, journal_bytes))
    }

    /// `open`, with every option.
    pub fn open_with(
        path: &Path,
        events: broadcast::Sender<ChangeEvent>,
        options: Options,
    ) -> Result<RedbStore, Error> {
        let file = journal::open_private(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let backend = ::redb::backends::FileBackend::new(file).map_err(|e| in_use(path, e))?;
        let journal_path = path.with_extension("journal");
        let journal = Journal::open(&journal_path)
            .map_err(|e| Error::io(format!("opening {}", journal_path.display()), e))?;
        Self::open_on(backend, journal, path, &journal_path, events, options)
    }

    /// Opens a store on any storage (fault-injecting ones in tests) and journal.
    fn open_on(
        backend: impl StorageBackend,
        mut journal: Journal,
        path: &Path,
        journal_path: &Path,
        events: broadcast::Sender<ChangeEvent>,
        options: Options,
    ) -> Result<RedbStore, Error> {
        // A damaged file can make the engine panic while it opens: that is damage to report,
        // not a crash of the process.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Self::open_db(backend, &mut journal, path, journal_path, &options)
        }));
        let (db, seq) = match opened {
            Ok(opened) => opened?,
            Err(panic) => {
                return Err(Error::Damaged {
                    path: path.to_owned(),
                    problem: format!(
                        "made the database engine panic while opening it ({}){RESTORE_ADVICE}",
                        writer::panic_text(&*panic)
                    ),
                });
            }
        };
        Self::start(db, journal, seq, events, options)
    }

    /// The engine's part of opening: the database checked, its tables made, the journal
    /// replayed. Returns the sequence number the next batch follows.
    fn open_db(
        backend: impl StorageBackend,
        journal: &mut Journal,
        path: &Path,
        journal_path: &Path,
        options: &Options,
    ) -> Result<(Database, u64), Error> {
        let mut db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create_with_backend(backend)
            .map_err(|e| in_use(path, e))?;
        if options.check_integrity {
            match db.check_integrity() {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    file = %path.display(),
                    "the database failed its integrity check and was repaired by redb; \
                     `audit verify` tells whether what it holds still agrees with the log"
                ),
                Err(e) => {
                    return Err(Error::Damaged {
                        path: path.to_owned(),
                        problem: format!("fails its integrity check ({e}){RESTORE_ADVICE}"),
                    });
                }
            }
        }
        let txn = db.begin_write().map_err(StoreError::from)?;
        tables::create_all(&txn)?;
        txn.commit().map_err(StoreError::from)?;
        let recovery = recovery::Recovery {
            capacity: options.journal_bytes,
            accept_journal_loss: options.accept_journal_loss,
            journal_path: journal_path.to_owned(),
        };
        let seq = recovery::replay(&db, journal, &recovery)?;
        Ok((db, seq))
    }

    /// Starts the writer and journal threads on an opened database.
    fn start(
        db: Database,
        journal: Journal,
        seq: u64,
        events: broadcast::Sender<ChangeEvent>,
        options: Options,
    ) -> Result<RedbStore, Error> {
        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel::<Job>();
        let (synced, synced_rx) = mpsc::channel::<Synced>();
        let counters = Arc::new(Counters {
            metrics: options.metrics.clone(),
            journal_capacity: journal.capacity(),
            ..Counters::default()
        });
        let visibility = Arc::new(Visibility::new(seq));
        let halt = Arc::new(Halt::new(db.clone(), visibility.clone(), options.on_halt));
        let tuning = options.tuning;
        let writer = Writer {
            commit_delay: tuning.commit_delay,
            max_replay: tuning.max_replay,
            events: events.clone(),
            open: None,
            held: Vec::new(),
            counters: counters.clone(),
            db: db.clone(),
            seq,
            used: 0,
            redeemed: 0,
            capacity: journal.capacity(),
            last_checkpoint: Instant::now(),
            hold_checkpoints: options.hold_checkpoints.clone(),
            synced,
            visibility: visibility.clone(),
            halt: halt.clone(),
        };
        let (journal_visibility, journal_halt, writer_halt) =
            (visibility.clone(), halt.clone(), halt.clone());
        let sync_seconds = options.metrics.journal_sync_seconds.clone();
        let journal_thread = std::thread::Builder::new()
            .name("gatepass-journal".into())
            .spawn(move || {
                journal_halt.guard("journal", || {
                    journal::journal_thread(
                        journal,
                        synced_rx,
                        events,
                        &journal_visibility,
                        &journal_halt,
                        &sync_seconds,
                    )
                })
            })
            .map_err(|e| Error::io("starting the journal thread", e))?;
        let writer_thread = std::thread::Builder::new()
            .name("gatepass-writer".into())
            .spawn(move || writer_halt.guard("writer", || writer.run(rx)))
            .map_err(|e| Error::io("starting the writer thread", e))?;
        Ok(RedbStore {
            db,
            counters,
            visibility,
            halt,
            queue: tx,
            threads: vec![writer_thread, journal_thread],
            parallel_list: list::PARALLEL_LIST,
        })
    }

    /// Everything the store holds, read in one snapshot (for `gatepassd migrate`; in memory).
    pub fn export(&self) -> Result<crate::domain::Export, StoreError> {
        self.read(|r| {
            let (audit, head) = reads::audit_export(r)?;
            Ok(crate::domain::Export {
                tokens: reads::tokens(r)?,
                hosts: reads::hosts(r, None)?,
                api_tokens: reads::api_tokens(r, None)?,
                audit,
                head,
            })
        })
    }

    /// Why the store stopped, once a failure has stopped it.
    pub fn halted(&self) -> Option<String> {
        self.halt.reason()
    }

    fn stopped(&self) -> StoreError {
        StoreError::Stopped(
            self.halt
                .reason()
                .unwrap_or_else(|| "the writer has stopped".into()),
        )
    }

    /// Queues `f` for the writer's next batch; `answer` gets its result once the batch's commit
    /// is durable (or failed).
    /// `visible_now`: readers' snapshots show the write as soon as it is answered; otherwise it
    /// may wait in the writer's open transaction until a reader asks for it (`read`) or the
    /// next commit (at most the commit delay later).
    fn enqueue<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
        answer: impl FnOnce(Result<T, StoreError>) + Send + 'static,
        visible_now: bool,
    ) -> Result<(), StoreError> {
        if self.halt.reason().is_some() {
            return Err(self.stopped());
        }
        let job: Job = Box::new(move |batch| {
            batch.visible_now |= visible_now;
            // A rule that panics leaves its batch half-written: the batch is dropped and the
            // store stops (before any caller hears), like after a failed disk.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(batch)))
                .unwrap_or_else(|panic| {
                    Err(StoreError::Stopped(format!(
                        "a write panicked: {}",
                        writer::panic_text(&*panic)
                    )))
                });
            let (result, fatal) = match ran {
                Err(e) if e.is_fatal() => {
                    let cause = Arc::new(e);
                    let own = match &*cause {
                        StoreError::Stopped(why) => StoreError::Stopped(why.clone()),
                        _ => StoreError::Aborted(cause.clone()),
                    };
                    (Err(own), Some(cause))
                }
                other => (other, None),
            };
            let reply: Reply = Box::new(move |commit| {
                answer(match commit {
                    Ok(()) => result,
                    Err(cause) => match result {
                        Err(own @ (StoreError::Aborted(_) | StoreError::Stopped(_))) => Err(own),
                        _ => Err(StoreError::Aborted(cause)),
                    },
                });
            });
            (fatal, reply)
        });
        self.queue.send(job).map_err(|_| self.stopped())
    }

    /// A write that blocks the calling thread until it is durable and visible.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.write_with(f, true)
    }

    /// A write that blocks the calling thread until it is durable.
    fn write_with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
        visible_now: bool,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Result<T, StoreError>>(1);
        let answer = move |r| {
            let _ = tx.send(r);
        };
        self.enqueue(f, answer, visible_now)?;
        rx.recv().map_err(|_| self.stopped())?
    }

    /// A read of durable state that shows every write answered before it began: batches the
    /// writer holds in its open transaction are committed first (one round trip through the
    /// writer, only when there are any), and the read waits until every batch its snapshot may
    /// hold is durable (at most one journal write), so no change is ever shown before a crash
    /// could undo it.
    fn read<T>(
        &self,
        f: impl FnOnce(&::redb::ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.visibility.visible.load(Ordering::SeqCst)
            < self.visibility.applied.load(Ordering::SeqCst)
        {
            self.commit_held()?;
        }
        self.read_committed(f)
    }

    /// A read of the last commit (durable before it is shown), for tables only written by
    /// writes that commit at once (API tokens): no need to ask the writer for what it holds.
    /// A panic inside the engine (a damaged page, say) stops the store rather than reaching
    /// the caller as a panic: the daemon then stops, and `gatepassd check` says why.
    fn read_committed<T>(
        &self,
        f: impl FnOnce(&::redb::ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_read()?;
            self.visibility.wait_durable()?;
            f(&txn)
        })
    }

    /// Runs a read of the engine unless the store has stopped; a panic in it stops the store.
    fn guarded<T>(&self, run: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.halt.reason().is_some() {
            return Err(self.stopped());
        }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(result) => result,
            Err(panic) => {
                self.halt.stop(format!(
                    "the database engine panicked during a read: {}",
                    writer::panic_text(&*panic)
                ));
                Err(self.stopped())
            }
        }
    }

    /// Has the writer commit everything it holds, after every write queued before. An empty
    /// write that writes nothing, so when another write in its batch fails and takes the batch
    /// down, it is simply tried again (a few times).
    fn commit_held(&self) -> Result<(), StoreError> {
        self.write_empty(|_| {})
    }

    /// An empty write (`mark` may flag the batch), retried when a failure elsewhere in its
    /// batch aborted it.
    fn write_empty(&self, mark: fn(&mut Batch<'_>)) -> Result<(), StoreError> {
        let mut tries = 0;
        loop {
            match self.write(move |b| {
                mark(b);
                Ok(())
            }) {
                Err(StoreError::Aborted(_)) if tries < 3 => tries += 1,
                done => return done,
            }
        }
    }

    /// Test hook: rewrites one stored audit event (or removes it with `None`) behind the chain's
    /// back, so tests can prove that `verify_audit` notices.
    #[cfg(test)]
    pub fn tamper_audit(
        &self,
        seq: u64,
        replacement: Option<AuditEvent>,
    ) -> Result<(), StoreError> {
        let value = replacement.map(|ev| serde_json::to_vec(&ev)).transpose()?;
        self.tamper(Tbl::Audit, seq.to_le_bytes().to_vec(), value)
    }

    /// Test hook: puts or removes one entry of any table behind the rules' back, as an edit at
    /// rest would.
    #[cfg(test)]
    fn tamper(&self, table: Tbl, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.write(move |b| b.op(table, &key, value.as_deref()))
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // The writer ends when its queue closes (checkpointing what it holds), the journal
        // thread when the writer is gone.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.queue, closed));
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Store for RedbStore {
    fn submit(&self, write: Write) -> Result<Written, StoreError> {
        let visible_now = write.visible_at_once();
        self.write_with(move |b| b.run(write), visible_now)
    }

    /// A write whose answer is awaited: no thread waits for the commit.
    fn submit_queued(&self, write: Write) -> Queued<Written> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let visible_now = write.visible_at_once();
        let on_answer = move |r| {
            let _ = tx.send(r);
        };
        let queued = self.enqueue(move |b| b.run(write), on_answer, visible_now);
        Queued {
            rx,
            queued,
            deadline: None,
        }
    }

    fn checkpoint(&self) -> Result<(), StoreError> {
        self.write_empty(|b| b.checkpoint = true)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.commit_held()
    }

    fn durability_stats(&self) -> DurabilityStats {
        DurabilityStats {
            journaled_batches: self.counters.journaled.load(Ordering::Relaxed),
            checkpoints: self.counters.checkpoints.load(Ordering::Relaxed),
            journal_bytes: self.counters.journal_bytes.load(Ordering::Relaxed),
            journal_capacity: self.counters.journal_capacity,
        }
    }

    fn health(&self) -> Result<(), StoreError> {
        match self.halt.reason() {
            Some(_) => Err(self.stopped()),
            None => Ok(()),
        }
    }

    fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read(|r| reads::token(r, id))
    }

    fn peek_secret(&self, id: &str, hash_hex: &str) -> Result<Option<bool>, StoreError> {
        self.guarded(|| {
            let t = self.visibility.peek_table(&self.db)?;
            let v = ::redb::ReadableTable::get(&*t, id)?;
            v.map(|v| {
                with_secret_hash(v.value(), |stored| {
                    crate::secrets::hash_eq(stored.as_bytes(), hash_hex.as_bytes())
                })
            })
            .transpose()
        })
    }

    fn token_id_by_name(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|r| reads::token_id_by_name(r, name))
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(reads::tokens)
    }

    fn token_list(
        &self,
        now: Timestamp,
        column: SortColumn,
        keep: &(dyn Fn(&TokenKeys<'_>) -> bool + Sync),
    ) -> Result<TokenListBuilder, StoreError> {
        self.read(|r| list::token_list(r, now, column, keep, self.parallel_list))
    }

    fn list_hosts(&self, token_id: Option<&str>) -> Result<Vec<HostRecord>, StoreError> {
        self.read(|r| reads::hosts(r, token_id))
    }

    fn get_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        // Checked on every admin request; API tokens are never held back by the writer.
        self.read_committed(|r| reads::api_token(r, id))
    }

    fn list_api_tokens(&self, user: Option<&str>) -> Result<Vec<ApiTokenRecord>, StoreError> {
        self.read_committed(|r| reads::api_tokens(r, user))
    }

    fn audit_scoped(
        &self,
        q: &AuditQuery,
        scope: Option<&crate::domain::audit::AuditScope>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(|r| reads::audit(r, q, scope))
    }

    fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        self.read(check::verify)
    }

    fn backup(&self, to: &Path) -> Result<BackupInfo, StoreError> {
        self.read(|r| backup::snapshot(r, to))
    }
}

#[cfg(test)]
mod at_rest_tests;
#[cfg(test)]
mod before_tenants_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod faults;
#[cfg(test)]
pub(crate) mod tests;
