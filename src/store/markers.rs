//! The change markers: `last-change.txt` in Racetrack's format, and our precise one.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use fs_err as fs;

use super::files::{file_stamp, read_optional, write_atomic};
use super::{PluginsDir, CHANGE_MARKER};

const PRECISE_MARKER: &str = "change-marker";

impl PluginsDir {
    /// A fingerprint of the change markers: changes whenever any engine sharing the
    /// directory (ours or Racetrack's) recorded a change. `None` when neither exists.
    pub fn change_marker(&self) -> Option<String> {
        let racetrack = self.root.join(CHANGE_MARKER);
        let precise = self.state_dir().join(PRECISE_MARKER);
        // Racetrack's engine writes whole seconds, possibly the value already there:
        // the file's inode and ctime tell that write apart too.
        let stamp = file_stamp(&racetrack).ok();
        let text = std::fs::read_to_string(&racetrack).ok();
        let ours = std::fs::read_to_string(&precise).ok();
        if stamp.is_none() && ours.is_none() {
            return None;
        }
        Some(format!(
            "{}|{}|{}",
            text.unwrap_or_default().trim(),
            stamp.unwrap_or_default(),
            ours.unwrap_or_default().trim()
        ))
    }

    /// Records a change, so every process sharing the directory reloads: our precise
    /// marker under `state/`, and `last-change.txt` in Racetrack's format (whole
    /// seconds, read with `int(text)`). Its value always grows, so Racetrack's engine
    /// sees two changes within one second as two. It is rewritten in place, not
    /// renamed onto: Racetrack's watcher reacts to writes to that file, and sees a
    /// rename onto it only at its 60 s poll.
    pub fn bump_change_marker(&self) -> io::Result<String> {
        let _lock = self.lock("record a change")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let precise = format!("{} {}\n", now.as_nanos(), std::process::id());
        write_atomic(&self.state_dir().join(PRECISE_MARKER), precise.as_bytes())?;
        let path = self.root.join(CHANGE_MARKER);
        let previous = read_optional(&path)?.trim().parse::<u64>().ok();
        let seconds = match previous {
            Some(p) if p >= now.as_secs() => p.saturating_add(1),
            _ => now.as_secs(),
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        file.write_all(seconds.to_string().as_bytes())?;
        Ok(precise)
    }
}
