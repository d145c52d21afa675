//! Refusal limits: per source address and per token, in one-minute windows.
//!
//! Per address (`per_address` a minute), every refusal counts — a wrong or malformed token, a
//! bad body, a used-up, revoked, expired or disabled token. Counting and checking are one step
//! under one lock (`refuse`), taken at the moment a refusal is decided and before it is
//! answered: past the limit the answer is 429 instead, however many requests are in flight, so
//! an address learns the outcome of at most `per_address` wrong guesses a minute. A request
//! whose secret is right is only checked (`blocked`) at that same moment, never counted, so
//! valid hosts — on any address, at any concurrency — are never slowed by their own number.
//!
//! Per token (`per_token` a minute), refusals of a request that held the token's secret count
//! (the token is used up, revoked, expired, disabled, or presented from outside its CIDRs):
//! a holder of an old token cannot flood from many addresses. Wrong secrets never count for a
//! token, so no one can lock a token out by knowing its public id.
//!
//! IPv6 addresses count by their /64 (one host's usual share); an IPv4 client seen through an
//! IPv6 socket counts as its IPv4 address. Memory is bounded: at most `capacity` keys of each
//! kind; when full, finished windows go first, then keys that are not blocked.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use gatepass_protocol::Timestamp;

const WINDOW: i64 = 60;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    refusals: u32,
}

/// Refusal windows for one kind of key.
#[derive(Debug)]
struct Windows<K> {
    limit: u32,
    capacity: usize,
    map: Mutex<HashMap<K, Window>>,
}

impl<K: Hash + Eq> Windows<K> {
    fn new(limit: u32, capacity: usize) -> Windows<K> {
        Windows {
            limit: limit.max(1),
            capacity: capacity.max(1),
            map: Mutex::default(),
        }
    }

    fn retry_after(&self, w: &Window, now: Timestamp) -> Option<u64> {
        let end = w.start + WINDOW;
        (w.refusals >= self.limit && now.0 < end).then(|| (end - now.0).max(1) as u64)
    }

    fn blocked(&self, key: &K, now: Timestamp) -> Option<u64> {
        let map = self.map.lock().ok()?;
        self.retry_after(map.get(key)?, now)
    }

    fn refuse(&self, key: K, now: Timestamp) -> Verdict {
        let Ok(mut map) = self.map.lock() else {
            return Verdict::Answer { crossed: false };
        };
        if !map.contains_key(&key) && map.len() >= self.capacity {
            map.retain(|_, w| now.0 < w.start + WINDOW);
            if map.len() >= self.capacity {
                let limit = self.limit;
                map.retain(|_, w| w.refusals >= limit);
            }
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        let w = map.entry(key).or_insert(Window {
            start: now.0,
            refusals: 0,
        });
        if now.0 >= w.start + WINDOW {
            *w = Window {
                start: now.0,
                refusals: 0,
            };
        }
        if let Some(retry) = self.retry_after(w, now) {
            return Verdict::Limited { retry_after: retry };
        }
        w.refusals += 1;
        Verdict::Answer {
            crossed: w.refusals == self.limit,
        }
    }

    fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// What to do with a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer it (it was counted); `crossed` when it is the one that reaches the limit.
    Answer { crossed: bool },
    /// Over the limit: answer 429 with this `Retry-After` instead (not counted again).
    Limited { retry_after: u64 },
}

#[derive(Debug)]
pub struct RefusalLimiter {
    addresses: Windows<IpAddr>,
    tokens: Windows<String>,
}

/// The key an address counts under: IPv4 as itself (also when mapped into IPv6), IPv6 by /64.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl RefusalLimiter {
    pub fn new(per_address: u32, per_token: u32, capacity: usize) -> RefusalLimiter {
        RefusalLimiter {
            addresses: Windows::new(per_address, capacity),
            tokens: Windows::new(per_token, capacity),
        }
    }

    /// Seconds until `ip` may try again, when it is blocked now.
    pub fn blocked(&self, ip: IpAddr, now: Timestamp) -> Option<u64> {
        self.addresses.blocked(&canonical(ip), now)
    }

    /// Seconds until the token may be presented again, when its refusals block it now.
    pub fn token_blocked(&self, token_id: &str, now: Timestamp) -> Option<u64> {
        self.tokens.blocked(&token_id.to_owned(), now)
    }

    /// Counts a refusal from `ip` and decides, in the same step, whether it may be answered.
    pub fn refuse(&self, ip: IpAddr, now: Timestamp) -> Verdict {
        self.addresses.refuse(canonical(ip), now)
    }

    /// Counts a refusal of a request that held the token's secret, against the token.
    pub fn refuse_token(&self, token_id: &str, now: Timestamp) -> Verdict {
        self.tokens.refuse(token_id.to_owned(), now)
    }

    /// Addresses remembered.
    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens remembered.
    pub fn tokens_len(&self) -> usize {
        self.tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const ANSWER: Verdict = Verdict::Answer { crossed: false };

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = RefusalLimiter::new(3, 3, 100);
        let t = Timestamp(1_000);
        assert_eq!(l.refuse(ip("10.0.0.1"), t), ANSWER);
        assert_eq!(l.refuse(ip("10.0.0.1"), t), ANSWER);
        assert_eq!(l.blocked(ip("10.0.0.1"), t), None);
        assert_eq!(
            l.refuse(ip("10.0.0.1"), Timestamp(1_010)),
            Verdict::Answer { crossed: true },
            "the third refusal reaches the limit"
        );
        assert_eq!(
            l.refuse(ip("10.0.0.1"), Timestamp(1_010)),
            Verdict::Limited { retry_after: 50 }
        );
        assert_eq!(l.blocked(ip("10.0.0.1"), Timestamp(1_010)), Some(50));
        // Another address is untouched, and the IPv4-mapped form is the same address.
        assert_eq!(l.blocked(ip("10.0.0.2"), Timestamp(1_010)), None);
        assert_eq!(l.blocked(ip("::ffff:10.0.0.1"), Timestamp(1_010)), Some(50));
        // The window ends: free again, and counting starts over.
        assert_eq!(l.blocked(ip("10.0.0.1"), Timestamp(1_060)), None);
        assert_eq!(l.refuse(ip("10.0.0.1"), Timestamp(1_060)), ANSWER);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_tokens_apart() {
        let l = RefusalLimiter::new(2, 2, 100);
        let t = Timestamp(1_000);
        l.refuse(ip("2001:db8:1:2::1"), t);
        l.refuse(ip("2001:db8:1:2:ffff::9"), t);
        assert!(l.blocked(ip("2001:db8:1:2::77"), t).is_some());
        assert_eq!(l.blocked(ip("2001:db8:1:3::1"), t), None);
        assert_eq!(l.token_blocked("tok", t), None);
        l.refuse_token("tok", t);
        l.refuse_token("tok", t);
        assert!(l.token_blocked("tok", t).is_some());
        assert_eq!(l.token_blocked("other", t), None);
    }

    /// Issue 18, point 1: the count and the check are one step, so however many threads refuse
    /// at once, at most the limit are answered.
    #[test]
    fn concurrent_refusals_answer_at_most_the_limit() {
        let l = RefusalLimiter::new(10, 10, 100);
        let answered = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..125 {
                        if let Verdict::Answer { .. } = l.refuse(ip("10.0.0.1"), Timestamp(5)) {
                            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(answered.into_inner(), 10);
    }

    /// The trial's memory bound: 130,000 addresses stay within `capacity`, and a blocked address
    /// is kept.
    #[test]
    fn memory_stays_bounded_under_130000_addresses_and_keeps_blocked_ones() {
        let l = RefusalLimiter::new(2, 2, 1_000);
        let t = Timestamp(5_000);
        l.refuse(ip("192.0.2.1"), t);
        l.refuse(ip("192.0.2.1"), t);
        for i in 0..130_000u32 {
            l.refuse(IpAddr::from(i.to_be_bytes()), t);
            assert!(l.len() <= 1_000);
        }
        assert_eq!(
            l.blocked(ip("192.0.2.1"), t),
            Some(60),
            "a blocked address is kept"
        );
    }
}
