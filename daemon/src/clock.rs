//! Time, injected: the daemon asks a `Clock` for "now", so tests move time instead of sleeping.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};

use gatepass_protocol::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock set by hand (library tests).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(at.0))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// The wall clock plus an offset in seconds read from a file at every call: the end-to-end
/// tests' way to move the real binary's time. Enabled only by `GATEPASSD_TEST_CLOCK_FILE`, and
/// announced in the log when it is.
#[derive(Debug)]
pub struct OffsetFileClock {
    pub path: PathBuf,
}

impl Clock for OffsetFileClock {
    fn now(&self) -> Timestamp {
        let offset = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        Timestamp(Timestamp::now().0.saturating_add(offset))
    }
}
