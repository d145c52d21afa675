//! Which batches of the redb engine readers may see, and which are durable: the writer raises
//! `applied`, `committed` and `visible`, the journal thread `durable`; a read waits until its
//! snapshot holds nothing that a crash could undo. Also the redeem pre-check's cached tokens
//! table (`peek_table`), and the halt flag that wakes every waiting reader when the store stops.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ::redb::{Database, ReadableDatabase};

use super::tables::TOKENS;
use crate::error::StoreError;

/// Which batches readers may see and which are durable. The writer raises `applied` when a
/// batch is in its open transaction, `committed` just before that transaction's commit and
/// `visible` after it; the journal thread raises `durable` once a batch is on disk. A reader
/// that took its snapshot waits until `durable` reaches the `committed` it saw after.
pub(super) struct Visibility {
    pub(super) applied: AtomicU64,
    pub(super) committed: AtomicU64,
    pub(super) visible: AtomicU64,
    durable: std::sync::Mutex<u64>,
    changed: std::sync::Condvar,
    /// How many commits (batches and checkpoints) the writer has made.
    commits: AtomicU64,
    /// The tokens table as of a commit (`commits` then), for the redeem pre-check: a read
    /// transaction and a table opened per request cost more than the look-up. Used only while
    /// `commits` has not moved; the writer drops it at each commit when it can, so an idle
    /// daemon keeps no old snapshot's pages from being reused.
    pub(super) peek: std::sync::Mutex<Option<(u64, PeekTable)>>,
    /// Set when the store stops after a failure: no read waits for what will never come.
    halted: AtomicBool,
}

pub(super) type PeekTable = std::sync::Arc<::redb::ReadOnlyTable<&'static str, &'static [u8]>>;

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
    pub(super) fn new(seq: u64) -> Visibility {
        Visibility {
            applied: AtomicU64::new(seq),
            committed: AtomicU64::new(seq),
            visible: AtomicU64::new(seq),
            durable: std::sync::Mutex::new(seq),
            changed: std::sync::Condvar::new(),
            commits: AtomicU64::new(0),
            peek: std::sync::Mutex::new(None),
            halted: AtomicBool::new(false),
        }
    }

    /// A commit made `seq` visible (a checkpoint may leave `seq` where it was: every commit
    /// counts in `commits`, which is what the pre-check's table is checked against).
    pub(super) fn set_visible(&self, seq: u64) {
        self.visible.store(seq, Ordering::SeqCst);
        self.commits.fetch_add(1, Ordering::SeqCst);
        // Only so an idle daemon holds no old snapshot: skipped when a pre-check holds the
        // slot, which then sees the count has moved.
        if let Ok(mut peek) = self.peek.try_lock() {
            *peek = None;
        }
    }

    /// The tokens table as of the last commit (or a later one).
    pub(super) fn peek_table(&self, db: &Database) -> Result<PeekTable, StoreError> {
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

    pub(super) fn wait_durable(&self) -> Result<(), StoreError> {
        let need = self.committed.load(Ordering::SeqCst);
        let failed = || StoreError::Stopped("the journal thread failed".into());
        let lock = self.durable.lock().map_err(|_| failed())?;
        let (durable, timeout) = self
            .changed
            .wait_timeout_while(lock, DURABLE_WAIT, |d| {
                *d < need && !self.halted.load(Ordering::SeqCst)
            })
            .map_err(|_| failed())?;
        if *durable < need {
            if self.halted.load(Ordering::SeqCst) {
                return Err(StoreError::Stopped(
                    "the store stopped before this read's snapshot was durable".into(),
                ));
            }
            if timeout.timed_out() {
                return Err(StoreError::Stopped("the journal is not answering".into()));
            }
        }
        Ok(())
    }

    /// The store stopped: wakes every reader waiting for durability.
    pub(super) fn halt(&self) {
        self.halted.store(true, Ordering::SeqCst);
        // Taken so a reader between its check and its wait does not miss the wake-up.
        drop(self.durable.lock());
        self.changed.notify_all();
    }

    pub(super) fn set_durable(&self, seq: u64) {
        if let Ok(mut d) = self.durable.lock() {
            *d = (*d).max(seq);
        }
        self.changed.notify_all();
    }
}
