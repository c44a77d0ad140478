//! When the next change check is due. Every hook call asks, so asking must cost next
//! to nothing: the precise monotonic clock costs about as much as a small hook's whole
//! call, while the check needs the watch interval only to within a few milliseconds.
//! On Linux this reads the coarse monotonic clock (updated each scheduler tick), and
//! one atomic word holds the due time, so concurrent callers never wait on a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(super) struct PollTimer {
    interval_ns: u64,
    /// [`now_ns`] at which the next check is due.
    due_ns: AtomicU64,
}

impl PollTimer {
    /// The first check is due one `interval` from now (the engine has just loaded).
    pub(super) fn new(interval: Duration) -> Self {
        let interval_ns = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        Self {
            interval_ns,
            due_ns: AtomicU64::new(now_ns().saturating_add(interval_ns)),
        }
    }

    /// Whether a check is due, without claiming it.
    pub(super) fn is_due(&self) -> bool {
        now_ns() >= self.due_ns.load(Ordering::Relaxed)
    }

    /// Whether a check is due; when it is, exactly one caller gets `true` and the next
    /// check is due one interval later.
    pub(super) fn claim(&self) -> bool {
        let now = now_ns();
        let due = self.due_ns.load(Ordering::Relaxed);
        now >= due
            && self
                .due_ns
                .compare_exchange(
                    due,
                    now.saturating_add(self.interval_ns),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// Nanoseconds on a monotonic clock, coarse where the platform has a cheap one.
fn now_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to write to; CLOCK_MONOTONIC_COARSE exists
        // on every Linux since 2.6.32.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) } == 0 {
            let secs = u64::try_from(now.tv_sec).unwrap_or_default();
            let nanos = u64::try_from(now.tv_nsec).unwrap_or_default();
            return secs.saturating_mul(1_000_000_000).saturating_add(nanos);
        }
    }
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_due_once_per_interval() {
        let timer = PollTimer::new(Duration::from_millis(50));
        assert!(!timer.claim(), "not due right after loading");
        std::thread::sleep(Duration::from_millis(80));
        assert!(timer.claim(), "due once the interval has passed");
        assert!(!timer.claim(), "claimed: not due again at once");
    }

    #[test]
    fn a_zero_interval_is_always_due_and_a_huge_one_never() {
        let always = PollTimer::new(Duration::ZERO);
        assert!(always.claim() && always.claim());
        let never = PollTimer::new(Duration::MAX);
        std::thread::sleep(Duration::from_millis(20));
        assert!(!never.claim());
    }
}
