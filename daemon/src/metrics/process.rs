//! The standard process series (`process_resident_memory_bytes`, `process_cpu_seconds_total`,
//! `process_open_fds`, `process_max_fds`, `process_virtual_memory_bytes`,
//! `process_start_time_seconds`), read from `/proc/self` at scrape time, named as every
//! Prometheus client library names them. Elsewhere than Linux they are left out.

use prometheus::core::Collector;
use prometheus::{Counter, Gauge, IntGauge};

pub(super) struct Process {
    cpu: Counter,
    resident: IntGauge,
    virtual_bytes: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    start_time: Gauge,
}

fn new<T>(made: prometheus::Result<T>) -> T {
    made.unwrap_or_else(|e| unreachable!("a fixed process metric is valid: {e}"))
}

impl Process {
    pub(super) fn new() -> Process {
        Process {
            cpu: new(Counter::new(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            )),
            resident: new(IntGauge::new(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            )),
            virtual_bytes: new(IntGauge::new(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            )),
            open_fds: new(IntGauge::new(
                "process_open_fds",
                "Number of open file descriptors.",
            )),
            max_fds: new(IntGauge::new(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            )),
            start_time: new(Gauge::new(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            )),
        }
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        if !cfg!(target_os = "linux") {
            return Vec::new();
        }
        vec![
            Box::new(self.cpu.clone()),
            Box::new(self.resident.clone()),
            Box::new(self.virtual_bytes.clone()),
            Box::new(self.open_fds.clone()),
            Box::new(self.max_fds.clone()),
            Box::new(self.start_time.clone()),
        ]
    }

    /// Reads `/proc/self`; a value that cannot be read keeps its last one.
    pub(super) fn update(&self) {
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|t| *t > 0)
            .unwrap_or(100) as f64;
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .filter(|p| *p > 0)
            .unwrap_or(4096);
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some(f) = stat_fields(&stat)
        {
            // Fields after the command name, numbered as in proc(5) from 3 (state).
            let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
            if let (Some(utime), Some(stime)) = (field(14), field(15)) {
                let cpu = (utime + stime) as f64 / ticks;
                let now = self.cpu.get();
                if cpu > now {
                    self.cpu.inc_by(cpu - now);
                }
            }
            if let Some(v) = field(23) {
                self.virtual_bytes.set(v as i64);
            }
            if let Some(rss) = field(24) {
                self.resident.set(rss as i64 * page);
            }
            if let (Some(start), Some(boot)) = (field(22), boot_time()) {
                self.start_time.set(boot as f64 + start as f64 / ticks);
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // The folder's own descriptor, open while it is read, is not counted.
            self.open_fds.set(dir.count().saturating_sub(1) as i64);
        }
        if let Ok((soft, _)) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        {
            self.max_fds.set(i64::try_from(soft).unwrap_or(i64::MAX));
        }
    }
}

/// The fields of `/proc/self/stat` after `(comm)`, which may itself hold spaces and parentheses.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// The system's boot time (seconds since the epoch), from `/proc/stat`.
fn boot_time() -> Option<u64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let f = stat_fields("42 (a (b) c) S 1 42 42 0 -1").unwrap();
        assert_eq!(f[0], "S");
        assert_eq!(f[1], "1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_series_hold_this_process() {
        let p = Process::new();
        p.update();
        assert!(p.resident.get() > 1 << 20, "{}", p.resident.get());
        assert!(p.open_fds.get() >= 3);
        assert!(p.max_fds.get() >= p.open_fds.get());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = p.start_time.get();
        assert!(
            started <= now + 1.0 && started > now - 86_400.0 * 365.0,
            "{started}"
        );
    }
}
