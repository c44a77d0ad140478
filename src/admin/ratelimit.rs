//! Failed-login throttling per client address: after [`MAX_FAILURES`] failed logins
//! within [`WINDOW`], further *failed* attempts from that address are answered 429 for
//! [`WINDOW`]. Valid tokens are never throttled, so a legitimate user sharing an
//! address with an attacker keeps working.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses, stale ones are dropped, so memory stays bounded.
const PRUNE_AT: usize = 10_000;

#[derive(Default)]
struct Entry {
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

/// Addresses are `None` when the host mounted the router without connection info.
#[derive(Default)]
pub struct FailedLogins {
    by_addr: Mutex<HashMap<Option<IpAddr>, Entry>>,
}

impl FailedLogins {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, Entry>> {
        self.by_addr
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether failed attempts from `addr` are being answered 429.
    pub fn is_blocked(&self, addr: Option<IpAddr>) -> bool {
        let now = Instant::now();
        self.lock()
            .get(&addr)
            .and_then(|e| e.blocked_until)
            .is_some_and(|until| until > now)
    }

    /// Records a failed attempt; returns whether `addr` is now blocked.
    pub fn record_failure(&self, addr: Option<IpAddr>) -> bool {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= PRUNE_AT {
            map.retain(|_, e| {
                e.blocked_until.is_some_and(|u| u > now)
                    || e.failures.back().is_some_and(|t| now - *t < WINDOW)
            });
        }
        let entry = map.entry(addr).or_default();
        while entry
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() >= MAX_FAILURES && entry.blocked_until.is_none_or(|u| u <= now) {
            entry.blocked_until = Some(now + WINDOW);
            entry.failures.clear();
        }
        entry.blocked_until.is_some_and(|u| u > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_ten_failures_per_address() {
        let limiter = FailedLogins::default();
        let a: Option<IpAddr> = Some([10, 0, 0, 1].into());
        let b: Option<IpAddr> = Some([10, 0, 0, 2].into());
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!limiter.record_failure(a));
        }
        assert!(!limiter.is_blocked(a));
        assert!(limiter.record_failure(a));
        assert!(limiter.is_blocked(a));
        assert!(!limiter.is_blocked(b));
    }
}
