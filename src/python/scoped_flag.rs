//! A thread-local flag set for the length of a call and restored however the call
//! ends (a panic included): "this thread is inside X" for code that asks cheaply.

use std::cell::Cell;
use std::thread::LocalKey;

/// Runs `f` with `flag` set on this thread, then puts back what it was.
pub(crate) fn while_set<R>(flag: &'static LocalKey<Cell<bool>>, f: impl FnOnce() -> R) -> R {
    struct Restore(&'static LocalKey<Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = self.0.try_with(|f| f.set(self.1));
        }
    }
    let outer = flag.try_with(|f| f.replace(true)).unwrap_or(true);
    let _restore = Restore(flag, outer);
    f()
}
