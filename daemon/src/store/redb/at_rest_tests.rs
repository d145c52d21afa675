//! Damage at rest, tried with the store stopped, as an operator (or a failing disk) might
//! leave it: the journal deleted, emptied, swapped for another store's or an older copy, a
//! byte flipped in the middle of it. Each is refused at start with a message naming the file,
//! and `accept_journal_loss` starts anyway with an audit event saying what was lost.

use std::path::Path;
use std::sync::atomic::Ordering;

use gatepass_protocol::{AuditAction, AuditQuery};
use tokio::sync::broadcast;

use super::tests::{attempt, held, holding_store, minted, test_options};
use super::*;
use crate::domain::RedeemOutcome;

/// A copy of the data folder as a crash would leave it now: the database holds the last
/// checkpoint, the journal every batch since.
fn crash_image(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), copy.path().join(f.file_name())).unwrap();
    }
    copy
}

fn open(dir: &Path, accept_loss: bool) -> Result<RedbStore, Error> {
    let (tx, _) = broadcast::channel(16);
    let mut options = test_options(1 << 20, Tuning::default());
    options.accept_journal_loss = accept_loss;
    RedbStore::open_with(&dir.join("db.redb"), tx, options)
}

/// A store whose last changes (three redemptions of a single-use-like token, two uses) live
/// in the journal only, stopped by a crash.
fn crashed_with_journaled_redemptions() -> (tempfile::TempDir, tempfile::TempDir) {
    let (dir, s) = holding_store();
    let tokens = minted(&s, 2);
    s.checkpoint().unwrap();
    for n in 1..=2 {
        let o = s.redeem(attempt(&tokens[0], 1, n, None)).unwrap();
        assert!(matches!(o, RedeemOutcome::Enrolled { .. }));
    }
    assert!(held(&s));
    assert!(s.counters.journal_bytes.load(Ordering::Relaxed) > 0);
    let image = crash_image(dir.path());
    (dir, image)
}

/// Puts the journal of the folder `from` in the folder `to`.
fn swap_journal(from: &Path, to: &Path) {
    std::fs::copy(from.join("db.journal"), to.join("db.journal")).unwrap();
}

/// Three redemptions, three journal writes (each synced before the next began), after a
/// checkpoint; the store stopped by a crash. Returns the crash image.
fn three_journaled_writes() -> tempfile::TempDir {
    let (dir, s) = holding_store();
    let tokens = minted(&s, 3);
    s.checkpoint().unwrap();
    for (n, t) in tokens.iter().enumerate() {
        s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
    }
    let image = crash_image(dir.path());
    drop(s);
    image
}

fn refused(dir: &Path) -> String {
    match open(dir, false) {
        Ok(_) => panic!("a damaged store was opened"),
        Err(e) => e.to_string(),
    }
}

fn uses_of_first_token(s: &RedbStore) -> u64 {
    let mut tokens = s.list_tokens().unwrap();
    tokens.sort_by(|a, b| a.name.cmp(&b.name));
    tokens.iter().map(|t| t.uses).max().unwrap()
}

#[test]
fn an_intact_crash_image_opens_with_every_journaled_change() {
    let (_dir, image) = crashed_with_journaled_redemptions();
    let s = open(image.path(), false).unwrap();
    assert_eq!(uses_of_first_token(&s), 2);
    assert!(s.verify_audit().unwrap().problem.is_none());
}

#[test]
fn a_deleted_journal_is_refused_and_its_loss_is_audited_when_accepted() {
    let (_dir, image) = crashed_with_journaled_redemptions();
    let journal = image.path().join("db.journal");
    std::fs::remove_file(&journal).unwrap();
    let e = refused(image.path());
    assert!(e.contains("db.journal") && e.contains("missing"), "{e}");
    // Refused again (nothing was changed by the refusal), then accepted on request.
    refused(image.path());
    let s = open(image.path(), true).unwrap();
    assert_eq!(uses_of_first_token(&s), 0, "what the journal held is gone");
    let events = s.audit(&AuditQuery::default()).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.action, AuditAction::JournalLossAccepted);
    assert!(last.details["problem"].contains("missing"), "{last:?}");
    assert!(s.verify_audit().unwrap().problem.is_none());
    drop(s);
    // The accepted journal is stamped anew: the next start is quiet.
    open(image.path(), false).unwrap();
}

#[test]
fn an_emptied_journal_is_refused() {
    for how in ["truncated", "zeroed"] {
        let (_dir, image) = crashed_with_journaled_redemptions();
        let journal = image.path().join("db.journal");
        let len = std::fs::metadata(&journal).unwrap().len();
        match how {
            "truncated" => std::fs::write(&journal, b"").unwrap(),
            _ => std::fs::write(&journal, vec![0u8; len as usize]).unwrap(),
        }
        let e = refused(image.path());
        assert!(e.contains("db.journal"), "{how}: {e}");
        assert!(
            e.contains("missing or empty") || e.contains("emptied"),
            "{how}: {e}"
        );
    }
}

/// A journal cut short at rest (a copy that did not finish, a file truncated by hand) keeps
/// its stamp but loses what was past the cut: refused, saying so. Even a cut past every
/// record: nothing proves the lost part held nothing.
#[test]
fn a_journal_cut_short_is_refused() {
    let (_dir, image) = crashed_with_journaled_redemptions();
    let journal = image.path().join("db.journal");
    let len = std::fs::metadata(&journal).unwrap().len();
    for keep in [len / 2, len - 1, 4096] {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&journal)
            .unwrap();
        f.set_len(keep).unwrap();
        let e = refused(image.path());
        assert!(
            e.contains("db.journal") && e.contains("shorter"),
            "{keep}: {e}"
        );
    }
}

#[test]
fn another_stores_journal_is_refused() {
    let (_dir, image) = crashed_with_journaled_redemptions();
    let (_other_dir, other) = crashed_with_journaled_redemptions();
    swap_journal(other.path(), image.path());
    let e = refused(image.path());
    assert!(e.contains("another store"), "{e}");
}

#[test]
fn an_older_copy_of_the_journal_is_refused() {
    let (dir, s) = holding_store();
    let tokens = minted(&s, 1);
    let before = crash_image(dir.path());
    s.redeem(attempt(&tokens[0], 1, 1, None)).unwrap();
    let after = crash_image(dir.path());
    drop(s);
    // A start moves the journal to a new generation; a copy from before it is older.
    drop(open(after.path(), false).unwrap());
    swap_journal(before.path(), after.path());
    let e = refused(after.path());
    assert!(e.contains("older than the database"), "{e}");
}

#[test]
fn a_byte_flipped_in_the_middle_of_the_journal_is_refused_with_where() {
    let image = three_journaled_writes();
    let journal = image.path().join("db.journal");
    let bytes = std::fs::read(&journal).unwrap();
    // Inside the first record's payload.
    let at = journal::FILE_HEADER as usize + 24 + 10;
    let mut damaged = bytes.clone();
    damaged[at] ^= 0x01;
    std::fs::write(&journal, &damaged).unwrap();
    let e = refused(image.path());
    assert!(
        e.contains("damaged") && e.contains(&format!("at byte {}", journal::FILE_HEADER)),
        "{e}"
    );
    // Put back, it opens with all three.
    std::fs::write(&journal, &bytes).unwrap();
    let s = open(image.path(), false).unwrap();
    assert_eq!(s.list_hosts(None).unwrap().len(), 3);
}

#[test]
fn a_flipped_byte_accepted_as_lost_keeps_the_records_before_it() {
    let image = three_journaled_writes();
    let journal = image.path().join("db.journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    // The second record's header: the first record is whole and kept.
    let first = journal::FILE_HEADER as usize;
    let first_len = u32::from_le_bytes(bytes[first + 16..first + 20].try_into().unwrap()) as usize;
    let second = first + 24 + first_len;
    bytes[second + 2] ^= 0x01;
    std::fs::write(&journal, &bytes).unwrap();
    let e = refused(image.path());
    assert!(e.contains(&format!("at byte {second}")), "{e}");
    let s = open(image.path(), true).unwrap();
    assert_eq!(s.list_hosts(None).unwrap().len(), 1);
    assert!(s.verify_audit().unwrap().problem.is_none());
}

#[test]
fn a_store_reopened_after_a_crash_writes_its_journal_from_the_start() {
    // Regression: a start that replayed records left the journal's write position after
    // them while the writer counted the whole journal as free, so it overran the end and
    // stopped.
    let (tx, _) = broadcast::channel(16);
    let small = 16 << 10;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let s =
        RedbStore::open_with(&path, tx.clone(), test_options(small, tests::held_long())).unwrap();
    let tokens = minted(&s, 60);
    s.checkpoint().unwrap();
    for (n, t) in tokens.iter().take(30).enumerate() {
        s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
    }
    let image = crash_image(dir.path());
    drop(s);
    let s = RedbStore::open_with(
        &image.path().join("db.redb"),
        tx,
        test_options(small, tests::held_long()),
    )
    .unwrap();
    for (n, t) in tokens.iter().enumerate().skip(30) {
        s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
    }
    assert_eq!(s.halted(), None);
    assert_eq!(s.list_hosts(None).unwrap().len(), 60);
}

#[test]
fn a_byte_flipped_in_the_database_is_refused_or_was_in_free_space() {
    let (dir, s) = holding_store();
    let tokens = minted(&s, 200);
    for (n, t) in tokens.iter().enumerate().take(50) {
        s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
    }
    drop(s); // a clean stop: everything is in the database
    let db = dir.path().join("db.redb");
    let bytes = std::fs::read(&db).unwrap();
    let journal = dir.path().join("db.journal");
    let journal_bytes = std::fs::read(&journal).unwrap();
    let mut refused_at = Vec::new();
    for k in 1..16 {
        let at = bytes.len() * k / 16;
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        std::fs::write(&db, &damaged).unwrap();
        match open(dir.path(), false) {
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("db.redb"), "{e}");
                refused_at.push(at);
            }
            // Opened: the byte was in free space, and nothing it holds is off.
            Ok(s) => {
                let check = s.verify_audit().unwrap();
                assert!(check.ok(), "byte {at} flipped went unnoticed: {check:?}");
                assert_eq!(s.list_hosts(None).unwrap().len(), 50, "byte {at}");
            }
        }
        // Both files as they were: a start moves the journal to a new generation.
        std::fs::write(&db, &bytes).unwrap();
        std::fs::write(&journal, &journal_bytes).unwrap();
    }
    assert!(!refused_at.is_empty(), "no flipped byte was ever noticed");
}

/// The database file's header (redb's two commit slots) with one byte flipped, after a clean
/// stop: refused, or nothing changes. Rolling back to an older commit would lose changes
/// silently; the journal's checkpoint marker says which batch the database must hold.
#[test]
fn a_byte_flipped_in_the_database_header_is_refused_or_harmless() {
    let (dir, s) = holding_store();
    let tokens = minted(&s, 20);
    for (n, t) in tokens.iter().enumerate().take(10) {
        s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
    }
    s.checkpoint().unwrap();
    for (n, t) in tokens.iter().enumerate().skip(10) {
        s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
    }
    drop(s); // a clean stop
    header_flips_are_refused_or_harmless(dir.path(), 20, 3);
}

/// The same on the image a crash leaves: two checkpoints, then journaled redemptions.
#[test]
fn a_byte_flipped_in_a_crashed_database_header_is_refused_or_harmless() {
    let (dir, s) = holding_store();
    let tokens = minted(&s, 30);
    for (n, t) in tokens.iter().enumerate() {
        s.redeem(attempt(t, n as u8 + 1, n as u64, None)).unwrap();
        if n == 9 || n == 19 {
            s.checkpoint().unwrap();
        }
    }
    let image = crash_image(dir.path());
    drop(s);
    header_flips_are_refused_or_harmless(image.path(), 30, 7);
}

/// Flips bytes of the database's header in `dir` in turn (redb's first 320 bytes: every
/// `step`-th, and the byte that says which commit slot is current), both files restored after
/// each: every start is refused, or opens holding `hosts` hosts with a chain that verifies.
fn header_flips_are_refused_or_harmless(dir: &Path, hosts: usize, step: usize) {
    let db = dir.join("db.redb");
    let bytes = std::fs::read(&db).unwrap();
    let journal = dir.join("db.journal");
    let journal_bytes = std::fs::read(&journal).unwrap();
    let mut silent = Vec::new();
    let mut refused = 0;
    const GOD_BYTE: usize = 9;
    for at in (0..320).step_by(step).chain([GOD_BYTE]) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        std::fs::write(&db, &damaged).unwrap();
        match open(dir, false) {
            Err(_) => refused += 1,
            Ok(s) => {
                let found = s.list_hosts(None).map(|h| h.len());
                let ok = s.verify_audit().map(|c| c.ok());
                if found.as_ref().ok() != Some(&hosts) || ok.as_ref().ok() != Some(&true) {
                    silent.push((at, found.ok(), ok.ok()));
                }
            }
        }
        std::fs::write(&db, &bytes).unwrap();
        std::fs::write(&journal, &journal_bytes).unwrap();
    }
    assert!(
        silent.is_empty(),
        "refused {refused}; opened with changes lost: {silent:?}"
    );
}
