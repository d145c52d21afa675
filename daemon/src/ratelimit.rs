//! Failed-redemption limits per source address: after `per_minute` failures in a one-minute
//! window an address gets 429 until the window ends. Only failures count, so valid hosts — and
//! every other address — are never slowed. Memory is bounded: at most `capacity` addresses are
//! remembered; when full, finished windows go first, then addresses that are not blocked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use gatepass_protocol::Timestamp;

const WINDOW: i64 = 60;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    failures: u32,
}

#[derive(Debug)]
pub struct FailureLimiter {
    per_minute: u32,
    capacity: usize,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

/// An IPv4 client seen through an IPv6 socket counts as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl FailureLimiter {
    pub fn new(per_minute: u32, capacity: usize) -> FailureLimiter {
        FailureLimiter {
            per_minute: per_minute.max(1),
            capacity: capacity.max(1),
            windows: Mutex::default(),
        }
    }

    /// Seconds until `ip` may try again, when it is blocked now.
    pub fn blocked(&self, ip: IpAddr, now: Timestamp) -> Option<u64> {
        let map = self.windows.lock().ok()?;
        let w = map.get(&canonical(ip))?;
        let end = w.start + WINDOW;
        (w.failures >= self.per_minute && now.0 < end).then(|| (end - now.0).max(1) as u64)
    }

    /// Counts one failure; true when this failure is the one that blocks the address.
    pub fn failure(&self, ip: IpAddr, now: Timestamp) -> bool {
        let Ok(mut map) = self.windows.lock() else {
            return false;
        };
        let ip = canonical(ip);
        if !map.contains_key(&ip) && map.len() >= self.capacity {
            map.retain(|_, w| now.0 < w.start + WINDOW);
            if map.len() >= self.capacity {
                let per_minute = self.per_minute;
                map.retain(|_, w| w.failures >= per_minute);
            }
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        let w = map.entry(ip).or_insert(Window {
            start: now.0,
            failures: 0,
        });
        if now.0 >= w.start + WINDOW {
            *w = Window {
                start: now.0,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
        w.failures == self.per_minute
    }

    pub fn len(&self) -> usize {
        self.windows.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = FailureLimiter::new(3, 100);
        let t = Timestamp(1_000);
        assert!(!l.failure(ip("10.0.0.1"), t));
        assert!(!l.failure(ip("10.0.0.1"), t));
        assert_eq!(l.blocked(ip("10.0.0.1"), t), None);
        assert!(
            l.failure(ip("10.0.0.1"), Timestamp(1_010)),
            "the third failure blocks"
        );
        assert_eq!(l.blocked(ip("10.0.0.1"), Timestamp(1_010)), Some(50));
        // Another address is untouched, and the IPv4-mapped form is the same address.
        assert_eq!(l.blocked(ip("10.0.0.2"), Timestamp(1_010)), None);
        assert_eq!(l.blocked(ip("::ffff:10.0.0.1"), Timestamp(1_010)), Some(50));
        // The window ends: free again, and counting starts over.
        assert_eq!(l.blocked(ip("10.0.0.1"), Timestamp(1_060)), None);
        assert!(!l.failure(ip("10.0.0.1"), Timestamp(1_060)));
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses_and_keeps_blocked_ones() {
        let l = FailureLimiter::new(2, 1_000);
        let t = Timestamp(5_000);
        l.failure(ip("192.0.2.1"), t);
        l.failure(ip("192.0.2.1"), t);
        for i in 0..100_000u32 {
            l.failure(IpAddr::from(i.to_be_bytes()), t);
            assert!(l.len() <= 1_000);
        }
        assert_eq!(
            l.blocked(ip("192.0.2.1"), t),
            Some(60),
            "a blocked address is kept"
        );
    }
}
