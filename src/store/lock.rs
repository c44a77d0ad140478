//! The cross-process lock of a plugins directory: an advisory lock on `state/dir.lock`
//! whose holder writes who it is into the file. Owns nothing else of the directory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs_err as fs;

use super::{PluginsDir, StoreError};

const LOCK_FILE: &str = "dir.lock";

/// How long [`PluginsDir::lock`] waits by default. Work done under the lock is file
/// renames and the extraction of one zip, so a longer wait means a stuck holder.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(120);

thread_local! {
    /// Directory locks this thread holds, with their depth: a store method called
    /// under a caller's lock must not wait for itself.
    static HELD: RefCell<HashMap<PathBuf, usize>> = RefCell::new(HashMap::new());
}

/// The directory lock; released on drop. See [`PluginsDir::lock`].
#[derive(Debug)]
pub struct DirLock {
    root: PathBuf,
    /// `None` for a nested guard of a thread that already holds the lock.
    file: Option<File>,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if let Some(depth) = held.get_mut(&self.root) {
                *depth -= 1;
                if *depth == 0 {
                    held.remove(&self.root);
                }
            }
        });
        if let Some(file) = self.file.take() {
            // Closing the file releases the lock too; unlocking first makes the
            // release independent of other handles to the same open file.
            let _ = file.unlock();
        }
    }
}

impl PluginsDir {
    fn lock_path(&self) -> PathBuf {
        self.state_dir().join(LOCK_FILE)
    }

    /// Takes the cross-process lock of the directory (an advisory lock on
    /// `state/dir.lock`), waiting at most the configured time. Every change to the
    /// directory (zips, extracted code, order, markers, deletions) is made under it.
    /// The holder writes who it is (pid, host, command) into the lock file, so a
    /// waiting process can log whom it waits for. A thread that already holds the lock
    /// gets a nested guard at once.
    pub fn lock(&self, purpose: &str) -> io::Result<DirLock> {
        let nested = HELD.with(|held| {
            let mut held = held.borrow_mut();
            match held.get_mut(&self.root) {
                Some(depth) => {
                    *depth += 1;
                    true
                }
                None => false,
            }
        });
        if nested {
            return Ok(DirLock {
                root: self.root.clone(),
                file: None,
            });
        }
        let path = self.lock_path();
        fs::create_dir_all(self.state_dir())?;
        let file = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => file,
            // Created by another user without group write: a read-only handle locks
            // as well, it just cannot say who holds it.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => fs::File::open(&path)?,
            Err(e) => return Err(e),
        }
        .into_parts()
        .0;
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{}: cannot lock: {e}", path.display()),
                    ))
                }
            }
            let waited = started.elapsed();
            if waited >= self.lock_wait {
                return Err(StoreError::LockTimeout {
                    path,
                    waited,
                    holder: read_holder(&self.lock_path()),
                }
                .into());
            }
            if !told && waited >= Duration::from_secs(1) {
                told = true;
                tracing::warn!(
                    lock = %path.display(),
                    purpose,
                    holder = %read_holder(&path),
                    "waiting for the plugins directory lock"
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        if told {
            tracing::info!(
                purpose,
                waited_ms = started.elapsed().as_secs_f64() * 1000.0,
                "plugins directory lock taken"
            );
        }
        // Who holds it, for those who wait; best effort, the lock itself is what counts.
        let holder = format!(
            "pid {} on {} since {}: {} ({purpose})",
            std::process::id(),
            gethostname::gethostname().to_string_lossy(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            command_line(),
        );
        let _ = file.set_len(0);
        let _ = (&file).write_all(holder.as_bytes());
        HELD.with(|held| held.borrow_mut().insert(self.root.clone(), 1));
        Ok(DirLock {
            root: self.root.clone(),
            file: Some(file),
        })
    }
}

fn read_holder(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => "another process (unknown)".to_string(),
    }
}

fn command_line() -> String {
    let mut line: String = std::env::args().collect::<Vec<_>>().join(" ");
    if line.len() > 200 {
        let mut cut = 200;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}
