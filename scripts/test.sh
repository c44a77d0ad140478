#!/usr/bin/env bash
# Runs every test: formatting and lints, Rust unit and integration tests (embedded
# CPython, real zips, pip and uv installing from wheels the tests build), the benches
# in test mode, then the Python module's pytest suite. Works on a fresh machine with
# cargo and CPython 3: tools it needs (uv, maturin, pytest, mypy) go into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build against one interpreter throughout, so cargo does not rebuild pyo3 when PATH changes.
PYO3_PYTHON="${PYO3_PYTHON:-$(command -v python3)}"
export PYO3_PYTHON

# The administration page's browser tests drive Debian's headless Chromium.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "== apt-get install chromium chromium-driver"
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi

source scripts/dev-venv.sh
# uv on PATH lets the dependency tests exercise both installers.
export PATH="$PATH:$VENV/bin"

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy (every feature, so the Python module is linted too)"
cargo clippy --all-targets --all-features --quiet -- -D warnings
echo "== cargo check --no-default-features --lib (a Rust host without the front ends)"
cargo check --no-default-features --lib --quiet
echo "== cargo test"
cargo test --all-targets
echo "== python tests"
bash scripts/test-python.sh
