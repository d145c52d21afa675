//! Time, injected: the daemon asks a `Clock` for "now", so tests move time instead of sleeping.

#[cfg(feature = "test-seams")]
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use gatepass_protocol::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// "Now" rounded up to the next whole second: what a new token's lifetime is counted from,
    /// so it is at least what was asked (a `--ttl 1s` token made at 12:00:00.7 and counted from
    /// 12:00:00 lived 0.3 s). Its creation time is `now`, so the trail never runs backwards.
    fn now_rounded_up(&self) -> Timestamp {
        self.now()
    }
}

/// The wall clock in whole seconds, rounded up when a fraction of a second has passed.
fn wall_rounded_up() -> Timestamp {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => Timestamp(d.as_secs() as i64 + i64::from(d.subsec_nanos() > 0)),
        Err(_) => Timestamp::now(),
    }
}

/// The real wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn now_rounded_up(&self) -> Timestamp {
        wall_rounded_up()
    }
}

/// A clock set by hand (library tests), on a whole second or, after `mid_second(true)`, part
/// of the way into the second it reads.
#[derive(Debug)]
pub struct ManualClock(AtomicI64, AtomicBool);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(at.0), AtomicBool::new(false))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// Whether "now" is part of the way into its second (so rounding up moves it on one).
    pub fn mid_second(&self, on: bool) {
        self.1.store(on, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }

    fn now_rounded_up(&self) -> Timestamp {
        let now = self.now();
        Timestamp(now.0 + i64::from(self.1.load(Ordering::SeqCst)))
    }
}

/// The wall clock plus an offset in seconds read from a file at every call: the end-to-end
/// tests' way to move the real binary's time. Enabled only by `GATEPASSD_TEST_CLOCK_FILE`, and
/// announced in the log when it is; compiled only with the `test-seams` feature, which release
/// builds never enable.
#[cfg(feature = "test-seams")]
#[derive(Debug)]
pub struct OffsetFileClock {
    pub path: PathBuf,
}

#[cfg(feature = "test-seams")]
impl OffsetFileClock {
    fn offset(&self) -> i64 {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0)
    }
}

#[cfg(feature = "test-seams")]
impl Clock for OffsetFileClock {
    fn now(&self) -> Timestamp {
        Timestamp(Timestamp::now().0.saturating_add(self.offset()))
    }

    fn now_rounded_up(&self) -> Timestamp {
        Timestamp(wall_rounded_up().0.saturating_add(self.offset()))
    }
}
