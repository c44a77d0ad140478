//! The audit trail: every install, delete and config change made through the
//! administration server, as a `tracing` event and a JSON line in `state/audit.log`
//! (time, user, action, plugin, version, outcome).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Install,
    Delete,
    Config,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Install => "install",
            Action::Delete => "delete",
            Action::Config => "config",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Audit {
    path: PathBuf,
}

impl Audit {
    pub fn new(path: PathBuf) -> Self {
        Audit { path }
    }

    /// Records one action; `error` is set when it failed. Writing the log is best
    /// effort: a full disk must not turn a done install into a reported failure.
    pub fn record(
        &self,
        user: &str,
        action: Action,
        plugin: &str,
        version: &str,
        error: Option<&str>,
    ) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match error {
            None => tracing::info!(
                target: "audit",
                user,
                action = action.as_str(),
                plugin,
                version,
                "plugin {}",
                action.as_str()
            ),
            Some(error) => tracing::warn!(
                target: "audit",
                user,
                action = action.as_str(),
                plugin,
                version,
                error,
                "plugin {} failed",
                action.as_str()
            ),
        }
        let mut line = json!({
            "time": time,
            "user": user,
            "action": action.as_str(),
            "plugin": plugin,
            "version": version,
            "result": if error.is_some() { "error" } else { "ok" },
        });
        if let Some(error) = error {
            line["error"] = json!(error);
        }
        let mut text = line.to_string();
        text.push('\n');
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // One write of a whole line with O_APPEND: lines from several processes
        // sharing the plugins dir do not interleave.
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "audit log not written");
        }
    }
}
