//! The embedded store on redb, with group commit through a redo journal.
//!
//! All writes go through one writer thread. It takes the first queued write, then whatever else
//! is already queued (up to `MAX_BATCH`), and runs them one after another as one batch inside its
//! write transaction, recording every table change in the batch's journal record. The journal
//! thread appends the records of every batch waiting with one write and one fdatasync, and only
//! then answers their callers; meanwhile the writer builds the next batch. Each write sees the
//! effects of the writes before it, so limits hold exactly as if they were committed one by one;
//! under load, many redemptions share one fsync.
//!
//! The write transaction is committed to redb without fsync (the journal is what makes it
//! durable) when a batch other than redemptions needs to be seen at once, when a reader asks for
//! it, or `COMMIT_DELAY` after it began; so a burst of redemptions copies each page it touches
//! once. Checkpoints (durable commits that record the last batch they hold) let the journal start
//! over; a start redoes what the last checkpoint lacks.
//!
//! A write's own refusal (name taken, token exhausted) leaves nothing behind but what it chose to
//! write (e.g. the audit event of a refused redemption); a storage error drops the whole batch
//! and every write in it answers with that error, so nothing unacknowledged is ever reported done
//! (the batches before it in the transaction are redone into a new one).
//!
//! Reads use redb's MVCC read transactions on the caller's thread. They first have the writer
//! commit what it holds (only when it holds anything), then wait until their snapshot is durable.
//! A large token list is read from one snapshot in two halves of the key space at once, each
//! sorted on its own thread, then merged (`token_list`, `midpoint`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ::redb::{
    Database, Durability, Range, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};
use gatepass_protocol::{AuditEvent, AuditQuery, ChangeEvent, Host, Timestamp};
use tokio::sync::broadcast;

use super::codec::{add_to_list, decode_token, encode_token, with_secret_hash};
use super::journal::Journal;
use super::*;
use crate::error::{Error, StoreError};
use crate::model;

const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// Live token name → id: the unique-name index.
const NAMES: TableDefinition<&str, &str> = TableDefinition::new("token_names");
const HOSTS: TableDefinition<&str, &[u8]> = TableDefinition::new("hosts");
/// `token_id/host_id` → (): the hosts of a token.
const TOKEN_HOSTS: TableDefinition<&str, ()> = TableDefinition::new("token_hosts");
/// `token_id/key_fingerprint` → host_id: finds a retry by the same host key.
const HOST_KEYS: TableDefinition<&str, &str> = TableDefinition::new("host_keys");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// `target/seq` (seq zero-padded to 20 digits) → (): a token's audit trail.
const AUDIT_BY_TARGET: TableDefinition<&str, ()> = TableDefinition::new("audit_by_target");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const API_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
/// `user/name` → id: API token names are unique per user.
const API_TOKEN_NAMES: TableDefinition<&str, &str> = TableDefinition::new("api_token_names");

const AUDIT_HEAD: &str = "audit_head";
/// The sequence number of the last journal record the database holds (u64, little-endian).
const JOURNAL_SEQ: &str = "journal_seq";
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
/// From this many tokens on, a list is read and sorted in two halves at once.
const PARALLEL_LIST: usize = 20_000;
/// How many lists were read in two halves (tests check the split happened).
#[cfg(test)]
static LISTS_SPLIT: AtomicU64 = AtomicU64::new(0);
const DEFAULT_AUDIT_LIMIT: usize = 1_000;
const MAX_AUDIT_LIMIT: usize = 100_000;

/// The tail of the audit chain: the next sequence number and the hash of the last event.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditHead {
    next_seq: u64,
    last_hash: String,
}

/// A write being built inside a batch: the open transaction, its operations as the journal
/// records them, and what to announce once it is committed.
pub struct Batch<'t> {
    tables: Tables<'t>,
    events: Vec<ChangeEvent>,
    log: Vec<u8>,
    /// Commit this batch durably (a checkpoint), whatever it holds.
    checkpoint: bool,
    /// Make this batch visible to readers when it ends rather than when the writer next
    /// commits (set by every write but redemptions and audit appends).
    visible_now: bool,
    /// Whether anyone follows `/v1/events`: change events are only built for listeners.
    listening: bool,
    /// The audit chain's head as this batch leaves it, stored once when the batch ends.
    head: Option<AuditHead>,
    /// Redemptions recorded in `log` as their inputs.
    redemptions: u64,
    /// Whether table writes go into `log`: not while a redemption runs, whose record holds its
    /// inputs instead (`Batch::redeem`), nor in a replay.
    logging: bool,
    /// A table write was logged since the last redemption record: a replay forgets the head it
    /// carries at such a write, so the head must be stored before the next redemption's record.
    wrote_since_redeem: bool,
}

/// Declares `Tables`: one slot per table, and an accessor that opens the table on first use.
macro_rules! tables {
    ($($name:ident: $def:ident => $k:ty, $v:ty;)*) => {
        /// The tables a batch (or a replay) has opened, kept open until it ends: opening a
        /// table costs about as much as a small insert, and a redemption touches six.
        struct Tables<'t> {
            txn: &'t WriteTransaction,
            $($name: Option<::redb::Table<'t, $k, $v>>,)*
        }

        impl<'t> Tables<'t> {
            fn new(txn: &'t WriteTransaction) -> Tables<'t> {
                Tables { txn, $($name: None,)* }
            }

            $(fn $name(&mut self) -> Result<&mut ::redb::Table<'t, $k, $v>, StoreError> {
                let table = match self.$name.take() {
                    Some(t) => t,
                    None => self.txn.open_table($def)?,
                };
                Ok(self.$name.insert(table))
            })*
        }
    };
}

tables! {
    tokens: TOKENS => &'static str, &'static [u8];
    names: NAMES => &'static str, &'static str;
    hosts: HOSTS => &'static str, &'static [u8];
    token_hosts: TOKEN_HOSTS => &'static str, ();
    host_keys: HOST_KEYS => &'static str, &'static str;
    audit: AUDIT => u64, &'static [u8];
    audit_by_target: AUDIT_BY_TARGET => &'static str, ();
    meta: META => &'static str, &'static [u8];
    api_tokens: API_TOKENS => &'static str, &'static [u8];
    api_token_names: API_TOKEN_NAMES => &'static str, &'static str;
}

/// The tables a batch changes, as journal records name them (the tag is the index in `ALL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tbl {
    Tokens,
    Names,
    Hosts,
    TokenHosts,
    HostKeys,
    Audit,
    AuditByTarget,
    Meta,
    ApiTokens,
    ApiTokenNames,
}

impl Tbl {
    const ALL: [Tbl; 10] = [
        Tbl::Tokens,
        Tbl::Names,
        Tbl::Hosts,
        Tbl::TokenHosts,
        Tbl::HostKeys,
        Tbl::Audit,
        Tbl::AuditByTarget,
        Tbl::Meta,
        Tbl::ApiTokens,
        Tbl::ApiTokenNames,
    ];

    fn tag(self) -> u8 {
        Tbl::ALL.iter().position(|t| *t == self).unwrap_or_default() as u8
    }
}

/// A journal operation's tag byte: the table's tag, plus this bit for a put (else a removal).
const PUT: u8 = 0x80;
/// The tag byte of a redemption's record (`codec::encode_attempt`): replayed by running it again.
const REDEEM: u8 = 0x40;

/// A key past `lo` and no later than `hi` that splits keys spread evenly between them into two
/// halves of about the same size: the mean of their first 8 bytes, up to its first byte that is
/// not ASCII. `None` when no such key is left (`lo` and `hi` share their first 8 bytes, say).
fn midpoint(lo: &str, hi: &str) -> Option<String> {
    let head = |s: &str| {
        let mut b = [0u8; 8];
        let n = s.len().min(8);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        u64::from_be_bytes(b)
    };
    let (a, b) = (head(lo), head(hi));
    if a >= b {
        return None;
    }
    let mid = (a + (b - a) / 2).to_be_bytes();
    // Cut at the first byte that is not ASCII text (the mean carries halves into lower bytes):
    // a shorter key sorts no later, and what is left still has to lie past `lo`.
    let end = mid
        .iter()
        .position(|&c| c == 0 || !c.is_ascii())
        .unwrap_or(mid.len());
    let mid = std::str::from_utf8(&mid[..end]).ok()?;
    (mid > lo && mid <= hi).then(|| mid.to_owned())
}

/// A list the builder could not read back: only damaged stored records get there.
fn damaged_list(e: gatepass_protocol::Error) -> StoreError {
    StoreError::Backend(format!("a stored token record is damaged: {e}"))
}

fn damaged() -> StoreError {
    StoreError::Backend("a journal record is damaged".into())
}

/// Applies one put (`value` is `Some`) or removal to the batch's (or replay's) tables. The same
/// function runs for a live batch and for a journal replay, so a replay redoes exactly what the
/// batch did. Keys and values are bytes: UTF-8 text, except the audit table's key (a
/// little-endian u64); index tables ignore the value.
fn apply_op(
    tables: &mut Tables<'_>,
    table: Tbl,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    let text = |b| std::str::from_utf8(b).map_err(|_| damaged());
    match table {
        Tbl::Audit => {
            let seq = u64::from_le_bytes(key.try_into().map_err(|_| damaged())?);
            let t = tables.audit()?;
            match value {
                Some(v) => drop(t.insert(seq, v)?),
                None => drop(t.remove(seq)?),
            }
        }
        Tbl::Tokens | Tbl::Hosts | Tbl::Meta | Tbl::ApiTokens => {
            let t = match table {
                Tbl::Tokens => tables.tokens()?,
                Tbl::Hosts => tables.hosts()?,
                Tbl::Meta => tables.meta()?,
                _ => tables.api_tokens()?,
            };
            match value {
                Some(v) => drop(t.insert(text(key)?, v)?),
                None => drop(t.remove(text(key)?)?),
            }
        }
        Tbl::Names | Tbl::HostKeys | Tbl::ApiTokenNames => {
            let t = match table {
                Tbl::Names => tables.names()?,
                Tbl::HostKeys => tables.host_keys()?,
                _ => tables.api_token_names()?,
            };
            match value {
                Some(v) => drop(t.insert(text(key)?, text(v)?)?),
                None => drop(t.remove(text(key)?)?),
            }
        }
        Tbl::TokenHosts | Tbl::AuditByTarget => {
            let t = if table == Tbl::TokenHosts {
                tables.token_hosts()?
            } else {
                tables.audit_by_target()?
            };
            match value {
                Some(_) => drop(t.insert(text(key)?, ())?),
                None => drop(t.remove(text(key)?)?),
            }
        }
    }
    Ok(())
}

/// Splits a length-prefixed (u32, little-endian) field off the front of `p`.
fn take_field(p: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let (len, rest) = p.split_first_chunk::<4>().ok_or_else(damaged)?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(damaged());
    }
    Ok(rest.split_at(len))
}

/// Redoes one journal record (a batch's operations, in order) inside `txn`: table writes are
/// applied as they are; a redemption runs again on the state the writes before it left, which
/// is the state it first ran on.
fn replay_record(txn: &WriteTransaction, mut p: &[u8]) -> Result<(), StoreError> {
    let mut batch = Batch::new(txn, false);
    batch.logging = false;
    while let Some((&head, rest)) = p.split_first() {
        if head == REDEEM {
            let (attempt, rest) = take_field(rest)?;
            batch.apply_redeem(codec::decode_attempt(attempt)?)?;
            p = rest;
            continue;
        }
        let table = *Tbl::ALL.get(usize::from(head & !PUT)).ok_or_else(damaged)?;
        let (key, rest) = take_field(rest)?;
        let (value, rest) = if head & PUT != 0 {
            let (v, r) = take_field(rest)?;
            (Some(v), r)
        } else {
            (None, rest)
        };
        apply_op(&mut batch.tables, table, key, value)?;
        // The live batch stored its head before the next redemption's record (see
        // `wrote_since_redeem`); that redemption reads it from the table.
        batch.head = None;
        p = rest;
    }
    Ok(())
}

/// The writer's timings and bounds (tests shorten or lengthen them).
#[derive(Debug, Clone, Copy)]
struct Tuning {
    commit_delay: Duration,
    max_replay: u64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            commit_delay: COMMIT_DELAY,
            max_replay: MAX_REPLAY_REDEMPTIONS,
        }
    }
}

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A batch's journal record, shared by the journal thread (which writes it) and the writer
/// (which keeps it until its transaction commits, to redo it should that transaction be dropped).
type Record = std::sync::Arc<Vec<u8>>;
/// A queued write: runs inside the batch transaction and returns whether it hit a storage
/// error (which aborts the batch) and how to answer its caller once the commit is known.
type Job = Box<dyn FnOnce(&mut Batch<'_>) -> (bool, Reply) + Send>;

pub struct RedbStore {
    db: std::sync::Arc<Database>,
    counters: std::sync::Arc<Counters>,
    visibility: std::sync::Arc<Visibility>,
    // Sending half of the writer's queue; the writer thread ends when the store is dropped.
    queue: mpsc::Sender<Job>,
    /// From how many tokens on a list is read in two halves at once (`PARALLEL_LIST`).
    parallel_list: usize,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbStore")
    }
}

impl RedbStore {
    /// Opens (or creates, 0600) the database at `path` and its journal beside it (same name,
    /// `.journal`, preallocated to `journal_bytes`), redoes the batches the journal holds past
    /// the last checkpoint, and starts the writer thread. Change events are sent on `events`
    /// after each commit.
    pub fn open(
        path: &Path,
        events: broadcast::Sender<ChangeEvent>,
        cache_bytes: usize,
        journal_bytes: u64,
    ) -> Result<RedbStore, Error> {
        Self::open_with(path, events, cache_bytes, journal_bytes, Tuning::default())
    }

    /// `open`, with the writer's timings and bounds.
    fn open_with(
        path: &Path,
        events: broadcast::Sender<ChangeEvent>,
        cache_bytes: usize,
        journal_bytes: u64,
        tuning: Tuning,
    ) -> Result<RedbStore, Error> {
        let file = super::journal::open_private(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let backend = ::redb::backends::FileBackend::new(file).map_err(|e| match e {
            ::redb::DatabaseError::DatabaseAlreadyOpen => {
                Error::InUse(path.parent().unwrap_or(path).to_owned())
            }
            other => Error::Store(StoreError::from(other)),
        })?;
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create_with_backend(backend)
            .map_err(|e| match e {
                ::redb::DatabaseError::DatabaseAlreadyOpen => {
                    Error::InUse(path.parent().unwrap_or(path).to_owned())
                }
                other => Error::Store(StoreError::from(other)),
            })?;
        let txn = db.begin_write().map_err(StoreError::from)?;
        {
            txn.open_table(TOKENS).map_err(StoreError::from)?;
            txn.open_table(NAMES).map_err(StoreError::from)?;
            txn.open_table(HOSTS).map_err(StoreError::from)?;
            txn.open_table(TOKEN_HOSTS).map_err(StoreError::from)?;
            txn.open_table(HOST_KEYS).map_err(StoreError::from)?;
            txn.open_table(AUDIT).map_err(StoreError::from)?;
            txn.open_table(AUDIT_BY_TARGET).map_err(StoreError::from)?;
            txn.open_table(META).map_err(StoreError::from)?;
            txn.open_table(API_TOKENS).map_err(StoreError::from)?;
            txn.open_table(API_TOKEN_NAMES).map_err(StoreError::from)?;
        }
        txn.commit().map_err(StoreError::from)?;
        let journal_path = path.with_extension("journal");
        let journal_err = |e| Error::io(format!("opening {}", journal_path.display()), e);
        let mut journal = Journal::open(&journal_path).map_err(journal_err)?;
        let seq = replay(&db, &mut journal, journal_bytes)?;
        let db = std::sync::Arc::new(db);
        let (tx, rx) = mpsc::channel::<Job>();
        let (synced, synced_rx) = mpsc::channel::<Synced>();
        let counters = std::sync::Arc::new(Counters::default());
        let visibility = std::sync::Arc::new(Visibility::new(seq));
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
            synced,
            visibility: visibility.clone(),
        };
        let journal_visibility = visibility.clone();
        // A panic in either thread stops the process like any other failed write (`fail_stop`).
        std::thread::Builder::new()
            .name("gatepass-journal".into())
            .spawn(move || {
                let run = || journal_thread(journal, synced_rx, events, &journal_visibility);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                    fail_stop("the journal thread panicked", &"see above");
                }
            })
            .map_err(|e| Error::io("starting the journal thread", e))?;
        std::thread::Builder::new()
            .name("gatepass-writer".into())
            .spawn(move || {
                let run = || writer.run(rx);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                    fail_stop("the writer thread panicked", &"see above");
                }
            })
            .map_err(|e| Error::io("starting the writer thread", e))?;
        Ok(RedbStore {
            db,
            counters,
            visibility,
            queue: tx,
            parallel_list: PARALLEL_LIST,
        })
    }

    /// Runs `f` inside the next write batch and waits until that batch is durable.
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
        let job: Job = Box::new(move |batch| {
            batch.visible_now |= visible_now;
            let result = f(batch);
            let fatal = matches!(&result, Err(e) if e.is_backend());
            let reply: Reply = Box::new(move |commit| {
                answer(match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Backend(e)),
                });
            });
            (fatal, reply)
        });
        self.queue
            .send(job)
            .map_err(|_| StoreError::Backend("the writer has stopped".into()))
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
        rx.recv()
            .map_err(|_| StoreError::Backend("the write batch was aborted".into()))?
    }

    /// A redemption, whose answer is awaited: no thread waits for the commit.
    fn write_queued<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Queued<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let on_answer = move |r| {
            let _ = tx.send(r);
        };
        let queued = self.enqueue(f, on_answer, false);
        Queued { rx, queued }
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
    fn read_committed<T>(
        &self,
        f: impl FnOnce(&::redb::ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_read()?;
        self.visibility.wait_durable()?;
        f(&txn)
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
                Err(e) if e.is_backend() && tries < 3 => tries += 1,
                done => return done,
            }
        }
    }

    /// Test hook: rewrites one stored audit event (or removes it with `None`) behind the chain's
    /// back, so tests can prove that `verify_audit` notices.
    pub fn tamper_audit(
        &self,
        seq: u64,
        replacement: Option<AuditEvent>,
    ) -> Result<(), StoreError> {
        self.write(move |b| {
            let value = replacement.map(|ev| serde_json::to_vec(&ev)).transpose()?;
            b.op(Tbl::Audit, &seq.to_le_bytes(), value.as_deref())
        })
    }
}

/// The writer thread's state. It runs batches one after another inside a write transaction and
/// hands their journal records, in order, to the journal thread, which makes them durable and
/// answers; so the next batch is built while the last one's record is written. The transaction
/// stays open across batches (each page a burst touches is copied once, not once per batch) and
/// is committed without fsync when a write or a reader needs to see it, or the commit delay
/// (`COMMIT_DELAY`) after it began; the journal makes it durable meanwhile.
struct Writer {
    db: std::sync::Arc<Database>,
    /// How long a batch that need not be visible at once may wait for the commit.
    commit_delay: Duration,
    /// Most redemptions journaled between checkpoints (`MAX_REPLAY_REDEMPTIONS`).
    max_replay: u64,
    /// Where change events go: the writer only builds them while someone listens.
    events: broadcast::Sender<ChangeEvent>,
    /// The open transaction, when it holds answered (or about to be) batches, and when it began.
    open: Option<(WriteTransaction, Instant)>,
    /// The journal records of the batches in `open`: redone into a new transaction when a
    /// later batch in it fails and the transaction must be dropped.
    held: Vec<Record>,
    /// Sequence number of the last batch journaled or checkpointed.
    seq: u64,
    /// Bytes of journal records handed over since the last checkpoint, and the room there is.
    used: u64,
    capacity: u64,
    /// Redemptions journaled (as their inputs) since the last checkpoint: a restart runs each
    /// again, so their number, not the journal's bytes, bounds how long it takes.
    redeemed: u64,
    last_checkpoint: Instant,
    synced: mpsc::Sender<Synced>,
    counters: std::sync::Arc<Counters>,
    visibility: std::sync::Arc<Visibility>,
}

/// Which batches readers may see and which are durable. The writer raises `applied` when a
/// batch is in its open transaction, `committed` just before that transaction's commit and
/// `visible` after it; the journal thread raises `durable` once a batch is on disk. A reader
/// that took its snapshot waits until `durable` reaches the `committed` it saw after.
struct Visibility {
    applied: AtomicU64,
    committed: AtomicU64,
    visible: AtomicU64,
    durable: std::sync::Mutex<u64>,
    changed: std::sync::Condvar,
    /// How many commits (batches and checkpoints) the writer has made.
    commits: AtomicU64,
    /// The tokens table as of a commit (`commits` then), for the redeem pre-check: a read
    /// transaction and a table opened per request cost more than the look-up. Used only while
    /// `commits` has not moved; the writer drops it at each commit when it can, so an idle
    /// daemon keeps no old snapshot's pages from being reused.
    peek: std::sync::Mutex<Option<(u64, PeekTable)>>,
}

type PeekTable = std::sync::Arc<::redb::ReadOnlyTable<&'static str, &'static [u8]>>;

impl std::fmt::Debug for Visibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Visibility")
            .field("applied", &self.applied)
            .field("committed", &self.committed)
            .field("visible", &self.visible)
            .field("durable", &self.durable.try_lock().map(|d| *d).ok())
            .field("commits", &self.commits)
            .finish_non_exhaustive()
    }
}

/// Longer than any journal write takes; past it a read fails instead of hanging.
const DURABLE_WAIT: Duration = Duration::from_secs(30);

impl Visibility {
    fn new(seq: u64) -> Visibility {
        Visibility {
            applied: AtomicU64::new(seq),
            committed: AtomicU64::new(seq),
            visible: AtomicU64::new(seq),
            durable: std::sync::Mutex::new(seq),
            changed: std::sync::Condvar::new(),
            commits: AtomicU64::new(0),
            peek: std::sync::Mutex::new(None),
        }
    }

    /// A commit made `seq` visible (a checkpoint may leave `seq` where it was: every commit
    /// counts in `commits`, which is what the pre-check's table is checked against).
    fn set_visible(&self, seq: u64) {
        self.visible.store(seq, Ordering::SeqCst);
        self.commits.fetch_add(1, Ordering::SeqCst);
        // Only so an idle daemon holds no old snapshot: skipped when a pre-check holds the
        // slot, which then sees the count has moved.
        if let Ok(mut peek) = self.peek.try_lock() {
            *peek = None;
        }
    }

    /// The tokens table as of the last commit (or a later one).
    fn peek_table(&self, db: &Database) -> Result<PeekTable, StoreError> {
        // Only a cache: a panic elsewhere while it was held leaves nothing to distrust.
        let mut slot = self.peek.lock().unwrap_or_else(|p| p.into_inner());
        // Read before the snapshot is taken: a commit in between leaves the table marked older
        // than it is (opened again next time), never newer.
        let commits = self.commits.load(Ordering::SeqCst);
        if let Some((seen, table)) = &*slot
            && *seen == commits
        {
            return Ok(table.clone());
        }
        let table = std::sync::Arc::new(db.begin_read()?.open_table(TOKENS)?);
        *slot = Some((commits, table.clone()));
        Ok(table)
    }

    fn wait_durable(&self) -> Result<(), StoreError> {
        let need = self.committed.load(Ordering::SeqCst);
        let lock = self
            .durable
            .lock()
            .map_err(|_| StoreError::Backend("the journal thread failed".into()))?;
        let (durable, timeout) = self
            .changed
            .wait_timeout_while(lock, DURABLE_WAIT, |d| *d < need)
            .map_err(|_| StoreError::Backend("the journal thread failed".into()))?;
        if timeout.timed_out() && *durable < need {
            return Err(StoreError::Backend("the journal is not answering".into()));
        }
        Ok(())
    }

    fn set_durable(&self, seq: u64) {
        if let Ok(mut d) = self.durable.lock() {
            *d = (*d).max(seq);
        }
        self.changed.notify_all();
    }
}

/// Stops the process after a failed commit or journal write. What readers may have seen, or
/// what later batches were built on, is then not known to be on disk; carrying on (or closing
/// the database cleanly, which would make it durable) could leave a store that no replay makes
/// whole. A restart recovers the last checkpoint plus every journal record that is whole.
fn fail_stop(what: &str, e: &dyn std::fmt::Display) -> ! {
    tracing::error!(error = %e, "{what}; stopping so that a restart recovers from the journal");
    crate::logging::flush();
    eprintln!("gatepassd: {what}: {e}; stopping so that a restart recovers from the journal");
    std::process::abort()
}

/// The writer's counters, read by `durability_stats`.
#[derive(Debug, Default)]
struct Counters {
    journaled: AtomicU64,
    checkpoints: AtomicU64,
    journal_bytes: AtomicU64,
}

/// A committed batch on its way to its callers, in commit order.
struct Synced {
    /// The batch's journal record, or `None` for a checkpoint (durable already, with everything
    /// before it: the journal starts over) or a batch that changed nothing.
    record: Option<(u64, Record)>,
    checkpoint: bool,
    /// The writer's sequence number when it handed this over: durable once this item is.
    upto: u64,
    replies: Vec<Reply>,
    changes: Vec<ChangeEvent>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
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
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start a write transaction");
                        continue;
                    }
                },
            };
            let mut replies = Vec::with_capacity(jobs.len());
            let mut failed = false;
            // The batch borrows the transaction for its tables, which close (handing their
            // roots back to the transaction) when it ends with this block.
            let (events, log, checkpoint, visible_now, redemptions) = {
                let mut batch = Batch::new(&txn, self.events.receiver_count() > 0);
                for job in jobs {
                    let (fatal, reply) = job(&mut batch);
                    replies.push(reply);
                    if fatal {
                        failed = true;
                        break;
                    }
                }
                if !failed && let Err(e) = batch.store_head() {
                    tracing::error!(error = %e, "cannot store the audit chain's head");
                    failed = true;
                }
                (
                    batch.events,
                    batch.log,
                    batch.checkpoint,
                    batch.visible_now,
                    batch.redemptions,
                )
            };
            if failed {
                // Nothing of the batch is kept: its callers learn so now. The batches before it
                // in the same transaction are redone into a new one.
                let _ = txn.abort();
                for reply in replies {
                    reply(Err("a storage error aborted the batch".to_string()));
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
            && self.last_checkpoint.elapsed() < CHECKPOINT_EVERY
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
            fail_stop("a checkpoint could not be committed", &e);
        }
        (None, true)
    }

    /// Commits the open transaction without fsync: its batches are journaled (or on their way).
    /// A failed commit stops the process (`fail_stop`).
    fn commit(&mut self, mut txn: WriteTransaction) {
        self.visibility.committed.store(self.seq, Ordering::SeqCst);
        if let Err(e) = txn.set_durability(Durability::None) {
            fail_stop("a write batch could not be committed", &e);
        }
        if let Err(e) = txn.commit() {
            fail_stop("a write batch could not be committed", &e);
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
            Err(e) => fail_stop("the batches before a failed one could not be redone", &e),
        }
    }

    /// A durable commit that also records the last batch the database holds.
    fn checkpoint(&mut self, mut txn: WriteTransaction) -> Result<(), StoreError> {
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
            fail_stop("a checkpoint could not be committed", &e);
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
            fail_stop("the journal thread has stopped", &"no receiver");
        }
    }
}

/// The journal thread: takes every committed batch waiting, writes their records with one
/// write and one fdatasync, then answers their callers and announces their changes, in order.
fn journal_thread(
    mut journal: Journal,
    rx: mpsc::Receiver<Synced>,
    events: broadcast::Sender<ChangeEvent>,
    visibility: &Visibility,
) {
    while let Ok(first) = rx.recv() {
        let mut items = vec![first];
        while let Ok(more) = rx.try_recv() {
            items.push(more);
        }
        // Whatever precedes the last checkpoint is durable through it; the rest is journaled
        // from the start of the file.
        let fresh = match items.iter().rposition(|i| i.checkpoint) {
            Some(k) => {
                journal.reset();
                k + 1
            }
            None => 0,
        };
        let records: Vec<(u64, &[u8])> = items[fresh..]
            .iter()
            .filter_map(|i| i.record.as_ref().map(|(seq, log)| (*seq, log.as_slice())))
            .collect();
        if !records.is_empty() {
            match journal.append_all(&records) {
                Ok(true) => {}
                Ok(false) => fail_stop("the journal write", &"a record did not fit"),
                Err(e) => fail_stop("the journal write failed", &e),
            }
        } else if fresh > 0 {
            // Only an optimisation (replay skips what a checkpoint holds): failing it is harmless.
            if let Err(e) = journal.clear_head() {
                tracing::warn!(error = %e, "could not clear the journal's head");
            }
        }
        if let Some(upto) = items.iter().map(|i| i.upto).max() {
            visibility.set_durable(upto);
        }
        for item in items {
            for reply in item.replies {
                reply(Ok(()));
            }
            for c in item.changes {
                let _ = events.send(c); // no listeners is fine
            }
        }
    }
}

/// Redoes the journal's batches past the database's last checkpoint, then sizes the journal to
/// `capacity`. Returns the sequence number the next batch follows.
///
/// The number recorded at the end is raised past every sequence number the old file could
/// hold, so no record left over in it (one behind a torn write, say) can ever pass for a new
/// one. A database that records no number has never had this journal (it is new, or the file
/// beside it belongs to another): the journal is discarded, not replayed.
fn replay(db: &Database, journal: &mut Journal, capacity: u64) -> Result<u64, Error> {
    let txn = db.begin_write().map_err(StoreError::from)?;
    let after = match txn
        .open_table(META)
        .map_err(StoreError::from)?
        .get(JOURNAL_SEQ)
    {
        Ok(Some(v)) => Some(u64::from_le_bytes(
            v.value().try_into().map_err(|_| damaged())?,
        )),
        Ok(None) => None,
        Err(e) => return Err(StoreError::from(e).into()),
    };
    let last = match after {
        Some(after) => journal.replay(after, |_, record| replay_record(&txn, record))?,
        None => 0,
    };
    let base = last.saturating_add(journal.max_records()).saturating_add(1);
    if after.is_none() {
        // Zeroed before the number is stored: a crash in between must not leave a database
        // that would replay another's records.
        journal
            .resize(capacity, true)
            .map_err(|e| Error::io("sizing the journal", e))?;
    }
    txn.open_table(META)
        .map_err(StoreError::from)?
        .insert(JOURNAL_SEQ, base.to_le_bytes().as_slice())
        .map_err(StoreError::from)?;
    txn.commit().map_err(StoreError::from)?;
    if let Some(after) = after
        && last > after
    {
        tracing::info!(
            batches = last - after,
            "redid the journal's batches after the last checkpoint"
        );
    }
    if after.is_some() {
        journal
            .resize(capacity, false)
            .map_err(|e| Error::io("sizing the journal", e))?;
    }
    Ok(base)
}

fn get_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(bytes)?)
}

/// Appends a length-prefixed (u32, little-endian) field to a journal record.
fn put_field(log: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| StoreError::Backend("a record is too large".into()))?;
    log.extend_from_slice(&len.to_le_bytes());
    log.extend_from_slice(bytes);
    Ok(())
}

impl<'t> Batch<'t> {
    fn new(txn: &'t WriteTransaction, listening: bool) -> Batch<'t> {
        Batch {
            tables: Tables::new(txn),
            events: Vec::new(),
            log: Vec::new(),
            checkpoint: false,
            visible_now: false,
            listening,
            head: None,
            redemptions: 0,
            logging: true,
            wrote_since_redeem: false,
        }
    }
}

impl Batch<'_> {
    /// Puts (`Some`) or removes a key, in the transaction and in the batch's journal record.
    fn op(&mut self, table: Tbl, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        if self.logging {
            self.log
                .push(table.tag() | if value.is_some() { PUT } else { 0 });
            put_field(&mut self.log, key)?;
            if let Some(v) = value {
                put_field(&mut self.log, v)?;
            }
            self.wrote_since_redeem = true;
        }
        apply_op(&mut self.tables, table, key, value)
    }

    fn put(&mut self, table: Tbl, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.op(table, key.as_bytes(), Some(value))
    }

    fn del(&mut self, table: Tbl, key: &str) -> Result<(), StoreError> {
        self.op(table, key.as_bytes(), None)
    }

    fn token(&mut self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let v = self.tables.tokens()?.get(id)?;
        v.map(|v| decode_token(v.value())).transpose()
    }

    fn put_token(&mut self, rec: &TokenRecord, now: Timestamp) -> Result<(), StoreError> {
        self.put(Tbl::Tokens, &rec.id, &encode_token(rec))?;
        self.announce(|| ChangeEvent {
            kind: "token".into(),
            token: Some(rec.view(now)),
            token_id: Some(rec.id.clone()),
            host: None,
            audit: None,
        });
        Ok(())
    }

    /// Queues a change event for `/v1/events`, built only when someone listens. (A new
    /// listener waits, `Store::sync`, until every batch begun before it subscribed is visible,
    /// so what it lists next holds them.)
    fn announce(&mut self, event: impl FnOnce() -> ChangeEvent) {
        if self.listening {
            self.events.push(event());
        }
    }

    /// Stores the audit chain's head if this batch moved it: once per batch, not per event.
    fn store_head(&mut self) -> Result<(), StoreError> {
        if let Some(head) = self.head.take() {
            self.put(Tbl::Meta, AUDIT_HEAD, &serde_json::to_vec(&head)?)?;
        }
        Ok(())
    }

    fn audit(&mut self, d: AuditDraft) -> Result<AuditEvent, StoreError> {
        let head: AuditHead = match self.head.take() {
            Some(head) => head,
            None => match self.tables.meta()?.get(AUDIT_HEAD)? {
                Some(v) => get_json(v.value())?,
                None => AuditHead {
                    next_seq: 1,
                    last_hash: GENESIS_HASH.into(),
                },
            },
        };
        let ev = AuditEvent {
            seq: head.next_seq,
            at: d.at,
            actor: d.actor,
            action: d.action.to_owned(),
            target: d.target,
            target_name: d.target_name,
            details: d.details,
            prev_hash: head.last_hash,
        };
        // One serialization: stored, and hashed into the chain.
        let json = serde_json::to_vec(&ev)?;
        self.head = Some(AuditHead {
            next_seq: ev.seq + 1,
            last_hash: audit_hash_of(&json),
        });
        self.op(Tbl::Audit, &ev.seq.to_le_bytes(), Some(&json))?;
        if !ev.target.is_empty() {
            let key = format!("{}/{:020}", ev.target, ev.seq);
            self.put(Tbl::AuditByTarget, &key, b"")?;
        }
        self.announce(|| ChangeEvent {
            kind: "audit".into(),
            token: None,
            token_id: None,
            host: None,
            audit: Some(ev.clone()),
        });
        Ok(ev)
    }

    /// A redemption, journaled as its inputs (`codec::encode_attempt`) rather than as the
    /// table writes it makes: a replay runs it again (`replay_record`).
    fn redeem(&mut self, a: RedeemAttempt) -> Result<RedeemOutcome, StoreError> {
        if !self.logging {
            return self.apply_redeem(a);
        }
        if self.wrote_since_redeem && self.head.is_some() {
            // A replay drops the head it carries at a table write; store it so the replayed
            // redemption reads what this one is about to use.
            self.store_head()?;
        }
        self.log.push(REDEEM);
        put_field(&mut self.log, &codec::encode_attempt(&a)?)?;
        self.redemptions += 1;
        self.wrote_since_redeem = false;
        self.logging = false;
        let outcome = self.apply_redeem(a);
        self.logging = true;
        outcome
    }

    fn apply_redeem(&mut self, a: RedeemAttempt) -> Result<RedeemOutcome, StoreError> {
        let actor = format!("host:{}@{}", a.hostname, a.source);
        let mut details = BTreeMap::new();
        details.insert("hostname".to_string(), a.hostname.clone());
        details.insert("source".to_string(), a.source.to_string());
        let Some(mut rec) = self.token(&a.token_id)? else {
            details.insert("reason".into(), "unknown_token".into());
            let draft = AuditDraft {
                at: a.now,
                actor,
                action: "redeem_failed",
                target: a.token_id.clone(),
                target_name: None,
                details,
            };
            self.audit(draft)?;
            return Ok(RedeemOutcome::Denied(Denial::Unauthorized {
                reason: "unknown_token",
            }));
        };
        let secret_ok = crate::secrets::hash_eq(
            model::hex(&a.presented_hash).as_bytes(),
            rec.secret_hash.as_bytes(),
        );
        // A retry by the same host key within the grace window gets its enrollment back.
        if let (true, Some(fp)) = (secret_ok, &a.key_fingerprint) {
            let key = format!("{}/{}", rec.id, fp);
            let existing = self
                .tables
                .host_keys()?
                .get(key.as_str())?
                .map(|v| v.value().to_owned());
            if let Some(host_id) = existing {
                let host: Option<HostRecord> = self
                    .tables
                    .hosts()?
                    .get(host_id.as_str())?
                    .map(|v| get_json(v.value()))
                    .transpose()?;
                if let Some(host) = host
                    && model::replay_allowed(&rec, host.host.enrolled_at, a.grace_seconds, a.now)
                {
                    details.insert("host_id".into(), host.host.id.clone());
                    let draft = AuditDraft {
                        at: a.now,
                        actor,
                        action: "redeem_replayed",
                        target: rec.id.clone(),
                        target_name: Some(rec.name.clone()),
                        details,
                    };
                    self.audit(draft)?;
                    return Ok(RedeemOutcome::Replayed {
                        host: Box::new(host),
                    });
                }
            }
        }
        if let Err(denial) = model::check_redeem(&rec, &a.presented_hash, a.source, a.now) {
            details.insert("reason".into(), denial.reason().into());
            let draft = AuditDraft {
                at: a.now,
                actor,
                action: "redeem_failed",
                target: rec.id.clone(),
                target_name: Some(rec.name.clone()),
                details,
            };
            self.audit(draft)?;
            return Ok(RedeemOutcome::Denied(denial));
        }
        rec.uses += 1;
        rec.hosts += 1;
        rec.last_used_at = Some(a.now);
        rec.last_used_by = Some(format!("{} ({})", a.hostname, a.source));
        let host = HostRecord {
            host: Host {
                id: a.host_id.clone(),
                hostname: a.hostname.clone(),
                token_id: rec.id.clone(),
                token_name: rec.name.clone(),
                group: rec.group.clone(),
                labels: rec.labels.clone(),
                owner: rec.owner.clone(),
                source_addr: a.source.to_string(),
                enrolled_at: a.now,
                key_fingerprint: a.key_fingerprint.clone(),
                facts: a.facts,
            },
            cert_pem: a.cert_pem,
        };
        self.put_token(&rec, a.now)?;
        self.put(Tbl::Hosts, &host.host.id, &serde_json::to_vec(&host)?)?;
        let th = format!("{}/{}", rec.id, host.host.id);
        self.put(Tbl::TokenHosts, &th, b"")?;
        if let Some(fp) = &a.key_fingerprint {
            let key = format!("{}/{}", rec.id, fp);
            self.put(Tbl::HostKeys, &key, host.host.id.as_bytes())?;
        }
        details.insert("host_id".into(), host.host.id.clone());
        details.insert("uses".into(), format!("{}/{}", rec.uses, rec.max_uses));
        let draft = AuditDraft {
            at: a.now,
            actor,
            action: "redeemed",
            target: rec.id.clone(),
            target_name: Some(rec.name.clone()),
            details,
        };
        self.audit(draft)?;
        self.announce(|| ChangeEvent {
            kind: "host".into(),
            token: None,
            token_id: Some(rec.id.clone()),
            host: Some(host.host.clone()),
            audit: None,
        });
        Ok(RedeemOutcome::Enrolled {
            host: Box::new(host),
            token: Box::new(rec),
        })
    }
}

/// An audit action and its details, produced by a token change.
type AuditAction = (&'static str, BTreeMap<String, String>);

fn change_details(change: &TokenChange, before: &TokenRecord) -> (Vec<AuditAction>, TokenRecord) {
    let mut after = before.clone();
    let mut actions = Vec::new();
    match change {
        TokenChange::Revoke => {}
        TokenChange::Patch {
            description,
            labels,
            disabled,
            expires_at,
        } => {
            let mut changed = BTreeMap::new();
            if let Some(d) = description
                && *d != before.description
            {
                changed.insert("description".to_string(), d.clone());
                after.description = d.clone();
            }
            if let Some(l) = labels
                && *l != before.labels
            {
                let text = l
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                changed.insert("labels".to_string(), text);
                after.labels = l.clone();
            }
            if let Some(e) = expires_at
                && *e != before.expires_at
            {
                let text = e.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
                changed.insert("expires_at".to_string(), text);
                after.expires_at = *e;
            }
            if !changed.is_empty() {
                actions.push(("updated", changed));
            }
            if let Some(d) = disabled
                && *d != before.disabled
            {
                after.disabled = *d;
                actions.push((if *d { "disabled" } else { "enabled" }, BTreeMap::new()));
            }
        }
    }
    (actions, after)
}

impl Store for RedbStore {
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
        }
    }

    fn create_token(&self, token: TokenRecord) -> Result<TokenRecord, StoreError> {
        self.write(move |b| {
            if b.tables.names()?.get(token.name.as_str())?.is_some() {
                return Err(StoreError::NameTaken(token.name.clone()));
            }
            if b.token(&token.id)?.is_some() {
                return Err(StoreError::Conflict("token id collision; try again".into()));
            }
            // Look-ups try ids first: a name that is another token's id would stand for it.
            if gatepass_protocol::token::looks_like_id(&token.name)
                && b.tables.tokens()?.get(token.name.as_str())?.is_some()
            {
                return Err(StoreError::Conflict(format!(
                    "the name {:?} is another token's id; choose another name",
                    token.name
                )));
            }
            b.put(Tbl::Names, &token.name, token.id.as_bytes())?;
            b.put_token(&token, token.created_at)?;
            let mut details = BTreeMap::new();
            details.insert("max_uses".to_string(), token.max_uses.to_string());
            details.insert("owner".to_string(), token.owner.clone());
            details.insert(
                "expires_at".to_string(),
                token
                    .expires_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into()),
            );
            if let Some(g) = &token.group {
                details.insert("group".to_string(), g.clone());
            }
            // What the token hands its hosts, and where and from when it may be redeemed.
            if !token.labels.is_empty() {
                // As a JSON object: a value holding ", k=v" cannot pass for another label.
                details.insert("labels".to_string(), serde_json::to_string(&token.labels)?);
            }
            if !token.allowed_cidrs.is_empty() {
                details.insert("allowed_cidrs".to_string(), token.allowed_cidrs.join(", "));
            }
            if let Some(nb) = token.not_before {
                details.insert("not_before".to_string(), nb.to_rfc3339());
            }
            b.audit(AuditDraft {
                at: token.created_at,
                actor: token.created_by.clone(),
                action: "created",
                target: token.id.clone(),
                target_name: Some(token.name.clone()),
                details,
            })?;
            Ok(token)
        })
    }

    fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read(|r| {
            let t = r.open_table(TOKENS)?;
            let v = t.get(id)?;
            v.map(|v| decode_token(v.value())).transpose()
        })
    }

    fn peek_secret(&self, id: &str, hash_hex: &str) -> Result<Option<bool>, StoreError> {
        let t = self.visibility.peek_table(&self.db)?;
        let v = t.get(id)?;
        v.map(|v| {
            with_secret_hash(v.value(), |stored| {
                crate::secrets::hash_eq(stored.as_bytes(), hash_hex.as_bytes())
            })
        })
        .transpose()
    }

    fn token_id_by_name(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|r| {
            Ok(r.open_table(NAMES)?
                .get(name)?
                .map(|v| v.value().to_owned()))
        })
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(|r| {
            let t = r.open_table(TOKENS)?;
            let mut out = Vec::with_capacity(t.len()? as usize);
            for item in t.iter()? {
                let (_, v) = item?;
                out.push(decode_token(v.value())?);
            }
            Ok(out)
        })
    }

    fn token_list(
        &self,
        now: Timestamp,
        column: SortColumn,
        keep: &(dyn Fn(&TokenKeys<'_>) -> bool + Sync),
    ) -> Result<TokenListBuilder, StoreError> {
        self.read(|r| {
            let t = r.open_table(TOKENS)?;
            let n = t.len()? as usize;
            let part = |range: Range<'_, &str, &[u8]>, n: usize| {
                let mut list = TokenListBuilder::new(column, n);
                for item in range {
                    let (_, v) = item?;
                    add_to_list(v.value(), now, keep, &mut list)?;
                }
                list.sort().map_err(damaged_list)?;
                Ok::<_, StoreError>(list)
            };
            let split = match (t.first()?, t.last()?) {
                (Some((lo, _)), Some((hi, _))) if n >= self.parallel_list => {
                    midpoint(lo.value(), hi.value())
                }
                _ => None,
            };
            let Some(mid) = split else {
                return part(t.range::<&str>(..)?, n);
            };
            // Two halves of the key space, read and sorted at once, then merged.
            #[cfg(test)]
            LISTS_SPLIT.fetch_add(1, Ordering::Relaxed);
            std::thread::scope(|scope| {
                let upper = scope.spawn(|| part(t.range(mid.as_str()..)?, n / 2));
                let lower = t
                    .range(..mid.as_str())
                    .map_err(StoreError::from)
                    .and_then(|range| part(range, n / 2));
                // Joined whatever the lower half did: a panic there is an error, not a panic
                // of the scope.
                let upper = upper
                    .join()
                    .map_err(|_| StoreError::Backend("a listing thread failed".into()));
                lower?.merge(upper??).map_err(damaged_list)
            })
        })
    }

    fn change_token(
        &self,
        id: &str,
        change: TokenChange,
        actor: &str,
        now: Timestamp,
    ) -> Result<TokenRecord, StoreError> {
        let id = id.to_owned();
        let actor = actor.to_owned();
        self.write(move |b| {
            let before = b
                .token(&id)?
                .ok_or_else(|| StoreError::NotFound(id.clone()))?;
            if before.revoked_at.is_some() {
                match &change {
                    TokenChange::Revoke => return Ok(before), // already revoked: nothing to do
                    TokenChange::Patch {
                        disabled: Some(false),
                        ..
                    }
                    | TokenChange::Patch {
                        expires_at: Some(_),
                        ..
                    } => {
                        return Err(StoreError::Conflict(format!(
                            "token {} is revoked; revocation is final",
                            before.name
                        )));
                    }
                    TokenChange::Patch { .. } => {}
                }
            }
            let (mut actions, mut after) = change_details(&change, &before);
            if change == TokenChange::Revoke {
                after.revoked_at = Some(now);
                let mut d = BTreeMap::new();
                d.insert("hosts".to_string(), before.hosts.to_string());
                actions.push(("revoked", d));
            }
            if actions.is_empty() {
                return Ok(before);
            }
            b.put_token(&after, now)?;
            for (action, details) in actions {
                b.audit(AuditDraft {
                    at: now,
                    actor: actor.clone(),
                    action,
                    target: after.id.clone(),
                    target_name: Some(after.name.clone()),
                    details,
                })?;
            }
            Ok(after)
        })
    }

    fn delete_token(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<TokenRecord, StoreError> {
        let id = id.to_owned();
        let actor = actor.to_owned();
        self.write(move |b| {
            let rec = b
                .token(&id)?
                .ok_or_else(|| StoreError::NotFound(id.clone()))?;
            b.del(Tbl::Tokens, &rec.id)?;
            b.del(Tbl::Names, &rec.name)?;
            let mut details = BTreeMap::new();
            details.insert("status".to_string(), rec.status(now).to_string());
            details.insert("uses".to_string(), rec.uses.to_string());
            details.insert("hosts".to_string(), rec.hosts.to_string());
            b.audit(AuditDraft {
                at: now,
                actor,
                action: "deleted",
                target: rec.id.clone(),
                target_name: Some(rec.name.clone()),
                details,
            })?;
            b.announce(|| ChangeEvent {
                kind: "token_deleted".into(),
                token: None,
                token_id: Some(rec.id.clone()),
                host: None,
                audit: None,
            });
            Ok(rec)
        })
    }

    fn redeem(&self, attempt: RedeemAttempt) -> Result<RedeemOutcome, StoreError> {
        self.write_with(move |b| b.redeem(attempt), false)
    }

    fn redeem_queued(&self, attempt: RedeemAttempt) -> Queued<RedeemOutcome> {
        self.write_queued(move |b| b.redeem(attempt))
    }

    fn append_audit(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.write_with(move |b| b.audit(draft), false)
    }

    fn list_hosts(&self, token_id: Option<&str>) -> Result<Vec<HostRecord>, StoreError> {
        self.read(|r| {
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
        })
    }

    fn remove_host(&self, id: &str, actor: &str, now: Timestamp) -> Result<HostRecord, StoreError> {
        let id = id.to_owned();
        let actor = actor.to_owned();
        self.write(move |b| {
            let host: HostRecord = match b.tables.hosts()?.get(id.as_str())? {
                Some(v) => get_json(v.value())?,
                None => return Err(StoreError::NotFound(format!("host {id}"))),
            };
            let h = &host.host;
            b.del(Tbl::Hosts, &h.id)?;
            b.del(Tbl::TokenHosts, &format!("{}/{}", h.token_id, h.id))?;
            if let Some(fp) = &h.key_fingerprint {
                b.del(Tbl::HostKeys, &format!("{}/{}", h.token_id, fp))?;
            }
            if let Some(mut t) = b.token(&h.token_id)? {
                t.hosts = t.hosts.saturating_sub(1);
                b.put_token(&t, now)?;
            }
            let mut details = BTreeMap::new();
            details.insert("host_id".to_string(), h.id.clone());
            details.insert("hostname".to_string(), h.hostname.clone());
            b.audit(AuditDraft {
                at: now,
                actor,
                action: "host_removed",
                target: h.token_id.clone(),
                target_name: Some(h.token_name.clone()),
                details,
            })?;
            Ok(host)
        })
    }

    fn create_api_token(&self, token: ApiTokenRecord) -> Result<ApiTokenRecord, StoreError> {
        self.write(move |b| {
            let t = &token.token;
            let name_key = format!("{}/{}", t.user, t.name);
            if b.tables
                .api_token_names()?
                .get(name_key.as_str())?
                .is_some()
            {
                return Err(StoreError::NameTaken(t.name.clone()));
            }
            if b.tables.api_tokens()?.get(t.id.as_str())?.is_some() {
                return Err(StoreError::Conflict("token id collision; try again".into()));
            }
            b.put(Tbl::ApiTokenNames, &name_key, t.id.as_bytes())?;
            b.put(Tbl::ApiTokens, &t.id, &serde_json::to_vec(&token)?)?;
            let mut details = BTreeMap::new();
            details.insert("name".to_string(), t.name.clone());
            details.insert("expires_at".to_string(), t.expires_at.to_rfc3339());
            if let Some(p) = &t.path_prefix {
                details.insert("path_prefix".to_string(), p.clone());
            }
            if let Some(r) = &t.referrer {
                details.insert("referrer".to_string(), r.clone());
            }
            b.audit(AuditDraft {
                at: t.created_at,
                actor: t.user.clone(),
                action: "api_token_created",
                target: t.id.clone(),
                target_name: Some(t.name.clone()),
                details,
            })?;
            Ok(token)
        })
    }

    fn get_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        // Checked on every admin request; API tokens are never held back by the writer.
        self.read_committed(|r| {
            r.open_table(API_TOKENS)?
                .get(id)?
                .map(|v| get_json(v.value()))
                .transpose()
        })
    }

    fn list_api_tokens(&self, user: Option<&str>) -> Result<Vec<ApiTokenRecord>, StoreError> {
        self.read_committed(|r| {
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
        })
    }

    fn delete_api_token(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<ApiTokenRecord, StoreError> {
        let id = id.to_owned();
        let actor = actor.to_owned();
        self.write(move |b| {
            let rec: ApiTokenRecord = match b.tables.api_tokens()?.get(id.as_str())? {
                Some(v) => get_json(v.value())?,
                None => return Err(StoreError::NotFound(format!("API token {id}"))),
            };
            let t = &rec.token;
            b.del(Tbl::ApiTokens, &t.id)?;
            b.del(Tbl::ApiTokenNames, &format!("{}/{}", t.user, t.name))?;
            let mut details = BTreeMap::new();
            details.insert("user".to_string(), t.user.clone());
            b.audit(AuditDraft {
                at: now,
                actor,
                action: "api_token_deleted",
                target: t.id.clone(),
                target_name: Some(t.name.clone()),
                details,
            })?;
            Ok(rec)
        })
    }

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = q
            .limit
            .unwrap_or(DEFAULT_AUDIT_LIMIT)
            .clamp(1, MAX_AUDIT_LIMIT);
        let after = q.after.unwrap_or(0);
        self.read(|r| {
            let audit = r.open_table(AUDIT)?;
            let keep = |ev: &AuditEvent| {
                q.since.is_none_or(|s| ev.at >= s)
                    && q.actor.as_ref().is_none_or(|a| &ev.actor == a)
            };
            let mut out = Vec::new();
            match &q.token {
                Some(target) => {
                    let start = format!("{target}/{:020}", after.saturating_add(1));
                    let end = format!("{target}0");
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
                    for item in audit.range(after.saturating_add(1)..)?.rev() {
                        let ev: AuditEvent = get_json(item?.1.value())?;
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
        })
    }

    fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        self.read(|r| {
            let audit = r.open_table(AUDIT)?;
            let head: Option<AuditHead> =
                r.open_table(META)?.get(AUDIT_HEAD)?.map(|v| get_json(v.value())).transpose()?;
            let mut expected_seq = 1u64;
            let mut prev_hash = GENESIS_HASH.to_string();
            let mut count = 0u64;
            for item in audit.iter()? {
                let (k, v) = item?;
                let seq = k.value();
                let bad = |problem: String| AuditCheck { events: count, first_bad: Some(seq), problem: Some(problem) };
                let ev: AuditEvent = match serde_json::from_slice(v.value()) {
                    Ok(ev) => ev,
                    Err(_) => return Ok(bad(format!("event {seq} cannot be read"))),
                };
                if seq != expected_seq {
                    return Ok(bad(format!("events {expected_seq}..{} are missing", seq - 1)));
                }
                if ev.seq != seq || ev.prev_hash != prev_hash {
                    let problem = format!("event {seq} does not follow from event {}: it or its predecessor was altered", seq.saturating_sub(1));
                    return Ok(bad(problem));
                }
                prev_hash = audit_hash(&ev);
                expected_seq += 1;
                count += 1;
            }
            if let Some(h) = head
                && (h.next_seq != expected_seq || h.last_hash != prev_hash) {
                    return Ok(AuditCheck {
                        events: count,
                        first_bad: Some(expected_seq.min(h.next_seq.saturating_sub(1)).max(1)),
                        problem: Some(format!(
                            "the log ends at event {} but {} were written: the newest events were removed or altered",
                            expected_seq - 1,
                            h.next_seq - 1
                        )),
                    });
                }
            Ok(AuditCheck { events: count, first_bad: None, problem: None })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal record that puts `key` → `value` into the META table.
    fn put_meta(key: &str, value: &str) -> Vec<u8> {
        let mut p = vec![Tbl::Meta.tag() | PUT];
        for field in [key.as_bytes(), value.as_bytes()] {
            p.extend_from_slice(&(field.len() as u32).to_le_bytes());
            p.extend_from_slice(field);
        }
        p
    }

    fn meta(db: &Database, key: &str) -> Option<Vec<u8>> {
        let r = db.begin_read().unwrap();
        let t = r.open_table(META).unwrap();
        t.get(key).unwrap().map(|v| v.value().to_vec())
    }

    fn database(dir: &tempfile::TempDir, journal_seq: Option<u64>) -> Database {
        let db = Database::create(dir.path().join("db.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        if let Some(seq) = journal_seq {
            txn.open_table(META)
                .unwrap()
                .insert(JOURNAL_SEQ, seq.to_le_bytes().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
        db
    }

    #[test]
    fn a_record_left_behind_a_torn_one_is_never_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir, Some(100));
        let path = dir.path().join("db.journal");
        let mut j = Journal::open(&path).unwrap();
        j.resize(4096, false).unwrap();
        // 101 and 102 written together; the crash tore 101 but left 102 whole.
        j.append(101, &put_meta("a", "torn")).unwrap().unwrap();
        let second = j.append(102, &put_meta("b", "left")).unwrap().unwrap();
        let file = journal::open_private(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, b"X", second - 1).unwrap();

        let mut j = Journal::open(&path).unwrap();
        let base = replay(&db, &mut j, 4096).unwrap();
        assert!(
            base > 102,
            "the next batches must not reuse 101 or 102: {base}"
        );
        // A new round writes a record where the torn one was; later restarts find 102 behind
        // it again, and must not take it for the next batch.
        // Same length as the torn record, so the old 102 lines up right behind it.
        j.append(base + 1, &put_meta("c", "newx")).unwrap().unwrap();
        let mut j = Journal::open(&path).unwrap();
        let next = replay(&db, &mut j, 4096).unwrap();
        assert_eq!(meta(&db, "c").as_deref(), Some(b"newx".as_slice()));
        assert_eq!(meta(&db, "a"), None);
        assert_eq!(meta(&db, "b"), None, "a leftover record was replayed");
        let mut j = Journal::open(&path).unwrap();
        replay(&db, &mut j, 4096).unwrap();
        assert_eq!(meta(&db, "b"), None);
        assert!(next > base + 1);
    }

    #[test]
    fn a_journal_beside_a_database_that_never_had_it_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.journal");
        let mut j = Journal::open(&path).unwrap();
        j.resize(4096, false).unwrap();
        j.append(1, &put_meta("old", "record")).unwrap().unwrap();
        // A new database (the old one was deleted) with the old journal beside it.
        let db = database(&dir, None);
        let mut j = Journal::open(&path).unwrap();
        replay(&db, &mut j, 8192).unwrap();
        assert_eq!(meta(&db, "old"), None);
        let mut j = Journal::open(&path).unwrap();
        replay(&db, &mut j, 8192).unwrap();
        assert_eq!(meta(&db, "old"), None);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8192);
    }

    #[test]
    fn a_journal_made_smaller_or_turned_off_keeps_nothing_beyond_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir, Some(0));
        let path = dir.path().join("db.journal");
        let mut j = Journal::open(&path).unwrap();
        j.resize(1 << 20, false).unwrap();
        j.append(1, &put_meta("kept", "yes")).unwrap().unwrap();
        let mut j = Journal::open(&path).unwrap();
        replay(&db, &mut j, 0).unwrap();
        assert_eq!(meta(&db, "kept").as_deref(), Some(b"yes".as_slice()));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    fn draft(i: u64) -> AuditDraft {
        AuditDraft {
            at: Timestamp(1_000 + i as i64),
            actor: format!("user{i}"),
            action: "created",
            target: format!("tok{i}"),
            target_name: None,
            details: BTreeMap::new(),
        }
    }

    fn store_with_events(n: u64) -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _) = broadcast::channel(16);
        let store = RedbStore::open(&dir.path().join("db.redb"), tx, 1 << 20, 1 << 20).unwrap();
        for i in 0..n {
            store.append_audit(draft(i)).unwrap();
        }
        (dir, store)
    }

    /// A store whose writer never commits on its own: what it holds stays held until a read
    /// or a write that must be seen asks for it.
    /// Batches wait in the open transaction for an hour (until a read or another write).
    fn held_long() -> Tuning {
        Tuning {
            commit_delay: Duration::from_secs(3600),
            ..Tuning::default()
        }
    }

    fn holding_store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _) = broadcast::channel(16);
        let path = dir.path().join("db.redb");
        let store = RedbStore::open_with(&path, tx, 1 << 20, 1 << 20, held_long()).unwrap();
        (dir, store)
    }

    fn read_meta(s: &RedbStore, key: &str) -> Option<Vec<u8>> {
        s.read(|r| Ok(r.open_table(META)?.get(key)?.map(|v| v.value().to_vec())))
            .unwrap()
    }

    fn held(s: &RedbStore) -> bool {
        s.visibility.visible.load(Ordering::SeqCst) < s.visibility.applied.load(Ordering::SeqCst)
    }

    #[test]
    fn an_answered_redemption_is_seen_by_the_next_read() {
        let (_d, s) = holding_store();
        s.write_with(|b| b.put(Tbl::Meta, "a", b"1"), false)
            .unwrap();
        assert!(
            held(&s),
            "a deferred write should wait in the open transaction"
        );
        let seen_before = s.db.begin_read().unwrap();
        assert!(
            seen_before
                .open_table(META)
                .unwrap()
                .get("a")
                .unwrap()
                .is_none()
        );
        assert_eq!(read_meta(&s, "a").as_deref(), Some(b"1".as_slice()));
        assert!(!held(&s), "the read should have had the writer commit");
        // A new change-event listener's sync commits what is held.
        s.write_with(|b| b.put(Tbl::Meta, "x", b"0"), false)
            .unwrap();
        assert!(held(&s));
        s.sync().unwrap();
        assert!(!held(&s), "sync should have had the writer commit");
        // A write that must be seen at once commits what was held with it.
        s.write_with(|b| b.put(Tbl::Meta, "b", b"2"), false)
            .unwrap();
        s.write(|b| b.put(Tbl::Meta, "c", b"3")).unwrap();
        assert!(!held(&s));
        let r = s.db.begin_read().unwrap();
        assert!(r.open_table(META).unwrap().get("b").unwrap().is_some());
    }

    #[test]
    fn a_failed_batch_keeps_the_answered_ones_before_it() {
        let (_d, s) = holding_store();
        s.write_with(|b| b.put(Tbl::Meta, "a", b"1"), false)
            .unwrap();
        assert!(held(&s));
        let failed = s.write_with(
            |b| {
                b.put(Tbl::Meta, "b", b"2")?;
                Err::<(), _>(StoreError::Backend("disk on fire".into()))
            },
            false,
        );
        assert!(matches!(failed, Err(StoreError::Backend(_))));
        s.write_with(|b| b.put(Tbl::Meta, "c", b"3"), false)
            .unwrap();
        assert_eq!(read_meta(&s, "a").as_deref(), Some(b"1".as_slice()));
        assert_eq!(
            read_meta(&s, "b"),
            None,
            "the failed batch left a change behind"
        );
        assert_eq!(read_meta(&s, "c").as_deref(), Some(b"3".as_slice()));
        // And the redone transaction is what a checkpoint makes durable.
        s.checkpoint().unwrap();
        assert_eq!(read_meta(&s, "a").as_deref(), Some(b"1".as_slice()));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (_d, s) = store_with_events(5);
        let check = s.verify_audit().unwrap();
        assert_eq!((check.events, check.first_bad), (5, None));
    }

    #[test]
    fn an_edited_event_is_named() {
        let (_d, s) = store_with_events(5);
        let mut ev = s.audit(&AuditQuery::default()).unwrap().remove(2);
        assert_eq!(ev.seq, 3);
        ev.actor = "someone-else".into();
        s.tamper_audit(3, Some(ev)).unwrap();
        let check = s.verify_audit().unwrap();
        // Event 3 still links to event 2, but event 4 no longer follows from the edited event 3.
        assert_eq!(check.first_bad, Some(4), "{check:?}");
    }

    #[test]
    fn a_removed_event_is_named() {
        let (_d, s) = store_with_events(5);
        s.tamper_audit(2, None).unwrap();
        let check = s.verify_audit().unwrap();
        assert_eq!(check.first_bad, Some(3), "{check:?}");
        assert!(check.problem.unwrap().contains("missing"));
    }

    #[test]
    fn removing_the_newest_event_is_noticed() {
        let (_d, s) = store_with_events(5);
        s.tamper_audit(5, None).unwrap();
        let check = s.verify_audit().unwrap();
        assert!(check.first_bad.is_some(), "{check:?}");
        assert!(check.problem.unwrap().contains("newest"));
    }

    #[test]
    fn an_edited_last_event_is_noticed() {
        let (_d, s) = store_with_events(3);
        let mut ev = s.audit(&AuditQuery::default()).unwrap().remove(2);
        ev.details.insert("forged".into(), "yes".into());
        s.tamper_audit(3, Some(ev)).unwrap();
        assert!(s.verify_audit().unwrap().first_bad.is_some());
    }

    #[test]
    fn the_created_event_says_what_the_token_grants() {
        let (_d, s) = store_with_events(0);
        let mut t = token_record(1);
        t.labels.insert("plan".into(), "gold".into());
        t.labels.insert("env".into(), "prod".into());
        t.allowed_cidrs = vec!["10.0.0.0/8".into(), "192.168.1.0/24".into()];
        t.not_before = Some(Timestamp(1_800_000_000));
        s.create_token(t.clone()).unwrap();
        let ev = s.audit(&AuditQuery::default()).unwrap().remove(0);
        assert_eq!(ev.action, "created");
        let d = &ev.details;
        assert_eq!(d["labels"], r#"{"env":"prod","plan":"gold"}"#);
        assert_eq!(d["allowed_cidrs"], "10.0.0.0/8, 192.168.1.0/24");
        assert_eq!(d["not_before"], "2027-01-15T08:00:00Z");
        // A token without them gets none of these keys.
        let plain = token_record(2);
        s.create_token(plain.clone()).unwrap();
        let ev = s
            .audit(&AuditQuery::default())
            .unwrap()
            .into_iter()
            .find(|e| e.target == plain.id)
            .unwrap();
        for k in ["labels", "allowed_cidrs", "not_before"] {
            assert!(!ev.details.contains_key(k), "{k}: {ev:?}");
        }
        assert!(s.verify_audit().unwrap().first_bad.is_none());
    }

    fn token_record(i: u64) -> TokenRecord {
        use gatepass_protocol::MaxUses;
        TokenRecord {
            id: gatepass_protocol::token::random_id(gatepass_protocol::token::ID_LEN).unwrap(),
            // Names unique but alike past any sort prefix, few distinct times: many ties the
            // full comparison breaks.
            name: format!("{:0>24}-{i}", i % 7),
            description: format!("batch {}", i % 3),
            group: (!i.is_multiple_of(4)).then(|| format!("g{}", i % 5)),
            labels: BTreeMap::new(),
            owner: format!("owner{}", i % 3),
            max_uses: if i.is_multiple_of(6) {
                MaxUses::Unlimited
            } else {
                MaxUses::Limited(i % 4 + 1)
            },
            uses: i % 3,
            last_used_at: i.is_multiple_of(2).then_some(Timestamp(i as i64 % 11)),
            last_used_by: None,
            expires_at: (!i.is_multiple_of(5)).then_some(Timestamp(1_000 + i as i64 % 13)),
            created_at: Timestamp(i as i64 % 17),
            created_by: "admin".into(),
            disabled: i.is_multiple_of(9),
            revoked_at: i.is_multiple_of(10).then_some(Timestamp(5)),
            allowed_cidrs: vec![],
            not_before: None,
            hosts: i % 3,
            secret_hash: model::hex(&[i as u8; 32]),
        }
    }

    #[test]
    fn a_list_read_in_two_halves_equals_the_list_read_in_one() {
        let (_d, mut s) = holding_store();
        for i in 0..400 {
            s.create_token(token_record(i)).unwrap();
        }
        let (first, last) = s
            .read(|r| {
                let t = r.open_table(TOKENS)?;
                let key = |e: Option<(::redb::AccessGuard<&str>, _)>| {
                    e.map(|(k, _)| k.value().to_owned())
                };
                Ok((key(t.first()?), key(t.last()?)))
            })
            .unwrap();
        let (first, last) = (first.unwrap(), last.unwrap());
        let mid = midpoint(&first, &last).expect("random ids have a midpoint");
        let now = Timestamp(1_005);
        let filters: [&(dyn Fn(&TokenKeys<'_>) -> bool + Sync); 3] = [
            &|_| true,
            &|k| k.status == gatepass_protocol::TokenStatus::Active,
            &|k| k.group == Some("g1"),
        ];
        for column in SortColumn::ALL {
            for desc in [false, true] {
                for keep in filters {
                    let mut list = |parallel: usize| {
                        s.parallel_list = parallel;
                        let before = LISTS_SPLIT.load(Ordering::Relaxed);
                        let list = s.token_list(now, column, keep).unwrap();
                        let split = LISTS_SPLIT.load(Ordering::Relaxed) > before;
                        (list.finish(desc).unwrap(), split)
                    };
                    let (whole, split) = list(usize::MAX);
                    assert!(!split);
                    let (halves, split) = list(2);
                    assert!(split, "the list was not read in two halves");
                    assert_eq!(halves, whole, "{column:?} desc={desc}");
                    let tokens = gatepass_protocol::binary::decode_tokens(&halves).unwrap();
                    // The listed tokens lie on both sides of the split (both threads had work).
                    assert!(
                        tokens.iter().any(|t| t.id < mid) && tokens.iter().any(|t| t.id >= mid)
                    );
                }
            }
        }
    }

    #[test]
    fn the_pre_check_sees_every_change_committed_before_it() {
        // With the journal (batches move the sequence number) and without (every batch is a
        // checkpoint, which leaves it where it was).
        let dir = tempfile::tempdir().unwrap();
        let (tx, _) = broadcast::channel(16);
        let unjournaled =
            RedbStore::open_with(&dir.path().join("db.redb"), tx, 1 << 20, 0, held_long()).unwrap();
        let (_held, journaled) = holding_store();
        pre_check_sees_changes(&journaled);
        pre_check_sees_changes(&unjournaled);
    }

    fn pre_check_sees_changes(s: &RedbStore) {
        let mut ids = Vec::new();
        for i in 0..20 {
            let rec = token_record(i);
            let (id, hash) = (rec.id.clone(), rec.secret_hash.clone());
            s.create_token(rec).unwrap();
            // Right after the mint, whatever the pre-check looked at before.
            assert_eq!(s.peek_secret(&id, &hash).unwrap(), Some(true));
            assert_eq!(s.peek_secret(&id, &"f".repeat(64)).unwrap(), Some(false));
            ids.push(id);
        }
        for id in &ids {
            s.delete_token(id, "admin", Timestamp(9)).unwrap();
            assert_eq!(s.peek_secret(id, &"f".repeat(64)).unwrap(), None);
        }
        // A commit while a pre-check holds the cached table (the writer cannot drop it then):
        // the commit count alone sends the next pre-check to a new snapshot.
        let rec = token_record(77);
        let (id, hash) = (rec.id.clone(), rec.secret_hash.clone());
        assert_eq!(s.peek_secret(&id, &hash).unwrap(), None);
        let held = s.visibility.peek.lock().unwrap();
        s.create_token(rec).unwrap();
        drop(held);
        assert_eq!(s.peek_secret(&id, &hash).unwrap(), Some(true));
    }

    /// Every table's entries as bytes, but the journal's sequence number (a replay raises it).
    fn dump(s: &RedbStore) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        s.read(|r| {
            let mut out = Vec::new();
            macro_rules! each {
                ($($def:ident: $key:expr, $val:expr;)*) => {$(
                    for e in r.open_table($def)?.iter()? {
                        let (k, v) = e?;
                        out.push((stringify!($def), $key(k.value()), $val(v.value())));
                    }
                )*};
            }
            let bytes = |b: &[u8]| b.to_vec();
            let text = |t: &str| t.as_bytes().to_vec();
            let unit = |()| Vec::new();
            each! {
                TOKENS: text, bytes;
                NAMES: text, text;
                HOSTS: text, bytes;
                TOKEN_HOSTS: text, unit;
                HOST_KEYS: text, text;
                AUDIT: |n: u64| n.to_le_bytes().to_vec(), bytes;
                AUDIT_BY_TARGET: text, unit;
                META: text, bytes;
                API_TOKENS: text, bytes;
                API_TOKEN_NAMES: text, text;
            }
            out.retain(|(t, k, _)| !(*t == "META" && k == JOURNAL_SEQ.as_bytes()));
            Ok(out)
        })
        .unwrap()
    }

    /// Tokens 1..=n, minted into `s`, each good for two redemptions.
    fn minted(s: &RedbStore, n: u64) -> Vec<TokenRecord> {
        let tokens: Vec<TokenRecord> = (1..=n).map(redeemable).collect();
        for t in &tokens {
            s.create_token(t.clone()).unwrap();
        }
        tokens
    }

    fn redeemable(i: u64) -> TokenRecord {
        TokenRecord {
            max_uses: gatepass_protocol::MaxUses::Limited(2),
            uses: 0,
            expires_at: None,
            disabled: false,
            revoked_at: None,
            ..token_record(i)
        }
    }

    fn attempt(rec: &TokenRecord, hash: u8, n: u64, fingerprint: Option<&str>) -> RedeemAttempt {
        let facts = serde_json::json!({
            "load": 0.1 + 0.2,
            "tiny": 1.0715660391465826e-75,
            "nested": {"z": [1, "two", null, -1.603964615428183e143], "a": true},
        });
        RedeemAttempt {
            token_id: rec.id.clone(),
            presented_hash: [hash; 32],
            hostname: format!("host-{n}"),
            source: if n.is_multiple_of(2) {
                "10.1.2.3".parse().unwrap()
            } else {
                "2001:db8::7".parse().unwrap()
            },
            key_fingerprint: fingerprint.map(str::to_owned),
            facts: serde_json::from_value(facts).unwrap(),
            host_id: format!("h{n:08}"),
            cert_pem: n.is_multiple_of(3).then(|| format!("-----CERT {n}-----")),
            now: Timestamp(1_000 + n as i64),
            grace_seconds: 600,
        }
    }

    #[test]
    fn a_crash_redoes_journaled_redemptions_exactly() {
        let (dir, s) = holding_store();
        let tokens = minted(&s, 4);
        let (a, b, c) = (tokens[0].clone(), tokens[1].clone(), tokens[2].clone());
        let b2 = b.clone();
        // One batch mixing redemptions of every outcome with audit events and table writes
        // made directly, so the audit chain runs through both kinds of record.
        s.write_with(
            move |batch| {
                let draft = |n: u64| AuditDraft {
                    at: Timestamp(2_000 + n as i64),
                    actor: "admin".into(),
                    action: "note",
                    target: a.id.clone(),
                    target_name: None,
                    details: BTreeMap::new(),
                };
                let ok = |o: &RedeemOutcome| matches!(o, RedeemOutcome::Enrolled { .. });
                assert!(ok(&batch.redeem(attempt(&a, 1, 1, Some("fp1")))?));
                batch.audit(draft(1))?;
                let again = batch.redeem(attempt(&a, 1, 2, Some("fp1")))?;
                assert!(matches!(again, RedeemOutcome::Replayed { .. }));
                let wrong = batch.redeem(attempt(&a, 9, 3, None))?;
                assert!(matches!(wrong, RedeemOutcome::Denied(_)));
                batch.put(Tbl::Meta, "note", b"x")?;
                batch.audit(draft(2))?;
                assert!(ok(&batch.redeem(attempt(&b, 2, 4, None))?));
                let unknown = RedeemAttempt {
                    token_id: "NoSuchToken1".into(),
                    ..attempt(&b, 2, 5, None)
                };
                assert!(matches!(batch.redeem(unknown)?, RedeemOutcome::Denied(_)));
                Ok(())
            },
            false,
        )
        .unwrap();
        // Batches of redemptions alone, a use limit reached, an audit event between batches.
        for n in 6..9 {
            s.redeem(attempt(&c, 3, n, None)).unwrap();
        }
        s.append_audit(AuditDraft {
            at: Timestamp(3_000),
            actor: "admin".into(),
            action: "note",
            target: String::new(),
            target_name: None,
            details: BTreeMap::new(),
        })
        .unwrap();
        s.redeem(attempt(&b2, 2, 9, Some("fp9"))).unwrap();
        assert!(held(&s), "the batches should wait in the open transaction");
        let live = dump(&s);
        assert!(live.iter().any(|(t, _, _)| *t == "HOSTS"));

        // A crash now: the database file holds only the checkpoint made at open, the journal
        // every batch since.
        let copy = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), copy.path().join(f.file_name())).unwrap();
        }
        let (tx, _) = broadcast::channel(16);
        let path = copy.path().join("db.redb");
        let redone = RedbStore::open_with(&path, tx, 1 << 20, 1 << 20, held_long()).unwrap();
        let replayed = dump(&redone);
        assert_eq!(replayed.len(), live.len());
        for (l, r) in live.iter().zip(&replayed) {
            assert_eq!(l, r, "table {} differs after the replay", l.0);
        }
        assert!(redone.verify_audit().unwrap().first_bad.is_none());
    }

    /// Redemptions of every kind, with an audit event between them, left in the open
    /// transaction; then, with `fail`, a batch that fails (so the held ones are redone from
    /// their records). Returns the tables as a read then sees them.
    fn held_redemptions(
        tokens: &[TokenRecord],
        fail: bool,
    ) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        let (_d, s) = holding_store();
        for t in tokens {
            s.create_token(t.clone()).unwrap();
        }
        let (a, b) = (tokens[0].clone(), tokens[1].clone());
        s.write_with(
            move |batch| {
                batch.redeem(attempt(&a, 1, 1, Some("fp1")))?;
                batch.audit(AuditDraft {
                    at: Timestamp(2_000),
                    actor: "admin".into(),
                    action: "note",
                    target: a.id.clone(),
                    target_name: None,
                    details: BTreeMap::new(),
                })?;
                batch.redeem(attempt(&a, 1, 2, Some("fp1")))?;
                batch.redeem(attempt(&b, 2, 3, None))?;
                batch.redeem(attempt(&a, 9, 4, None))?;
                Ok(())
            },
            false,
        )
        .unwrap();
        s.redeem(attempt(&tokens[2], 3, 5, None)).unwrap();
        assert!(held(&s));
        if fail {
            let b = tokens[1].clone();
            let failed = s.write_with(
                move |batch| {
                    batch.redeem(attempt(&b, 2, 6, None))?;
                    Err::<(), _>(StoreError::Backend("disk on fire".into()))
                },
                false,
            );
            assert!(matches!(failed, Err(StoreError::Backend(_))));
        }
        dump(&s)
    }

    #[test]
    fn a_failed_batch_redoes_the_redemptions_held_before_it() {
        let tokens: Vec<TokenRecord> = (1..=3).map(redeemable).collect();
        let clean = held_redemptions(&tokens, false);
        let redone = held_redemptions(&tokens, true);
        assert!(clean.iter().any(|(t, _, _)| *t == "HOSTS"));
        assert_eq!(redone.len(), clean.len());
        for (c, r) in clean.iter().zip(&redone) {
            assert_eq!(c, r, "table {} differs after the redo", c.0);
        }
    }

    #[test]
    fn journaled_redemptions_past_the_bound_are_checkpointed() {
        // A restart runs every redemption journaled since the last checkpoint again: past the
        // bound, the writer checkpoints instead of journaling.
        let dir = tempfile::tempdir().unwrap();
        let (tx, _) = broadcast::channel(16);
        let tuning = Tuning {
            max_replay: 5,
            ..held_long()
        };
        let s = RedbStore::open_with(&dir.path().join("db.redb"), tx, 1 << 20, 1 << 20, tuning)
            .unwrap();
        let tokens = minted(&s, 12);
        let checkpoints = || s.counters.checkpoints.load(Ordering::Relaxed);
        let before = checkpoints();
        let mut at = Vec::new();
        for (n, t) in tokens.iter().enumerate() {
            s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
            at.push(checkpoints() - before);
        }
        // The 6th and 12th redemptions would have made 6 since the last checkpoint.
        assert_eq!(at, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2]);
    }

    #[test]
    fn a_redemption_is_journaled_as_its_inputs() {
        let (_d, s) = holding_store();
        let tokens = minted(&s, 40);
        let before = s.counters.journal_bytes.load(Ordering::Relaxed);
        // One batch, as in a herd.
        s.write_with(
            move |batch| {
                for (n, t) in tokens.iter().enumerate() {
                    let a = RedeemAttempt {
                        facts: BTreeMap::new(),
                        cert_pem: None,
                        ..attempt(t, n as u8 + 1, n as u64, None)
                    };
                    let o = batch.redeem(a)?;
                    assert!(matches!(o, RedeemOutcome::Enrolled { .. }));
                }
                Ok(())
            },
            false,
        )
        .unwrap();
        let per = (s.counters.journal_bytes.load(Ordering::Relaxed) - before) / 40;
        // The table writes a redemption makes (token, host, audit event, two index entries)
        // take about a kilobyte; its inputs, about a hundred bytes.
        assert!(per < 200, "{per} journal bytes per redemption");
    }

    #[test]
    fn a_midpoint_splits_between_its_ends() {
        for (lo, hi) in [
            ("0000", "zzzz"),
            ("AbCdEfGhIjKl", "AbCdEfGhIjKm"),
            ("a", "b"),
            ("Zz", "a"),
            ("0", "0000000000001"),
        ] {
            if let Some(mid) = midpoint(lo, hi) {
                assert!(lo < mid.as_str() && mid.as_str() <= hi, "{lo} {mid} {hi}");
            }
        }
        assert!(midpoint("0000", "zzzz").is_some());
        assert_eq!(midpoint("same", "same"), None);
        assert_eq!(midpoint("zzzz", "0000"), None);
        // Sharing the first 8 bytes: no split point there.
        assert_eq!(midpoint("AbCdEfGhIjKl", "AbCdEfGhIjKm"), None);
        // Not text once averaged: cut to what is.
        assert_eq!(midpoint("\u{7f}", "\u{e9}"), None);
        assert_eq!(midpoint("0z", "z0").as_deref(), Some("UU"));
        assert_eq!(midpoint("1z", "z0").as_deref(), Some("U"));
    }
}
