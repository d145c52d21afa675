//! Tests of the journal file: records, tears, damage, stamps, resizing.
use super::*;

fn sized(path: &Path, capacity: u64) -> Journal {
    let mut j = Journal::open(path).unwrap();
    j.resize(capacity, false).unwrap();
    j
}

fn replayed(j: &mut Journal, after: u64) -> Result<Vec<(u64, Vec<u8>)>, Corrupt> {
    let mut out = Vec::new();
    match j.replay(after, |seq, p| {
        out.push((seq, p.to_vec()));
        Ok::<_, std::io::Error>(())
    }) {
        Ok(_) => Ok(out),
        Err(ReplayError::Corrupt(c)) => Err(c),
        Err(e) => panic!("{e:?}"),
    }
}

fn records(j: &mut Journal, after: u64) -> Vec<(u64, Vec<u8>)> {
    replayed(j, after).unwrap()
}

fn flip(path: &Path, at: u64) {
    let f = open_private(path).unwrap();
    let mut b = [0u8];
    FileExt::read_exact_at(&f, &mut b, at).unwrap();
    FileExt::write_all_at(&f, &[b[0] ^ 0x20], at).unwrap();
}

#[test]
fn records_come_back_in_order_and_writing_continues_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = sized(&path, 4096);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
    assert_eq!(j.append(1, b"one").unwrap(), Some(FILE_HEADER));
    j.append(2, b"two").unwrap().unwrap();
    drop(j);
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(j.max_records(), 4096 / HEADER as u64);
    assert_eq!(
        records(&mut j, 0),
        vec![(1, b"one".to_vec()), (2, b"two".to_vec())]
    );
    j.append(3, b"three").unwrap().unwrap();
    assert_eq!(
        records(&mut j, 1).len(),
        2,
        "2 and 3 follow the checkpoint at 1"
    );
    assert_eq!(records(&mut j, 3), vec![]);
}

#[test]
fn a_torn_last_write_ends_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = sized(&path, 4096);
    j.append(1, b"kept").unwrap().unwrap();
    // Records 2 and 3 went out in one write, cut by a crash: 2 torn, 3 whole.
    let second = j.offset;
    j.append_all(&[(2, b"torn in half"), (3, b"after the tear")])
        .unwrap();
    flip(&path, second + HEADER as u64 + 3);
    let mut j = Journal::open(&path).unwrap();
    let mut seen = Vec::new();
    let r = j
        .replay(0, |seq, _| {
            seen.push(seq);
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
    assert_eq!(seen, [1]);
    assert_eq!(r.torn_at, Some(second));
    assert_eq!(
        j.used(),
        second - FILE_HEADER,
        "writing resumes where the damage starts"
    );
}

#[test]
fn a_damaged_record_before_a_later_write_is_damage_not_a_tear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = sized(&path, 4096);
    j.append(1, b"kept").unwrap().unwrap();
    let second = j.append(2, b"acknowledged, then damaged").unwrap().unwrap();
    j.append(3, b"a later write").unwrap().unwrap();
    for at in [second + 3, second + 10, second + HEADER as u64 + 5] {
        flip(&path, at);
        let mut j = Journal::open(&path).unwrap();
        let c = replayed(&mut j, 0).unwrap_err();
        assert_eq!(
            c,
            Corrupt {
                offset: second,
                seq: 2,
                later_seq: 3,
                found: Found::Damaged,
            },
            "byte {at}"
        );
        flip(&path, at);
    }
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(records(&mut j, 0).len(), 3, "restored");
}

#[test]
fn resizing_keeps_records_unless_told_to_discard_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = sized(&path, 4096);
    j.append(1, b"a").unwrap().unwrap();
    j.resize(8192, false).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 8192);
    assert_eq!(records(&mut j, 0), vec![(1, b"a".to_vec())]);
    j.resize(256, false).unwrap();
    assert_eq!(records(&mut j, 0), vec![(1, b"a".to_vec())]);
    j.resize(4096, true).unwrap();
    assert_eq!(records(&mut j, 0), vec![]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
    j.resize(0, false).unwrap();
    assert_eq!(j.append(1, b"x").unwrap(), None, "no room at all");
}

#[test]
fn after_a_reset_leftovers_of_the_older_round_are_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = sized(&dir.path().join("j"), 4096);
    for seq in 1..=5 {
        j.append(seq, b"an older, longer record").unwrap().unwrap();
    }
    // A checkpoint at 6 (a batch committed durably), then one short record.
    j.reset();
    j.append(7, b"new").unwrap().unwrap();
    assert_eq!(records(&mut j, 6), vec![(7, b"new".to_vec())]);
    // Same layout, but the new round's record lines up exactly with an old one.
    j.reset();
    j.append(8, b"an older, longer recorX").unwrap().unwrap();
    assert_eq!(records(&mut j, 7).len(), 1);
    // A checkpoint that holds everything: nothing to replay, writing restarts first.
    assert_eq!(records(&mut j, 8), vec![]);
    assert_eq!(j.used(), 0);
}

#[test]
fn a_record_that_does_not_fit_is_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = sized(&dir.path().join("j"), FILE_HEADER + 100);
    assert_eq!(j.append(1, &[7u8; 40]).unwrap(), Some(FILE_HEADER));
    assert_eq!(j.append(2, &[7u8; 40]).unwrap(), None);
    assert_eq!(j.used(), 64);
    assert_eq!(records(&mut j, 0).len(), 1);
}

#[test]
fn a_stamp_reads_back_and_anything_else_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(j.stamp().unwrap(), StampState::Empty);
    j.resize(4096, false).unwrap();
    assert_eq!(j.stamp().unwrap(), StampState::Blank);
    let stamp = Stamp {
        store_id: [7; 16],
        generation: 42,
    };
    j.write_stamp(stamp).unwrap();
    j.append(1, b"after the stamp").unwrap().unwrap();
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(j.stamp().unwrap(), StampState::Stamped(stamp));
    assert_eq!(records(&mut j, 0).len(), 1);
    // The next generation goes to the other slot; torn, the previous one still reads.
    j.write_stamp(Stamp {
        generation: 43,
        ..stamp
    })
    .unwrap();
    flip(&path, 64 + 30);
    assert_eq!(j.stamp().unwrap(), StampState::Stamped(stamp));
    flip(&path, 30);
    assert_eq!(j.stamp().unwrap(), StampState::Unknown);
}

/// A record whose header was zeroed at rest (a sector read back as zeros), with whole records
/// of later writes after it, is damage like any other: refused, not the journal's end.
#[test]
fn a_zeroed_header_before_a_later_write_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = sized(&path, 4096);
    j.append(1, b"kept").unwrap().unwrap();
    let second = j.append(2, b"acknowledged, then zeroed").unwrap().unwrap();
    j.append(3, b"a later write, acknowledged")
        .unwrap()
        .unwrap();
    j.append(4, b"another later write").unwrap().unwrap();
    let f = open_private(&path).unwrap();
    FileExt::write_all_at(&f, &[0u8; HEADER], second).unwrap();
    let mut j = Journal::open(&path).unwrap();
    match replayed(&mut j, 0) {
        Err(c) => assert_eq!((c.seq, c.offset), (2, second)),
        Ok(r) => panic!(
            "records 2..=4 were acknowledged; replay kept only {:?}",
            r.iter().map(|x| x.0).collect::<Vec<_>>()
        ),
    }
}

/// A whole record that skips ahead of the sequence (the database lacks the batches between:
/// it is older than its journal) is refused, not taken for the journal's end.
#[test]
fn a_record_ahead_of_the_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = sized(&path, 4096);
    for seq in 11..=13 {
        j.append(seq, b"after a checkpoint at 10").unwrap().unwrap();
    }
    // The database says its last checkpoint was 7: batches 8..=10 are in neither file.
    let mut j = Journal::open(&path).unwrap();
    let c = replayed(&mut j, 7).unwrap_err();
    assert_eq!((c.seq, c.offset, c.later_seq), (8, FILE_HEADER, 11));
    // In sequence it replays.
    assert_eq!(records(&mut j, 10).len(), 3);
}

/// A checkpoint marker at the head says which batch the database holds: a database that
/// holds less (rolled back to an older commit) is refused; one that holds as much starts with
/// nothing to replay, at once.
#[test]
fn a_checkpoint_marker_refuses_an_older_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = sized(&dir.path().join("j"), 4096);
    for seq in 1..=3 {
        j.append(seq, b"held by the checkpoint").unwrap().unwrap();
    }
    j.reset();
    j.clear_head(3).unwrap();
    assert_eq!(records(&mut j, 3), vec![]);
    assert_eq!(
        records(&mut j, 9),
        vec![],
        "a later start's number is higher"
    );
    let c = replayed(&mut j, 2).unwrap_err();
    assert_eq!((c.seq, c.later_seq), (3, 3));
}

/// A journal file that counts its reads.
#[derive(Debug)]
struct CountingFile {
    file: std::fs::File,
    reads: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl JournalFile for CountingFile {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)
    }
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        FileExt::read_exact_at(&self.file, buf, at)
    }
    fn write_all_at(&self, buf: &[u8], at: u64) -> std::io::Result<()> {
        FileExt::write_all_at(&self.file, buf, at)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_all(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// After the journal has gone round once, a crash leaves the new round's end in the middle of
/// an older record: finding that no later write follows reads the rest of the file in a few
/// large reads, not one per byte (which took minutes for a 64 MiB journal).
#[test]
fn a_crash_after_a_wrap_is_replayed_with_few_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let capacity = 16u64 << 20;
    let mut j = sized(&path, capacity);
    let old = vec![7u8; 1000];
    let per_record = Journal::record_len(old.len());
    let fit = (capacity - FILE_HEADER) / per_record;
    let all: Vec<(u64, &[u8])> = (1..=fit).map(|seq| (seq, old.as_slice())).collect();
    assert!(j.append_all(&all).unwrap());
    // A checkpoint at `fit`, then a new round of shorter records, then a crash.
    j.reset();
    for seq in fit + 1..=fit + 3 {
        j.append(seq, b"short").unwrap().unwrap();
    }
    drop(j);
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let file = CountingFile {
        file: open_private(&path).unwrap(),
        reads: reads.clone(),
    };
    let mut j = Journal::on(Box::new(file)).unwrap();
    let r = j.replay(fit, |_, _| Ok::<_, std::io::Error>(())).unwrap();
    assert_eq!(r.last, fit + 3);
    let reads = reads.load(std::sync::atomic::Ordering::Relaxed);
    assert!(reads < 64, "{reads} reads of a 16 MiB journal");
}
