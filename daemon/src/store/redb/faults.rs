//! A disk that fails on purpose, for the fault sweep (`fault_tests`): the database file and the
//! journal as in-memory images, each with what a sync made durable kept apart from what was
//! only written. The Nth I/O operation (write, sync, read or resize) fails, or a write is torn
//! (half of it lands, then an error). After the run, the images show the disk as a crash of the
//! process leaves it (`written`) and as a power loss does (`synced`: every write since the last
//! sync dropped).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ::redb::StorageBackend;

use super::journal::JournalFile;

/// How the chosen operation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation returns an error and does nothing.
    Error,
    /// A write lands half way, then returns an error (other operations: as `Error`).
    Tear,
    /// An operation on the journal panics (as a bug might); on the database file, as `Error`.
    /// (A panic inside redb's own file calls leaves its locks poisoned, and its destructors
    /// then abort the process: no test in the process can observe that.)
    Panic,
}

/// Which kind of operation the counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Sync,
    Resize,
}

#[derive(Debug, Default, Clone)]
struct Image {
    written: Vec<u8>,
    synced: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<&'static str, Image>,
    /// Operations so far, on every file.
    ops: u64,
    /// The operation that fails (1-based), and how.
    fail_at: Option<(u64, Fault)>,
    /// The kind of operation the fault hit, once it has.
    fired: Option<Op>,
}

/// The shared disk. Clone the `Arc` to hand out files.
#[derive(Debug, Default)]
pub struct Disk {
    state: Mutex<State>,
}

impl Disk {
    pub fn new(fail_at: Option<(u64, Fault)>) -> Arc<Disk> {
        Arc::new(Disk {
            state: Mutex::new(State {
                fail_at,
                ..State::default()
            }),
        })
    }

    /// A disk holding these files, as written and synced.
    pub fn with_files(files: &[(&'static str, Vec<u8>)]) -> Arc<Disk> {
        let disk = Disk::new(None);
        for (name, bytes) in files {
            disk.lock().files.insert(
                name,
                Image {
                    written: bytes.clone(),
                    synced: bytes.clone(),
                },
            );
        }
        disk
    }

    /// Makes the `n`th operation from now fail (1-based).
    pub fn fail_at(&self, n: u64, fault: Fault) {
        let mut state = self.lock();
        state.ops = 0;
        state.fail_at = Some((n, fault));
        state.fired = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn file(self: &Arc<Disk>, name: &'static str) -> File {
        self.lock().files.entry(name).or_default();
        File {
            disk: self.clone(),
            name,
        }
    }

    /// How many operations ran.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// The kind of operation the fault hit, if it did.
    pub fn fired(&self) -> Option<Op> {
        self.lock().fired
    }

    /// Every file as a crash of the process leaves it (`synced = false`) or a power loss
    /// (`synced = true`). The disk stops answering afterwards, and frees its images.
    pub fn take(&self, synced: bool) -> Vec<(&'static str, Vec<u8>)> {
        let state = self.lock();
        state
            .files
            .iter()
            .map(|(name, i)| {
                (
                    *name,
                    if synced {
                        i.synced.clone()
                    } else {
                        i.written.clone()
                    },
                )
            })
            .collect()
    }

    /// Frees the images: a store left halted (and leaked, by design) keeps only this.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.files.clear();
        state.fail_at = Some((0, Fault::Error));
    }
}

/// One file on the disk.
#[derive(Debug, Clone)]
pub struct File {
    disk: Arc<Disk>,
    name: &'static str,
}

fn injected() -> std::io::Error {
    std::io::Error::other("injected I/O fault")
}

impl File {
    /// Counts an operation; `Some(fault)` when this one must fail.
    fn tick(&self, state: &mut State, op: Op) -> Option<Fault> {
        state.ops += 1;
        match state.fail_at {
            Some((0, f)) => Some(f),
            Some((n, f)) if n == state.ops => {
                state.fired = Some(op);
                if std::env::var_os("GP_FAULT_TRACE").is_some() {
                    eprintln!(
                        "FAULT {op:?}\n{}",
                        std::backtrace::Backtrace::force_capture()
                    );
                }
                if f == Fault::Panic && self.name == "db.journal" {
                    panic!("injected panic in a {op:?}");
                }
                Some(f)
            }
            _ => None,
        }
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let mut state = self.disk.lock();
        if self.tick(&mut state, Op::Read).is_some() {
            return Err(injected());
        }
        let image = &state.files[self.name].written;
        let start = usize::try_from(offset).map_err(|_| injected())?;
        let end = start + out.len();
        if end > image.len() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        out.copy_from_slice(&image[start..end]);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut state = self.disk.lock();
        let fault = self.tick(&mut state, Op::Write);
        let data = match fault {
            None => data,
            Some(Fault::Tear) => &data[..data.len() / 2],
            Some(Fault::Error | Fault::Panic) => return Err(injected()),
        };
        let Some(image) = state.files.get_mut(self.name) else {
            return Err(injected());
        };
        let start = offset as usize;
        let end = start + data.len();
        if image.written.len() < end {
            image.written.resize(end, 0);
        }
        image.written[start..end].copy_from_slice(data);
        match fault {
            Some(_) => Err(injected()),
            None => Ok(()),
        }
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let mut state = self.disk.lock();
        if self.tick(&mut state, Op::Resize).is_some() {
            return Err(injected());
        }
        let Some(image) = state.files.get_mut(self.name) else {
            return Err(injected());
        };
        image.written.resize(len as usize, 0);
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        let mut state = self.disk.lock();
        if self.tick(&mut state, Op::Sync).is_some() {
            return Err(injected());
        }
        let Some(image) = state.files.get_mut(self.name) else {
            return Err(injected());
        };
        image.synced = image.written.clone();
        Ok(())
    }

    fn len(&self) -> u64 {
        self.disk
            .lock()
            .files
            .get(self.name)
            .map(|i| i.written.len() as u64)
            .unwrap_or_default()
    }
}

impl StorageBackend for File {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(File::len(self))
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        File::read(self, offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        File::set_len(self, len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.sync()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        File::write(self, offset, data)
    }
}

impl JournalFile for File {
    fn len(&self) -> std::io::Result<u64> {
        Ok(File::len(self))
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        File::set_len(self, len)
    }
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        self.read(at, buf)
    }
    fn write_all_at(&self, buf: &[u8], at: u64) -> std::io::Result<()> {
        self.write(at, buf)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.sync()
    }
    fn sync_all(&self) -> std::io::Result<()> {
        self.sync()
    }
}
