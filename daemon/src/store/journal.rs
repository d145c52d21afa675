//! The redo journal: a write batch becomes durable with one sequential write and one
//! `fdatasync`, instead of a durable redb commit that writes every copy-on-write page it touched.
//!
//! The file is preallocated (zeros) to a fixed capacity so that appending never changes its size
//! and `fdatasync` has no metadata to flush. Each record is one batch: a 16-byte header
//! (sequence number, payload length, CRC-32 of both and of the payload) and the payload, the
//! batch's table operations (and redemptions, as their inputs) as encoded by `store::redb_store`. Records follow each other from
//! offset 0; when the store checkpoints (a durable redb commit that records the last sequence
//! number it holds), writing starts again at offset 0.
//!
//! Reading stops at the first record that is torn, zeroed, or does not continue the sequence,
//! so leftovers of an older round past the newest record are never taken for new ones: their
//! sequence numbers are all at or below the checkpoint's.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

const HEADER: usize = 16;

/// The journal file: where the next record goes and how much room there is.
#[derive(Debug)]
pub struct Journal {
    file: File,
    /// The folder holding the file, synced with it so the file itself survives a power loss.
    dir: Option<std::path::PathBuf>,
    capacity: u64,
    offset: u64,
}

/// Opens `path` for reading and writing, creating it with mode 0600 (never truncating).
pub fn open_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

fn checksum(seq: u64, len: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(&len.to_le_bytes());
    h.update(payload);
    h.finalize()
}

impl Journal {
    /// Opens (or creates, 0600) the journal as it is: call [`Journal::replay`] to recover what
    /// it holds, then [`Journal::resize`] before writing.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let file = open_private(path)?;
        let capacity = file.metadata()?.len();
        Ok(Journal {
            file,
            dir: path.parent().map(Path::to_path_buf),
            capacity,
            offset: 0,
        })
    }

    /// The most records the file can hold now: no sequence number in it is more than this
    /// above the last checkpoint's.
    pub fn max_records(&self) -> u64 {
        self.capacity / HEADER as u64
    }

    /// Makes the file exactly `capacity` bytes, zeros where it grows, and durable; writing starts
    /// at offset 0. With `discard`, everything it held is zeroed first (a journal that belongs
    /// to no database on record).
    pub fn resize(&mut self, capacity: u64, discard: bool) -> std::io::Result<()> {
        let len = if discard { 0 } else { self.capacity };
        self.file.set_len(len.min(capacity))?;
        // Real zeros, not a sparse or fallocated range: overwriting written blocks is what keeps
        // each later fdatasync to the data alone.
        let zeros = vec![0u8; 1 << 20];
        let mut at = len.min(capacity);
        while at < capacity {
            let n = (capacity - at).min(zeros.len() as u64) as usize;
            self.file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        self.file.sync_all()?;
        if let Some(dir) = &self.dir {
            File::open(dir)?.sync_all()?;
        }
        self.capacity = capacity;
        self.offset = 0;
        Ok(())
    }

    /// Calls `apply` with every record after `after`, in order, as long as they continue the
    /// sequence (`after + 1`, `after + 2`, …). Returns the last sequence number applied (or
    /// `after`). Writing then continues after the last record read.
    pub fn replay<E: From<std::io::Error>>(
        &mut self,
        after: u64,
        mut apply: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        (&self.file).seek(SeekFrom::Start(0))?;
        let mut reader = BufReader::with_capacity(1 << 20, &self.file);
        let mut at = 0u64;
        let mut last = after;
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; HEADER];
            if at + HEADER as u64 > self.capacity || !read_or_end(&mut reader, &mut header)? {
                break;
            }
            let seq = u64::from_le_bytes(header[0..8].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
            let crc = u32::from_le_bytes(header[12..16].try_into().unwrap_or_default());
            let end = at + HEADER as u64 + u64::from(len);
            if end > self.capacity || seq == 0 {
                break;
            }
            payload.resize(len as usize, 0);
            if !read_or_end(&mut reader, &mut payload)? || checksum(seq, len, &payload) != crc {
                break;
            }
            if seq <= last && last == after {
                // Already in the checkpoint: skip, and keep looking for `after + 1`.
            } else if seq == last + 1 {
                apply(seq, &payload)?;
                last = seq;
            } else {
                break;
            }
            at = end;
        }
        self.offset = if last == after { 0 } else { at };
        Ok(last)
    }

    /// Bytes a record with a payload of `payload_len` bytes takes in the journal.
    pub fn record_len(payload_len: usize) -> u64 {
        (HEADER + payload_len) as u64
    }

    /// The journal's size: records since the last checkpoint must fit in it.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Writes one record and waits until it is on disk. Returns where it starts, or `None`
    /// when it does not fit (and nothing was written).
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> std::io::Result<Option<u64>> {
        let start = self.offset;
        Ok(self.append_all(&[(seq, payload)])?.then_some(start))
    }

    /// Writes records (consecutive sequence numbers) with one write, and waits until they are on
    /// disk. Returns `false` when they do not fit (and nothing was written). After an error
    /// nothing is known of what reached the disk: the caller must stop writing (the store stops
    /// the process; a restart replays what is whole).
    pub fn append_all(&mut self, records: &[(u64, &[u8])]) -> std::io::Result<bool> {
        let total: u64 = records
            .iter()
            .map(|(_, p)| Journal::record_len(p.len()))
            .sum();
        let start = self.offset;
        if start + total > self.capacity {
            return Ok(false);
        }
        let mut buf = Vec::with_capacity(total as usize);
        for (seq, payload) in records {
            let len = u32::try_from(payload.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
            buf.extend_from_slice(&seq.to_le_bytes());
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&checksum(*seq, len, payload).to_le_bytes());
            buf.extend_from_slice(payload);
        }
        self.file.write_all_at(&buf, start)?;
        self.file.sync_data()?;
        self.offset = start + total;
        Ok(true)
    }

    /// After a checkpoint holds everything written so far: the next record goes to offset 0.
    pub fn reset(&mut self) {
        self.offset = 0;
    }

    /// After a checkpoint with nothing new to write: zeroes the first header, so the next start
    /// finds the journal empty at once instead of reading past every record the checkpoint holds.
    pub fn clear_head(&mut self) -> std::io::Result<()> {
        if self.capacity >= HEADER as u64 {
            self.file.write_all_at(&[0u8; HEADER], 0)?;
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Bytes of records since the last checkpoint.
    pub fn used(&self) -> u64 {
        self.offset
    }
}

/// Fills `buf`; `false` at the end of the file, an error for anything else.
fn read_or_end(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(path: &Path, capacity: u64) -> Journal {
        let mut j = Journal::open(path).unwrap();
        j.resize(capacity, false).unwrap();
        j
    }

    fn records(j: &mut Journal, after: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        j.replay(after, |seq, p| {
            out.push((seq, p.to_vec()));
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn records_come_back_in_order_and_writing_continues_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = sized(&path, 4096);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
        j.append(1, b"one").unwrap().unwrap();
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
    fn a_torn_record_ends_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = sized(&path, 4096);
        j.append(1, b"kept").unwrap().unwrap();
        let second = j.append(2, b"torn in half").unwrap().unwrap();
        j.append(3, b"after the tear").unwrap().unwrap();
        // Flip one payload byte of record 2, as a crash in the middle of its write would leave.
        j.file
            .write_all_at(b"X", second + HEADER as u64 + 3)
            .unwrap();
        assert_eq!(records(&mut j, 0), vec![(1, b"kept".to_vec())]);
        assert_eq!(j.used(), second, "writing resumes where the damage starts");
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
        j.resize(64, false).unwrap();
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
        // A checkpoint that holds everything: nothing to replay, writing restarts at 0.
        assert_eq!(records(&mut j, 8), vec![]);
        assert_eq!(j.used(), 0);
    }

    #[test]
    fn a_cleared_head_ends_the_journal_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = sized(&dir.path().join("j"), 4096);
        for seq in 1..=3 {
            j.append(seq, b"held by the checkpoint").unwrap().unwrap();
        }
        j.reset();
        j.clear_head().unwrap();
        let mut seen = 0;
        j.replay(0, |_, _| {
            seen += 1;
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
        assert_eq!(seen, 0);
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = sized(&dir.path().join("j"), 64);
        assert_eq!(j.append(1, &[7u8; 40]).unwrap(), Some(0));
        assert_eq!(j.append(2, &[7u8; 40]).unwrap(), None);
        assert_eq!(j.used(), 56);
        assert_eq!(records(&mut j, 0).len(), 1);
    }
}
