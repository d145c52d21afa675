//! Recovery of the redb engine at start: the batches the journal holds past the database's
//! last checkpoint are redone (`replay`), each with the same `apply_op` that made it, and each
//! journaled redemption by running the rules again (`replay_record`) on the state the records
//! before it rebuilt — the state it first ran on, so it makes the same writes.

use ::redb::{Database, ReadableTable, WriteTransaction};

use super::batch::Batch;
use crate::store::codec;
use gatepass_protocol::Timestamp;

use super::journal::{Corrupt, Found, Journal, ReplayError, Stamp, StampState};
use super::tables::{JOURNAL_SEQ, META, PUT, REDEEM, STAMP, Tbl, apply_op, damaged, take_field};
use crate::domain::AuditDraft;
use crate::error::{Error, StoreError};

/// What damage a replay found, in words (`advice`: how to start anyway).
fn corrupt_problem(c: &Corrupt, advice: bool) -> String {
    let what = match c.found {
        Found::Damaged => format!(
            "record {} (at byte {}) is damaged while record {} after it, from a later write, is whole: this is damage at rest, not a write cut by a crash",
            c.seq, c.offset, c.later_seq
        ),
        Found::Ahead => format!(
            "holds batch {} at byte {} where batch {} is expected: the database lacks the batches between (it is older than its journal: a copy from before, or a commit it lost)",
            c.later_seq, c.offset, c.seq
        ),
    };
    if advice {
        format!(
            "{what}; every change from batch {} on would be lost (start with --accept-journal-loss to accept that)",
            c.seq
        )
    } else {
        format!("{what}; the records before it were kept")
    }
}

/// How a start treats the journal.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// The journal's size from now on (0: no journal).
    pub capacity: u64,
    /// The journal as found is refused (missing, emptied, another store's, older, damaged):
    /// start without what it held, and say so in the audit log.
    pub accept_journal_loss: bool,
    /// The journal file, for messages.
    pub journal_path: std::path::PathBuf,
}

/// The identity and journal generation a database records (META `journal_stamp`): the
/// journal beside it must carry the same identity and this generation (or the next one, when
/// a start stopped between stamping the journal and committing the database), and be at least
/// the size it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DbStamp {
    stamp: Stamp,
    /// Whether the journal was on: a database that ran without one expects none.
    journal_on: bool,
    /// The journal's size in bytes (not recorded by the first version of the stamp).
    journal_bytes: Option<u64>,
}

impl DbStamp {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(33);
        b.extend_from_slice(&self.stamp.store_id);
        b.extend_from_slice(&self.stamp.generation.to_le_bytes());
        b.push(u8::from(self.journal_on));
        if let Some(n) = self.journal_bytes {
            b.extend_from_slice(&n.to_le_bytes());
        }
        b
    }

    fn decode(b: &[u8]) -> Result<DbStamp, StoreError> {
        if !(b.len() == 25 || b.len() == 33) || b[24] > 1 {
            return Err(StoreError::Damaged(
                "the database's journal stamp does not decode".into(),
            ));
        }
        let u64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(x)
        };
        let mut store_id = [0u8; 16];
        store_id.copy_from_slice(&b[..16]);
        Ok(DbStamp {
            stamp: Stamp {
                store_id,
                generation: u64_at(16),
            },
            journal_on: b[24] == 1,
            journal_bytes: (b.len() == 33).then(|| u64_at(25)),
        })
    }
}

fn meta_u64(txn: &WriteTransaction, key: &str) -> Result<Option<u64>, StoreError> {
    match txn.open_table(META)?.get(key)? {
        Some(v) => Ok(Some(u64::from_le_bytes(
            v.value()
                .try_into()
                .map_err(|_| damaged("journal_seq is not 8 bytes"))?,
        ))),
        None => Ok(None),
    }
}

/// Why a journal (`found`, `size` bytes) does not belong with its database, or `None` when it
/// does.
fn mismatch(db: &DbStamp, found: StampState, size: u64) -> Option<String> {
    if !db.journal_on {
        return None; // ran without a journal: nothing in one is needed
    }
    if let (StampState::Stamped(_), Some(made)) = (found, db.journal_bytes)
        && size < made
    {
        return Some(format!(
            "is shorter than it was made ({size} bytes where {made} were written): cut short, \
             so whatever it held past its end would be lost"
        ));
    }
    let id = db.stamp.store_id;
    let generation = db.stamp.generation;
    match found {
        StampState::Empty => Some("is missing or empty".into()),
        StampState::Blank => Some("has been emptied (zeroed)".into()),
        StampState::Unknown => {
            Some("does not start with a journal stamp (damaged, or not a gatepass journal)".into())
        }
        StampState::Stamped(s) if s.store_id != id => {
            Some("belongs to another store (its identity differs)".into())
        }
        StampState::Stamped(s) if s.generation < generation => Some(format!(
            "is older than the database (generation {} where {generation} is expected): a copy from before",
            s.generation
        )),
        StampState::Stamped(s) if s.generation > generation.saturating_add(1) => Some(format!(
            "is newer than the database (generation {} where {generation} is expected): the database is a copy from before",
            s.generation
        )),
        StampState::Stamped(_) => None,
    }
}

fn random_id() -> Result<[u8; 16], Error> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Error::Random(e.to_string()))?;
    Ok(id)
}

/// Redoes the journal's batches past the database's last checkpoint, then stamps and sizes
/// the journal. Returns the sequence number the next batch follows.
///
/// The journal must be this database's, of its generation: a missing, emptied, foreign, older
/// or newer journal is refused (unless `accept_journal_loss`, which the audit log records), as
/// is a damaged record with a later write after it. The number recorded at the end is raised
/// past every sequence number the old file could hold, so no record left over in it can ever
/// pass for a new one. A database that records no number is new: a journal beside it belongs
/// to another and is discarded.
pub(super) fn replay(db: &Database, journal: &mut Journal, how: &Recovery) -> Result<u64, Error> {
    let txn = db.begin_write().map_err(StoreError::from)?;
    let after = meta_u64(&txn, JOURNAL_SEQ)?;
    let recorded = match txn.open_table(META).map_err(StoreError::from)?.get(STAMP) {
        Ok(Some(v)) => Some(DbStamp::decode(v.value())?),
        Ok(None) => None,
        Err(e) => return Err(StoreError::from(e).into()),
    };
    let path = how.journal_path.clone();
    let io = |e| Error::io(format!("reading {}", path.display()), e);
    let found = journal.stamp().map_err(io)?;
    let refuse = |problem: String| Error::Damaged {
        path: how.journal_path.clone(),
        problem,
    };
    let mut lost: Option<String> = None;
    // A database from before journal stamps, whose journal holds nothing to redo.
    let mut upgrade = false;
    let (last, store_id, generation) = match (after, recorded) {
        (None, _) => (0, random_id()?, 0),
        (Some(after), None) => {
            // A database of a version before journal stamps, with a journal of format 1:
            // nothing to redo (a clean stop folds it all in) is the usual upgrade; records past
            // the checkpoint only that version can redo.
            let pending = match found {
                StampState::Stamped(_) => None,
                _ => journal.format1_pending(after).map_err(io)?,
            };
            match pending {
                Some(seq) if how.accept_journal_loss => {
                    lost = Some(format!(
                        "the journal, written by an earlier gatepassd, held changes from batch \
                         {seq} on"
                    ));
                }
                Some(seq) => {
                    return Err(refuse(format!(
                        "was written by an earlier gatepassd and holds changes the database lacks \
                         (batch {seq} on): start that version once so it folds them in (a clean \
                         stop does), or pass --accept-journal-loss"
                    )));
                }
                None => upgrade = true,
            }
            (after, random_id()?, 0)
        }
        (Some(after), Some(rec)) => match mismatch(&rec, found, journal.size()) {
            Some(problem) if how.accept_journal_loss => {
                lost = Some(format!("the journal {problem}"));
                (after, rec.stamp.store_id, rec.stamp.generation)
            }
            Some(problem) => {
                return Err(refuse(format!(
                    "{problem}; the changes it held since the last checkpoint would be lost (start with --accept-journal-loss to accept that, or put the right journal back)"
                )));
            }
            None if !rec.journal_on => (after, rec.stamp.store_id, rec.stamp.generation),
            None => {
                // Always the database's generation: the journal may be stamped one ahead by a
                // start cut short, and the next start stamps that same generation again.
                let continued = (rec.stamp.store_id, rec.stamp.generation);
                match journal.replay(after, |_, record| replay_record(&txn, record)) {
                    Ok(r) => {
                        if let Some(at) = r.torn_at {
                            tracing::info!(
                                offset = at,
                                "the journal ends in a record that does not read whole (a write cut by a crash, never answered, or an older round's)"
                            );
                        }
                        (r.last, continued.0, continued.1)
                    }
                    Err(ReplayError::Corrupt(c)) if how.accept_journal_loss => {
                        lost = Some(format!("the journal {}", corrupt_problem(&c, false)));
                        // Records apply in order: those before the damage are in `txn`.
                        (c.seq.saturating_sub(1), continued.0, continued.1)
                    }
                    Err(ReplayError::Corrupt(c)) => {
                        return Err(refuse(corrupt_problem(&c, true)));
                    }
                    Err(ReplayError::Io(e)) => return Err(io(e)),
                    Err(ReplayError::Apply(e)) => return Err(e.into()),
                }
            }
        },
    };
    let mode = match (after, lost) {
        (None, _) => Mode::New,
        (Some(_), None) if upgrade => Mode::New,
        (Some(_), Some(what)) => Mode::Lost(what),
        (Some(_), None) => Mode::Continue,
    };
    finish(txn, journal, how, mode, last, store_id, generation)
}

/// How the journal is treated when the start commits.
enum Mode {
    /// A new database: whatever the file held is another's.
    New,
    /// The journal was this database's and its records are replayed.
    Continue,
    /// The journal was refused and the loss accepted: it is discarded once the database
    /// records the new generation (and an audit event says what was lost).
    Lost(String),
}

/// Records the next generation and the next sequence number in the database, stamps the
/// journal, and sizes it, in an order where a crash at any point leaves a pair the next
/// start accepts (or refuses again, never one that replays the wrong records):
/// - new: the journal is zeroed and stamped, then the database commits;
/// - continue: the journal grows (keeping its records) and is stamped one generation ahead,
///   then the database commits, then the journal shrinks if it must;
/// - lost: the database commits first, then the journal is zeroed and stamped.
///
/// Last, the journal's head gets the checkpoint's marker (`Journal::clear_head`).
fn finish(
    txn: WriteTransaction,
    journal: &mut Journal,
    how: &Recovery,
    mode: Mode,
    last: u64,
    store_id: [u8; 16],
    generation: u64,
) -> Result<u64, Error> {
    let path = &how.journal_path;
    let io = |e| Error::io(format!("writing {}", path.display()), e);
    let base = last.saturating_add(journal.max_records()).saturating_add(1);
    let stamp = Stamp {
        store_id,
        generation: generation + 1,
    };
    let journal_on = how.capacity > 0;
    match &mode {
        Mode::New => {
            journal.resize(how.capacity, true).map_err(io)?;
            if journal_on {
                journal.write_stamp(stamp).map_err(io)?;
            }
        }
        Mode::Continue if journal_on => {
            if how.capacity > journal.size() {
                journal.resize(how.capacity, false).map_err(io)?;
            }
            journal.write_stamp(stamp).map_err(io)?;
        }
        Mode::Continue | Mode::Lost(_) => {}
    }
    if let Mode::Lost(what) = &mode {
        tracing::warn!("{what}: starting without it, as --accept-journal-loss asks");
        let mut batch = Batch::new(&txn, false);
        batch.logging = false;
        let mut details = std::collections::BTreeMap::new();
        details.insert("problem".to_string(), what.clone());
        details.insert("journal".to_string(), path.display().to_string());
        let draft = AuditDraft {
            at: Timestamp::now(),
            actor: "gatepassd".into(),
            action: gatepass_protocol::AuditAction::JournalLossAccepted,
            target: String::new(),
            target_name: None,
            details,
            tenant: gatepass_protocol::default_tenant(),
        };
        crate::domain::audit::append(&mut batch, draft)?;
        batch.store_head()?;
    }
    {
        let mut meta = txn.open_table(META).map_err(StoreError::from)?;
        meta.insert(JOURNAL_SEQ, base.to_le_bytes().as_slice())
            .map_err(StoreError::from)?;
        let rec = DbStamp {
            stamp,
            journal_on,
            journal_bytes: Some(how.capacity),
        };
        meta.insert(STAMP, rec.encode().as_slice())
            .map_err(StoreError::from)?;
    }
    txn.commit().map_err(StoreError::from)?;
    // The next record goes first: the next number is past every record the file holds.
    journal.reset();
    match mode {
        Mode::New => {}
        Mode::Continue => {
            if how.capacity != journal.size() {
                journal.resize(how.capacity, false).map_err(io)?;
            }
        }
        Mode::Lost(_) => {
            journal.resize(how.capacity, true).map_err(io)?;
            if journal_on {
                journal.write_stamp(stamp).map_err(io)?;
            }
        }
    }
    // The database now holds every batch up to `base`: a start finds nothing to replay at
    // once, and one whose database holds less is refused.
    journal.clear_head(base).map_err(io)?;
    Ok(base)
}

/// Redoes one journal record (a batch's operations, in order) inside `txn`: table writes are
/// applied as they are; a redemption runs again on the state the writes before it left, which
/// is the state it first ran on.
pub(super) fn replay_record(txn: &WriteTransaction, mut p: &[u8]) -> Result<(), StoreError> {
    let mut batch = Batch::new(txn, false);
    batch.logging = false;
    while let Some((&head, rest)) = p.split_first() {
        if head == REDEEM {
            let (attempt, rest) = take_field(rest)?;
            batch.redeem(codec::decode_attempt(attempt)?)?;
            p = rest;
            continue;
        }
        let table = Tbl::from_tag(head & !PUT).ok_or_else(|| damaged("an unknown table tag"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use ::redb::ReadableDatabase;

    use crate::store::redb::journal::FILE_HEADER;
    use crate::store::redb::tables::PUT;

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

    fn how(dir: &tempfile::TempDir, capacity: u64) -> Recovery {
        Recovery {
            capacity,
            accept_journal_loss: false,
            journal_path: dir.path().join("db.journal"),
        }
    }

    /// A new database and its journal, as a first start leaves them; the sequence number the
    /// next batch follows.
    fn started(dir: &tempfile::TempDir, capacity: u64) -> (Database, u64) {
        let db = Database::create(dir.path().join("db.redb")).unwrap();
        let mut j = Journal::open(&dir.path().join("db.journal")).unwrap();
        let base = replay(&db, &mut j, &how(dir, capacity)).unwrap();
        (db, base)
    }

    fn reopen(db: &Database, dir: &tempfile::TempDir, capacity: u64) -> Result<u64, Error> {
        let mut j = Journal::open(&dir.path().join("db.journal")).unwrap();
        replay(db, &mut j, &how(dir, capacity))
    }

    #[test]
    fn a_record_left_behind_a_torn_one_is_never_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, base) = started(&dir, 4096);
        let path = dir.path().join("db.journal");
        let mut j = Journal::open(&path).unwrap();
        j.resize(4096, false).unwrap();
        // base+1 and base+2 written together; the crash tore the first, left the second whole.
        let (a, b) = (put_meta("a", "torn"), put_meta("b", "left"));
        j.append_all(&[(base + 1, &a), (base + 2, &b)]).unwrap();
        let file = super::super::journal::open_private(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, b"X", FILE_HEADER + 30).unwrap();

        let next = reopen(&db, &dir, 4096).unwrap();
        assert!(
            next > base + 2,
            "the next batches must not reuse {base}+1 or +2: {next}"
        );
        assert_eq!(meta(&db, "a"), None);
        assert_eq!(meta(&db, "b"), None);
        // A new round writes a record where the torn one was; later restarts find the old
        // second record behind it again, and must not take it for the next batch.
        let mut j = Journal::open(&path).unwrap();
        j.resize(4096, false).unwrap();
        j.append(next + 1, &put_meta("c", "newx")).unwrap().unwrap();
        let after = reopen(&db, &dir, 4096).unwrap();
        assert_eq!(meta(&db, "c").as_deref(), Some(b"newx".as_slice()));
        assert_eq!(meta(&db, "b"), None, "a leftover record was replayed");
        reopen(&db, &dir, 4096).unwrap();
        assert_eq!(meta(&db, "b"), None);
        assert!(after > next + 1);
    }

    #[test]
    fn a_journal_beside_a_database_that_never_had_it_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        // Another store's journal, with a record, beside a new database.
        let other = tempfile::tempdir().unwrap();
        let (_db, base) = started(&other, 4096);
        let mut j = Journal::open(&other.path().join("db.journal")).unwrap();
        j.resize(4096, false).unwrap();
        j.append(base + 1, &put_meta("old", "record"))
            .unwrap()
            .unwrap();
        std::fs::copy(
            other.path().join("db.journal"),
            dir.path().join("db.journal"),
        )
        .unwrap();
        let (db, _) = started(&dir, 8192);
        assert_eq!(meta(&db, "old"), None);
        reopen(&db, &dir, 8192).unwrap();
        assert_eq!(meta(&db, "old"), None);
        assert_eq!(
            std::fs::metadata(dir.path().join("db.journal"))
                .unwrap()
                .len(),
            8192
        );
    }

    #[test]
    fn a_journal_made_smaller_or_turned_off_keeps_nothing_beyond_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let (db, base) = started(&dir, 1 << 20);
        let mut j = Journal::open(&dir.path().join("db.journal")).unwrap();
        j.resize(1 << 20, false).unwrap();
        j.append(base + 1, &put_meta("kept", "yes"))
            .unwrap()
            .unwrap();
        reopen(&db, &dir, 0).unwrap();
        assert_eq!(meta(&db, "kept").as_deref(), Some(b"yes".as_slice()));
        assert_eq!(
            std::fs::metadata(dir.path().join("db.journal"))
                .unwrap()
                .len(),
            0
        );
        // Without a journal, none is expected; turned on again, it is stamped anew.
        reopen(&db, &dir, 0).unwrap();
        reopen(&db, &dir, 4096).unwrap();
        reopen(&db, &dir, 4096).unwrap();
    }

    #[test]
    fn a_journal_stamped_ahead_of_its_database_is_a_start_cut_short() {
        // A start stamps the journal one generation ahead before its database commit: a crash
        // in between leaves them so, and the next start must accept (and replay) it.
        let dir = tempfile::tempdir().unwrap();
        let (db, base) = started(&dir, 4096);
        let mut j = Journal::open(&dir.path().join("db.journal")).unwrap();
        let StampState::Stamped(s) = j.stamp().unwrap() else {
            panic!("not stamped")
        };
        j.resize(4096, false).unwrap();
        j.append(base + 1, &put_meta("k", "v")).unwrap().unwrap();
        j.write_stamp(Stamp {
            generation: s.generation + 1,
            ..s
        })
        .unwrap();
        reopen(&db, &dir, 4096).unwrap();
        assert_eq!(meta(&db, "k").as_deref(), Some(b"v".as_slice()));
        // Two ahead is not a start cut short: the database is older than its journal.
        let mut j = Journal::open(&dir.path().join("db.journal")).unwrap();
        let StampState::Stamped(s) = j.stamp().unwrap() else {
            panic!("not stamped")
        };
        j.write_stamp(Stamp {
            generation: s.generation + 2,
            ..s
        })
        .unwrap();
        let e = reopen(&db, &dir, 4096).unwrap_err().to_string();
        assert!(e.contains("newer than the database"), "{e}");
    }

    /// A database as a version before journal stamps left it: the journal's sequence number
    /// recorded, no stamp.
    fn format1_database(dir: &tempfile::TempDir, journal_seq: u64) -> Database {
        let db = Database::create(dir.path().join("db.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        crate::store::redb::tables::create_all(&txn).unwrap();
        txn.open_table(META)
            .unwrap()
            .insert(JOURNAL_SEQ, journal_seq.to_le_bytes().as_slice())
            .unwrap();
        txn.commit().unwrap();
        db
    }

    /// A journal in format 1: 16-byte headers (sequence, length, CRC-32) from byte 0.
    fn format1_journal(dir: &tempfile::TempDir, records: &[(u64, Vec<u8>)], clear_head: bool) {
        let mut file = vec![0u8; 8192];
        let mut at = 0;
        for (seq, payload) in records {
            let len = payload.len() as u32;
            let mut h = crc32fast::Hasher::new();
            h.update(&seq.to_le_bytes());
            h.update(&len.to_le_bytes());
            h.update(payload);
            file[at..at + 8].copy_from_slice(&seq.to_le_bytes());
            file[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
            file[at + 12..at + 16].copy_from_slice(&h.finalize().to_le_bytes());
            file[at + 16..at + 16 + payload.len()].copy_from_slice(payload);
            at += 16 + payload.len();
        }
        if clear_head {
            // What a clean stop of that version left: the first header zeroed.
            file[..16].fill(0);
        }
        std::fs::write(dir.path().join("db.journal"), file).unwrap();
    }

    #[test]
    fn a_store_of_the_version_before_stamps_opens_after_a_clean_stop() {
        for clear_head in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let db = format1_database(&dir, 10);
            // Records the checkpoint at 10 already holds.
            format1_journal(
                &dir,
                &[(9, put_meta("x", "old")), (10, put_meta("y", "old"))],
                clear_head,
            );
            reopen(&db, &dir, 4096).unwrap();
            assert_eq!(meta(&db, "x"), None);
            reopen(&db, &dir, 4096).unwrap();
        }
    }

    #[test]
    fn a_store_of_the_version_before_stamps_with_changes_to_redo_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = format1_database(&dir, 10);
        format1_journal(
            &dir,
            &[(10, put_meta("a", "held")), (11, put_meta("b", "new"))],
            false,
        );
        let e = reopen(&db, &dir, 4096).unwrap_err().to_string();
        assert!(
            e.contains("earlier gatepassd") && e.contains("batch 11"),
            "{e}"
        );
        // Refused again: nothing changed.
        assert!(reopen(&db, &dir, 4096).is_err());
        let mut j = Journal::open(&dir.path().join("db.journal")).unwrap();
        let mut accepting = how(&dir, 4096);
        accepting.accept_journal_loss = true;
        replay(&db, &mut j, &accepting).unwrap();
        reopen(&db, &dir, 4096).unwrap();
    }
}
