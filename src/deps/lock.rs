//! Who may build a venv: one builder per venv folder, across threads (an in-process
//! table) and across processes (an advisory `flock` on `<venvs_root>/.<id>.lock`).
//!
//! The lock file holds the holder's pid and host, so a waiter can say whom it waits
//! for. Lock files are never deleted: removing one while another process holds it
//! would let a third process lock a fresh file and build concurrently.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::cancel::installs_cancelled;
use super::error::{io_error, DepsError};

/// How often a waiter retries the lock (and checks for cancellation).
const POLL: Duration = Duration::from_millis(50);
/// How often a waiter says it is still waiting.
const REPORT_EVERY: Duration = Duration::from_secs(10);

static BUSY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static FREED: Condvar = Condvar::new();

/// Held while this process builds or checks one venv; released on drop (fields drop
/// in order: the file lock first, then the in-process entry).
pub(crate) struct VenvLock {
    _file: File,
    _busy: InProcess,
}

/// The lock file of the venv at `dir` (`<root>/<id>` → `<root>/.<id>.lock`).
pub(crate) fn lock_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.lock"))
}

/// Waits (at most until `deadline`, `None` for no limit) until no other thread or
/// process is building `dir`, then holds it.
pub(crate) fn lock_venv(
    plugin_id: &str,
    dir: &Path,
    deadline: Option<Instant>,
    timeout: Duration,
) -> Result<VenvLock, DepsError> {
    if installs_cancelled() {
        return Err(cancelled(plugin_id));
    }
    wait_in_process(dir);
    // Leaving early (an error below) frees the in-process entry through this guard.
    let busy = InProcess(dir.to_path_buf());
    let path = lock_path(dir);
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(io_error(
            plugin_id,
            "create the venvs folder",
            parent,
        ))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error(plugin_id, "open the venv lock file", &path))?;
    let started = Instant::now();
    let mut next_report = started;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(io_error(plugin_id, "lock", &path)(e));
            }
        }
        if installs_cancelled() {
            return Err(cancelled(plugin_id));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(DepsError::LockTimedOut {
                plugin_id: plugin_id.to_owned(),
                path: dir.to_path_buf(),
                holder: holder(&mut file),
                timeout,
            });
        }
        if now >= next_report {
            tracing::info!(
                plugin = plugin_id,
                venv = %dir.display(),
                holder = %holder(&mut file),
                waited = ?now.duration_since(started),
                "another process is building this venv; waiting for it"
            );
            next_report = now + REPORT_EVERY;
        }
        std::thread::sleep(POLL);
    }
    // Who holds it, for the next waiter's log. Failing to say so is harmless. Padded
    // to a fixed width instead of truncated: ext4 flushes a file truncated to zero
    // and rewritten when it is closed, which costs milliseconds.
    let me = format!("{:<32}", format!("pid {}", std::process::id()));
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(me.as_bytes()));
    Ok(VenvLock {
        _file: file,
        _busy: busy,
    })
}

fn cancelled(plugin_id: &str) -> DepsError {
    DepsError::Cancelled {
        plugin_id: plugin_id.to_owned(),
    }
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(200).read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => "unknown process".to_owned(),
    }
}

fn wait_in_process(dir: &Path) {
    let mut busy = BUSY.lock().unwrap_or_else(|p| p.into_inner());
    while busy.iter().any(|d| d == dir) {
        busy = FREED.wait(busy).unwrap_or_else(|p| p.into_inner());
    }
    busy.push(dir.to_path_buf());
}

/// Frees the in-process entry when locking fails half-way.
struct InProcess(PathBuf);

impl Drop for InProcess {
    fn drop(&mut self) {
        let mut busy = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        busy.retain(|d| d != &self.0);
        FREED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_sits_beside_the_venv() {
        assert_eq!(
            lock_path(Path::new("/p/venvs/demo-1.0")),
            PathBuf::from("/p/venvs/.demo-1.0.lock")
        );
    }

    #[test]
    fn a_held_lock_times_out_naming_the_holder() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("demo-1.0");
        // Another holder, as another process would be: its own open file, locked.
        let mut other = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path(&dir))
            .expect("open");
        other.lock().expect("lock");
        other.write_all(b"pid 4242").expect("write");
        other.set_len(8).expect("one holder's worth");
        let limit = Duration::from_millis(200);
        let err = lock_venv("demo-1.0", &dir, Instant::now().checked_add(limit), limit)
            .err()
            .expect("times out");
        assert_eq!(
            err.to_string(),
            format!(
                "plugin demo-1.0: another process (pid 4242) was still building its venv {} after 200ms; gave up waiting",
                dir.display()
            )
        );
        // Once free, it is ours, and says so.
        other.unlock().expect("unlock");
        let _held = lock_venv("demo-1.0", &dir, None, limit).expect("free now");
        assert_eq!(holder(&mut other), format!("pid {}", std::process::id()));
    }
}
