//! Running installer child processes: bounded in time, cancellable, output captured.
//!
//! Every line a child writes goes to `tracing` at debug level as it arrives; only the
//! last few lines are kept, for error messages. On timeout or cancellation (see
//! [`super::cancel`]) the whole process group is killed, because pip (`--python`) and
//! uv start children of their own that would otherwise keep running and keep our pipes
//! open. On Linux the child also dies with this process (`PR_SET_PDEATHSIG`), so a
//! killed host leaves no installer behind.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use super::cancel::installs_cancelled;

/// Lines of output kept for error messages.
pub(crate) const TAIL_LINES: usize = 20;
/// Longest line kept (in bytes, cut at a character boundary); pip can print huge ones.
const MAX_LINE: usize = 2000;
/// After the child is gone, how long to wait for its pipes to close. A grandchild that
/// escaped the process group could hold them open forever.
const READER_GRACE: Duration = Duration::from_secs(5);
/// How often a running child is checked for cancellation.
const CANCEL_POLL: Duration = Duration::from_millis(50);

static CHILD_PROCESSES: AtomicU64 = AtomicU64::new(0);

/// Child processes this module has started in this process (probes included).
pub(crate) fn child_processes() -> u64 {
    CHILD_PROCESSES.load(Ordering::Relaxed)
}

#[derive(Debug)]
pub(crate) enum Finish {
    Exited(ExitStatus),
    TimedOut,
    /// Stopped because installs were cancelled.
    Cancelled,
}

#[derive(Debug)]
pub(crate) struct RunOutcome {
    pub finish: Finish,
    /// Up to [`TAIL_LINES`] last lines: stderr's kept first (that is where installers
    /// say what went wrong), the rest filled from the end of stdout, stdout first.
    pub tail: Vec<String>,
    pub elapsed: Duration,
}

impl RunOutcome {
    pub fn success(&self) -> bool {
        matches!(&self.finish, Finish::Exited(status) if status.success())
    }

    pub fn tail_text(&self) -> String {
        self.tail.join("\n")
    }
}

/// Runs `cmd` to completion, until `timeout` (`None`: no limit) or until installs
/// are cancelled, whichever comes first. `label` tags the logged output lines. Errors
/// only when the child cannot be started or waited on.
pub(crate) fn run(cmd: Command, label: &str, timeout: Option<Duration>) -> io::Result<RunOutcome> {
    run_counted(cmd, label, timeout, None)
}

/// [`run`], also bumping `counter` once the child has started.
pub(crate) fn run_counted(
    mut cmd: Command,
    label: &str,
    timeout: Option<Duration>,
    counter: Option<&AtomicU64>,
) -> io::Result<RunOutcome> {
    if installs_cancelled() {
        return Ok(RunOutcome {
            finish: Finish::Cancelled,
            tail: Vec::new(),
            elapsed: Duration::ZERO,
        });
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Own process group, so a timeout can kill pip's and uv's children too.
        cmd.process_group(0);
        #[cfg(target_os = "linux")]
        // SAFETY: the closure runs between fork and exec and only makes one
        // async-signal-safe system call.
        unsafe {
            cmd.pre_exec(|| {
                // Dies with the thread that started it (which waits for it), so a host
                // killed outright leaves no installer running.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    tracing::debug!(child = label, command = ?cmd, "starting");
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    CHILD_PROCESSES.fetch_add(1, Ordering::Relaxed);
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    let out_tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let err_tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let label: Arc<str> = Arc::from(label);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, "stdout", &label, &out_tail, done_tx.clone());
        readers += 1;
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, "stderr", &label, &err_tail, done_tx.clone());
        readers += 1;
    }
    drop(done_tx);

    // `None` when the limit is too far away to represent: no limit.
    let deadline = timeout.and_then(|t| started.checked_add(t));
    let finish = loop {
        let now = Instant::now();
        let slice = match deadline {
            Some(d) => d.saturating_duration_since(now).min(CANCEL_POLL),
            None => CANCEL_POLL,
        };
        match child.wait_timeout(slice) {
            Ok(Some(status)) => break Finish::Exited(status),
            Ok(None) => {}
            Err(e) => {
                kill_tree(&mut child);
                return Err(e);
            }
        }
        if installs_cancelled() {
            tracing::warn!(child = &*label, "installs cancelled; killing it");
            kill_tree(&mut child);
            break Finish::Cancelled;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::warn!(
                child = &*label,
                ?timeout,
                "did not finish in time; killing it"
            );
            kill_tree(&mut child);
            break Finish::TimedOut;
        }
    };

    let grace_end = Instant::now() + READER_GRACE;
    for _ in 0..readers {
        let left = grace_end.saturating_duration_since(Instant::now());
        if done_rx.recv_timeout(left).is_err() {
            tracing::debug!(
                child = &*label,
                "output pipes still open; not waiting for them"
            );
            break;
        }
    }
    let tail = merge_tails(&lock(&out_tail), &lock(&err_tail));
    let elapsed = started.elapsed();
    tracing::debug!(child = &*label, ?finish, ?elapsed, "finished");
    Ok(RunOutcome {
        finish,
        tail,
        elapsed,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Each stream has its own tail, so a chatty stdout cannot push the error out, and the
/// result does not depend on which reader thread ran first.
fn merge_tails(out: &VecDeque<String>, err: &VecDeque<String>) -> Vec<String> {
    let from_out = TAIL_LINES.saturating_sub(err.len()).min(out.len());
    out.iter()
        .skip(out.len() - from_out)
        .chain(err.iter())
        .cloned()
        .collect()
}

fn spawn_reader<R: Read + Send + 'static>(
    stream: R,
    name: &'static str,
    label: &Arc<str>,
    tail: &Arc<Mutex<VecDeque<String>>>,
    done: mpsc::Sender<()>,
) {
    let label = Arc::clone(label);
    let tail = Arc::clone(tail);
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&buf);
            let line = truncate(text.trim_end());
            if line.is_empty() {
                continue;
            }
            tracing::debug!(child = &*label, stream = name, "{line}");
            let mut tail = lock(&tail);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        }
        let _ = done.send(());
    });
}

fn truncate(line: &str) -> &str {
    if line.len() <= MAX_LINE {
        return line;
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Kills the child's process group (Unix) and the child itself, then reaps it.
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        // The group's id is the child's pid (`process_group(0)`), and the child is
        // not reaped yet, so the id cannot have been reused.
        let group = libc::pid_t::try_from(child.id()).unwrap_or(0);
        // SAFETY: plain system call; a negative pid names the process group.
        if group > 0 && unsafe { libc::kill(-group, libc::SIGKILL) } != 0 {
            tracing::debug!(
                "cannot kill process group {group}: {}",
                io::Error::last_os_error()
            );
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_the_tail_of_both_streams() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(
            "i=0; while [ $i -lt 30 ]; do echo out$i; i=$((i+1)); done; echo boom >&2; exit 3",
        );
        let outcome = run(cmd, "test", Some(Duration::from_secs(30))).expect("sh runs");
        assert!(!outcome.success());
        match outcome.finish {
            Finish::Exited(status) => assert_eq!(status.code(), Some(3)),
            other => panic!("should exit, not {other:?}"),
        }
        assert_eq!(outcome.tail.len(), TAIL_LINES);
        assert!(
            outcome.tail.iter().any(|l| l == "boom"),
            "{:?}",
            outcome.tail
        );
        assert!(outcome.tail.iter().any(|l| l == "out29"));
        assert!(!outcome.tail.iter().any(|l| l == "out0"));
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let mut cmd = Command::new("sh");
        // The grandchild `sleep` keeps stdout open; killing only `sh` would leave it.
        cmd.arg("-c").arg("echo started; sleep 60 & sleep 60");
        let started = Instant::now();
        let outcome = run(cmd, "test", Some(Duration::from_millis(300))).expect("sh runs");
        assert!(matches!(outcome.finish, Finish::TimedOut));
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}; the grandchild was not killed",
            started.elapsed()
        );
        assert_eq!(outcome.tail, vec!["started".to_owned()]);
    }

    #[test]
    fn a_limit_too_large_to_represent_means_no_limit() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo done");
        let outcome = run(cmd, "test", Some(Duration::MAX)).expect("sh runs");
        assert!(outcome.success(), "{outcome:?}");
        assert_eq!(outcome.tail, vec!["done".to_owned()]);
    }

    #[test]
    fn long_lines_are_cut_at_char_boundaries() {
        let line = "é".repeat(MAX_LINE);
        let cut = truncate(&line);
        assert!(cut.len() <= MAX_LINE);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
