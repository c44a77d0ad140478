#!/usr/bin/env bash
# Runs every benchmark and prints one table: case, engine figure, baseline figure,
# ratio (engine / baseline), target, met?
#
#   scripts/bench.sh            # everything
#   QUICK=1 scripts/bench.sh    # one quick pass of each (smoke test, figures meaningless)
#
# 1. cargo bench --bench engine        dispatch, arguments, cold/warm start, memory
# 2. cargo bench --bench deps_install  plugin requirements at start (pip / uv)
# 3. maturin develop --release into .venv, then benches/python_host.py (Python host)
#
# Every figure is measured beside its baseline in the same process; see
# benches/README.md for what each case compares. A full run (not QUICK) then writes
# the table into README.md between its bench-table markers (BENCH_README=0: don't).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build against one interpreter throughout, so cargo does not rebuild pyo3 when PATH changes.
PYO3_PYTHON="${PYO3_PYTHON:-$(command -v python3)}"
export PYO3_PYTHON

log_dir="$(mktemp -d "${TMPDIR:-/tmp}/rt-bench-XXXXXX")"
trap 'rm -rf "$log_dir"' EXIT

if [ -n "${QUICK:-}" ]; then
    bench_mode=()  # the bench binaries then make one quick pass
    host_args=(--quick)
else
    bench_mode=(--bench)
    host_args=()
fi

run_bench() {  # name
    echo "== cargo bench --bench $1"
    if [ ${#bench_mode[@]} -eq 0 ]; then
        cargo test --release --bench "$1" 2>&1 | tee "$log_dir/$1.log"
    else
        cargo bench --bench "$1" 2>&1 | tee "$log_dir/$1.log"
    fi
}

# The tool venv first: the dependency benchmark measures uv too, found on PATH.
source scripts/dev-venv.sh
export PATH="$PATH:$VENV/bin"

run_bench engine
# Owned by the dependency installer's benchmark; its rows join the table if it prints
# `@@ROW` lines, and its own output is shown above either way.
run_bench deps_install || echo "(deps_install bench failed; continuing)"

echo "== maturin develop --release"
VIRTUAL_ENV="$VENV" PIP_DISABLE_PIP_VERSION_CHECK=1 CARGO_TARGET_DIR="$PWD/target" \
    "$VENV/bin/maturin" develop --release --quiet --manifest-path Cargo.toml
echo "== benches/python_host.py"
VIRTUAL_ENV="$VENV" "$VENV/bin/python" benches/python_host.py "${host_args[@]}" \
    | tee "$log_dir/python_host.log"

echo
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
    "$(uname -sr), $("$VENV/bin/python" -c 'import platform; print("CPython", platform.python_version())')" \
    "${PYTHONDONTWRITEBYTECODE:+(PYTHONDONTWRITEBYTECODE set: no .pyc caching on either side)}"
cat "$log_dir"/engine.log "$log_dir"/deps_install.log "$log_dir"/python_host.log 2>/dev/null \
    | grep '^@@ROW' >"$log_dir/rows.tsv" || true
machine="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -sr), $("$VENV/bin/python" -c 'import platform; print("CPython", platform.python_version())'), release build"
awk -F'\t' '
        BEGIN {
            printf "%-68s %12s %12s %8s %10s %4s\n", "case", "engine", "baseline", "ratio", "target", "met"
            printf "%-68s %12s %12s %8s %10s %4s\n", "----", "------", "--------", "-----", "------", "---"
        }
        { printf "%-68s %12s %12s %8s %10s %4s\n", $2, $3, $4, $5, $6, $7 }' "$log_dir/rows.tsv"

if [ -z "${QUICK:-}" ] && [ "${BENCH_README:-1}" != 0 ]; then
    "$VENV/bin/python" - "$log_dir/rows.tsv" README.md "$machine" <<'PY'
import sys
rows_path, readme_path, machine = sys.argv[1:4]
start, end = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
lines = [
    f"Written by `scripts/bench.sh` on {machine}.",
    "",
    "| case | engine | baseline | ratio | target | met |",
    "|---|---|---|---|---|---|",
]
for row in open(rows_path, encoding="utf-8"):
    cells = row.rstrip("\n").split("\t")[1:7]
    cells = [c.replace("|", "\\|") for c in cells]
    cells[0] = f"`{cells[0]}`"  # case names hold <hook> and quotes: shown as written
    lines.append("| " + " | ".join(cells) + " |")
text = open(readme_path, encoding="utf-8").read()
if start not in text or end not in text:
    sys.exit(f"{readme_path}: no {start} ... {end} markers to write the table between")
head, rest = text.split(start, 1)
_, tail = rest.split(end, 1)
open(readme_path, "w", encoding="utf-8").write(head + start + "\n" + "\n".join(lines) + "\n" + end + tail)
print(f"wrote the table into {readme_path}")
PY
fi
