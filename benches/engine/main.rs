//! Engine benchmarks, each figure measured beside its baseline in the same process.
//!
//! `cargo bench --bench engine` measures; `cargo test --all-targets` runs this binary
//! without `--bench`, and then every case makes one quick pass (no figures worth
//! reading, just proof that the code paths work).
//!
//! Every case prints a human row and a machine row (`@@ROW\t...`) that
//! `scripts/bench.sh` gathers into the final table. Figures are medians over samples
//! that alternate engine and baseline, so both see the same machine state.
//!
//! Cases (see benches/README.md for what each compares and why that is fair):
//! 1. dispatch: `fatman_runtime_env_vars` on 10 plugins, typed and generic, and a
//!    generic call whose keyword arguments must be pruned, per plugin-call, against a
//!    Python loop calling the same bound methods;
//! 2. arguments: converting a realistic `Manifest` + `FatmanDto` to Python, against
//!    building the same objects in Python;
//! 3. cold and warm start of 50 plugins, against importing 50 tiny modules;
//! 5. memory per loaded plugin (50 vs 200 plugins, in a child process).
//!
//! (Case 4, the Python host, is `benches/python_host.py`.)

mod arguments;
mod baselines;
mod dispatch;
mod harness;
mod memory;
mod plugins;
mod start;

use std::path::PathBuf;

use crate::arguments::*;
use crate::dispatch::*;
use crate::harness::*;
use crate::memory::*;
use crate::start::*;

fn main() {
    if let Ok(spec) = std::env::var(MEMORY_CHILD_ENV) {
        let mut parts = spec.splitn(3, ' ');
        let what = parts.next().expect("what").to_string();
        let count = parts.next().and_then(|s| s.parse().ok()).expect("count");
        let root = PathBuf::from(parts.next().expect("root"));
        memory_child(&what, count, &root);
        return;
    }

    let args: Vec<String> = std::env::args().collect();
    let mode = Mode {
        full: args.iter().any(|a| a == "--bench"),
    };
    // Optional name filter, like criterion's: `cargo bench --bench engine -- start`.
    let filter: Option<&str> = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(String::as_str);
    let wanted = |name: &str| filter.is_none_or(|f| name.contains(f) || f.contains(name));

    python_init_quietly();
    let root = tempfile::tempdir().expect("temp dir");
    if !mode.full {
        println!(
            "(test mode: one quick pass per case; run `cargo bench --bench engine` for figures)"
        );
    }
    println!(
        "{:<58} {:>12} {:>12} {:>8} {:>9} {:>4}",
        "case", "engine", "baseline", "ratio", "target", "met"
    );
    if wanted("dispatch") {
        bench_dispatch(mode, root.path(), &wanted);
    }
    if wanted("arguments") {
        bench_arguments(mode, root.path());
    }
    if wanted("start") {
        bench_startup(mode, root.path(), &wanted);
    }
    if wanted("memory") {
        bench_memory(mode, root.path());
    }
}
