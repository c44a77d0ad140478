//! The process-wide "stop installing" flag. A front end (the CLI's signal handler)
//! raises it; every installer run and every wait for another process's build polls it,
//! kills what it started and returns [`DepsError::Cancelled`](super::DepsError).
//! It is never lowered: a process asked to stop installs nothing more.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

fn flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Stops running installs and refuses new ones, for the rest of this process.
pub fn cancel_installs() {
    flag().store(true, Ordering::SeqCst);
}

/// Whether [`cancel_installs`] was called (or the flag set through [`cancel_flag`]).
pub fn installs_cancelled() -> bool {
    flag().load(Ordering::SeqCst)
}

/// The flag itself, for a signal handler that may only store to an atomic
/// (`signal_hook::flag::register`).
pub fn cancel_flag() -> Arc<AtomicBool> {
    Arc::clone(flag())
}

static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// The signal that cancelled installs (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// After cancelling, how long the program may take to wind down before the signal's
/// default action ends it anyway.
const WIND_DOWN: Duration = Duration::from_secs(10);

/// Counts an install in progress (waiting for its lock or running an installer).
pub(crate) struct Running(());

impl Running {
    pub(crate) fn start() -> Self {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The signal number that cancelled installs, if one did.
pub fn cancelled_by_signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// For programs (the CLI): SIGINT and SIGTERM stop the installs in progress (the
/// installer's process group is killed and the install fails with
/// [`DepsError::Cancelled`](super::DepsError)) so the program can report it and exit.
/// With no install in progress, or at a second signal, or when the program has not
/// ended [`WIND_DOWN`] after the first, the signal's default action ends the process.
///
/// Not for library hosts: it takes over these signals for the whole process.
#[cfg(unix)]
pub fn stop_installs_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;
    use signal_hook::low_level::emulate_default_handler;

    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("racetrack-signals".into())
        .spawn(move || {
            let mut first: Option<std::time::Instant> = None;
            for sig in signals.forever() {
                if first.is_some() || RUNNING.load(Ordering::SeqCst) == 0 {
                    let _ = emulate_default_handler(sig);
                    std::process::exit(128 + sig);
                }
                SIGNAL.store(sig, Ordering::SeqCst);
                cancel_installs();
                tracing::warn!(
                    signal = sig,
                    "interrupted: stopping the installs in progress"
                );
                first = Some(std::time::Instant::now());
                let _ = std::thread::Builder::new()
                    .name("racetrack-wind-down".into())
                    .spawn(move || {
                        std::thread::sleep(WIND_DOWN);
                        let _ = emulate_default_handler(sig);
                        std::process::exit(128 + sig);
                    });
            }
        })?;
    Ok(())
}
