//! Installs among processes: several processes building one venv, Ctrl-C and SIGTERM
//! during an install, a huge deps timeout.

use super::*;

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
