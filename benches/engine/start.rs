//! Case 3: cold and warm start of 50 plugins, against importing 50 tiny modules.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pyo3::prelude::*;

use crate::baselines::*;
use crate::harness::*;
use crate::plugins::*;

// 3. Cold and warm start

pub(crate) fn bench_startup(mode: Mode, root: &Path, wanted: &dyn Fn(&str) -> bool) {
    const PLUGINS: usize = 50;
    let samples = 12;

    // Zips written once; each cold sample copies them into a fresh directory (untimed).
    let zips = root.join("startup-zips");
    write_plugins(&zips, PLUGINS);
    let zip_files: Vec<PathBuf> = std::fs::read_dir(&zips)
        .expect("zips")
        .map(|e| e.expect("entry").path())
        .collect();

    // The baseline's tiny modules: the same plugin.py sources, as files on disk.
    let tiny = root.join("tiny-modules");
    std::fs::create_dir_all(&tiny).expect("tiny dir");
    let tiny_paths: Vec<String> = (0..PLUGINS)
        .map(|i| {
            let path = tiny.join(format!("tiny_{i:03}.py"));
            std::fs::write(&path, plugin_source(i)).expect("write module");
            path.display().to_string()
        })
        .collect();
    let base = Python::attach(|py| baselines(py).unbind());
    let mut import_50 = || {
        Python::attach(|py| {
            let f = base.bind(py).getattr("import_modules").expect("fn");
            let took = python_timed(&f, (tiny_paths.clone(),));
            forget_modules(py, "bench_tiny_");
            took
        })
    };

    let mut cold_round = 0;
    if wanted("start: cold") {
        let (e, b) = measure_once_pair(
            mode,
            samples,
            &mut || {
                cold_round += 1;
                let dir = root.join(format!("cold-{cold_round}"));
                std::fs::create_dir_all(&dir).expect("dir");
                for zip in &zip_files {
                    std::fs::copy(zip, dir.join(zip.file_name().expect("name"))).expect("copy");
                }
                let t = Instant::now();
                let engine = open_engine(&dir);
                let took = t.elapsed();
                assert_eq!(engine.loaded_plugins().len(), PLUGINS);
                drop(engine);
                Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
                // Kept until the end: deleting thousands of inodes now would slow the
                // next sample's file creation (ext4 avoids reusing recently freed ones).
                took
            },
            &mut import_50,
        );
        report(
            "start: cold, 50 plugins from zips to ready",
            e,
            b,
            "ns",
            Target::None,
        );
    }
    if !wanted("start: warm") {
        return;
    }

    let warm_dir = root.join("warm");
    std::fs::create_dir_all(&warm_dir).expect("dir");
    for zip in &zip_files {
        std::fs::copy(zip, warm_dir.join(zip.file_name().expect("name"))).expect("copy");
    }
    drop(open_engine(&warm_dir));
    Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
    if std::env::var_os("RACETRACK_BENCH_PROFILE").is_some() {
        // Where a warm restart spends its Python time (the Rust side shows in perf).
        Python::attach(|py| {
            py.run(
                c"import cProfile\n_prof = cProfile.Profile()\n_prof.enable()",
                None,
                None,
            )
        })
        .expect("profiler");
        drop(open_engine(&warm_dir));
        Python::attach(|py| {
            py.run(
                c"_prof.disable()\nimport pstats\npstats.Stats(_prof).sort_stats('tottime').print_stats(25)",
                None,
                None,
            )
        })
        .expect("profile report");
        Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
    }
    let (e, b) = measure_once_pair(
        mode,
        samples,
        &mut || {
            let t = Instant::now();
            let engine = open_engine(&warm_dir);
            let took = t.elapsed();
            drop(engine);
            Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
            took
        },
        &mut import_50,
    );
    report(
        "start: warm restart, 50 plugins already extracted",
        e,
        b,
        "ns",
        Target::AtMost(2.0),
    );
}
