//! Measuring: samples that alternate engine and baseline, medians, and the rows
//! (human and `@@ROW`) that `scripts/bench.sh` gathers into the table.

use std::io::Write;
use std::time::Duration;

#[derive(Clone, Copy)]
pub(crate) struct Mode {
    /// `--bench`: real measurement. Otherwise one quick pass (test mode).
    pub(crate) full: bool,
}

impl Mode {
    pub(crate) fn samples(self) -> usize {
        if self.full {
            15
        } else {
            1
        }
    }

    /// Wall time one sample should take.
    pub(crate) fn sample_time(self) -> Duration {
        if self.full {
            Duration::from_millis(60)
        } else {
            Duration::from_micros(200)
        }
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `f(iters)` (which returns the time those iterations took) for an iteration
/// count that fills about one sample time.
pub(crate) fn calibrate(mode: Mode, f: &mut dyn FnMut(u64) -> Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let took = f(iters);
        if took >= mode.sample_time() / 4 || iters >= 1 << 30 || !mode.full {
            let per = took.as_secs_f64() / iters as f64;
            let wanted = (mode.sample_time().as_secs_f64() / per.max(1e-9)) as u64;
            return wanted.clamp(1, 1 << 32);
        }
        iters *= 4;
    }
}

/// Median nanoseconds per unit of the engine side and of the baseline, sampled
/// alternately. `units` is how many units one iteration is (e.g. 10 plugin-calls).
pub(crate) fn measure_pair(
    mode: Mode,
    units: f64,
    engine: &mut dyn FnMut(u64) -> Duration,
    baseline: &mut dyn FnMut(u64) -> Duration,
) -> (f64, f64) {
    let n_engine = calibrate(mode, engine);
    let n_base = calibrate(mode, baseline);
    let (mut e, mut b) = (Vec::new(), Vec::new());
    for _ in 0..mode.samples() {
        e.push(engine(n_engine).as_nanos() as f64 / (n_engine as f64 * units));
        b.push(baseline(n_base).as_nanos() as f64 / (n_base as f64 * units));
    }
    (median(e), median(b))
}

/// Like [`measure_pair`] for operations too slow (and too stateful) to repeat in a
/// loop: each sample is one run, with untimed setup done by the closure itself.
pub(crate) fn measure_once_pair(
    mode: Mode,
    samples: usize,
    engine: &mut dyn FnMut() -> Duration,
    baseline: &mut dyn FnMut() -> Duration,
) -> (f64, f64) {
    let samples = if mode.full { samples } else { 1 };
    let (mut e, mut b) = (Vec::new(), Vec::new());
    if mode.full {
        // One unrecorded round: page cache, bytecode cache, allocator.
        engine();
        baseline();
    }
    for _ in 0..samples {
        e.push(engine().as_nanos() as f64);
        b.push(baseline().as_nanos() as f64);
    }
    (median(e), median(b))
}

/// How a ratio engine/baseline is judged.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// engine / baseline must be at most this.
    AtMost(f64),
    /// Reported only.
    None,
}

pub(crate) fn fmt_ns(ns: f64, unit: &str) -> String {
    if unit == "B" {
        return if ns >= 1024.0 * 1024.0 {
            format!("{:.2} MiB", ns / 1024.0 / 1024.0)
        } else if ns >= 1024.0 {
            format!("{:.1} KiB", ns / 1024.0)
        } else {
            format!("{ns:.0} B")
        };
    }
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Prints one result: a readable line and a machine row for scripts/bench.sh.
pub(crate) fn report(case: &str, engine: f64, baseline: f64, unit: &str, target: Target) {
    let ratio = engine / baseline;
    let (target_text, met) = match target {
        Target::AtMost(max) => (
            format!("<= {max:.2}x"),
            if ratio <= max { "yes" } else { "NO" },
        ),
        Target::None => ("-".to_string(), "-"),
    };
    let e = fmt_ns(engine, unit);
    let b = fmt_ns(baseline, unit);
    println!("{case:<58} {e:>12} {b:>12} {ratio:>7.2}x {target_text:>9} {met:>4}");
    println!("@@ROW\t{case}\t{e}\t{b}\t{ratio:.2}x\t{target_text}\t{met}");
    let _ = std::io::stdout().flush();
}

pub(crate) fn python_init_quietly() {
    // Plugins are loaded with the default tracing setup (none): no log output.
    racetrack_plugins::python::ensure_initialized();
}
