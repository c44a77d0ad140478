//! Requirements through the `racetrack-plugin` binary, as hostile plugins and busy
//! operators use it: the requirements policy (a local HTTP server counts every request
//! an installer makes), installer config files shipped in a plugin, editable
//! requirements, several processes building one venv at once, and Ctrl-C / SIGTERM
//! during an install.
//!
//! Every test runs the CLI as child processes, so nothing here shares an interpreter.
//! Needs `python3` with pip; the uv variants print SKIP when `uv` is not on PATH.

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

#[test]
fn offline_requirements_cannot_reach_beyond_the_wheelhouse() {
    let area = Area::new();
    let server = Server::start(false);
    let cases = [
        format!("--find-links {}", server.url("")),
        format!("-f {}", server.url("")),
        format!("--index-url {}", server.url("simple")),
        format!("--extra-index-url={}", server.url("simple")),
        format!("rtpol_x @ {}", server.url("rtpol_x-1.0-py3-none-any.whl")),
        server.url("rtpol_x-1.0-py3-none-any.whl"),
        format!("-r {}", server.url("r.txt")),
        "-r /etc/passwd".to_owned(),
        "-r ../../../../../../etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        format!("file://{}/x.whl", area.wheels().display()),
    ];
    for (i, line) in cases.iter().enumerate() {
        let name = format!("rtpol-offline{i}");
        let plugin = plugin_with_requirements(&name, &format!("# ok\nrtpol_ok==1.0\n{line}\n"));
        let out = area.run(
            "pip",
            true,
            &["install", area.zip(&plugin).to_str().expect("utf-8")],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}: {stderr}");
        assert!(
            stderr.contains(&format!("requirements.txt line 3: `{line}` is refused")),
            "{line}: {stderr}"
        );
        assert!(stderr.contains(&name), "{stderr}");
        assert!(!stderr.contains("root:"), "file content leaked: {stderr}");
    }
    assert_eq!(server.hits(), 0, "an installer reached the network");
    assert!(area.list("pip").is_empty(), "nothing is installed");
}

#[test]
fn online_index_options_need_the_operators_permission() {
    let area = Area::new();
    let server = Server::start(false);
    let line = format!("--index-url {}", server.url("simple"));
    let plugin = plugin_with_requirements("rtpol-online", &format!("{line}\nrtpol_online==1.0\n"));
    let zip = area.zip(&plugin);
    let zip = zip.to_str().expect("utf-8");

    let out = area.run("pip", false, &["install", zip]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("line 1: `{line}` is refused"))
            && stderr.contains("--allow-requirement-options"),
        "{stderr}"
    );
    assert_eq!(server.hits(), 0);

    // Allowed, pip asks that index (which has nothing, so the install still fails).
    let out = area.run(
        "pip",
        false,
        &["--allow-requirement-options", "install", zip],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(server.hits() > 0, "the plugin's index was not used");
}

/// An installer configuration that, if read, sends the installer to `server`.
fn hostile_configs(plugin: PluginSrc, server: &Server) -> PluginSrc {
    let links = server.url("links/");
    plugin
        .file("uv.toml", &format!("[pip]\nfind-links = [\"{links}\"]\n"))
        .file(
            "pyproject.toml",
            &format!("[project]\nname = \"x\"\nversion = \"1\"\n\n[tool.uv.pip]\nfind-links = [\"{links}\"]\n"),
        )
        .file("pip.conf", &format!("[global]\nfind-links = {links}\n"))
}

fn shipped_configs_have_no_effect(installer: &str) {
    let area = Area::new();
    let server = Server::start(false);
    Wheel::new("rtpol_cfg", "1.0").write_into(&area.wheels());
    let plugin = hostile_configs(
        plugin_with_requirements("rtpol-cfg", "rtpol_cfg==1.0\n").plugin_py(
            "import rtpol_cfg\nclass Plugin:\n    def version(self):\n        return rtpol_cfg.VERSION\n",
        ),
        &server,
    );
    // A user-level pip config pointing at the server too; pip must ignore it.
    let xdg = area.root.join("xdg");
    fs::create_dir_all(xdg.join("pip")).expect("mkdir");
    fs::write(
        xdg.join("pip/pip.conf"),
        format!("[global]\nfind-links = {}\n", server.url("links/")),
    )
    .expect("write");
    let out = area
        .command(
            installer,
            true,
            &["install", area.zip(&plugin).to_str().expect("utf-8")],
        )
        .env("XDG_CONFIG_HOME", &xdg)
        .output()
        .expect("CLI runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.hits(), 0, "a shipped config file was read");
}

#[test]
fn pip_ignores_config_files() {
    shipped_configs_have_no_effect("pip");
}

#[test]
fn uv_ignores_config_files_shipped_in_the_plugin() {
    if uv_available("uv_ignores_config_files_shipped_in_the_plugin") {
        shipped_configs_have_no_effect("uv");
    }
}

#[test]
fn editable_requirements_are_refused_and_bundled_wheels_outlive_the_upload() {
    let area = Area::new();
    let editable = plugin_with_requirements("rtpol-editable", "-e ./pkg\n").file(
        "pkg/setup.py",
        "from setuptools import setup\nsetup(name='rtpol_e')\n",
    );
    let out = area.run(
        "pip",
        true,
        &["install", area.zip(&editable).to_str().expect("utf-8")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 1: `-e ./pkg` is refused: editable installs (-e) are not supported"),
        "{stderr}"
    );

    // A wheel shipped in the plugin is copied into the venv at install, so later
    // processes load it although the upload's staging folder is gone.
    let wheel_dir = area.root.join("bundled");
    let wheel = Wheel::new("rtpol_bundled", "2.0").write_into(&wheel_dir);
    let wheel_text = fs::read(&wheel).expect("read wheel");
    let plugin = plugin_with_requirements(
        "rtpol-bundled",
        &format!("./wheels/{}\n", Wheel::new("rtpol_bundled", "2.0").file_name()),
    )
    .plugin_py("import rtpol_bundled\nclass Plugin:\n    def version(self):\n        return rtpol_bundled.VERSION\n");
    // PluginSrc holds text files; a wheel is binary, so zip it by hand below.
    let mut entries: Vec<(String, Vec<u8>)> = vec![(
        "plugin-manifest.yaml".into(),
        plugin.manifest_text().into_bytes(),
    )];
    for (p, content) in &plugin.files {
        entries.push((p.clone(), content.clone().into_bytes()));
    }
    entries.push((
        format!("wheels/{}", Wheel::new("rtpol_bundled", "2.0").file_name()),
        wheel_text,
    ));
    let zip_path = area.root.join(plugin.file_name());
    fs::write(&zip_path, zip_bytes(&entries)).expect("write zip");
    let out = area.run("pip", true, &["install", zip_path.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = area.run("pip", true, &["call", "version", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(calls[0]["result"], "2.0", "{calls}");
}

fn zip_bytes(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in entries {
        writer
            .start_file(path.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start file");
        writer.write_all(content).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// N processes start together on a directory whose venvs are missing: every one
/// ends with the plugin loaded.
fn processes_share_one_venv_build(installer: &str, pkg: &str) {
    const PROCESSES: usize = 4;
    let area = Area::new();
    Wheel::new(pkg, "1.0").write_into(&area.wheels());
    plugin_with_requirements(
        &format!("{}-p", pkg.replace('_', "-")),
        &format!("{pkg}==1.0\n"),
    )
    .plugin_py(&format!(
        "import {pkg}\nclass Plugin:\n    def version(self):\n        return {pkg}.VERSION\n"
    ))
    .write_into(&area.plugins());
    // Extracted and built once, then the venvs are gone (as after an interpreter
    // upgrade): what is left to race on is building the venv.
    let first = area.run(installer, true, &["list", "--json"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    fs::remove_dir_all(area.plugins().join("venvs")).expect("remove venvs");
    let children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            area.command(installer, true, &["-v", "list", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("CLI starts")
        })
        .collect();
    let mut builders = 0;
    for child in children {
        let out = child.wait_with_output().expect("CLI ends");
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{installer}: {stderr}");
        let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(list.len(), 1);
        assert_eq!(
            list[0]["status"], "loaded",
            "{installer}: {list:?} {stderr}"
        );
        if stderr.contains("building the plugin's venv") {
            builders += 1;
        }
    }
    // One built it; the others waited for it and reused it.
    assert_eq!(
        builders, 1,
        "{installer}: the venv was built {builders} times"
    );
}

#[test]
fn pip_processes_starting_together_all_load_the_plugin() {
    processes_share_one_venv_build("pip", "rtpol_together_pip");
}

#[test]
fn uv_processes_starting_together_all_load_the_plugin() {
    if uv_available("uv_processes_starting_together_all_load_the_plugin") {
        processes_share_one_venv_build("uv", "rtpol_together_uv");
    }
}

/// Processes whose command line mentions `needle` (the test's temp folder).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = text(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Installing a plugin whose index never answers, then a signal: the CLI stops the
/// installer promptly, says so, and leaves no installer process behind.
fn signal_stops_the_install(installer: &str, signal: i32, pkg: &str) {
    let area = Area::new();
    let server = Server::start(true);
    // Loaded first in the installing process: importing `signal` must not matter.
    let quiet = PluginSrc::new("rtpol-aaa-signal", "1.0")
        .plugin_py("import signal\nclass Plugin:\n    pass\n");
    let out = area.run(
        installer,
        false,
        &["install", area.zip(&quiet).to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let plugin = plugin_with_requirements(
        &format!("{}-p", pkg.replace('_', "-")),
        &format!("{pkg}==1.0\n"),
    );
    let zip = area.zip(&plugin);
    let mut child = area
        .command(installer, false, &["install", zip.to_str().expect("utf-8")])
        .env("PIP_INDEX_URL", server.url("simple"))
        .env("UV_INDEX_URL", server.url("simple"))
        .env("PIP_DEFAULT_TIMEOUT", "600")
        .env("UV_HTTP_TIMEOUT", "600")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("CLI starts");
    // The installer is running once it has reached the index.
    wait_until(
        Duration::from_secs(120),
        "the installer to reach the index",
        || server.hits() > 0,
    );
    let needle = area.root.to_string_lossy().into_owned();
    assert!(
        processes_mentioning(&needle).len() > 1,
        "the installer should be running"
    );
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: signals our own child, which is not reaped yet.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let sent = Instant::now();
    wait_until(Duration::from_secs(20), "the CLI to exit", || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let stopped_in = sent.elapsed();
    let out = child.wait_with_output().expect("CLI output");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(128 + signal), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(stopped_in < Duration::from_secs(10), "took {stopped_in:?}");
    // SIGKILL is delivered at once but a process takes a moment to go away.
    let mut left = Vec::new();
    let gone = Instant::now();
    while gone.elapsed() < Duration::from_secs(5) {
        left = processes_mentioning(&needle);
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(left.is_empty(), "installer processes left: {left:#?}");
    // Nothing half-installed: the plugin is not listed, the other one still loads.
    let list = area.list(installer);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "rtpol-aaa-signal");
}

#[test]
fn pip_install_stops_on_sigint() {
    signal_stops_the_install("pip", libc::SIGINT, "rtpol_sigint");
}

#[test]
fn uv_install_stops_on_sigterm() {
    if uv_available("uv_install_stops_on_sigterm") {
        signal_stops_the_install("uv", libc::SIGTERM, "rtpol_sigterm");
    }
}

#[test]
fn a_huge_deps_timeout_is_no_limit_not_a_panic() {
    let area = Area::new();
    Wheel::new("rtpol_huge", "1.0").write_into(&area.wheels());
    let plugin = plugin_with_requirements("rtpol-huge", "rtpol_huge==1.0\n");
    let out = area.run(
        "pip",
        true,
        &[
            "--deps-timeout",
            "18446744073709551615",
            "install",
            area.zip(&plugin).to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A plugin zip shipping `wheel` under `wheels/` and requiring it by path.
fn plugin_bundling(area: &Area, name: &str, wheel: &Wheel) -> PathBuf {
    let built = wheel.write_into(&area.root.join(format!("bundled-{name}")));
    let plugin = plugin_with_requirements(name, &format!("./wheels/{}\n", wheel.file_name()));
    let mut entries: Vec<(String, Vec<u8>)> = vec![(
        "plugin-manifest.yaml".into(),
        plugin.manifest_text().into_bytes(),
    )];
    for (p, content) in &plugin.files {
        entries.push((p.clone(), content.clone().into_bytes()));
    }
    entries.push((
        format!("wheels/{}", wheel.file_name()),
        fs::read(built).expect("read wheel"),
    ));
    let path = area.plugins().join(plugin.file_name());
    fs::write(&path, zip_bytes(&entries)).expect("write zip");
    path
}

#[test]
fn versions_equal_under_pep_440_are_no_conflict() {
    let area = Area::new();
    plugin_bundling(&area, "rtpol-pep-a", &Wheel::new("rtpol_pep", "1.0"));
    plugin_bundling(&area, "rtpol-pep-b", &Wheel::new("rtpol_pep", "1.0.0"));
    plugin_bundling(&area, "rtpol-pep-c", &Wheel::new("rtpol_pep", "1.1"));
    let list = area.list("pip");
    assert_eq!(list.len(), 3, "{list:?}");
    let warnings = |name: &str| -> Vec<String> {
        let entry = list
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {list:?}"));
        assert_eq!(entry["status"], "loaded", "{entry}");
        entry["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|w| w.as_str().expect("text").to_owned())
            .collect()
    };
    // a and b hold one version spelled two ways; c differs from both.
    let a = warnings("rtpol-pep-a");
    assert!(
        !a.iter().any(|w| w.contains("rtpol-pep-b")),
        "1.0 and 1.0.0 are one version: {a:?}"
    );
    assert!(a.iter().any(|w| w.contains("rtpol-pep-c")), "{a:?}");
    let b = warnings("rtpol-pep-b");
    assert!(!b.iter().any(|w| w.contains("rtpol-pep-a")), "{b:?}");
}
