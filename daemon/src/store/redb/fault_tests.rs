//! The fault sweep: one scenario (a start, mints, redemptions, a revocation, a checkpoint,
//! more redemptions) run again and again on a disk whose Nth I/O operation fails or tears, for
//! every N the scenario reaches. Each time, what the disk holds afterwards — as a crash of the
//! process leaves it, and as a power loss does (every write since the last sync dropped) — is
//! opened as a new start, and must hold every change a caller was told was done and nothing
//! half-done: every token's uses equal its hosts and its `redeemed` events, the audit chain
//! verifies. A fault on a write or a sync must stop the store, never leave it answering.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gatepass_protocol::{AuditQuery, MaxUses, Timestamp};
use tokio::sync::broadcast;

use super::faults::{Disk, Fault, Op};
use super::tests::{attempt, redeemable, test_options};
use super::*;
use crate::domain::{RedeemOutcome, TokenChange};

const JOURNAL: u64 = 64 << 10;

/// What callers were told was done.
#[derive(Debug, Default)]
struct Acked {
    /// Token id → its use limit.
    tokens: BTreeMap<String, MaxUses>,
    /// Host id → its token.
    hosts: BTreeMap<String, String>,
    revoked: Vec<String>,
}

fn options() -> Options {
    let mut o = test_options(JOURNAL, tests::held_long());
    o.cache_bytes = 1 << 18;
    o
}

fn open_on_disk(disk: &Arc<Disk>) -> Result<RedbStore, Error> {
    let (tx, _) = broadcast::channel(16);
    let journal =
        Journal::on(Box::new(disk.file("db.journal"))).map_err(|e| Error::io("journal", e))?;
    RedbStore::open_on(
        disk.file("db.redb"),
        journal,
        std::path::Path::new("/faulty/db.redb"),
        std::path::Path::new("/faulty/db.journal"),
        tx,
        options(),
    )
}

/// A store made and stopped cleanly on a good disk: the images every run starts from.
fn fresh_images() -> Vec<(&'static str, Vec<u8>)> {
    let disk = Disk::new(None);
    let s = open_on_disk(&disk).unwrap();
    drop(s);
    disk.take(true)
}

/// The scenario; every acknowledged change is noted in `acked`.
fn scenario(s: &RedbStore, acked: &mut Acked) {
    let mut tokens = Vec::new();
    for (i, max) in [
        (1, MaxUses::Limited(1)),
        (2, MaxUses::Limited(3)),
        (3, MaxUses::Unlimited),
    ] {
        let t = TokenRecord {
            max_uses: max,
            hosts: 0,
            ..redeemable(i)
        };
        if let Ok(stored) = s.create_token(t.clone()) {
            acked.tokens.insert(stored.id.clone(), max);
        }
        tokens.push((t, i as u8));
    }
    let mut n = 0;
    let mut redeem = |s: &RedbStore, (t, secret): &(TokenRecord, u8), acked: &mut Acked| {
        n += 1;
        if let Ok(RedeemOutcome::Enrolled { host, .. }) = s.redeem(attempt(t, *secret, n, None)) {
            acked.hosts.insert(host.host.id.clone(), t.id.clone());
        }
    };
    redeem(s, &tokens[0], acked);
    redeem(s, &tokens[0], acked); // used up: refused, audited
    redeem(s, &tokens[1], acked);
    redeem(s, &tokens[1], acked);
    let revoked = &tokens[2].0.id;
    if s.change_token(revoked, TokenChange::Revoke, "admin", Timestamp(5_000))
        .is_ok()
    {
        acked.revoked.push(revoked.clone());
    }
    let _ = s.checkpoint();
    redeem(s, &tokens[1], acked);
    redeem(s, &tokens[2], acked); // revoked: refused
    let _ = s.list_tokens();
}

/// Opens what a disk held and checks it against what was acknowledged.
fn check(files: Vec<(&'static str, Vec<u8>)>, acked: &Acked, what: &str) {
    let disk = Disk::with_files(&files);
    let s = match open_on_disk(&disk) {
        Ok(s) => s,
        Err(e) => panic!("{what}: the store does not open again: {e}"),
    };
    let tokens: BTreeMap<String, TokenRecord> = s
        .list_tokens()
        .unwrap()
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    for id in acked.tokens.keys() {
        assert!(
            tokens.contains_key(id),
            "{what}: an acknowledged token is gone"
        );
    }
    let hosts = s.list_hosts(None).unwrap();
    for (host, token) in &acked.hosts {
        assert!(
            hosts
                .iter()
                .any(|h| &h.host.id == host && &h.host.token_id == token),
            "{what}: an acknowledged enrollment is gone"
        );
    }
    for id in &acked.revoked {
        assert!(
            tokens[id].revoked_at.is_some(),
            "{what}: a revocation is gone"
        );
    }
    let events = s
        .audit(&AuditQuery {
            limit: Some(100_000),
            ..AuditQuery::default()
        })
        .unwrap();
    for t in tokens.values() {
        let redeemed = events
            .iter()
            .filter(|e| e.target == t.id && e.action == gatepass_protocol::AuditAction::Redeemed)
            .count() as u64;
        let stored = hosts.iter().filter(|h| h.host.token_id == t.id).count() as u64;
        assert_eq!(
            (t.uses, t.hosts),
            (redeemed, stored),
            "{what}: token {} is half-done",
            t.name
        );
        if let MaxUses::Limited(max) = t.max_uses {
            assert!(t.uses <= max, "{what}: a use limit was passed");
        }
    }
    let chain = s.verify_audit().unwrap();
    assert!(chain.problem.is_none(), "{what}: {chain:?}");
    drop(s);
}

#[test]
fn every_fault_on_the_way_leaves_a_store_that_keeps_its_word() {
    let start = fresh_images();
    // A clean run: how many operations the scenario takes.
    let clean = Disk::with_files(&start);
    let s = open_on_disk(&clean).unwrap();
    let mut acked = Acked::default();
    scenario(&s, &mut acked);
    let total = clean.ops();
    assert!(total > 40, "the scenario reaches only {total} operations");
    assert_eq!(acked.hosts.len(), 4, "{acked:?}");
    check(clean.take(false), &acked, "clean run, crash");
    check(clean.take(true), &acked, "clean run, power loss");
    clean.clear();
    drop(s);

    let halted = Arc::new(AtomicU64::new(0));
    for fault in [Fault::Error, Fault::Tear] {
        for n in 1..=total {
            let disk = Disk::with_files(&start);
            disk.fail_at(n, fault);
            let mut acked = Acked::default();
            let store = open_on_disk(&disk);
            if let Ok(s) = &store {
                scenario(s, &mut acked);
            }
            let fired = disk.fired();
            let crash = disk.take(false);
            let power_loss = disk.take(true);
            if let (Ok(s), Some(op)) = (&store, fired)
                && matches!(op, Op::Write | Op::Sync | Op::Resize)
            {
                assert!(
                    s.halted().is_some(),
                    "fault {fault:?} at {n} ({op:?}) and the store goes on"
                );
                halted.fetch_add(1, Ordering::Relaxed);
            }
            disk.clear();
            drop(store);
            check(crash, &acked, &format!("{fault:?} at {n}, crash"));
            check(power_loss, &acked, &format!("{fault:?} at {n}, power loss"));
        }
    }
    assert!(
        halted.load(Ordering::Relaxed) > 0,
        "no fault ever stopped the store"
    );
}

/// A store that ran and holds one token, killed (the mint lives in the journal only): its
/// images, and how many disk operations a start on them takes.
fn killed_with_a_mint() -> (Vec<(&'static str, Vec<u8>)>, u64) {
    let disk = Disk::with_files(&fresh_images());
    let s = open_on_disk(&disk).unwrap();
    s.create_token(redeemable(1)).unwrap();
    let killed = disk.take(false);
    disk.clear();
    drop(s);
    let probe = Disk::with_files(&killed);
    let s = open_on_disk(&probe).unwrap();
    let start_ops = probe.ops();
    probe.clear();
    drop(s);
    (killed, start_ops)
}

/// A start cut short by a failing disk and a power loss, then another start cut short the
/// same way, then a third start on a good disk: it opens (two failed starts in a row are not
/// damage). Every pair of fault points of the two starts is tried.
#[test]
fn two_starts_cut_short_in_a_row_are_not_damage() {
    let (killed, start_ops) = killed_with_a_mint();
    // Many fault points leave the same files: each distinct image is tried once.
    let (mut first, mut second) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    let mut refused = Vec::new();
    for n in 1..=start_ops {
        let d1 = Disk::with_files(&killed);
        d1.fail_at(n, Fault::Error);
        let s1 = open_on_disk(&d1);
        let after1 = d1.take(false);
        d1.clear();
        drop(s1);
        if !first.insert(after1.clone()) {
            continue;
        }
        for m in 1..=start_ops {
            let d2 = Disk::with_files(&after1);
            d2.fail_at(m, Fault::Error);
            let s2 = open_on_disk(&d2);
            let after2 = d2.take(false);
            d2.clear();
            drop(s2);
            if !second.insert(after2.clone()) {
                continue;
            }
            let d3 = Disk::with_files(&after2);
            match open_on_disk(&d3) {
                Ok(s3) => {
                    assert_eq!(s3.list_tokens().unwrap().len(), 1, "fault at {n} then {m}");
                    d3.clear();
                    drop(s3);
                }
                Err(e) => refused.push(format!("fault at {n} then {m}: {e}")),
            }
        }
    }
    assert!(
        refused.is_empty(),
        "{} refused, e.g. {}",
        refused.len(),
        refused[0]
    );
}

/// A panic at any operation on the journal during a start is reported as damage naming the
/// file, never a panic of the caller.
#[test]
fn a_panic_while_opening_is_reported_as_damage() {
    let (killed, start_ops) = killed_with_a_mint();
    let mut damaged = 0;
    for n in 1..=start_ops {
        let d = Disk::with_files(&killed);
        d.fail_at(n, Fault::Panic);
        let opened = std::panic::catch_unwind(|| open_on_disk(&d));
        match opened {
            Err(_) => panic!("a panic at operation {n} of a start reached the caller"),
            Ok(Err(Error::Damaged { path, problem })) if problem.contains("injected panic") => {
                assert_eq!(path, std::path::Path::new("/faulty/db.redb"));
                damaged += 1;
            }
            // An operation on the database file: an I/O error.
            Ok(Err(e)) => assert!(e.to_string().contains("injected I/O fault"), "{e}"),
            // The panic hit a thread of the open store (the journal's): it stopped.
            Ok(Ok(s)) => assert!(s.halted().is_some(), "operation {n}"),
        }
        d.clear();
    }
    assert!(damaged > 0);
}
