//! Cost of plugin requirements at engine start: a cold load (no venv yet: create it
//! and install) against a warm restart (the venv is reused), with pip and with uv.
//!
//! The plugin needs three tiny local wheels from a temp wheelhouse (offline:
//! `--no-index --find-links`), so the numbers are installer overhead, not downloads.
//! Every case builds a whole engine (`EngineBuilder::build`) on a plugins directory
//! holding just that plugin, and the plugin imports its three packages at module
//! level. A no-requirements plugin is measured too, as the floor.
//!
//! `cargo bench --bench deps_install` runs 5 cold and 20 warm repetitions per
//! installer; without `--bench` (e.g. `cargo test --all-targets`) one of each, as a
//! smoke test. uv is measured when it is on PATH.

#[path = "../tests/it/common/wheels.rs"]
mod wheels;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use racetrack_plugins::deps::{self, Installer};
use racetrack_plugins::{PluginEngine, PluginStatus};

const PACKAGES: [&str; 3] = ["rtbench_alpha", "rtbench_beta", "rtbench_gamma"];

fn zip_of(entries: &[(&str, String)]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in entries {
        writer
            .start_file(*path, zip::write::SimpleFileOptions::default())
            .expect("start zip entry");
        writer
            .write_all(content.as_bytes())
            .expect("write zip entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// `<name>-1.0.0.zip` of a plugin importing `PACKAGES` (when `with_deps`).
fn plugin_zip(name: &str, with_deps: bool) -> Vec<u8> {
    let mut entries = vec![(
        "plugin-manifest.yaml",
        format!("name: {name}\nversion: '1.0.0'\n"),
    )];
    if with_deps {
        let requirements: String = PACKAGES.iter().map(|p| format!("{p}==1.0\n")).collect();
        let imports: String = PACKAGES.iter().map(|p| format!("import {p}\n")).collect();
        let versions = PACKAGES
            .iter()
            .map(|p| format!("{p}.VERSION"))
            .collect::<Vec<_>>()
            .join(", ");
        entries.push(("requirements.txt", requirements));
        entries.push((
            "plugin.py",
            format!(
                "{imports}\nclass Plugin:\n    def versions(self):\n        return [{versions}]\n"
            ),
        ));
    } else {
        entries.push((
            "plugin.py",
            "class Plugin:\n    def versions(self):\n        return []\n".to_owned(),
        ));
    }
    zip_of(&entries)
}

struct Bench {
    root: PathBuf,
    wheelhouse: PathBuf,
    next_dir: usize,
}

impl Bench {
    /// A fresh plugins directory holding one plugin.
    fn plugins_dir(&mut self, with_deps: bool) -> PathBuf {
        self.next_dir += 1;
        let dir = self.root.join(format!("plugins-{}", self.next_dir));
        fs::create_dir_all(&dir).expect("mkdir plugins");
        let name = if with_deps { "benchdeps" } else { "benchplain" };
        fs::write(
            dir.join(format!("{name}-1.0.0.zip")),
            plugin_zip(name, with_deps),
        )
        .expect("write plugin zip");
        dir
    }

    /// Builds an engine on `dir`, checks the plugin loaded, returns the build time.
    fn start(&self, dir: &Path, installer: Installer, with_deps: bool) -> Duration {
        let started = Instant::now();
        let engine = PluginEngine::builder(dir)
            .installer(installer)
            .offline_wheelhouse(&self.wheelhouse)
            .watch_interval(None)
            .build()
            .expect("engine opens");
        let elapsed = started.elapsed();
        let infos = engine.plugins();
        assert_eq!(infos.len(), 1);
        let info = &infos[0];
        assert_eq!(
            info.status,
            PluginStatus::Loaded,
            "the bench plugin failed: {:?}",
            info.error
        );
        assert_eq!(info.venv.is_some(), with_deps);
        elapsed
    }
}

struct Case {
    name: String,
    times: Vec<Duration>,
}

impl Case {
    fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        let n = t.len();
        if n % 2 == 1 {
            t[n / 2]
        } else {
            (t[n / 2 - 1] + t[n / 2]) / 2
        }
    }

    fn min(&self) -> Duration {
        self.times.iter().copied().min().unwrap_or_default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Cold starts on fresh directories, then warm restarts on the last one.
fn measure(bench: &mut Bench, installer: Installer, cold: usize, warm: usize) -> (Case, Case) {
    let mut cold_times = Vec::with_capacity(cold);
    let mut dir = PathBuf::new();
    for _ in 0..cold {
        dir = bench.plugins_dir(true);
        let runs = deps::installer_runs();
        cold_times.push(bench.start(&dir, installer, true));
        assert_eq!(
            deps::installer_runs(),
            runs + 1,
            "a cold start installs once"
        );
    }
    let mut warm_times = Vec::with_capacity(warm);
    for _ in 0..warm {
        let runs = deps::installer_runs();
        warm_times.push(bench.start(&dir, installer, true));
        assert_eq!(
            deps::installer_runs(),
            runs,
            "a warm restart installs nothing"
        );
    }
    (
        Case {
            name: format!("{installer} cold (new venv)"),
            times: cold_times,
        },
        Case {
            name: format!("{installer} warm (venv reused)"),
            times: warm_times,
        },
    )
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (cold, warm) = if full { (5, 20) } else { (1, 1) };

    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical tempdir");
    let wheelhouse = root.join("wheels");
    let specs: Vec<(&str, &str)> = PACKAGES.iter().map(|p| (*p, "1.0")).collect();
    wheels::write_wheelhouse(&wheelhouse, &specs);
    let mut bench = Bench {
        root,
        wheelhouse,
        next_dir: 0,
    };

    let uv = which::which("uv").is_ok();
    let started = Instant::now();

    // The floor: the same engine start without requirements (also warms up Python).
    let plain_dir = bench.plugins_dir(false);
    let plain = Case {
        name: "no requirements".into(),
        times: (0..warm)
            .map(|_| bench.start(&plain_dir, Installer::Pip, false))
            .collect(),
    };

    let (pip_cold, pip_warm) = measure(&mut bench, Installer::Pip, cold, warm);
    let uv_cases = if uv {
        Some(measure(&mut bench, Installer::Uv, cold, warm))
    } else {
        eprintln!("SKIP: uv not on PATH; measuring pip only");
        None
    };

    println!(
        "deps_install: plugin with {} local wheels, {} cold / {} warm repetitions{}",
        PACKAGES.len(),
        cold,
        warm,
        if full {
            ""
        } else {
            " (quick run: pass --bench for the full one)"
        }
    );
    println!(
        "{:<26} {:>5} {:>12} {:>12}",
        "case", "runs", "median ms", "min ms"
    );
    let mut cases = vec![&plain, &pip_cold, &pip_warm];
    if let Some((c, w)) = &uv_cases {
        cases.push(c);
        cases.push(w);
    }
    for case in &cases {
        println!(
            "{:<26} {:>5} {:>12.1} {:>12.1}",
            case.name,
            case.times.len(),
            ms(case.median()),
            ms(case.min())
        );
    }
    let ratio = |a: &Case, b: &Case| ms(a.median()) / ms(b.median()).max(1e-6);
    println!("ratios (of medians):");
    println!(
        "  pip cold / pip warm  {:>8.1}x",
        ratio(&pip_cold, &pip_warm)
    );
    if let Some((uv_cold, uv_warm)) = &uv_cases {
        println!("  uv  cold / uv  warm  {:>8.1}x", ratio(uv_cold, uv_warm));
        println!("  pip cold / uv  cold  {:>8.1}x", ratio(&pip_cold, uv_cold));
        println!("  pip warm / uv  warm  {:>8.1}x", ratio(&pip_warm, uv_warm));
    }
    println!("total bench time: {:.1}s", started.elapsed().as_secs_f64());
}
