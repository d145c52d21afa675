//! (feature `fuzzing`, and tests) The journal's decoders on arbitrary bytes: a whole journal
//! file (stamp, records, checksums) replayed, and each record it yields — or the bytes
//! themselves — applied as a batch's record to an empty in-memory database. Any outcome but a
//! panic is fine: damage must be an error, never a crash.

use std::sync::Mutex;

use ::redb::Database;
use ::redb::backends::InMemoryBackend;

use super::journal::{Journal, JournalFile};
use super::recovery::replay_record;
use super::tables::create_all;

/// A journal file in memory.
#[derive(Debug)]
struct MemFile(Mutex<Vec<u8>>);

impl JournalFile for MemFile {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.0.lock().map(|v| v.len() as u64).unwrap_or(0))
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        if let Ok(mut v) = self.0.lock() {
            v.resize(len as usize, 0);
        }
        Ok(())
    }
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        let v = self.0.lock().map_err(|_| std::io::ErrorKind::Other)?;
        let at = at as usize;
        let end = at.checked_add(buf.len()).filter(|&e| e <= v.len());
        match end {
            Some(end) => {
                buf.copy_from_slice(&v[at..end]);
                Ok(())
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
    fn write_all_at(&self, _buf: &[u8], _at: u64) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_all(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Applies `record` as a journal record to an empty database; the outcome is dropped.
fn apply(db: &Database, record: &[u8]) {
    if let Ok(txn) = db.begin_write() {
        let _ = create_all(&txn).and_then(|()| replay_record(&txn, record));
        let _ = txn.abort();
    }
}

/// The fuzz target: `data` as a journal file and as one record.
pub fn journal(data: &[u8]) {
    let Ok(db) = Database::builder().create_with_backend(InMemoryBackend::new()) else {
        return;
    };
    apply(&db, data);
    let Ok(mut j) = Journal::on(Box::new(MemFile(Mutex::new(data.to_vec())))) else {
        return;
    };
    let _ = j.stamp();
    let _ = j.replay(0, |_, record| {
        apply(&db, record);
        Ok::<(), ()>(())
    });
}
