//! The redo journal: a write batch becomes durable with one sequential write and one
//! `fdatasync`, instead of a durable redb commit that writes every copy-on-write page it touched.
//!
//! File format (version 2). The file is preallocated (zeros) to a fixed capacity so that
//! appending never changes its size and `fdatasync` has no metadata to flush.
//!
//! - Bytes 0..128: the stamp, in two 64-byte slots (a generation goes to the slot of its
//!   parity, so a torn stamp write leaves the previous one whole) — magic `GPJRNL\0\0`, format
//!   version (u32 LE), the store's identity (16 bytes) and the journal's generation (u64 LE), a
//!   CRC-32 of those; zeros after. The database records the same identity and generation
//!   (`recovery`), so a journal that is missing, emptied, another store's, or older than its
//!   database is refused at start.
//! - From byte 128, records, one a write batch: a 24-byte header — sequence number (u64), the
//!   sequence number of the first record of the write it came in (u64: records written
//!   together share it), payload length (u32), CRC-32 of all three and the payload — then the
//!   payload, the batch's table operations and redemptions (`batch`). When the store
//!   checkpoints (a durable redb commit that records the last sequence number it holds),
//!   writing starts again at byte 128.
//!
//! A checkpoint with nothing new to journal puts its marker first: a record with no payload
//! whose sequence number is the last batch the database holds.
//!
//! Reading stops at zeros (never written), at a checkpoint's marker, or at a record of an
//! older round (the leftovers past the newest record hold lower sequence numbers). A record
//! that is damaged or zeroed ends the journal only if it was part of the last write (a write
//! torn by a crash, never acknowledged); with a whole record of a later write after it, it is
//! damage at rest, and replay refuses it, saying where. A record or marker ahead of the
//! sequence (batches in neither file: the database is older than its journal) is refused too.

use std::fmt::Debug;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use gatepass_protocol::ChangeEvent;
use tokio::sync::broadcast;

use super::visibility::Visibility;
use super::writer::{Halt, Synced};

/// Bytes before the first record: the stamp's two slots.
pub const FILE_HEADER: u64 = 128;
const SLOT: usize = 64;
const HEADER: usize = 24;
const MAGIC: &[u8; 8] = b"GPJRNL\0\0";
const FORMAT: u32 = 2;

/// What the journal file is stored on: a file on disk, or (in tests) storage that fails or
/// loses what was not synced.
#[allow(clippy::len_without_is_empty)]
pub trait JournalFile: Send + Debug {
    fn len(&self) -> std::io::Result<u64>;
    fn set_len(&self, len: u64) -> std::io::Result<()>;
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()>;
    fn write_all_at(&self, buf: &[u8], at: u64) -> std::io::Result<()>;
    /// Makes what was written durable (`fdatasync`).
    fn sync_data(&self) -> std::io::Result<()>;
    /// Makes the file's size and existence durable too (after a resize).
    fn sync_all(&self) -> std::io::Result<()>;
}

/// The journal on disk, with the folder that holds it (synced when the file is resized, so the
/// file itself survives a power loss).
#[derive(Debug)]
pub struct DiskFile {
    file: File,
    dir: Option<PathBuf>,
}

impl JournalFile for DiskFile {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)
    }
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        FileExt::read_exact_at(&self.file, buf, at)
    }
    fn write_all_at(&self, buf: &[u8], at: u64) -> std::io::Result<()> {
        FileExt::write_all_at(&self.file, buf, at)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
    fn sync_all(&self) -> std::io::Result<()> {
        self.file.sync_all()?;
        if let Some(dir) = &self.dir {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// Which store a journal belongs to and which generation of it this is. A start that
/// accepts the journal moves to the next generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub store_id: [u8; 16],
    pub generation: u64,
}

/// What the first 64 bytes of a journal hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampState {
    /// The file is empty (new, deleted and made again, or truncated).
    Empty,
    /// Zeros: emptied, or never stamped.
    Blank,
    /// Not zeros, and not a stamp: a journal of an earlier version, or damage.
    Unknown,
    Stamped(Stamp),
}

/// The journal: where the next record goes and how much room there is.
#[derive(Debug)]
pub struct Journal {
    file: Box<dyn JournalFile>,
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

/// A stamp slot, if it holds a whole stamp of this format.
fn parse_slot(b: &[u8]) -> Option<Stamp> {
    let crc = u32::from_le_bytes([b[36], b[37], b[38], b[39]]);
    if &b[..8] != MAGIC || crc32fast::hash(&b[..36]) != crc {
        return None;
    }
    if u32::from_le_bytes([b[8], b[9], b[10], b[11]]) != FORMAT {
        return None;
    }
    let mut store_id = [0u8; 16];
    store_id.copy_from_slice(&b[12..28]);
    let mut generation = [0u8; 8];
    generation.copy_from_slice(&b[28..36]);
    Some(Stamp {
        store_id,
        generation: u64::from_le_bytes(generation),
    })
}

fn checksum(seq: u64, group: u64, len: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(&group.to_le_bytes());
    h.update(&len.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Damage the journal proves: the batch `seq` should be at `offset`, and a whole record of a
/// later batch (`later_seq`) shows it had been written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt {
    /// Where the missing record starts, in bytes from the start of the file.
    pub offset: u64,
    /// The sequence number it should have held.
    pub seq: u64,
    /// The later record that proves it had been written whole before.
    pub later_seq: u64,
    /// What is at `offset`.
    pub found: Found,
}

/// What stands where a record was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A record that does not read whole (damaged, or zeroed), with a later write after it.
    Damaged,
    /// A whole record, or a checkpoint's marker, of a later batch: the batches before it are in
    /// neither file (the database is older than its journal: a copy, or a commit it lost).
    Ahead,
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// The last sequence number applied (or the `after` it was given).
    pub last: u64,
    /// Where reading stopped at a record that does not read whole, if it did: a write cut by
    /// a crash (never acknowledged), or what an older round left past the newest record.
    pub torn_at: Option<u64>,
}

/// Why a replay stopped without applying everything.
#[derive(Debug)]
pub enum ReplayError<E> {
    Corrupt(Corrupt),
    Io(std::io::Error),
    /// `apply` refused a record.
    Apply(E),
}

/// A position in the journal, read through a buffer.
struct At<'a> {
    file: &'a dyn JournalFile,
    at: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.end.saturating_sub(self.at)).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.file.read_exact_at(&mut buf[..n], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// One record header, as stored.
#[derive(Debug, Clone, Copy)]
struct Header {
    seq: u64,
    group: u64,
    len: u32,
    crc: u32,
}

impl Header {
    fn parse(b: &[u8; HEADER]) -> Header {
        let u64_at = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(x)
        };
        let u32_at = |i: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[i..i + 4]);
            u32::from_le_bytes(x)
        };
        Header {
            seq: u64_at(0),
            group: u64_at(8),
            len: u32_at(16),
            crc: u32_at(20),
        }
    }
}

impl Journal {
    /// Opens (or creates, 0600) the journal as it is: read its stamp, replay what it holds
    /// ([`Journal::replay`]), then [`Journal::resize`] before writing.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let file = open_private(path)?;
        Journal::on(Box::new(DiskFile {
            file,
            dir: path.parent().map(Path::to_path_buf),
        }))
    }

    /// A journal on any storage.
    pub fn on(file: Box<dyn JournalFile>) -> std::io::Result<Journal> {
        let capacity = file.len()?;
        Ok(Journal {
            file,
            capacity,
            offset: FILE_HEADER,
        })
    }

    /// The most records the file can hold now: no sequence number in it is more than this
    /// above the last checkpoint's.
    pub fn max_records(&self) -> u64 {
        self.capacity / HEADER as u64
    }

    /// Reads the stamp: of its two slots, the whole one with the higher generation.
    pub fn stamp(&self) -> std::io::Result<StampState> {
        if self.capacity == 0 {
            return Ok(StampState::Empty);
        }
        if self.capacity < FILE_HEADER {
            return Ok(StampState::Unknown);
        }
        let mut b = [0u8; FILE_HEADER as usize];
        self.file.read_exact_at(&mut b, 0)?;
        if b.iter().all(|&x| x == 0) {
            return Ok(StampState::Blank);
        }
        let best = b
            .chunks_exact(SLOT)
            .filter_map(parse_slot)
            .max_by_key(|s| s.generation);
        Ok(best.map_or(StampState::Unknown, StampState::Stamped))
    }

    /// Writes the stamp and makes it durable. It goes to the slot its generation's parity
    /// names, so a write torn by a crash leaves the other, the previous generation, whole. The
    /// records after it are left as they are.
    pub fn write_stamp(&mut self, stamp: Stamp) -> std::io::Result<()> {
        if self.capacity < FILE_HEADER {
            return Ok(());
        }
        let mut b = [0u8; SLOT];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        b[12..28].copy_from_slice(&stamp.store_id);
        b[28..36].copy_from_slice(&stamp.generation.to_le_bytes());
        let crc = crc32fast::hash(&b[..36]);
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        let at = (stamp.generation % 2) * SLOT as u64;
        self.file.write_all_at(&b, at)?;
        self.file.sync_data()
    }

    /// Makes the file exactly `capacity` bytes (none, or at least room for its stamp), zeros
    /// where it grows, and durable; writing starts at the first record. With `discard`,
    /// everything it held is zeroed first (a journal that belongs to no database on record).
    pub fn resize(&mut self, capacity: u64, discard: bool) -> std::io::Result<()> {
        let capacity = if capacity == 0 {
            0
        } else {
            capacity.max(FILE_HEADER + HEADER as u64)
        };
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
        self.capacity = capacity;
        self.offset = FILE_HEADER;
        Ok(())
    }

    /// After a damaged record at `damaged` that should have held `seq`: the first whole
    /// record after it that a later write made (its group starts past `seq`), if any. The rest
    /// of the file is read once and searched in memory, at every byte (the damage may have
    /// changed any length before it).
    fn later_write_after(&self, damaged: u64, seq: u64) -> std::io::Result<Option<u64>> {
        let highest = seq.saturating_add(self.max_records());
        let start = damaged + 1;
        let mut rest = vec![0u8; self.capacity.saturating_sub(start) as usize];
        self.file.read_exact_at(&mut rest, start)?;
        let word = |b: &[u8], i: usize| -> u64 {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(x)
        };
        const ZEROS: [u8; 64] = [0; 64];
        let ends = rest.len().saturating_sub(HEADER - 1);
        let mut i = 0;
        while i < ends {
            // Runs of zeros (never written) are skipped a block at a time: no header whose
            // sequence number is zero is a record.
            if i % 64 == 0 && rest.len() >= i + 64 && rest[i..i + 64] == ZEROS {
                i += 64 - 7;
                continue;
            }
            i += 1;
            let i = i - 1;
            // Cheap tests first: almost every offset fails the first.
            let s = word(&rest, i);
            if s <= seq || s > highest {
                continue;
            }
            let mut b = [0u8; HEADER];
            b.copy_from_slice(&rest[i..i + HEADER]);
            let h = Header::parse(&b);
            let end = i + HEADER + h.len as usize;
            if h.group <= seq || end > rest.len() {
                continue;
            }
            if checksum(h.seq, h.group, h.len, &rest[i + HEADER..end]) == h.crc {
                return Ok(Some(h.seq));
            }
        }
        Ok(None)
    }

    /// Calls `apply` with every record after `after`, in order, as long as they continue the
    /// sequence (`after + 1`, `after + 2`, …). Writing then continues after the last record
    /// read. A damaged record ends the journal if nothing a later write made follows it (a
    /// torn last write); otherwise it is `Corrupt`.
    pub fn replay<E>(
        &mut self,
        after: u64,
        mut apply: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<Replayed, ReplayError<E>> {
        let mut reader = BufReader::with_capacity(
            1 << 20,
            At {
                file: &*self.file,
                at: FILE_HEADER,
                end: self.capacity,
            },
        );
        let mut at = FILE_HEADER;
        let mut last = after;
        let mut payload = Vec::new();
        let mut torn_at = None;
        loop {
            let mut b = [0u8; HEADER];
            if at + HEADER as u64 > self.capacity
                || !read_or_end(&mut reader, &mut b).map_err(ReplayError::Io)?
            {
                break;
            }
            let expected = last + 1;
            let ahead = |seq| {
                ReplayError::Corrupt(Corrupt {
                    offset: at,
                    seq: expected,
                    later_seq: seq,
                    found: Found::Ahead,
                })
            };
            // Zeros: never written since the file was made (the end), unless a later write
            // follows (a header zeroed at rest).
            let zeroed = b.iter().all(|&x| x == 0);
            let h = Header::parse(&b);
            let end = at + HEADER as u64 + u64::from(h.len);
            let mut ok = !zeroed && h.seq != 0 && end <= self.capacity;
            if ok {
                payload.resize(h.len as usize, 0);
                ok = read_or_end(&mut reader, &mut payload).map_err(ReplayError::Io)?
                    && checksum(h.seq, h.group, h.len, &payload) == h.crc;
            }
            if !ok {
                if let Some(later_seq) = self
                    .later_write_after(at, expected)
                    .map_err(ReplayError::Io)?
                {
                    return Err(ReplayError::Corrupt(Corrupt {
                        offset: at,
                        seq: expected,
                        later_seq,
                        found: Found::Damaged,
                    }));
                }
                if !zeroed {
                    torn_at = Some(at);
                }
                break;
            }
            if h.len == 0 {
                // A checkpoint's marker: the database holds every batch up to `h.seq`.
                if h.seq > last {
                    return Err(ahead(h.seq));
                }
                break;
            }
            if h.seq <= last && last == after {
                // Already in the checkpoint: skip, and keep looking for `after + 1`.
            } else if h.seq == expected {
                apply(h.seq, &payload).map_err(ReplayError::Apply)?;
                last = h.seq;
            } else if h.seq > expected {
                return Err(ahead(h.seq));
            } else {
                break; // what an older round left past the newest record
            }
            at = end;
        }
        self.offset = if last == after { FILE_HEADER } else { at };
        Ok(Replayed { last, torn_at })
    }

    /// For a journal of format 1 (gatepassd before journal stamps: 16-byte record headers —
    /// sequence, length, CRC-32 of both and the payload — from byte 0): the first record after
    /// `after` it holds, read as that version replayed, if any. Such a record holds changes the
    /// database lacks, which only the version that wrote it can redo.
    pub fn format1_pending(&self, after: u64) -> std::io::Result<Option<u64>> {
        const V1_HEADER: u64 = 16;
        let mut at = 0u64;
        while at + V1_HEADER <= self.capacity {
            let mut h = [0u8; V1_HEADER as usize];
            self.file.read_exact_at(&mut h, at)?;
            let seq = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
            let len = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
            let crc = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
            let end = at + V1_HEADER + u64::from(len);
            if seq == 0 || end > self.capacity {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file.read_exact_at(&mut payload, at + V1_HEADER)?;
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&seq.to_le_bytes());
            hasher.update(&len.to_le_bytes());
            hasher.update(&payload);
            if hasher.finalize() != crc {
                break;
            }
            if seq == after + 1 {
                return Ok(Some(seq));
            }
            if seq > after {
                break; // not in sequence: what an older round left
            }
            at = end; // already in the checkpoint
        }
        Ok(None)
    }

    /// Bytes a record with a payload of `payload_len` bytes takes in the journal.
    pub fn record_len(payload_len: usize) -> u64 {
        (HEADER + payload_len) as u64
    }

    /// The file's size, stamp included.
    pub fn size(&self) -> u64 {
        self.capacity
    }

    /// The room for records since the last checkpoint.
    pub fn capacity(&self) -> u64 {
        self.capacity.saturating_sub(FILE_HEADER)
    }

    /// Writes one record and waits until it is on disk. Returns where it starts, or `None`
    /// when it does not fit (and nothing was written).
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> std::io::Result<Option<u64>> {
        let start = self.offset;
        Ok(self.append_all(&[(seq, payload)])?.then_some(start))
    }

    /// Writes records (consecutive sequence numbers) with one write, and waits until they are on
    /// disk. Returns `false` when they do not fit (and nothing was written). After an error
    /// nothing is known of what reached the disk: the caller must stop writing (the store
    /// halts; a restart replays what is whole).
    pub fn append_all(&mut self, records: &[(u64, &[u8])]) -> std::io::Result<bool> {
        let total: u64 = records
            .iter()
            .map(|(_, p)| Journal::record_len(p.len()))
            .sum();
        let start = self.offset;
        if start + total > self.capacity {
            return Ok(false);
        }
        let group = records.first().map(|r| r.0).unwrap_or_default();
        let mut buf = Vec::with_capacity(total as usize);
        for (seq, payload) in records {
            let len = u32::try_from(payload.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
            buf.extend_from_slice(&seq.to_le_bytes());
            buf.extend_from_slice(&group.to_le_bytes());
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&checksum(*seq, group, len, payload).to_le_bytes());
            buf.extend_from_slice(payload);
        }
        self.file.write_all_at(&buf, start)?;
        self.file.sync_data()?;
        self.offset = start + total;
        Ok(true)
    }

    /// After a checkpoint holds everything written so far: the next record goes first.
    pub fn reset(&mut self) {
        self.offset = FILE_HEADER;
    }

    /// After a checkpoint that holds every batch up to `seq`, with nothing new to write: puts
    /// the checkpoint's marker (a record with no payload) first, so the next start finds the
    /// journal empty at once instead of reading past every record the checkpoint holds, and
    /// refuses a database that holds less (one rolled back to an older commit).
    pub fn clear_head(&mut self, seq: u64) -> std::io::Result<()> {
        if self.capacity >= FILE_HEADER + HEADER as u64 {
            let mut b = [0u8; HEADER];
            b[..8].copy_from_slice(&seq.to_le_bytes());
            b[8..16].copy_from_slice(&seq.to_le_bytes());
            b[20..24].copy_from_slice(&checksum(seq, seq, 0, &[]).to_le_bytes());
            self.file.write_all_at(&b, FILE_HEADER)?;
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Bytes of records since the last checkpoint.
    pub fn used(&self) -> u64 {
        self.offset - FILE_HEADER
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

/// The journal thread: takes every committed batch waiting, writes their records with one
/// write and one fdatasync, then answers their callers and announces their changes, in order.
pub(super) fn journal_thread(
    mut journal: Journal,
    rx: mpsc::Receiver<Synced>,
    events: broadcast::Sender<ChangeEvent>,
    visibility: &Visibility,
    halt: &Halt,
    sync_seconds: &prometheus::Histogram,
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
            let started = std::time::Instant::now();
            let appended = journal.append_all(&records);
            sync_seconds.observe(started.elapsed().as_secs_f64());
            match appended {
                Ok(true) => {}
                Ok(false) => halt.fail_stop("the journal write", &"a record did not fit"),
                Err(e) => halt.fail_stop("the journal write failed", &e),
            }
        } else if fresh > 0
            && let Err(e) = journal.clear_head(items[fresh - 1].upto)
        {
            // Only an optimisation (replay skips what a checkpoint holds), but a write the disk
            // refused: it is failing, and the store stops like for any other.
            halt.fail_stop("the journal's head could not be cleared", &e);
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

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
