//! Requirements through the `racetrack-plugin` binary, as hostile plugins and busy
//! operators use it: the requirements policy (a local HTTP server counts every request
//! an installer makes), installer config files shipped in a plugin, editable
//! requirements, several processes building one venv at once, and Ctrl-C / SIGTERM
//! during an install.
//!
//! Every test runs the CLI as child processes, so nothing here shares an interpreter.
//! Needs `python3` with pip; the uv variants print SKIP when `uv` is not on PATH.

mod policy;
mod processes;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::wheels::Wheel;
use crate::common::{Area, PluginSrc};
use serde_json::Value;

const CLI: &str = env!("CARGO_BIN_EXE_racetrack-plugin");

fn uv_available(test: &str) -> bool {
    if which::which("uv").is_ok() {
        return true;
    }
    eprintln!("SKIP: uv not on PATH ({test})");
    false
}

/// An HTTP server on 127.0.0.1 that counts connections. It answers 404 to every
/// request, or, when `silent`, accepts and never answers (an installer then hangs).
struct Server {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn start(silent: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        // Silent connections are kept open here, for as long as the test process runs.
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                if silent {
                    held.lock().unwrap_or_else(|p| p.into_inner()).push(stream);
                    continue;
                }
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Self { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Area {
    /// A zip outside the plugins directory, ready for `install`.
    fn zip(&self, plugin: &PluginSrc) -> PathBuf {
        plugin.write_into(&self.root.join("zips"))
    }

    /// The CLI on this area; `offline` adds `--wheelhouse`.
    fn command(&self, installer: &str, offline: bool, args: &[&str]) -> Command {
        let mut cmd = Command::new(CLI);
        cmd.arg("--plugins-dir")
            .arg(self.plugins())
            .args(["--installer", installer]);
        if offline {
            cmd.arg("--wheelhouse").arg(self.wheels());
        }
        cmd.args(args)
            .env_remove("RACETRACK_PLUGINS_DIR")
            .env_remove("RUST_LOG")
            // A developer's own index settings must not reach PyPI from these tests.
            .env_remove("PIP_INDEX_URL")
            .env_remove("UV_INDEX_URL")
            .env_remove("UV_DEFAULT_INDEX");
        cmd
    }

    fn run(&self, installer: &str, offline: bool, args: &[&str]) -> Output {
        self.command(installer, offline, args)
            .output()
            .expect("CLI runs")
    }

    fn list(&self, installer: &str) -> Vec<Value> {
        let out = self.run(installer, true, &["list", "--json"]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("list --json: {e}\n{}", text(&out.stderr)))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn plugin_with_requirements(name: &str, requirements: &str) -> PluginSrc {
    PluginSrc::new(name, "1.0")
        .plugin_py("class Plugin:\n    def ping(self):\n        return 'pong'\n")
        .file("requirements.txt", requirements)
}
