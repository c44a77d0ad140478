//! Case 5: resident memory per loaded plugin, each count in a fresh child process.

use std::path::Path;

use pyo3::prelude::*;

use crate::baselines::*;
use crate::harness::*;
use crate::plugins::*;

/// Set in the child process that measures memory.
pub(crate) const MEMORY_CHILD_ENV: &str = "RACETRACK_BENCH_MEMORY_CHILD";

// 5. Memory

pub(crate) fn rss_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("resident pages");
    // Page size: 4 KiB on the x86-64 and arm64 Linux machines this runs on.
    pages * 4096.0
}

/// In a child process: RSS added by loading `count` plugins (`what` = `engine`) or by
/// importing `count` tiny modules (`import`), printed as `MEMORY <bytes>`.
pub(crate) fn memory_child(what: &str, count: usize, root: &Path) {
    python_init_quietly();
    let base = Python::attach(|py| baselines(py).unbind());
    let paths: Vec<String> = (0..count)
        .map(|i| {
            root.join("tiny")
                .join(format!("tiny_{i:03}.py"))
                .display()
                .to_string()
        })
        .collect();
    let dir = root.join(format!("plugins-{count}"));
    // Everything a load needs but does not keep is touched once first.
    Python::attach(|py| py.run(c"import gc, importlib.util, pathlib, site", None, None))
        .expect("imports");
    let before = rss_bytes();
    let kept = match what {
        "engine" => Some(open_engine(&dir)),
        _ => {
            Python::attach(|py| {
                base.bind(py)
                    .getattr("import_modules")
                    .and_then(|f| f.call1((paths,)))
                    .expect("imports");
            });
            None
        }
    };
    println!("MEMORY {}", rss_bytes() - before);
    drop(kept);
}

pub(crate) fn memory_figure(what: &str, count: usize, root: &Path) -> f64 {
    let output = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(
            MEMORY_CHILD_ENV,
            format!("{what} {count} {}", root.display()),
        )
        .output()
        .expect("memory child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("MEMORY "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "memory child failed: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

pub(crate) fn bench_memory(mode: Mode, root: &Path) {
    let (small, large) = if mode.full { (50, 200) } else { (3, 6) };
    let root = root.join("memory");
    let tiny = root.join("tiny");
    std::fs::create_dir_all(&tiny).expect("dir");
    for i in 0..large {
        std::fs::write(tiny.join(format!("tiny_{i:03}.py")), plugin_source(i)).expect("write");
    }
    for count in [small, large] {
        let dir = root.join(format!("plugins-{count}"));
        write_plugins(&dir, count);
        // Extracted here, so the children measure what loaded plugins keep.
        drop(open_engine(&dir));
    }
    // Median of a few children each: RSS moves in pages and allocator arenas.
    let runs = if mode.full { 3 } else { 1 };
    let per_item = |what: &str| {
        let figures: Vec<f64> = (0..runs)
            .map(|_| {
                (memory_figure(what, large, &root) - memory_figure(what, small, &root))
                    / (large - small) as f64
            })
            .collect();
        median(figures)
    };
    let engine = per_item("engine");
    let import = per_item("import");
    report(
        &format!("memory: RSS per loaded plugin ({small} vs {large})"),
        engine,
        import,
        "B",
        Target::None,
    );
}
